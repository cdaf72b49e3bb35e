// SPDX-License-Identifier: LGPL-2.1-or-later
// docs/kernel.md items 44-46 (sparse_masks: presence, validation, untruncated defaults) and
// 47-49 (mba_MBps_event: presence, default and writes, mount gating), on the Granite
// Rapids-like host (sparse masks allowed), Skylake (not allowed), Milan (AMD) and host
// shapes loaded from profile files, with kernels 6.1 (neither feature) and 6.15.
#include <cerrno>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

#include "test_support.h"

using namespace resctrld::simtest;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

// An Intel-like host whose MBM has total bytes only (no local event).
const char* kTotalOnlyMbm =
    "[host]\nname = total-only\ncpus = 8\nthreads_per_core = 2\ncores_per_l3 = 2\n"
    "l3_ids = 0,1\nl3_kb = 8192\n"
    "[L3]\nnum_closids = 4\ncbm_mask = ff\nmin_cbm_bits = 1\nshareable_bits = 0\n"
    "[MB]\nnum_closids = 4\nmin_bandwidth = 10\nbandwidth_gran = 10\n"
    "[L3_MON]\nnum_rmids = 16\nllc_occupancy = true\nmbm_total_bytes = true\n"
    "mbm_local_bytes = false\n";

} // namespace

TEST_CASE("44: sparse_masks is in every cache info directory from 6.7 on, absent before",
          "[sim][sparse][k44]") {
    struct Case {
        SimOptions opt;
        std::vector<std::string> dirs;
        const char* expected; // nullptr: absent
    };
    const Case c = GENERATE(values<Case>({
        {{"gnr-2s-snc3", "6.15", "", false}, {"L3"}, "1\n"},
        {{"gnr-2s-snc3", "6.15", "cdp", false}, {"L3CODE", "L3DATA"}, "1\n"},
        {{"skx-2s-l3cat", "6.15", "cdp", false}, {"L3CODE", "L3DATA"}, "0\n"},
        {{"modern-intel-l2", "6.15", "", false}, {"L3", "L2"}, "0\n"},
        {{"milan-2s", "6.15", "", false}, {"L3"}, "1\n"},
        {{"gnr-2s-snc3", "6.1", "", false}, {"L3"}, nullptr},
        {{"milan-2s", "6.1", "", false}, {"L3"}, nullptr},
    }));
    INFO(c.opt.describe());
    SimInstance sim(c.opt);
    for (const auto& dir : c.dirs) {
        const auto file = sim.at("info/" + dir + "/sparse_masks");
        if (!c.expected) {
            CHECK_FALSE(pathExists(file));
            continue;
        }
        CHECK(readFile(file) == c.expected);
        CHECK(openErrno(file, O_WRONLY) == EACCES);
    }
    // Never in the MB or monitoring directories.
    CHECK_FALSE(pathExists(sim.at("info/MB/sparse_masks")));
    CHECK_FALSE(pathExists(sim.at("info/L3_MON/sparse_masks")));
}

TEST_CASE("45: non-contiguous masks are accepted only where sparse_masks is 1",
          "[sim][sparse][k45]") {
    SimInstance gnr({"gnr-2s-snc3", "6.15", "", false});
    REQUIRE(makeDir(gnr.at("g1")) == 0);
    CHECK(writeFile(gnr.at("g1/schemata"), "L3:0=4001;1=f0f\n") == 0);
    CHECK(readFile(gnr.at("g1/schemata")) == "    MB:0=100;1=100\n    L3:0=4001;1=f0f\n");
    CHECK_STATUS(gnr, "ok\n");
    // The other checks still run, in the same order: range, then zero (min_cbm_bits 1).
    CHECK(writeFile(gnr.at("g1/schemata"), "L3:0=8001\n") == EINVAL);
    CHECK_STATUS(gnr, "Mask out of range\n");
    CHECK(writeFile(gnr.at("g1/schemata"), "L3:0=0\n") == EINVAL);
    CHECK_STATUS(gnr, "Mask out of range\n");
    CHECK(readFile(gnr.at("g1/schemata")) == "    MB:0=100;1=100\n    L3:0=4001;1=f0f\n");

    SimInstance skx({"skx-2s-l3cat", "6.15", "", false});
    REQUIRE(makeDir(skx.at("g1")) == 0);
    CHECK(writeFile(skx.at("g1/schemata"), "L3:0=401\n") == EINVAL);
    CHECK_STATUS(skx, "The mask 401 has non-consecutive 1-bits\n");
    CHECK(readFile(skx.at("g1/schemata")) == "    MB:0=100;1=100\n    L3:0=7ff;1=7ff\n");
}

