// SPDX-License-Identifier: LGPL-2.1-or-later
// The daemon on today's servers, on resctrlfs-sim's turin-2s profile (AMD EPYC, kernel 6.19:
// 32 L3 caches of 16 ways, 2 MiB a way, sparse masks allowed, io_alloc, SMBA, BMEC): the ways
// and the CLOSID io_alloc reserves taken and shown, never switched; <rd:slowmemorytune> as the
// SMBA line; the BMEC event masks in the capabilities, never written; SparseMasks= around the
// I/O ways. Per-node counters (SNC) are tested on gnr-2s-snc3 (test_modern.cpp).
#include <bit>
#include <cstdint>
#include <map>
#include <string>

#include "domains_fixture.h"

using namespace resctrld::e2e;
using namespace resctrld::e2e::domains;

namespace {

using Ways = std::map<std::uint32_t, std::string>;
using NodeValues = std::vector<sdbus::Struct<std::uint32_t, std::uint32_t>>;

constexpr const char* kProfile = "turin-2s";
constexpr const char* kKernel = "6.19";
// io_alloc holds ways 4-11 of L3 0; ways 0-3 and 12-15 stay free there.
constexpr std::uint64_t kIoWays = 0x0ff0;

// An administrator switches io_alloc on and gives I/O the middle of L3 0 before the daemon
// starts (switching it on needs the highest CLOSID free).
void enableIoAlloc(const SimInstance& sim) {
    REQUIRE(simtest::writeFile(sim.at("info/L3/io_alloc"), "1\n") == 0);
    REQUIRE(simtest::writeFile(sim.at("info/L3/io_alloc_cbm"), "0=ff0\n") == 0);
}

// "0=ff0;1=ffff;..." as cache id -> mask.
std::map<std::uint32_t, std::uint64_t> parseIds(const std::string& text) {
    std::map<std::uint32_t, std::uint64_t> masks;
    std::istringstream entries(text);
    std::string entry;
    while (std::getline(entries, entry, ';')) {
        const auto eq = entry.find('=');
        REQUIRE(eq != std::string::npos);
        masks[static_cast<std::uint32_t>(std::stoul(entry.substr(0, eq)))] =
            std::stoull(entry.substr(eq + 1), nullptr, 16);
    }
    return masks;
}

std::map<std::uint32_t, std::uint64_t> parseWays(const Ways& ways) {
    std::map<std::uint32_t, std::uint64_t> masks;
    for (const auto& [id, mask] : ways)
        masks[id] = std::stoull(mask, nullptr, 16);
    return masks;
}

Ways ioAllocWays(Fixture& f) {
    return f.manager->getProperty("IoAllocWays").onInterface(kManager).get<Ways>();
}

using Holders = std::vector<sdbus::Struct<std::string, std::string, std::string>>;
using CacheLayout = std::vector<sdbus::Struct<std::string, std::uint32_t, std::uint32_t,
                                              std::uint64_t, std::string, std::string, Holders>>;
using BandwidthLayout =
    std::vector<sdbus::Struct<std::string, std::string, std::uint32_t, Holders>>;

std::pair<CacheLayout, BandwidthLayout> layout(Fixture& f) {
    CacheLayout caches;
    BandwidthLayout bandwidth;
    f.manager->callMethod("GetLayout").onInterface(kManager).storeResultsTo(caches, bandwidth);
    return {caches, bandwidth};
}

std::string capabilities(Fixture& f) {
    std::string xml;
    f.manager->callMethod("GetCapabilities").onInterface(kManager).storeResultsTo(xml);
    return xml;
}

std::string slowMemoryTune(const std::string& vcpus, const std::string& nodes) {
    return "<slowmemorytune vcpus='" + vcpus + "'>" + nodes + "</slowmemorytune>";
}

} // namespace

