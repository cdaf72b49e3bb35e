// SPDX-License-Identifier: LGPL-2.1-or-later
// Sub-NUMA Clustering, docs/kernel.md items 21-25: the per-node monitoring layout, the sum
// files, the divided RMID budget, sizes and the mba_MBps refusal, on the SNC-3 host with a
// kernel that knows SNC (6.15), and the same host without SNC (BIOS off, or a kernel before
// 6.11) where none of it may appear.
#include <cerrno>
#include <fcntl.h>
#include <filesystem>
#include <set>
#include <sys/stat.h>

#include "snc_facts.h"
#include "test_support.h"
#include "test_thread.h"

using namespace resctrld::simtest;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

std::string num(unsigned long long v) {
    return std::to_string(v);
}

std::set<std::string> entries(const fs::path& dir) {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir))
        out.insert(e.path().filename().string());
    return out;
}

unsigned long long counter(const fs::path& p) {
    const std::string s = readFile(p);
    REQUIRE(!s.empty());
    REQUIRE(s.find_first_not_of("0123456789\n") == std::string::npos);
    return std::stoull(s);
}

const std::set<std::string> kEvents{"llc_occupancy", "mbm_local_bytes", "mbm_total_bytes"};

} // namespace

TEST_CASE("21: every group's mon_L3_XX holds the sum files and one mon_sub_L3_YY per node, "
          "named by global node id",
          "[sim][snc][k21]") {
    SimInstance sim({"gnr-2s-snc3", "6.15", "", false});
    REQUIRE(makeDir(sim.at("g1")) == 0);
    REQUIRE(makeDir(sim.at("g1/mon_groups/m")) == 0);
    REQUIRE(makeDir(sim.at("mon_groups/rm")) == 0);
    for (const std::string group : {"", "g1/", "g1/mon_groups/m/", "mon_groups/rm/"}) {
        INFO("group '" << group << "'");
        const auto monData = sim.at(group + "mon_data");
        CHECK(entries(monData) == std::set<std::string>{"mon_L3_00", "mon_L3_01"});
        for (unsigned l3 : {0u, 1u}) {
            std::set<std::string> expected = kEvents;
            for (unsigned node : gnr::nodesOfL3(l3))
                expected.insert(gnr::subDir(node));
            const auto l3Dir = monData / gnr::l3Dir(l3);
            CHECK(entries(l3Dir) == expected);
            for (unsigned node : gnr::nodesOfL3(l3)) {
                const auto sub = l3Dir / gnr::subDir(node);
                CHECK(entries(sub) == kEvents);
                struct stat st {};
                REQUIRE(::stat(sub.c_str(), &st) == 0);
                CHECK(S_ISDIR(st.st_mode));
                for (const auto& ev : kEvents)
                    CHECK(readFile(sub / ev) == "0\n");
            }
        }
        // Node ids never restart per socket: socket 1 has 03-05, not 00-02.
        CHECK_FALSE(pathExists(monData / "mon_L3_01" / "mon_sub_L3_00"));
        CHECK_FALSE(pathExists(monData / "mon_L3_00" / "mon_sub_L3_03"));
        CHECK(openErrno(monData / "mon_L3_00" / "mon_sub_L3_00" / "llc_occupancy", O_WRONLY) ==
              EACCES);
    }
    // Nothing about SNC appears in info/: no new files, mon_features unchanged.
    CHECK(readFile(sim.at("info/L3_MON/mon_features")) ==
          "llc_occupancy\nmbm_total_bytes\nmbm_local_bytes\n");
    CHECK(entries(sim.at("info/L3_MON")) ==
          std::set<std::string>{"max_threshold_occupancy", "mon_features", "num_rmids"});
}

TEST_CASE("21: without SNC (firmware off, or a kernel before 6.11) there are no mon_sub "
          "directories",
          "[sim][snc][k21]") {
    const SimOptions opt = GENERATE(values<SimOptions>(
        {{"gnr-2s-snc3", "6.1", "", false}, {"gnr-2s-nosnc", "6.15", "", false}}));
    INFO(opt.describe());
    SimInstance sim(opt);
    for (unsigned l3 : {0u, 1u})
        CHECK(entries(sim.at("mon_data/" + gnr::l3Dir(l3))) == kEvents);
    // The hardware RMIDs are not divided when the kernel does not run SNC monitoring.
    CHECK(readFile(sim.at("info/L3_MON/num_rmids")) == num(gnr::kHardwareRmids) + "\n");
    CHECK(readFile(sim.at("info/L3_MON/max_threshold_occupancy")) ==
          num(gnr::kL3Bytes / gnr::kHardwareRmids / gnr::kCpuidScale * gnr::kCpuidScale) + "\n");
}

