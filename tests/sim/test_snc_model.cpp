// Unit tests of the model's Sub-NUMA Clustering: the monitoring topology, the node control
// files and their effect on mon_data (no FUSE, no root). Items refer to docs/kernel.md §10.
#include <cerrno>

#include <catch2/catch.hpp>

#include "control_dir.h"
#include "model_fixture.h"
#include "mon_topology.h"
#include "sysfs_tree.h"

using namespace resctrlsim;
using namespace resctrlsim::test;

TEST_CASE("the SNC-3 profile maps cores to global node ids per L3", "[sim][snc]") {
    const Profile p = *builtinProfile("gnr-2s-snc3");
    CHECK(p.numaNodes() == 6);
    CHECK(p.nodeOf(0) == 0);
    CHECK(p.nodeOf(31) == 0);
    CHECK(p.nodeOf(32) == 1);
    CHECK(p.nodeOf(95) == 2);
    CHECK(p.nodeOf(96) == 3);
    CHECK(p.nodeOf(191) == 5);
    CHECK(p.nodeOf(192) == 0); // the sibling of core 0
    CHECK(p.nodeOf(383) == 5);
}

TEST_CASE("SNC monitoring needs a known model, a kernel from 6.11 and 2, 3, 4 or 6 nodes",
          "[sim][snc]") {
    Profile p = *builtinProfile("gnr-2s-snc3");
    CHECK(MonTopology(p, true).snc());
    CHECK(MonTopology(p, true).size() == 6);
    CHECK_FALSE(MonTopology(p, false).snc());
    CHECK(MonTopology(p, false).size() == 2);
    CHECK(MonTopology(p, false).domainOfNode(4) == 1u); // a node line lands on its L3
    CHECK(MonTopology(p, true).domainOfNode(4) == 4u);
    CHECK_FALSE(MonTopology(p, true).domainOfNode(6));
    p.sncModel = false;
    CHECK_FALSE(MonTopology(p, true).snc());
    p.sncModel = true;
    p.nodesPerL3 = 5;
    p.coresPerL3 = 95;
    CHECK_FALSE(MonTopology(p, true).snc()); // improbable count: ignored
    CHECK(MonTopology::subDirName(3) == "mon_sub_L3_03");
    CHECK(MonTopology::subDirName(104) == "mon_sub_L3_104");
}

TEST_CASE("node control files parse like their per-L3 twins", "[sim][snc]") {
    std::vector<std::string> errors;
    auto fp = parseFootprints("# tid node bytes\n10 4 4096\nbad\n", errors, true);
    REQUIRE(fp.size() == 1);
    CHECK(fp[0].byNode);
    CHECK(fp[0].domain == 4);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find("NODE_ID") != std::string::npos);
    errors.clear();
    auto tr = parseTraffic("10 5 100\n", errors, true);
    REQUIRE(tr.size() == 1);
    CHECK(tr[0].localPerSec == 100);
    auto cs = parseCounterStates("3 * Error\n", errors, true);
    REQUIRE(cs.size() == 1);
    CHECK(cs[0].state == CounterState::Error);
    CHECK(errors.empty());
}

