// SPDX-License-Identifier: LGPL-2.1-or-later
// resctrld's domain lifecycle end to end: a real client on a private bus, the real daemon, the
// real resctrlfs-sim and fake hypervisor processes (tests/tools/fake-hypervisor). Every outcome
// is checked where the kernel would show it: the simulator's group directories, schemata and
// tasks files; and on the bus: the returned paths, signals, objects and their properties
// (docs/api.md). Failed calls must leave the simulator's tree exactly as it was ("all or
// nothing", docs/api.md StartDomain).
#define CATCH_CONFIG_ENABLE_TUPLE_STRINGMAKER
#define CATCH_CONFIG_ENABLE_PAIR_STRINGMAKER

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <poll.h>
#include <regex>
#include <set>
#include <signal.h>
#include <sstream>
#include <string>
#include <sys/file.h>
#include <tuple>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include "../sim/conformance/sim_instance.h"
#include "dbus_names.h"
#include "harness.h"

using namespace resctrld::e2e;
using resctrld::simtest::SimInstance;
namespace fs = std::filesystem;
namespace simtest = resctrld::simtest;

namespace {

constexpr const char* kUuid = "c7a5fdbd-cdaf-9455-926a-d65c16db1809";
constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;
constexpr std::uint64_t kMiB = 1024 * 1024;

using Threads = std::vector<sdbus::Struct<std::uint32_t, std::uint32_t>>;
using ThreadSet = std::set<std::pair<std::uint32_t, std::uint32_t>>;
using CacheTuple =
    std::tuple<std::uint32_t, std::uint32_t, std::string, std::uint64_t, std::string>;
using Caches = std::vector<
    sdbus::Struct<std::uint32_t, std::uint32_t, std::string, std::uint64_t, std::string>>;
using TidSet = std::set<pid_t>;

// A fake hypervisor process (harness.h) with the shapes these tests pass around.
class FakeVm : public FakeHypervisor {
public:
    FakeVm(const fs::path& dir, unsigned vcpus)
        : FakeHypervisor(FAKE_HYPERVISOR_PATH, dir, vcpus) {}

    ThreadSet threadSet(std::initializer_list<unsigned> vcpus) const {
        ThreadSet set;
        for (unsigned vcpu : vcpus)
            set.emplace(vcpu, static_cast<std::uint32_t>(tid(vcpu)));
        return set;
    }
};

// A minimal libvirt domain with `vcpus` vCPUs and the given <cputune> content.
std::string domainXml(const std::string& name, unsigned vcpus, const std::string& cputune) {
    return "<domain type='kvm'><name>" + name + "</name><uuid>" + kUuid +
           "</uuid><vcpu placement='static'>" + std::to_string(vcpus) + "</vcpu><cputune>" +
           cputune + "</cputune></domain>";
}

// A <cache> element of `kib` KiB (sizes are unsigned integers; skx's way is 2560 KiB).
std::string cache(unsigned id, unsigned kib, const std::string& type = "both", unsigned level = 3) {
    return "<cache id='" + std::to_string(id) + "' level='" + std::to_string(level) + "' type='" +
           type + "' size='" + std::to_string(kib) + "' unit='KiB'/>";
}

std::string monitor(const std::string& vcpus) {
    return "<monitor level='3' vcpus='" + vcpus + "'/>";
}

std::string cachetune(const std::string& vcpus, const std::string& content) {
    return "<cachetune vcpus='" + vcpus + "'>" + content + "</cachetune>";
}

// One value of a schemata file ("L3:0=7ff;1=7ff"), names and values trimmed; empty if absent.
std::string schemataValue(const std::string& text, const std::string& resource, unsigned id) {
    auto trim = [](std::string s) {
        const auto first = s.find_first_not_of(" \t");
        const auto last = s.find_last_not_of(" \t");
        return first == std::string::npos ? std::string() : s.substr(first, last - first + 1);
    };
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        const auto colon = line.find(':');
        if (colon == std::string::npos || trim(line.substr(0, colon)) != resource)
            continue;
        std::istringstream entries(line.substr(colon + 1));
        std::string entry;
        while (std::getline(entries, entry, ';')) {
            const auto eq = entry.find('=');
            if (eq != std::string::npos && trim(entry.substr(0, eq)) == std::to_string(id))
                return trim(entry.substr(eq + 1));
        }
    }
    return {};
}

std::uint64_t maskOf(const std::string& text, const std::string& resource, unsigned id) {
    const auto value = schemataValue(text, resource, id);
    if (value.empty())
        throw std::runtime_error("no " + resource + ":" + std::to_string(id) + " in\n" + text);
    return std::stoull(value, nullptr, 16);
}

unsigned bandwidthOf(const std::string& text, unsigned id) {
    const auto value = schemataValue(text, "MB", id);
    if (value.empty())
        throw std::runtime_error("no MB:" + std::to_string(id) + " in\n" + text);
    return static_cast<unsigned>(std::stoul(value));
}

bool isContiguous(std::uint64_t mask) {
    if (mask == 0)
        return false;
    const std::uint64_t shifted = mask >> std::countr_zero(mask);
    return (shifted & (shifted + 1)) == 0;
}

bool containsWord(const std::string& text, const std::string& word) {
    return std::regex_search(text, std::regex("(^|[^0-9A-Za-z])" + word + "($|[^0-9A-Za-z])"));
}

// A thread of the kernel (PF_KTHREAD in /proc/<pid>/stat's flags): kthreadd when visible.
pid_t kernelThread() {
    constexpr unsigned long kPfKthread = 0x00200000;
    for (pid_t candidate : {2, 3, 4, 5, 6, 7, 8, 9, 10}) {
        std::ifstream stat("/proc/" + std::to_string(candidate) + "/stat");
        std::string text((std::istreambuf_iterator<char>(stat)), {});
        const auto close = text.rfind(')');
        if (close == std::string::npos)
            continue;
        std::istringstream fields(text.substr(close + 2));
        std::string field;
        // Fields after comm: state(3) ppid pgrp session tty_nr tpgid flags(9).
        for (int i = 3; i <= 9 && fields >> field; ++i)
            if (i == 9 && (std::stoul(field) & kPfKthread) != 0)
                return candidate;
    }
    throw std::runtime_error("no kernel thread visible in /proc");
}

// The simulator, resctrld on a private bus, a client connection with the Manager proxy whose
// signals are recorded, and the fake hypervisors of the test.
struct Fixture {
    explicit Fixture(const std::string& profile = "skx-2s-l3cat",
                     const std::string& mountOptions = "", const std::string& kernel = "6.15",
                     const std::string& extraConfig = "")
        : sim({profile, kernel, mountOptions, true})
        , bus(dir.path())
        , daemon(bus, dir.path(), options(sim, extraConfig))
        , connection(sdbus::createSessionBusConnectionWithAddress(bus.address()))
        , manager(sdbus::createProxy(*connection, kService, kRootPath)) {
        subscribe();
    }

    ~Fixture() {
        // With RESCTRLD_E2E_LOG_DIR set, keep the daemon's log of every test (the evidence for
        // a failure; the temporary directory goes away with the fixture).
        if (const char* logDir = std::getenv("RESCTRLD_E2E_LOG_DIR")) {
            static int counter = 0;
            std::string name = Catch::getResultCapture().getCurrentTestName();
            std::replace_if(
                name.begin(), name.end(), [](char c) { return !std::isalnum(c); }, '_');
            fs::create_directories(logDir);
            std::ofstream(fs::path(logDir) /
                          (std::to_string(++counter) + "-" + name.substr(0, 80) + ".log"))
                << daemon.process().stderrText()
                << (daemon.process().running()
                        ? std::string()
                        : "[resctrld ended with status " +
                              std::to_string(*daemon.process().waitExit()) + "]\n");
        }
    }

    static Daemon::Options options(const SimInstance& sim, const std::string& extraConfig) {
        Daemon::Options options;
        options.configText =
            "[Daemon]\nMount=no\nSampleIntervalSec=0\nLogLevel=debug\n" + extraConfig;
        options.resctrlRoot = sim.root();
        options.extraArgs = {"--sysfs-root", sim.sysfsDir().string()};
        return options;
    }

    void subscribe() {
        manager->uponSignal("DomainStarted")
            .onInterface(kManager)
            .call([this](const std::string& name, const sdbus::ObjectPath& path) {
                started.emplace_back(name, path);
            });
        manager->uponSignal("DomainStopped")
            .onInterface(kManager)
            .call([this](const std::string& name, const sdbus::ObjectPath& path) {
                stopped.emplace_back(name, path);
            });
        manager->uponSignal("InterfacesAdded")
            .onInterface(kObjectManager)
            .call([this](const sdbus::ObjectPath& path,
                         const std::map<std::string, std::map<std::string, sdbus::Variant>>&
                             interfaces) {
                added.push_back(path);
                for (const auto& [name, properties] : interfaces)
                    addedInterfaces[path].insert(name);
            });
        manager->uponSignal("InterfacesRemoved")
            .onInterface(kObjectManager)
            .call([this](const sdbus::ObjectPath& path, const std::vector<std::string>&) {
                removed.push_back(path);
            });
        manager->finishRegistration();
    }

