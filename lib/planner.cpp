// SPDX-License-Identifier: LGPL-2.1-or-later
#include "planner.h"

#include <map>
#include <set>
#include <utility>

#include <spdlog/fmt/fmt.h>

#include "errors.h"
#include "resource.h"

namespace resctrld {

namespace {

// "cachetune vcpus='0-3'", "memorytune vcpus='4'", "slowmemorytune vcpus='4'" or, for elements
// merged into one group (docs/definitions.md rule 3), "cachetune/memorytune vcpus='0-3'": for
// messages, so that an operator finds the element a refusal is about.
std::string labelOf(const ResctrlDefinition& def) {
    bool cache = !def.caches.empty();
    bool memory = false;
    bool slowMemory = false;
    for (const BandwidthSpec& bandwidth : def.bandwidths)
        (bandwidth.resource == Resource::SMBA ? slowMemory : memory) = true;
    for (const MonitorDefinition& monitor : def.monitors)
        (monitor.kind == MonitorKind::Cache ? cache : memory) = true;
    std::string element;
    for (const auto& [present, name] :
         {std::pair{cache, "cachetune"}, std::pair{memory, "memorytune"},
          std::pair{slowMemory, "slowmemorytune"}})
        if (present)
            element += (element.empty() ? "" : "/") + std::string(name);
    if (element.empty())
        element = "cachetune";
    return element + " vcpus='" + def.vcpus.format() + "'";
}

// Re-throws a lib error with `prefix` in front of its message, keeping its D-Bus name.
template <typename F> auto withContext(const std::string& prefix, F&& body) {
    try {
        return body();
    } catch (const InvalidDefinition& e) {
        throw InvalidDefinition(prefix + ": " + e.what());
    } catch (const NotSupported& e) {
        throw NotSupported(prefix + ": " + e.what());
    } catch (const NoSpace& e) {
        throw NoSpace(prefix + ": " + e.what());
    }
}

// docs/definitions.md rule 15: what a monitor of each kind needs from info/L3_MON. `label` is its
// definition's labelOf(), made once per definition: monitors are many, and the message is only
// made for the one that fails.
void checkMonitoring(const HostModel& host, const std::string& label,
                     const MonitorDefinition& monitor) {
    auto what = [&] {
        return label + ": monitor vcpus='" + monitor.vcpus.format() + "'";
    };
    if (!host.monitoring)
        throw NotSupported(what() + ": this host has no resctrl monitoring (no info/L3_MON)");
    if (monitor.kind == MonitorKind::Cache) {
        if (!host.monitoring->hasFeature("llc_occupancy"))
            throw NotSupported(what() + ": this host does not monitor cache occupancy (no "
                                        "llc_occupancy in info/L3_MON/mon_features)");
    } else if (!host.monitoring->hasFeature("mbm_total_bytes") &&
               !host.monitoring->hasFeature("mbm_local_bytes")) {
        throw NotSupported(what() + ": this host does not monitor memory bandwidth (no "
                                    "mbm_total_bytes or mbm_local_bytes in "
                                    "info/L3_MON/mon_features)");
    }
}

} // namespace

Plan planDomain(const Tuning& tuning, const HostModel& host, const HostState& state,
                const PlannerOptions& options) {
    Allocator allocator(host, state.groups,
                        AllocatorOptions{options.manageDefaultGroup, options.sparseMasks});
    Plan plan;
    for (const ResctrlDefinition& def : tuning.definitions) {
        const std::string label = labelOf(def);
        std::optional<std::size_t> allocationIndex;
        if (def.hasAllocation()) {
            std::vector<CacheRequest> caches;
            for (const CacheSpec& c : def.caches)
                caches.push_back(CacheRequest{c.level, c.type, c.id, c.size});
            std::vector<BandwidthRequest> bandwidths;
            for (const BandwidthSpec& b : def.bandwidths)
                bandwidths.push_back(BandwidthRequest{CacheId{b.node}, b.bandwidth, b.resource});
            Schemata reserved =
                withContext(label, [&] { return allocator.allocate(caches, bandwidths); });
            PlannedAllocation allocation;
            allocation.name = def.name();
            allocation.vcpus = def.vcpus;
            allocation.bandwidths = def.bandwidths;
            allocation.reserved = reserved;
            for (const CacheSpec& c : def.caches) {
                auto resource = cacheResource(c.level, c.type);
                CbmMask mask =
                    resource ? reserved.mask(*resource, c.id).value_or(CbmMask()) : CbmMask();
                allocation.caches.push_back(PlannedCache{c.level, c.id, c.type, c.size, mask});
            }
            allocationIndex = plan.allocations.size();
            plan.allocations.push_back(std::move(allocation));
        }
        std::set<std::string> groupNames;
        for (const MonitorDefinition& monitor : def.monitors) {
            checkMonitoring(host, label, monitor);
            PlannedMonitor planned;
            planned.name = monitor.name();
            planned.vcpus = monitor.vcpus;
            planned.kind = monitor.kind;
            planned.priority = monitor.priority;
            planned.allocation = allocationIndex;
            planned.readsAllocationGroup = def.isDefaultMonitor(monitor);
            if (!planned.readsAllocationGroup)
                planned.sharesGroupWithEarlier = !groupNames.insert(planned.name).second;
            plan.monitors.push_back(std::move(planned));
        }
    }

    // Every group now has its final neighbours: complete the schemata (rule 13) with the
    // default group's masks as they will be after this plan.
    for (PlannedAllocation& allocation : plan.allocations)
        allocation.schemata = allocator.completeSchemata(allocation.reserved);
    plan.defaultGroupSchemata = allocator.defaultGroupSchemata();

    // Rule 15: RMIDs. Each control group holds one on a monitoring host, each monitoring group
    // one. (CLOSIDs were counted by the allocator as it placed each group.)
    plan.closidsNeeded = static_cast<unsigned>(plan.allocations.size());
    unsigned monitorGroupsNeeded = 0;
    for (const PlannedMonitor& monitor : plan.monitors)
        monitorGroupsNeeded += monitor.createsGroup() ? 1 : 0;
    plan.rmidsNeeded = (host.monitoring ? plan.closidsNeeded : 0) + monitorGroupsNeeded;
    if (host.monitoring && plan.rmidsNeeded > 0) {
        unsigned controlGroups = 0;
        for (const GroupHolding& group : state.groups)
            controlGroups += takesGroupClosid(group.owner) ? 1 : 0;
        unsigned free = host.rmidsFree(controlGroups, state.monitorGroups);
        if (plan.rmidsNeeded > free)
            throw NoSpace(fmt::format("out of RMIDs: this domain needs {} monitoring IDs ({} for "
                                      "allocation groups, {} for monitor groups) and the host "
                                      "has {} left of {}",
                                      plan.rmidsNeeded, plan.closidsNeeded, monitorGroupsNeeded,
                                      free, host.rmidBudget()));
    }
    return plan;
}

} // namespace resctrld
