// SPDX-License-Identifier: LGPL-2.1-or-later
// The event loop of the live commands (top, monitor): the bus connection, SIGINT/SIGTERM through
// a signalfd (so the terminal is restored on the way out) and, for an interactive top, single
// key presses from the terminal.
#pragma once

#include <chrono>
#include <optional>
#include <termios.h>

#include <sdbus-c++/IConnection.h>

namespace resctrld::cli {

// The terminal in non-canonical, no-echo mode while it lives.
class RawTerminal {
public:
    explicit RawTerminal(int fd);
    ~RawTerminal();
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;

private:
    int fd_;
    std::optional<termios> saved_;
};

class LiveLoop {
public:
    // `keyboardFd` >= 0: key presses are read from it.
    LiveLoop(sdbus::IConnection& connection, int keyboardFd);
    ~LiveLoop();
    LiveLoop(const LiveLoop&) = delete;
    LiveLoop& operator=(const LiveLoop&) = delete;

    // Dispatches the bus messages that arrive within `timeout` (every one already queued at
    // once). Returns false when SIGINT or SIGTERM arrived.
    bool wait(std::chrono::milliseconds timeout);
    // The key pressed during the last wait(), if any.
    std::optional<char> key() const { return key_; }

private:
    void dispatchQueued();
    sdbus::IConnection& connection_;
    int keyboardFd_;
    int signalFd_ = -1;
    sigset_t savedMask_{};
    std::optional<char> key_;
};

} // namespace resctrld::cli