    FakeVm& spawn(unsigned vcpus) {
        vms.push_back(std::make_unique<FakeVm>(dir.path(), vcpus));
        return *vms.back();
    }

    // Dispatches incoming signals until `done` holds or the deadline passes.
    bool waitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout = kDeadline) {
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            while (connection->processPendingRequest()) {
            }
            if (done())
                return true;
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() <= 0)
                return false;
            const auto data = connection->getEventLoopPollData();
            pollfd pfd{data.fd, data.events, 0};
            poll(&pfd, 1, static_cast<int>(std::min<long>(left.count(), 100)));
        }
    }

    // Every signal the daemon sent before answering a later call has been dispatched: the
    // daemon answers in order on one connection, so a round trip through its own handler
    // (ListDomains) is a barrier.
    void settle() {
        listDomains();
        while (connection->processPendingRequest()) {
        }
    }

    sdbus::ObjectPath start(const std::string& definition, const Threads& threads) {
        return startDomain(*manager, definition, threads);
    }
    sdbus::ObjectPath startForProcess(const std::string& definition, pid_t pid) {
        return startDomainForProcess(*manager, definition, pid);
    }
    void stop(const std::string& name) { stopDomain(*manager, name); }

    sdbus::ObjectPath getDomain(const std::string& name) {
        return resctrld::e2e::getDomain(*manager, name);
    }

    std::vector<std::tuple<std::string, std::string, std::string>> listDomains() {
        std::vector<sdbus::Struct<std::string, std::string, sdbus::ObjectPath>> list;
        manager->callMethod("ListDomains").onInterface(kManager).storeResultsTo(list);
        std::vector<std::tuple<std::string, std::string, std::string>> result;
        for (const auto& entry : list)
            result.emplace_back(entry.get<0>(), entry.get<1>(), entry.get<2>());
        return result;
    }

    void setVcpuThread(const std::string& name, unsigned vcpu, pid_t tid) {
        manager->callMethod("SetVcpuThread")
            .onInterface(kManager)
            .withArguments(name, static_cast<std::uint32_t>(vcpu), static_cast<std::uint32_t>(tid));
    }

    std::uint32_t managerProperty(const std::string& name) {
        return manager->getProperty(name).onInterface(kManager).get<std::uint32_t>();
    }

    template <class T>
    T property(const std::string& path, const char* interface, const std::string& name) {
        auto proxy = sdbus::createProxy(*connection, kService, path);
        return proxy->getProperty(name).onInterface(interface).get<T>();
    }

    ThreadSet vcpuThreads(const std::string& domainPath) {
        ThreadSet set;
        for (const auto& t : property<Threads>(domainPath, kDomain, "VcpuThreads"))
            set.emplace(t.get<0>(), t.get<1>());
        return set;
    }

    std::set<CacheTuple> caches(const std::string& allocationPath) {
        std::set<CacheTuple> set;
        for (const auto& c : property<Caches>(allocationPath, kAllocation, "Caches"))
            set.emplace(c.get<0>(), c.get<1>(), c.get<2>(), c.get<3>(), c.get<4>());
        return set;
    }

    std::vector<std::string> paths(const std::string& domainPath, const std::string& name) {
        std::vector<std::string> result;
        for (const auto& p : property<std::vector<sdbus::ObjectPath>>(domainPath, kDomain, name))
            result.push_back(p);
        return result;
    }

    std::string schemata(const std::string& group = "") const {
        return simtest::readFile(group.empty() ? sim.at("schemata") : sim.at(group) / "schemata");
    }

    TidSet tasks(const std::string& group = "") const {
        return simtest::readTasks(group.empty() ? sim.at("tasks") : sim.at(group) / "tasks");
    }

    bool inRoot(pid_t tid) const { return tasks().count(tid) == 1; }

    std::set<std::string> groups() const { return sim.groups(); }

    // The whole state a failed call must not change: every group directory, every control
    // group's schemata, every group's tasks, and which of our hypervisors' threads the root
    // group holds (its full list has every thread of the machine, which others change).
    std::string snapshot() const {
        TidSet ours;
        for (const auto& vm : vms)
            ours.merge(vm->taskIds());
        auto join = [](const TidSet& tids) {
            std::string text;
            for (pid_t tid : tids)
                text += std::to_string(tid) + " ";
            return text;
        };
        std::map<std::string, std::string> entries;
        entries["/schemata"] = schemata();
        TidSet rootOurs;
        for (pid_t tid : tasks())
            if (ours.count(tid))
                rootOurs.insert(tid);
        entries["/tasks(ours)"] = join(rootOurs);
        for (const auto& group : groups()) {
            entries[group + "/"] = "";
            entries[group + "/tasks"] = join(tasks(group));
            if (group.find("mon_groups/") == std::string::npos)
                entries[group + "/schemata"] = schemata(group);
        }
        std::string text;
        for (const auto& [key, value] : entries)
            text += key + ": " + value + (value.ends_with('\n') ? "" : "\n");
        return text;
    }

    TempDir dir;
    SimInstance sim;
    PrivateBus bus;
    Daemon daemon;
    std::unique_ptr<sdbus::IConnection> connection;
    std::unique_ptr<sdbus::IProxy> manager;
    std::vector<std::unique_ptr<FakeVm>> vms;

    std::vector<std::pair<std::string, std::string>> started;
    std::vector<std::pair<std::string, std::string>> stopped;
    std::vector<std::string> added;
    std::map<std::string, std::set<std::string>> addedInterfaces;
    std::vector<std::string> removed;
};

// The D-Bus error a call ends with; a failed check when it succeeds.
sdbus::Error errorOf(const std::function<void()>& call) {
    try {
        call();
    } catch (const sdbus::Error& e) {
        return e;
    }
    FAIL("the call succeeded");
    return sdbus::Error("none", "none");
}

bool contains(const std::vector<std::string>& list, const std::string& value) {
    return std::find(list.begin(), list.end(), value) != list.end();
}

const std::string kDomainPath = "/org/resctrld1/domain/vm1";

} // namespace

