// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <vector>

#include "allocator.h"
#include "domain_definition.h"
#include "host_model.h"
#include "plan.h"

namespace resctrld {

// What is on the host now, besides the model of its resources.
struct HostState {
    // The root group and every control group on the host, resctrld's and foreign ones (see
    // GroupHolding for what each holds).
    std::vector<GroupHolding> groups;
    // Monitoring groups on the host (every `mon_groups/*`, anyone's): they hold RMIDs.
    unsigned monitorGroups = 0;
};

struct PlannerOptions {
    // docs/definitions.md rule 12 (ManageDefaultGroup=, default yes).
    bool manageDefaultGroup = true;
    // SparseMasks= (default no): see AllocatorOptions::sparseMasks.
    bool sparseMasks = false;
};

// Turns a domain's tuning into a Plan against a host: the host-dependent rules of
// docs/definitions.md (9-15) are checked here, by the Allocator (9-12, 14) and by the planner
// itself (15: monitoring features, RMIDs). Definitions are planned in document order, as libvirt
// starts them, so the first one that does not fit is the one reported.
// Throws NotSupported, InvalidDefinition or NoSpace, prefixed with the cachetune/memorytune the
// problem belongs to. Nothing on the host is touched.
Plan planDomain(const Tuning& tuning, const HostModel& host, const HostState& state,
                const PlannerOptions& options = {});

} // namespace resctrld
