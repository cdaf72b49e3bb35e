// SPDX-License-Identifier: LGPL-2.1-or-later
// docs/kernel.md §10 behaviours 11-13: tasks writes and reads, cpus/cpus_list.
#include <cerrno>
#include <fcntl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "test_support.h"
#include "test_thread.h"

using namespace resctrld::simtest;

namespace {
std::string num(pid_t tid) {
    return std::to_string(tid);
}
} // namespace

TEST_CASE("b11: tasks writes move single threads, with the kernel's errors", "[sim][tasks][b11]") {
    const SimOptions opt = GENERATE(from_range(l3Flavours()));
    INFO(opt.describe());
    SimInstance sim(opt);
    const bool old = isOldKernel(opt);
    TestThread a, b, c;
    REQUIRE(makeDir(sim.at("g1")) == 0);
    REQUIRE(makeDir(sim.at("g2")) == 0);
    REQUIRE(makeDir(sim.at("g2/mon_groups/m")) == 0);
    const auto g1 = sim.at("g1/tasks");

    // One TID, with or without newline; already there is fine; base-0 parsing (§5.1).
    CHECK(writeFile(g1, num(a.tid())) == 0);
    CHECK_STATUS(sim, "ok\n");
    CHECK(writeFile(g1, num(a.tid()) + "\n") == 0);
    CHECK(readTasks(g1) == std::set<pid_t>{a.tid()});
    CHECK(writeFile(g1, "0x" + hex(static_cast<uint64_t>(b.tid())) + "\n") == 0);
    char octal[32];
    std::snprintf(octal, sizeof octal, "0%o\n", static_cast<unsigned>(c.tid()));
    CHECK(writeFile(sim.at("g2/tasks"), octal) == 0);
    CHECK(readTasks(g1) == std::set<pid_t>{a.tid(), b.tid()});
    CHECK(readTasks(sim.at("g2/tasks")) == std::set<pid_t>{c.tid()});
    // Writing the process's main thread moves only that thread, not the others.
    CHECK_FALSE(readTasks(g1).count(::getpid()));

    // PID 0 moves the writing thread itself.
    pid_t writer = 0;
    int writeErr = -1;
    bool writerInG2 = false;
    std::thread([&] {
        writer = currentTid();
        writeErr = writeFile(sim.at("g2/tasks"), "0\n");
        writerInG2 = readTasks(sim.at("g2/tasks")).count(writer) == 1;
    }).join();
    CHECK(writeErr == 0);
    CHECK(writerInG2);
    CHECK_FALSE(readTasks(sim.at("g2/tasks")).count(::getpid()));

    // No such task: ESRCH, two lines on >= 6.7, one line before.
    const pid_t gone = unusedTid();
    CHECK(writeFile(g1, num(gone) + "\n") == ESRCH);
    CHECK_STATUS(sim, old ? "No task " + num(gone) + "\n"
                          : "No task " + num(gone) + "\nError while processing task " + num(gone) +
                                "\n");

    // MON group: the task must already have the parent's CLOSID.
    CHECK(writeFile(sim.at("g2/mon_groups/m/tasks"), num(a.tid())) == EINVAL);
    CHECK_STATUS(sim, old ? "Can't move task to different control group\n"
                          : "Can't move task to different control group\nError while "
                            "processing task " +
                                num(a.tid()) + "\n");
    CHECK(writeFile(sim.at("g2/mon_groups/m/tasks"), num(c.tid())) == 0);
    CHECK(readTasks(sim.at("g2/mon_groups/m/tasks")) == std::set<pid_t>{c.tid()});

    if (old) {
        // < 6.7: one integer per write; anything else fails before the status is cleared.
        provokeStatus(sim);
        CHECK(writeFile(g1, num(c.tid()) + "," + num(a.tid()) + "\n") == EINVAL);
        CHECK(writeFile(g1, "abc\n") == EINVAL);
        CHECK(writeFile(g1, "-5\n") == EINVAL);
        CHECK_STATUS(sim, kProvokedStatus);
        CHECK(readTasks(g1) == std::set<pid_t>{a.tid(), b.tid()});
    } else {
        CHECK(writeFile(g1, "abc\n") == EINVAL);
        CHECK_STATUS(sim, "Task list parsing error pid abc\n");
        CHECK(writeFile(g1, "-5\n") == EINVAL);
        CHECK_STATUS(sim, "Invalid pid -5\n");
        // Comma lists, trimmed pieces, sequential with no rollback (§5.1).
        REQUIRE(writeFile(sim.at("tasks"), num(a.tid())) == 0);
        REQUIRE(writeFile(sim.at("tasks"), num(b.tid())) == 0);
        CHECK(writeFile(g1, num(a.tid()) + ",," + num(b.tid()) + "\n") == EINVAL);
        CHECK_STATUS(sim, "Task list parsing error pid \n");
        CHECK(readTasks(g1) == std::set<pid_t>{a.tid()});
        CHECK(writeFile(g1, " " + num(b.tid()) + " , " + num(c.tid()) + " ,\n") == 0);
        CHECK_STATUS(sim, "ok\n");
        CHECK(readTasks(g1) == std::set<pid_t>{a.tid(), b.tid(), c.tid()});
        // Moving to a CTRL_MON group leaves the old MON group.
        CHECK(readTasks(sim.at("g2/mon_groups/m/tasks")).empty());
    }

    // A writer whose euid is neither 0 nor the target's uid: EPERM (§5.1). The child opens
    // the file as root (0644 files refuse non-root opens), then drops its euid.
    const pid_t target = a.tid();
    const std::string path = sim.at("g2/tasks").string();
    pid_t child = ::fork();
    if (child == 0) {
        int fd = ::open(path.c_str(), O_WRONLY);
        if (fd < 0 || ::setresuid(65534, 65534, 65534) != 0)
            ::_exit(100);
        std::string s = num(target) + "\n";
        ssize_t n = ::write(fd, s.data(), s.size());
        ::_exit(n < 0 ? (errno == EPERM ? 0 : 101) : 102);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK_STATUS(sim, old ? "No permission to move task " + num(target) + "\n"
                          : "No permission to move task " + num(target) +
                                "\nError while processing task " + num(target) + "\n");
}

TEST_CASE("b12: tasks reads: CTRL_MON includes MON children, root the rest, dead threads go",
          "[sim][tasks][b12]") {
    const SimOptions opt = GENERATE(from_range(l3Flavours()));
    INFO(opt.describe());
    SimInstance sim(opt);
    TestThread a, b;
    REQUIRE(makeDir(sim.at("g1")) == 0);
    REQUIRE(makeDir(sim.at("g1/mon_groups/m")) == 0);
    REQUIRE(makeDir(sim.at("mon_groups/rm")) == 0);

    // Right after mount the root lists every thread, ours included.
    auto root = readTasks(sim.at("tasks"));
    CHECK(root.count(::getpid()));
    CHECK(root.count(a.tid()));
    CHECK(root.count(b.tid()));
    CHECK(root.count(currentTid()));

    REQUIRE(writeFile(sim.at("g1/tasks"), num(a.tid())) == 0);
    REQUIRE(writeFile(sim.at("g1/tasks"), num(b.tid())) == 0);
    REQUIRE(writeFile(sim.at("g1/mon_groups/m/tasks"), num(b.tid())) == 0);
    CHECK(readTasks(sim.at("g1/tasks")) == std::set<pid_t>{a.tid(), b.tid()});
    CHECK(readTasks(sim.at("g1/mon_groups/m/tasks")) == std::set<pid_t>{b.tid()});
    root = readTasks(sim.at("tasks"));
    CHECK_FALSE(root.count(a.tid()));
    CHECK_FALSE(root.count(b.tid()));
    CHECK(root.count(::getpid()));

    // A root MON group's tasks are still the root's.
    REQUIRE(writeFile(sim.at("mon_groups/rm/tasks"), num(::getpid())) == 0);
    CHECK(readTasks(sim.at("tasks")).count(::getpid()));
    CHECK(readTasks(sim.at("mon_groups/rm/tasks")) == std::set<pid_t>{::getpid()});

    // Exited threads vanish from every tasks file on their own.
    const pid_t bt = b.tid();
    b.stop();
    CHECK(waitUntil([&] { return !readTasks(sim.at("g1/tasks")).count(bt); }));
    CHECK(readTasks(sim.at("g1/mon_groups/m/tasks")).empty());
    CHECK(readTasks(sim.at("g1/tasks")) == std::set<pid_t>{a.tid()});
    // A thread that never was in a group vanishes from the root too.
    pid_t rootOnly = 0;
    {
        TestThread r;
        rootOnly = r.tid();
        CHECK(readTasks(sim.at("tasks")).count(rootOnly));
    }
    CHECK(waitUntil([&] { return !readTasks(sim.at("tasks")).count(rootOnly); }));
}

TEST_CASE("b13: cpus and cpus_list", "[sim][cpus][b13]") {
    const SimOptions opt = GENERATE(from_range(l3Flavours()));
    INFO(opt.describe());
    SimInstance sim(opt);
    const auto& facts = profileFacts(opt.profile);
    const unsigned n = facts.cpus;
    const std::string all = "0-" + std::to_string(n - 1) + "\n";
    auto except = [&](std::vector<unsigned> out) {
        std::vector<unsigned> v;
        for (unsigned c = 0; c < n; ++c)
            if (std::find(out.begin(), out.end(), c) == out.end())
                v.push_back(c);
        return v;
    };

    CHECK(readFile(sim.at("cpus")) == cpuMask(n, except({})));
    CHECK(readFile(sim.at("cpus_list")) == all);
    REQUIRE(makeDir(sim.at("g1")) == 0);
    REQUIRE(makeDir(sim.at("g2")) == 0);
    REQUIRE(makeDir(sim.at("g1/mon_groups/m")) == 0);
    CHECK(readFile(sim.at("g1/cpus")) == cpuMask(n, {}));
    CHECK(readFile(sim.at("g1/cpus_list")) == "\n");

    CHECK(writeFile(sim.at("g1/cpus_list"), "0-3,8\n") == 0);
    CHECK_STATUS(sim, "ok\n");
    CHECK(readFile(sim.at("g1/cpus")) == cpuMask(n, {0, 1, 2, 3, 8}));
    CHECK(readFile(sim.at("g1/cpus_list")) == "0-3,8\n");
    CHECK(readFile(sim.at("cpus")) == cpuMask(n, except({0, 1, 2, 3, 8})));
    CHECK(readFile(sim.at("cpus_list")) == "4-7,9-" + std::to_string(n - 1) + "\n");

    // A write replaces the set; dropped CPUs go back to the root.
    CHECK(writeFile(sim.at("g1/cpus"), "f0") == 0);
    CHECK(readFile(sim.at("g1/cpus_list")) == "4-7\n");
    CHECK(readFile(sim.at("cpus_list")) == "0-3,8-" + std::to_string(n - 1) + "\n");

    // MON group: subset of the parent only.
    CHECK(writeFile(sim.at("g1/mon_groups/m/cpus_list"), "8\n") == EINVAL);
    CHECK_STATUS(sim, "Can only add CPUs to mongroup that belong to parent\n");
    CHECK(writeFile(sim.at("g1/mon_groups/m/cpus_list"), "4-5\n") == 0);
    CHECK(readFile(sim.at("g1/mon_groups/m/cpus")) == cpuMask(n, {4, 5}));
    // Any write to the CTRL_MON group's cpus clears its MON groups' sets (§5.3).
    CHECK(writeFile(sim.at("g1/cpus_list"), "4-7\n") == 0);
    CHECK(readFile(sim.at("g1/mon_groups/m/cpus_list")) == "\n");

    // CPUs are taken from whichever group had them.
    CHECK(writeFile(sim.at("g2/cpus_list"), "5,9\n") == 0);
    CHECK(readFile(sim.at("g1/cpus_list")) == "4,6-7\n");
    CHECK(readFile(sim.at("g2/cpus_list")) == "5,9\n");

    // The root cannot drop CPUs; bad input; offline/nonexistent CPUs.
    CHECK(writeFile(sim.at("cpus_list"), "0-" + std::to_string(n - 2) + "\n") == EINVAL);
    CHECK_STATUS(sim, "Can't drop CPUs from default group\n");
    CHECK(writeFile(sim.at("g2/cpus_list"), "abc\n") == EINVAL);
    CHECK_STATUS(sim, "Bad CPU list/mask\n");
    CHECK(writeFile(sim.at("g2/cpus"), "xyz\n") == EINVAL);
    CHECK_STATUS(sim, "Bad CPU list/mask\n");
    CHECK(readFile(sim.at("g2/cpus_list")) == "5,9\n");
    // Writing the full set back to the root takes every CPU from the groups.
    CHECK(writeFile(sim.at("cpus_list"), all) == 0);
    CHECK(readFile(sim.at("g1/cpus_list")) == "\n");
    CHECK(readFile(sim.at("g2/cpus_list")) == "\n");
    CHECK(readFile(sim.at("cpus")) == cpuMask(n, except({})));
}

TEST_CASE("b13: cpus masks as real clients write them (kernel bitmap_parse)", "[sim][cpus][b13]") {
    // pqos (intel-cmt-cat, OS interface) writes a group's cpus as 32-bit chunks each
    // followed by ',', e.g. "20," for CPU 5. The kernel's bitmap_parse() skips trailing
    // and leading commas and whitespace (bitmap_find_region_reverse), so this is CPU 5.
    const SimOptions opt = GENERATE(
        values<SimOptions>({{"skx-2s-l3cat", "6.15", "", false}, {"milan-2s", "6.1", "", false}}));
    INFO(opt.describe());
    SimInstance sim(opt);
    REQUIRE(makeDir(sim.at("g1")) == 0);
    CHECK(writeFile(sim.at("g1/cpus"), "20,") == 0);
    CHECK_STATUS(sim, "ok\n");
    CHECK(readFile(sim.at("g1/cpus_list")) == "5\n");
    CHECK(writeFile(sim.at("g1/cpus"), "1,00000000,\n") == 0);
    CHECK(readFile(sim.at("g1/cpus_list")) == "32\n");
    CHECK(writeFile(sim.at("g1/cpus"), " f0 \n") == 0);
    CHECK(readFile(sim.at("g1/cpus_list")) == "4-7\n");
}

TEST_CASE("b13: CPUs beyond the cpumask size", "[sim][cpus][b13]") {
    // nr_cpu_ids = the profile's CPUs (possible = online on these hosts). A list entry
    // beyond it: ERANGE; a hex mask with more 32-bit chunks than the mask has: EOVERFLOW;
    // both with "Bad CPU list/mask" (docs/kernel.md §5.3, code reading of the bitmap parsers).
    const SimOptions opt = GENERATE(
        values<SimOptions>({{"skx-2s-l3cat", "6.15", "", false}, {"milan-2s", "6.1", "", false}}));
    INFO(opt.describe());
    SimInstance sim(opt);
    const auto& facts = profileFacts(opt.profile);
    REQUIRE(makeDir(sim.at("g1")) == 0);
    CHECK(writeFile(sim.at("g1/cpus_list"), std::to_string(facts.cpus) + "\n") == ERANGE);
    CHECK_STATUS(sim, "Bad CPU list/mask\n");
    std::string tooWide = "1";
    for (unsigned i = 0; i < (facts.cpus + 31) / 32; ++i)
        tooWide += ",00000000";
    CHECK(writeFile(sim.at("g1/cpus"), tooWide + "\n") == EOVERFLOW);
    CHECK_STATUS(sim, "Bad CPU list/mask\n");
    CHECK(readFile(sim.at("g1/cpus_list")) == "\n");
    // The highest CPU itself is fine.
    CHECK(writeFile(sim.at("g1/cpus_list"), std::to_string(facts.cpus - 1) + "\n") == 0);
    CHECK(readFile(sim.at("g1/cpus_list")) == std::to_string(facts.cpus - 1) + "\n");
}