TEST_CASE("StartDomain creates groups and StopDomain removes them", "[e2e][sim][domains]") {
    // 6.1 pads schemata values and takes one id per tasks write (tests/sim/README.md).
    const std::string kernel = GENERATE("6.15", "6.1");
    // Stopped with Manager.StopDomain or with the domain object's Stop().
    const bool viaDomainObject = GENERATE(false, true);
    INFO("kernel " << kernel << (viaDomainObject ? ", Domain.Stop" : ", StopDomain"));
    Fixture f("skx-2s-l3cat", "", kernel);
    FakeVm& vm = f.spawn(2);
    const std::string before = f.snapshot();
    const std::string rootBefore = f.schemata();
    const std::string definition =
        domainXml("vm1", 2, cachetune("0-1", cache(0, 5120) + monitor("1")));

    const auto path = f.start(definition, vm.threadsOf({0, 1}));
    CHECK(path == kDomainPath);

    // Groups (docs/api.md; daemon-behaviour: resctrld-<name>-vcpus_<list>).
    const std::string alloc = "resctrld-vm1-vcpus_0-1";
    const std::string mon = alloc + "/mon_groups/vcpus_1";
    CHECK(f.groups() == std::set<std::string>{alloc, mon});
    // 5 MiB = 2 ways of 2.5 MiB outside shareable_bits 600; cache 1 keeps the default mask.
    const std::string schemata = f.schemata(alloc);
    const auto mask = maskOf(schemata, "L3", 0);
    CHECK(std::popcount(mask) == 2);
    CHECK(isContiguous(mask));
    CHECK((mask & 0x600) == 0);
    CHECK(maskOf(schemata, "L3", 1) == 0x7ff);
    // The default group gave the two ways up and kept the rest.
    CHECK(maskOf(f.schemata(), "L3", 0) == (0x7ff & ~mask));
    CHECK(maskOf(f.schemata(), "L3", 1) == 0x7ff);
    CHECK(f.tasks(alloc) == TidSet{vm.tid(0), vm.tid(1)});
    CHECK(f.tasks(mon) == TidSet{vm.tid(1)});
    CHECK_FALSE(f.inRoot(vm.tid(0)));
    // The hypervisor's other threads stay where they were.
    for (pid_t tid : vm.taskIds())
        if (tid != vm.tid(0) && tid != vm.tid(1))
            CHECK(f.inRoot(tid));

    // Signals and objects.
    CHECK(f.waitFor([&] { return !f.started.empty(); }));
    CHECK(f.started == std::vector<std::pair<std::string, std::string>>{{"vm1", kDomainPath}});
    const std::string allocPath = kDomainPath + "/allocation/0";
    const std::string monPath = kDomainPath + "/monitor/0";
    CHECK(f.waitFor([&] {
        return contains(f.added, kDomainPath) && contains(f.added, allocPath) &&
               contains(f.added, monPath);
    }));
    CHECK(f.addedInterfaces[kDomainPath].count(kDomain) == 1);
    CHECK(f.addedInterfaces[allocPath].count(kAllocation) == 1);
    CHECK(f.addedInterfaces[monPath].count(kMonitor) == 1);

    CHECK(f.property<std::string>(path, kDomain, "Name") == "vm1");
    CHECK(f.property<std::string>(path, kDomain, "Uuid") == kUuid);
    CHECK(f.property<std::string>(path, kDomain, "State") == "active");
    const auto hypervisorPid = f.property<std::uint32_t>(path, kDomain, "HypervisorPid");
    CHECK((hypervisorPid == 0 || hypervisorPid == static_cast<std::uint32_t>(vm.pid())));
    CHECK(f.vcpuThreads(path) == vm.threadSet({0, 1}));
    CHECK(f.paths(path, "Allocations") == std::vector<std::string>{allocPath});
    CHECK(f.paths(path, "Monitors") == std::vector<std::string>{monPath});

    CHECK(f.property<std::vector<std::uint32_t>>(allocPath, kAllocation, "Vcpus") ==
          std::vector<std::uint32_t>{0, 1});
    CHECK(f.property<std::string>(allocPath, kAllocation, "Group") == alloc);
    std::ostringstream hex;
    hex << std::hex << mask;
    CHECK(f.caches(allocPath) == std::set<CacheTuple>{{3, 0, "both", 5 * kMiB, hex.str()}});
    CHECK(f.property<Threads>(allocPath, kAllocation, "MemoryBandwidth").empty());
    CHECK(f.property<std::string>(allocPath, kAllocation, "Schemata") == f.schemata(alloc));

    CHECK(f.property<std::string>(monPath, kMonitor, "Name") == "vcpus_1");
    CHECK(f.property<std::vector<std::uint32_t>>(monPath, kMonitor, "Vcpus") ==
          std::vector<std::uint32_t>{1});
    CHECK(f.property<std::uint32_t>(monPath, kMonitor, "Level") == 3);
    CHECK(f.property<std::string>(monPath, kMonitor, "Group") == mon);

    // One CLOSID for the allocation group; RMIDs for it and its monitor group.
    CHECK(f.managerProperty("ClosidsFree") == 6);
    CHECK(f.managerProperty("RmidsFree") == 157);

    CHECK(f.getDomain("vm1") == kDomainPath);
    CHECK(f.listDomains() == std::vector<std::tuple<std::string, std::string, std::string>>{
                                 {"vm1", kUuid, kDomainPath}});

    if (viaDomainObject) {
        auto domain = sdbus::createProxy(*f.connection, kService, kDomainPath);
        domain->callMethod("Stop").onInterface(kDomain);
    } else {
        f.stop("vm1");
    }

    CHECK(f.groups().empty());
    CHECK(f.inRoot(vm.tid(0)));
    CHECK(f.inRoot(vm.tid(1)));
    CHECK(f.schemata() == rootBefore);
    CHECK(f.managerProperty("ClosidsFree") == 7);
    CHECK(f.managerProperty("RmidsFree") == 159);
    CHECK(f.snapshot() == before);
    CHECK(f.waitFor([&] { return !f.stopped.empty(); }));
    CHECK(f.stopped == std::vector<std::pair<std::string, std::string>>{{"vm1", kDomainPath}});
    CHECK(f.waitFor([&] {
        return contains(f.removed, kDomainPath) && contains(f.removed, allocPath) &&
               contains(f.removed, monPath);
    }));
    CHECK(errorOf([&] { f.getDomain("vm1"); }).getName() == "org.resctrld1.Error.NotFound");
    CHECK(f.listDomains().empty());
    CHECK_THAT(errorOf([&] { f.property<std::string>(kDomainPath, kDomain, "Name"); }).getName(),
               Catch::StartsWith("org.freedesktop.DBus.Error.Unknown"));
    CHECK(errorOf([&] { f.stop("vm1"); }).getName() == "org.resctrld1.Error.NotFound");
}

