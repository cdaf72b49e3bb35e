// SPDX-License-Identifier: LGPL-2.1-or-later
// docs/kernel.md §10 behaviours 7-10 and 17: CLOSID/RMID budgets, mkdir placement, rmdir cascade,
// rename.
#include <cerrno>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_support.h"
#include "test_thread.h"

using namespace resctrld::simtest;
namespace fs = std::filesystem;

TEST_CASE("b07: CLOSID budget, Out of CLOSIDs, immediate reuse", "[sim][groups][b07]") {
    const SimOptions opt = GENERATE(values<SimOptions>({{"skx-2s-l3cat", "6.15", "", false},
                                                        {"skx-2s-l3cat", "6.1", "", false},
                                                        {"milan-2s", "6.15", "", false},
                                                        {"bdx-2s", "6.1", "", false},
                                                        {"bdx-2s", "6.15", "cdp", false},
                                                        {"skx-2s-no-l3cat", "6.15", "", false}}));
    INFO(opt.describe());
    SimInstance sim(opt);
    const auto& facts = profileFacts(opt.profile);
    const unsigned budget = facts.closidBudget(isCdp(opt));
    for (unsigned i = 0; i < budget; ++i) {
        INFO("group " << i);
        REQUIRE(makeDir(sim.at("g" + std::to_string(i))) == 0);
    }
    const auto extra = sim.at("g" + std::to_string(budget));
    CHECK(makeDir(extra) == ENOSPC);
    CHECK_STATUS(sim, "Out of CLOSIDs\n");
    CHECK_FALSE(pathExists(extra)); // a failed mkdir leaves nothing behind (§3.2)

    // A freed CLOSID is usable again at once, and only one.
    REQUIRE(removeDir(sim.at("g3")) == 0);
    CHECK(makeDir(sim.at("again")) == 0);
    CHECK_STATUS(sim, "ok\n");
    CHECK(makeDir(extra) == ENOSPC);
    CHECK_STATUS(sim, "Out of CLOSIDs\n");
}

TEST_CASE("b08: RMID budget, limbo and max_threshold_occupancy", "[sim][groups][b08]") {
    const SimOptions opt = GENERATE(values<SimOptions>({{"skx-2s-l3cat", "6.15", "", false},
                                                        {"skx-2s-l3cat", "6.1", "", false},
                                                        {"milan-2s", "6.15", "", false}}));
    INFO(opt.describe());
    SimInstance sim(opt);
    const auto& facts = profileFacts(opt.profile);
    const auto threshold = sim.at("info/L3_MON/max_threshold_occupancy");
    CHECK(readFile(sim.at("info/L3_MON/num_rmids")) == std::to_string(facts.numRmids) + "\n");

    // Default threshold: L3 bytes / num_rmids rounded down to the occupancy scale (§7.5).
    const unsigned long long defaultThreshold = std::stoull(readFile(threshold));
    CHECK(defaultThreshold > 0);
    CHECK(defaultThreshold <= facts.l3Bytes / facts.numRmids);
    CHECK(writeFile(threshold, std::to_string(facts.l3Bytes + 1)) == EINVAL);
    // Freed RMIDs leave limbo at the next check (threshold = L3 size, occupancy is 0).
    REQUIRE(writeFile(threshold, std::to_string(facts.l3Bytes) + "\n") == 0);

    // Every CTRL_MON group also takes an RMID: fill all CLOSIDs, then the RMIDs.
    const unsigned budget = facts.closidBudget(false);
    for (unsigned i = 0; i < budget; ++i)
        REQUIRE(makeDir(sim.at("g" + std::to_string(i))) == 0);
    const unsigned monGroups = facts.numRmids - 1 - budget;
    for (unsigned i = 0; i < monGroups; ++i) {
        INFO("mon group " << i);
        REQUIRE(makeDir(sim.at("g0/mon_groups/m" + std::to_string(i))) == 0);
    }
    CHECK(makeDir(sim.at("g1/mon_groups/full")) == ENOSPC);
    CHECK_STATUS(sim, "Out of RMIDs\n");
    CHECK_FALSE(pathExists(sim.at("g1/mon_groups/full")));

    // Both exhausted: 6.1 allocated the RMID first, newer kernels the CLOSID (§3.2).
    CHECK(makeDir(sim.at("both")) == ENOSPC);
    CHECK_STATUS(sim, isOldKernel(opt) ? "Out of RMIDs\n" : "Out of CLOSIDs\n");

    // A CLOSID but no RMID: Out of RMIDs, and the CLOSID is not consumed.
    REQUIRE(removeDir(sim.at("g" + std::to_string(budget - 1))) == 0);
    REQUIRE(waitUntil([&] { return makeDir(sim.at("g0/mon_groups/late")) == 0; }));
    CHECK(makeDir(sim.at("norid")) == ENOSPC);
    CHECK_STATUS(sim, "Out of RMIDs\n");
    REQUIRE(removeDir(sim.at("g0/mon_groups/late")) == 0);
    REQUIRE(waitUntil([&] { return makeDir(sim.at("norid")) == 0; }));

    // Threshold 0: every freed RMID stays dirty (occupancy >= 0) -> EBUSY (§7.4, §7.5).
    REQUIRE(writeFile(threshold, "0") == 0);
    REQUIRE(removeDir(sim.at("g0/mon_groups/m0")) == 0);
    CHECK(makeDir(sim.at("g0/mon_groups/m0")) == EBUSY);
    CHECK_STATUS(sim, "Out of RMIDs\n");
    CHECK(makeDir(sim.at("g0/mon_groups/m0")) == EBUSY);
    // Raising the threshold releases it at the next limbo check (about a second).
    REQUIRE(writeFile(threshold, std::to_string(facts.l3Bytes)) == 0);
    CHECK(waitUntil([&] { return makeDir(sim.at("g0/mon_groups/m0")) == 0; },
                    std::chrono::seconds(5)));
    CHECK_STATUS(sim, "ok\n");
}

