// SPDX-License-Identifier: LGPL-2.1-or-later
// resctrl unmounted and mounted again under a running daemon, with other options: the daemon
// drops what it knew of the old mount, keeps the started domains' records, discovers the new
// mount, re-adopts every domain whose hypervisor lives (recreating its groups, or reporting it
// degraded when it no longer fits) and announces the Manager's new properties. The simulator
// runs on the daemon's resctrl root itself, so its exit is the unmount and a new simulator with
// --mount-options is the new mount, as `umount` and `mount -o cdp` would be on a host.
#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <signal.h>
#include <string>
#include <sys/mount.h>
#include <vector>

#include <catch2/catch.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include "../sim/conformance/sim_instance.h"
#include "dbus_names.h"
#include "harness.h"

using namespace resctrld::e2e;
namespace simtest = resctrld::simtest;
namespace fs = std::filesystem;

namespace {

using Properties = std::map<std::string, sdbus::Variant>;
using GroupList = std::vector<sdbus::Struct<std::string, std::string>>;
using DomainList = std::vector<sdbus::Struct<std::string, std::string, sdbus::ObjectPath>>;

// resctrlfs-sim mounted at `mountPoint` for as long as it lives; stopped with SIGTERM, which
// unmounts it, as an administrator's umount would.
class MountedSim {
public:
    MountedSim(const fs::path& mountPoint, const fs::path& sysfs, const fs::path& dir,
               const std::string& mountOptions)
        : mountPoint_(mountPoint)
        , process_(argv(mountPoint, sysfs, mountOptions), dir, pipedStdout()) {
        // The simulator says when it serves the mount (tests/sim/README.md).
        for (;;) {
            const auto line = process_.readStdoutLine();
            if (!line)
                FAIL("resctrlfs-sim did not get ready: " << process_.stderrText());
            if (line->rfind("resctrlfs-sim: ready", 0) == 0)
                break;
        }
    }
    ~MountedSim() { unmount(); }
    MountedSim(const MountedSim&) = delete;
    MountedSim& operator=(const MountedSim&) = delete;

    void unmount() {
        if (!process_.running())
            return;
        process_.signal(SIGTERM);
        if (process_.waitExit() != 0)
            umount2(mountPoint_.c_str(), MNT_DETACH);
    }

private:
    static Process::Options pipedStdout() {
        Process::Options options;
        options.pipeStdout = true;
        return options;
    }

    static std::vector<std::string> argv(const fs::path& mountPoint, const fs::path& sysfs,
                                         const std::string& mountOptions) {
        std::vector<std::string> args{simtest::simulatorPath().string(),
                                      "--profile",
                                      "skx-2s-l3cat",
                                      "--kernel",
                                      "6.15",
                                      "--sysfs",
                                      sysfs.string()};
        if (!mountOptions.empty())
            args.insert(args.end(), {"--mount-options", mountOptions});
        args.push_back(mountPoint.string());
        return args;
    }

    fs::path mountPoint_;
    Process process_;
};

// The Manager's PropertiesChanged signals, as they arrive.
class ManagerChanges {
public:
    explicit ManagerChanges(sdbus::IProxy& manager) {
        manager.uponSignal("PropertiesChanged")
            .onInterface(kProperties)
            .call([this](const std::string& interface, const Properties& values,
                         const std::vector<std::string>&) {
                if (interface != kManager)
                    return;
                std::lock_guard lock(mutex_);
                changes_.push_back(values);
                arrived_.notify_all();
            });
    }