TEST_CASE("45: with sparse masks allowed, min_cbm_bits is measured on the lowest run of bits",
          "[sim][sparse][k45]") {
    const std::string kernel = GENERATE(as<std::string>{}, "6.15", "6.1");
    ProfileFile profile("[host]\nname = sparse-min2\ncpus = 8\nthreads_per_core = 2\n"
                        "cores_per_l3 = 2\nl3_ids = 0,1\nl3_kb = 8192\n"
                        "[L3]\nnum_closids = 4\ncbm_mask = ff\nmin_cbm_bits = 2\n"
                        "shareable_bits = 0\ncdp = false\nsparse_masks = true\n");
    SimInstance sim({profile.path(), kernel, "", false});
    INFO(sim.options().describe());
    REQUIRE(makeDir(sim.at("g1")) == 0);
    const auto g1 = sim.at("g1/schemata");
    // 0xd = 1101: three bits in all, but the lowest run is one bit long.
    CHECK(writeFile(g1, "L3:0=d\n") == EINVAL);
    CHECK_STATUS(sim, "Need at least 2 bits in the mask\n");
    // 0x1b = 11011: the lowest run has two bits, so the mask is fine however sparse.
    CHECK(writeFile(g1, "L3:0=1b\n") == 0);
    CHECK(writeFile(g1, "L3:1=c3\n") == 0);
    CHECK(readFile(g1) == (kernel == "6.1" ? "L3:0=1b;1=c3\n" : "L3:0=1b;1=c3\n"));
}

TEST_CASE("46: a new group's default mask is left sparse where sparse masks are allowed and "
          "cut to the lowest run where not",
          "[sim][sparse][k46]") {
    struct Case {
        SimOptions opt;
        const char* root;      // the root keeps the low bits
        const char* exclusive; // an exclusive group holds the middle
        const char* expected;  // the new group's L3 default on each domain
    };
    const Case c = GENERATE(values<Case>({
        // Unused bit 12 and the hardware-shared 13-14 above, the root's 0-3 below.
        {{"gnr-2s-snc3", "6.15", "", false}, "f", "ff0", "700f"},
        {{"skx-2s-l3cat", "6.15", "", false}, "3", "1fc", "3"},
    }));
    INFO(c.opt.describe());
    SimInstance sim(c.opt);
    REQUIRE(writeFile(sim.at("schemata"), std::string("L3:0=") + c.root + ";1=" + c.root + "\n") ==
            0);
    REQUIRE(makeDir(sim.at("x")) == 0);
    REQUIRE(writeFile(sim.at("x/schemata"),
                      std::string("L3:0=") + c.exclusive + ";1=" + c.exclusive + "\n") == 0);
    REQUIRE(writeFile(sim.at("x/mode"), "exclusive\n") == 0);
    REQUIRE(makeDir(sim.at("g")) == 0);
    CHECK(readFile(sim.at("g/schemata")) ==
          std::string("    MB:0=100;1=100\n    L3:0=") + c.expected + ";1=" + c.expected + "\n");
}

