// SPDX-License-Identifier: LGPL-2.1-or-later
#include "event_loop.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <string>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <system_error>
#include <unistd.h>
#include <vector>

#include <sdbus-c++/IConnection.h>

namespace resctrld {
namespace {

// Bus messages handled before the loop looks at its other fds again.
constexpr int kMaxMessagesPerTurn = 32;

} // namespace

// poll(2)'s event bits are epoll's (EPOLLIN == POLLIN, EPOLLPRI == POLLPRI, EPOLLOUT == POLLOUT).
EventLoop::EventLoop(sdbus::IConnection& bus)
    : bus_(bus)
    , epoll_(epoll_create1(EPOLL_CLOEXEC)) {
    if (!epoll_.isValid())
        throw std::system_error(errno, std::generic_category(), "epoll_create1");
}

void EventLoop::watch(int fd, short events, Handler onEvent) {
    epoll_event event{};
    event.events = static_cast<std::uint32_t>(events);
    event.data.fd = fd;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0)
        throw std::system_error(errno, std::generic_category(), fmt::format("epoll_ctl {}", fd));
    watches_[fd] = std::move(onEvent);
}

void EventLoop::unwatch(int fd) {
    // Before the fd is closed (FdWatch's order), so the set never holds a stale entry.
    epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    watches_.erase(fd);
}

void EventLoop::watchBus(int fd, short events) {
    if (fd == busFd_ && events == busEvents_)
        return;
    epoll_event event{};
    event.events = static_cast<std::uint32_t>(events);
    event.data.fd = fd;
    if (fd != busFd_ && busFd_ >= 0)
        epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, busFd_, nullptr);
    const int op = fd == busFd_ ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(epoll_.get(), op, fd, &event) != 0)
        throw std::system_error(errno, std::generic_category(), "epoll_ctl (the bus)");
    busFd_ = fd;
    busEvents_ = events;
}

void EventLoop::runDeferred() {
    while (!deferred_.empty()) {
        auto batch = std::move(deferred_);
        deferred_.clear();
        for (auto& handler : batch)
            handler();
    }
}

void EventLoop::run() {
    quit_ = false;
    std::array<epoll_event, 16> events;
    std::vector<int> ready;
    // Whether sd-bus may have work: at first, and then after a wait that its fd, its timeout or
    // a full batch ended (below). A wake-up for the other fds alone (a timer, a process exit)
    // leaves it out: processing then would only read the socket to find nothing there.
    bool busTurn = true;
    while (!quit_) {
        // Drain what sd-bus has buffered before sleeping (epoll only reports new bytes), but at
        // most a batch: busy clients must not starve signals, timers and process exits. After a
        // full batch the wait below only looks (timeout 0) and the loop comes back for the rest.
        // Deferred work runs after each message, before the next one can depend on it.
        int handled = 0;
        while (busTurn && !quit_ && handled < kMaxMessagesPerTurn && bus_.processPendingRequest()) {
            runDeferred();
            ++handled;
        }
        runDeferred();
        if (quit_)
            break;

        // Asked after every turn: the handlers of the last one may have queued messages to send
        // (POLLOUT), read replies into sd-bus's queue (its timeout is then 0) or made calls
        // whose replies are due by a time.
        const auto pollData = bus_.getEventLoopPollData();
        watchBus(pollData.fd, pollData.events);
        const int busTimeout = pollData.getPollTimeout();
        const int timeout = handled == kMaxMessagesPerTurn ? 0 : busTimeout;
        const int n =
            epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), timeout);
        if (n < 0) {
            busTurn = true;
            if (errno == EINTR)
                continue;
            throw std::system_error(errno, std::generic_category(), "epoll_wait");
        }

        // Collect first: a handler may watch or unwatch fds. More ready fds than fit are
        // reported by the next wait (level-triggered).
        // sd-bus's turn: its fd is ready, its timeout has come (a wait that ended with nothing
        // ready ended by it; 0: it holds messages already read), or the last batch was full.
        busTurn = n == 0 || busTimeout == 0 || handled == kMaxMessagesPerTurn;
        ready.clear();
        for (int i = 0; i < n; ++i) {
            const int fd = events[static_cast<std::size_t>(i)].data.fd;
            if (fd == busFd_)
                busTurn = true;
            else
                ready.push_back(fd);
        }
        for (int fd : ready) {
            if (auto it = watches_.find(fd); it != watches_.end()) {
                auto handler = it->second; // survives an unwatch from inside itself
                handler();
                runDeferred();
            }
        }
    }
}

