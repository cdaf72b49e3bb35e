// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <poll.h>
#include <sys/types.h>
#include <utility>
#include <vector>

#include <initializer_list>

#include "unique_fd.h"

namespace sdbus {
class IConnection;
}

namespace resctrld {

// The daemon's single event loop (style.md, "one event loop thread owns all state"): the bus
// connection's fd and timeout from sdbus-c++'s getEventLoopPollData(), plus any other fd (signals,
// timers). Every callback, bus handler and signal emission runs on the thread that calls run().
class EventLoop {
public:
    using Handler = std::function<void()>;

    explicit EventLoop(sdbus::IConnection& bus)
        : bus_(bus) {}

    // Calls `onReadable` whenever `fd` polls readable. The fd stays owned by the caller and must
    // outlive the watch.
    void watch(int fd, Handler onReadable) { watch(fd, POLLIN, std::move(onReadable)); }
    // Calls `onEvent` whenever `fd` polls any of `events` (e.g. POLLPRI for /proc/self/mountinfo).
    void watch(int fd, short events, Handler onEvent);
    void unwatch(int fd);

    // Runs `handler` once, after the bus message being handled now (e.g. to destroy the object
    // whose method is running: sdbus-c++ still sends the reply through it).
    void defer(Handler handler) { deferred_.push_back(std::move(handler)); }

    // Runs until quit(); rethrows what a handler throws.
    void run();
    void quit() { quit_ = true; }

private:
    void runDeferred();

    sdbus::IConnection& bus_;
    std::map<int, std::pair<short, Handler>> watches_;
    std::vector<Handler> deferred_;
    bool quit_ = false;
};

// Blocks the given signals for the process and delivers them through a signalfd on the loop, so a
// signal handler never runs in the middle of a bus call. Block before any thread starts.
class SignalWatch {
public:
    SignalWatch(EventLoop& loop, std::initializer_list<int> signals,
                std::function<void(int signal)> onSignal);
    ~SignalWatch();
    SignalWatch(const SignalWatch&) = delete;
    SignalWatch& operator=(const SignalWatch&) = delete;

private:
    EventLoop& loop_;
    UniqueFd fd_;
    std::function<void(int)> onSignal_;
};

// Calls `onChange` when the mount table changes (the kernel marks /proc/self/mountinfo with
// POLLPRI then), so the daemon notices resctrl being mounted or unmounted without polling.
class MountTableWatch {
public:
    MountTableWatch(EventLoop& loop, EventLoop::Handler onChange);
    ~MountTableWatch();
    MountTableWatch(const MountTableWatch&) = delete;
    MountTableWatch& operator=(const MountTableWatch&) = delete;

private:
    EventLoop& loop_;
    UniqueFd fd_;
    EventLoop::Handler onChange_;
};

// Calls `onExit` when process `pid` exits, through a pidfd (Linux 5.3), so nothing polls for it.
// Throws std::system_error when the pidfd cannot be opened (ESRCH: the process is gone already).
// The caller checks that `pid` still names the process it means after construction: the pidfd
// refers to whatever process had that pid then.
class ProcessExitWatch {
public:
    ProcessExitWatch(EventLoop& loop, pid_t pid, EventLoop::Handler onExit);
    ~ProcessExitWatch();
    ProcessExitWatch(const ProcessExitWatch&) = delete;
    ProcessExitWatch& operator=(const ProcessExitWatch&) = delete;

private:
    EventLoop& loop_;
    UniqueFd fd_;
};

// A periodic CLOCK_MONOTONIC timer on the loop (timerfd: no drift, no busy waiting). Missed
// expirations are coalesced into one callback.
class PeriodicTimer {
public:
    PeriodicTimer(EventLoop& loop, std::chrono::microseconds interval, EventLoop::Handler onTick);
    ~PeriodicTimer();
    // The next tick comes `interval` from now, and so on. Safe to call from onTick.
    void setInterval(std::chrono::microseconds interval);
    // No more ticks until setInterval(). Safe to call from onTick.
    void disarm();
    PeriodicTimer(const PeriodicTimer&) = delete;
    PeriodicTimer& operator=(const PeriodicTimer&) = delete;

private:
    EventLoop& loop_;
    UniqueFd fd_;
    EventLoop::Handler onTick_;
};

} // namespace resctrld
