// Unit tests of the simulator's in-memory model (no FUSE, no root). Behaviour numbers refer
// to §10 of docs/kernel.md.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "control_dir.h"
#include "model.h"
#include "model_fixture.h"
#include "profile.h"

using namespace resctrlsim;
using namespace resctrlsim::test;

TEST_CASE("fresh mount state", "[sim]") {
    Fixture f;
    CHECK(f.read("schemata") == "    MB:0=100;1=100\n    L3:0=7ff;1=7ff\n");
    CHECK(f.read("info/last_cmd_status") == "ok\n");
    CHECK(f.read("info/L3/cbm_mask") == "7ff\n");
    CHECK(f.read("info/L3/shareable_bits") == "600\n");
    CHECK(f.read("info/MB/num_closids") == "8\n");
    CHECK(f.read("info/L3_MON/num_rmids") == "160\n");
    CHECK(f.read("mode") == "shareable\n");
    CHECK(f.read("cpus") == "ffff,ffffffff,ffffffff\n");
    CHECK(f.read("cpus_list") == "0-79\n");
}

TEST_CASE("schemata writes: newline, partial, atomic, messages", "[sim]") {
    Fixture f;
    REQUIRE(f.mkdir("g1") == 0);
    SECTION("missing newline fails without touching the status (behaviour 1)") {
        REQUIRE(f.write("g1/schemata", "L3:0=f7\n") == EINVAL);
        CHECK(f.status() == "The mask f7 has non-consecutive 1-bits\n");
        CHECK(f.write("g1/schemata", "L3:0=3") == EINVAL);
        CHECK(f.status() == "The mask f7 has non-consecutive 1-bits\n");
    }
    SECTION("blank line") {
        CHECK(f.write("g1/schemata", "L3:0=3\n\n") == EINVAL);
        CHECK(f.status() == "Missing ':'\n");
    }
    SECTION("partial update keeps other domains and resources (behaviour 2)") {
        REQUIRE(f.write("g1/schemata", "L3:1=f\n") == 0);
        CHECK(f.read("g1/schemata") == "    MB:0=100;1=100\n    L3:0=7ff;1=f\n");
        CHECK(f.status() == "ok\n");
    }
    SECTION("any failing line applies nothing") {
        CHECK(f.write("g1/schemata", "L3:0=3\nMB:0=5\n") == EINVAL);
        CHECK(f.status() == "MB value 5 out of range [10,100]\n");
        CHECK(f.read("g1/schemata") == "    MB:0=100;1=100\n    L3:0=7ff;1=7ff\n");
    }
    SECTION("validation messages in order (behaviour 3)") {
        CHECK(f.write("g1/schemata", "L3:0=xyz\n") == EINVAL);
        CHECK(f.status() == "Non-hex character in the mask xyz\n");
        CHECK(f.write("g1/schemata", "L3:0=fff\n") == EINVAL);
        CHECK(f.status() == "Mask out of range\n");
        CHECK(f.write("g1/schemata", "L3:0=0\n") == EINVAL);
        CHECK(f.status() == "Mask out of range\n");
        CHECK(f.write("g1/schemata", "L4:0=1\n") == EINVAL);
        CHECK(f.status() == "Unknown or unsupported resource name 'L4'\n");
        CHECK(f.write("g1/schemata", "L3 0=1\n") == EINVAL);
        CHECK(f.status() == "Missing ':'\n");
        CHECK(f.write("g1/schemata", "L3:\n") == EINVAL);
        CHECK(f.status() == "Missing 'L3' value\n");
        CHECK(f.write("g1/schemata", "L3: 0=1\n") == EINVAL);
        CHECK(f.status() == "Missing '=' or non-numeric domain\n");
        CHECK(f.write("g1/schemata", "MB:0=abc\n") == EINVAL);
        CHECK(f.status() == "Invalid MB value abc\n");
    }
    SECTION("unknown domain: EINVAL with status ok; duplicate domain (behaviour 4)") {
        CHECK(f.write("g1/schemata", "L3:0=f7\n") == EINVAL);
        CHECK(f.write("g1/schemata", "L3:7=3\n") == EINVAL);
        CHECK(f.status() == "ok\n");
        CHECK(f.write("g1/schemata", "L3:1=3\nL3:1=3\n") == EINVAL);
        CHECK(f.status() == "Duplicate domain 1\n");
        CHECK(f.write("g1/schemata", "L3:0=3\nL3:1=3\n") == 0);
    }
    SECTION("names written back verbatim, 0x prefix, trailing ';', MB rounding") {
        CHECK(f.write("g1/schemata", "    L3:0=0x3;1=7;\n    MB:0=15;1=95\n") == 0);
        CHECK(f.read("g1/schemata") == "    MB:0=20;1=100\n    L3:0=3;1=7\n");
        CHECK(f.read("g1/size") == "    MB:0=20;1=100\n    L3:0=5242880;1=7864320\n");
    }
    SECTION("exclusive groups") {
        REQUIRE(f.write("schemata", "L3:0=1ff;1=1ff\n") == 0);
        REQUIRE(f.write("g1/schemata", "L3:0=100;1=100\n") == 0);
        CHECK(f.write("g1/mode", "exclusive\n") == EINVAL);
        CHECK(f.status() == "Schemata overlaps\n");
        REQUIRE(f.write("schemata", "L3:0=ff;1=ff\n") == 0);
        REQUIRE(f.write("g1/mode", "exclusive\n") == 0);
        CHECK(f.read("g1/mode") == "exclusive\n");
        CHECK(f.write("schemata", "L3:0=1ff\n") == EINVAL);
        CHECK(f.status() == "Overlaps with exclusive group\n");
        CHECK(f.write("g1/schemata", "L3:0=300\n") == EINVAL);
        CHECK(f.status() == "Overlaps with other group\n");
        CHECK(f.read("info/L3/bit_usage") == "0=HHESSSSSSSS;1=HHESSSSSSSS\n");
        // New groups avoid exclusive bits and keep the lowest contiguous run (§3.3).
        REQUIRE(f.mkdir("g2") == 0);
        CHECK(f.read("g2/schemata") == "    MB:0=100;1=100\n    L3:0=ff;1=ff\n");
    }
}

