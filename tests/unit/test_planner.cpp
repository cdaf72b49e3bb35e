// SPDX-License-Identifier: LGPL-2.1-or-later
#include <filesystem>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

#include "domain_definition.h"
#include "errors.h"
#include "planner.h"

using namespace resctrld;

namespace {

constexpr Bytes kMiB = 1024 * 1024;

// libvirt's `linux-resctrl` test host (docs/definitions.md appendix §6.1): two 15 MiB L3 caches
// with 20-bit masks (768 KiB per way), min_cbm_bits 2, 4 CLOSIDs; MBA in percent (gran 10, min 10);
// L3 monitoring with 176 RMIDs. Built in memory: discovery has its own tests.
HostModel resctrlHost() {
    HostModel host;
    host.resctrlRoot = "/sys/fs/resctrl";
    host.mounted = true;
    CacheResource l3;
    l3.resource = Resource::L3;
    l3.numClosids = 4;
    l3.cbmMask = CbmMask(0xfffff);
    l3.minCbmBits = 2;
    l3.domains = {{CacheId{0}, 15 * kMiB}, {CacheId{1}, 15 * kMiB}};
    host.cacheResources = {l3};
    BandwidthResource mb;
    mb.resource = Resource::MB;
    mb.numClosids = 4;
    mb.minBandwidth = 10;
    mb.bandwidthGran = 10;
    mb.unit = BandwidthUnit::Percent;
    mb.maxBandwidth = 100;
    mb.domains = {CacheId{0}, CacheId{1}};
    host.bandwidthResources = {mb};
    MonitorResource mon;
    mon.numRmids = 176;
    mon.features = {"llc_occupancy", "mbm_total_bytes", "mbm_local_bytes"};
    mon.domains = {CacheId{0}, CacheId{1}};
    host.monitoring = mon;
    host.caches[3] = {{CacheId{0}, {15 * kMiB, "0-5"}}, {CacheId{1}, {15 * kMiB, "6-11"}}};
    return host;
}

// The same host mounted with CDP: L3CODE and L3DATA instead of L3, 8 CLOSIDs each, no MBA.
HostModel cdpHost() {
    HostModel host = resctrlHost();
    host.mountOptions = {"cdp"};
    CacheResource code = host.cacheResources[0];
    code.resource = Resource::L3Code;
    code.numClosids = 8;
    code.minCbmBits = 1;
    CacheResource data = code;
    data.resource = Resource::L3Data;
    host.cacheResources = {code, data};
    host.bandwidthResources.clear();
    return host;
}

HostState freshState(const std::string& root = "L3:0=fffff;1=fffff\nMB:0=100;1=100\n") {
    HostState state;
    state.groups.push_back(GroupHolding{"", GroupOwner::Default, Schemata::parse(root), false});
    return state;
}

Tuning tuningOf(const std::string& cputune, unsigned vcpus = 8) {
    return parseDomainDefinition("<domain type='kvm'><name>vm</name><vcpu>" +
                                 std::to_string(vcpus) + "</vcpu><cputune>" + cputune +
                                 "</cputune></domain>")
        .tuning;
}

std::string readCorpus(const std::string& relative) {
    std::ifstream in(std::filesystem::path(RESCTRLD_TEST_DATA) / "domains" / relative);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// The D-Bus error name and message of a planning attempt.
std::pair<std::string, std::string> planError(const Tuning& tuning, const HostModel& host,
                                              const HostState& state,
                                              const PlannerOptions& options = {}) {
    try {
        planDomain(tuning, host, state, options);
    } catch (const Error& e) {
        return {std::string(e.dbusName()), e.what()};
    }
    return {};
}

const std::string kCache3MiB = "<cache id='0' level='3' type='both' size='3' unit='MiB'/>";

} // namespace

TEST_CASE("the spec's example becomes allocation and monitor groups", "[planner]") {
    auto definition = parseDomainDefinition(readCorpus("valid/full-domain.xml"));
    Plan plan = planDomain(definition.tuning, resctrlHost(), freshState());

    REQUIRE(plan.allocations.size() == 1);
    const auto& allocation = plan.allocations[0];
    CHECK(allocation.name == "vcpus_0-3");
    CHECK(allocation.vcpus.format() == "0-3");
    // 3 MiB = 4 ways of 768 KiB, packed at the low end of the free run (libvirt §3.3).
    CHECK(allocation.caches ==
          std::vector<PlannedCache>{{3, CacheId{0}, CacheType::Both, 3 * kMiB, CbmMask(0xf)},
                                    {3, CacheId{1}, CacheType::Both, 3 * kMiB, CbmMask(0xf)}});
    CHECK(allocation.bandwidths == std::vector<BandwidthSpec>{{0, 60}});
    // Node 1 not named: the default group's value (rule 13).
    CHECK(allocation.schemata == Schemata::parse("L3:0=f;1=f\nMB:0=60;1=100\n"));
    // ManageDefaultGroup=yes: the root gives up the ways the VM took.
    CHECK(plan.defaultGroupSchemata == Schemata::parse("L3:0=ffff0;1=ffff0\nMB:0=100;1=100\n"));

    REQUIRE(plan.monitors.size() == 3);
    CHECK(plan.monitors[0].name == "vcpus_1");
    CHECK(plan.monitors[0].allocation == std::optional<std::size_t>(0));
    CHECK_FALSE(plan.monitors[0].readsAllocationGroup);
    CHECK(plan.monitors[0].createsGroup());
    CHECK(plan.monitors[1].name == "vcpus_0-3");
    CHECK(plan.monitors[1].readsAllocationGroup); // the default monitor (rule 6)
    CHECK_FALSE(plan.monitors[1].createsGroup());
    CHECK(plan.monitors[2].name == "vcpus_4-6");
    CHECK_FALSE(plan.monitors[2].allocation.has_value()); // monitor-only: root mon_groups/
    CHECK(plan.monitors[2].createsGroup());
    CHECK(plan.closidsNeeded == 1);
    CHECK(plan.rmidsNeeded == 3);
}

TEST_CASE("rule 9: the (level, type) resource must exist", "[planner]") {
    auto [name, message] =
        planError(tuningOf("<cachetune vcpus='0-1'>" + kCache3MiB + "</cachetune>"), cdpHost(),
                  freshState("L3CODE:0=fffff;1=fffff\n"
                             "L3DATA:0=fffff;1=fffff\n"));
    CHECK(name == "org.resctrld1.Error.NotSupported");
    CHECK_THAT(message, Catch::StartsWith("cachetune vcpus='0-1': ") && Catch::Contains("CDP"));

    auto [name2, message2] =
        planError(tuningOf("<cachetune vcpus='0'><cache id='0' level='3' type='code' size='3' "
                           "unit='MiB'/></cachetune>"),
                  resctrlHost(), freshState());
    CHECK(name2 == "org.resctrld1.Error.NotSupported");
    CHECK_THAT(message2, Catch::Contains("needs CDP"));

    auto [name3, message3] =
        planError(tuningOf("<cachetune vcpus='0'><cache id='0' level='2' type='both' size='256'/>"
                           "</cachetune>"),
                  resctrlHost(), freshState());
    CHECK(name3 == "org.resctrld1.Error.NotSupported");
    CHECK_THAT(message3, Catch::Contains("no L2 cache allocation"));
}

TEST_CASE("rule 10: the cache id must exist", "[planner]") {
    auto [name, message] =
        planError(tuningOf("<cachetune vcpus='0'><cache id='2' level='3' type='both' size='3' "
                           "unit='MiB'/></cachetune>"),
                  resctrlHost(), freshState());
    CHECK(name == "org.resctrld1.Error.NotSupported");
    CHECK_THAT(message, Catch::Contains("cache id 2 does not exist"));
}

TEST_CASE("rule 11: granularity, minimum and the whole cache", "[planner]") {
    auto host = resctrlHost();
    auto sized = [](const std::string& size) {
        return tuningOf("<cachetune vcpus='0'><cache id='0' level='3' type='both' size='" + size +
                        "'/></cachetune>");
    };
    auto [n1, m1] = planError(sized("1000"), host, freshState());
    CHECK(n1 == "org.resctrld1.Error.InvalidDefinition");
    CHECK_THAT(m1, Catch::Contains("not a multiple of the granularity 768 KiB"));
    auto [n2, m2] = planError(sized("768"), host, freshState());
    CHECK(n2 == "org.resctrld1.Error.InvalidDefinition");
    CHECK_THAT(m2, Catch::Contains("less than the minimum allocation 1.5 MiB"));
    auto [n3, m3] = planError(sized("15360"), host, freshState());
    CHECK(n3 == "org.resctrld1.Error.InvalidDefinition");
    CHECK_THAT(m3, Catch::Contains("smaller than the whole cache"));
    CHECK_NOTHROW(planDomain(sized("1536"), host, freshState()));
}

TEST_CASE("rule 12: libvirt's placement and free ways, both default-group modes", "[planner]") {
    // docs/definitions.md appendix §3.3 worked examples on `resctrl`: root 1ff00/1ff0f, a foreign
    // group e0000/e0000, so free ways are 000ff and 000f0 under libvirt's rule.
    HostState state = freshState("L3:0=1ff00;1=1ff0f\n");
    state.groups.push_back(GroupHolding{"manualres", GroupOwner::Foreign,
                                        Schemata::parse("L3:0=e0000;1=e0000\n"), false});
    const PlannerOptions libvirtRule{false};
    HostModel host = resctrlHost();
    host.cacheResources[0].numClosids = 16;
    host.bandwidthResources[0].numClosids = 16;
    auto tuning = tuningOf("<cachetune vcpus='0-1'><cache id='0' level='3' type='both' "
                           "size='1536'/></cachetune>"
                           "<cachetune vcpus='2-3'><cache id='1' level='3' type='both' size='3' "
                           "unit='MiB'/></cachetune>"
                           "<cachetune vcpus='4'><cache id='0' level='3' type='both' "
                           "size='1536'/></cachetune>");
    Plan plan = planDomain(tuning, host, state, libvirtRule);
    REQUIRE(plan.allocations.size() == 3);
    CHECK(plan.allocations[0].caches[0].mask == CbmMask(0x3));
    CHECK(plan.allocations[1].caches[0].mask == CbmMask(0xf0));
    // The second group on cache 0 does not overlap the first one of the same plan.
    CHECK(plan.allocations[2].caches[0].mask == CbmMask(0xc));
    // ManageDefaultGroup=no leaves the root alone.
    CHECK(plan.defaultGroupSchemata.mask(Resource::L3, CacheId{0}) == CbmMask(0x1ff00));

    // 10 ways on cache 0: libvirt's S13.
    auto [name, message] =
        planError(tuningOf("<cachetune vcpus='0'><cache id='0' level='3' type='both' "
                           "size='7680'/></cachetune>"),
                  resctrlHost(), state, libvirtRule);
    CHECK(name == "org.resctrld1.Error.NoSpace");
    CHECK_THAT(message, Catch::Contains("not enough room") && Catch::Contains("L3 cache 0"));

    // A fresh host, root holding everything: nothing is free under libvirt's rule (K1) ...
    auto fresh = planError(tuningOf("<cachetune vcpus='0'>" + kCache3MiB + "</cachetune>"),
                           resctrlHost(), freshState(), libvirtRule);
    CHECK(fresh.first == "org.resctrld1.Error.NoSpace");
    // ... but with ManageDefaultGroup=yes the root's ways are free.
    CHECK_NOTHROW(planDomain(tuningOf("<cachetune vcpus='0'>" + kCache3MiB + "</cachetune>"),
                             resctrlHost(), freshState()));
}

TEST_CASE("rule 13: cache ids not named get the default group's mask", "[planner]") {
    HostState state = freshState("L3:0=000ff;1=0ffff\nMB:0=100;1=70\n");
    Plan plan = planDomain(tuningOf("<cachetune vcpus='0'>" + kCache3MiB + "</cachetune>"),
                           resctrlHost(), state, PlannerOptions{false});
    REQUIRE(plan.allocations.size() == 1);
    CHECK(plan.allocations[0].schemata.mask(Resource::L3, CacheId{0}) == CbmMask(0xf00));
    CHECK(plan.allocations[0].schemata.mask(Resource::L3, CacheId{1}) == CbmMask(0x0ffff));
    CHECK(plan.allocations[0].schemata.bandwidth(Resource::MB, CacheId{1}) == 70u);
    CHECK(plan.allocations[0].reserved.mask(Resource::L3, CacheId{1}) == std::nullopt);
}

TEST_CASE("rules 7 and 14: memory bandwidth against the host", "[planner]") {
    auto node = [](const std::string& id, const std::string& bw) {
        return tuningOf("<memorytune vcpus='0-1'><node id='" + id + "' bandwidth='" + bw +
                        "'/></memorytune>");
    };
    auto host = resctrlHost();
    Plan ok = planDomain(node("1", "50"), host, freshState());
    REQUIRE(ok.allocations.size() == 1);
    CHECK(ok.allocations[0].schemata.bandwidth(Resource::MB, CacheId{1}) == 50u);
    CHECK(ok.allocations[0].caches.empty());

    auto [n1, m1] = planError(node("0", "110"), host, freshState());
    CHECK(n1 == "org.resctrld1.Error.InvalidDefinition");
    CHECK_THAT(m1, Catch::StartsWith("memorytune vcpus='0-1': ") &&
                       Catch::Contains("above the host's maximum 100"));
    // A memorytune merged into a cachetune is named as both.
    auto merged = planError(tuningOf("<cachetune vcpus='0-1'>" + kCache3MiB +
                                     "</cachetune><memorytune vcpus='0-1'><node id='0' "
                                     "bandwidth='110'/></memorytune>"),
                            host, freshState());
    CHECK_THAT(merged.second, Catch::StartsWith("cachetune/memorytune vcpus='0-1': "));
    auto raisedMinimum = host;
    raisedMinimum.bandwidthResources[0].minBandwidth = 20;
    auto [n2, m2] = planError(node("0", "10"), raisedMinimum, freshState());
    CHECK(n2 == "org.resctrld1.Error.InvalidDefinition");
    CHECK_THAT(m2, Catch::Contains("below the host's minimum 20"));
    auto [n3, m3] = planError(node("0", "15"), host, freshState());
    CHECK(n3 == "org.resctrld1.Error.InvalidDefinition");
    CHECK_THAT(m3, Catch::Contains("not a multiple of the host's granularity 10"));
    auto [n4, m4] = planError(node("3", "50"), host, freshState());
    CHECK(n4 == "org.resctrld1.Error.NotSupported");
    CHECK_THAT(m4, Catch::Contains("node 3 does not exist"));
    auto [n5, m5] = planError(node("0", "50"), cdpHost(), freshState("L3CODE:0=fffff\n"));
    CHECK(n5 == "org.resctrld1.Error.NotSupported");
    CHECK_THAT(m5, Catch::Contains("no memory bandwidth allocation"));
}

TEST_CASE("rule 15: monitoring features, RMIDs and CLOSIDs", "[planner]") {
    auto monitorOnly = tuningOf("<cachetune vcpus='0-1'><monitor level='3' vcpus='0'/>"
                                "</cachetune>");
    auto host = resctrlHost();
    host.monitoring.reset();
    auto [n1, m1] = planError(monitorOnly, host, freshState());
    CHECK(n1 == "org.resctrld1.Error.NotSupported");
    CHECK_THAT(m1, Catch::Contains("monitor vcpus='0'") && Catch::Contains("no info/L3_MON"));

    host = resctrlHost();
    host.monitoring->features = {"llc_occupancy"};
    auto bandwidthMonitor = tuningOf("<memorytune vcpus='0-1'><monitor vcpus='0-1'/></memorytune>");
    auto [n2, m2] = planError(bandwidthMonitor, host, freshState());
    CHECK(n2 == "org.resctrld1.Error.NotSupported");
    CHECK_THAT(m2, Catch::Contains("does not monitor memory bandwidth"));
    CHECK_NOTHROW(planDomain(monitorOnly, host, freshState()));
    host.monitoring->features = {"mbm_local_bytes"};
    auto [n3, m3] = planError(monitorOnly, host, freshState());
    CHECK(n3 == "org.resctrld1.Error.NotSupported");
    CHECK_THAT(m3, Catch::Contains("does not monitor cache occupancy"));

    // RMIDs: 4 in total, the root holds one; one foreign monitoring group holds another.
    host = resctrlHost();
    host.monitoring->numRmids = 4;
    HostState state = freshState();
    state.monitorGroups = 1;
    auto twoMonitors = tuningOf("<cachetune vcpus='0-1'>" + kCache3MiB +
                                "<monitor level='3' vcpus='0'/><monitor level='3' vcpus='1'/>"
                                "</cachetune>");
    auto [n4, m4] = planError(twoMonitors, host, state);
    CHECK(n4 == "org.resctrld1.Error.NoSpace");
    CHECK_THAT(m4, Catch::Contains("out of RMIDs") && Catch::Contains("needs 3"));
    state.monitorGroups = 0;
    CHECK(planDomain(twoMonitors, host, state).rmidsNeeded == 3);

    // CLOSIDs: 4 minus the root = 3 groups.
    auto four = tuningOf("<cachetune vcpus='0'>" + kCache3MiB +
                         "</cachetune>"
                         "<cachetune vcpus='1'>" +
                         kCache3MiB +
                         "</cachetune>"
                         "<cachetune vcpus='2'>" +
                         kCache3MiB +
                         "</cachetune>"
                         "<cachetune vcpus='3'>" +
                         kCache3MiB + "</cachetune>");
    auto [n5, m5] = planError(four, resctrlHost(), freshState());
    CHECK(n5 == "org.resctrld1.Error.NoSpace");
    CHECK_THAT(m5, Catch::StartsWith("cachetune vcpus='3': ") && Catch::Contains("out of CLOSIDs"));
}

TEST_CASE("a cache and a bandwidth monitor over equal vCPUs share one group", "[planner]") {
    auto tuning = tuningOf("<cachetune vcpus='0-3'>" + kCache3MiB +
                           "<monitor level='3' vcpus='1'/></cachetune>"
                           "<memorytune vcpus='0-3'><node id='0' bandwidth='50'/>"
                           "<monitor vcpus='1'/><monitor vcpus='0-3'/></memorytune>");
    Plan plan = planDomain(tuning, resctrlHost(), freshState());
    REQUIRE(plan.monitors.size() == 3);
    CHECK(plan.monitors[0].kind == MonitorKind::Cache);
    CHECK(plan.monitors[0].createsGroup());
    CHECK(plan.monitors[1].kind == MonitorKind::MemoryBandwidth);
    CHECK(plan.monitors[1].name == "vcpus_1");
    CHECK(plan.monitors[1].sharesGroupWithEarlier);
    CHECK_FALSE(plan.monitors[1].createsGroup());
    CHECK(plan.monitors[2].readsAllocationGroup);
    CHECK(plan.rmidsNeeded == 2);
}

TEST_CASE("CDP: code and data placed per type", "[planner]") {
    auto tuning = tuningOf("<cachetune vcpus='0-1'>"
                           "<cache id='0' level='3' type='code' size='7680'/>"
                           "<cache id='1' level='3' type='data' size='3840'/></cachetune>");
    Plan plan = planDomain(tuning, cdpHost(),
                           freshState("L3CODE:0=fffff;1=fffff\nL3DATA:0=fffff;1=fffff\n"));
    REQUIRE(plan.allocations.size() == 1);
    const auto& caches = plan.allocations[0].caches;
    REQUIRE(caches.size() == 2);
    CHECK(caches[0].type == CacheType::Code);
    CHECK(caches[0].mask == CbmMask(0x3ff));
    CHECK(caches[1].type == CacheType::Data);
    CHECK(caches[1].mask == CbmMask(0x1f));
    CHECK(plan.allocations[0].schemata.has(Resource::L3Code));
    CHECK(plan.allocations[0].schemata.has(Resource::L3Data));
}

TEST_CASE("an empty tuning plans nothing", "[planner]") {
    Plan plan = planDomain(Tuning{}, resctrlHost(), freshState());
    CHECK(plan.allocations.empty());
    CHECK(plan.monitors.empty());
    CHECK(plan.rmidsNeeded == 0);
    CHECK(plan.closidsNeeded == 0);
}

TEST_CASE("a monitoring refusal names the definition and the monitor that failed", "[planner]") {
    // Many monitors: the message is made for the one that fails, with its definition's label.
    std::string monitors;
    for (unsigned v = 0; v < 64; ++v)
        monitors += "<monitor level='3' vcpus='" + std::to_string(v) + "'/>";
    auto tuning =
        tuningOf("<cachetune vcpus='0-63'>" + monitors +
                     "</cachetune><memorytune vcpus='0-63'><monitor vcpus='5'/></memorytune>",
                 64);
    auto host = resctrlHost();
    host.monitoring->features = {"llc_occupancy"};
    auto [name, message] = planError(tuning, host, freshState());
    CHECK(name == "org.resctrld1.Error.NotSupported");
    CHECK(message == "cachetune/memorytune vcpus='0-63': monitor vcpus='5': this host does not "
                     "monitor memory bandwidth (no mbm_total_bytes or mbm_local_bytes in "
                     "info/L3_MON/mon_features)");
}