    // The first change after the `seen` first ones that carries Mounted == `mounted`.
    std::optional<Properties> waitForMounted(bool mounted, std::size_t& seen) {
        std::unique_lock lock(mutex_);
        std::optional<Properties> found;
        arrived_.wait_for(lock, kDeadline, [&] {
            for (; seen < changes_.size() && !found; ++seen)
                if (auto it = changes_[seen].find("Mounted");
                    it != changes_[seen].end() && it->second.get<bool>() == mounted)
                    found = changes_[seen];
            return found.has_value();
        });
        return found;
    }

private:
    std::mutex mutex_;
    std::condition_variable arrived_;
    std::vector<Properties> changes_;
};

std::string domain(const std::string& name, const std::string& cachetune) {
    return "<domain type='kvm'><name>" + name + "</name><vcpu>2</vcpu><cputune>" + cachetune +
           "</cputune></domain>";
}

// 5 MiB (2 ways) of the unsplit L3 of cache 0, which a mount with cdp does not have.
const std::string kUnsplitL3 = "<cachetune vcpus='0-1'><cache id='0' level='3' type='both' "
                               "size='5' unit='MiB'/><monitor level='3' vcpus='0-1'/></cachetune>";
// Only a monitor, which fits either mount.
const std::string kMonitorOnly = "<cachetune vcpus='0-1'><monitor level='3' vcpus='0-1'/>"
                                 "</cachetune>";

} // namespace

