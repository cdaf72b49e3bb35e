// SPDX-License-Identifier: LGPL-2.1-or-later
// The daemon on today's servers, on resctrlfs-sim's gnr-2s-snc3 profile (Granite Rapids with
// Sub-NUMA Clustering, 3 nodes per L3, sparse masks allowed): per-node counters beside the L3
// sums, sizes in the capacity a way holds per node, RMIDs as the kernel divides them, and
// SparseMasks=yes placing in non-contiguous free ways.
#include <bit>
#include <cstdint>
#include <map>
#include <string>

#include "domains_fixture.h"

using namespace resctrld::e2e;
using namespace resctrld::e2e::domains;

namespace {

using Counters = std::map<std::uint32_t, std::uint64_t>;
using States = std::map<std::uint32_t, std::string>;

constexpr const char* kProfile = "gnr-2s-snc3";
// 480 MiB, 15 ways: the kernel's size file says 32 MiB a way; with 3 SNC nodes a way holds a
// third of that on each node, so 32 MiB per node takes 3 ways.
constexpr std::uint64_t kKernelWay = 32ULL << 20;

std::string monitorPath(Fixture& f, const std::string& domainPath) {
    return f.paths(domainPath, "Monitors").at(0);
}

Counters sample(Fixture& f, const std::string& monitor) {
    auto proxy = sdbus::createProxy(*f.connection, kService, monitor);
    Counters occupancy;
    proxy->callMethod("Sample").onInterface(kMonitor).storeResultsTo(occupancy);
    return occupancy;
}

} // namespace

TEST_CASE("gnr-2s-snc3: a monitor publishes each SNC node's occupancy beside the L3 sums",
          "[e2e][modern][snc]") {
    Fixture f(kProfile);
    FakeVm& vm = f.spawn(2);
    const auto path =
        f.start(Domain("snc").vcpus(2).cachetune("0-1", l3(0, 32_MiB) + monitor("0-1")),
                vm.threadsOf({0, 1}));
    const std::string monitor = monitorPath(f, path);
    // Node 1 is on L3 0, node 4 on L3 1 (node ids go on counting on the second socket).
    f.sim.setControl("node_footprint",
                     std::to_string(vm.tid(0)) + " 1 " + std::to_string(4 * 65536) + "\n" +
                         std::to_string(vm.tid(1)) + " 4 " + std::to_string(2 * 65536) + "\n");
    REQUIRE(f.waitFor([&] {
        return sample(f, monitor).count(1) == 1 &&
               f.property<Counters>(monitor, kMonitor, "NodeOccupancy").count(4) == 1 &&
               f.property<Counters>(monitor, kMonitor, "NodeOccupancy").at(4) == 2 * 65536;
    }));
    const auto nodes = f.property<Counters>(monitor, kMonitor, "NodeOccupancy");
    const auto l3 = f.property<Counters>(monitor, kMonitor, "CacheOccupancy");
    INFO("NodeOccupancy " << nodes.size() << " entries");
    CHECK(nodes.size() == 6);
    CHECK(nodes.at(1) == 4 * 65536);
    CHECK(nodes.at(4) == 2 * 65536);
    // The L3 value is the kernel's sum over that L3's nodes.
    CHECK(l3.at(0) == nodes.at(0) + nodes.at(1) + nodes.at(2));
    CHECK(l3.at(1) == nodes.at(3) + nodes.at(4) + nodes.at(5));
    const auto states = f.property<States>(monitor, kMonitor, "NodeCounterStates");
    CHECK(states == States{{0, "ok"}, {1, "ok"}, {2, "ok"}, {3, "ok"}, {4, "ok"}, {5, "ok"}});

    // resctrlctl show lists the nodes under the L3s.
    Process cli({RESCTRLCTL_BINARY, "--bus", f.bus.address(), "--bytes", "show", "snc"},
                f.dir.path());
    REQUIRE(cli.waitExit(std::chrono::seconds(30)) == 0);
    const std::string shown = cli.stdoutText();
    INFO(shown);
    CHECK_THAT(shown, Catch::Contains("  node 1: occupancy 262144,") &&
                          Catch::Contains("  node 4: occupancy 131072,") &&
                          Catch::Contains("  node 5: occupancy 0,"));
}

TEST_CASE("gnr-2s-snc3: a node whose counter fails has a state and no value, the others go on",
          "[e2e][modern][snc]") {
    Fixture f(kProfile);
    FakeVm& vm = f.spawn(2);
    const auto path =
        f.start(Domain("snc").vcpus(2).cachetune("0-1", l3(0, 32_MiB) + monitor("0-1")),
                vm.threadsOf({0, 1}));
    const std::string monitor = monitorPath(f, path);
    f.sim.setControl("node_counters", "2 * Unavailable\n");
    REQUIRE(f.waitFor([&] {
        sample(f, monitor);
        return f.property<States>(monitor, kMonitor, "NodeCounterStates").at(2) == "unavailable";
    }));
    const auto nodes = f.property<Counters>(monitor, kMonitor, "NodeOccupancy");
    CHECK(nodes.count(2) == 0);
    CHECK(nodes.count(1) == 1);
    // The kernel's sum is a number when any node of the L3 read.
    CHECK(f.property<States>(monitor, kMonitor, "CounterStates").at(0) == "ok");
}