TEST_CASE("b09: mkdir placement rules", "[sim][groups][b09]") {
    const SimOptions opt = GENERATE(values<SimOptions>({{"skx-2s-l3cat", "6.15", "", false},
                                                        {"milan-2s", "6.1", "", false},
                                                        {"skx-2s-no-l3cat", "6.15", "", false}}));
    INFO(opt.describe());
    SimInstance sim(opt);
    const auto& facts = profileFacts(opt.profile);
    CHECK(makeDir(sim.at("g1")) == 0);
    CHECK_STATUS(sim, "ok\n");
    CHECK(makeDir(sim.at(".dot-name")) == 0);
    CHECK(makeDir(sim.at("G1")) == 0); // names are case-sensitive
    CHECK(makeDir(sim.at("g1/mon_groups/m1")) == 0);
    CHECK(makeDir(sim.at("mon_groups/m0")) == 0); // MON group of the root

    CHECK(makeDir(sim.at("g1/nested")) == EPERM);
    CHECK(makeDir(sim.at("g1/mon_groups/m1/deeper")) == EPERM);
    CHECK(makeDir(sim.at("g1/mon_groups/m1/mon_data/x")) == EPERM);
    CHECK(makeDir(sim.at("mon_data/x")) == EPERM);
    CHECK(makeDir(sim.at("mon_data/mon_L3_00/x")) == EPERM);
    CHECK(makeDir(sim.at("g1/mon_groups/mon_groups")) == EPERM);
    CHECK_FALSE(pathExists(sim.at("g1/nested")));

    // info/ and below: ENODEV on monitoring-capable hosts (all our profiles).
    CHECK(makeDir(sim.at("info/x")) == ENODEV);
    CHECK(makeDir(sim.at("info/L3_MON/x")) == ENODEV);
    if (facts.hasL3Cat)
        CHECK(makeDir(sim.at("info/L3/x")) == ENODEV);

    // EEXIST comes from the VFS and leaves the status alone; so does a '\n' in the name.
    provokeStatus(sim);
    CHECK(makeDir(sim.at("g1")) == EEXIST);
    CHECK(makeDir(sim.at("info")) == EEXIST);
    CHECK(makeDir(sim.at("tasks")) == EEXIST);
    CHECK(makeDir(sim.at("g1/mon_groups/m1")) == EEXIST);
    CHECK_STATUS(sim, kProvokedStatus);
    CHECK(makeDir(sim.at("bad\nname")) == EINVAL);
    CHECK(makeDir(sim.at("g1/mon_groups/bad\nname")) == EINVAL);
    CHECK_STATUS(sim, kProvokedStatus);
    CHECK_FALSE(pathExists(sim.at("bad\nname")));
}

