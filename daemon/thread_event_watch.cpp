// SPDX-License-Identifier: LGPL-2.1-or-later
#include "thread_event_watch.h"

#include <cerrno>
#include <fcntl.h>
#include <system_error>
#include <vector>

#include <spdlog/spdlog.h>

namespace resctrld {

ThreadEventWatch::ThreadEventWatch(EventLoop& loop, ResctrlLockQueue& locks, DomainService& service,
                                   ThreadsChanged threadsChanged)
    : locks_(locks)
    , service_(service)
    , threadsChanged_(std::move(threadsChanged)) {
    followHypervisors();
    // The watch's own descriptor of the socket: FdWatch closes what it watches.
    UniqueFd watched(fcntl(events_.fd(), F_DUPFD_CLOEXEC, 0));
    if (!watched.isValid())
        throw std::system_error(errno, std::generic_category(), "dup of the process events socket");
    watch_.emplace(loop, std::move(watched), POLLIN, [this] { eventsArrived(); });
    service_.setThreadEvents(true);
}

void ThreadEventWatch::followHypervisors() {
    std::vector<pid_t> pids;
    for (const auto& [name, domain] : service_.domains())
        if (auto hypervisor = domain.hypervisor(); hypervisor && !domain.stopping)
            pids.push_back(hypervisor->pid);
    try {
        events_.followProcesses(pids);
    } catch (const std::system_error& e) {
        // Unfiltered, the events still say the right thing, only more often.
        spdlog::warn("{}", e.what());
    }
}

ThreadEventWatch::~ThreadEventWatch() {
    *alive_ = false;
    service_.setThreadEvents(false);
}

void ThreadEventWatch::eventsArrived() {
    ProcEvents::Batch batch;
    try {
        batch = events_.read();
    } catch (const std::system_error& e) {
        spdlog::warn("cannot read process events: {}; the periodic check lists the hypervisors' "
                     "threads",
                     e.what());
        batch.lost = true;
    }
    std::set<std::string> names = service_.domainsToRecheck(batch.events);
    if (batch.lost) {
        // Whatever the dropped events said is looked up in /proc: now, and by the next check.
        spdlog::debug("process events were lost; listing every hypervisor's threads");
        service_.threadEventsLost();
        for (const auto& [name, domain] : service_.domains())
            names.insert(name);
    }
    if (names.empty())
        return;
    const bool queued = !pending_.empty();
    pending_.merge(names);
    if (queued)
        return;
    locks_.submit(
        [this, alive = alive_](const ResctrlLock& lock) {
            if (!*alive)
                return;
            for (const std::string& name : std::exchange(pending_, {}))
                if (service_.checkThreads(lock, name))
                    threadsChanged_(name);
        },
        [this, alive = alive_](const Error& e) {
            if (!*alive)
                return;
            pending_.clear();
            service_.threadEventsLost(); // the periodic check lists them instead
            spdlog::warn("cannot look at new vCPU threads now: {}; the periodic check does",
                         e.what());
        });
}

} // namespace resctrld
