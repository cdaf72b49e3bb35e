// SPDX-License-Identifier: LGPL-2.1-or-later
// The exporter's metric mapping: names, types and labels as the API reference's metrics table
// has them, no value series for a counter that is not ok, nothing but resctrld_up when down.
#include <catch2/catch.hpp>

#include "host_snapshot.h"
#include "metrics.h"

using namespace resctrld::exporter;

namespace {

const std::string kVm1 = "/org/resctrld1/domain/vm1";

HostSnapshot oneDomain() {
    HostSnapshot host;
    host.up = true;
    host.manager = {"0.1.0", "/sys/fs/resctrl", {"cdp", "mba_MBps"}, 7, 5, 160, 150};
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
    std::string text = serializeText(daemonFamilies(HostSnapshot{}));
    CHECK(contains(text, "resctrld_up 0\n"));
    CHECK_FALSE(contains(text, "resctrld_info"));
    CHECK_FALSE(contains(text, "resctrld_llc"));
}

TEST_CASE("Every series of a domain carries the names and labels of the metrics table",
          "[exporter]") {
    std::string text = serializeText(daemonFamilies(oneDomain()));
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
    std::string text = serializeText(daemonFamilies(host));
    CHECK(contains(text, "resctrld_llc_occupancy_bytes{cache_id=\"0\""));
    CHECK_FALSE(contains(text, "resctrld_llc_occupancy_bytes{cache_id=\"1\""));
    CHECK_FALSE(contains(text, "resctrld_memory_bandwidth_bytes_total{cache_id=\"1\""));
    CHECK(contains(text, "resctrld_counter_state{cache_id=\"1\",domain=\"vm1\",monitor=\"vcpus_"
                         "0-1\",state=\"unavailable\"} 1\n"));
}

TEST_CASE("Without mba_MBps the bandwidth unit is percent", "[exporter]") {
    auto host = oneDomain();
    host.manager.mountOptions = {};
    std::string text = serializeText(daemonFamilies(host));
    CHECK(contains(text, "resctrld_info{mount_options=\"\","));
    CHECK(contains(text, "node=\"0\",unit=\"percent\"} 2000\n"));
}

TEST_CASE("A stopped domain leaves no series behind, not even empty families", "[exporter]") {
    auto host = oneDomain();
    host.domains.clear();
    std::string text = serializeText(daemonFamilies(host));
    CHECK_FALSE(contains(text, "vm1"));
    CHECK_FALSE(contains(text, "resctrld_llc_occupancy_bytes"));
    CHECK(contains(text, "resctrld_closids{state=\"free\"} 5\n"));
}

TEST_CASE("Label values from the daemon are escaped", "[exporter]") {
    auto host = oneDomain();
    host.domains[kVm1].name = "a\"b\\c\nd";
    std::string text = serializeText(daemonFamilies(host));
    CHECK(contains(text, "domain=\"a\\\"b\\\\c\\nd\""));
}

TEST_CASE("The exporter's own counters", "[exporter]") {
    std::string text = serializeText(exporterFamilies({12, 3}));
    CHECK(contains(text, "# TYPE resctrld_exporter_scrapes_total counter\n"));
    CHECK(contains(text, "resctrld_exporter_scrapes_total 12\n"));
    CHECK(contains(text, "resctrld_exporter_errors_total 3\n"));
}

TEST_CASE("Object paths name their domain and index", "[exporter]") {
    CHECK(parentDomainPath(kVm1 + "/monitor/12") == kVm1);
    CHECK(lastPathComponent(kVm1 + "/monitor/12") == "12");
    CHECK(parentDomainPath("/x") == "");
}