TEST_CASE("StartDomain creates every shape of tuning", "[e2e][sim][domains]") {
    SECTION("two cachetunes: two groups with disjoint ways") {
        Fixture f;
        FakeVm& vm = f.spawn(4);
        const std::string before = f.snapshot();
        const auto path =
            f.start(domainXml("vm1", 4,
                              cachetune("0-1", cache(0, 5120)) + cachetune("2-3", cache(0, 2560))),
                    vm.threadsOf({0, 1, 2, 3}));
        const std::string a = "resctrld-vm1-vcpus_0-1";
        const std::string b = "resctrld-vm1-vcpus_2-3";
        CHECK(f.groups() == std::set<std::string>{a, b});
        const auto maskA = maskOf(f.schemata(a), "L3", 0);
        const auto maskB = maskOf(f.schemata(b), "L3", 0);
        CHECK(std::popcount(maskA) == 2);
        CHECK(std::popcount(maskB) == 1);
        CHECK((maskA & maskB) == 0);
        CHECK(((maskA | maskB) & 0x600) == 0);
        CHECK(maskOf(f.schemata(a), "L3", 1) == 0x7ff);
        CHECK(maskOf(f.schemata(b), "L3", 1) == 0x7ff);
        const auto root = maskOf(f.schemata(), "L3", 0);
        CHECK((root & (maskA | maskB)) == 0);
        CHECK(isContiguous(root));
        CHECK(f.tasks(a) == TidSet{vm.tid(0), vm.tid(1)});
        CHECK(f.tasks(b) == TidSet{vm.tid(2), vm.tid(3)});

        REQUIRE(
            f.paths(path, "Allocations") ==
            std::vector<std::string>{kDomainPath + "/allocation/0", kDomainPath + "/allocation/1"});
        std::ostringstream hexB;
        hexB << std::hex << maskB;
        CHECK(f.caches(kDomainPath + "/allocation/1") ==
              std::set<CacheTuple>{{3, 0, "both", 2560 * 1024, hexB.str()}});
        CHECK(f.property<std::string>(kDomainPath + "/allocation/1", kAllocation, "Group") == b);
        CHECK(f.property<std::vector<std::uint32_t>>(kDomainPath + "/allocation/1", kAllocation,
                                                     "Vcpus") == std::vector<std::uint32_t>{2, 3});
        CHECK(f.paths(path, "Monitors").empty());

        f.stop("vm1");
        CHECK(f.snapshot() == before);
    }

    SECTION("per-vCPU monitors and the default monitor") {
        Fixture f;
        FakeVm& vm = f.spawn(2);
        const std::string before = f.snapshot();
        const auto path = f.start(domainXml("vm1", 2,
                                            cachetune("0-1", cache(0, 5120) + monitor("0") +
                                                                 monitor("1") + monitor("0-1"))),
                                  vm.threadsOf({0, 1}));
        const std::string alloc = "resctrld-vm1-vcpus_0-1";
        CHECK(f.groups() == std::set<std::string>{alloc, alloc + "/mon_groups/vcpus_0",
                                                  alloc + "/mon_groups/vcpus_1"});
        CHECK(f.tasks(alloc) == TidSet{vm.tid(0), vm.tid(1)});
        CHECK(f.tasks(alloc + "/mon_groups/vcpus_0") == TidSet{vm.tid(0)});
        CHECK(f.tasks(alloc + "/mon_groups/vcpus_1") == TidSet{vm.tid(1)});

        const auto monitors = f.paths(path, "Monitors");
        REQUIRE(monitors.size() == 3);
        const std::vector<std::pair<std::string, std::string>> expected{
            {"vcpus_0", alloc + "/mon_groups/vcpus_0"},
            {"vcpus_1", alloc + "/mon_groups/vcpus_1"},
            {"vcpus_0-1", alloc}}; // the default monitor reads the allocation group itself
        for (std::size_t i = 0; i < 3; ++i) {
            CHECK(monitors[i] == kDomainPath + "/monitor/" + std::to_string(i));
            CHECK(f.property<std::string>(monitors[i], kMonitor, "Name") == expected[i].first);
            CHECK(f.property<std::string>(monitors[i], kMonitor, "Group") == expected[i].second);
        }
        CHECK(f.property<std::vector<std::uint32_t>>(monitors[2], kMonitor, "Vcpus") ==
              std::vector<std::uint32_t>{0, 1});

        f.stop("vm1");
        CHECK(f.snapshot() == before);
    }

    SECTION("CDP: code and data masks of one cache") {
        Fixture f("skx-2s-l3cat", "cdp");
        FakeVm& vm = f.spawn(2);
        const std::string before = f.snapshot();
        const auto path = f.start(
            domainXml("vm1", 2, cachetune("0-1", cache(0, 5120, "code") + cache(0, 7680, "data"))),
            vm.threadsOf({0, 1}));
        const std::string alloc = "resctrld-vm1-vcpus_0-1";
        CHECK(f.groups() == std::set<std::string>{alloc});
        const std::string schemata = f.schemata(alloc);
        const auto code = maskOf(schemata, "L3CODE", 0);
        const auto data = maskOf(schemata, "L3DATA", 0);
        CHECK(std::popcount(code) == 2);
        CHECK(std::popcount(data) == 3);
        CHECK(isContiguous(code));
        CHECK(isContiguous(data));
        CHECK(maskOf(schemata, "L3CODE", 1) == 0x7ff);
        CHECK(maskOf(schemata, "L3DATA", 1) == 0x7ff);
        CHECK((maskOf(f.schemata(), "L3CODE", 0) & code) == 0);
        CHECK((maskOf(f.schemata(), "L3DATA", 0) & data) == 0);
        CHECK(f.tasks(alloc) == TidSet{vm.tid(0), vm.tid(1)});
        std::ostringstream codeHex, dataHex;
        codeHex << std::hex << code;
        dataHex << std::hex << data;
        CHECK(f.caches(kDomainPath + "/allocation/0") ==
              std::set<CacheTuple>{{3, 0, "code", 5 * kMiB, codeHex.str()},
                                   {3, 0, "data", 7680 * 1024, dataHex.str()}});
        CHECK(f.property<std::string>(kDomainPath + "/allocation/0", kAllocation, "Schemata") ==
              schemata);
        (void)path;

        // type='both' needs the un-split L3 resource (docs/definitions.md rule 9).
        const auto e =
            errorOf([&] { f.start(domainXml("vm2", 2, cachetune("0-1", cache(0, 5120))), {}); });
        CHECK(e.getName() == "org.resctrld1.Error.NotSupported");

        f.stop("vm1");
        CHECK(f.snapshot() == before);
    }

    SECTION("L2 CAT") {
        Fixture f("modern-intel-l2");
        FakeVm& vm = f.spawn(2);
        const std::string before = f.snapshot();
        // L2: 2 MiB, 16 ways: 128 KiB a way.
        f.start(domainXml("vm1", 2, cachetune("0-1", cache(0, 256, "both", 2))),
                vm.threadsOf({0, 1}));
        const std::string alloc = "resctrld-vm1-vcpus_0-1";
        CHECK(f.groups() == std::set<std::string>{alloc});
        const std::string schemata = f.schemata(alloc);
        const auto mask = maskOf(schemata, "L2", 0);
        CHECK(std::popcount(mask) == 2);
        CHECK(isContiguous(mask));
        CHECK(maskOf(schemata, "L2", 1) == 0xffff);
        CHECK(maskOf(schemata, "L2", 47) == 0xffff);
        CHECK(maskOf(schemata, "L3", 0) == 0x7fff);
        CHECK((maskOf(f.schemata(), "L2", 0) & mask) == 0);
        CHECK(maskOf(f.schemata(), "L3", 0) == 0x7fff);
        CHECK(f.tasks(alloc) == TidSet{vm.tid(0), vm.tid(1)});
        std::ostringstream hex;
        hex << std::hex << mask;
        CHECK(f.caches(kDomainPath + "/allocation/0") ==
              std::set<CacheTuple>{{2, 0, "both", 256 * 1024, hex.str()}});

        f.stop("vm1");
        CHECK(f.snapshot() == before);
    }

    SECTION("memorytune: an MBA cap") {
        Fixture f;
        FakeVm& vm = f.spawn(2);
        const std::string before = f.snapshot();
        const std::string rootBefore = f.schemata();
        f.start(domainXml("vm1", 2,
                          "<memorytune vcpus='0-1'><node id='0' bandwidth='50'/>"
                          "</memorytune>"),
                vm.threadsOf({0, 1}));
        const std::string alloc = "resctrld-vm1-vcpus_0-1";
        CHECK(f.groups() == std::set<std::string>{alloc});
        CHECK(bandwidthOf(f.schemata(alloc), 0) == 50);
        CHECK(maskOf(f.schemata(alloc), "L3", 0) == 0x7ff);
        CHECK(f.schemata() == rootBefore); // no ways taken, nothing to give up
        CHECK(f.tasks(alloc) == TidSet{vm.tid(0), vm.tid(1)});
        const std::string allocPath = kDomainPath + "/allocation/0";
        Threads bandwidth = f.property<Threads>(allocPath, kAllocation, "MemoryBandwidth");
        REQUIRE(bandwidth.size() == 1);
        CHECK(bandwidth[0].get<0>() == 0);
        CHECK(bandwidth[0].get<1>() == 50);
        CHECK(f.caches(allocPath).empty());

        f.stop("vm1");
        CHECK(f.snapshot() == before);
    }

    SECTION("a memorytune with the same vCPUs as a cachetune shares its group") {
        Fixture f;
        FakeVm& vm = f.spawn(2);
        const std::string before = f.snapshot();
        const auto path =
            f.start(domainXml("vm1", 2,
                              cachetune("0-1", cache(0, 5120)) +
                                  "<memorytune vcpus='0-1'><node id='1' bandwidth='30'/>"
                                  "</memorytune>"),
                    vm.threadsOf({0, 1}));
        const std::string alloc = "resctrld-vm1-vcpus_0-1";
        CHECK(f.groups() == std::set<std::string>{alloc});
        CHECK(std::popcount(maskOf(f.schemata(alloc), "L3", 0)) == 2);
        CHECK(bandwidthOf(f.schemata(alloc), 1) == 30);
        CHECK(f.paths(path, "Allocations").size() == 1);
        f.stop("vm1");
        CHECK(f.snapshot() == before);
    }

    SECTION("a monitor-only cachetune: a group under the root's mon_groups/") {
        Fixture f;
        FakeVm& vm = f.spawn(2);
        const std::string before = f.snapshot();
        const std::string rootBefore = f.schemata();
        const auto path =
            f.start(domainXml("vm1", 2, cachetune("0-1", monitor("0-1"))), vm.threadsOf({0, 1}));
        const std::string mon = "mon_groups/resctrld-vm1-vcpus_0-1";
        CHECK(f.groups() == std::set<std::string>{mon});
        CHECK(f.tasks(mon) == TidSet{vm.tid(0), vm.tid(1)});
        CHECK(f.schemata() == rootBefore);
        const auto monitors = f.paths(path, "Monitors");
        REQUIRE(monitors.size() == 1);
        CHECK(f.property<std::string>(monitors[0], kMonitor, "Name") == "vcpus_0-1");
        CHECK(f.property<std::string>(monitors[0], kMonitor, "Group") == mon);

        f.stop("vm1");
        CHECK(f.snapshot() == before);
        CHECK(f.inRoot(vm.tid(0)));
    }
}

TEST_CASE("StartDomainForProcess finds the hypervisor's vCPU threads", "[e2e][sim][domains]") {
    Fixture f;
    FakeVm& vm = f.spawn(2);
    const std::string before = f.snapshot();

    SECTION("every tuned vCPU found") {
        const auto path = f.startForProcess(
            domainXml("vm1", 2, cachetune("0-1", cache(0, 5120) + monitor("0"))), vm.pid());
        CHECK(path == kDomainPath);
        const std::string alloc = "resctrld-vm1-vcpus_0-1";
        CHECK(f.tasks(alloc) == TidSet{vm.tid(0), vm.tid(1)});
        CHECK(f.tasks(alloc + "/mon_groups/vcpus_0") == TidSet{vm.tid(0)});
        CHECK(f.property<std::uint32_t>(path, kDomain, "HypervisorPid") ==
              static_cast<std::uint32_t>(vm.pid()));
        CHECK(f.vcpuThreads(path) == vm.threadSet({0, 1}));
        CHECK(f.waitFor([&] { return f.started.size() == 1; }));
        f.stop("vm1");
        CHECK(f.snapshot() == before);
    }

    SECTION("a tuned vCPU the hypervisor does not have") {
        const auto e = errorOf([&] {
            f.startForProcess(
                domainXml("vm1", 4,
                          cachetune("0-1", cache(0, 5120)) + cachetune("3", monitor("3"))),
                vm.pid());
        });
        CHECK(e.getName() == "org.resctrld1.Error.ProcessNotFound");
        INFO(e.getMessage());
        CHECK(containsWord(e.getMessage(), "3"));
        CHECK(f.snapshot() == before);
        f.settle();
        CHECK(f.started.empty());
        CHECK(errorOf([&] { f.getDomain("vm1"); }).getName() == "org.resctrld1.Error.NotFound");
    }

    SECTION("a process that does not exist or is a kernel thread") {
        for (pid_t pid : {simtest::unusedTid(), kernelThread()}) {
            INFO("pid " << pid);
            const auto e = errorOf([&] {
                f.startForProcess(domainXml("vm1", 2, cachetune("0-1", cache(0, 5120))), pid);
            });
            CHECK(e.getName() == "org.resctrld1.Error.ProcessNotFound");
            CHECK(f.snapshot() == before);
        }
    }
}

