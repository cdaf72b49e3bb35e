// SPDX-License-Identifier: LGPL-2.1-or-later
// libFuzzer target for the definition parser and planner.
// Seeds: tests/data/domains (scripts/fuzz-short). A crash, a sanitizer report, an exception that
// is not a resctrld::Error, or a broken invariant below is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "domain_definition.h"
#include "errors.h"
#include "planner.h"
#include "vcpu_set.h"

using namespace resctrld;

namespace {

// A fixed two-socket host (libvirt's `linux-resctrl` test host), so that parsed definitions
// also run through the planner's and allocator's host checks.
const HostModel& host() {
    static const HostModel model = [] {
        constexpr Bytes kMiB = 1024 * 1024;
        HostModel h;
        h.resctrlRoot = "/sys/fs/resctrl";
        h.mounted = true;
        CacheResource l3;
        l3.resource = Resource::L3;
        l3.numClosids = 16;
        l3.cbmMask = CbmMask(0xfffff);
        l3.minCbmBits = 2;
        l3.domains = {{CacheId{0}, 15 * kMiB}, {CacheId{1}, 15 * kMiB}};
        h.cacheResources = {l3};
        BandwidthResource mb;
        mb.numClosids = 16;
        mb.minBandwidth = 10;
        mb.bandwidthGran = 10;
        mb.domains = {CacheId{0}, CacheId{1}};
        h.bandwidthResources = {mb};
        MonitorResource mon;
        mon.numRmids = 176;
        mon.features = {"llc_occupancy", "mbm_total_bytes", "mbm_local_bytes"};
        mon.domains = {CacheId{0}, CacheId{1}};
        h.monitoring = mon;
        return h;
    }();
    return model;
}

void require(bool condition) {
    if (!condition)
        std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        DomainDefinition definition = parseDomainDefinition(text);
        require(!definition.name.empty());
        for (const ResctrlDefinition& def : definition.tuning.definitions) {
            // Invariants of the parse: non-empty sets that print and re-parse to themselves,
            // monitors within their definition.
            require(!def.vcpus.empty());
            require(VcpuSet::parse(def.vcpus.format()) == def.vcpus);
            if (definition.vcpuCount)
                require(def.vcpus.last() < *definition.vcpuCount);
            for (const MonitorDefinition& monitor : def.monitors) {
                require(!monitor.vcpus.empty());
                require(monitor.vcpus.isSubsetOf(def.vcpus));
            }
        }
        HostState state;
        state.groups.push_back(GroupHolding{"", GroupOwner::Default,
                                            Schemata::parse("L3:0=fffff;1=fffff\nMB:0=100;1=100\n"),
                                            false});
        Plan plan = planDomain(definition.tuning, host(), state);
        for (const PlannedAllocation& allocation : plan.allocations)
            for (const PlannedCache& cache : allocation.caches)
                require(!cache.mask.empty() && cache.mask.isContiguous());
    } catch (const Error&) {
        // Refusals are the expected outcome for most inputs.
    }
    // VcpuSet on its own: the whole input as a list.
    try {
        VcpuSet set = VcpuSet::parse(text);
        require(VcpuSet::parse(set.format()) == set);
    } catch (const Error&) {
    }
    return 0;
}
