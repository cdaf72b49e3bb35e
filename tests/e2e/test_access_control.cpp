// SPDX-License-Identifier: LGPL-2.1-or-later
// Access control end to end (docs/api.md "Access control"): a private dbus-daemon
// configured like a distribution's system bus (deny own and method calls by default, everyone may
// connect) that includes our dbus/org.resctrld1.conf, the real resctrld on resctrlfs-sim, fake
// hypervisor processes, and callers that are real users of this machine (created with useradd
// for the test and deleted after it). Every mutating method and a property write is tried as
// each caller against a state in which it would succeed, and every read-only call against a
// started domain; refusals are checked by name (the bus's AccessDenied or the daemon's) and by
// the simulator's tree staying as it was.
#include <algorithm>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include "../sim/conformance/sim_instance.h"
#include "daemon_fixture.h"
#include "dbus_names.h"
#include "domain_builder.h"
#include "harness.h"

using namespace resctrld::e2e;
using resctrld::simtest::SimInstance;
namespace fs = std::filesystem;
namespace simtest = resctrld::simtest;

namespace {

constexpr const char* kBusDenied = "org.freedesktop.DBus.Error.AccessDenied";
constexpr const char* kDaemonDenied = "org.resctrld1.Error.AccessDenied";
// Every property of API version 1 is read-only: a Set that gets past both fences meets this.
constexpr const char* kReadOnly = "org.freedesktop.DBus.Error.PropertyReadOnly";

using Threads = std::vector<sdbus::Struct<std::uint32_t, std::uint32_t>>;
using TidSet = std::set<pid_t>;
using ManagedObjects =
    std::map<sdbus::ObjectPath, std::map<std::string, std::map<std::string, sdbus::Variant>>>;

// Two vCPUs, 5 MiB (two 2.5 MiB ways on skx-2s-l3cat) of L3 on `cacheId`, and a monitor.
std::string definition(const std::string& name, unsigned cacheId) {
    return Domain(name).vcpus(2).cachetune("0-1", l3(cacheId, 5_MiB) + monitor("0-1"));
}

std::string groupOf(const std::string& name) {
    return "resctrld-" + name + "-vcpus_0-1";
}

std::string domainPath(const std::string& name) {
    return std::string(kRootPath) + "/domain/" + name;
}

// What a caller's mutating calls must meet.
enum class Expect {
    Works,           // both fences let the caller through
    RefusedByBus,    // the bus policy refuses it (org.freedesktop.DBus.Error.AccessDenied)
    RefusedByDaemon, // the bus lets it through, the daemon's credential check refuses it
};

const char* describe(Expect expect) {
    switch (expect) {
    case Expect::Works:
        return "worked";
    case Expect::RefusedByBus:
        return "refused by the bus";
    case Expect::RefusedByDaemon:
        return "refused by the daemon";
    }
    return "?";
}

// The fixture (daemon_fixture.h) on a system-like bus with our policy file and `fragments` (bus
// policy fragments an admin would add), resctrld with `extraConfig`. The fake hypervisors run as
// root, as QEMU does under libvirt's user = "root": an allowed group's member may pass their
// threads only because root is named in HypervisorUsers=.
struct Fixture : DaemonFixture {
    Fixture(const std::vector<std::string>& fragments, const std::string& extraConfig,
            const std::string& profile = "skx-2s-l3cat", const std::string& kernel = "6.15")
        : DaemonFixture(
              {.profile = profile,
               .kernel = kernel,
               .config =
                   "[Daemon]\nMount=no\nSampleIntervalSec=0\nHypervisorUsers=root\n" + extraConfig,
               .systemLikeBus = true,
               .busPolicyFragments = fragments}) {}

    FakeHypervisor& spawn() {
        vms.push_back(std::make_unique<FakeHypervisor>(FAKE_HYPERVISOR_PATH, dir.path(), 2));
        return *vms.back();
    }

