// SPDX-License-Identifier: LGPL-2.1-or-later
// The exporter's metric mapping: names, types and labels as the API reference's metrics table
// has them, no value series for a counter that is not ok, nothing but resctrld_up when down.
#include <catch2/catch.hpp>

#include "exposition.h"
#include "host_snapshot.h"
#include "metrics.h"

using namespace resctrld::exporter;

namespace {

const std::string kVm1 = "/org/resctrld1/domain/vm1";

HostSnapshot oneDomain() {
    HostSnapshot host;
    host.up = true;
    host.manager = {"0.1.0", "/sys/fs/resctrl", {"cdp", "mba_MBps"}, 7, 5, 160, 150, {}, {}};
    host.domains[kVm1] = {"vm1", "c7a5fdbd-edaf-9455-926a-d65c16db1809", "active"};
    MonitorSnapshot m;
    m.domainPath = kVm1;
    m.name = "vcpus_0-1";
    m.vcpus = {1, 0, 3};
    m.cacheOccupancy = {{0, 1048576}, {1, 2048}};
    m.memoryBytesTotal = {{0, 5000}, {1, 7000}};
    m.memoryBytesLocal = {{0, 4000}, {1, 6000}};
    m.counterStates = {{0, "ok"}, {1, "ok"}};
    host.monitors[kVm1 + "/monitor/0"] = m;
    AllocationSnapshot a;
    a.domainPath = kVm1;
    a.index = "0";
    a.caches = {{3, 0, "both", 3145728}};
    a.memoryBandwidth = {{0, 2000}};
    host.allocations[kVm1 + "/allocation/0"] = a;
    return host;
}

bool contains(const std::string& text, const std::string& line) {
    return text.find(line) != std::string::npos;
}

} // namespace

TEST_CASE("A daemon that is down gives resctrld_up 0 and no other series", "[exporter]") {
    std::string text = serialize(daemonFamilies(HostSnapshot{}), Exposition::Text);
    CHECK(contains(text, "resctrld_up 0\n"));
    CHECK_FALSE(contains(text, "resctrld_info"));
    CHECK_FALSE(contains(text, "resctrld_llc"));
}

TEST_CASE("Every series of a domain carries the names and labels of the metrics table",
          "[exporter]") {
    std::string text = serialize(daemonFamilies(oneDomain()), Exposition::Text);
    CHECK(contains(text, "resctrld_up 1\n"));
    CHECK(contains(text, "resctrld_info{mount_options=\"cdp,mba_MBps\",resctrl_root=\"/sys/fs/"
                         "resctrl\",version=\"0.1.0\"} 1\n"));
    CHECK(contains(text, "resctrld_closids{state=\"total\"} 7\n"));
    CHECK(contains(text, "resctrld_closids{state=\"free\"} 5\n"));
    CHECK(contains(text, "resctrld_rmids{state=\"free\"} 150\n"));
    CHECK(contains(text, "resctrld_domain_info{domain=\"vm1\",state=\"active\",uuid=\"c7a5fdbd-"
                         "edaf-9455-926a-d65c16db1809\"} 1\n"));
    CHECK(contains(
        text, "resctrld_monitor_info{domain=\"vm1\",monitor=\"vcpus_0-1\",vcpus=\"0-1,3\"} 1\n"));
    CHECK(contains(text, "# TYPE resctrld_llc_occupancy_bytes gauge\n"));
    CHECK(contains(text, "resctrld_llc_occupancy_bytes{cache_id=\"0\",domain=\"vm1\",monitor="
                         "\"vcpus_0-1\"} 1048576\n"));
    CHECK(contains(text, "# TYPE resctrld_memory_bandwidth_bytes_total counter\n"));
    CHECK(contains(text, "resctrld_memory_bandwidth_bytes_total{cache_id=\"1\",domain=\"vm1\","
                         "monitor=\"vcpus_0-1\",scope=\"local\"} 6000\n"));
    CHECK(contains(text, "resctrld_memory_bandwidth_bytes_total{cache_id=\"1\",domain=\"vm1\","
                         "monitor=\"vcpus_0-1\",scope=\"total\"} 7000\n"));
    CHECK(contains(text, "resctrld_counter_state{cache_id=\"0\",domain=\"vm1\",monitor=\"vcpus_"
                         "0-1\",state=\"ok\"} 1\n"));
    CHECK(contains(text, "resctrld_allocation_cache_bytes{allocation=\"0\",cache_id=\"0\",domain="
                         "\"vm1\",level=\"3\",type=\"both\"} 3145728\n"));
    CHECK(contains(text, "resctrld_allocation_memory_bandwidth{allocation=\"0\",domain=\"vm1\","
                         "node=\"0\",unit=\"MBps\"} 2000\n"));
}