TEST_CASE("turin-2s: the I/O ways are published and shown, and io_alloc is never written",
          "[e2e][modern][ioalloc]") {
    Fixture f(kProfile, "", kKernel, "", enableIoAlloc);
    const std::string ioAllocBefore = simtest::readFile(f.sim.at("info/L3/io_alloc"));
    const std::string cbmBefore = simtest::readFile(f.sim.at("info/L3/io_alloc_cbm"));
    REQUIRE(ioAllocBefore == "enabled\n");

    // The property is the kernel's file, cache id by cache id.
    const Ways ways = ioAllocWays(f);
    CHECK(ways.size() == 32);
    CHECK(parseWays(ways) == parseIds(cbmBefore));
    CHECK(ways.at(0) == "ff0");

    FakeVm& vm = f.spawn(1);
    f.start(Domain("io").vcpus(1).cachetune("0", l3(0, 8_MiB)), vm.threadsOf({0}));
    const std::uint64_t mask = maskOf(f.schemata("resctrld-io-vcpus_0"), "L3", 0);
    CHECK(std::popcount(mask) == 4);
    CHECK((mask & kIoWays) == 0);

    const auto [caches, bandwidth] = layout(f);
    bool shown = false;
    for (const auto& cache : caches)
        if (cache.get<0>() == "L3" && cache.get<1>() == 0) {
            shown = true;
            CHECK(cache.get<5>() == "ff0");
        }
    CHECK(shown);

    f.stop("io");
    CHECK(simtest::readFile(f.sim.at("info/L3/io_alloc")) == ioAllocBefore);
    CHECK(simtest::readFile(f.sim.at("info/L3/io_alloc_cbm")) == cbmBefore);
}

TEST_CASE("turin-2s: the CLOSID io_alloc reserves is out of the budget", "[e2e][modern][ioalloc]") {
    Fixture f(kProfile, "", kKernel, "", enableIoAlloc);
    // 16 CLOSIDs: the default group's, I/O's (the highest) and 14 for groups.
    CHECK(f.managerProperty("ClosidsTotal") == 14);
    // Fourteen groups: one cache reservation and thirteen SMBA caps, one per vCPU.
    constexpr unsigned kGroups = 14;
    Domain full("full");
    full.vcpus(kGroups).cachetune("0", l3(0, 2_MiB)).inMetadata();
    for (unsigned v = 1; v < kGroups; ++v)
        full.tuning(slowMemoryTune(std::to_string(v), node(0, 64)));
    FakeVm& vm = f.spawn(kGroups);
    f.start(full, vm.vcpuThreads());
    CHECK(f.managerProperty("ClosidsFree") == 0);

    FakeVm& other = f.spawn(1);
    const std::string before = f.snapshot();
    const std::string cbmBefore = simtest::readFile(f.sim.at("info/L3/io_alloc_cbm"));
    const sdbus::Error error = errorOf([&] {
        f.start(Domain("more").vcpus(1).cachetune("0", l3(0, 2_MiB)), other.threadsOf({0}));
    });
    CHECK(error.getName() == "org.resctrld1.Error.NoSpace");
    CHECK_THAT(error.getMessage(), Catch::Contains("14 control groups") &&
                                       Catch::Contains("14 by resctrld, 0 by other tools"));
    CHECK(f.snapshot() == before);
    CHECK(simtest::readFile(f.sim.at("info/L3/io_alloc")) == "enabled\n");
    CHECK(simtest::readFile(f.sim.at("info/L3/io_alloc_cbm")) == cbmBefore);
}

