// SPDX-License-Identifier: LGPL-2.1-or-later
// The fault and crash matrices for the two operations test_daemon_domains.cpp and
// test_daemon_runtime.cpp do not cover: SetVcpuThread and the recovery a restarted daemon runs.
// A real client on a private bus, the real daemon, resctrlfs-sim with its `faults` control file
// (tests/sim/README.md) and fake hypervisor processes (tests/tools/fake-hypervisor).
//
// Every outcome is compared as a full snapshot of the simulator's tree: each group, each control
// group's schemata and, thread by thread, each group's tasks (the default group's only for our
// hypervisors' threads: the machine's other threads come and go).
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <signal.h>
#include <string>
#include <sys/uio.h>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include "../sim/conformance/sim_instance.h"
#include "daemon_fixture.h"
#include "dbus_names.h"
#include "domain_builder.h"
#include "harness.h"
#include "stall_points.h"

using namespace resctrld::e2e;
using resctrld::simtest::SimInstance;
namespace fs = std::filesystem;
namespace simtest = resctrld::simtest;
using namespace std::chrono_literals;

namespace {

// A stall the daemon waits out (well below LockTimeoutSec and the bus's call timeout) and one
// long enough to see the daemon blocked in it and kill it there.
constexpr auto kShortStall = 300ms;
constexpr auto kCrashStall = 700ms;

using Threads = std::vector<sdbus::Struct<std::uint32_t, std::uint32_t>>;
using TidSet = std::set<pid_t>;
// key -> value; an absent key is a value too ("no such group", "thread not in it").
using Snapshot = std::map<std::string, std::string>;

// Totals over every matrix this run executed, printed by the last test case.
int gPairsTried = 0;
int gCrashPointsTried = 0;

class Vm : public FakeHypervisor {
public:
    explicit Vm(const fs::path& dir, unsigned vcpus)
        : FakeHypervisor(FAKE_HYPERVISOR_PATH, dir, vcpus) {}

    // Its threads that are neither the main thread nor named as a vCPU ("IO mon_iothread",
    // "worker"). SetVcpuThread accepts any thread of the hypervisor; these are never attached
    // by the daemon's own hot-plug check, so only the call under test moves them.
    std::vector<pid_t> plainThreads() const {
        std::vector<pid_t> tids;
        for (pid_t tid : taskIds()) {
            bool isVcpu = false;
            for (const auto& [vcpu, vcpuTid] : vcpus())
                isVcpu = isVcpu || vcpuTid == tid;
            if (!isVcpu && tid != pid())
                tids.push_back(tid);
        }
        return tids;
    }
};

int errnoValue(const std::string& name) {
    static const std::map<std::string, int> values{{"ESRCH", ESRCH},   {"EINVAL", EINVAL},
                                                   {"EIO", EIO},       {"EBUSY", EBUSY},
                                                   {"ENOSPC", ENOSPC}, {"ENOENT", ENOENT}};
    return values.at(name);
}

std::optional<std::string> valueOf(const Snapshot& snapshot, const std::string& key) {
    auto it = snapshot.find(key);
    return it == snapshot.end() ? std::nullopt : std::optional<std::string>(it->second);
}

// The entries where two snapshots differ, one line each ("-" for absent), empty when equal.
std::string differences(const Snapshot& expected, const Snapshot& actual) {
    std::set<std::string> keys;
    for (const auto& [key, value] : expected)
        keys.insert(key);
    for (const auto& [key, value] : actual)
        keys.insert(key);
    std::string text;
    for (const auto& key : keys) {
        const auto a = valueOf(expected, key);
        const auto b = valueOf(actual, key);
        if (a != b)
            text +=
                "  " + key + ": expected " + a.value_or("-") + ", found " + b.value_or("-") + "\n";
    }
    return text;
}

// The entries of one domain's groups.
Snapshot partOf(const Snapshot& snapshot, const std::string& stem) {
    Snapshot part;
    for (const auto& [key, value] : snapshot)
        if (key.find(stem) != std::string::npos)
            part.emplace(key, value);
    return part;
}

// Polls (every 10 ms): what these tests wait for is a state of the daemon's threads in /proc (a
// system call blocked on a path, a file held open) or a repair the periodic check makes, which no
// event announces.
bool waitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout = kDeadline) {
    return simtest::waitUntil(pred, timeout);
}