    // Root's own calls, to set up the state a caller's call would change.
    void start(const std::string& name, const Threads& threads) {
        sdbus::ObjectPath path;
        manager->callMethod("StartDomain")
            .onInterface(kManager)
            .withArguments(definition(name, 0), threads)
            .storeResultsTo(path);
        REQUIRE(path == domainPath(name));
    }
    void startForProcess(const std::string& name, pid_t pid) {
        manager->callMethod("StartDomainForProcess")
            .onInterface(kManager)
            .withArguments(definition(name, 1), static_cast<std::uint32_t>(pid));
    }
    void stop(const std::string& name) {
        manager->callMethod("StopDomain").onInterface(kManager).withArguments(name);
    }
    void setVcpuThread(const std::string& name, unsigned vcpu, pid_t tid) {
        manager->callMethod("SetVcpuThread")
            .onInterface(kManager)
            .withArguments(name, static_cast<std::uint32_t>(vcpu), static_cast<std::uint32_t>(tid));
    }

    std::uint64_t sampleInterval() {
        return manager->getProperty("SampleIntervalUSec")
            .onInterface(kManager)
            .get<std::uint64_t>();
    }

    bool hasGroup(const std::string& name) const {
        return simtest::pathExists(sim.at(groupOf(name)));
    }
    TidSet tasks(const std::string& name) const {
        return simtest::readTasks(sim.at(groupOf(name)) / "tasks");
    }

    // Every group directory with its tasks and schemata (the default group's schemata too).
    std::string snapshot() const {
        std::ostringstream text;
        for (const auto& entry : fs::recursive_directory_iterator(sim.root())) {
            const auto relative = fs::relative(entry.path(), sim.root()).string();
            if (relative.starts_with("info") || relative.find("mon_data") != std::string::npos)
                continue;
            const auto name = entry.path().filename().string();
            // The default group's tasks are every thread of the host, which come and go.
            if (relative == "tasks")
                continue;
            if (name == "tasks" || name == "schemata")
                text << relative << ":\n" << simtest::readFile(entry.path());
            else if (entry.is_directory())
                text << relative << "/\n";
        }
        return text.str();
    }