TEST_CASE("schemata read formats (behaviour 5)", "[sim]") {
    SECTION("6.1 padding") {
        Fixture f("skx-2s-l3cat", "6.1");
        REQUIRE(f.mkdir("g") == 0);
        REQUIRE(f.write("g/schemata", "L3:0=f\nMB:0=50\n") == 0);
        CHECK(f.read("g/schemata") == "    MB:0= 50;1=100\n    L3:0=00f;1=7ff\n");
        CHECK(f.write("g/schemata", "MB:0=x\n") == EINVAL);
        CHECK(f.status() == "Non-decimal digit in MB value x\n");
    }
    SECTION("AMD gaps and widths") {
        Fixture f("milan-2s", "6.1");
        std::string s = f.read("schemata");
        CHECK(s.starts_with("    MB:0=2048;1=2048"));
        CHECK(s.find("7=ffff;16=ffff") != std::string::npos);
    }
    SECTION("CDP") {
        Fixture f("bdx-2s", "6.15", MountOptions{true, false, false});
        CHECK(f.read("schemata") == "L3DATA:0=fffff;1=fffff\nL3CODE:0=fffff;1=fffff\n");
        CHECK(f.read("info/L3CODE/num_closids") == "8\n");
        CHECK(f.write("schemata", "L3:0=1\n") == EINVAL);
        CHECK(f.status() == "Unknown or unsupported resource name 'L3'\n");
    }
    SECTION("host without L3 CAT") {
        Fixture f("skx-2s-no-l3cat");
        CHECK(f.read("schemata") == "MB:0=100;1=100\n");
        std::vector<DirEntry> info;
        REQUIRE(f.model->list(splitPath("info"), info) == 0);
        for (const auto& e : info)
            CHECK(e.name != "L3");
    }
}

TEST_CASE("info files listed in the absent control file do not exist", "[sim]") {
    Fixture f;
    f.model->setAbsentInfoFiles({"MB/delay_linear", "L3/shareable_bits"});
    NodeAttr attr;
    CHECK(f.model->stat(splitPath("info/MB/delay_linear"), attr) == ENOENT);
    CHECK(f.model->stat(splitPath("info/L3/shareable_bits"), attr) == ENOENT);
    CHECK(f.model->stat(splitPath("info/MB/min_bandwidth"), attr) == 0);
    std::string out;
    CHECK(f.model->read(splitPath("info/MB/delay_linear"), out) == ENOENT);
    std::vector<DirEntry> entries;
    REQUIRE(f.model->list(splitPath("info/MB"), entries) == 0);
    CHECK(entries.size() == 4); // bandwidth_gran, min_bandwidth, num_closids, thread_throttle_mode
    for (const auto& e : entries)
        CHECK(e.name != "delay_linear");
    f.model->setAbsentInfoFiles({});
    CHECK(f.model->stat(splitPath("info/MB/delay_linear"), attr) == 0);

    std::vector<std::string> errors;
    CHECK(parseAbsentInfoFiles("# c\ninfo/MB/delay_linear\nMB/x\ninfo/L3\n", errors) ==
          std::set<std::string>{"MB/delay_linear"});
    CHECK(errors.size() == 2);
}

TEST_CASE("new group defaults and CLOSID budget (behaviours 6, 7)", "[sim]") {
    Fixture f;
    for (int i = 1; i <= 7; ++i)
        REQUIRE(f.mkdir("g" + std::to_string(i)) == 0);
    CHECK(f.mkdir("g8") == ENOSPC);
    CHECK(f.status() == "Out of CLOSIDs\n");
    REQUIRE(f.model->rmdir(splitPath("g3")) == 0);
    CHECK(f.mkdir("g8") == 0); // lowest free CLOSID reused

    Fixture x;
    REQUIRE(x.write("schemata", "L3:0=7;1=7\n") == 0);
    REQUIRE(x.mkdir("e") == 0);
    REQUIRE(x.write("e/schemata", "L3:0=1f8;1=1f8\n") == 0);
    REQUIRE(x.write("e/mode", "exclusive\n") == 0);
    REQUIRE(x.write("schemata", "L3:0=1;1=1\n") == 0);
    // Candidate = 600 (shareable) | 1 (root, shareable) | 6 (unused) -> lowest run 7.
    REQUIRE(x.mkdir("n") == 0);
    CHECK(x.read("n/schemata") == "    MB:0=100;1=100\n    L3:0=7;1=7\n");
}