// The fixture (daemon_fixture.h), its daemon restartable on the same state directory. The health
// check that reports a domain degraded runs every CheckIntervalSec: a short one keeps the waits for
// it short. No sampling: nothing reads the tree on its own.
struct Env : DaemonFixture {
    explicit Env(const std::string& kernel)
        : DaemonFixture({.kernel = kernel,
                         .config = "[Daemon]\nMount=no\nSampleIntervalSec=0\nCheckIntervalSec=0.2\n"
                                   "LogLevel=debug\n"}) {}

    std::string log() { return daemon ? daemon->process().stderrText() : std::string(); }

    Vm& spawn(unsigned vcpus) {
        vms.push_back(std::make_unique<Vm>(dir.path(), vcpus));
        return *vms.back();
    }

    std::unique_ptr<sdbus::IProxy> proxy(const std::string& path) {
        return sdbus::createProxy(*connection, kService, path);
    }

    sdbus::ObjectPath start(const std::string& definition, const Threads& threads) {
        return startDomain(*proxy(kRootPath), definition, threads);
    }
    void stop(const std::string& name) { stopDomain(*proxy(kRootPath), name); }

    void setVcpuThread(const std::string& name, unsigned vcpu, pid_t tid) {
        proxy(kRootPath)
            ->callMethod("SetVcpuThread")
            .onInterface(kManager)
            .withArguments(name, static_cast<std::uint32_t>(vcpu), static_cast<std::uint32_t>(tid));
    }

    std::set<std::string> listDomains() {
        std::vector<sdbus::Struct<std::string, std::string, sdbus::ObjectPath>> list;
        proxy(kRootPath)->callMethod("ListDomains").onInterface(kManager).storeResultsTo(list);
        std::set<std::string> names;
        for (const auto& entry : list)
            names.insert(entry.get<0>());
        return names;
    }

    std::string domainPath(const std::string& name) { return getDomain(*proxy(kRootPath), name); }

    std::string state(const std::string& name) {
        return proxy(domainPath(name))
            ->getProperty("State")
            .onInterface(kDomain)
            .get<std::string>();
    }

    // vCPU -> tid, as the domain's record (VcpuThreads) holds them.
    std::map<unsigned, pid_t> vcpuThreads(const std::string& name) {
        std::map<unsigned, pid_t> threads;
        for (const auto& t : proxy(domainPath(name))
                                 ->getProperty("VcpuThreads")
                                 .onInterface(kDomain)
                                 .get<Threads>())
            threads[t.get<0>()] = static_cast<pid_t>(t.get<1>());
        return threads;
    }

    TidSet tasks(const std::string& group = "") const {
        return simtest::readTasks(group.empty() ? sim.at("tasks") : sim.at(group) / "tasks");
    }

    std::set<std::string> groups() const { return sim.groups(); }

    // The full tree as far as resctrl's state goes: "<group>/" for each group, "<group>/schemata"
    // for each control group (the default group as ""), "<group>/tasks <tid>" for each thread in
    // it (in the default group: only our hypervisors' threads).
    Snapshot snapshot() const {
        TidSet ours;
        for (const auto& vm : vms)
            ours.merge(vm->taskIds());
        Snapshot entries;
        entries["/schemata"] = simtest::readFile(sim.at("schemata"));
        for (pid_t tid : tasks())
            if (ours.count(tid))
                entries["/tasks " + std::to_string(tid)] = "in";
        for (const auto& group : groups()) {
            entries[group + "/"] = "exists";
            for (pid_t tid : tasks(group))
                entries[group + "/tasks " + std::to_string(tid)] = "in";
            if (group.find("mon_groups/") == std::string::npos)
                entries[group + "/schemata"] = simtest::readFile(sim.at(group) / "schemata");
        }
        return entries;
    }

