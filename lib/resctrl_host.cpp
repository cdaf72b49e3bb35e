// SPDX-License-Identifier: LGPL-2.1-or-later
#include "resctrl_host.h"

#include "process_table.h"
#include "resctrl_fs.h"

namespace resctrld {

ResctrlHost::ResctrlHost(const HostPaths& paths, const GroupManagerOptions& options,
                         StateStore& store, pid_t self)
    : model_(HostModel::discover(paths))
    , groups_(model_, ResctrlFs(paths.resctrlRoot), options)
    , domains_(groups_, ProcessTable(), store, self) {
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

} // namespace resctrld