TEST_CASE("No space on <schema>:<id> when nothing is left", "[sim]") {
    Fixture f("modern-intel-l2");
    std::string rootL2 = "L2:", exclL2 = "L2:";
    for (int d = 0; d < 48; ++d) {
        rootL2 += (d ? ";" : "") + std::to_string(d) + "=1";
        exclL2 += (d ? ";" : "") + std::to_string(d) + "=fffe";
    }
    REQUIRE(f.write("schemata", "L3:0=1\n" + rootL2 + "\n") == 0);
    REQUIRE(f.mkdir("e") == 0);
    REQUIRE(f.write("e/schemata", "L3:0=1fe\n" + exclL2 + "\n") == 0);
    REQUIRE(f.write("e/mode", "exclusive\n") == 0);
    REQUIRE(f.write("mode", "exclusive\n") == 0);
    size_t groups = f.model->groupCount();
    CHECK(f.mkdir("n") == ENOSPC);
    CHECK(f.status() == "No space on L2:0\n");
    CHECK(f.model->groupCount() == groups);
    REQUIRE(f.write("mode", "shareable\n") == 0);
    REQUIRE(f.mkdir("n") == 0);
    CHECK(f.read("n/schemata").find("L2:0=1;1=1;") != std::string::npos);
    CHECK(f.read("n/schemata").find("    L3:0=1\n") !=
          std::string::npos); // root bit 0 is the lowest run
}

TEST_CASE("RMID budget and limbo (behaviour 8)", "[sim]") {
    Fixture f("bdx-2s"); // 128 RMIDs
    REQUIRE(f.mkdir("g") == 0);
    int made = 0;
    while (f.mkdir("g/mon_groups/m" + std::to_string(made)) == 0)
        ++made;
    CHECK(made == 126); // 128 - root - g
    CHECK(f.status() == "Out of RMIDs\n");
    CHECK(f.mkdir("g/mon_groups/x") == ENOSPC);
    REQUIRE(f.model->rmdir(splitPath("g/mon_groups/m0")) == 0);
    CHECK(f.mkdir("g/mon_groups/x") == EBUSY); // freed RMID sits in limbo
    CHECK(f.status() == "Out of RMIDs\n");
    f.now += 1000000000ULL; // next limbo check
    CHECK(f.mkdir("g/mon_groups/x") == 0);

    SECTION("threshold 0 keeps RMIDs in limbo") {
        REQUIRE(f.write("info/L3_MON/max_threshold_occupancy", "0\n") == 0);
        REQUIRE(f.model->rmdir(splitPath("g/mon_groups/m1")) == 0);
        f.now += 10000000000ULL;
        CHECK(f.mkdir("g/mon_groups/y") == EBUSY);
        CHECK(f.write("info/L3_MON/max_threshold_occupancy", "99999999999\n") == ERANGE);
        CHECK(f.write("info/L3_MON/max_threshold_occupancy", "41943041\n") == EINVAL);
        REQUIRE(f.write("info/L3_MON/max_threshold_occupancy", "1000\n") == 0);
        CHECK(f.read("info/L3_MON/max_threshold_occupancy") == "960\n");
        CHECK(f.mkdir("g/mon_groups/y") == 0);
    }
}

TEST_CASE("mkdir placement (behaviour 9) and rmdir cascade (behaviour 10)", "[sim]") {
    Fixture f;
    f.tasks.add(500, 500);
    REQUIRE(f.mkdir("g") == 0);
    CHECK(f.mkdir("g") == EEXIST);
    CHECK(f.mkdir("info") == EEXIST);
    CHECK(f.mkdir("g/sub") == EPERM);
    CHECK(f.mkdir("mon_data/x") == EPERM);
    CHECK(f.mkdir("info/x") == ENODEV);
    CHECK(f.mkdir("bad\nname") == EINVAL);
    CHECK(f.mkdir("g/mon_groups/mon_groups") == EPERM);
    REQUIRE(f.mkdir("g/mon_groups/m") == 0);
    CHECK(f.mkdir("g/mon_groups/m/x") == EPERM);
    REQUIRE(f.mkdir("mon_groups/rootmon") == 0);

    REQUIRE(f.write("g/tasks", "500\n") == 0);
    REQUIRE(f.write("g/mon_groups/m/tasks", "500\n") == 0);
    REQUIRE(f.write("g/cpus_list", "4-7\n") == 0);
    CHECK(f.read("cpus_list") == "0-3,8-79\n");
    CHECK(f.model->rmdir(splitPath("mon_groups")) == EPERM);
    CHECK(f.model->rmdir(splitPath("info")) == EPERM);
    CHECK(f.model->rmdir(splitPath("g/tasks")) == ENOTDIR);
    CHECK(f.model->rmdir(splitPath("")) == EBUSY);
    size_t before = f.model->groupCount();
    REQUIRE(f.model->rmdir(splitPath("g")) == 0);
    CHECK(f.model->groupCount() == before - 2);
    CHECK(f.read("cpus_list") == "0-79\n");
    CHECK(f.read("tasks") == "500\n");
}

