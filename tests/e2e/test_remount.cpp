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
#include <memory>
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
#include "daemon_fixture.h"
#include "dbus_names.h"
#include "domain_builder.h"
#include "harness.h"

using namespace resctrld::e2e;
namespace simtest = resctrld::simtest;
namespace fs = std::filesystem;

namespace {

using Properties = std::map<std::string, sdbus::Variant>;
using GroupList = std::vector<sdbus::Struct<std::string, std::string>>;
using DomainList = std::vector<sdbus::Struct<std::string, std::string, sdbus::ObjectPath>>;

// resctrlfs-sim mounted with `mountOptions` at `mountPoint` (the fixture's simulator root, once
// that simulator is gone) for as long as it lives; stopped with SIGTERM, which unmounts it, as an
// administrator's umount would. SimInstance cannot serve a mount point it did not make.
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

// A domain's State, read again after each PropertiesChanged the domain's object sends.
class DomainState {
public:
    DomainState(sdbus::IConnection& connection, const sdbus::ObjectPath& path)
        : proxy_(sdbus::createProxy(connection, kService, path)) {
        proxy_->uponSignal("PropertiesChanged")
            .onInterface(kProperties)
            .call([this](const std::string& interface, const Properties&,
                         const std::vector<std::string>&) {
                if (interface != kDomain)
                    return;
                std::lock_guard lock(mutex_);
                ++signals_;
                arrived_.notify_all();
            });
        proxy_->finishRegistration();
    }

    std::string get() {
        return proxy_->getProperty("State").onInterface(kDomain).get<std::string>();
    }

    // Waits until State reads `state`: read at once, then after every change announced.
    bool waitFor(const std::string& state) {
        const auto deadline = Clock::now() + kDeadline;
        for (;;) {
            std::size_t seen = 0;
            {
                std::lock_guard lock(mutex_);
                seen = signals_;
            }
            if (get() == state)
                return true;
            std::unique_lock lock(mutex_);
            if (!arrived_.wait_until(lock, deadline, [&] { return signals_ != seen; }))
                return false;
        }
    }

private:
    std::unique_ptr<sdbus::IProxy> proxy_;
    std::mutex mutex_;
    std::condition_variable arrived_;
    std::size_t signals_ = 0;
};

// The daemon on the simulator, checking every 0.2 s, with the Manager's changes recorded once
// listen() runs the connection's event loop.
struct RemountFixture : DaemonFixture {
    RemountFixture()
        : DaemonFixture({.config = "[Daemon]\nMount=no\nLogLevel=debug\nCheckIntervalSec=0.2\n"})
        , changes(*manager) {}
    ~RemountFixture() {
        if (listening_)
            connection->leaveEventLoop();
    }

    // Runs the connection's event loop, after every signal handler is registered.
    void listen() {
        manager->finishRegistration();
        connection->enterEventLoopAsync();
        listening_ = true;
    }

    sdbus::Variant property(const std::string& name) {
        return manager->getProperty(name).onInterface(kManager);
    }

    std::string domainState(const std::string& name) {
        auto proxy = sdbus::createProxy(*connection, kService, getDomain(*manager, name));
        return proxy->getProperty("State").onInterface(kDomain).get<std::string>();
    }

    // A started domain's State with its changes followed; before listen(). The fixture keeps it
    // until the event loop is left.
    DomainState& watch(const std::string& name) {
        auto& state = watched_[name];
        state = std::make_unique<DomainState>(*connection, getDomain(*manager, name));
        return *state;
    }

    // The monitor groups under the root, as "mon_groups/<name>".
    std::set<std::string> rootMonitorGroups() const {
        std::set<std::string> groups;
        for (const auto& entry : fs::directory_iterator(sim.at("mon_groups")))
            groups.insert("mon_groups/" + entry.path().filename().string());
        return groups;
    }

    ManagerChanges changes;

private:
    std::map<std::string, std::unique_ptr<DomainState>> watched_;
    bool listening_ = false;
};

// 5 MiB (2 ways) of the unsplit L3 of cache 0, which a mount with cdp does not have.
std::string unsplitL3(const std::string& name) {
    return Domain(name).cachetune("0-1", l3(0, 5_MiB) + monitor("0-1"));
}
// Only a monitor, which fits either mount.
std::string monitorOnly(const std::string& name) {
    return Domain(name).cachetune("0-1", monitor("0-1"));
}
// 5 MiB of each half of cache 0's L3, as a mount with cdp splits it.
std::string splitL3(const std::string& name) {
    return Domain(name).cachetune("0-1", l3(0, 5_MiB, "code") + l3(0, 5_MiB, "data"));
}

} // namespace

