// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <chrono>
#include <deque>
#include <filesystem>
#include <functional>
#include <optional>

#include "errors.h"
#include "event_loop.h"
#include "resctrl_fs.h"

namespace resctrld {

// Runs the work that changes resctrl under the kernel's advisory lock without ever waiting for
// the lock on the event loop: anyone who can read the resctrl root can take that lock and keep
// it, and the loop must go on answering everyone else (properties, ListDomains, GetStats, the
// watchdog). Work runs at once when the lock is free; while another open file holds it, the
// queue tries again from a timer. flock(2) tells nobody when a lock is released, so this is
// polling, with a pause that grows from 1 ms to 10 ms. Work runs in the order it came, every
// piece under one taking of the lock when several are waiting.
class ResctrlLockQueue {
public:
    using Clock = std::chrono::steady_clock;
    using Work = std::function<void(const ResctrlLock&)>;
    // Called instead of the work: Busy when the deadline passed with the lock still taken,
    // ResctrlUnavailable when the root cannot be opened.
    using Failed = std::function<void(const Error&)>;

    ResctrlLockQueue(EventLoop& loop, std::filesystem::path root);

    // `work` runs as soon as the lock can be taken, or `failed` runs at `deadline`. Runs `work`
    // before returning when the lock is free and nothing is queued.
    void submit(Work work, Clock::time_point deadline, Failed failed);
    // Without a deadline: waits as long as the lock stays taken (cleanups, recovery).
    void submit(Work work, Failed failed);

    bool idle() const noexcept { return jobs_.empty(); }
    // While `hold`, the root stays open between takings of the lock, so that taking it is one
    // flock(2) (the daemon holds it while domains have groups: their files keep the mount busy
    // then anyway); otherwise it is opened for each taking and closed after, so that nothing of
    // the daemon's keeps resctrl from being unmounted. rootChanged(): the mount at the root may
    // be another one now; a held root is opened afresh.
    void holdRoot(bool hold);
    void rootChanged() { heldRoot_.reset(); }
    // `after` runs each time the queued work has run, still under the lock (once for every
    // batch of work that ran under one taking of it).
    void afterWork(std::function<void(const ResctrlLock&)> after) { afterWork_ = std::move(after); }

private:
    struct Job {
        Work work;
        std::optional<Clock::time_point> deadline;
        Failed failed;
        Clock::time_point queuedAt;
    };

    void tryRun();
    // Fails every job whose deadline has passed.
    void expire(Clock::time_point now);
    void failAll(const Error& error);
    void scheduleRetry();
    void stopRetrying();

    EventLoop& loop_;
    // Takes the lock on the held root (opened first when needed) or on a fresh open of it.
    std::optional<ResctrlLock> tryLock();

    std::filesystem::path root_;
    bool holdRoot_ = false;
    UniqueFd heldRoot_;
    std::deque<Job> jobs_;
    // Made with the queue and disarmed, not on the first busy lock: the daemon holds the same
    // descriptors whether or not another program ever held the lock.
    PeriodicTimer retry_;
    std::function<void(const ResctrlLock&)> afterWork_;
    std::chrono::milliseconds pause_{1};
    bool retryArmed_ = false;
    bool running_ = false;
};

} // namespace resctrld