TEST_CASE("tasks writes and reads (behaviours 11, 12)", "[sim]") {
    Fixture f;
    f.tasks.add(100, 100);
    f.tasks.add(101, 100);
    f.tasks.add(200, 200, 1000);
    REQUIRE(f.mkdir("a") == 0);
    REQUIRE(f.mkdir("b") == 0);
    REQUIRE(f.mkdir("a/mon_groups/m") == 0);
    SECTION("comma lists, base 0, partial application") {
        CHECK(f.write("a/tasks", "0x64, 0145 ,999\n") == ESRCH);
        CHECK(f.status() == "No task 999\nError while processing task 999\n");
        CHECK(f.read("a/tasks") == "100\n101\n");
        CHECK(f.write("a/tasks", "100,,101") == EINVAL);
        CHECK(f.status() == "Task list parsing error pid \n");
        CHECK(f.write("a/tasks", "-5") == EINVAL);
        CHECK(f.status() == "Invalid pid -5\n");
        CHECK(f.write("a/tasks", "200,") == 0);
    }
    SECTION("MON group rule and CTRL_MON read includes MON tasks") {
        CHECK(f.write("a/mon_groups/m/tasks", "100") == EINVAL);
        CHECK(f.status() ==
              "Can't move task to different control group\nError while processing task 100\n");
        REQUIRE(f.write("a/tasks", "100") == 0);
        REQUIRE(f.write("a/mon_groups/m/tasks", "100") == 0);
        CHECK(f.read("a/tasks") == "100\n");
        CHECK(f.read("a/mon_groups/m/tasks") == "100\n");
        REQUIRE(f.write("b/tasks", "100") == 0);
        CHECK(f.read("a/mon_groups/m/tasks") == "");
    }
    SECTION("permission") {
        f.root.uid = 1000;
        CHECK(f.write("a/tasks", "100") == EPERM);
        CHECK(f.status() == "No permission to move task 100\nError while processing task 100\n");
        CHECK(f.write("a/tasks", "200") == 0);
    }
    SECTION("pid 0 is the writer") {
        f.root.tid = 101;
        REQUIRE(f.write("a/tasks", "0") == 0);
        CHECK(f.read("a/tasks") == "101\n");
    }
    SECTION("dead and reused tasks vanish") {
        REQUIRE(f.write("a/tasks", "200") == 0);
        f.tasks.threads.erase(200);
        CHECK(f.read("a/tasks") == "");
        REQUIRE(f.write("a/tasks", "100") == 0);
        f.tasks.add(102, 100); // a thread created after the move follows its leader
        CHECK(f.read("a/tasks") == "100\n102\n");
        CHECK(f.read("tasks") == "101\n");    // existed at the move: stays
        f.tasks.threads[100].startTime = 999; // pid reused
        CHECK(f.read("a/tasks") == "");
    }
    SECTION("6.1 single PID") {
        Fixture old("skx-2s-l3cat", "6.1");
        old.tasks.add(100, 100);
        REQUIRE(old.mkdir("a") == 0);
        REQUIRE(old.write("a/schemata", "L3:0=f7\n") == EINVAL);
        CHECK(old.write("a/tasks", "100,101") == EINVAL);
        CHECK(old.status() == "The mask f7 has non-consecutive 1-bits\n");
        CHECK(old.write("a/tasks", "4242") == ESRCH);
        CHECK(old.status() == "No task 4242\n");
        CHECK(old.write("a/tasks", "100\n") == 0);
    }
    SECTION("root lists unclaimed tasks") {
        REQUIRE(f.write("a/tasks", "101") == 0);
        CHECK(f.read("tasks") == "100\n200\n");
    }
}

TEST_CASE("a group's reads look at its own threads only", "[sim]") {
    // The cost of a tasks or counter read must not grow with the threads and groups the
    // simulator knows: 1024 vCPU threads in 1024 MON groups made each read re-check them all.
    Fixture f("milan-2s"); // 256 RMIDs
    const int groups = 200;
    f.tasks.add(1000, 1000);
    for (int i = 0; i < groups; ++i) {
        f.tasks.add(1001 + i, 1000);
        REQUIRE(f.mkdir("mon_groups/m" + std::to_string(i)) == 0);
        REQUIRE(f.write("mon_groups/m" + std::to_string(i) + "/tasks", std::to_string(1001 + i)) ==
                0);
    }
    f.tasks.lookups = 0;
    CHECK(f.read("mon_groups/m7/tasks") == "1008\n");
    CHECK(f.tasks.lookups == 1);
    f.tasks.lookups = 0;
    CHECK(f.read("mon_groups/m7/mon_data/mon_L3_00/llc_occupancy") == "0\n");
    CHECK(f.read("mon_groups/m7/mon_data/mon_L3_00/mbm_total_bytes") == "0\n");
    CHECK(f.tasks.lookups == 0);
    f.model->setFootprints({{1008, 0, 4096}, {1009, 0, 8192}});
    f.model->setTraffic({{1008, 0, 1000, 1000}, {1008, 16, 1000, 1000}});
    f.now += 1000000000ULL;
    f.tasks.lookups = 0;
    CHECK(f.read("mon_groups/m7/mon_data/mon_L3_00/llc_occupancy") == "4096\n");
    CHECK(f.tasks.lookups <= 3); // traffic once per thread, the footprints on domain 0
    CHECK(f.read("mon_groups/m7/mon_data/mon_L3_00/mbm_total_bytes") == "1000\n");
    CHECK(f.read("mon_data/mon_L3_00/llc_occupancy") == "12288\n");

    // An exited thread disappears from its group at once, and only its group's read forgets it.
    f.tasks.threads.erase(1008);
    CHECK(f.read("mon_groups/m7/tasks") == "");
    CHECK(f.read("mon_groups/m7/mon_data/mon_L3_00/llc_occupancy") == "0\n");
    CHECK(f.read("mon_data/mon_L3_00/llc_occupancy") == "8192\n");
    // The index follows rmdir and rename: threads go back to the parent, then along.
    REQUIRE(f.mkdir("a") == 0);
    REQUIRE(f.mkdir("a/mon_groups/x") == 0);
    REQUIRE(f.write("a/tasks", "1010,1011") == 0);
    REQUIRE(f.write("a/mon_groups/x/tasks", "1010,1011") == 0);
    CHECK(f.read("mon_groups/m9/tasks") == "");
    REQUIRE(f.model->rmdir(splitPath("a/mon_groups/x")) == 0);
    CHECK(f.read("a/tasks") == "1010\n1011\n");
    REQUIRE(f.mkdir("a/mon_groups/y") == 0);
    REQUIRE(f.write("a/mon_groups/y/tasks", "1011") == 0);
    REQUIRE(f.mkdir("b") == 0);
    REQUIRE(f.model->rename(splitPath("a/mon_groups/y"), splitPath("b/mon_groups/z"), 0) == 0);
    CHECK(f.read("a/tasks") == "1010\n");
    CHECK(f.read("b/tasks") == "1011\n");
    CHECK(f.read("b/mon_groups/z/tasks") == "1011\n");
    REQUIRE(f.model->rmdir(splitPath("b")) == 0);
    REQUIRE(f.model->rmdir(splitPath("a")) == 0);
    std::string all = "1000\n";
    for (int i = 0; i < groups; ++i)
        if (1001 + i != 1008)
            all += std::to_string(1001 + i) + "\n";
    CHECK(f.read("tasks") == all); // the root lists its MON groups' threads too
    CHECK(f.read("mon_groups/m9/tasks") == "");
}