TEST_CASE("StartDomain takes the threads of a <domstatus> definition", "[e2e][sim][domains]") {
    Fixture f;
    FakeVm& vm = f.spawn(2);
    const std::string before = f.snapshot();
    // As libvirt writes /run/libvirt/qemu/<name>.xml.
    const std::string status =
        "<domstatus state='running' reason='booted' pid='" + std::to_string(vm.pid()) +
        "'>\n  <taint flag='high-privileges'/>\n"
        "  <monitor path='/var/lib/libvirt/qemu/domain-1-vm1/monitor.sock' type='unix'/>\n"
        "  <vcpus>\n    <vcpu id='0' pid='" +
        std::to_string(vm.tid(0)) + "'/>\n    <vcpu id='1' pid='" + std::to_string(vm.tid(1)) +
        "'/>\n  </vcpus>\n" + domainXml("vm1", 2, cachetune("0-1", cache(0, 5120) + monitor("1"))) +
        "\n</domstatus>\n";

    const auto path = f.start(status, {});
    CHECK(path == kDomainPath);
    const std::string alloc = "resctrld-vm1-vcpus_0-1";
    CHECK(f.tasks(alloc) == TidSet{vm.tid(0), vm.tid(1)});
    CHECK(f.tasks(alloc + "/mon_groups/vcpus_1") == TidSet{vm.tid(1)});
    CHECK(f.property<std::uint32_t>(path, kDomain, "HypervisorPid") ==
          static_cast<std::uint32_t>(vm.pid()));
    CHECK(f.vcpuThreads(path) == vm.threadSet({0, 1}));
    f.stop("vm1");
    CHECK(f.snapshot() == before);
}

TEST_CASE("StartDomain again is a reconnect or AlreadyExists", "[e2e][sim][domains]") {
    Fixture f;
    FakeVm& vm = f.spawn(2);
    const std::string definition =
        domainXml("vm1", 2, cachetune("0-1", cache(0, 5120) + monitor("1")));
    const auto path = f.start(definition, vm.threadsOf({0, 1}));
    REQUIRE(f.waitFor([&] { return f.started.size() == 1; }));
    const std::string after = f.snapshot();

    SECTION("same definition, same threads") {
        CHECK(f.start(definition, vm.threadsOf({0, 1})) == path);
        f.settle();
        CHECK(f.started.size() == 1);
        CHECK(f.snapshot() == after);
        CHECK(f.listDomains().size() == 1);
    }

    SECTION("same definition: a thread moved away meanwhile is attached again") {
        // Someone (an administrator, a foreign tool) put vCPU 1's thread back into the root.
        REQUIRE(simtest::writeFile(f.sim.at("tasks"), std::to_string(vm.tid(1))) == 0);
        REQUIRE(f.inRoot(vm.tid(1)));
        CHECK(f.start(definition, vm.threadsOf({0, 1})) == path);
        CHECK(f.snapshot() == after);
        f.settle();
        CHECK(f.started.size() == 1);
    }

    SECTION("same definition, a restarted vCPU thread is attached") {
        const auto [vcpu, tid] = vm.hotplug();
        (void)vcpu;
        Threads threads{{0, static_cast<std::uint32_t>(vm.tid(0))},
                        {1, static_cast<std::uint32_t>(tid)}};
        CHECK(f.start(definition, threads) == path);
        CHECK(f.tasks("resctrld-vm1-vcpus_0-1").count(tid) == 1);
        CHECK(f.tasks("resctrld-vm1-vcpus_0-1/mon_groups/vcpus_1").count(tid) == 1);
        CHECK(f.vcpuThreads(path).count({1, static_cast<std::uint32_t>(tid)}) == 1);
        f.settle();
        CHECK(f.started.size() == 1);
    }

    SECTION("another definition under the same name") {
        const auto e = errorOf([&] {
            f.start(domainXml("vm1", 2, cachetune("0-1", cache(0, 7680))), vm.threadsOf({0, 1}));
        });
        CHECK(e.getName() == "org.resctrld1.Error.AlreadyExists");
        CHECK_FALSE(e.getMessage().empty());
        CHECK(f.snapshot() == after);
        CHECK(f.getDomain("vm1") == path);
        f.settle();
        CHECK(f.started.size() == 1);
    }
}

TEST_CASE("Domains compete for ways and CLOSIDs and RMIDs until NoSpace", "[e2e][sim][domains]") {
    SECTION("ways") {
        Fixture f;
        FakeVm& a = f.spawn(2);
        FakeVm& b = f.spawn(2);
        // 6 ways of 2.5 MiB of the 9 outside shareable_bits.
        f.start(domainXml("a", 2, cachetune("0-1", cache(0, 15360))), a.threadsOf({0, 1}));
        const std::string before = f.snapshot();
        const auto e = errorOf([&] {
            f.start(domainXml("b", 2, cachetune("0-1", cache(0, 15360))), b.threadsOf({0, 1}));
        });
        CHECK(e.getName() == "org.resctrld1.Error.NoSpace");
        INFO(e.getMessage());
        CHECK(std::regex_search(e.getMessage(), std::regex("cache[^0-9]*\\b0\\b")));
        CHECK(f.snapshot() == before);
        // Three ways still fit, beside the first domain's.
        f.start(domainXml("b", 2, cachetune("0-1", cache(0, 7680))), b.threadsOf({0, 1}));
        const auto maskA = maskOf(f.schemata("resctrld-a-vcpus_0-1"), "L3", 0);
        const auto maskB = maskOf(f.schemata("resctrld-b-vcpus_0-1"), "L3", 0);
        CHECK(std::popcount(maskA) == 6);
        CHECK(std::popcount(maskB) == 3);
        CHECK((maskA & maskB) == 0);
        CHECK((maskOf(f.schemata(), "L3", 0) & (maskA | maskB)) == 0);

        // Stopping one domain leaves the other exactly as it was and regrows the default group
        // around it.
        const std::string groupB = "resctrld-b-vcpus_0-1";
        const std::string schemataB = f.schemata(groupB);
        f.stop("a");
        CHECK(f.groups() == std::set<std::string>{groupB});
        CHECK(f.schemata(groupB) == schemataB);
        CHECK(f.tasks(groupB) == TidSet{b.tid(0), b.tid(1)});
        CHECK(f.inRoot(a.tid(0)));
        const auto root = maskOf(f.schemata(), "L3", 0);
        CHECK((root & maskB) == 0);
        CHECK((root & maskA) != 0);
        CHECK(f.getDomain("b") == "/org/resctrld1/domain/b");
    }

    SECTION("CLOSIDs") {
        Fixture f;
        FakeVm& vm = f.spawn(4);
        // skx: 7 usable CLOSIDs (MB's 8 minus the root); foreign groups hold 6. Each keeps
        // only the shareable way 10 (a new group gets every way, and a way any group uses is
        // not free), so ways are not what runs out.
        for (int i = 0; i < 6; ++i) {
            const auto group = f.sim.at("foreign-" + std::to_string(i));
            REQUIRE(simtest::makeDir(group) == 0);
            REQUIRE(simtest::writeFile(group / "schemata", "L3:0=400;1=400\n") == 0);
        }
        const std::string before = f.snapshot();
        const auto e = errorOf([&] {
            f.start(domainXml("vm1", 4,
                              cachetune("0-1", cache(0, 2560)) + cachetune("2-3", cache(0, 2560))),
                    vm.threadsOf({0, 1, 2, 3}));
        });
        CHECK(e.getName() == "org.resctrld1.Error.NoSpace");
        CHECK_THAT(e.getMessage(), Catch::Contains("CLOSID", Catch::CaseSensitive::No));
        CHECK(f.snapshot() == before);
        // One group still fits.
        f.start(domainXml("vm1", 4, cachetune("0-1", cache(0, 2560))), vm.threadsOf({0, 1}));
        CHECK(f.managerProperty("ClosidsFree") == 0);
    }

    SECTION("RMIDs") {
        Fixture f;
        FakeVm& vm = f.spawn(2);
        // skx: 159 usable RMIDs; foreign monitor groups hold 158.
        for (int i = 0; i < 158; ++i)
            REQUIRE(simtest::makeDir(f.sim.at("mon_groups/foreign-" + std::to_string(i))) == 0);
        const std::string before = f.snapshot();
        // An allocation group and a monitor group: two RMIDs.
        const auto e = errorOf([&] {
            f.start(domainXml("vm1", 2, cachetune("0-1", cache(0, 2560) + monitor("1"))),
                    vm.threadsOf({0, 1}));
        });
        CHECK(e.getName() == "org.resctrld1.Error.NoSpace");
        CHECK_THAT(e.getMessage(), Catch::Contains("RMID", Catch::CaseSensitive::No));
        CHECK(f.snapshot() == before);
        // One monitor group still fits.
        f.start(domainXml("vm1", 2, cachetune("0-1", monitor("0-1"))), vm.threadsOf({0, 1}));
        CHECK(f.tasks("mon_groups/resctrld-vm1-vcpus_0-1") == TidSet{vm.tid(0), vm.tid(1)});
    }
}