TEST_CASE("resctrl remounted with cdp is rediscovered and its domains re-adopted",
          "[e2e][sim][remount]") {
    TempDir dir;
    const fs::path mountPoint = dir.path() / "resctrl";
    const fs::path sysfs = dir.path() / "sysfs";
    fs::create_directories(mountPoint);
    std::optional<MountedSim> sim;
    sim.emplace(mountPoint, sysfs, dir.path(), "");

    PrivateBus bus(dir.path());
    Daemon::Options options;
    options.configText = "[Daemon]\nMount=no\nLogLevel=debug\nCheckIntervalSec=0.2\n";
    options.resctrlRoot = mountPoint;
    options.extraArgs = {"--sysfs-root", sysfs.string()};
    Daemon daemon(bus, dir.path(), options);

    auto connection = sdbus::createSessionBusConnectionWithAddress(bus.address());
    auto manager = sdbus::createProxy(*connection, kService, kRootPath);
    ManagerChanges changes(*manager);
    manager->finishRegistration();
    connection->enterEventLoopAsync();
    auto property = [&](const std::string& name) {
        return manager->getProperty(name).onInterface(kManager);
    };
    auto validate = [&](const std::string& definition) {
        GroupList groups;
        manager->callMethod("ValidateDomain")
            .onInterface(kManager)
            .withArguments(definition)
            .storeResultsTo(groups);
        return groups;
    };
    auto domainState = [&](const std::string& name) {
        auto proxy = sdbus::createProxy(*connection, kService, getDomain(*manager, name));
        return proxy->getProperty("State").onInterface(kDomain).get<std::string>();
    };

    FakeHypervisor vm1(FAKE_HYPERVISOR_PATH, dir.path(), 2);
    FakeHypervisor vm2(FAKE_HYPERVISOR_PATH, dir.path(), 2);
    FakeHypervisor gone(FAKE_HYPERVISOR_PATH, dir.path(), 2);
    startDomainForProcess(*manager, domain("vm1", kUnsplitL3), vm1.pid());
    startDomainForProcess(*manager, domain("vm2", kMonitorOnly), vm2.pid());
    startDomainForProcess(*manager, domain("gone", kMonitorOnly), gone.pid());
    CHECK(property("MountOptions").get<std::vector<std::string>>().empty());
    const std::set<std::string> groupsBefore = [&] {
        std::set<std::string> groups;
        for (const auto& entry : fs::directory_iterator(mountPoint / "mon_groups"))
            groups.insert("mon_groups/" + entry.path().filename().string());
        return groups;
    }();
    REQUIRE(groupsBefore.size() == 2); // vm2's and gone's monitor groups

    std::size_t seen = 0;
    sim->unmount();
    sim.reset();
    REQUIRE(changes.waitForMounted(false, seen));
    CHECK_FALSE(property("Mounted").get<bool>());
    CHECK(property("ClosidsTotal").get<uint32_t>() == 0);
    // The records stay: the domains' hypervisors still run.
    CHECK(fs::exists(daemon.stateDir() / "vm1.domain"));
    CHECK(fs::exists(daemon.stateDir() / "vm2.domain"));
    // A domain stopped meanwhile (its groups went with the mount) loses its record at once.
    stopDomain(*manager, "gone");
    CHECK_FALSE(fs::exists(daemon.stateDir() / "gone.domain"));

    sim.emplace(mountPoint, sysfs, dir.path(), "cdp");
    const auto mounted = changes.waitForMounted(true, seen);
    REQUIRE(mounted);
    // The announcement carries the new mount's values, and the properties agree.
    REQUIRE(mounted->count("MountOptions"));
    CHECK(mounted->at("MountOptions").get<std::vector<std::string>>() ==
          std::vector<std::string>{"cdp"});
    CHECK(property("MountOptions").get<std::vector<std::string>>() ==
          std::vector<std::string>{"cdp"});
    REQUIRE(mounted->count("ClosidsTotal"));
    CHECK(mounted->at("ClosidsTotal").get<uint32_t>() == property("ClosidsTotal").get<uint32_t>());

    std::string capabilities;
    manager->callMethod("GetCapabilities").onInterface(kManager).storeResultsTo(capabilities);
    CHECK_THAT(capabilities, Catch::Contains("type='code'") && Catch::Contains("type='data'"));
    // The L3 banks' controls are split (the banks themselves stay type='both': a unified cache).
    CHECK_THAT(capabilities, !Catch::Contains("type='both' maxAllocs"));

    // What StartDomain would refuse, ValidateDomain refuses too; the split halves are accepted.
    try {
        validate(domain("vm3", kUnsplitL3));
        FAIL("ValidateDomain accepted type='both' on a mount with cdp");
    } catch (const sdbus::Error& e) {
        CHECK(e.getName() == "org.resctrld1.Error.NotSupported");
    }
    const auto halves = validate(domain(
        "vm3", "<cachetune vcpus='0-1'><cache id='0' level='3' type='code' size='5' unit='MiB'/>"
               "<cache id='0' level='3' type='data' size='5' unit='MiB'/></cachetune>"));
    REQUIRE(halves.size() == 1);
    CHECK_THAT(halves[0].get<1>(), Catch::Contains("L3CODE:0=") && Catch::Contains("L3DATA:0="));

    // vm2 fits the new mount: its monitor group is back, holding its threads. The repair runs
    // under the resctrl lock after the announcement; the tree can only be polled.
    const fs::path vm2Group =
        mountPoint /
        *std::find_if(groupsBefore.begin(), groupsBefore.end(), [](const std::string& group) {
            return group.find("vm2") != std::string::npos;
        });
    REQUIRE(simtest::waitUntil([&] {
        return simtest::pathExists(vm2Group / "tasks") &&
               simtest::readTasks(vm2Group / "tasks").count(vm2.tid(0)) &&
               simtest::readTasks(vm2Group / "tasks").count(vm2.tid(1));
    }));
    // vm1 does not fit: it is listed, degraded, and keeps its record for the next mount.
    REQUIRE(simtest::waitUntil([&] { return domainState("vm1") == "degraded"; }));
    CHECK(domainState("vm2") == "active");
    CHECK(fs::exists(daemon.stateDir() / "vm1.domain"));
    DomainList domains;
    manager->callMethod("ListDomains").onInterface(kManager).storeResultsTo(domains);
    CHECK(domains.size() == 2);
    CHECK_THAT(daemon.process().stderrText(),
               Catch::Contains("domain vm1 degraded") && Catch::Contains("L3"));
    // No group of vm1 on the new mount: a fresh group would give its threads every way.
    for (const auto& entry : fs::directory_iterator(mountPoint))
        CHECK(entry.path().filename().string().rfind("resctrld-vm1", 0) != 0);

    // What resctrld(8) tells the operator: stop it, and start it with a definition that fits.
    stopDomain(*manager, "vm1");
    CHECK_FALSE(fs::exists(daemon.stateDir() / "vm1.domain"));
    startDomainForProcess(
        *manager,
        domain("vm1", "<cachetune vcpus='0-1'><cache id='0' level='3' type='code' size='5' "
                      "unit='MiB'/><cache id='0' level='3' type='data' size='5' unit='MiB'/>"
                      "</cachetune>"),
        vm1.pid());
    CHECK(domainState("vm1") == "active");

    connection->leaveEventLoop();
}
