// SPDX-License-Identifier: LGPL-2.1-or-later
#include "resctrl_host.h"

#include <utility>

#include "process_table.h"
#include "resctrl_fs.h"

namespace resctrld {

ResctrlHost::ResctrlHost(const HostPaths& paths, const GroupManagerOptions& options,
                         StateStore& store, pid_t self, CounterAssignment counterPolicy)
    : model_(HostModel::discover(paths))
    , groups_(model_, ResctrlFs(paths.resctrlRoot), options)
    , domains_(groups_, ProcessTable(), store, self)
    , counters_(groups_.resctrl(), counterPolicy) {
    refreshIoAllocWays();
}

Budgets ResctrlHost::budgets() const {
    const GroupManager::GroupCounts counts = groups_.countGroups();
    return Budgets{
        .closidsTotal = model_.closidBudget(),
        .closidsFree = model_.closidsFree(counts.controlGroups),
        .rmidsTotal = model_.rmidBudget(),
        .rmidsFree = model_.rmidsFree(counts.controlGroups, counts.monitorGroups),
    };
}

bool ResctrlHost::refreshIoAllocWays() {
    std::map<CacheId, CbmMask> ways;
    for (const CacheResource& cache : model_.cacheResources)
        if (cache.level() == 3 && cache.ioAllocEnabled) {
            ways = readIoAllocMasks(groups_.resctrl(), cache.resource);
            break;
        }
    if (ways == ioAllocWays_)
        return false;
    ioAllocWays_ = std::move(ways);
    return true;
}

HostLayout ResctrlHost::layout() const {
    std::map<std::string, std::string> domainGroups;
    for (const auto& [name, domain] : domains_.domains())
        for (std::string& group : domain.groups.allocationGroups())
            domainGroups.emplace(std::move(group), name);
    return readHostLayout(model_, groups_.resctrl(), domainGroups);
}

} // namespace resctrld