TEST_CASE("Foreign groups are never touched and keep their ways", "[e2e][sim][domains]") {
    Fixture f;
    FakeVm& vm = f.spawn(2);
    FakeVm& other = f.spawn(1);
    // A foreign tool (pqos, libvirt) holds ways 0-1 of cache 0 with a task and a monitor.
    REQUIRE(simtest::makeDir(f.sim.at("pqos-cos1")) == 0);
    REQUIRE(simtest::writeFile(f.sim.at("pqos-cos1/schemata"), "L3:0=3\n") == 0);
    REQUIRE(simtest::writeFile(f.sim.at("pqos-cos1/tasks"), std::to_string(other.tid(0))) == 0);
    REQUIRE(simtest::makeDir(f.sim.at("pqos-cos1/mon_groups/watch")) == 0);
    REQUIRE(simtest::writeFile(f.sim.at("pqos-cos1/mon_groups/watch/tasks"),
                               std::to_string(other.tid(0))) == 0);
    REQUIRE(simtest::makeDir(f.sim.at("mon_groups/foreign-mon")) == 0);
    const std::string before = f.snapshot();

    SECTION("a domain gets other ways; stopping it restores everything") {
        f.start(domainXml("vm1", 2, cachetune("0-1", cache(0, 10240))), vm.threadsOf({0, 1}));
        const auto mask = maskOf(f.schemata("resctrld-vm1-vcpus_0-1"), "L3", 0);
        CHECK(std::popcount(mask) == 4);
        CHECK((mask & 0x3) == 0);
        CHECK(maskOf(f.schemata("pqos-cos1"), "L3", 0) == 0x3);
        CHECK(f.tasks("pqos-cos1") == TidSet{other.tid(0)});
        CHECK(f.tasks("pqos-cos1/mon_groups/watch") == TidSet{other.tid(0)});
        CHECK(simtest::pathExists(f.sim.at("mon_groups/foreign-mon")));
        f.stop("vm1");
        CHECK(f.snapshot() == before);
    }

    SECTION("the foreign ways are not given out") {
        // 10 of 11 ways would fit beside the root group's one, not beside the foreign two.
        const auto e = errorOf([&] {
            f.start(domainXml("vm1", 2, cachetune("0-1", cache(0, 25600))), vm.threadsOf({0, 1}));
        });
        CHECK(e.getName() == "org.resctrld1.Error.NoSpace");
        CHECK(f.snapshot() == before);
    }
}

TEST_CASE("A kernel error at any step leaves resctrl exactly as it was", "[e2e][sim][domains]") {
    const std::string kernel = GENERATE("6.15", "6.1");
    INFO("kernel " << kernel);
    Fixture f("skx-2s-l3cat", "", kernel);
    FakeVm& vm = f.spawn(4);
    const std::string definition = domainXml("vm1", 4,
                                             cachetune("0-1", cache(0, 5120) + monitor("1")) +
                                                 cachetune("2-3", monitor("2-3")));
    const std::string alloc = "resctrld-vm1-vcpus_0-1";
    struct Step {
        std::string op;
        std::string glob;
        unsigned skip; // matching operations that succeed before the failing one
    };
    const std::vector<Step> steps{
        {"mkdir", alloc, 0},
        {"write", alloc + "/schemata", 0},
        {"mkdir", alloc + "/mon_groups/vcpus_1", 0},
        {"mkdir", "mon_groups/resctrld-vm1-vcpus_2-3", 0},
        {"write", alloc + "/tasks", 0},
        {"write", alloc + "/tasks", 1}, // the second thread, after the first moved
        {"write", alloc + "/mon_groups/vcpus_1/tasks", 0},
        {"write", "mon_groups/resctrld-vm1-vcpus_2-3/tasks", 0},
        {"write", "mon_groups/resctrld-vm1-vcpus_2-3/tasks", 1},
        {"write", "schemata", 0}, // the default group gives up the ways
    };
    const std::vector<std::string> errnos{"EIO", "ENOSPC", "EINVAL", "ESRCH"};
    const std::string before = f.snapshot();
    unsigned tried = 0;
    for (const auto& step : steps) {
        for (const auto& errnoName : errnos) {
            // ESRCH (the thread exited) only where a thread is written.
            if (errnoName == "ESRCH" && !step.glob.ends_with("/tasks"))
                continue;
            const int errnoValue = errnoName == "EIO"      ? EIO
                                   : errnoName == "ENOSPC" ? ENOSPC
                                   : errnoName == "EINVAL" ? EINVAL
                                                           : ESRCH;
            INFO(step.op << " " << step.glob << " (after " << step.skip << ") " << errnoName);
            std::string faults;
            if (step.skip > 0)
                faults +=
                    step.op + " " + step.glob + " " + std::to_string(step.skip) + " stall 1\n";
            faults += step.op + " " + step.glob + " 1 " + errnoName + "\n";
            f.sim.setControl("faults", faults);
            std::optional<sdbus::Error> error;
            try {
                f.start(definition, vm.threadsOf({0, 1, 2, 3}));
            } catch (const sdbus::Error& e) {
                error = e;
            }
            f.sim.setControl("faults", "");
            ++tried;
            if (!error) {
                FAIL_CHECK("StartDomain succeeded despite the fault");
                f.stop("vm1");
                continue;
            }
            INFO(error->getName() << ": " << error->getMessage());
            if (errnoValue == ENOSPC)
                CHECK((error->getName() == "org.resctrld1.Error.KernelRejected" ||
                       error->getName() == "org.resctrld1.Error.NoSpace"));
            else if (errnoValue == ESRCH)
                CHECK((error->getName() == "org.resctrld1.Error.KernelRejected" ||
                       error->getName() == "org.resctrld1.Error.ProcessNotFound"));
            else
                CHECK(error->getName() == "org.resctrld1.Error.KernelRejected");
            if (error->getName() == "org.resctrld1.Error.KernelRejected")
                CHECK_THAT(error->getMessage(), Catch::Contains(std::strerror(errnoValue)));
            CHECK(f.snapshot() == before);
            CHECK(errorOf([&] { f.getDomain("vm1"); }).getName() == "org.resctrld1.Error.NotFound");
        }
    }
    std::cout << "e2e-daemon-domains: " << tried << " (operation, fault) pairs tried\n";
    WARN(tried << " (operation, fault) pairs tried");
    f.settle();
    CHECK(f.started.empty());

    // The daemon still works afterwards.
    f.start(definition, vm.threadsOf({0, 1, 2, 3}));
    CHECK(f.tasks(alloc) == TidSet{vm.tid(0), vm.tid(1)});
    f.stop("vm1");
    CHECK(f.snapshot() == before);
}

