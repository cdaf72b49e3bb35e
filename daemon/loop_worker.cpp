// SPDX-License-Identifier: LGPL-2.1-or-later
#include "loop_worker.h"

#include <csignal>
#include <cstdint>
#include <pthread.h>
#include <sys/eventfd.h>
#include <system_error>
#include <unistd.h>

namespace resctrld {
namespace {

UniqueFd makeEventFd() {
    UniqueFd fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fd.isValid())
        throw std::system_error(errno, std::generic_category(), "eventfd");
    return fd;
}

// Starts `body` on a thread that has every signal blocked from its first instruction: the loop's
// signalfd is the only place the daemon's signals may be delivered.
std::thread startWithSignalsBlocked(std::function<void()> body) {
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    std::thread thread(std::move(body));
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return thread;
}

} // namespace

LoopWorker::LoopWorker(EventLoop& loop, std::size_t maxWaiting)
    : maxWaiting_(maxWaiting) {
    finishedWatch_.emplace(loop, makeEventFd(), POLLIN, [this] { runFinished(); });
    thread_ = startWithSignalsBlocked([this] { runWorker(); });
}

LoopWorker::~LoopWorker() {
    {
        const std::lock_guard guard(mutex_);
        stopping_ = true;
        waiting_.clear();
    }
    wake_.notify_one();
    thread_.join();
}

bool LoopWorker::post(Job work, Job done) {
    {
        const std::lock_guard guard(mutex_);
        if (waiting_.size() >= maxWaiting_)
            return false;
        waiting_.push_back({std::move(work), std::move(done)});
    }
    wake_.notify_one();
    return true;
}

void LoopWorker::runWorker() {
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
        if (stopping_)
            return;
        Task task = std::move(waiting_.front());
        waiting_.pop_front();
        lock.unlock();
        try {
            task.work(); // leaves what it throws for its `done` (WorkResult)
        } catch (...) {
            // Nothing may end the thread; a job that lets an error escape reports nothing.
        }
        lock.lock();
        finished_.push_back(std::move(task.done));
        const std::uint64_t one = 1;
        // Cannot fail short of a full counter (2^64 - 1 jobs) or a closed fd.
        [[maybe_unused]] const auto written = write(finishedWatch_->fd(), &one, sizeof one);
    }
}

void LoopWorker::runFinished() {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto read = ::read(finishedWatch_->fd(), &count, sizeof count);
    std::deque<Job> finished;
    {
        const std::lock_guard guard(mutex_);
        finished.swap(finished_);
    }
    for (Job& done : finished)
        done();
}

} // namespace resctrld