TEST_CASE("A counter that is not ok loses its value series and keeps its state series",
          "[exporter]") {
    auto host = oneDomain();
    host.monitors.begin()->second.counterStates[1] = "unavailable";
    std::string text = serialize(daemonFamilies(host), Exposition::Text);
    CHECK(contains(text, "resctrld_llc_occupancy_bytes{cache_id=\"0\""));
    CHECK_FALSE(contains(text, "resctrld_llc_occupancy_bytes{cache_id=\"1\""));
    CHECK_FALSE(contains(text, "resctrld_memory_bandwidth_bytes_total{cache_id=\"1\""));
    CHECK(contains(text, "resctrld_counter_state{cache_id=\"1\",domain=\"vm1\",monitor=\"vcpus_"
                         "0-1\",state=\"unavailable\"} 1\n"));
}

TEST_CASE("Without mba_MBps the bandwidth unit is percent", "[exporter]") {
    auto host = oneDomain();
    host.manager.mountOptions = {};
    std::string text = serialize(daemonFamilies(host), Exposition::Text);
    CHECK(contains(text, "resctrld_info{mount_options=\"\","));
    CHECK(contains(text, "node=\"0\",unit=\"percent\"} 2000\n"));
}

TEST_CASE("A stopped domain leaves no series behind, not even empty families", "[exporter]") {
    auto host = oneDomain();
    host.domains.clear();
    std::string text = serialize(daemonFamilies(host), Exposition::Text);
    CHECK_FALSE(contains(text, "vm1"));
    CHECK_FALSE(contains(text, "resctrld_llc_occupancy_bytes"));
    CHECK(contains(text, "resctrld_closids{state=\"free\"} 5\n"));
}

TEST_CASE("Label values from the daemon are escaped in both formats", "[exporter]") {
    auto host = oneDomain();
    host.domains[kVm1].name = "a\"b\\c\nd";
    for (auto format : {Exposition::Text, Exposition::OpenMetrics}) {
        std::string page = serialize(daemonFamilies(host), format);
        CHECK(contains(page, "domain=\"a\\\"b\\\\c\\nd\""));
        CHECK_FALSE(contains(page, "a\"b"));
    }
}

TEST_CASE("The exporter's own counters", "[exporter]") {
    std::string text = serialize(exporterFamilies({12, 3}), Exposition::Text);
    CHECK(contains(text, "# TYPE resctrld_exporter_scrapes_total counter\n"));
    CHECK(contains(text, "resctrld_exporter_scrapes_total 12\n"));
    CHECK(contains(text, "resctrld_exporter_errors_total 3\n"));
}

TEST_CASE("Object paths name their domain and index", "[exporter]") {
    CHECK(parentDomainPath(kVm1 + "/monitor/12") == kVm1);
    CHECK(lastPathComponent(kVm1 + "/monitor/12") == "12");
    CHECK(parentDomainPath("/x") == "");
}