TEST_CASE("cpus and cpus_list (behaviour 13)", "[sim]") {
    Fixture f;
    REQUIRE(f.mkdir("a") == 0);
    REQUIRE(f.mkdir("b") == 0);
    REQUIRE(f.mkdir("a/mon_groups/m") == 0);
    REQUIRE(f.write("a/cpus", "f0\n") == 0);
    CHECK(f.read("a/cpus") == "0000,00000000,000000f0\n");
    CHECK(f.read("a/cpus_list") == "4-7\n");
    REQUIRE(f.write("a/mon_groups/m/cpus_list", "4-5") == 0);
    CHECK(f.write("a/mon_groups/m/cpus_list", "8") == EINVAL);
    CHECK(f.status() == "Can only add CPUs to mongroup that belong to parent\n");
    REQUIRE(f.write("b/cpus_list", "5-6\n") == 0); // stolen from a and m
    CHECK(f.read("a/cpus_list") == "4,7\n");
    CHECK(f.read("a/mon_groups/m/cpus_list") == "4\n");
    REQUIRE(f.write("a/cpus_list", "4,7") == 0); // unchanged, still clears MON sets
    CHECK(f.read("a/mon_groups/m/cpus_list") == "\n");
    CHECK(f.write("cpus_list", "0-3") == EINVAL);
    CHECK(f.status() == "Can't drop CPUs from default group\n");
    CHECK(f.write("a/cpus_list", "x") == EINVAL);
    CHECK(f.status() == "Bad CPU list/mask\n");
    CHECK(f.write("a/cpus_list", "80") == ERANGE);
    CHECK(f.write("a/cpus", "1,00000000,00000000,00000000") == EOVERFLOW);
    REQUIRE(f.write("a/cpus_list", "") == 0);
    CHECK(f.read("cpus_list") == "0-4,7-79\n");
}

TEST_CASE("mode transitions (behaviour 14)", "[sim]") {
    Fixture f;
    REQUIRE(f.mkdir("a") == 0);
    CHECK(f.write("a/mode", "shareable\n") == 0);
    CHECK(f.write("a/mode", "shareable") == EINVAL);
    CHECK(f.write("a/mode", "bogus\n") == EINVAL);
    CHECK(f.status() == "Unknown or unsupported mode\n");
    CHECK(f.write("a/mode", "pseudo-locked\n") == EINVAL);
    CHECK(f.status() == "Unknown or unsupported mode\n");
    CHECK(f.write("mode", "pseudo-locksetup\n") == EINVAL);
    CHECK(f.status() == "Cannot pseudo-lock default group\n");
    CHECK(f.write("a/mode", "pseudo-locksetup\n") == EINVAL);
    CHECK(f.status() == "Pseudo-locking not supported\n");
    Fixture n("skx-2s-no-l3cat");
    REQUIRE(n.mkdir("a") == 0);
    CHECK(n.write("a/mode", "exclusive\n") == EINVAL);
    CHECK(n.status() == "Cannot be exclusive without CAT/CDP\n");
}

TEST_CASE("mon_data values (behaviour 16)", "[sim]") {
    Fixture f;
    f.tasks.add(100, 100);
    f.tasks.add(200, 200);
    REQUIRE(f.mkdir("a") == 0);
    REQUIRE(f.mkdir("a/mon_groups/m") == 0);
    REQUIRE(f.write("a/tasks", "100,200") == 0);
    REQUIRE(f.write("a/mon_groups/m/tasks", "200") == 0);
    f.model->setFootprints({{100, 0, 1000000}, {200, 0, 3000000}, {200, 1, 50}});
    f.model->setTraffic({{100, 0, 1000, 400}, {200, 0, 10, 10}});
    f.now += 2000000000ULL;
    CHECK(f.read("a/mon_data/mon_L3_00/llc_occupancy") == "4000000\n");
    CHECK(f.read("a/mon_groups/m/mon_data/mon_L3_00/llc_occupancy") == "3000000\n");
    CHECK(f.read("a/mon_data/mon_L3_01/llc_occupancy") == "50\n");
    CHECK(f.read("a/mon_data/mon_L3_00/mbm_total_bytes") == "2020\n");
    CHECK(f.read("a/mon_data/mon_L3_00/mbm_local_bytes") == "820\n");
    CHECK(f.read("a/mon_groups/m/mon_data/mon_L3_00/mbm_total_bytes") == "20\n");
    CHECK(f.read("mon_data/mon_L3_00/mbm_total_bytes") == "0\n");
    // Occupancy is capped by the bytes the CLOSID's mask covers (2.5 MiB per bit), shared by its
    // RMIDs in proportion to their footprints: m holds 3 of the 4 MB, so 3/4 of the room.
    REQUIRE(f.write("a/schemata", "L3:0=1\n") == 0);
    CHECK(f.read("a/mon_groups/m/mon_data/mon_L3_00/llc_occupancy") == "1966080\n");
    CHECK(f.read("a/mon_data/mon_L3_00/llc_occupancy") == "2621440\n");
    f.model->setCounterStates({{0, "*", CounterState::Unavailable},
                               {0, "llc_occupancy", CounterState::Error},
                               {1, "mbm_local_bytes", CounterState::Unassigned}});
    CHECK(f.read("a/mon_data/mon_L3_00/mbm_total_bytes") == "Unavailable\n");
    CHECK(f.read("a/mon_data/mon_L3_00/llc_occupancy") == "Error\n");
    CHECK(f.read("a/mon_data/mon_L3_01/mbm_local_bytes") == "Unassigned\n");
    CHECK(f.read("a/mon_data/mon_L3_01/mbm_total_bytes") == "0\n");
    // A new group on a reused RMID counts from zero; counters are monotonic otherwise.
    f.model->setCounterStates({});
    REQUIRE(f.model->rmdir(splitPath("a")) == 0);
    CHECK(f.read("mon_data/mon_L3_00/mbm_total_bytes") == "0\n");
    f.now += 1000000000ULL;
    CHECK(f.read("mon_data/mon_L3_00/mbm_total_bytes") == "1010\n");
}

