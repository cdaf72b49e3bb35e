// SPDX-License-Identifier: LGPL-2.1-or-later
#include "resctrl_lock_queue.h"

#include <algorithm>
#include <utility>

#include <spdlog/spdlog.h>

namespace resctrld {
namespace {

constexpr std::chrono::milliseconds kFirstPause{1};
constexpr std::chrono::milliseconds kLongestPause{10};

} // namespace

ResctrlLockQueue::ResctrlLockQueue(EventLoop& loop, std::filesystem::path root)
    : loop_(loop)
    , root_(std::move(root))
    , retry_(loop, kFirstPause, [this] { tryRun(); }) {
    retry_.disarm();
}

void ResctrlLockQueue::submit(Work work, Clock::time_point deadline, Failed failed) {
    jobs_.push_back({std::move(work), deadline, std::move(failed), Clock::now()});
    // A new caller starts with short pauses again: another program that takes the lock often
    // must not keep a caller waiting at the longest pause.
    pause_ = kFirstPause;
    tryRun();
}

void ResctrlLockQueue::submit(Work work, Failed failed) {
    jobs_.push_back({std::move(work), std::nullopt, std::move(failed), Clock::now()});
    tryRun();
}

void ResctrlLockQueue::tryRun() {
    // Work that submits more work finds it run by the loop below, under the same lock.
    if (running_ || jobs_.empty())
        return;
    std::optional<ResctrlLock> lock;
    try {
        lock = tryLock();
    } catch (const Error& e) {
        failAll(e);
        return;
    }
    if (!lock) {
        expire(Clock::now());
        scheduleRetry();
        return;
    }
    running_ = true;
    while (!jobs_.empty()) {
        Job job = std::move(jobs_.front());
        jobs_.pop_front();
        // Each job answers its own caller and handles its own errors; anything escaping is a bug
        // in it and must not keep the rest of the queue from running.
        try {
            job.work(*lock);
        } catch (const std::exception& e) {
            spdlog::error("work under the resctrl lock failed: {}", e.what());
        }
    }
    if (afterWork_) {
        try {
            afterWork_(*lock);
        } catch (const std::exception& e) {
            spdlog::error("work after the resctrl lock's queue failed: {}", e.what());
        }
    }
    running_ = false;
    stopRetrying();
}

void ResctrlLockQueue::holdRoot(bool hold) {
    holdRoot_ = hold;
    if (!hold)
        heldRoot_.reset();
}

std::optional<ResctrlLock> ResctrlLockQueue::tryLock() {
    if (!holdRoot_)
        return ResctrlLock::tryAcquire(root_);
    if (!heldRoot_.isValid())
        heldRoot_ = ResctrlLock::openRoot(root_);
    return ResctrlLock::tryAcquire(heldRoot_, root_);
}

void ResctrlLockQueue::expire(Clock::time_point now) {
    // Jobs are not sorted by deadline: a job without one may stand before one that has passed.
    std::deque<Job> expired;
    std::erase_if(jobs_, [&](Job& job) {
        if (!job.deadline || *job.deadline > now)
            return false;
        expired.push_back(std::move(job));
        return true;
    });
    for (Job& job : expired) {
        const auto waited =
            std::chrono::duration_cast<std::chrono::milliseconds>(now - job.queuedAt);
        job.failed(Busy(ResctrlLock::busyMessage(root_, waited)));
    }
}

void ResctrlLockQueue::failAll(const Error& error) {
    std::deque<Job> failed = std::move(jobs_);
    jobs_.clear();
    stopRetrying();
    for (Job& job : failed)
        job.failed(error);
}

void ResctrlLockQueue::stopRetrying() {
    // Disarmed, not destroyed: this may run inside the timer's own callback.
    if (std::exchange(retryArmed_, false))
        retry_.disarm();
    pause_ = kFirstPause;
}

void ResctrlLockQueue::scheduleRetry() {
    if (jobs_.empty()) {
        stopRetrying();
        return;
    }
    retry_.setInterval(pause_);
    retryArmed_ = true;
    pause_ = std::min(pause_ * 2, kLongestPause);
}

} // namespace resctrld