    // Whether the daemon holds each group's tasks file open: the health check opens them once
    // and keeps them; until it did, an `open` fault could be taken by the check instead.
    bool holdsTasksFiles(const std::vector<std::string>& groups) {
        std::set<std::string> held;
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(
                 "/proc/" + std::to_string(daemon->process().pid()) + "/fd", ec)) {
            std::error_code linkError;
            held.insert(fs::read_symlink(entry.path(), linkError).string());
        }
        return std::all_of(groups.begin(), groups.end(), [&](const std::string& group) {
            return held.count((sim.at(group) / "tasks").string()) == 1;
        });
    }

    std::vector<std::unique_ptr<Vm>> vms;
};

// The D-Bus error a call ends with; a failed check when it succeeds.
std::optional<sdbus::Error> errorOf(const std::function<void()>& call) {
    try {
        call();
    } catch (const sdbus::Error& e) {
        return e;
    }
    return std::nullopt;
}

// The error name and message docs/api.md gives a failed write of `errnoName`: KernelRejected with
// the errno text; ESRCH (the thread exited) may be ProcessNotFound, ENOSPC NoSpace.
void checkError(const sdbus::Error& error, const std::string& errnoName) {
    INFO(error.getName() << ": " << error.getMessage());
    const std::string& name = error.getName();
    if (errnoName == "ESRCH")
        CHECK((name == "org.resctrld1.Error.KernelRejected" ||
               name == "org.resctrld1.Error.ProcessNotFound"));
    else if (errnoName == "ENOSPC")
        CHECK((name == "org.resctrld1.Error.KernelRejected" ||
               name == "org.resctrld1.Error.NoSpace"));
    else
        CHECK(name == "org.resctrld1.Error.KernelRejected");
    CHECK_FALSE(error.getMessage().empty());
    if (name == "org.resctrld1.Error.KernelRejected")
        CHECK_THAT(error.getMessage(), Catch::Contains(std::strerror(errnoValue(errnoName))));
}

std::string faultLine(const std::string& op, const std::string& glob, const std::string& fault,
                      std::chrono::milliseconds stall = kShortStall) {
    return op + " " + glob + " 1 " +
           (fault == "stall" ? "stall " + std::to_string(stall.count()) : fault) + "\n";
}

// --- the SetVcpuThread domain ----------------------------------------------------------------
// vCPUs 0-2 share an allocation group with a monitor group for vCPU 2; vCPU 3 has a monitor-only
// group under the root. Attaching vCPU 2 writes two tasks files, vCPU 3 one.
const std::string kAttachDomain = Domain("vm1")
                                      .vcpus(4)
                                      .cachetune("0-2", l3(0, 5_MiB) + monitor("2"))
                                      .cachetune("3", monitor("3"));
const std::string kAttachAlloc = "resctrld-vm1-vcpus_0-2";
const std::string kAttachAllocMon = kAttachAlloc + "/mon_groups/vcpus_2";
const std::string kAttachMon = "mon_groups/resctrld-vm1-vcpus_3";

struct AttachStep {
    unsigned vcpu;
    std::string op;
    std::string group; // whose tasks file
};

const std::vector<AttachStep> kAttachSteps{
    {2, "open", kAttachAlloc},     {2, "write", kAttachAlloc}, {2, "open", kAttachAllocMon},
    {2, "write", kAttachAllocMon}, {3, "open", kAttachMon},    {3, "write", kAttachMon},
};

// The groups a vCPU of kAttachDomain belongs to.
std::vector<std::string> attachGroupsOf(unsigned vcpu) {
    if (vcpu <= 1)
        return {kAttachAlloc};
    if (vcpu == 2)
        return {kAttachAlloc, kAttachAllocMon};
    return {kAttachMon};
}

// --- the recovery domain ---------------------------------------------------------------------
// vCPUs 0-1 in an allocation group with a monitor group for vCPU 0, vCPUs 2-3 in a
// monitor-only group.
const std::string kRecoverDomain = Domain("vm1")
                                       .vcpus(4)
                                       .cachetune("0-1", l3(0, 5_MiB) + monitor("0"))
                                       .cachetune("2-3", monitor("2-3"));