TEST_CASE("turin-2s: reading IoAllocWays reads no file, and a changed mask is announced",
          "[e2e][modern][ioalloc]") {
    Fixture f(kProfile, "", kKernel, "CheckIntervalSec=0.5\n", enableIoAlloc);
    // The next read of io_alloc_cbm fails. No domain runs, so no periodic check reads it.
    f.sim.setControl("faults", "read info/L3/io_alloc_cbm 1 EIO\n");
    // Any local user may read the property: several reads as nobody, each answered with the
    // ways the daemon read at discovery.
    for (int i = 0; i < 3; ++i) {
        const CallResult result =
            runAsUser(f.bus.address(), kNobody, kNogroup, {}, [](sdbus::IConnection& bus) {
                auto proxy = sdbus::createProxy(bus, kService, kRootPath);
                const auto ways =
                    proxy->getProperty("IoAllocWays").onInterface(kManager).get<Ways>();
                if (ways.size() != 32 || ways.at(0) != "ff0")
                    throw std::runtime_error("IoAllocWays has " + std::to_string(ways.size()) +
                                             " entries");
            });
        INFO(result.errorName << ": " << result.errorMessage);
        CHECK(result.ok);
    }
    // The fault is still armed: none of those gets read the file.
    std::string text;
    CHECK(simtest::readFile(f.sim.at("info/L3/io_alloc_cbm"), text) == EIO);
    REQUIRE(simtest::readFile(f.sim.at("info/L3/io_alloc_cbm"), text) == 0);

    // Another tool changes the I/O ways while a domain runs: the periodic check reads the file
    // again and announces the new mask.
    std::optional<Ways> announced;
    auto properties = sdbus::createProxy(*f.connection, kService, kRootPath);
    properties->uponSignal("PropertiesChanged")
        .onInterface(kProperties)
        .call([&](const std::string& interface,
                  const std::map<std::string, sdbus::Variant>& changed,
                  const std::vector<std::string>&) {
            if (interface == kManager && changed.count("IoAllocWays"))
                announced = changed.at("IoAllocWays").get<Ways>();
        });
    properties->finishRegistration();
    FakeVm& vm = f.spawn(1);
    f.start(Domain("io").vcpus(1).cachetune("0", l3(0, 2_MiB)), vm.threadsOf({0}));
    REQUIRE(simtest::writeFile(f.sim.at("info/L3/io_alloc_cbm"), "0=3000\n") == 0);
    REQUIRE(f.waitFor([&] { return announced.has_value(); }));
    CHECK(announced->at(0) == "3000");
    CHECK(ioAllocWays(f).at(0) == "3000");
    CHECK(ioAllocWays(f).at(1) == "ffff");
}

TEST_CASE("turin-2s: <rd:slowmemorytune> is the group's SMBA line, on the bus and in the layout",
          "[e2e][modern][smba]") {
    Fixture f(kProfile, "", kKernel);
    FakeVm& vm = f.spawn(2);
    const auto path = f.start(Domain("slow")
                                  .vcpus(2)
                                  .inMetadata()
                                  .cachetune("0-1", l3(0, 4_MiB))
                                  .tuning(slowMemoryTune("0-1", node(0, 64) + node(3, 128))),
                              vm.threadsOf({0, 1}));
    const std::string group = "resctrld-slow-vcpus_0-1";
    const std::string schemata = f.schemata(group);
    INFO(schemata);
    CHECK(schemataValue(schemata, "SMBA", 0) == "64");
    CHECK(schemataValue(schemata, "SMBA", 3) == "128");
    // Nodes not named keep the default group's value.
    CHECK(schemataValue(schemata, "SMBA", 1) == schemataValue(f.schemata(), "SMBA", 1));
    CHECK(std::popcount(maskOf(schemata, "L3", 0)) == 2);

    const std::string allocation = f.paths(path, "Allocations").at(0);
    std::set<std::pair<std::uint32_t, std::uint32_t>> values;
    for (const auto& v : f.property<NodeValues>(allocation, kAllocation, "SlowMemoryBandwidth"))
        values.emplace(v.get<0>(), v.get<1>());
    CHECK(values == std::set<std::pair<std::uint32_t, std::uint32_t>>{{0, 64}, {3, 128}});

    const auto [caches, bandwidth] = layout(f);
    std::map<std::uint32_t, std::string> shown;
    for (const auto& entry : bandwidth)
        if (entry.get<0>() == "SMBA")
            for (const auto& holder : entry.get<3>())
                if (holder.get<0>() == group) {
                    CHECK(holder.get<1>() == "domain:slow");
                    shown[entry.get<2>()] = holder.get<2>();
                }
    CHECK(shown.at(0) == "64");
    CHECK(shown.at(3) == "128");
    CHECK(shown.size() == 32);
}