TEST_CASE("OpenMetrics: counters are typed by their family name, samples end in _total",
          "[exporter]") {
    std::string page = serialize(daemonFamilies(oneDomain()), Exposition::OpenMetrics);
    CHECK(contains(page, "# TYPE resctrld_memory_bandwidth_bytes counter\n"
                         "# UNIT resctrld_memory_bandwidth_bytes bytes\n"));
    CHECK(contains(page, "resctrld_memory_bandwidth_bytes_total{cache_id=\"0\",domain=\"vm1\","
                         "monitor=\"vcpus_0-1\",scope=\"total\"} 5000\n"));
    CHECK_FALSE(contains(page, "# TYPE resctrld_memory_bandwidth_bytes_total"));
    CHECK(contains(page, "# TYPE resctrld_llc_occupancy_bytes gauge\n"
                         "# UNIT resctrld_llc_occupancy_bytes bytes\n"));
    CHECK(contains(page, "resctrld_llc_occupancy_bytes{cache_id=\"0\",domain=\"vm1\",monitor="
                         "\"vcpus_0-1\"} 1048576\n"));
    // Gauges without a unit suffix get no UNIT line.
    CHECK(contains(page, "# TYPE resctrld_closids gauge\n# HELP resctrld_closids "));
    CHECK_FALSE(contains(page, "# EOF"));
    CHECK(endOfPage(Exposition::OpenMetrics) == "# EOF\n");
    CHECK(endOfPage(Exposition::Text).empty());

    std::string own = serialize(exporterFamilies({12, 3}), Exposition::OpenMetrics);
    CHECK(contains(own, "# TYPE resctrld_exporter_scrapes counter\n"));
    CHECK(contains(own, "resctrld_exporter_scrapes_total 12\n"));
}

TEST_CASE("The Accept header picks the format", "[exporter]") {
    // Prometheus 2.x asks for OpenMetrics first and takes the text format at a lower quality.
    CHECK(negotiate("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1") ==
          Exposition::OpenMetrics);
    CHECK(negotiate("application/openmetrics-text; version=1.0.0") == Exposition::OpenMetrics);
    CHECK(negotiate("APPLICATION/OpenMetrics-Text") == Exposition::OpenMetrics);
    CHECK(negotiate("") == Exposition::Text);
    CHECK(negotiate("*/*") == Exposition::Text);
    CHECK(negotiate("text/plain") == Exposition::Text);
    CHECK(negotiate("text/plain;version=0.0.4") == Exposition::Text);
    CHECK(negotiate("application/openmetrics-text;q=0") == Exposition::Text);
    CHECK(negotiate("text/plain;q=0.9,application/openmetrics-text;q=0.5") == Exposition::Text);
    CHECK(negotiate("text/plain;q=0.5,application/openmetrics-text;q=0.9") ==
          Exposition::OpenMetrics);
    CHECK(negotiate("*/*;q=0.9,application/openmetrics-text;q=0.5") == Exposition::Text);
    CHECK(negotiate("application/openmetrics-text;q=junk") == Exposition::Text);
    CHECK(contentType(Exposition::OpenMetrics) ==
          std::string("application/openmetrics-text; version=1.0.0; charset=utf-8"));
    CHECK(contentType(Exposition::Text) == std::string("text/plain; version=0.0.4; charset=utf-8"));
}

TEST_CASE("A cache and a bandwidth monitor over the same vCPUs give one set of series",
          "[exporter]") {
    auto host = oneDomain();
    // The cache monitor reads occupancy, the bandwidth monitor bytes; both have states.
    auto& cache = host.monitors.begin()->second;
    auto memory = cache;
    cache.memoryBytesTotal.clear();
    cache.memoryBytesLocal.clear();
    memory.cacheOccupancy.clear();
    memory.counterStates[1] = "unavailable";
    host.monitors[kVm1 + "/monitor/1"] = memory;
    for (auto format : {Exposition::Text, Exposition::OpenMetrics}) {
        std::string page = serialize(daemonFamilies(host), format);
        auto count = [&](const std::string& line) {
            std::size_t n = 0;
            for (auto at = page.find(line); at != std::string::npos; at = page.find(line, at + 1))
                ++n;
            return n;
        };
        CHECK(count("resctrld_monitor_info{domain=\"vm1\",monitor=\"vcpus_0-1\"") == 1);
        CHECK(count("resctrld_llc_occupancy_bytes{cache_id=\"0\",domain=\"vm1\"") == 1);
        CHECK(count("resctrld_memory_bandwidth_bytes_total{cache_id=\"0\",domain=\"vm1\","
                    "monitor=\"vcpus_0-1\",scope=\"total\"}") == 1);
        CHECK(count("resctrld_counter_state{cache_id=\"0\",domain=\"vm1\"") == 1);
        // Different states of the two are two series.
        CHECK(count("resctrld_counter_state{cache_id=\"1\",domain=\"vm1\"") == 2);
    }
}