const std::string kAlloc = "resctrld-vm1-vcpus_0-1";
const std::string kAllocMon = kAlloc + "/mon_groups/vcpus_0";
const std::string kMon = "mon_groups/resctrld-vm1-vcpus_2-3";
const std::string kStrayCtrl = "resctrld-gone-vcpus_0";
const std::string kStrayMon = "mon_groups/resctrld-gone-vcpus_1";

// What a restart must repair, done while the daemon is down.
enum class Damage { AllocationRemoved, SchemataReset, ThreadMovedOut, MonitorRemoved, Strays };

std::string describe(Damage damage) {
    switch (damage) {
    case Damage::AllocationRemoved:
        return "allocation group removed";
    case Damage::SchemataReset:
        return "allocation group's schemata reset to the default";
    case Damage::ThreadMovedOut:
        return "vCPU 0's thread moved to the default group";
    case Damage::MonitorRemoved:
        return "monitor-only group removed";
    case Damage::Strays:
        return "stray groups with the prefix";
    }
    return "?";
}

void inflict(Env& env, Damage damage, const Vm& vm) {
    switch (damage) {
    case Damage::AllocationRemoved:
        // Its monitor group goes with it; its threads return to the default group.
        REQUIRE(simtest::removeDir(env.sim.at(kAlloc)) == 0);
        break;
    case Damage::SchemataReset:
        // What a fresh group holds (a crash between mkdir and the schemata write, a hand edit).
        REQUIRE(simtest::writeFile(env.sim.at(kAlloc) / "schemata", "L3:0=7ff;1=7ff\n") == 0);
        break;
    case Damage::ThreadMovedOut:
        REQUIRE(simtest::writeFile(env.sim.at("tasks"), std::to_string(vm.tid(0))) == 0);
        break;
    case Damage::MonitorRemoved:
        REQUIRE(simtest::removeDir(env.sim.at(kMon)) == 0);
        break;
    case Damage::Strays:
        REQUIRE(simtest::makeDir(env.sim.at(kStrayCtrl)) == 0);
        REQUIRE(simtest::makeDir(env.sim.at(kStrayMon)) == 0);
        break;
    }
}

struct RecoveryStep {
    Damage damage;
    std::string op;
    std::string path; // relative to the root, as the fault's glob
    std::vector<std::string> faults;
};

// Each operation a restart performs to repair the damage, with the failures it can meet.
const std::vector<RecoveryStep> kRecoverySteps{
    {Damage::AllocationRemoved, "mkdir", kAlloc, {"ENOSPC", "EBUSY", "EIO", "stall"}},
    {Damage::AllocationRemoved, "write", kAlloc + "/schemata", {"EINVAL", "EIO", "stall"}},
    {Damage::AllocationRemoved, "mkdir", kAllocMon, {"ENOSPC", "EBUSY", "EIO", "stall"}},
    {Damage::AllocationRemoved, "write", kAlloc + "/tasks", {"ESRCH", "EINVAL", "EIO", "stall"}},
    {Damage::AllocationRemoved, "write", kAllocMon + "/tasks", {"ESRCH", "EIO", "stall"}},
    {Damage::SchemataReset, "write", kAlloc + "/schemata", {"EINVAL", "EIO", "EBUSY", "stall"}},
    {Damage::ThreadMovedOut, "write", kAlloc + "/tasks", {"ESRCH", "EINVAL", "EIO", "stall"}},
    {Damage::ThreadMovedOut, "write", kAllocMon + "/tasks", {"ESRCH", "EIO", "stall"}},
    {Damage::MonitorRemoved, "mkdir", kMon, {"ENOSPC", "EBUSY", "EIO", "stall"}},
    {Damage::MonitorRemoved, "write", kMon + "/tasks", {"ESRCH", "EIO", "stall"}},
    {Damage::Strays, "rmdir", kStrayCtrl, {"EBUSY", "EIO", "stall"}},
    {Damage::Strays, "rmdir", kStrayMon, {"EBUSY", "EIO", "stall"}},
};

} // namespace

// --- 1. SetVcpuThread: fault matrix ------------------------------------------------------------