TEST_CASE("Threads that are not one hypervisor's are ProcessNotFound", "[e2e][sim][domains]") {
    Fixture f;
    FakeVm& vm = f.spawn(2);
    FakeVm& other = f.spawn(2);
    const std::string single = domainXml("vm1", 2, cachetune("0", cache(0, 2560)));
    const std::string both = domainXml("vm1", 2, cachetune("0-1", cache(0, 2560)));
    const std::string before = f.snapshot();
    const std::vector<std::pair<std::string, pid_t>> bad{
        {"PID 1", 1},
        {"the daemon", f.daemon.process().pid()},
        {"a kernel thread", kernelThread()},
        {"no such thread", simtest::unusedTid()},
    };
    for (const auto& [what, tid] : bad) {
        INFO(what << ": tid " << tid);
        const auto e = errorOf([&, tid = tid] {
            f.start(single, Threads{{0, static_cast<std::uint32_t>(tid)}});
        });
        CHECK(e.getName() == "org.resctrld1.Error.ProcessNotFound");
        INFO(e.getMessage());
        CHECK(containsWord(e.getMessage(), std::to_string(tid)));
        CHECK(f.snapshot() == before);
    }
    {
        INFO("threads of two processes");
        const auto e = errorOf([&] {
            f.start(both, Threads{{0, static_cast<std::uint32_t>(vm.tid(0))},
                                  {1, static_cast<std::uint32_t>(other.tid(1))}});
        });
        CHECK(e.getName() == "org.resctrld1.Error.ProcessNotFound");
        CHECK(f.snapshot() == before);
    }
    f.settle();
    CHECK(f.started.empty());
    CHECK(f.listDomains().empty());
}

TEST_CASE("SetVcpuThread attaches a hot-plugged vCPU thread", "[e2e][sim][domains]") {
    Fixture f;
    FakeVm& vm = f.spawn(2);
    FakeVm& other = f.spawn(1);
    // vCPU 2 is tuned but has no thread yet: StartDomain accepts that.
    const auto path = f.start(domainXml("vm1", 3, cachetune("0-2", cache(0, 5120) + monitor("2"))),
                              vm.threadsOf({0, 1}));
    const std::string alloc = "resctrld-vm1-vcpus_0-2";
    CHECK(f.tasks(alloc) == TidSet{vm.tid(0), vm.tid(1)});
    CHECK(f.tasks(alloc + "/mon_groups/vcpus_2").empty());

    const auto [vcpu, tid] = vm.hotplug();
    REQUIRE(vcpu == 2);
    f.setVcpuThread("vm1", 2, tid);
    CHECK(f.tasks(alloc) == TidSet{vm.tid(0), vm.tid(1), tid});
    CHECK(f.tasks(alloc + "/mon_groups/vcpus_2") == TidSet{tid});
    CHECK(f.vcpuThreads(path).count({2, static_cast<std::uint32_t>(tid)}) == 1);

    const std::string after = f.snapshot();
    CHECK(errorOf([&] { f.setVcpuThread("nosuchvm", 2, tid); }).getName() ==
          "org.resctrld1.Error.NotFound");
    CHECK(errorOf([&] { f.setVcpuThread("vm1", 2, simtest::unusedTid()); }).getName() ==
          "org.resctrld1.Error.ProcessNotFound");
    CHECK(errorOf([&] { f.setVcpuThread("vm1", 2, other.tid(0)); }).getName() ==
          "org.resctrld1.Error.ProcessNotFound");
    CHECK(f.snapshot() == after);
}

TEST_CASE("Only privileged callers start or stop domains or attach threads",
          "[e2e][sim][domains]") {
    Fixture f;
    FakeVm& vm = f.spawn(2);
    const std::string definition = domainXml("vm1", 2, cachetune("0-1", cache(0, 5120)));
    const std::string before = f.snapshot();

    const auto start =
        callAsUser(f.bus.address(), kNobody, kNogroup, {}, "StartDomain", definition);
    CHECK(start.errorName == "org.resctrld1.Error.AccessDenied");
    const auto forProcess =
        callAsUser(f.bus.address(), kNobody, kNogroup, {}, "StartDomainForProcess", definition);
    CHECK(forProcess.errorName == "org.resctrld1.Error.AccessDenied");
    CHECK(f.snapshot() == before);

    f.start(definition, vm.threadsOf({0, 1}));
    const std::string after = f.snapshot();
    CHECK(callAsUser(f.bus.address(), kNobody, kNogroup, {}, "StopDomain", "vm1").errorName ==
          "org.resctrld1.Error.AccessDenied");
    CHECK(callAsUser(f.bus.address(), kNobody, kNogroup, {}, "SetVcpuThread", "vm1").errorName ==
          "org.resctrld1.Error.AccessDenied");
    CHECK(f.snapshot() == after);
    // Reading is open to everyone.
    const auto get = callAsUser(f.bus.address(), kNobody, kNogroup, {}, "GetDomain", "vm1");
    INFO(get.errorName << ": " << get.errorMessage);
    CHECK(get.ok);
    CHECK(f.getDomain("vm1") == kDomainPath);
}

TEST_CASE("Threads of vCPUs no tuning names are accepted and left alone", "[e2e][sim][domains]") {
    Fixture f;
    FakeVm& vm = f.spawn(3);
    // vCPU 2 is in no cachetune or memorytune.
    const auto path =
        f.start(domainXml("vm1", 3, cachetune("0-1", cache(0, 5120))), vm.threadsOf({0, 1, 2}));
    CHECK(f.tasks("resctrld-vm1-vcpus_0-1") == TidSet{vm.tid(0), vm.tid(1)});
    CHECK(f.inRoot(vm.tid(2)));
    (void)path;
}

TEST_CASE("A domain name outside the safe characters gets a mangled group name and an encoded "
          "path",
          "[e2e][sim][domains]") {
    Fixture f;
    FakeVm& vm = f.spawn(2);
    const std::string before = f.snapshot();
    // libvirt refuses '/' in names; a space and '+' are allowed there, not in a group name.
    const std::string name = "my vm+1";
    const auto path =
        f.start(domainXml(name, 2, cachetune("0-1", cache(0, 5120))), vm.threadsOf({0, 1}));
    // sd_bus_path_encode: every byte outside [A-Za-z0-9] as _ and two lowercase hex digits.
    CHECK(path == "/org/resctrld1/domain/my_20vm_2b1");
    CHECK(f.getDomain(name) == path);
    CHECK(f.property<std::string>(path, kDomain, "Name") == name);
    const auto groups = f.groups();
    REQUIRE(groups.size() == 1);
    const std::string group = *groups.begin();
    INFO(group);
    CHECK(std::regex_match(group, std::regex("resctrld-my_vm_1~[0-9a-fA-F]{16}-vcpus_0-1")));
    CHECK(f.property<std::string>(path + "/allocation/0", kAllocation, "Group") == group);
    CHECK(f.tasks(group) == TidSet{vm.tid(0), vm.tid(1)});
    f.stop(name);
    CHECK(f.snapshot() == before);
}

