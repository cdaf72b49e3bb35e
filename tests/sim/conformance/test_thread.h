// SPDX-License-Identifier: LGPL-2.1-or-later
// A real thread that parks until told to exit, so a test can move its TID between groups
// and watch it vanish from tasks files once it is gone (docs/kernel.md §5.2).
#pragma once

#include <condition_variable>
#include <future>
#include <mutex>
#include <sys/types.h>
#include <thread>

namespace resctrld::simtest {

pid_t currentTid();

class TestThread {
public:
    TestThread() {
        std::promise<pid_t> started;
        auto tid = started.get_future();
        thread_ = std::thread([this, started = std::move(started)]() mutable {
            started.set_value(currentTid());
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return quit_; });
        });
        tid_ = tid.get();
    }
    ~TestThread() { stop(); }
    TestThread(const TestThread&) = delete;
    TestThread& operator=(const TestThread&) = delete;

    pid_t tid() const { return tid_; }

    // Ends the thread and joins it; the TID is gone from the kernel soon after.
    void stop() {
        if (!thread_.joinable())
            return;
        {
            std::lock_guard lock(mutex_);
            quit_ = true;
        }
        wake_.notify_all();
        thread_.join();
    }

private:
    std::mutex mutex_;
    std::condition_variable wake_;
    bool quit_ = false;
    pid_t tid_ = 0;
    std::thread thread_;
};

} // namespace resctrld::simtest