TEST_CASE("SetVcpuThread: a kernel error at any step leaves resctrl and the state directory as "
          "they were",
          "[e2e][sim][fault]") {
    // 6.1 takes one id per tasks write and pads schemata values (tests/sim/README.md).
    const std::string kernel = GENERATE("6.15", "6.1");
    INFO("kernel " << kernel);
    Env env(kernel);
    Vm& vm = env.spawn(2);
    env.start(kAttachDomain, vm.threadsOf({0, 1}));
    REQUIRE(env.groups() == std::set<std::string>{kAttachAlloc, kAttachAllocMon, kAttachMon});
    INFO("waiting for the health check to hold the groups' tasks files open");
    REQUIRE(waitUntil([&] {
        return env.holdsTasksFiles({kAttachAlloc, kAttachAllocMon, kAttachMon});
    }));
    const auto plain = vm.plainThreads();
    REQUIRE(plain.size() >= 2);
    // The thread each vCPU gets: not in any of the domain's groups yet.
    const std::map<unsigned, pid_t> target{{2, plain[0]}, {3, plain[1]}};

    const Snapshot before = env.snapshot();
    const auto stateBefore = env.stateDirFiles();
    const auto threadsBefore = env.vcpuThreads("vm1");
    REQUIRE(stateBefore.size() >= 1);
    int tried = 0;
    for (const AttachStep& step : kAttachSteps) {
        // ENOENT: the group's file vanished under the daemon (opens only); ESRCH: the thread
        // exited (writes only).
        const std::vector<std::string> errnos =
            step.op == "open"
                ? std::vector<std::string>{"ENOENT", "EIO", "EBUSY"}
                : std::vector<std::string>{"ESRCH", "EINVAL", "EIO", "EBUSY", "ENOSPC"};
        for (const std::string& errnoName : errnos) {
            const std::string glob = step.group + "/tasks";
            INFO("vCPU " << step.vcpu << ": " << step.op << " " << glob << " fails " << errnoName);
            env.sim.setControl("faults", faultLine(step.op, glob, errnoName));
            const auto error =
                errorOf([&] { env.setVcpuThread("vm1", step.vcpu, target.at(step.vcpu)); });
            env.sim.setControl("faults", "");
            ++tried;
            if (!error) {
                FAIL_CHECK("SetVcpuThread succeeded despite the fault");
                continue;
            }
            checkError(*error, errnoName);
            const Snapshot after = env.snapshot();
            INFO("the tree differs from before the call:\n" << differences(before, after));
            CHECK(after == before);
            CHECK(env.stateDirFiles() == stateBefore);
            CHECK(env.vcpuThreads("vm1") == threadsBefore);
            if (after != before) {
                // Put the thread back where it was, so the next pair starts from the same tree.
                REQUIRE(simtest::writeFile(env.sim.at("tasks"),
                                           std::to_string(target.at(step.vcpu))) == 0);
                REQUIRE(differences(before, env.snapshot()) == "");
            }
        }
    }

    // A stall shorter than every timeout: the call waits it out and succeeds, fully.
    for (const AttachStep& step : kAttachSteps) {
        const std::string glob = step.group + "/tasks";
        INFO("vCPU " << step.vcpu << ": " << step.op << " " << glob << " stalls");
        env.sim.setControl("faults", faultLine(step.op, glob, "stall"));
        const auto begin = Clock::now();
        const auto error =
            errorOf([&] { env.setVcpuThread("vm1", step.vcpu, target.at(step.vcpu)); });
        const auto took = Clock::now() - begin;
        env.sim.setControl("faults", "");
        ++tried;
        INFO((error ? error->getName() + ": " + error->getMessage() : std::string("succeeded")));
        CHECK_FALSE(error);
        // The stall hit the operation (the glob named a file the call writes).
        CHECK(took >= kShortStall - 50ms);
        for (const std::string& group : attachGroupsOf(step.vcpu))
            CHECK(env.tasks(group).count(target.at(step.vcpu)) == 1);
        CHECK(env.vcpuThreads("vm1").at(step.vcpu) == target.at(step.vcpu));
        CHECK(env.state("vm1") == "active");
    }
    gPairsTried += tried;
    std::printf("e2e-fault-matrix: SetVcpuThread on %s: %d (operation, fault) pairs\n",
                kernel.c_str(), tried);

    // The daemon still works: the domain stops cleanly and every group goes.
    env.stop("vm1");
    CHECK(env.groups().empty());
}