TEST_CASE("22: an L3 file is the sum of its nodes; a CTRL_MON group adds its MON groups",
          "[sim][snc][k22]") {
    SimInstance sim({"gnr-2s-snc3", "6.15", "", false});
    TestThread a, b;
    REQUIRE(makeDir(sim.at("g1")) == 0);
    REQUIRE(makeDir(sim.at("g1/mon_groups/m")) == 0);
    REQUIRE(writeFile(sim.at("g1/tasks"), num(a.tid())) == 0);
    REQUIRE(writeFile(sim.at("g1/tasks"), num(b.tid())) == 0);
    REQUIRE(writeFile(sim.at("g1/mon_groups/m/tasks"), num(b.tid())) == 0);
    // a: 1 and 2 MiB on nodes 3 and 4; b: 3 MiB on node 5 (all on L3 1).
    const uint64_t mib = 1 << 20;
    sim.setControl("node_footprint", num(a.tid()) + " 3 " + num(mib) + "\n" + num(a.tid()) + " 4 " +
                                         num(2 * mib) + "\n" + num(b.tid()) + " 5 " + num(3 * mib) +
                                         "\n");
    const auto g1 = sim.at("g1/mon_data/mon_L3_01");
    const auto m = sim.at("g1/mon_groups/m/mon_data/mon_L3_01");
    CHECK(waitUntil([&] { return counter(g1 / "llc_occupancy") == 6 * mib; }));
    CHECK(counter(g1 / "mon_sub_L3_03/llc_occupancy") == mib);
    CHECK(counter(g1 / "mon_sub_L3_04/llc_occupancy") == 2 * mib);
    CHECK(counter(g1 / "mon_sub_L3_05/llc_occupancy") == 3 * mib);
    CHECK(counter(m / "llc_occupancy") == 3 * mib);
    CHECK(counter(m / "mon_sub_L3_03/llc_occupancy") == 0);
    CHECK(counter(m / "mon_sub_L3_05/llc_occupancy") == 3 * mib);
    CHECK(counter(sim.at("g1/mon_data/mon_L3_00/llc_occupancy")) == 0);

    // One node failing: the sum is a number made of the others; its own file fails.
    sim.setControl("node_counters", "4 llc_occupancy Error\n");
    CHECK(waitUntil([&] { return readFile(g1 / "mon_sub_L3_04/llc_occupancy") == "Error\n"; }));
    CHECK(counter(g1 / "llc_occupancy") == 4 * mib);
    CHECK(counter(g1 / "mon_sub_L3_03/llc_occupancy") == mib);
    // Every node failing: Unavailable, whatever each node's failure was.
    sim.setControl("node_counters", "3 * Error\n4 * Unavailable\n5 llc_occupancy Error\n");
    CHECK(waitUntil([&] { return readFile(g1 / "llc_occupancy") == "Unavailable\n"; }));
    CHECK(readFile(m / "llc_occupancy") == "Unavailable\n");
    CHECK(readFile(g1 / "mon_sub_L3_03/llc_occupancy") == "Error\n");
    CHECK(readFile(sim.at("g1/mon_data/mon_L3_00/llc_occupancy")) == "0\n");
    // An L3-wide line of the counters file fails all of that L3's nodes.
    sim.setControl("node_counters", "");
    sim.setControl("counters", "1 llc_occupancy Unavailable\n");
    CHECK(
        waitUntil([&] { return readFile(g1 / "mon_sub_L3_05/llc_occupancy") == "Unavailable\n"; }));
    CHECK(readFile(g1 / "llc_occupancy") == "Unavailable\n");
}

