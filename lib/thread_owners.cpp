// SPDX-License-Identifier: LGPL-2.1-or-later
#include "thread_owners.h"

#include <fmt/format.h>

#include "errors.h"
#include "process_table.h"

namespace resctrld {

ThreadOwners ThreadOwners::only(std::set<uid_t> uids, std::string whom) {
    ThreadOwners owners;
    owners.uids_ = std::move(uids);
    owners.whom_ = std::move(whom);
    return owners;
}

void ThreadOwners::require(const ProcessTable& processes, pid_t tid,
                           const std::string& what) const {
    if (!uids_)
        return;
    const auto uids = processes.uids(tid);
    if (!uids)
        throw ProcessNotFound(what + " does not exist");
    for (uid_t uid : *uids)
        if (!uids_->count(uid))
            throw AccessDenied(what + " belongs to " + describeUser(uid) +
                               "; callers other than root may pass only threads of " + whom_);
}

std::string describeUser(uid_t uid) {
    return fmt::format("uid {}", uid);
}

} // namespace resctrld