TEST_CASE("Counter budgets and assignments are series on hosts that assign counters",
          "[exporter]") {
    auto host = oneDomain();
    host.manager.countersTotal = {{0, 32}, {1, 32}};
    host.manager.countersFree = {{0, 0}, {1, 4}};
    auto& m = host.monitors.begin()->second;
    m.countersAssigned = {{0, false}, {1, true}};
    m.counterStates[0] = "unassigned";
    std::string text = serialize(daemonFamilies(host), Exposition::Text);
    CHECK(contains(text, "# TYPE resctrld_counters gauge\n"));
    CHECK(contains(text, "resctrld_counters{cache_id=\"0\",state=\"total\"} 32\n"));
    CHECK(contains(text, "resctrld_counters{cache_id=\"1\",state=\"free\"} 4\n"));
    CHECK(contains(text, "resctrld_monitor_counters_assigned{cache_id=\"0\",domain=\"vm1\","
                         "monitor=\"vcpus_0-1\"} 0\n"));
    CHECK(contains(text, "resctrld_monitor_counters_assigned{cache_id=\"1\",domain=\"vm1\","
                         "monitor=\"vcpus_0-1\"} 1\n"));
    // A monitor waiting for counters has no bandwidth value there, never a 0.
    CHECK_FALSE(contains(text, "resctrld_memory_bandwidth_bytes_total{cache_id=\"0\""));
    CHECK(contains(text, "state=\"unassigned\"} 1\n"));
}

TEST_CASE("Hosts without counter assignment have no counter series", "[exporter]") {
    std::string text = serialize(daemonFamilies(oneDomain()), Exposition::Text);
    CHECK_FALSE(contains(text, "resctrld_counters"));
    CHECK_FALSE(contains(text, "resctrld_monitor_counters_assigned"));
}

TEST_CASE("SNC nodes and SMBA caps have the series of the metrics table", "[exporter]") {
    auto host = oneDomain();
    MonitorSnapshot& m = host.monitors.begin()->second;
    m.nodeOccupancy = {{0, 65536}, {4, 131072}};
    m.nodeBytesTotal = {{0, 900}, {4, 100}};
    m.nodeBytesLocal = {{0, 800}};
    m.nodeCounterStates = {{0, "ok"}, {4, "ok"}, {5, "error"}};
    host.allocations.begin()->second.slowMemoryBandwidth = {{1, 64}};
    const std::string text = serialize(daemonFamilies(host), Exposition::Text);
    CHECK(contains(text, "# TYPE resctrld_node_llc_occupancy_bytes gauge\n"));
    CHECK(contains(text, "resctrld_node_llc_occupancy_bytes{domain=\"vm1\",monitor=\"vcpus_0-1\","
                         "node=\"4\"} 131072\n"));
    CHECK(contains(text, "# TYPE resctrld_node_memory_bandwidth_bytes_total counter\n"));
    CHECK(contains(text, "resctrld_node_memory_bandwidth_bytes_total{domain=\"vm1\",monitor="
                         "\"vcpus_0-1\",node=\"0\",scope=\"local\"} 800\n"));
    CHECK(contains(text, "resctrld_node_memory_bandwidth_bytes_total{domain=\"vm1\",monitor="
                         "\"vcpus_0-1\",node=\"4\",scope=\"total\"} 100\n"));
    CHECK(contains(text, "resctrld_allocation_slow_memory_bandwidth{allocation=\"0\",domain="
                         "\"vm1\",node=\"1\",unit=\"1/8 GB/s\"} 64\n"));

    SECTION("a node that is not ok has no value series") {
        m.nodeCounterStates[4] = "unavailable";
        const std::string again = serialize(daemonFamilies(host), Exposition::Text);
        CHECK_FALSE(contains(again, "node=\"4\""));
        CHECK(contains(again, "resctrld_node_llc_occupancy_bytes{domain=\"vm1\",monitor="
                              "\"vcpus_0-1\",node=\"0\"} 65536\n"));
    }
}

TEST_CASE("Without SNC or SMBA there are no node or slow-memory families", "[exporter]") {
    const std::string text = serialize(daemonFamilies(oneDomain()), Exposition::Text);
    CHECK_FALSE(contains(text, "resctrld_node_"));
    CHECK_FALSE(contains(text, "slow_memory"));
}
