// SPDX-License-Identifier: LGPL-2.1-or-later
#include "live_loop.h"

#include <cerrno>
#include <csignal>
#include <poll.h>
#include <sys/signalfd.h>
#include <system_error>
#include <time.h>
#include <unistd.h>

namespace resctrld::cli {

RawTerminal::RawTerminal(int fd)
    : fd_(fd) {
    termios mode{};
    if (::tcgetattr(fd, &mode) != 0)
        return;
    saved_ = mode;
    mode.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
    mode.c_cc[VMIN] = 0;
    mode.c_cc[VTIME] = 0;
    ::tcsetattr(fd, TCSANOW, &mode);
}

RawTerminal::~RawTerminal() {
    if (saved_)
        ::tcsetattr(fd_, TCSANOW, &*saved_);
}

LiveLoop::LiveLoop(sdbus::IConnection& connection, int keyboardFd)
    : connection_(connection)
    , keyboardFd_(keyboardFd) {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    if (::sigprocmask(SIG_BLOCK, &mask, &savedMask_) != 0)
        throw std::system_error(errno, std::generic_category(), "sigprocmask");
    signalFd_ = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (signalFd_ < 0) {
        const int error = errno;
        ::sigprocmask(SIG_SETMASK, &savedMask_, nullptr);
        throw std::system_error(error, std::generic_category(), "signalfd");
    }
}

LiveLoop::~LiveLoop() {
    ::close(signalFd_);
    ::sigprocmask(SIG_SETMASK, &savedMask_, nullptr);
}

void LiveLoop::dispatchQueued() {
    while (connection_.processPendingRequest()) {
    }
}

bool LiveLoop::wait(std::chrono::milliseconds timeout) {
    key_.reset();
    dispatchQueued();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto poll = connection_.getEventLoopPollData();
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        int wait = static_cast<int>(std::max<std::chrono::milliseconds::rep>(left.count(), 0));
        // The connection's own deadline (a pending reply's timeout), when sooner.
        const int busWait = poll.getPollTimeout();
        if (busWait >= 0 && busWait < wait)
            wait = busWait;
        pollfd fds[3] = {
            {poll.fd, poll.events, 0}, {signalFd_, POLLIN, 0}, {keyboardFd_, POLLIN, 0}};
        const int n = ::poll(fds, keyboardFd_ >= 0 ? 3 : 2, wait);
        if (n < 0 && errno != EINTR)
            throw std::system_error(errno, std::generic_category(), "poll");
        if (n > 0 && (fds[1].revents & POLLIN) != 0)
            return false;
        dispatchQueued();
        if (n > 0 && keyboardFd_ >= 0 && (fds[2].revents & POLLIN) != 0) {
            char c = 0;
            if (::read(keyboardFd_, &c, 1) == 1) {
                key_ = c;
                return true;
            }
        }
        if (std::chrono::steady_clock::now() >= deadline)
            return true;
        // A message was handled: let the caller look at what changed.
        if (n > 0)
            return true;
    }
}

} // namespace resctrld::cli
