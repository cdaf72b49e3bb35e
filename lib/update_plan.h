// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "group_manager.h"

namespace resctrld {

// The filesystem steps that turn a started domain's groups into those of a new plan, reusing
// what the update frees: a group is rewritten in place (a schemata write) rather than one group
// created and another removed, so that the transition never needs a CLOSID or an RMID the end
// state does not.
struct UpdateSteps {
    // The new groups, laid out: reused groups keep their paths, new ones get unused paths.
    DomainGroups next;
    // Indices into next.plan.allocations: groups kept whose schemata change, and groups to create.
    std::vector<std::size_t> rewritten;
    std::vector<std::size_t> created;
    // Monitoring groups to create, in plan order.
    std::vector<std::string> createdMonitorGroups;
    // Groups no longer needed: monitoring groups under kept groups first, then top groups
    // (whose own monitoring groups go with them).
    std::vector<std::string> removed;
    // The previous group of each reused allocation group (by index into next.plan.allocations),
    // "" for a created one.
    std::vector<std::string> previousGroup;
};

// Matches `next` (as GroupManager lays it out for the domain's stem) against `current`: an
// allocation keeps the group of the allocation with the same vCPUs, else takes an unmatched
// group (the one sharing the most vCPUs with it first, so fewer threads move), else gets a new
// one. A monitor keeps its group when its group's parent is kept and its name stays.
UpdateSteps planUpdate(const DomainGroups& current, DomainGroups next);

} // namespace resctrld
