// SPDX-License-Identifier: LGPL-2.1-or-later
// The fault and crash matrices of UpdateDomain: every filesystem step of a split (rewrite, mkdir,
// schemata, monitor group, thread moves, rmdir of a monitor group, the default group) and of a
// merge (thread moves, rmdir of a group) failed through resctrlfs-sim's `faults` control file,
// with the whole tree and the state directory compared to before; and the daemon killed at each
// of those steps while it stalls, with the restarted daemon showing either the old definition
// or the new one fully applied.
#include <atomic>
#include <thread>

#include "domains_fixture.h"
#include "stall_points.h"

using namespace resctrld::e2e;
using namespace resctrld::e2e::domains;
using namespace std::chrono_literals;

namespace {

const std::string kA = "resctrld-vm1-vcpus_0-1";
const std::string kB = "resctrld-vm1-vcpus_2-3";

Domain vm1() {
    return Domain("vm1").uuid(kUuid).vcpus(4);
}

const std::string kStart =
    vm1().cachetune("0-1", l3(0, 5_MiB) + monitor("1")).cachetune("2-3", l3(0, 5_MiB));
// Grows A, gives it a monitor for vCPU 0 instead of 1, and splits B: B is kept for vCPU 2 and a
// group is created for vCPU 3.
const std::string kSplit = vm1()
                               .cachetune("0-1", l3(0, 10_MiB) + monitor("0"))
                               .cachetune("2", l3(0, 5_MiB))
                               .cachetune("3", l3(0, 2560_KiB));
const std::string kSplitNew = "resctrld-vm1-vcpus_3";
// Merges B into A: A is rewritten for vCPUs 0-3 and B removed.
const std::string kMerge = vm1().cachetune("0-3", l3(0, 5_MiB) + monitor("1"));

struct Step {
    std::string update;
    std::string op;
    std::string path;
};

const std::vector<Step> kSteps = {
    {kSplit, "write", kA + "/schemata"},
    {kSplit, "mkdir", kSplitNew},
    {kSplit, "write", kSplitNew + "/schemata"},
    {kSplit, "mkdir", kA + "/mon_groups/vcpus_0"},
    {kSplit, "write", kA + "/tasks"},
    {kSplit, "write", kA + "/mon_groups/vcpus_0/tasks"},
    {kSplit, "write", kSplitNew + "/tasks"},
    {kSplit, "rmdir", kA + "/mon_groups/vcpus_1"},
    {kSplit, "write", "schemata"},
    {kMerge, "write", kA + "/tasks"},
    {kMerge, "rmdir", kB},
    {kMerge, "write", "schemata"},
};

struct MatrixFixture : Fixture {
    explicit MatrixFixture(const std::string& kernel)
        : Fixture("skx-2s-l3cat", "", kernel) {}

    void update(const std::string& definition) {
        manager->callMethod("UpdateDomain").onInterface(kManager).withArguments(definition);
    }

    std::map<std::string, std::string> stateFiles() const {
        std::map<std::string, std::string> files;
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(stateDir, ec))
            if (entry.is_regular_file() && entry.path().filename() != "resctrld.lock")
                files[entry.path().filename().string()] = readFile(entry.path());
        return files;
    }
};

std::string faultLine(const Step& step, const std::string& fault) {
    return step.op + " " + step.path + " 1 " + fault + "\n";
}

} // namespace

TEST_CASE("UpdateDomain: a kernel error at any step leaves the tree and the record as they were",
          "[e2e][sim][fault][update]") {
    const std::string kernel = GENERATE("6.15", "6.1");
    INFO("kernel " << kernel);
    MatrixFixture f(kernel);
    FakeVm& vm = f.spawn(4);
    f.start(kStart, vm.threadsOf({0, 1, 2, 3}));
    const std::string before = f.snapshot();
    const auto records = f.stateFiles();
    int tried = 0;
    for (const Step& step : kSteps) {
        for (const std::string fault : {"EIO", "EINVAL", "ENOSPC"}) {
            INFO(step.op << " " << step.path << " fails with " << fault);
            f.sim.setControl("faults", faultLine(step, fault));
            const auto error = errorOf([&] { f.update(step.update); });
            f.sim.setControl("faults", "");
            CHECK_FALSE(error.getMessage().empty());
            CHECK(f.snapshot() == before);
            CHECK(f.stateFiles() == records);
            ++tried;
        }
    }
    // The same updates without a fault apply fully, then go back.
    f.update(kSplit);
    CHECK(f.groupOf(vm, 3) == kSplitNew);
    f.update(kStart);
    CHECK(f.snapshot() == before);
    CHECK(f.tasks(kA + "/mon_groups/vcpus_1") == TidSet{vm.tid(1)});
    std::printf("e2e-update-matrix: %s: %d faults\n", kernel.c_str(), tried);
}

TEST_CASE("A daemon killed at any step of UpdateDomain restarts with the old or the new "
          "definition fully applied",
          "[e2e][sim][crash][update]") {
    const std::string kernel = GENERATE("6.15", "6.1");
    INFO("kernel " << kernel);
    MatrixFixture f(kernel);
    FakeVm& vm = f.spawn(4);
    int tried = 0;
    std::vector<std::string> notReached;
    for (const Step& step : kSteps) {
        const std::string what = step.op + " " + step.path;
        INFO("crash point " << what);
        f.start(kStart, vm.threadsOf({0, 1, 2, 3}));
        const std::string old = f.snapshot();
        // The new definition fully applied, as a fresh start of it shows it.
        f.update(step.update);
        const std::string applied = f.snapshot();
        f.update(kStart);
        f.stop("vm1");
        f.start(kStart, vm.threadsOf({0, 1, 2, 3}));
        REQUIRE(f.snapshot() == old);

        f.sim.setControl("faults", faultLine(step, "stall 700"));
        std::atomic<bool> finished = false;
        std::thread call([&] {
            try {
                auto connection = sdbus::createSessionBusConnectionWithAddress(f.bus.address());
                sdbus::createProxy(*connection, kService, kRootPath)
                    ->callMethod("UpdateDomain")
                    .onInterface(kManager)
                    .withArguments(step.update);
            } catch (const sdbus::Error&) {
            }
            finished = true;
        });
        const pid_t daemonPid = f.daemon->process().pid();
        const bool stalled = simtest::waitUntil(
            [&] { return finished || isStalledIn(daemonPid, step.op, f.sim.at(step.path)); }, 5s);
        if (finished || !stalled) {
            call.join();
            f.sim.setControl("faults", "");
            notReached.push_back(what);
            f.stop("vm1");
            continue;
        }
        ++tried;
        f.killDaemon();
        call.join();
        f.sim.setControl("faults", "");
        f.startDaemon();
        f.settle();
        // Recovery runs under the lock after start-up: wait until it settled on one of the two.
        const bool settled =
            f.waitFor([&] { return f.snapshot() == old || f.snapshot() == applied; }, 5s);
        INFO("after the restart:\n" << f.snapshot() << "old:\n" << old << "new:\n" << applied);
        CHECK(settled);
        f.stop("vm1");
        CHECK(f.groups().empty());
    }
    std::string skipped;
    for (const auto& s : notReached)
        skipped += "\n  not reached: " + s;
    WARN("UpdateDomain on " << kernel << ": " << tried << " crash points" << skipped);
    CHECK(notReached.empty());
}
