// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <optional>
#include <set>
#include <string>
#include <sys/types.h>

namespace resctrld {

class ProcessTable;

// Whose threads one call may put into groups. The kernel lets a user other than root move only
// its own tasks into a group (the task's real or saved uid must be the writer's); resctrld writes
// as root, so it applies that rule to its callers itself, widened by the users trusted to run
// hypervisors. Root's calls may pass any thread.
class ThreadOwners {
public:
    static ThreadOwners anyone() { return ThreadOwners(); }
    // Threads whose every uid is one of `uids`; `whom` says who that is in a refusal
    // ("uid 1000 or HypervisorUsers= (libvirt-qemu, qemu)").
    static ThreadOwners only(std::set<uid_t> uids, std::string whom);

    bool admitsAnyone() const noexcept { return !uids_; }

    // Throws AccessDenied naming `what` (a thread or process) and its owner unless every uid of
    // task `tid` (real, effective, saved and filesystem) is admitted; ProcessNotFound when the
    // task is gone, since nothing can be said about a task that cannot be read.
    void require(const ProcessTable& processes, pid_t tid, const std::string& what) const;

private:
    ThreadOwners() = default;

    std::optional<std::set<uid_t>> uids_;
    std::string whom_;
};

// "uid 1234". Never the user's name: a lookup in the user database may ask another program (nscd,
// sssd, LDAP) and wait on it, and messages are made on the daemon's event loop, some of them for
// any local user's refused call.
std::string describeUser(uid_t uid);

} // namespace resctrld