    std::vector<std::unique_ptr<FakeHypervisor>> vms;
};

struct Tally {
    int tried = 0;
    int passed = 0; // met the expectation
};

// Checks one mutating call's result against `expect`.
bool met(const CallResult& result, Expect expect) {
    switch (expect) {
    case Expect::Works:
        return result.ok;
    case Expect::RefusedByBus:
        return !result.ok && result.errorName == kBusDenied;
    case Expect::RefusedByDaemon:
        return !result.ok && result.errorName == kDaemonDenied;
    }
    return false;
}

// Every mutating method of API version 1 and a property write, each tried as `caller` against a
// state in which it would succeed; when the caller is refused, root makes the change instead so
// the next call finds its state. Checks the simulator's tree after each call.
Tally tryMutating(Fixture& f, const Caller& caller, Expect expect) {
    Tally tally;
    FakeHypervisor& vm1 = f.spawn();
    FakeHypervisor& vm2 = f.spawn();
    const std::string address = f.bus.address();
    auto as = [&](const std::function<void(sdbus::IConnection&)>& body) {
        return runAsUser(address, caller.uid, caller.gid, caller.groups, body);
    };
    auto attempt = [&](const std::string& what, const CallResult& result) {
        INFO(caller.label << ": " << what << " -> " << (result.ok ? "ok" : result.errorName) << " "
                          << result.errorMessage);
        ++tally.tried;
        const bool ok = met(result, expect);
        CHECK(ok);
        tally.passed += ok;
        if (expect != Expect::Works) {
            // The daemon's refusal says who asked.
            if (result.errorName == kDaemonDenied)
                CHECK_THAT(result.errorMessage,
                           Catch::Contains("uid " + std::to_string(caller.uid)));
        }
    };
    const bool works = expect == Expect::Works;

    // StartDomain with vCPU 0's thread; vCPU 1's comes with SetVcpuThread.
    {
        const std::string before = f.snapshot();
        const auto result = as([&](sdbus::IConnection& c) {
            sdbus::ObjectPath path;
            sdbus::createProxy(c, kService, kRootPath)
                ->callMethod("StartDomain")
                .onInterface(kManager)
                .withArguments(definition("vm1", 0),
                               Threads{{0u, static_cast<std::uint32_t>(vm1.tid(0))}})
                .storeResultsTo(path);
            if (path != domainPath("vm1"))
                throw std::runtime_error("StartDomain returned " + std::string(path));
        });
        attempt("StartDomain", result);
        if (works) {
            CHECK(f.tasks("vm1") == TidSet{vm1.tid(0)});
        } else {
            CHECK(f.snapshot() == before);
            CHECK(f.domainNames().empty());
            f.start("vm1", Threads{{0u, static_cast<std::uint32_t>(vm1.tid(0))}});
        }
    }
    {
        const auto result = as([&](sdbus::IConnection& c) {
            sdbus::createProxy(c, kService, kRootPath)
                ->callMethod("SetVcpuThread")
                .onInterface(kManager)
                .withArguments(std::string("vm1"), 1u, static_cast<std::uint32_t>(vm1.tid(1)));
        });
        attempt("SetVcpuThread", result);
        if (works) {
            CHECK(f.tasks("vm1") == TidSet{vm1.tid(0), vm1.tid(1)});
        } else {
            CHECK(f.tasks("vm1") == TidSet{vm1.tid(0)});
            f.setVcpuThread("vm1", 1, vm1.tid(1));
        }
    }
    {
        const std::string before = f.snapshot();
        const auto result = as([&](sdbus::IConnection& c) {
            sdbus::createProxy(c, kService, kRootPath)
                ->callMethod("StopDomain")
                .onInterface(kManager)
                .withArguments(std::string("vm1"));
        });
        attempt("StopDomain", result);
        if (works) {
            CHECK_FALSE(f.hasGroup("vm1"));
        } else {
            CHECK(f.snapshot() == before);
            CHECK(f.domainNames() == std::set<std::string>{"vm1"});
            f.stop("vm1");
        }
    }
    {
        const std::string before = f.snapshot();
        const auto result = as([&](sdbus::IConnection& c) {
            sdbus::createProxy(c, kService, kRootPath)
                ->callMethod("StartDomainForProcess")
                .onInterface(kManager)
                .withArguments(definition("vm2", 1), static_cast<std::uint32_t>(vm2.pid()));
        });
        attempt("StartDomainForProcess", result);
        if (works) {
            CHECK(f.tasks("vm2") == TidSet{vm2.tid(0), vm2.tid(1)});
        } else {
            CHECK(f.snapshot() == before);
            f.startForProcess("vm2", vm2.pid());
        }
    }
    {
        const std::string before = f.snapshot();
        const auto result = as([&](sdbus::IConnection& c) {
            sdbus::createProxy(c, kService, domainPath("vm2"))
                ->callMethod("Stop")
                .onInterface(kDomain);
        });
        attempt("Domain.Stop", result);
        if (works) {
            CHECK_FALSE(f.hasGroup("vm2"));
            CHECK(f.domainNames().empty());
        } else {
            CHECK(f.snapshot() == before);
            CHECK(f.domainNames() == std::set<std::string>{"vm2"});
            f.stop("vm2");
        }
    }
    {
        // Properties.Set: past the bus it meets a read-only property (API version 1 has no
        // writable one); either way nothing changes.
        const auto interval = f.sampleInterval();
        const auto result = as([&](sdbus::IConnection& c) {
            sdbus::createProxy(c, kService, kRootPath)
                ->setProperty("SampleIntervalUSec")
                .onInterface(kManager)
                .toValue(std::uint64_t{5'000'000});
        });
        INFO(caller.label << ": Properties.Set -> " << (result.ok ? "ok" : result.errorName) << " "
                          << result.errorMessage);
        ++tally.tried;
        const bool ok = !result.ok && result.errorName ==
                                          (expect == Expect::RefusedByBus ? kBusDenied : kReadOnly);
        CHECK(ok);
        tally.passed += ok;
        CHECK(f.sampleInterval() == interval);
    }
    CHECK(f.domainNames().empty());
    return tally;
}

// Every read-only call (docs/api.md "Access control": introspect, read properties, ListDomains,
// GetDomain, GetCapabilities, GetLayout, GetStats, ValidateDomain, Monitor.Sample, plus
// Domain.GetStats,
// ObjectManager and Peer) as `caller`, against a domain root started; each must work and answer
// what it should. The simulator's tree must not change.
Tally tryReadOnly(Fixture& f, const Caller& caller) {
    FakeHypervisor& vm = f.spawn();
    f.start("ro", Threads{{0u, static_cast<std::uint32_t>(vm.tid(0))},
                          {1u, static_cast<std::uint32_t>(vm.tid(1))}});
    const std::string domain = domainPath("ro");
    const std::string before = f.snapshot();

    using Body = std::function<void(sdbus::IConnection&)>;
    auto expectThat = [](bool condition, const std::string& what) {
        if (!condition)
            throw std::runtime_error("unexpected answer: " + what);
    };
    auto getAll = [&](const std::string& path, const char* iface, const char* property) {
        return Body([=](sdbus::IConnection& c) {
            std::map<std::string, sdbus::Variant> properties;
            sdbus::createProxy(c, kService, path)
                ->callMethod("GetAll")
                .onInterface(kProperties)
                .withArguments(std::string(iface))
                .storeResultsTo(properties);
            expectThat(properties.count(property) == 1, std::string(iface) + " has " + property);
        });
    };
    auto introspect = [&](const std::string& path, const char* iface) {
        return Body([=](sdbus::IConnection& c) {
            std::string xml;
            sdbus::createProxy(c, kService, path)
                ->callMethod("Introspect")
                .onInterface("org.freedesktop.DBus.Introspectable")
                .storeResultsTo(xml);
            expectThat(xml.find(iface) != std::string::npos, path + " introspects as " + iface);
        });
    };
    auto managerProxy = [](sdbus::IConnection& c) {
        return sdbus::createProxy(c, kService, kRootPath);
    };

    const std::vector<std::pair<std::string, Body>> calls{
        {"ListDomains",
         [&](sdbus::IConnection& c) {
             std::vector<sdbus::Struct<std::string, std::string, sdbus::ObjectPath>> list;
             managerProxy(c)->callMethod("ListDomains").onInterface(kManager).storeResultsTo(list);
             expectThat(list.size() == 1 && list[0].get<0>() == "ro", "ListDomains lists ro");
         }},
        {"GetDomain",
         [&](sdbus::IConnection& c) {
             sdbus::ObjectPath path;
             managerProxy(c)
                 ->callMethod("GetDomain")
                 .onInterface(kManager)
                 .withArguments(std::string("ro"))
                 .storeResultsTo(path);
             expectThat(path == domain, "GetDomain gives " + domain);
         }},
        {"GetCapabilities",
         [&](sdbus::IConnection& c) {
             std::string xml;
             managerProxy(c)
                 ->callMethod("GetCapabilities")
                 .onInterface(kManager)
                 .storeResultsTo(xml);
             expectThat(xml.find("<cache") != std::string::npos, "capabilities list caches");
         }},
        {"GetLayout",
         [&](sdbus::IConnection& c) {
             using Holders = std::vector<sdbus::Struct<std::string, std::string, std::string>>;
             std::vector<sdbus::Struct<std::string, std::uint32_t, std::uint32_t, std::uint64_t,
                                       std::string, std::string, Holders>>
                 caches;
             std::vector<sdbus::Struct<std::string, std::string, std::uint32_t, Holders>> bandwidth;
             managerProxy(c)
                 ->callMethod("GetLayout")
                 .onInterface(kManager)
                 .storeResultsTo(caches, bandwidth);
             bool ro = false;
             for (const auto& holder : caches.at(0).get<6>())
                 ro = ro || holder.get<1>() == "domain:ro";
             expectThat(ro, "GetLayout shows ro's group on L3 cache 0");
         }},
        {"GetStats",
         [&](sdbus::IConnection& c) {
             std::map<std::string, sdbus::Variant> stats;
             managerProxy(c)
                 ->callMethod("GetStats")
                 .onInterface(kManager)
                 .withArguments(std::string("ro"))
                 .storeResultsTo(stats);
             expectThat(stats.count("cpu.cache.monitor.count") == 1, "GetStats has monitors");
         }},
        {"ValidateDomain",
         [&](sdbus::IConnection& c) {
             std::vector<sdbus::Struct<std::string, std::string>> groups;
             managerProxy(c)
                 ->callMethod("ValidateDomain")
                 .onInterface(kManager)
                 .withArguments(definition("other", 1))
                 .storeResultsTo(groups);
             expectThat(groups.size() == 1 && groups[0].get<0>() == groupOf("other"),
                        "ValidateDomain plans one group");
         }},
        {"Domain.GetStats",
         [&](sdbus::IConnection& c) {
             std::map<std::string, sdbus::Variant> stats;
             sdbus::createProxy(c, kService, domain)
                 ->callMethod("GetStats")
                 .onInterface(kDomain)
                 .storeResultsTo(stats);
             expectThat(stats.count("cpu.cache.monitor.count") == 1, "Domain.GetStats");
         }},
        {"Monitor.Sample",
         [&](sdbus::IConnection& c) {
             std::map<std::uint32_t, std::uint64_t> occupancy;
             sdbus::createProxy(c, kService, domain + "/monitor/0")
                 ->callMethod("Sample")
                 .onInterface(kMonitor)
                 .storeResultsTo(occupancy);
             expectThat(!occupancy.empty(), "Sample reads every cache id");
         }},
        {"Introspect /org/resctrld1", introspect(kRootPath, kManager)},
        {"Introspect domain", introspect(domain, kDomain)},
        {"Properties.Get",
         [&](sdbus::IConnection& c) {
             const auto version =
                 managerProxy(c)->getProperty("Version").onInterface(kManager).get<std::string>();
             expectThat(version == RESCTRLD_VERSION, "Version is " RESCTRLD_VERSION);
         }},
        {"Properties.GetAll Manager", getAll(kRootPath, kManager, "ClosidsFree")},
        {"Properties.GetAll Domain", getAll(domain, kDomain, "VcpuThreads")},
        {"Properties.GetAll Allocation", getAll(domain + "/allocation/0", kAllocation, "Schemata")},
        {"Properties.GetAll Monitor", getAll(domain + "/monitor/0", kMonitor, "CacheOccupancy")},
        {"GetManagedObjects",
         [&](sdbus::IConnection& c) {
             ManagedObjects objects;
             managerProxy(c)
                 ->callMethod("GetManagedObjects")
                 .onInterface("org.freedesktop.DBus.ObjectManager")
                 .storeResultsTo(objects);
             expectThat(objects.count(sdbus::ObjectPath(domain)) == 1 &&
                            objects.count(sdbus::ObjectPath(domain + "/monitor/0")) == 1,
                        "GetManagedObjects has the domain and its monitor");
         }},
        {"Peer.Ping",
         [&](sdbus::IConnection& c) {
             managerProxy(c)->callMethod("Ping").onInterface("org.freedesktop.DBus.Peer");
         }},
    };

    Tally tally;
    for (const auto& [what, body] : calls) {
        const auto result = runAsUser(f.bus.address(), caller.uid, caller.gid, caller.groups, body);
        INFO(caller.label << ": " << what << " -> " << (result.ok ? "ok" : result.errorName) << " "
                          << result.errorMessage);
        ++tally.tried;
        CHECK(result.ok);
        tally.passed += result.ok;
    }
    CHECK(f.snapshot() == before);
    f.stop("ro");
    return tally;
}

void report(const Caller& caller, const char* setting, const Tally& mutating, Expect expect,
            const Tally& readOnly) {
    std::cout << setting << ": " << caller.label << " (uid " << caller.uid
              << "): " << mutating.tried << " mutating calls tried, " << mutating.passed << " "
              << describe(expect) << "; " << readOnly.tried << " read-only calls tried, "
              << readOnly.passed << " worked; " << (mutating.tried + readOnly.tried)
              << " methods tried in all\n";
    CHECK(mutating.tried == 6);
    CHECK(mutating.passed == mutating.tried);
    CHECK(readOnly.tried == 17);
    CHECK(readOnly.passed == readOnly.tried);
}

void checkCaller(Fixture& f, const Caller& caller, const char* setting, Expect expect) {
    const Tally readOnly = tryReadOnly(f, caller);
    const Tally mutating = tryMutating(f, caller, expect);
    report(caller, setting, mutating, expect, readOnly);
}

// What an admin adds to let a group through the bus (resctrld(8), "ACCESS CONTROL").
std::string groupPolicy(const std::string& group) {
    return "  <policy group=\"" + group +
           "\">\n    <allow send_destination=\"org.resctrld1\"/>\n  </policy>\n";
}

} // namespace