TEST_CASE("rename (behaviour 17)", "[sim]") {
    Fixture f;
    f.tasks.add(100, 100);
    REQUIRE(f.mkdir("a") == 0);
    REQUIRE(f.mkdir("b") == 0);
    REQUIRE(f.mkdir("a/mon_groups/m") == 0);
    REQUIRE(f.write("a/mon_groups/m/tasks", "100") == EINVAL);
    REQUIRE(f.write("a/tasks", "100") == 0);
    REQUIRE(f.write("a/mon_groups/m/tasks", "100") == 0);
    CHECK(f.model->rename(splitPath("a"), splitPath("c"), 0) == EPERM);
    CHECK(f.status() == "Source must be a MON group\n");
    CHECK(f.model->rename(splitPath("a/mon_groups/m"), splitPath("b/m"), 0) == EPERM);
    CHECK(f.status() == "Destination must be a mon_groups subdirectory\n");
    CHECK(f.model->rename(splitPath("a/tasks"), splitPath("b/mon_groups/t"), 0) == EPERM);
    CHECK(f.status() == "Source and destination must be directories");
    CHECK(f.model->rename(splitPath("a/mon_groups/m"), splitPath("b/mon_groups/m"), 1) == EINVAL);
    REQUIRE(f.write("a/cpus_list", "1") == 0);
    REQUIRE(f.write("a/mon_groups/m/cpus_list", "1") == 0);
    CHECK(f.model->rename(splitPath("a/mon_groups/m"), splitPath("b/mon_groups/m"), 0) == EPERM);
    CHECK(f.status() == "Cannot move a MON group that monitors CPUs\n");
    REQUIRE(f.write("a/mon_groups/m/cpus_list", "") == 0);
    REQUIRE(f.model->rename(splitPath("a/mon_groups/m"), splitPath("b/mon_groups/n"), 0) == 0);
    CHECK(f.read("b/tasks") == "100\n");
    CHECK(f.read("a/tasks") == "");
    CHECK(f.read("b/mon_groups/n/tasks") == "100\n");
    Fixture old("skx-2s-l3cat", "6.1");
    REQUIRE(old.mkdir("a") == 0);
    REQUIRE(old.mkdir("a/mon_groups/m") == 0);
    CHECK(old.model->rename(splitPath("a/mon_groups/m"), splitPath("a/mon_groups/n"), 0) == EPERM);
}

TEST_CASE("file modes and sizes (behaviour 18)", "[sim]") {
    Fixture f;
    NodeAttr a;
    REQUIRE(f.model->stat(splitPath(""), a) == 0);
    CHECK((a.isDir && a.mode == 0555));
    CHECK(f.model->open(splitPath("size"), true) == EACCES);
    CHECK(f.model->open(splitPath("info/L3/cbm_mask"), true) == EACCES);
    CHECK(f.model->open(splitPath("info/L3_MON/max_threshold_occupancy"), true) == 0);
    CHECK(f.model->open(splitPath("schemata"), true) == 0);
    CHECK(f.write("tasks", std::string(4097, '1')) == E2BIG);
    Caller c{1, 1000, 1000, 077};
    REQUIRE(f.model->mkdir(splitPath("g"), 0777, c) == 0);
    REQUIRE(f.model->stat(splitPath("g/mon_data"), a) == 0);
    CHECK(a.mode == 0700);
    CHECK(a.uid == 1000);
}