// --- 2. restart recovery: fault matrix -------------------------------------------------------

// The invariant, precisely. S0 is the tree with the domain fully applied, S1 the tree after the
// damage, S2 the tree after a restart whose repairing operation failed. Every entry of S2 (each
// group's existence, each control group's schemata, each thread's membership of each group) has
// its value from S0 (repaired) or from S1 (left as the damage left it), never a third one: no
// group that was in neither tree, no group created half-way (created by the restart, its
// schemata must be S0's), no thread moved anywhere but back to where it was, the default group
// as it was before or after the damage. The domain is "active" exactly when its entries all
// equal S0's, "degraded" otherwise, and its state record is untouched. A restart without the
// fault then restores S0 exactly.
TEST_CASE("Restart recovery: a kernel error while repairing leaves every group complete or "
          "absent, the domain degraded, and the next restart repairs it",
          "[e2e][sim][fault][restart]") {
    // 6.1 takes one id per tasks write and pads schemata values (tests/sim/README.md).
    const std::string kernel = GENERATE("6.15", "6.1");
    INFO("kernel " << kernel);
    Env env(kernel);
    Vm& vm = env.spawn(4);
    env.start(kRecoverDomain, vm.threadsOf({0, 1, 2, 3}));
    const Snapshot s0 = env.snapshot();
    REQUIRE(env.groups() == std::set<std::string>{kAlloc, kAllocMon, kMon});
    const auto state0 = env.stateDirFiles();
    // A plain kill -9 and restart changes nothing (the baseline every pair relies on).
    env.killDaemon();
    env.startDaemon();
    REQUIRE(differences(s0, env.snapshot()) == "");
    REQUIRE(env.stateDirFiles() == state0);

    int tried = 0;
    for (const RecoveryStep& step : kRecoverySteps) {
        for (const std::string& fault : step.faults) {
            INFO(describe(step.damage) << "; " << step.op << " " << step.path << ": " << fault);
            env.killDaemon();
            inflict(env, step.damage, vm);
            const Snapshot s1 = env.snapshot();
            REQUIRE(s1 != s0);
            env.sim.setControl("faults", faultLine(step.op, step.path, fault));
            const auto begin = Clock::now();
            // It must start and serve whatever it could not repair.
            env.startDaemon();
            const auto took = Clock::now() - begin;
            env.sim.setControl("faults", "");
            ++tried;
            INFO(env.log());
            const Snapshot s2 = env.snapshot();
            CHECK(env.listDomains() == std::set<std::string>{"vm1"});

            std::set<std::string> keys;
            for (const auto* s : {&s0, &s1, &s2})
                for (const auto& [key, value] : *s)
                    keys.insert(key);
            std::string thirdValues;
            for (const auto& key : keys) {
                const auto v = valueOf(s2, key);
                if (v != valueOf(s0, key) && v != valueOf(s1, key))
                    thirdValues += "  " + key + ": " + v.value_or("-") + " (before the damage " +
                                   valueOf(s0, key).value_or("-") + ", after it " +
                                   valueOf(s1, key).value_or("-") + ")\n";
            }
            INFO("entries neither repaired nor left as the damage left them:\n" << thirdValues);
            CHECK(thirdValues == "");
            CHECK(env.stateDirFiles() == state0);

            const std::string unrepaired =
                differences(partOf(s0, "resctrld-vm1-"), partOf(s2, "resctrld-vm1-"));
            INFO("the domain's entries that differ from before the damage:\n" << unrepaired);
            if (fault == "stall") {
                CHECK(took >= kShortStall - 50ms);
                CHECK(differences(s0, s2) == "");
                CHECK(env.state("vm1") == "active");
                continue;
            }
            // The fault hit an operation of the repair (else this pair tests nothing): the daemon
            // said what it could not do.
            CHECK_THAT(env.log(), Catch::Contains("recovery: ") ||
                                      Catch::Contains("cannot remove stray group"));
            // What failed is tried again by the periodic check until it succeeds: the domain
            // ends whole and active without a restart.
            const bool repaired = waitUntil(
                [&] {
                    try {
                        return differences(s0, env.snapshot()) == "" &&
                               env.state("vm1") == "active";
                    } catch (const std::exception&) {
                        return false; // a group went while the snapshot read it
                    }
                },
                5s);
            CHECK(repaired);

            // A later restart without the fault repairs everything.
            env.killDaemon();
            env.startDaemon();
            INFO("after a restart without the fault:\n" << env.log());
            const Snapshot s3 = env.snapshot();
            INFO("differences from before the damage:\n" << differences(s0, s3));
            CHECK(s3 == s0);
            CHECK(env.state("vm1") == "active");
            CHECK(env.stateDirFiles() == state0);
            if (s3 != s0) {
                // Put the tree back by hand so the next pair starts from S0.
                env.stop("vm1");
                env.start(kRecoverDomain, vm.threadsOf({0, 1, 2, 3}));
                REQUIRE(differences(s0, env.snapshot()) == "");
            }
        }
    }
    gPairsTried += tried;
    std::printf("e2e-fault-matrix: restart recovery on %s: %d (operation, fault) pairs\n",
                kernel.c_str(), tried);
    env.stop("vm1");
    CHECK(env.groups().empty());
}

