// SPDX-License-Identifier: LGPL-2.1-or-later
#include "update_plan.h"

#include <algorithm>
#include <optional>
#include <set>

#include <spdlog/fmt/fmt.h>

namespace resctrld {
namespace {

std::size_t sharedVcpus(const VcpuSet& a, const VcpuSet& b) {
    std::size_t shared = 0;
    for (unsigned vcpu : a.members())
        shared += b.contains(vcpu) ? 1 : 0;
    return shared;
}

// `wanted`, or with "~2", "~3", ... appended until no path in `taken` has it.
std::string unusedPath(const std::string& wanted, const std::set<std::string>& taken) {
    std::string path = wanted;
    for (unsigned n = 2; taken.count(path); ++n)
        path = fmt::format("{}~{}", wanted, n);
    return path;
}

} // namespace

UpdateSteps planUpdate(const DomainGroups& current, DomainGroups next, std::size_t renames) {
    UpdateSteps steps;
    const auto& before = current.plan.allocations;
    auto& after = next.plan.allocations;
    std::vector<std::optional<std::size_t>> match(after.size());
    std::vector<bool> taken(before.size(), false);
    // Same vCPUs first.
    for (std::size_t i = 0; i < after.size(); ++i)
        for (std::size_t j = 0; j < before.size(); ++j)
            if (!taken[j] && before[j].vcpus == after[i].vcpus) {
                match[i] = j;
                taken[j] = true;
                break;
            }
    // Then the pair sharing the most vCPUs, over all pairs (a split keeps the group for its
    // largest part); then, in order, whatever group is left.
    for (;;) {
        std::optional<std::pair<std::size_t, std::size_t>> best;
        std::size_t bestShared = 0;
        for (std::size_t i = 0; i < after.size(); ++i)
            for (std::size_t j = 0; j < before.size(); ++j) {
                if (match[i] || taken[j])
                    continue;
                const std::size_t shared = sharedVcpus(before[j].vcpus, after[i].vcpus);
                if (shared > bestShared) {
                    best = {i, j};
                    bestShared = shared;
                }
            }
        if (!best)
            break;
        match[best->first] = best->second;
        taken[best->second] = true;
    }
    for (std::size_t i = 0, j = 0; i < after.size(); ++i) {
        while (j < before.size() && taken[j])
            ++j;
        if (match[i] || j == before.size())
            continue;
        match[i] = j;
        taken[j] = true;
    }

    std::set<std::string> paths;
    for (const PlannedAllocation& allocation : before)
        paths.insert(allocation.group);
    for (const PlannedMonitor& monitor : current.plan.monitors)
        paths.insert(monitor.group);
    steps.previousGroup.resize(after.size());
    for (std::size_t i = 0; i < after.size(); ++i) {
        if (match[i]) {
            const PlannedAllocation& old = before[*match[i]];
            after[i].group = old.group;
            steps.previousGroup[i] = old.group;
            if (old.schemata != after[i].schemata)
                steps.rewritten.push_back(i);
        } else {
            after[i].group = unusedPath(after[i].group, paths);
            paths.insert(after[i].group);
            steps.created.push_back(i);
        }
    }

    // Monitor paths follow their allocation's group; those under the root keep their layout.
    std::set<std::string> monitorsBefore;
    for (const PlannedMonitor& monitor : current.plan.monitors)
        if (monitor.createsGroup())
            monitorsBefore.insert(monitor.group);
    std::set<std::string> monitorsAfter;
    for (PlannedMonitor& monitor : next.plan.monitors) {
        if (monitor.allocation) {
            const std::string& parent = after[*monitor.allocation].group;
            monitor.group =
                monitor.readsAllocationGroup ? parent : parent + "/mon_groups/" + monitor.name;
        }
        if (!monitor.createsGroup())
            continue;
        monitorsAfter.insert(monitor.group);
        if (!monitorsBefore.count(monitor.group))
            steps.createdMonitorGroups.push_back(monitor.group);
    }

    std::set<std::string> keptAllocationGroups;
    for (const PlannedAllocation& allocation : after)
        keptAllocationGroups.insert(allocation.group);
    for (const PlannedMonitor& monitor : current.plan.monitors) {
        if (!monitor.createsGroup() || monitorsAfter.count(monitor.group))
            continue;
        // Under a group that goes, it goes with it.
        if (monitor.allocation && !keptAllocationGroups.count(before[*monitor.allocation].group))
            continue;
        steps.removed.push_back(monitor.group);
    }
    for (std::size_t j = 0; j < before.size(); ++j)
        if (!taken[j])
            steps.removed.push_back(before[j].group);

    // Renames: the groups that go (in plan order, those under removed groups too) give their
    // RMIDs to the first monitoring groups to create.
    std::vector<std::string> going;
    for (const PlannedMonitor& monitor : current.plan.monitors)
        if (monitor.createsGroup() && !monitorsAfter.count(monitor.group))
            going.push_back(monitor.group);
    const std::size_t count = std::min({renames, going.size(), steps.createdMonitorGroups.size()});
    for (std::size_t k = 0; k < count; ++k) {
        steps.renamedMonitorGroups.push_back({going[k], steps.createdMonitorGroups[k]});
        std::erase(steps.removed, going[k]);
    }
    steps.createdMonitorGroups.erase(steps.createdMonitorGroups.begin(),
                                     steps.createdMonitorGroups.begin() +
                                         static_cast<std::ptrdiff_t>(count));
    steps.next = std::move(next);
    return steps;
}

RmidBalance rmidBalance(const DomainGroups& current, const UpdateSteps& steps) {
    RmidBalance balance;
    balance.taken = static_cast<unsigned>(steps.createdMonitorGroups.size() + steps.created.size());
    std::set<std::string> renamed;
    for (const UpdateSteps::Rename& rename : steps.renamedMonitorGroups)
        renamed.insert(rename.from);
    for (const std::string& group : steps.removed) {
        const bool controlGroup = std::any_of(
            current.plan.allocations.begin(), current.plan.allocations.end(),
            [&](const PlannedAllocation& allocation) { return allocation.group == group; });
        if (!controlGroup) {
            ++balance.released;
            continue;
        }
        ++balance.released;
        for (const PlannedMonitor& monitor : current.plan.monitors)
            if (monitor.createsGroup() && monitor.group.starts_with(group + "/") &&
                !renamed.count(monitor.group))
                ++balance.released;
    }
    return balance;
}

} // namespace resctrld
