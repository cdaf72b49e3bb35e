// SPDX-License-Identifier: LGPL-2.1-or-later
// The periodic domain check's event-driven parts, end to end: a vCPU thread hot-plugged into a
// running hypervisor is attached from the kernel's process events without waiting for the check
// (and by the check alone when the daemon has no process events), and a thread moved out of its
// group after many quiet checks is still noticed, now that a quiet check reads no tasks file.
// The real resctrld on a private bus over resctrlfs-sim, with fake-hypervisor as QEMU.
#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include <catch2/catch.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include "../sim/conformance/sim_instance.h"
#include "daemon_fixture.h"
#include "domain_builder.h"
#include "harness.h"

using namespace resctrld::e2e;
namespace simtest = resctrld::simtest;
using namespace std::chrono_literals;

namespace {

const std::string kGroup = "resctrld-hot-vcpus_0-3";

// The daemon with `settings` added to its configuration, and a hypervisor with two vCPU threads
// that hot-plugs more.
struct HotplugFixture : DaemonFixture {
    explicit HotplugFixture(const std::string& settings)
        : DaemonFixture(
              {.config = "[Daemon]\nMount=no\nLogLevel=debug\nSampleIntervalSec=0\n" + settings})
        , hypervisor(FAKE_HYPERVISOR_PATH, dir.path(), 2) {}

    // Four vCPUs with one way of cache 0, sent as libvirt's status file: the hypervisor's pid and
    // the two vCPU threads it has now.
    void startDomain() {
        const Domain definition =
            Domain("hot")
                .vcpus(4)
                .cachetune("0-3", l3(0, 2560_KiB))
                .status(hypervisor.pid(), {{0, hypervisor.tid(0)}, {1, hypervisor.tid(1)}});
        resctrld::e2e::startDomain(*manager, definition, {});
    }

    std::set<pid_t> tasks(const std::string& group) const {
        return simtest::readTasks(sim.at(group) / "tasks");
    }

    // Waits for the daemon's log to say `text`: every wait here is on the log file (inotify),
    // never a sleep.
    bool logged(const std::string& text, std::chrono::milliseconds timeout) {
        return daemon->process().waitForStderr(text, timeout);
    }

    std::string log() { return daemon->process().stderrText(); }

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
    HotplugFixture f("CheckIntervalSec=3600\n");
    REQUIRE(f.logged("noticed through the kernel's process events", 10s));
    f.startDomain();
    REQUIRE(f.tasks(kGroup) == std::set<pid_t>{f.hypervisor.tid(0), f.hypervisor.tid(1)});

    const auto started = Clock::now();
    const auto [vcpu, tid] = f.hypervisor.hotplug();
    REQUIRE(vcpu == 2);
    const bool attached = f.logged(attachedLine(vcpu, tid), 5s);
    INFO(f.log());
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
    HotplugFixture f("ThreadEvents=no\nCheckIntervalSec=0.5\n");
    REQUIRE(f.logged("ThreadEvents=no: new vCPU threads are found by the check", 10s));
    f.startDomain();

    const auto [vcpu, tid] = f.hypervisor.hotplug();
    const bool attached = f.logged(attachedLine(vcpu, tid), 5s);
    INFO(f.log());
    REQUIRE(attached);
    CHECK(f.tasks(kGroup).count(tid) == 1);
    CHECK(f.log().find("process events") == std::string::npos);
}

TEST_CASE("A thread moved out of its group after quiet checks is noticed by the next check",
          "[e2e][sim][hotplug]") {
    HotplugFixture f("CheckIntervalSec=0.2\n");
    f.startDomain();
    // Five checks with nothing changing in resctrl: they read one tasks file each at most. Not a
    // synchronisation: the time itself is what is tested (quiet checks before the move).
    const std::string tid = std::to_string(f.hypervisor.tid(1));
    std::this_thread::sleep_for(1s);
    {
        // A foreign tool moves vCPU 1's thread back to the default group.
        std::ofstream tasks(f.sim.at("tasks"));
        tasks << tid << "\n";
    }
    const bool degraded = f.logged("thread " + tid + " of vCPU 1 left group " + kGroup, 5s);
    INFO(f.log());
    CHECK(degraded);
}
