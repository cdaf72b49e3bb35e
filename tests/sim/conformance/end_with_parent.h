// SPDX-License-Identifier: LGPL-2.1-or-later
// A test or benchmark killed outright (SIGKILL, a runner's timeout) must not leave the
// simulator, bus and daemon it started running, nor a FUSE mount behind: its children get
// SIGTERM when it ends (the kernel's parent-death signal).
#pragma once

#include <csignal>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

namespace resctrld::simtest {

// Made before fork(), armed in the child.
class EndWithParent {
public:
    EndWithParent() noexcept
        : parent_(getpid())
        , fromMainThread_(static_cast<pid_t>(syscall(SYS_gettid)) == parent_) {}

    // In the child, after any change of credentials (which clears the setting); false when
    // the parent already ended. Only for forks from the main thread: the kernel signals when the
    // forking thread ends, and a helper thread may end long before the processes it started.
    bool arm() const noexcept {
        if (!fromMainThread_)
            return true;
        return prctl(PR_SET_PDEATHSIG, SIGTERM) == 0 && getppid() == parent_;
    }

private:
    pid_t parent_;
    bool fromMainThread_;
};

} // namespace resctrld::simtest