TEST_CASE("b10: rmdir cascades and refusals", "[sim][groups][b10]") {
    const SimOptions opt = GENERATE(
        values<SimOptions>({{"skx-2s-l3cat", "6.15", "", false}, {"milan-2s", "6.1", "", false}}));
    INFO(opt.describe());
    SimInstance sim(opt);
    const auto& facts = profileFacts(opt.profile);
    TestThread t1, t2, t3;
    REQUIRE(makeDir(sim.at("g1")) == 0);
    REQUIRE(makeDir(sim.at("g1/mon_groups/m1")) == 0);
    REQUIRE(makeDir(sim.at("g2")) == 0);
    REQUIRE(makeDir(sim.at("g2/mon_groups/m2")) == 0);
    REQUIRE(writeFile(sim.at("g1/tasks"), std::to_string(t1.tid())) == 0);
    REQUIRE(writeFile(sim.at("g1/tasks"), std::to_string(t2.tid())) == 0);
    REQUIRE(writeFile(sim.at("g1/mon_groups/m1/tasks"), std::to_string(t2.tid())) == 0);
    REQUIRE(writeFile(sim.at("g2/tasks"), std::to_string(t3.tid())) == 0);
    REQUIRE(writeFile(sim.at("g2/mon_groups/m2/tasks"), std::to_string(t3.tid())) == 0);
    REQUIRE(writeFile(sim.at("g1/cpus_list"), "2-3\n") == 0);
    REQUIRE(writeFile(sim.at("g2/cpus_list"), "4-5\n") == 0);
    REQUIRE(writeFile(sim.at("g2/mon_groups/m2/cpus_list"), "5\n") == 0);
    CHECK_FALSE(readTasks(sim.at("tasks")).count(t1.tid()));

    // An open descriptor on a file of the group that is about to go.
    int staleFd = ::open(sim.at("g1/tasks").c_str(), O_WRONLY);
    REQUIRE(staleFd >= 0);

    // CTRL_MON rmdir: tasks (also those in MON children) and CPUs go to the root, the MON
    // children vanish (§3.4). The directory is not empty, and that does not matter.
    CHECK(removeDir(sim.at("g1")) == 0);
    CHECK_FALSE(pathExists(sim.at("g1")));
    auto rootTasks = readTasks(sim.at("tasks"));
    CHECK(rootTasks.count(t1.tid()));
    CHECK(rootTasks.count(t2.tid()));
    CHECK_FALSE(rootTasks.count(t3.tid()));
    std::vector<unsigned> rootCpus;
    for (unsigned c = 0; c < facts.cpus; ++c)
        if (c != 4 && c != 5)
            rootCpus.push_back(c);
    CHECK(readFile(sim.at("cpus")) == cpuMask(facts.cpus, rootCpus));

    const std::string tid = std::to_string(t1.tid());
    errno = 0;
    CHECK(::write(staleFd, tid.data(), tid.size()) == -1);
    CHECK((errno == ENODEV || errno == ENOENT));
    ::close(staleFd);

    // MON rmdir: its tasks stay in the parent, its CPUs return to the parent.
    CHECK(removeDir(sim.at("g2/mon_groups/m2")) == 0);
    CHECK(readTasks(sim.at("g2/tasks")) == std::set<pid_t>{t3.tid()});
    CHECK(readFile(sim.at("g2/cpus_list")) == "4-5\n");
    CHECK_FALSE(readTasks(sim.at("tasks")).count(t3.tid()));

    // Refusals.
    CHECK(removeDir(sim.root()) == EBUSY);
    CHECK(removeDir(sim.at("info")) == EPERM);
    CHECK(removeDir(sim.at("mon_groups")) == EPERM);
    CHECK(removeDir(sim.at("mon_data")) == EPERM);
    CHECK(removeDir(sim.at("mon_data/mon_L3_00")) == EPERM);
    CHECK(removeDir(sim.at("g2/mon_groups")) == EPERM);
    CHECK(removeDir(sim.at("g2/mon_data")) == EPERM);
    CHECK(removeDir(sim.at("g2/tasks")) == ENOTDIR);
    CHECK(removeDir(sim.at("nonexistent")) == ENOENT);
    CHECK(pathExists(sim.at("g2/mon_groups")));
    CHECK(removeDir(sim.at("g2")) == 0);
    CHECK(readTasks(sim.at("tasks")).count(t3.tid()));
    CHECK(readFile(sim.at("cpus_list")) == "0-" + std::to_string(facts.cpus - 1) + "\n");
}