TEST_CASE("turin-2s: a bad <rd:slowmemorytune> is refused and leaves resctrl alone",
          "[e2e][modern][smba]") {
    Fixture f(kProfile, "", kKernel);
    FakeVm& vm = f.spawn(2);
    struct Bad {
        std::string nodes;
        std::string message;
    };
    // One daemon for every case: each refusal must leave it as the last one did.
    for (const Bad& bad :
         {Bad{node(0, 2049), "slowmemorytune vcpus='0-1': bandwidth 2049 on SMBA node 0 is above "
                             "the host's maximum 2048"},
          Bad{node(2, 64) + node(2, 32), "<node id='2'> is given twice"},
          Bad{"<node id='0' bandwidth='fast'/>", "bandwidth"}}) {
        INFO(bad.nodes);
        const std::string before = f.snapshot();
        const sdbus::Error error = errorOf([&] {
            f.start(Domain("bad").vcpus(2).inMetadata().tuning(slowMemoryTune("0-1", bad.nodes)),
                    vm.threadsOf({0, 1}));
        });
        CHECK(error.getName() == "org.resctrld1.Error.InvalidDefinition");
        CHECK_THAT(error.getMessage(), Catch::Contains(bad.message));
        CHECK(f.snapshot() == before);
        CHECK(f.domainNames().empty());
    }
}

TEST_CASE("turin-2s: the BMEC event masks are in the capabilities and never written",
          "[e2e][modern][bmec]") {
    // In mbm_event mode the kernel hides the BMEC files: the profile booted in default mode.
    const auto prepare = [](const SimInstance& sim) {
        REQUIRE(simtest::writeFile(sim.at("info/L3_MON/mbm_total_bytes_config"), "0=0x33\n") == 0);
        REQUIRE(simtest::writeFile(sim.at("info/L3_MON/mbm_local_bytes_config"), "5=0x01\n") == 0);
        // Any write to either file from now on fails once.
        sim.setControl("faults", "write info/L3_MON/mbm_*_bytes_config 1 EIO\n");
    };
    Fixture f("turin-2s-default-mode", "", kKernel, "", prepare);
    const auto total = f.sim.at("info/L3_MON/mbm_total_bytes_config");
    const auto local = f.sim.at("info/L3_MON/mbm_local_bytes_config");
    const std::string totalBefore = simtest::readFile(total);
    const std::string localBefore = simtest::readFile(local);

    std::string xml = capabilities(f);
    INFO(xml);
    CHECK_THAT(xml, Catch::Contains("<feature name='mbm_total_bytes' events='0=0x33;1=0x7f;") &&
                        Catch::Contains(";4=0x15;5=0x01;6=0x15;"));

    // A domain with bandwidth monitors started and stopped: nothing writes the masks.
    FakeVm& vm = f.spawn(2);
    f.start(Domain("bw").vcpus(2).memorytune("0-1", memoryMonitor("0") + memoryMonitor("1")),
            vm.threadsOf({0, 1}));
    f.stop("bw");
    CHECK(simtest::readFile(total) == totalBefore);
    CHECK(simtest::readFile(local) == localBefore);
    // The fault is still armed: our own write is the first one.
    CHECK(simtest::writeFile(total, "0=0x11\n") == EIO);

    // The masks are read when the host is discovered: a restarted daemon shows the new ones.
    REQUIRE(simtest::writeFile(total, "0=0x11\n") == 0);
    f.killDaemon();
    f.startDaemon();
    xml = capabilities(f);
    CHECK_THAT(xml, Catch::Contains("<feature name='mbm_total_bytes' events='0=0x11;1=0x7f;"));
}

TEST_CASE("turin-2s: SparseMasks=yes places around the I/O ways when no run fits",
          "[e2e][modern][sparse][ioalloc]") {
    const bool sparse = GENERATE(false, true);
    INFO("SparseMasks=" << (sparse ? "yes" : "no"));
    Fixture f(kProfile, "", kKernel, sparse ? "SparseMasks=yes\n" : "", enableIoAlloc);
    FakeVm& vm = f.spawn(1);
    const std::string before = f.snapshot();
    // 6 ways: eight are free, in two runs of four.
    const std::string definition = Domain("sp").vcpus(1).cachetune("0", l3(0, 12_MiB));
    if (!sparse) {
        CHECK(errorOf([&] { f.start(definition, vm.threadsOf({0})); }).getName() ==
              "org.resctrld1.Error.NoSpace");
        CHECK(f.snapshot() == before);
        return;
    }
    f.start(definition, vm.threadsOf({0}));
    const std::uint64_t mask = maskOf(f.schemata("resctrld-sp-vcpus_0"), "L3", 0);
    CHECK(std::popcount(mask) == 6);
    CHECK((mask & kIoWays) == 0);
    CHECK_FALSE(isContiguous(mask));
}