TEST_CASE("an SNC model sums nodes, divides RMIDs and refuses mba_MBps (items 21-25)",
          "[sim][snc]") {
    Fixture f("gnr-2s-snc3");
    f.tasks.add(50, 50);
    REQUIRE(f.mkdir("g") == 0);
    REQUIRE(f.write("g/tasks", "50") == 0);
    CHECK(f.read("info/L3_MON/num_rmids") == "170\n");
    CHECK(f.read("info/L3_MON/max_threshold_occupancy") == "2949120\n");
    // An L3 line spreads over the nodes; a node line adds to one node.
    f.model->setFootprints({{50, 1, 3 * 65536}});
    f.model->setNodeFootprints({{50, 5, 65536, true}});
    CHECK(f.read("g/mon_data/mon_L3_01/mon_sub_L3_03/llc_occupancy") == "65536\n");
    CHECK(f.read("g/mon_data/mon_L3_01/mon_sub_L3_05/llc_occupancy") == "131072\n");
    CHECK(f.read("g/mon_data/mon_L3_01/llc_occupancy") == "262144\n");
    // A node value is rounded down to the divided occupancy unit.
    f.model->setNodeFootprints({{50, 0, 65536 + 100, true}});
    CHECK(f.read("g/mon_data/mon_L3_00/mon_sub_L3_00/llc_occupancy") == "65536\n");
    // Bandwidth integrates per node with the clock.
    f.model->setNodeTraffic({{50, 2, 1000, 250, true}});
    f.now += 2000000000ULL;
    CHECK(f.read("g/mon_data/mon_L3_00/mon_sub_L3_02/mbm_total_bytes") == "2000\n");
    CHECK(f.read("g/mon_data/mon_L3_00/mbm_local_bytes") == "500\n");
    CHECK(f.read("g/mon_data/mon_L3_01/mbm_total_bytes") == "0\n");
    f.model->setNodeCounterStates(
        {{0, "*", CounterState::Error, true}, {1, "*", CounterState::Unavailable, true}});
    CHECK(f.read("g/mon_data/mon_L3_00/mbm_total_bytes") == "2000\n");
    f.model->setNodeCounterStates({{0, "*", CounterState::Error, true},
                                   {1, "*", CounterState::Unavailable, true},
                                   {2, "mbm_total_bytes", CounterState::Error, true}});
    CHECK(f.read("g/mon_data/mon_L3_00/mbm_total_bytes") == "Unavailable\n");
    CHECK(f.read("g/mon_data/mon_L3_00/mon_sub_L3_02/mbm_total_bytes") == "Error\n");
    CHECK(f.read("g/mon_data/mon_L3_00/mbm_local_bytes") == "500\n");

    std::vector<DirEntry> entries;
    REQUIRE(f.model->list(splitPath("g/mon_data/mon_L3_01"), entries) == 0);
    std::vector<std::string> names;
    for (const auto& e : entries)
        names.push_back(e.name);
    CHECK(names == std::vector<std::string>{"llc_occupancy", "mbm_local_bytes", "mbm_total_bytes",
                                            "mon_sub_L3_03", "mon_sub_L3_04", "mon_sub_L3_05"});
    std::string out;
    CHECK(f.model->read(splitPath("g/mon_data/mon_L3_00/mon_sub_L3_03/llc_occupancy"), out) ==
          ENOENT);

    MountOptions mbps;
    mbps.mbaMbps = true;
    CHECK_THROWS_AS(Fixture("gnr-2s-snc3", "6.15", mbps), MountError);
    Fixture old("gnr-2s-snc3", "6.1", mbps);
    CHECK(old.read("info/L3_MON/num_rmids") == "512\n");
}

TEST_CASE("profile files describe NUMA nodes per L3", "[sim][snc]") {
    const std::string path = "/tmp/resctrlfs-sim-unit-snc-" + std::to_string(::getpid()) + ".ini";
    {
        FILE* f = std::fopen(path.c_str(), "w");
        REQUIRE(f);
        std::fputs("[host]\ncpus = 32\nthreads_per_core = 2\ncores_per_l3 = 8\nl3_ids = 0,1\n"
                   "nodes_per_l3 = 2\nsnc = true\n[L3_MON]\nnum_rmids = 64\n",
                   f);
        std::fclose(f);
    }
    const Profile p = loadProfileFile(path);
    CHECK(p.nodesPerL3 == 2);
    CHECK(p.sncModel);
    CHECK(p.nodeOf(4) == 1);
    CHECK(p.nodeOf(8) == 2);
    {
        FILE* f = std::fopen(path.c_str(), "w");
        REQUIRE(f);
        std::fputs("[host]\ncpus = 32\nthreads_per_core = 2\ncores_per_l3 = 8\nl3_ids = 0,1\n"
                   "nodes_per_l3 = 3\n[L3_MON]\n",
                   f);
        std::fclose(f);
    }
    CHECK_THROWS_WITH(loadProfileFile(path), Catch::Contains("multiple of nodes_per_l3"));
    std::remove(path.c_str());
}