TEST_CASE("mount options (behaviour 19)", "[sim]") {
    FakeTasks t;
    auto make = [&](const char* p, MountOptions o) {
        return ResctrlModel(*builtinProfile(p), *KernelFlavour::fromVersion("6.15"), o, t,
                            [] { return uint64_t{0}; });
    };
    CHECK_THROWS_AS(make("milan-2s", MountOptions{false, false, true}), MountError);
    CHECK_THROWS_AS(make("skx-2s-no-l3cat", MountOptions{true, false, false}), MountError);
    CHECK_THROWS_AS(make("skx-2s-l3cat", MountOptions{false, true, false}), MountError);
    Fixture f("skx-2s-l3cat", "6.15", MountOptions{false, false, true});
    CHECK(f.read("schemata") == "    MB:0=4294967295;1=4294967295\n    L3:0=7ff;1=7ff\n");
    CHECK(f.read("mba_MBps_event") == "mbm_local_bytes\n");
    CHECK(f.write("mba_MBps_event", "llc_occupancy\n") == EINVAL);
    CHECK(f.status() == "Unsupported event id 'llc_occupancy'\n");
    REQUIRE(f.write("schemata", "MB:0=5\n") == 0);
    CHECK(f.read("schemata") == "    MB:0=5;1=4294967295\n    L3:0=7ff;1=7ff\n");
    CHECK(f.model->usableClosids() == 8);
    Fixture c("skx-2s-l3cat", "6.15", MountOptions{true, false, false});
    CHECK(c.model->usableClosids() == 8);
    Fixture m("modern-intel-l2", "6.15", MountOptions{false, true, false});
    CHECK(m.model->usableClosids() == 4);
}

TEST_CASE("control file parsing", "[sim]") {
    std::vector<std::string> errors;
    auto fp = parseFootprints("# c\n12 0 4096\n\nbad line\n", errors);
    REQUIRE(fp.size() == 1);
    CHECK(fp[0].bytes == 4096);
    CHECK(errors.size() == 1);
    errors.clear();
    auto tr = parseTraffic("1 0 100\n2 1 50 20\n", errors);
    REQUIRE(tr.size() == 2);
    CHECK(tr[0].localPerSec == 100);
    CHECK(tr[1].localPerSec == 20);
    auto cs = parseCounterStates("0 * Unavailable\n1 mbm_total_bytes ok\n1 x Error\n", errors);
    CHECK(cs.size() == 2);
    CHECK(errors.size() == 1);
    auto rules =
        parseFaults("mkdir resctrld-* 2 ENOSPC\nwrite */tasks 1 stall 500\nread x 1 5\n", errors);
    REQUIRE(rules.size() == 3);
    CHECK(takeFault(rules, "mkdir", "resctrld-a").err == ENOSPC);
    CHECK(takeFault(rules, "rmdir", "resctrld-a").err == 0);
    CHECK(takeFault(rules, "mkdir", "other").err == 0);
    CHECK(takeFault(rules, "mkdir", "resctrld-b").err == ENOSPC);
    CHECK(takeFault(rules, "mkdir", "resctrld-c").err == 0); // count used up
    CHECK(takeFault(rules, "write", "g/mon_groups/m/tasks").stallMs == 500);
    CHECK(takeFault(rules, "read", "x").err == EIO);
    auto renames = parseFaults("rename g/mon_groups/* 1 EIO\n", errors);
    REQUIRE(renames.size() == 1);
    CHECK(takeFault(renames, "rename", "g/mon_groups/m").err == EIO);
    CHECK(errnoFromName("EBUSY") == EBUSY);
    CHECK(errnoFromName("nonsense") == 0);
    std::vector<std::string> quirkErrors;
    CHECK(parseQuirks("# c\nunavailable-after-assign\n", quirkErrors).unavailableAfterAssign);
    CHECK(quirkErrors.empty());
    CHECK_FALSE(parseQuirks("bogus\n", quirkErrors).unavailableAfterAssign);
    CHECK(quirkErrors.size() == 1);
}

TEST_CASE("profile files", "[sim]") {
    CHECK_THROWS(loadProfileFile("/nonexistent/profile.ini"));
    for (const auto& name : builtinProfileNames())
        CHECK_NOTHROW(validateProfile(*builtinProfile(name)));
}

TEST_CASE("permissions of non-root callers", "[sim]") {
    Fixture f;
    Caller user{1, 1000, 1000, 022};
    CHECK(f.model->open(splitPath("tasks"), true, user) == EACCES);
    CHECK(f.model->open(splitPath("tasks"), false, user) == 0);
    CHECK(f.model->access(splitPath(""), 3, user) == EACCES); // root dir 0555: no mkdir
    REQUIRE(f.model->mkdir(splitPath("g"), 0755, user) == 0); // as if chowned by an admin
    CHECK(f.model->open(splitPath("g/tasks"), true, user) == 0);
    CHECK(f.model->open(splitPath("g/size"), true, f.root) == EACCES);
}

TEST_CASE("kernel flavours 6.18 and 6.19 add counter assignment, then io_alloc", "[sim]") {
    auto f618 = KernelFlavour::fromVersion("6.18");
    auto f619 = KernelFlavour::fromVersion("6.19");
    REQUIRE(f618);
    REQUIRE(f619);
    CHECK(f618->counterAssign);
    CHECK_FALSE(f618->ioAlloc);
    CHECK(f619->counterAssign);
    CHECK(f619->ioAlloc);
    CHECK_FALSE(KernelFlavour::fromVersion("6.1")->smba);
    CHECK_FALSE(KernelFlavour::fromVersion("6.15")->counterAssign);
    CHECK_FALSE(KernelFlavour::fromVersion("6.17"));
    CHECK(builtinProfile("turin-2s")->defaultKernel == "6.19");
    CHECK(builtinProfile("turin-2s-pre618")->defaultKernel == "6.15");
    CHECK(builtinProfile("turin-2s-pre619")->defaultKernel == "6.18");
    CHECK_FALSE(builtinProfile("turin-2s-default-mode")->mon->bootMbmEvent);
    CHECK(builtinProfile("skx-2s-l3cat")->defaultKernel == "6.15");
}