TEST_CASE("StartDomain is Busy while another process holds the resctrl lock",
          "[e2e][sim][domains]") {
    Fixture f("skx-2s-l3cat", "", "6.15", "LockTimeoutSec=0.3\n");
    FakeVm& vm = f.spawn(2);
    const std::string definition = domainXml("vm1", 2, cachetune("0-1", cache(0, 5120)));
    const std::string before = f.snapshot();
    {
        // The kernel's recommended advisory lock: flock(2) on the resctrl root.
        struct Lock {
            int fd;
            ~Lock() { close(fd); }
        } lock{open(f.sim.root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
        REQUIRE(lock.fd >= 0);
        REQUIRE(flock(lock.fd, LOCK_EX) == 0);
        const auto e = errorOf([&] { f.start(definition, vm.threadsOf({0, 1})); });
        CHECK(e.getName() == "org.resctrld1.Error.Busy");
        CHECK(f.snapshot() == before);
    }
    f.settle();
    CHECK(f.started.empty());
    // The lock released, the same call succeeds.
    f.start(definition, vm.threadsOf({0, 1}));
    CHECK(f.tasks("resctrld-vm1-vcpus_0-1") == TidSet{vm.tid(0), vm.tid(1)});
}

namespace {

// How long a call open to everyone may wait behind a lock someone else holds: "a fraction of a
// second", with room for CI's sanitized build on two cores.
constexpr auto kPromptAnswer = std::chrono::milliseconds(500);

template <class Call> std::chrono::milliseconds timeOf(Call&& call) {
    const auto start = Clock::now();
    call();
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

} // namespace

TEST_CASE("While another user holds the resctrl lock, every other caller is answered at once",
          "[e2e][sim][domains][hostile]") {
    Fixture f("skx-2s-l3cat", "", "6.15", "LockTimeoutSec=3\n");
    FakeVm& vm = f.spawn(4);
    f.start(domainXml("vm1", 4, cachetune("0-1", cache(0, 5120) + monitor("0-1"))),
            vm.threadsOf({0, 1}));
    const std::string vm2 = domainXml("vm2", 4, cachetune("2-3", cache(0, 5120)));
    ResctrlLockHolder holder(f.sim.root(), kNobody, kNogroup);
    const std::string before = f.snapshot();

    // A mutating call that must wait for the lock, sent before the reads on the same connection:
    // the bus delivers them in this order, so the daemon has it when the reads come.
    std::optional<std::string> startedPath;
    std::optional<std::string> startError;
    f.manager->callMethodAsync("StartDomain")
        .onInterface(kManager)
        .withArguments(vm2, vm.threadsOf({2, 3}))
        .uponReplyInvoke([&](const sdbus::Error* error, const sdbus::ObjectPath& path) {
            if (error)
                startError = error->getName() + ": " + error->getMessage();
            else
                startedPath = path;
        });

    int cases = 0;
    auto prompt = [&](const char* what, const std::function<void()>& call) {
        const auto took = timeOf(call);
        INFO(what << " took " << took.count() << " ms");
        CHECK(took < kPromptAnswer);
        ++cases;
    };
    prompt("Get(Version)",
           [&] { f.manager->getProperty("Version").onInterface(kManager).get<std::string>(); });
    prompt("ListDomains", [&] { CHECK(f.listDomains().size() == 1); });
    prompt("GetStats", [&] {
        std::map<std::string, sdbus::Variant> stats;
        f.manager->callMethod("GetStats")
            .onInterface(kManager)
            .withArguments("vm1")
            .storeResultsTo(stats);
    });
    prompt("Get(ClosidsFree)", [&] { f.managerProperty("ClosidsFree"); });
    // ValidateDomain plans from a fresh read without the lock: never Busy, never waiting.
    prompt("ValidateDomain", [&] {
        std::vector<sdbus::Struct<std::string, std::string>> groups;
        f.manager->callMethod("ValidateDomain")
            .onInterface(kManager)
            .withArguments(vm2)
            .storeResultsTo(groups);
        CHECK(groups.size() == 1);
    });
    // The same calls from the lock holder's own user.
    const auto validate = callAsUser(f.bus.address(), kNobody, kNogroup, {}, "ValidateDomain", vm2);
    INFO(validate.errorName << ": " << validate.errorMessage);
    CHECK(validate.ok);
    ++cases;
    std::cout << "hostile cases: lock-holder " << cases << "\n";

    CHECK_FALSE(startedPath);
    CHECK_FALSE(startError);
    CHECK(f.snapshot() == before);
    // The lock released, the waiting call goes through.
    holder.release();
    REQUIRE(f.waitFor([&] { return startedPath || startError; }));
    INFO(startError.value_or(""));
    CHECK(startedPath == "/org/resctrld1/domain/vm2");
    CHECK(f.tasks("resctrld-vm2-vcpus_2-3") == TidSet{vm.tid(2), vm.tid(3)});
}

TEST_CASE("A VM that exits while another program holds the lock is stopping until its groups go",
          "[e2e][sim][domains][hostile]") {
    Fixture f("skx-2s-l3cat", "", "6.15", "LockTimeoutSec=0.3\n");
    const std::string before = f.snapshot();
    FakeVm& vm = f.spawn(2);
    const auto path =
        f.startForProcess(domainXml("vm1", 2, cachetune("0-1", cache(0, 5120))), vm.pid());
    auto domain = sdbus::createProxy(*f.connection, kService, path);
    std::vector<std::string> states;
    domain->uponSignal("PropertiesChanged")
        .onInterface("org.freedesktop.DBus.Properties")
        .call([&](const std::string& interface,
                  const std::map<std::string, sdbus::Variant>& changed,
                  const std::vector<std::string>& invalidated) {
            if (interface == kDomain &&
                (changed.count("State") ||
                 std::find(invalidated.begin(), invalidated.end(), "State") != invalidated.end()))
                states.push_back(
                    domain->getProperty("State").onInterface(kDomain).get<std::string>());
        });
    domain->finishRegistration();

    ResctrlLockHolder holder(f.sim.root(), kNobody, kNogroup);
    vm.kill();
    REQUIRE(f.waitFor([&] { return !states.empty(); }));
    CHECK(states.back() == "stopping");
    // Well past LockTimeoutSec=: a cleanup is never given up, and nothing is forgotten meanwhile.
    CHECK_FALSE(f.waitFor([&] { return !f.stopped.empty(); }, std::chrono::milliseconds(1000)));
    CHECK(f.listDomains().size() == 1);
    CHECK(f.groups() == std::set<std::string>{"resctrld-vm1-vcpus_0-1"});

    holder.release();
    REQUIRE(f.waitFor([&] { return !f.stopped.empty(); }));
    CHECK(f.stopped.front().first == "vm1");
    CHECK(f.listDomains().empty());
    CHECK(f.groups().empty());
    CHECK(f.snapshot() == before);
}

TEST_CASE("A daemon that loses the bus exits with a failure status and keeps every group",
          "[e2e][sim][domains][lifecycle]") {
    Fixture f;
    FakeVm& vm = f.spawn(2);
    f.startForProcess(domainXml("vm1", 2, cachetune("0-1", cache(0, 5120) + monitor("0-1"))),
                      vm.pid());
    const std::string before = f.snapshot();
    const auto stateFiles = [&] {
        std::set<std::string> names;
        for (const auto& entry : fs::directory_iterator(f.daemon.stateDir()))
            names.insert(entry.path().filename().string());
        return names;
    };
    const auto stateBefore = stateFiles();
    REQUIRE(stateBefore.size() >= 2); // the domain's record and the instance lock

    REQUIRE(kill(f.bus.pid(), SIGKILL) == 0);
    const auto status = f.daemon.process().waitExit();
    const std::string log = f.daemon.process().stderrText();
    INFO(log);
    REQUIRE(status);
    // EX_UNAVAILABLE, so that systemd's Restart=on-failure brings it back; never a signal.
    CHECK(*status == 69);
    CHECK_THAT(log, Catch::Contains("lost the connection"));
    CHECK(f.snapshot() == before);
    CHECK(stateFiles() == stateBefore);
}

TEST_CASE("A thread id reused between its check and its tasks write is moved back and refused",
          "[e2e][sim][domains][hostile]") {
    Fixture f;
    const auto path = f.start(domainXml("vm1", 2, cachetune("0-1", cache(0, 5120))), {});
    const std::string group = "resctrld-vm1-vcpus_0-1";
    // The thread to attach: a process of its own, whose one thread's id is its pid.
    auto victim = std::make_unique<Process>(std::vector<std::string>{"sleep", "600"}, f.dir.path());
    const pid_t tid = victim->pid();
    f.sim.setControl("faults", "write " + group + "/tasks 1 stall 3000\n");
    std::optional<std::string> outcome;
    f.manager->callMethodAsync("SetVcpuThread")
        .onInterface(kManager)
        .withArguments(std::string("vm1"), std::uint32_t{0}, static_cast<std::uint32_t>(tid))
        .uponReplyInvoke([&](const sdbus::Error* e) { outcome = e ? e->getName() : "ok"; });
    // The daemon checked the thread and is in its stalled tasks write; /proc is the only place
    // that shows it, so this polls.
    REQUIRE(f.waitFor(
        [&] {
            for (const auto& blocked : blockedSyscalls(f.daemon.process().pid()))
                if (blocked.number == 1) // write(2)
                    return true;
            return false;
        },
        std::chrono::milliseconds(2500)));
    victim.reset(); // killed and reaped: its id is free
    const auto squatter = processWithPid(tid, f.dir.path());
    REQUIRE(squatter);
    REQUIRE(f.waitFor([&] { return outcome.has_value(); }));
    f.sim.setControl("faults", "");
    CHECK(*outcome == "org.resctrld1.Error.ProcessNotFound");
    CHECK(f.tasks(group).count(tid) == 0);
    CHECK(f.inRoot(tid));
    CHECK(f.vcpuThreads(path).empty());
    std::cout << "hostile cases: reused-thread-id 1\n";
}

TEST_CASE("A member of AllowedGroups starts and stops domains", "[e2e][sim][domains]") {
    // nogroup is nobody's primary group in the user database.
    Fixture f("skx-2s-l3cat", "", "6.15", "AllowedGroups=nogroup\n");
    const std::string before = f.snapshot();
    // No threads yet: the groups are made, the vCPUs attach later (SetVcpuThread).
    const auto start = callAsUser(f.bus.address(), kNobody, kNogroup, {}, "StartDomain",
                                  domainXml("vm1", 2, cachetune("0-1", cache(0, 5120))));
    INFO(start.errorName << ": " << start.errorMessage);
    CHECK(start.ok);
    CHECK(f.groups() == std::set<std::string>{"resctrld-vm1-vcpus_0-1"});
    CHECK(f.tasks("resctrld-vm1-vcpus_0-1").empty());
    const auto stop = callAsUser(f.bus.address(), kNobody, kNogroup, {}, "StopDomain", "vm1");
    INFO(stop.errorName << ": " << stop.errorMessage);
    CHECK(stop.ok);
    CHECK(f.snapshot() == before);
}