TEST_CASE("b17: rename moves only MON groups, with the kernel's messages", "[sim][groups][b17]") {
    const SimOptions opt = GENERATE(
        values<SimOptions>({{"skx-2s-l3cat", "6.15", "", false}, {"milan-2s", "6.15", "", false}}));
    INFO(opt.describe());
    SimInstance sim(opt);
    TestThread t;
    REQUIRE(makeDir(sim.at("g1")) == 0);
    REQUIRE(makeDir(sim.at("g2")) == 0);
    REQUIRE(makeDir(sim.at("g1/mon_groups/m1")) == 0);
    REQUIRE(makeDir(sim.at("g2/mon_groups/taken")) == 0);
    REQUIRE(writeFile(sim.at("g1/tasks"), std::to_string(t.tid())) == 0);
    REQUIRE(writeFile(sim.at("g1/mon_groups/m1/tasks"), std::to_string(t.tid())) == 0);

    CHECK(renamePath(sim.at("g1"), sim.at("g9")) == EPERM);
    CHECK_STATUS(sim, "Source must be a MON group\n");
    CHECK(renamePath(sim.at("g1/mon_groups/m1"), sim.at("g2/m1")) == EPERM);
    CHECK_STATUS(sim, "Destination must be a mon_groups subdirectory\n");
    CHECK(renamePath(sim.at("g1/mon_groups/m1"), sim.at("g2/mon_groups/mon_groups")) == EPERM);
    CHECK_STATUS(sim, "Destination must be a mon_groups subdirectory\n");
    CHECK(renamePath(sim.at("g1/tasks"), sim.at("g2/mon_groups/x")) == EPERM);
    // This one message has no trailing newline (§3.5, Appendix A).
    CHECK_STATUS(sim, "Source and destination must be directories");
    CHECK(renamePath(sim.at("g1/mon_groups/m1"), sim.at("g2/mon_groups/taken")) == EEXIST);
    CHECK(renamePath(sim.at("g1/mon_groups/m1"), sim.at("g2/mon_groups/nr"), RENAME_NOREPLACE) ==
          EINVAL);

    // CPUs block a parent change, not a rename within the same parent.
    REQUIRE(writeFile(sim.at("g1/cpus_list"), "6-7\n") == 0);
    REQUIRE(writeFile(sim.at("g1/mon_groups/m1/cpus_list"), "7\n") == 0);
    CHECK(renamePath(sim.at("g1/mon_groups/m1"), sim.at("g2/mon_groups/m1")) == EPERM);
    CHECK_STATUS(sim, "Cannot move a MON group that monitors CPUs\n");
    CHECK(renamePath(sim.at("g1/mon_groups/m1"), sim.at("g1/mon_groups/m1b")) == 0);
    CHECK_STATUS(sim, "ok\n");
    CHECK(readFile(sim.at("g1/mon_groups/m1b/cpus_list")) == "7\n");
    REQUIRE(writeFile(sim.at("g1/mon_groups/m1b/cpus_list"), "\n") == 0);

    // Give the group some MBM history: its counters must survive the move (§3.5).
    sim.setControl("traffic", std::to_string(t.tid()) + " 0 1000000000\n");
    const auto counter = [&](const char* group) {
        return std::stoull(
            readFile(sim.at(std::string(group) + "/mon_data/mon_L3_00/mbm_total_bytes")));
    };
    REQUIRE(waitUntil([&] { return counter("g1/mon_groups/m1b") > 0; }));
    const unsigned long long before = counter("g1/mon_groups/m1b");

    // The move: tasks take the new parent's CLOSID and leave the old parent's tasks.
    CHECK(renamePath(sim.at("g1/mon_groups/m1b"), sim.at("g2/mon_groups/moved")) == 0);
    CHECK(counter("g2/mon_groups/moved") >= before);
    CHECK_STATUS(sim, "ok\n");
    CHECK_FALSE(pathExists(sim.at("g1/mon_groups/m1b")));
    CHECK(readTasks(sim.at("g2/mon_groups/moved/tasks")) == std::set<pid_t>{t.tid()});
    CHECK(readTasks(sim.at("g2/tasks")).count(t.tid()));
    CHECK_FALSE(readTasks(sim.at("g1/tasks")).count(t.tid()));
    CHECK_FALSE(readTasks(sim.at("tasks")).count(t.tid()));
}

TEST_CASE("b17: kernels before 6.2 refuse every rename", "[sim][groups][b17]") {
    SimInstance sim({"skx-2s-l3cat", "6.1", "", false});
    REQUIRE(makeDir(sim.at("g1")) == 0);
    REQUIRE(makeDir(sim.at("g2")) == 0);
    REQUIRE(makeDir(sim.at("g1/mon_groups/m1")) == 0);
    provokeStatus(sim);
    CHECK(renamePath(sim.at("g1/mon_groups/m1"), sim.at("g2/mon_groups/m1")) == EPERM);
    CHECK(renamePath(sim.at("g1/mon_groups/m1"), sim.at("g1/mon_groups/m2")) == EPERM);
    CHECK_STATUS(sim, kProvokedStatus);
    CHECK(pathExists(sim.at("g1/mon_groups/m1")));
}
