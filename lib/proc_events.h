// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <chrono>
#include <optional>
#include <sys/types.h>
#include <vector>

#include "unique_fd.h"

namespace resctrld {

// One event of the kernel's process events connector, for one thread.
struct ProcEvent {
    enum class Kind { Fork, Comm, Exit };
    Kind kind;
    pid_t tid;  // the new thread (Fork), the renamed one (Comm), the one that exited (Exit)
    pid_t tgid; // its process
};

// Thread creation, renaming and exit, host-wide, from the process events connector (netlink
// NETLINK_CONNECTOR, CN_IDX_PROC): how a vCPU hot-plugged into a running hypervisor is noticed
// without polling /proc (QEMU creates the thread, then names it "CPU <n>/<accel>", which the
// kernel reports as a comm event).
//
// The kernel lets only CAP_NET_ADMIN (in the initial user namespace) join the connector's group,
// and reports process events only to listeners in the initial user and PID namespaces and the
// initial network namespace; elsewhere it ignores the request without a word. So the
// constructor waits for the kernel's acknowledgement, and throws std::system_error when there is
// none (ETIMEDOUT) or the kernel refused (EPERM, EPROTONOSUPPORT without the connector).
class ProcEvents {
public:
    explicit ProcEvents(std::chrono::milliseconds ackTimeout = std::chrono::milliseconds(200));
    ~ProcEvents();
    ProcEvents(const ProcEvents&) = delete;
    ProcEvents& operator=(const ProcEvents&) = delete;

    // Only the events of these processes' threads reach read() from now on (a socket filter in
    // the kernel: the connector reports every fork, exec, exit and rename of the host, and a busy
    // host has thousands a second). With none, nothing does. The same list as the last one
    // changes nothing and makes no system call.
    void followProcesses(const std::vector<pid_t>& tgids);

    // Non-blocking: poll it for POLLIN.
    int fd() const noexcept { return fd_.get(); }

    struct Batch {
        std::vector<ProcEvent> events;
        // The socket's buffer overflowed (ENOBUFS): events were dropped, so whatever they could
        // have said must be looked up in /proc.
        bool lost = false;
    };
    // Everything queued now: fork events of threads only (not of new processes), comm and exit
    // events of any task.
    Batch read();

private:
    void send(int operation);

    UniqueFd fd_;
    // The processes of the filter attached last.
    std::optional<std::vector<pid_t>> followed_;
};

} // namespace resctrld
