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
    // Monitoring groups that go, renamed (moved) to the path of one that comes: the kernel keeps
    // the group's RMID across a rename, so the pair needs no RMID besides the one it holds.
    struct Rename {
        std::string from;
        std::string to;
    };
    std::vector<Rename> renamedMonitorGroups;
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
// one. A monitor keeps its group when its group's parent is kept and its name stays. Up to
// `renames` monitoring groups to create instead take, by a rename, a monitoring group that
// goes (one under a removed group included), in plan order.
UpdateSteps planUpdate(const DomainGroups& current, DomainGroups next, std::size_t renames = 0);

// RMIDs the steps take from the free pool (a group created) and give back (a group removed,
// with the monitoring groups under it) on a monitoring host, where each group holds one.
struct RmidBalance {
    unsigned taken = 0;
    unsigned released = 0;
};
RmidBalance rmidBalance(const DomainGroups& current, const UpdateSteps& steps);

} // namespace resctrld