FdWatch::FdWatch(EventLoop& loop, UniqueFd fd, short events, EventLoop::Handler onEvent)
    : loop_(loop)
    , fd_(std::move(fd)) {
    loop_.watch(fd_.get(), events, std::move(onEvent));
}

FdWatch::~FdWatch() {
    loop_.unwatch(fd_.get());
}

namespace {

// Blocks `signals` for the process and returns a signalfd that reads them.
UniqueFd openSignalFd(std::initializer_list<int> signals) {
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : signals)
        sigaddset(&mask, s);
    if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0)
        throw std::system_error(errno, std::generic_category(), "sigprocmask");
    UniqueFd fd(signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!fd.isValid())
        throw std::system_error(errno, std::generic_category(), "signalfd");
    return fd;
}

// Reading the table to its end re-arms the kernel's change notification.
void drain(int fd) {
    char buffer[4096];
    lseek(fd, 0, SEEK_SET);
    while (read(fd, buffer, sizeof buffer) > 0) {
    }
}

// /proc/self/mountinfo, read to its end so that the next change is the one reported.
UniqueFd openMountTable() {
    UniqueFd fd(open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC));
    if (!fd.isValid())
        throw std::system_error(errno, std::generic_category(), "open /proc/self/mountinfo");
    drain(fd.get());
    return fd;
}

UniqueFd openPidFd(pid_t pid) {
    UniqueFd fd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
    if (!fd.isValid())
        throw std::system_error(errno, std::generic_category(), fmt::format("pidfd_open {}", pid));
    return fd;
}

UniqueFd openTimerFd() {
    UniqueFd fd(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    if (!fd.isValid())
        throw std::system_error(errno, std::generic_category(), "timerfd_create");
    return fd;
}

} // namespace

SignalWatch::SignalWatch(EventLoop& loop, std::initializer_list<int> signals,
                         std::function<void(int)> onSignal)
    : onSignal_(std::move(onSignal))
    , watch_(loop, openSignalFd(signals), POLLIN, [this] {
        signalfd_siginfo info{};
        while (read(watch_.fd(), &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info)))
            onSignal_(static_cast<int>(info.ssi_signo));
    }) {
}

MountTableWatch::MountTableWatch(EventLoop& loop, EventLoop::Handler onChange)
    : onChange_(std::move(onChange))
    , watch_(loop, openMountTable(), POLLPRI, [this] {
        drain(watch_.fd());
        onChange_();
    }) {
}

// onExit may destroy this watch: the loop runs a copy of the handler, which touches nothing of the
// watch after calling onExit. It checks the fd again: an fd closed and reused in the same loop
// iteration must not fire.
ProcessExitWatch::ProcessExitWatch(EventLoop& loop, pid_t pid, EventLoop::Handler onExit)
    : watch_(loop, openPidFd(pid), POLLIN, [this, onExit = std::move(onExit)] {
        pollfd exited{watch_.fd(), POLLIN, 0};
        if (poll(&exited, 1, 0) == 1 && (exited.revents & POLLIN))
            onExit();
    }) {
}

PeriodicTimer::PeriodicTimer(EventLoop& loop, std::chrono::microseconds interval,
                             EventLoop::Handler onTick)
    : onTick_(std::move(onTick))
    , watch_(loop, openTimerFd(), POLLIN, [this] {
        std::uint64_t expirations = 0;
        if (read(watch_.fd(), &expirations, sizeof(expirations)) ==
            static_cast<ssize_t>(sizeof(expirations)))
            onTick_();
    }) {
    setInterval(interval);
}

void PeriodicTimer::disarm() {
    const itimerspec stopped{};
    if (timerfd_settime(watch_.fd(), 0, &stopped, nullptr) != 0)
        throw std::system_error(errno, std::generic_category(), "timerfd_settime");
}

void PeriodicTimer::setInterval(std::chrono::microseconds interval) {
    const auto usec = std::max<long long>(interval.count(), 1);
    itimerspec spec{};
    spec.it_interval.tv_sec = static_cast<time_t>(usec / 1'000'000);
    spec.it_interval.tv_nsec = static_cast<long>((usec % 1'000'000) * 1000);
    spec.it_value = spec.it_interval;
    if (timerfd_settime(watch_.fd(), 0, &spec, nullptr) != 0)
        throw std::system_error(errno, std::generic_category(), "timerfd_settime");
}

} // namespace resctrld