TEST_CASE("kstrtobool looks at the first characters only", "[sim]") {
    CHECK(parseKernelBool("1") == true);
    CHECK(parseKernelBool("yes\n") == true);
    CHECK(parseKernelBool("on") == true);
    CHECK(parseKernelBool("off") == false);
    CHECK(parseKernelBool("N") == false);
    CHECK_FALSE(parseKernelBool("o"));
    CHECK_FALSE(parseKernelBool("2"));
    CHECK_FALSE(parseKernelBool(""));
}

TEST_CASE("profile files take the AMD keys", "[sim]") {
    char dir[] = "/tmp/sim-unit-XXXXXX";
    REQUIRE(mkdtemp(dir));
    const std::string path = std::string(dir) + "/amd.ini";
    auto load = [&](const std::string& text) {
        FILE* f = std::fopen(path.c_str(), "w");
        REQUIRE(f);
        std::fputs(text.c_str(), f);
        std::fclose(f);
        return loadProfileFile(path);
    };
    const std::string base = "[host]\ncpus = 16\ncores_per_l3 = 8\nl3_ids = 0\nkernel = 6.19\n"
                             "[L3]\ncbm_mask = ffff\nio_alloc = true\n"
                             "[MB]\nmax_bandwidth = 2048\n";
    Profile p = load(base + "[SMBA]\nnum_closids = 4\nmax_bandwidth = 1024\n"
                            "[L3_MON]\nnum_mbm_cntrs = 8\nmbm_assign_mode = default\nbmec = 1\n");
    CHECK(p.defaultKernel == "6.19");
    CHECK(p.l3->ioAlloc);
    REQUIRE(p.smba);
    CHECK(p.smba->numClosids == 4);
    CHECK(p.smba->maxBandwidth == 1024);
    CHECK(p.mon->numMbmCntrs == 8);
    CHECK_FALSE(p.mon->bootMbmEvent);
    CHECK(p.mon->bmec);
    CHECK_THROWS(load(base + "[L3_MON]\nmbm_assign_mode = abmc\n"));
    CHECK_THROWS(load(base + "[SMBA]\nnum_closids = 0\n"));
    CHECK_THROWS(load(base + "[L2]\nio_alloc = true\n"));
    std::remove(path.c_str());
    rmdir(dir);
}

TEST_CASE("in mbm_event mode traffic counts only into assigned counters", "[sim]") {
    Fixture f("turin-2s", "6.19");
    f.tasks.add(100, 100);
    REQUIRE(f.model->mkdir(splitPath("g"), 0755, f.root) == 0);
    REQUIRE(f.model->write(splitPath("g/tasks"), "100", f.root) == 0);
    f.model->setTraffic({{100, 0, 1000, 500}});
    const std::string total = "g/mon_data/mon_L3_00/mbm_total_bytes";
    const std::string local = "g/mon_data/mon_L3_00/mbm_local_bytes";
    f.now += 1000000000ULL;
    CHECK(f.read(total) == "1000\n");
    CHECK(f.read(local) == "500\n");
    REQUIRE(f.model->write(splitPath("g/mbm_L3_assignments"), "mbm_total_bytes:0=_\n", f.root) ==
            0);
    f.now += 1000000000ULL;
    CHECK(f.read(total) == "Unassigned\n");
    CHECK(f.read(local) == "1000\n");
    REQUIRE(f.model->write(splitPath("g/mbm_L3_assignments"), "mbm_total_bytes:0=e\n", f.root) ==
            0);
    CHECK(f.read(total) == "0\n");
    f.now += 2000000000ULL;
    CHECK(f.read(total) == "2000\n");
    // BMEC files are hidden in mbm_event mode and appear in default mode.
    std::string out;
    CHECK(f.model->read(splitPath("info/L3_MON/mbm_total_bytes_config"), out) == ENOENT);
    REQUIRE(f.model->write(splitPath("info/L3_MON/mbm_assign_mode"), "default\n", f.root) == 0);
    CHECK(f.read(total) == "0\n");
    CHECK(f.model->read(splitPath("info/L3_MON/mbm_total_bytes_config"), out) == 0);
}

TEST_CASE("io_alloc_cbm after 6.19: '*' for every domain and a named unknown domain", "[sim]") {
    FakeTasks tasks;
    KernelFlavour revised = *KernelFlavour::fromVersion("6.19");
    revised.ioAllocCbmRevised = true;
    ResctrlModel model(*builtinProfile("turin-2s"), revised, MountOptions{}, tasks,
                       [] { return uint64_t{1}; });
    Caller root{1, 0, 0, 022};
    std::string out;
    REQUIRE(model.write(splitPath("info/L3/io_alloc"), "1\n", root) == 0);
    REQUIRE(model.write(splitPath("info/L3/io_alloc_cbm"), "*=f\n", root) == 0);
    REQUIRE(model.read(splitPath("info/L3/io_alloc_cbm"), out) == 0);
    CHECK(out.rfind("0=f;1=f;2=f;", 0) == 0);
    CHECK(model.write(splitPath("info/L3/io_alloc_cbm"), "*=3;0=1\n", root) == EINVAL);
    CHECK(model.lastCmdStatusBuffer() == "Configurations after global '*'\n");
    CHECK(model.write(splitPath("info/L3/io_alloc_cbm"), "99=1\n", root) == EINVAL);
    CHECK(model.lastCmdStatusBuffer() == "Invalid domain 99\n");
    REQUIRE(model.read(splitPath("info/L3/io_alloc_cbm"), out) == 0);
    CHECK(out.rfind("0=f;1=f;2=f;", 0) == 0);
}