// --- 3. crash matrix ---------------------------------------------------------------------------

// After a crash during SetVcpuThread and a restart: the domain is there and fully applied, no
// group is missing, leaked or half-configured, and the state directory agrees with the tree:
// every group of the domain holds exactly the recorded threads of its vCPUs (a thread the record
// does not list is in none of them; one it lists is in all of them).
TEST_CASE("A daemon killed at any stall point of SetVcpuThread leaves the thread attached and "
          "recorded, or neither",
          "[e2e][sim][crash]") {
    // 6.1 takes one id per tasks write and pads schemata values (tests/sim/README.md).
    const std::string kernel = GENERATE("6.15", "6.1");
    INFO("kernel " << kernel);
    Env env(kernel);
    Vm& vm = env.spawn(2);
    const auto plain = vm.plainThreads();
    REQUIRE(plain.size() >= 2);
    const std::map<unsigned, pid_t> target{{2, plain[0]}, {3, plain[1]}};
    int tried = 0;
    std::vector<std::string> notReached;
    for (const AttachStep& step : kAttachSteps) {
        const std::string glob = step.group + "/tasks";
        const std::string what = "vCPU " + std::to_string(step.vcpu) + ": " + step.op + " " + glob;
        INFO("crash point " << what);
        env.start(kAttachDomain, vm.threadsOf({0, 1}));
        const Snapshot s0 = env.snapshot();
        REQUIRE(waitUntil([&] {
            return env.holdsTasksFiles({kAttachAlloc, kAttachAllocMon, kAttachMon});
        }));
        const CrashAttempt attempt =
            crashAt(env, step.op, glob, kCrashStall, [&](sdbus::IProxy& manager) {
                manager.callMethod("SetVcpuThread")
                    .onInterface(kManager)
                    .withArguments(std::string("vm1"), static_cast<std::uint32_t>(step.vcpu),
                                   static_cast<std::uint32_t>(target.at(step.vcpu)));
            });
        if (!attempt.killed) {
            notReached.push_back(what +
                                 (attempt.callError.empty() ? "" : " (" + attempt.callError + ")"));
            env.stop("vm1");
            continue;
        }
        ++tried;
        INFO(env.log());

        CHECK(env.listDomains() == std::set<std::string>{"vm1"});
        CHECK(env.state("vm1") == "active");
        CHECK(env.groups() == std::set<std::string>{kAttachAlloc, kAttachAllocMon, kAttachMon});
        CHECK(simtest::readFile(env.sim.at(kAttachAlloc) / "schemata") ==
              s0.at(kAttachAlloc + "/schemata"));
        CHECK(env.stateDirFiles().size() >= 1);
        const auto recorded = env.vcpuThreads("vm1");
        const TidSet ours = vm.taskIds();
        for (const std::string& group : {kAttachAlloc, kAttachAllocMon, kAttachMon}) {
            TidSet expected;
            for (const auto& [vcpu, tid] : recorded) {
                const auto groups = attachGroupsOf(vcpu);
                if (std::find(groups.begin(), groups.end(), group) != groups.end())
                    expected.insert(tid);
            }
            TidSet found;
            for (pid_t tid : env.tasks(group))
                if (ours.count(tid))
                    found.insert(tid);
            INFO("group " << group << "; vCPU " << step.vcpu
                          << "'s thread recorded: " << (recorded.count(step.vcpu) ? "yes" : "no"));
            CHECK(found == expected);
        }
        env.stop("vm1");
        CHECK(env.groups().empty());
    }
    gCrashPointsTried += tried;
    WARN("SetVcpuThread on " << kernel << ": " << tried << " crash points"
                             << listNotReached(notReached));
    std::printf("e2e-fault-matrix: SetVcpuThread on %s: %d crash points\n", kernel.c_str(), tried);
    CHECK(notReached.empty());
}

