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

class FdWatch;

// The daemon's single event loop, whose thread owns all state: the bus connection's fd and timeout
// from sdbus-c++'s getEventLoopPollData(), plus the fds of FdWatch objects (signals, timers,
// pidfds, the mount table). Every callback, bus handler and signal emission runs on the thread
// that calls run(). The fds sit in one epoll set, so a wake-up costs the same however many are
// watched (a sampling tick wakes the loop once a second).
class EventLoop {
public:
    using Handler = std::function<void()>;

    // Throws std::system_error when the epoll set cannot be made.
    explicit EventLoop(sdbus::IConnection& bus);

    // Runs `handler` once, after the bus message or fd event being handled now (e.g. to destroy
    // the object whose method is running: sdbus-c++ still sends the reply through it).
    void defer(Handler handler) { deferred_.push_back(std::move(handler)); }

    // Runs until quit(); rethrows what a handler throws.
    void run();
    void quit() { quit_ = true; }

private:
    friend class FdWatch;

    // Calls `onEvent` whenever `fd` polls any of `events`; only FdWatch watches, so that every
    // watch ends before its fd is closed.
    void watch(int fd, short events, Handler onEvent);
    void unwatch(int fd);
    void runDeferred();

    // Brings the bus fd's entry in the epoll set up to what sd-bus waits for now.
    void watchBus(int fd, short events);

    sdbus::IConnection& bus_;
    UniqueFd epoll_;
    int busFd_ = -1;
    short busEvents_ = 0;
    std::map<int, Handler> watches_;
    std::vector<Handler> deferred_;
    bool quit_ = false;
};

// The one fd-event primitive: owns an fd and watches it on the loop for as long as it lives. The
// loop calls `onEvent` whenever the fd polls any of `events` (POLLIN, or POLLPRI for
// /proc/self/mountinfo); the destructor stops the watch, then closes the fd. The loop runs a copy
// of `onEvent`, so the handler may destroy the FdWatch (and what it captured by value survives).
class FdWatch {
public:
    // `fd` is valid: the caller checks it, as only the caller can say what failed to open.
    FdWatch(EventLoop& loop, UniqueFd fd, short events, EventLoop::Handler onEvent);
    ~FdWatch();
    FdWatch(const FdWatch&) = delete;
    FdWatch& operator=(const FdWatch&) = delete;

    int fd() const noexcept { return fd_.get(); }

private:
    EventLoop& loop_;
    UniqueFd fd_;
};

// Blocks the given signals for the process and delivers them through a signalfd on the loop, so a
// signal handler never runs in the middle of a bus call. Block before any thread starts.
class SignalWatch {
public:
    SignalWatch(EventLoop& loop, std::initializer_list<int> signals,
                std::function<void(int signal)> onSignal);

private:
    std::function<void(int)> onSignal_;
    FdWatch watch_; // last: it stops before onSignal_ goes
};

// Calls `onChange` when the mount table changes (the kernel marks /proc/self/mountinfo with
// POLLPRI then), so the daemon notices resctrl being mounted or unmounted without polling.
class MountTableWatch {
public:
    MountTableWatch(EventLoop& loop, EventLoop::Handler onChange);

private:
    EventLoop::Handler onChange_;
    FdWatch watch_;
};

// Calls `onExit` when process `pid` exits, through a pidfd (Linux 5.3), so nothing polls for it.
// Throws std::system_error when the pidfd cannot be opened (ESRCH: the process is gone already).
// The caller checks that `pid` still names the process it means after construction: the pidfd
// refers to whatever process had that pid then.
class ProcessExitWatch {
public:
    ProcessExitWatch(EventLoop& loop, pid_t pid, EventLoop::Handler onExit);

private:
    FdWatch watch_;
};

// A periodic CLOCK_MONOTONIC timer on the loop (timerfd: no drift, no busy waiting). Missed
// expirations are coalesced into one callback.
class PeriodicTimer {
public:
    PeriodicTimer(EventLoop& loop, std::chrono::microseconds interval, EventLoop::Handler onTick);
    // The next tick comes `interval` from now, and so on. Safe to call from onTick.
    void setInterval(std::chrono::microseconds interval);
    // No more ticks until setInterval(). Safe to call from onTick.
    void disarm();

private:
    EventLoop::Handler onTick_;
    FdWatch watch_;
};

} // namespace resctrld
