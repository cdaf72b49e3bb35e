// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "cbm_mask.h"
#include "domain_definition.h"
#include "schemata.h"
#include "types.h"
#include "vcpu_set.h"

namespace resctrld {

// A requested cache and where the allocator placed it.
struct PlannedCache {
    unsigned level = 3;
    CacheId id;
    CacheType type = CacheType::Both;
    Bytes size = 0;
    CbmMask mask;
    friend bool operator==(const PlannedCache&, const PlannedCache&) = default;
};

// A control group (CLOSID) to create for one cachetune/memorytune with caches or nodes.
struct PlannedAllocation {
    // libvirt's allocation id, `vcpus_<list>` (docs/definitions.md appendix §4.1); the daemon
    // prefixes the machine name to make the group's directory name.
    std::string name;
    VcpuSet vcpus;
    std::vector<PlannedCache> caches;      // the requested caches, with their masks
    std::vector<BandwidthSpec> bandwidths; // the requested nodes
    // The group's whole schemata to write: the requested entries, and for every other domain
    // the default group's value (docs/definitions.md rule 13).
    Schemata schemata;
    // Only the requested entries (what the group holds; GroupHolding::schemata for Own groups).
    Schemata reserved;
    // The group's path relative to the resctrl root: given when GroupManager lays the plan out
    // (or restores it from a record), empty in what planDomain() returns.
    std::string group;
};

// A monitor of the domain, in definition order (the order of `virsh domstats` indices).
struct PlannedMonitor {
    // libvirt's monitor name `vcpus_<list>` (docs/definitions.md "Names and reporting").
    std::string name;
    VcpuSet vcpus;
    MonitorKind kind = MonitorKind::Cache;
    // MonitorDefinition::priority: the order in which bandwidth monitors get hardware counters.
    unsigned priority = 0;
    // Index into Plan::allocations of the group it lives in; empty: the resctrl root, i.e. its
    // group is `mon_groups/<name>` of the root (a monitor-only cachetune/memorytune).
    std::optional<std::size_t> allocation;
    // The default monitor (docs/definitions.md rule 6): it reads the allocation group itself and
    // creates no group of its own.
    bool readsAllocationGroup = false;
    // Another monitor of the same group and name was planned before this one (a cache and a
    // bandwidth monitor over equal vCPUs share one monitoring group, docs/definitions.md (appendix)
    // P13): this one creates nothing.
    bool sharesGroupWithEarlier = false;
    // The group it reads, relative to the resctrl root (its own, or its allocation's for the
    // default monitor): given with PlannedAllocation::group.
    std::string group;

    bool createsGroup() const noexcept { return !readsAllocationGroup && !sharesGroupWithEarlier; }
};

// What StartDomain creates and ValidateDomain reports for one domain.
struct Plan {
    std::vector<PlannedAllocation> allocations;
    std::vector<PlannedMonitor> monitors;
    // The root group's schemata after these allocations (with ManageDefaultGroup=yes the daemon
    // writes it; with no it equals the current one).
    Schemata defaultGroupSchemata;
    // Groups to create: CLOSIDs taken (one per allocation) and RMIDs taken (one per allocation
    // on a monitoring host, one per monitor that creates a group).
    unsigned closidsNeeded = 0;
    unsigned rmidsNeeded = 0;
};

} // namespace resctrld