TEST_CASE("On a system bus with our policy, others read everything and change nothing",
          "[e2e][access]") {
    Accounts accounts;
    Fixture f({}, "AllowedGroups=" + accounts.group() + "\n");
    checkCaller(f, accounts.outsider, "system bus + policy", Expect::RefusedByBus);
    // AllowedGroups= alone admits nobody: the bus still refuses the group's calls.
    checkCaller(f, accounts.admin, "system bus + policy, no group fragment", Expect::RefusedByBus);
}

TEST_CASE("On a system bus with our policy, root calls everything", "[e2e][access]") {
    Accounts accounts;
    Fixture f({}, "");
    checkCaller(f, accounts.root, "system bus + policy", Expect::Works);
}

TEST_CASE("A member of an AllowedGroups= group whom the bus lets through changes domains",
          "[e2e][access]") {
    Accounts accounts;
    Fixture f({groupPolicy(accounts.group())}, "AllowedGroups=" + accounts.group() + "\n");
    checkCaller(f, accounts.admin, "system bus + policy + group fragment", Expect::Works);
    // The fragment is for the group only.
    checkCaller(f, accounts.outsider, "system bus + policy + group fragment", Expect::RefusedByBus);
}

TEST_CASE("The daemon refuses callers the bus lets through unless AllowedGroups= names them",
          "[e2e][access]") {
    Accounts accounts;
    SECTION("a group fragment without AllowedGroups=") {
        Fixture f({groupPolicy(accounts.group())}, "");
        checkCaller(f, accounts.admin, "group fragment, AllowedGroups= empty",
                    Expect::RefusedByDaemon);
    }
    SECTION("a loosened policy that lets everyone send to the daemon") {
        const std::string everyone = "  <policy context=\"default\">\n"
                                     "    <allow send_destination=\"org.resctrld1\"/>\n"
                                     "  </policy>\n";
        Fixture f({everyone}, "AllowedGroups=" + accounts.group() + "\n");
        checkCaller(f, accounts.outsider, "loosened policy", Expect::RefusedByDaemon);
        checkCaller(f, accounts.admin, "loosened policy", Expect::Works);
    }
}

