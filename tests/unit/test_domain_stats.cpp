// SPDX-License-Identifier: LGPL-2.1-or-later
// GetStats' keys and values (docs/api.md, docs/definitions.md appendix §5.3).
#include <catch2/catch.hpp>

#include "domain_stats.h"

using namespace resctrld;

namespace {

PlannedMonitor monitor(const std::string& vcpus, MonitorKind kind) {
    PlannedMonitor planned;
    planned.vcpus = VcpuSet::parse(vcpus);
    planned.name = "vcpus_" + planned.vcpus.format();
    planned.kind = kind;
    return planned;
}

template <typename T> T value(const DomainStats& stats, const std::string& key) {
    INFO(key);
    REQUIRE(stats.count(key) == 1);
    REQUIRE(std::holds_alternative<T>(stats.at(key)));
    return std::get<T>(stats.at(key));
}

} // namespace

TEST_CASE("a domain without monitors reports only the cache monitor count", "[stats]") {
    const DomainStats stats = domainStats(Plan{}, {});
    CHECK(stats.size() == 1);
    CHECK(value<std::uint32_t>(stats, "cpu.cache.monitor.count") == 0);
}

TEST_CASE("cache and bandwidth monitors are numbered separately, in plan order", "[stats]") {
    Plan plan;
    plan.monitors = {monitor("0-1", MonitorKind::Cache),
                     monitor("0-3", MonitorKind::MemoryBandwidth),
                     monitor("2", MonitorKind::Cache)};
    MonitorSample cache0;
    cache0.occupancy = {{0, 1000}, {1, 2000}};
    cache0.states = {{0, CounterState::Ok}, {1, CounterState::Ok}};
    MonitorSample bandwidth;
    bandwidth.bytesTotal = {{0, 500}};
    bandwidth.bytesLocal = {{0, 300}};
    bandwidth.states = {{0, CounterState::Ok}, {1, CounterState::Unavailable}};
    MonitorSample cache1;
    cache1.occupancy = {{1, 7}};
    cache1.states = {{0, CounterState::Error}, {1, CounterState::Ok}};
    const std::vector<MonitorSample> samples{cache0, bandwidth, cache1};

    const DomainStats stats = domainStats(plan, samples);

    CHECK(value<std::uint32_t>(stats, "cpu.cache.monitor.count") == 2);
    CHECK(value<std::string>(stats, "cpu.cache.monitor.0.name") == "vcpus_0-1");
    CHECK(value<std::string>(stats, "cpu.cache.monitor.0.vcpus") == "0-1");
    CHECK(value<std::uint32_t>(stats, "cpu.cache.monitor.0.bank.count") == 2);
    CHECK(value<std::uint32_t>(stats, "cpu.cache.monitor.0.bank.1.id") == 1);
    CHECK(value<std::uint64_t>(stats, "cpu.cache.monitor.0.bank.1.bytes") == 2000);
    CHECK(value<std::string>(stats, "cpu.cache.monitor.1.name") == "vcpus_2");
    // A bank whose counter is not ok keeps its id and has no bytes: never a fake 0.
    CHECK(value<std::uint32_t>(stats, "cpu.cache.monitor.1.bank.0.id") == 0);
    CHECK(stats.count("cpu.cache.monitor.1.bank.0.bytes") == 0);
    CHECK(value<std::uint64_t>(stats, "cpu.cache.monitor.1.bank.1.bytes") == 7);

    CHECK(value<std::uint32_t>(stats, "memory.bandwidth.monitor.count") == 1);
    CHECK(value<std::string>(stats, "memory.bandwidth.monitor.0.name") == "vcpus_0-3");
    CHECK(value<std::string>(stats, "memory.bandwidth.monitor.0.vcpus") == "0-3");
    CHECK(value<std::uint32_t>(stats, "memory.bandwidth.monitor.0.node.count") == 2);
    CHECK(value<std::uint32_t>(stats, "memory.bandwidth.monitor.0.node.0.id") == 0);
    CHECK(value<std::uint64_t>(stats, "memory.bandwidth.monitor.0.node.0.bytes.total") == 500);
    CHECK(value<std::uint64_t>(stats, "memory.bandwidth.monitor.0.node.0.bytes.local") == 300);
    CHECK(value<std::uint32_t>(stats, "memory.bandwidth.monitor.0.node.1.id") == 1);
    CHECK(stats.count("memory.bandwidth.monitor.0.node.1.bytes.total") == 0);
    CHECK(stats.count("memory.bandwidth.monitor.0.node.1.bytes.local") == 0);
}

TEST_CASE("on an SNC host every monitor also lists its nodes under resctrld keys", "[stats]") {
    Plan plan;
    plan.monitors = {monitor("0-1", MonitorKind::Cache),
                     monitor("0-1", MonitorKind::MemoryBandwidth)};
    MonitorSample cache;
    cache.occupancy = {{0, 196608}};
    cache.states = {{0, CounterState::Ok}};
    cache.nodes.occupancy = {{0, 65536}, {1, 131072}};
    cache.nodes.states = {{0, CounterState::Ok}, {1, CounterState::Ok}, {2, CounterState::Error}};
    MonitorSample bandwidth;
    bandwidth.bytesTotal = {{1, 900}};
    bandwidth.states = {{1, CounterState::Ok}};
    bandwidth.nodes.bytesTotal = {{3, 400}, {4, 500}};
    bandwidth.nodes.bytesLocal = {{3, 100}};
    bandwidth.nodes.states = {{3, CounterState::Ok}, {4, CounterState::Ok}};
    const std::vector<MonitorSample> samples{cache, bandwidth};

    const DomainStats stats = domainStats(plan, samples);

    CHECK(value<std::uint32_t>(stats, "resctrld.cache.monitor.0.node.count") == 3);
    CHECK(value<std::uint32_t>(stats, "resctrld.cache.monitor.0.node.1.id") == 1);
    CHECK(value<std::uint64_t>(stats, "resctrld.cache.monitor.0.node.1.bytes") == 131072);
    CHECK(stats.count("resctrld.cache.monitor.0.node.2.bytes") == 0);
    CHECK(value<std::uint32_t>(stats, "resctrld.memory.bandwidth.monitor.0.node.1.id") == 4);
    CHECK(value<std::uint64_t>(stats, "resctrld.memory.bandwidth.monitor.0.node.0.bytes.local") ==
          100);
    CHECK(value<std::uint64_t>(stats, "resctrld.memory.bandwidth.monitor.0.node.1.bytes.total") ==
          500);
    // libvirt's own keys stay as they were.
    CHECK(value<std::uint64_t>(stats, "cpu.cache.monitor.0.bank.0.bytes") == 196608);
}

TEST_CASE("without SNC there are no node keys", "[stats]") {
    Plan plan;
    plan.monitors = {monitor("0", MonitorKind::Cache)};
    MonitorSample cache;
    cache.occupancy = {{0, 1}};
    cache.states = {{0, CounterState::Ok}};
    const DomainStats stats = domainStats(plan, std::vector<MonitorSample>{cache});
    for (const auto& [key, v] : stats)
        CHECK_FALSE(key.starts_with("resctrld."));
}
