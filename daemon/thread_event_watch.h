// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>

#include "domain_service.h"
#include "event_loop.h"
#include "proc_events.h"
#include "resctrl_lock_queue.h"

namespace resctrld {

// vCPU hot-plug without polling: the kernel's process events (ProcEvents) on the event loop.
// When a domain's hypervisor creates or names a vCPU thread, or an attached one exits, that
// domain's threads are looked at under the resctrl lock (DomainService::checkThreads) at once,
// several events coalesced into one taking of the lock. While it exists, the periodic check no
// longer lists every hypervisor's threads.
class ThreadEventWatch {
public:
    using ThreadsChanged = std::function<void(const std::string& domain)>;

    // Throws std::system_error when the kernel does not give process events to this daemon (no
    // CAP_NET_ADMIN, another namespace, no connector); the periodic check then does the work.
    ThreadEventWatch(EventLoop& loop, ResctrlLockQueue& locks, DomainService& service,
                     ThreadsChanged threadsChanged);
    ~ThreadEventWatch();
    // Domains came, went or changed hypervisor: only their hypervisors' events reach the daemon
    // (a filter in the kernel), so a busy host's other processes never wake it.
    void followHypervisors();
    ThreadEventWatch(const ThreadEventWatch&) = delete;
    ThreadEventWatch& operator=(const ThreadEventWatch&) = delete;

private:
    void eventsArrived();

    ResctrlLockQueue& locks_;
    DomainService& service_;
    ThreadsChanged threadsChanged_;
    ProcEvents events_;
    std::optional<FdWatch> watch_; // after events_: it stops before the socket closes
    // Domains to look at once the lock is taken; a job is queued while it is not empty.
    std::set<std::string> pending_;
    // Cleared by the destructor: a queued job outliving the watch does nothing.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

} // namespace resctrld