TEST_CASE("22: MBM counts per node and the L3 file is their sum", "[sim][snc][k22]") {
    SimInstance sim({"gnr-2s-snc3", "6.15", "", false});
    TestThread a;
    REQUIRE(makeDir(sim.at("g1")) == 0);
    REQUIRE(writeFile(sim.at("g1/tasks"), num(a.tid())) == 0);
    const auto l3 = sim.at("g1/mon_data/mon_L3_00");
    sim.setControl("node_traffic", num(a.tid()) + " 1 1000000000 400000000\n");
    // Counters grow with time: poll until they moved (there is no event to wait on).
    CHECK(waitUntil([&] { return counter(l3 / "mon_sub_L3_01/mbm_total_bytes") > 0; }));
    sim.setControl("node_traffic", ""); // stop: the values freeze
    CHECK(waitUntil([&] {
        const auto before = counter(l3 / "mbm_total_bytes");
        return counter(l3 / "mbm_total_bytes") == before;
    }));
    const auto n1 = counter(l3 / "mon_sub_L3_01/mbm_total_bytes");
    const auto n1local = counter(l3 / "mon_sub_L3_01/mbm_local_bytes");
    CHECK(n1local < n1);
    CHECK(counter(l3 / "mon_sub_L3_00/mbm_total_bytes") == 0);
    CHECK(counter(l3 / "mon_sub_L3_02/mbm_total_bytes") == 0);
    CHECK(counter(l3 / "mbm_total_bytes") == n1);
    CHECK(counter(l3 / "mbm_local_bytes") == n1local);
    CHECK(counter(sim.at("g1/mon_data/mon_L3_01/mbm_total_bytes")) == 0);
    CHECK(counter(sim.at("mon_data/mon_L3_00/mbm_total_bytes")) == 0);
    // The L3-wide traffic file spreads evenly over the L3's nodes.
    sim.setControl("traffic", num(a.tid()) + " 1 3000000000\n");
    const auto other = sim.at("g1/mon_data/mon_L3_01");
    CHECK(waitUntil([&] { return counter(other / "mon_sub_L3_05/mbm_total_bytes") > 0; }));
    CHECK(counter(other / "mon_sub_L3_03/mbm_total_bytes") > 0);
    CHECK(counter(other / "mon_sub_L3_04/mbm_total_bytes") > 0);
}

TEST_CASE("23: num_rmids is the hardware count divided by the nodes per L3, and that is the "
          "whole budget",
          "[sim][snc][k23]") {
    SimInstance sim({"gnr-2s-snc3", "6.15", "", false});
    CHECK(readFile(sim.at("info/L3_MON/num_rmids")) == num(gnr::kSncRmids) + "\n");
    // RMID 0 is the root's: 169 more groups fit, the 170th does not.
    for (unsigned i = 1; i < gnr::kSncRmids; ++i)
        REQUIRE(makeDir(sim.at("mon_groups/m" + num(i))) == 0);
    CHECK(makeDir(sim.at("mon_groups/last")) == ENOSPC);
    CHECK_STATUS(sim, "Out of RMIDs\n");
    CHECK_FALSE(pathExists(sim.at("mon_groups/last")));
}

TEST_CASE("23: a freed RMID goes through limbo before it is reused on an SNC host",
          "[sim][snc][k23]") {
    SimInstance sim({"gnr-2s-snc3", "6.15", "", false});
    TestThread a;
    for (unsigned i = 1; i < gnr::kSncRmids - 1; ++i)
        REQUIRE(makeDir(sim.at("mon_groups/m" + num(i))) == 0);
    REQUIRE(makeDir(sim.at("mon_groups/busy")) == 0);
    REQUIRE(writeFile(sim.at("mon_groups/busy/tasks"), num(a.tid())) == 0);
    // Four thresholds' worth on node 2 only: the other nodes are empty.
    sim.setControl("node_footprint", num(a.tid()) + " 2 " + num(4 * gnr::kSncThreshold) + "\n");
    CHECK(waitUntil([&] {
        return counter(sim.at("mon_groups/busy/mon_data/mon_L3_00/mon_sub_L3_02/llc_occupancy")) >
               gnr::kSncThreshold;
    }));
    REQUIRE(removeDir(sim.at("mon_groups/busy")) == 0);
    CHECK(makeDir(sim.at("mon_groups/next")) == EBUSY);
    CHECK_STATUS(sim, "Out of RMIDs\n");
    // Released once node 2 dropped below the threshold (the simulator halves a freed RMID's
    // occupancy every second): poll with a deadline.
    CHECK(waitUntil([&] { return makeDir(sim.at("mon_groups/next")) == 0; }, 10s));
}

