// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "event_loop.h"

namespace resctrld {

// One worker thread for work that only computes (parsing a caller's definition), so that a large
// document sent by any user cannot hold up the loop: every other caller, the timers and the
// watches go on while it is parsed. Each job's `done` runs afterwards on the loop, where all state
// lives. The work must touch nothing the loop owns: it gets its inputs by value and leaves its
// result where only its `done` reads it.
class LoopWorker {
public:
    using Job = std::function<void()>;

    // `maxWaiting` bounds the jobs queued behind the one running.
    LoopWorker(EventLoop& loop, std::size_t maxWaiting);
    // Lets the running job finish, drops the rest (their `done` never runs) and joins the thread.
    ~LoopWorker();
    LoopWorker(const LoopWorker&) = delete;
    LoopWorker& operator=(const LoopWorker&) = delete;

    // Queues `work` for the worker and `done` for the loop after it. Returns false, queuing
    // nothing, when `maxWaiting` jobs are already waiting.
    bool post(Job work, Job done);

private:
    struct Task {
        Job work;
        Job done;
    };

    void runWorker();
    // On the loop: runs the `done` of every job the worker finished.
    void runFinished();

    const std::size_t maxWaiting_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Task> waiting_;
    std::deque<Job> finished_;
    bool stopping_ = false;
    // The worker writes it when a job is finished; the loop watches it.
    std::optional<FdWatch> finishedWatch_;
    std::thread thread_; // last: it starts once everything above exists, and stops first
};

// What a job computed on the worker, or what it threw, for its `done` on the loop.
template <class Value> class WorkResult {
public:
    // Stores what `compute` returns or throws.
    template <class Compute> void capture(Compute&& compute) noexcept {
        try {
            value_.emplace(compute());
        } catch (...) {
            error_ = std::current_exception();
        }
    }
    // The value; rethrows what `compute` threw.
    Value& get() {
        if (error_)
            std::rethrow_exception(error_);
        return *value_;
    }

private:
    std::optional<Value> value_;
    std::exception_ptr error_;
};

} // namespace resctrld
