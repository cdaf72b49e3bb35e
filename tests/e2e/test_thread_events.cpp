// SPDX-License-Identifier: LGPL-2.1-or-later
// The periodic domain check's event-driven parts, end to end: a vCPU thread hot-plugged into a
// running hypervisor is attached from the kernel's process events without waiting for the check
// (and by the check alone when the daemon has no process events), and a thread moved out of its
// group after many quiet checks is still noticed, now that a quiet check reads no tasks file.
// The real resctrld on a private bus over resctrlfs-sim, with fake-hypervisor as QEMU.
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <catch2/catch.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include "../sim/conformance/sim_instance.h"
#include "dbus_names.h"
#include "harness.h"

using namespace resctrld::e2e;
using resctrld::simtest::SimInstance;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Four vCPUs with one way of cache 0; the hypervisor starts with two and hot-plugs the rest.
const std::string kDefinition =
    "<domain type='kvm'><name>hot</name><vcpu>4</vcpu><cputune><cachetune vcpus='0-3'>"
    "<cache id='0' level='3' type='both' size='2560' unit='KiB'/></cachetune></cputune></domain>";
const std::string kGroup = "resctrld-hot-vcpus_0-3";

struct Fixture {
    explicit Fixture(const std::string& daemonSettings)
        : sim({"skx-2s-l3cat", "6.15", "", true})
        , bus(dir.path())
        , daemon(bus, dir.path(), options(daemonSettings))
        , connection(sdbus::createSessionBusConnectionWithAddress(bus.address()))
        , manager(sdbus::createProxy(*connection, kService, kRootPath))
        , hypervisor(FAKE_HYPERVISOR_PATH, dir.path(), 2) {}

    Daemon::Options options(const std::string& settings) {
        Daemon::Options options;
        options.configText = "[Daemon]\nMount=no\nLogLevel=debug\nSampleIntervalSec=0\n" + settings;
        options.resctrlRoot = sim.root();
        options.extraArgs = {"--sysfs-root", sim.sysfsDir().string()};
        return options;
    }

    // As libvirt's status file: the hypervisor's pid and the two vCPU threads it has now.
    void startDomain() {
        const std::string status =
            "<domstatus state='running' reason='booted' pid='" + std::to_string(hypervisor.pid()) +
            "'><vcpus><vcpu id='0' pid='" + std::to_string(hypervisor.tid(0)) +
            "'/><vcpu id='1' pid='" + std::to_string(hypervisor.tid(1)) + "'/></vcpus>" +
            kDefinition + "</domstatus>";
        resctrld::e2e::startDomain(*manager, status, {});
    }

    std::set<pid_t> tasks(const std::string& group) const {
        std::istringstream in(resctrld::simtest::readFile(sim.root() / group / "tasks"));
        std::set<pid_t> tids;
        for (pid_t tid; in >> tid;)
            tids.insert(tid);
        return tids;
    }

    // Waits for the daemon's log to say `text`: every wait here is on the log file (inotify),
    // never a sleep.
    bool logged(const std::string& text, std::chrono::milliseconds timeout) {
        return daemon.process().waitForStderr(text, timeout);
    }

    TempDir dir;
    SimInstance sim;
    PrivateBus bus;
    Daemon daemon;
    std::unique_ptr<sdbus::IConnection> connection;
    std::unique_ptr<sdbus::IProxy> manager;
    FakeHypervisor hypervisor;
};

std::string attachedLine(unsigned vcpu, pid_t tid) {
    return "new vCPU " + std::to_string(vcpu) + " thread " + std::to_string(tid) + " attached";
}

} // namespace

TEST_CASE("With process events, a hot-plugged vCPU thread is attached without waiting for the "
          "check",
          "[e2e][sim][hotplug]") {
    // An hour between checks: only the process events can attach the thread within the test.
    Fixture f("CheckIntervalSec=3600\n");
    REQUIRE(f.logged("noticed through the kernel's process events", 10s));
    f.startDomain();
    REQUIRE(f.tasks(kGroup) == std::set<pid_t>{f.hypervisor.tid(0), f.hypervisor.tid(1)});

    const auto started = Clock::now();
    const auto [vcpu, tid] = f.hypervisor.hotplug();
    REQUIRE(vcpu == 2);
    const bool attached = f.logged(attachedLine(vcpu, tid), 5s);
    INFO(f.daemon.process().stderrText());
    REQUIRE(attached);
    CHECK(Clock::now() - started < 5s);
    CHECK(f.tasks(kGroup).count(tid) == 1);

    const auto [vcpu3, tid3] = f.hypervisor.hotplug();
    CHECK(f.logged(attachedLine(vcpu3, tid3), 5s));
    CHECK(f.tasks(kGroup).count(tid3) == 1);
}

TEST_CASE("Without process events, the periodic check still attaches a hot-plugged vCPU thread",
          "[e2e][sim][hotplug]") {
    // ThreadEvents=no takes the path of a daemon the kernel gives no process events (no
    // CAP_NET_ADMIN, as under resctrld.service).
    Fixture f("ThreadEvents=no\nCheckIntervalSec=0.5\n");
    REQUIRE(f.logged("ThreadEvents=no: new vCPU threads are found by the check", 10s));
    f.startDomain();

    const auto [vcpu, tid] = f.hypervisor.hotplug();
    const bool attached = f.logged(attachedLine(vcpu, tid), 5s);
    INFO(f.daemon.process().stderrText());
    REQUIRE(attached);
    CHECK(f.tasks(kGroup).count(tid) == 1);
    CHECK(f.daemon.process().stderrText().find("process events") == std::string::npos);
}

TEST_CASE("A thread moved out of its group after quiet checks is noticed by the next check",
          "[e2e][sim][hotplug]") {
    Fixture f("CheckIntervalSec=0.2\n");
    f.startDomain();
    // Five checks with nothing changing in resctrl: they read one tasks file each at most. Not a
    // synchronisation: the time itself is what is tested (quiet checks before the move).
    const std::string tid = std::to_string(f.hypervisor.tid(1));
    std::this_thread::sleep_for(1s);
    {
        // A foreign tool moves vCPU 1's thread back to the default group.
        std::ofstream tasks(f.sim.root() / "tasks");
        tasks << tid << "\n";
    }
    const bool degraded = f.logged("thread " + tid + " of vCPU 1 left group " + kGroup, 5s);
    INFO(f.daemon.process().stderrText());
    CHECK(degraded);
}