TEST_CASE("47: mba_MBps_event exists only under -o mba_MBps, in the root and CTRL_MON "
          "groups, from 6.14 on",
          "[sim][mbaevent][k47]") {
    SECTION("mounted with mba_MBps on 6.15") {
        SimInstance sim({"gnr-2s-nosnc", "6.15", "mba_MBps", false});
        REQUIRE(makeDir(sim.at("g1")) == 0);
        REQUIRE(makeDir(sim.at("g1/mon_groups/m")) == 0);
        REQUIRE(makeDir(sim.at("mon_groups/rm")) == 0);
        CHECK(pathExists(sim.at("mba_MBps_event")));
        CHECK(pathExists(sim.at("g1/mba_MBps_event")));
        CHECK_FALSE(pathExists(sim.at("g1/mon_groups/m/mba_MBps_event")));
        CHECK_FALSE(pathExists(sim.at("mon_groups/rm/mba_MBps_event")));
        struct stat st {};
        REQUIRE(::stat(sim.at("g1/mba_MBps_event").c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0644);
    }
    SECTION("mounted without mba_MBps") {
        SimInstance sim({"gnr-2s-nosnc", "6.15", "", false});
        REQUIRE(makeDir(sim.at("g1")) == 0);
        CHECK_FALSE(pathExists(sim.at("mba_MBps_event")));
        CHECK_FALSE(pathExists(sim.at("g1/mba_MBps_event")));
    }
    SECTION("a kernel before 6.14 has no such file") {
        SimInstance sim({"skx-2s-l3cat", "6.1", "mba_MBps", false});
        REQUIRE(makeDir(sim.at("g1")) == 0);
        CHECK_FALSE(pathExists(sim.at("mba_MBps_event")));
        CHECK_FALSE(pathExists(sim.at("g1/mba_MBps_event")));
    }
}

TEST_CASE("48: mba_MBps_event defaults to local bytes when the host counts them, else total",
          "[sim][mbaevent][k48]") {
    SECTION("local and total MBM") {
        SimInstance sim({"gnr-2s-nosnc", "6.15", "mba_MBps", false});
        REQUIRE(makeDir(sim.at("g1")) == 0);
        CHECK(readFile(sim.at("mba_MBps_event")) == "mbm_local_bytes\n");
        CHECK(readFile(sim.at("g1/mba_MBps_event")) == "mbm_local_bytes\n");
        // Per group: changing one leaves the others alone, and new groups get the default.
        CHECK(writeFile(sim.at("g1/mba_MBps_event"), "mbm_total_bytes\n") == 0);
        CHECK(readFile(sim.at("g1/mba_MBps_event")) == "mbm_total_bytes\n");
        CHECK(readFile(sim.at("mba_MBps_event")) == "mbm_local_bytes\n");
        REQUIRE(makeDir(sim.at("g2")) == 0);
        CHECK(readFile(sim.at("g2/mba_MBps_event")) == "mbm_local_bytes\n");
    }
    SECTION("total MBM only") {
        ProfileFile profile(kTotalOnlyMbm);
        SimInstance sim({profile.path(), "6.15", "mba_MBps", false});
        REQUIRE(makeDir(sim.at("g1")) == 0);
        CHECK(readFile(sim.at("mba_MBps_event")) == "mbm_total_bytes\n");
        CHECK(readFile(sim.at("g1/mba_MBps_event")) == "mbm_total_bytes\n");
        // An event the host does not count is refused like an unknown name.
        CHECK(writeFile(sim.at("g1/mba_MBps_event"), "mbm_local_bytes\n") == EINVAL);
        CHECK_STATUS(sim, "Unsupported event id 'mbm_local_bytes'\n");
        CHECK(readFile(sim.at("g1/mba_MBps_event")) == "mbm_total_bytes\n");
    }
}

TEST_CASE("48: mba_MBps_event writes need an exact event name and a newline",
          "[sim][mbaevent][k48]") {
    SimInstance sim({"gnr-2s-nosnc", "6.15", "mba_MBps", false});
    REQUIRE(makeDir(sim.at("g1")) == 0);
    const auto file = sim.at("g1/mba_MBps_event");
    // No trailing newline: EINVAL before the status is cleared.
    provokeStatus(sim);
    CHECK(writeFile(file, "mbm_total_bytes") == EINVAL);
    CHECK_STATUS(sim, kProvokedStatus);
    CHECK(readFile(file) == "mbm_local_bytes\n");
    for (const std::string bad :
         {"mbm_total\n", " mbm_total_bytes\n", "mbm_total_bytes \n", "llc_occupancy\n", "\n"}) {
        INFO("write '" << bad << "'");
        CHECK(writeFile(file, bad) == EINVAL);
        CHECK_STATUS(sim, "Unsupported event id '" + bad.substr(0, bad.size() - 1) + "'\n");
        CHECK(readFile(file) == "mbm_local_bytes\n");
    }
    // Writing the current value succeeds and clears the status.
    provokeStatus(sim);
    CHECK(writeFile(file, "mbm_local_bytes\n") == 0);
    CHECK_STATUS(sim, "ok\n");
}

TEST_CASE("49: mba_MBps needs local MBM before 6.14, any MBM from 6.14, and no SNC",
          "[sim][mbaevent][k49]") {
    ProfileFile profile(kTotalOnlyMbm);
    CHECK_THROWS_WITH(SimInstance({profile.path(), "6.1", "mba_MBps", false}),
                      Contains("status 256") && Contains("mba_MBps requires"));
    SimInstance modern({profile.path(), "6.15", "mba_MBps", false});
    CHECK(readFile(modern.at("mba_MBps_event")) == "mbm_total_bytes\n");
    CHECK_THROWS_WITH(SimInstance({"gnr-2s-snc3", "6.15", "mba_MBps", false}),
                      Contains("status 256") && Contains("mba_MBps requires"));
    // Without a linear MBA (AMD) it is refused on every kernel.
    CHECK_THROWS_WITH(SimInstance({"milan-2s", "6.15", "mba_MBps", false}), Contains("status 256"));
}