// After a crash during recovery and a restart without the stall: everything repaired (the tree
// exactly as before the damage), the domain active, its record untouched, strays gone.
TEST_CASE("A daemon killed at any stall point of its recovery repairs everything on the next "
          "restart",
          "[e2e][sim][crash][restart]") {
    // 6.1 takes one id per tasks write and pads schemata values (tests/sim/README.md).
    const std::string kernel = GENERATE("6.15", "6.1");
    INFO("kernel " << kernel);
    Env env(kernel);
    Vm& vm = env.spawn(4);
    env.start(kRecoverDomain, vm.threadsOf({0, 1, 2, 3}));
    const Snapshot s0 = env.snapshot();
    const auto state0 = env.stateDirFiles();
    int tried = 0;
    std::vector<std::string> notReached;
    for (const RecoveryStep& step : kRecoverySteps) {
        const std::string what = describe(step.damage) + "; " + step.op + " " + step.path;
        INFO("crash point " << what);
        env.killDaemon();
        inflict(env, step.damage, vm);
        env.sim.setControl("faults", faultLine(step.op, step.path, "stall", kCrashStall));
        env.startDaemon(false);
        const pid_t daemonPid = env.daemon->process().pid();
        const bool stalled =
            waitUntil([&] { return isStalledIn(daemonPid, step.op, env.sim.at(step.path)); }, 5s);
        if (!stalled) {
            notReached.push_back(what);
            env.sim.setControl("faults", "");
        } else {
            ++tried;
        }
        env.killDaemon();
        env.sim.setControl("faults", "");
        env.startDaemon();
        INFO(env.log());
        const Snapshot s1 = env.snapshot();
        INFO("differences from before the damage:\n" << differences(s0, s1));
        CHECK(s1 == s0);
        CHECK(env.listDomains() == std::set<std::string>{"vm1"});
        CHECK(env.state("vm1") == "active");
        CHECK(env.stateDirFiles() == state0);
        if (s1 != s0) {
            env.stop("vm1");
            env.start(kRecoverDomain, vm.threadsOf({0, 1, 2, 3}));
            REQUIRE(differences(s0, env.snapshot()) == "");
        }
    }
    gCrashPointsTried += tried;
    WARN("restart recovery on " << kernel << ": " << tried << " crash points"
                                << listNotReached(notReached));
    std::printf("e2e-fault-matrix: restart recovery on %s: %d crash points\n", kernel.c_str(),
                tried);
    CHECK(notReached.empty());
}

// Declared last: Catch runs test cases in declaration order, so this sees every matrix of the run.
TEST_CASE("The matrices' totals", "[e2e][sim][fault][crash]") {
    std::printf("e2e-fault-matrix: %d (operation, fault) pairs tried\n", gPairsTried);
    std::printf("e2e-fault-matrix: %d crash points tried\n", gCrashPointsTried);
    std::fflush(stdout);
    WARN("e2e-fault-matrix: " << gPairsTried << " (operation, fault) pairs tried");
    WARN("e2e-fault-matrix: " << gCrashPointsTried << " crash points tried");
}