TEST_CASE("resctrl remounted with cdp is rediscovered and its domains re-adopted",
          "[e2e][sim][remount]") {
    RemountFixture f;
    const fs::path mountPoint = f.sim.root();
    const fs::path& stateDir = f.stateDir;

    FakeHypervisor vm1(FAKE_HYPERVISOR_PATH, f.dir.path(), 2);
    FakeHypervisor vm2(FAKE_HYPERVISOR_PATH, f.dir.path(), 2);
    FakeHypervisor gone(FAKE_HYPERVISOR_PATH, f.dir.path(), 2);
    startDomainForProcess(*f.manager, unsplitL3("vm1"), vm1.pid());
    startDomainForProcess(*f.manager, monitorOnly("vm2"), vm2.pid());
    startDomainForProcess(*f.manager, monitorOnly("gone"), gone.pid());
    DomainState& vm1State = f.watch("vm1");
    f.listen();
    CHECK(f.property("MountOptions").get<std::vector<std::string>>().empty());
    const std::set<std::string> groupsBefore = f.rootMonitorGroups();
    REQUIRE(groupsBefore.size() == 2); // vm2's and gone's monitor groups

    std::size_t seen = 0;
    // The fixture's simulator goes (SIGTERM unmounts it), leaving its mount point and sysfs.
    if (f.sim.stop() != 0)
        umount2(mountPoint.c_str(), MNT_DETACH);
    REQUIRE(f.changes.waitForMounted(false, seen));
    CHECK_FALSE(f.property("Mounted").get<bool>());
    CHECK(f.property("ClosidsTotal").get<uint32_t>() == 0);
    // The records stay: the domains' hypervisors still run.
    CHECK(fs::exists(stateDir / "vm1.domain"));
    CHECK(fs::exists(stateDir / "vm2.domain"));
    // A domain stopped meanwhile (its groups went with the mount) loses its record at once.
    stopDomain(*f.manager, "gone");
    CHECK_FALSE(fs::exists(stateDir / "gone.domain"));

    MountedSim cdp(mountPoint, f.sim.sysfsDir(), f.dir.path(), "cdp");
    const auto mounted = f.changes.waitForMounted(true, seen);
    REQUIRE(mounted);
    // The announcement carries the new mount's values, and the properties agree.
    REQUIRE(mounted->count("MountOptions"));
    CHECK(mounted->at("MountOptions").get<std::vector<std::string>>() ==
          std::vector<std::string>{"cdp"});
    CHECK(f.property("MountOptions").get<std::vector<std::string>>() ==
          std::vector<std::string>{"cdp"});
    REQUIRE(mounted->count("ClosidsTotal"));
    CHECK(mounted->at("ClosidsTotal").get<uint32_t>() ==
          f.property("ClosidsTotal").get<uint32_t>());

    std::string capabilities;
    f.manager->callMethod("GetCapabilities").onInterface(kManager).storeResultsTo(capabilities);
    CHECK_THAT(capabilities, Catch::Contains("type='code'") && Catch::Contains("type='data'"));
    // The L3 banks' controls are split (the banks themselves stay type='both': a unified cache).
    CHECK_THAT(capabilities, !Catch::Contains("type='both' maxAllocs"));

    // What StartDomain would refuse, ValidateDomain refuses too; the split halves are accepted.
    try {
        f.validate(unsplitL3("vm3"));
        FAIL("ValidateDomain accepted type='both' on a mount with cdp");
    } catch (const sdbus::Error& e) {
        CHECK(e.getName() == "org.resctrld1.Error.NotSupported");
    }
    const auto halves = f.validate(splitL3("vm3"));
    REQUIRE(halves.size() == 1);
    CHECK_THAT(halves[0].get<1>(), Catch::Contains("L3CODE:0=") && Catch::Contains("L3DATA:0="));

    // vm2 fits the new mount: its monitor group is back, holding its threads. The repair runs
    // under the resctrl lock after the announcement: waited for on the mount's events (its mkdir
    // in mon_groups, then its writes to the group's tasks file).
    const fs::path vm2Group =
        mountPoint /
        *std::find_if(groupsBefore.begin(), groupsBefore.end(), [](const std::string& group) {
            return group.find("vm2") != std::string::npos;
        });
    const auto holdsVm2 = [&] {
        const auto tasks = simtest::readTasks(vm2Group / "tasks");
        return tasks.count(vm2.tid(0)) && tasks.count(vm2.tid(1));
    };
    REQUIRE((waitForChange(mountPoint / "mon_groups",
                           [&] { return simtest::pathExists(vm2Group / "tasks"); }) &&
             waitForChange(vm2Group / "tasks", holdsVm2)));
    // vm1 does not fit: it is listed, degraded, and keeps its record for the next mount.
    REQUIRE(vm1State.waitFor("degraded"));
    CHECK(f.domainState("vm2") == "active");
    CHECK(fs::exists(stateDir / "vm1.domain"));
    DomainList domains;
    f.manager->callMethod("ListDomains").onInterface(kManager).storeResultsTo(domains);
    CHECK(domains.size() == 2);
    CHECK_THAT(f.daemon->process().stderrText(),
               Catch::Contains("domain vm1 degraded") && Catch::Contains("L3"));
    // No group of vm1 on the new mount: a fresh group would give its threads every way.
    for (const auto& entry : fs::directory_iterator(mountPoint))
        CHECK(entry.path().filename().string().rfind("resctrld-vm1", 0) != 0);

    // What resctrld(8) tells the operator: stop it, and start it with a definition that fits.
    stopDomain(*f.manager, "vm1");
    CHECK_FALSE(fs::exists(stateDir / "vm1.domain"));
    startDomainForProcess(*f.manager, splitL3("vm1"), vm1.pid());
    CHECK(f.domainState("vm1") == "active");
}