TEST_CASE("24: size and cacheinfo show the whole L3; occupancy per node is capped at the "
          "node's share of the ways and counted in the divided unit",
          "[sim][snc][k24]") {
    SimInstance sim({"gnr-2s-snc3", "6.15", "", true});
    CHECK(readFile(sim.at("size")) ==
          "    MB:0=100;1=100\n    L3:0=" + num(gnr::kL3Bytes) + ";1=" + num(gnr::kL3Bytes) + "\n");
    REQUIRE(makeDir(sim.at("g1")) == 0);
    REQUIRE(writeFile(sim.at("g1/schemata"), "L3:0=1;1=3\n") == 0);
    CHECK(readFile(sim.at("g1/size")) == "    MB:0=100;1=100\n    L3:0=" + num(gnr::kBytesPerBit) +
                                             ";1=" + num(2 * gnr::kBytesPerBit) + "\n");
    // max_threshold_occupancy: the whole L3 over the divided RMIDs, rounded to the CPUID
    // scale; writes are limited by the whole L3.
    CHECK(readFile(sim.at("info/L3_MON/max_threshold_occupancy")) ==
          num(gnr::kSncThreshold) + "\n");
    CHECK(writeFile(sim.at("info/L3_MON/max_threshold_occupancy"), num(gnr::kL3Bytes + 1)) ==
          EINVAL);
    CHECK(writeFile(sim.at("info/L3_MON/max_threshold_occupancy"), num(gnr::kL3Bytes)) == 0);
    CHECK(readFile(sim.at("info/L3_MON/max_threshold_occupancy")) ==
          num(gnr::kL3Bytes / gnr::kCpuidScale * gnr::kCpuidScale) + "\n");

    // Cacheinfo: socket-wide L3 size and sharing; the nodes come from the node directories.
    const auto cpu = sim.sysfsDir() / "devices/system/cpu";
    CHECK(readFile(cpu / "cpu0/cache/index3/size") == "491520K\n");
    CHECK(readFile(cpu / "cpu0/cache/index3/shared_cpu_list") == "0-95,192-287\n");
    CHECK(readFile(cpu / "cpu100/cache/index3/id") == "1\n");
    const auto node = sim.sysfsDir() / "devices/system/node";
    CHECK(readFile(node / "online") == "0-5\n");
    CHECK(readFile(node / "node0/cpulist") == "0-31,192-223\n");
    CHECK(readFile(node / "node2/cpulist") == "64-95,256-287\n");
    CHECK(readFile(node / "node4/cpulist") == "128-159,320-351\n");
    CHECK_FALSE(pathExists(node / "node6"));

    // 100 MiB on node 0 in a one-way group: the node holds a third of one way's bytes.
    TestThread a;
    REQUIRE(writeFile(sim.at("g1/tasks"), num(a.tid())) == 0);
    sim.setControl("node_footprint",
                   num(a.tid()) + " 0 " + num(100ull << 20) + "\n" + num(a.tid()) + " 1 1000000\n");
    const auto l3 = sim.at("g1/mon_data/mon_L3_00");
    const uint64_t capped = gnr::roundToNodeUnit(gnr::kNodeBytesPerBit);
    CHECK(waitUntil([&] { return counter(l3 / "mon_sub_L3_00/llc_occupancy") == capped; }));
    CHECK(counter(l3 / "mon_sub_L3_01/llc_occupancy") == gnr::roundToNodeUnit(1000000));
    CHECK(counter(l3 / "llc_occupancy") == capped + gnr::roundToNodeUnit(1000000));
    CHECK(counter(l3 / "llc_occupancy") % gnr::kNodeUnit == 0);
}

TEST_CASE("25: mba_MBps is refused on an SNC host; allocation domains stay one per L3",
          "[sim][snc][k25]") {
    CHECK_THROWS_WITH(SimInstance({"gnr-2s-snc3", "6.15", "mba_MBps", false}),
                      Contains("status 256") &&
                          Contains("mba_MBps requires MBM and linear scale MBA at L3 scope"));
    // The same host without SNC monitoring mounts with the software controller.
    const SimOptions opt = GENERATE(values<SimOptions>(
        {{"gnr-2s-nosnc", "6.15", "mba_MBps", false}, {"gnr-2s-snc3", "6.1", "mba_MBps", false}}));
    INFO(opt.describe());
    SimInstance sim(opt);
    CHECK(readFile(sim.at("schemata")).find("MB:0=4294967295;1=4294967295") != std::string::npos);

    SimInstance snc({"gnr-2s-snc3", "6.15", "cdp", false});
    // Allocation domains stay the L3 ids, with or without CDP.
    const std::string schemata = readFile(snc.at("schemata"));
    for (const char* line :
         {"    MB:0=100;1=100\n", "L3CODE:0=7fff;1=7fff\n", "L3DATA:0=7fff;1=7fff\n"})
        CHECK(schemata.find(line) != std::string::npos);
    CHECK(readFile(snc.at("info/L3CODE/num_closids")) == "7\n");
    REQUIRE(makeDir(snc.at("g1")) == 0);
    CHECK(writeFile(snc.at("g1/schemata"), "MB:1=50\n") == 0);
    CHECK(writeFile(snc.at("g1/schemata"), "MB:3=50\n") == EINVAL);
    CHECK(entries(snc.at("g1/mon_data/mon_L3_01")).count("mon_sub_L3_04") == 1);
}