TEST_CASE("AssignCounters: the bus refuses others, an AllowedGroups= member assigns",
          "[e2e][access][counters]") {
    Accounts accounts;
    // turin-2s assigns counters; with CounterAssignment=manual only AssignCounters does.
    Fixture f({groupPolicy(accounts.group())},
              "AllowedGroups=" + accounts.group() + "\nCounterAssignment=manual\n", "turin-2s",
              "6.19");
    FakeHypervisor& vm = f.spawn();
    sdbus::ObjectPath path;
    f.manager->callMethod("StartDomain")
        .onInterface(kManager)
        .withArguments(Domain("counted").vcpus(1).memorytune("0", memoryMonitor("0")).str(),
                       Threads{{0u, static_cast<std::uint32_t>(vm.tid(0))}})
        .storeResultsTo(path);
    const std::string monitor = std::string(path) + "/monitor/0";
    const auto group = sdbus::createProxy(*f.connection, kService, monitor)
                           ->getProperty("Group")
                           .onInterface(kMonitor)
                           .get<std::string>();
    const fs::path assignments = f.sim.at(group + "/mbm_L3_assignments");
    // The counters the kernel gave the new group at mkdir are given back under manual.
    REQUIRE(simtest::waitUntil(
        [&] { return simtest::readFile(assignments).find("=e") == std::string::npos; },
        std::chrono::seconds(20)));
    const std::string before = simtest::readFile(assignments);
    auto assign = [&](const Caller& caller) {
        return runAsUser(f.bus.address(), caller.uid, caller.gid, caller.groups,
                         [&](sdbus::IConnection& c) {
                             sdbus::createProxy(c, kService, monitor)
                                 ->callMethod("AssignCounters")
                                 .onInterface(kMonitor)
                                 .withArguments(true);
                         });
    };

    const CallResult outsider = assign(accounts.outsider);
    INFO("outsider: " << outsider.errorName << " " << outsider.errorMessage);
    CHECK(met(outsider, Expect::RefusedByBus));
    CHECK(simtest::readFile(assignments) == before);

    const CallResult admin = assign(accounts.admin);
    INFO("admin: " << admin.errorName << " " << admin.errorMessage);
    CHECK(met(admin, Expect::Works));
    const std::string after = simtest::readFile(assignments);
    CHECK_THAT(after, Catch::Contains("=e") && !Catch::Contains("=_"));
}