TEST_CASE("gnr-2s-snc3: sizes are the capacity a way holds per node, not the kernel's size",
          "[e2e][modern][snc]") {
    Fixture f(kProfile);
    FakeVm& vm = f.spawn(2);
    const auto path =
        f.start(Domain("big").vcpus(2).cachetune("0-1", l3(0, 32_MiB)), vm.threadsOf({0, 1}));
    const std::string group = "resctrld-big-vcpus_0-1";
    CHECK(std::popcount(maskOf(f.schemata(group), "L3", 0)) == 3);
    // The kernel's size file still counts whole kernel ways.
    CHECK(std::stoull(schemataValue(simtest::readFile(f.sim.at(group) / "size"), "L3", 0)) ==
          3 * kKernelWay);
    const auto caches = f.caches(f.paths(path, "Allocations").at(0));
    REQUIRE(caches.size() == 1);
    CHECK(std::get<3>(*caches.begin()) == 32ULL << 20);

    SECTION("a size that is a kernel way but not whole ways per node is refused, naming SNC") {
        FakeVm& other = f.spawn(1);
        const std::string before = f.snapshot();
        try {
            f.start(Domain("odd").vcpus(1).cachetune("0", l3(0, 16_MiB)), other.threadsOf({0}));
            FAIL("16 MiB was accepted");
        } catch (const sdbus::Error& e) {
            CHECK(e.getName() == "org.resctrld1.Error.InvalidDefinition");
            CHECK_THAT(e.getMessage(),
                       Catch::Contains("/ 3 SNC nodes") && Catch::Contains("16 MiB on L3 cache 0"));
        }
        CHECK(f.snapshot() == before);
    }
}

TEST_CASE("gnr-2s-snc3: RMIDs as the kernel divides them, and per-node GetStats keys",
          "[e2e][modern][snc]") {
    Fixture f(kProfile);
    CHECK(f.managerProperty("RmidsTotal") == 169);
    FakeVm& vm = f.spawn(2);
    const auto path =
        f.start(Domain("st").vcpus(2).cachetune("0-1", l3(0, 32_MiB) + monitor("0-1")),
                vm.threadsOf({0, 1}));
    f.sim.setControl("node_footprint",
                     std::to_string(vm.tid(0)) + " 2 " + std::to_string(3 * 65536) + "\n");
    auto domain = sdbus::createProxy(*f.connection, kService, path);
    std::map<std::string, sdbus::Variant> stats;
    // GetStats reads the counters itself (no sampling tick here). A fresh map each call: sdbus
    // fills a map by inserting, which keeps the values of keys already there.
    const bool found = f.waitFor([&] {
        stats.clear();
        domain->callMethod("GetStats").onInterface(kDomain).storeResultsTo(stats);
        return stats.count("resctrld.cache.monitor.0.node.2.bytes") == 1 &&
               stats.at("resctrld.cache.monitor.0.node.2.bytes").get<std::uint64_t>() == 3 * 65536;
    });
    REQUIRE(found);
    CHECK(stats.at("resctrld.cache.monitor.0.node.count").get<std::uint32_t>() == 6);
    CHECK(stats.at("resctrld.cache.monitor.0.node.2.id").get<std::uint32_t>() == 2);
    // libvirt's key for L3 0 holds the sum over its nodes 0-2.
    CHECK(stats.at("cpu.cache.monitor.0.bank.0.bytes").get<std::uint64_t>() == 3 * 65536);
}

TEST_CASE("gnr-2s-snc3: SparseMasks=yes places in non-contiguous ways only when no run fits",
          "[e2e][modern][sparse]") {
    const bool sparse = GENERATE(false, true);
    INFO("SparseMasks=" << (sparse ? "yes" : "no"));
    Fixture f(kProfile, "", "6.15", sparse ? "SparseMasks=yes\n" : "");
    // A foreign group in the middle of L3 0: ways 4-8 taken, 0-3 and 9-14 free (13-14 are
    // shareable_bits).
    std::filesystem::create_directory(f.sim.at("other"));
    simtest::writeFile(f.sim.at("other") / "schemata", "L3:0=1f0\n");
    FakeVm& vm = f.spawn(1);
    const std::string before = f.snapshot();
    // 9 ways (96 MiB per node): ten ways are free, the longest run is six.
    const std::string definition = Domain("sp").vcpus(1).cachetune("0", l3(0, 96_MiB));
    if (!sparse) {
        try {
            f.start(definition, vm.threadsOf({0}));
            FAIL("8 ways were placed without SparseMasks");
        } catch (const sdbus::Error& e) {
            CHECK(e.getName() == "org.resctrld1.Error.NoSpace");
        }
        CHECK(f.snapshot() == before);
        return;
    }
    f.start(definition, vm.threadsOf({0}));
    const auto mask = maskOf(f.schemata("resctrld-sp-vcpus_0"), "L3", 0);
    CHECK(std::popcount(mask) == 9);
    CHECK((mask & 0x1f0) == 0);
    CHECK_FALSE(isContiguous(mask));
}
