// SPDX-License-Identifier: LGPL-2.1-or-later
// Where the daemon is blocked: the crash matrices kill it exactly while a stalled simulator
// operation holds it (resctrlfs-sim's `faults` control file, `stall`).
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <sys/types.h>
#include <sys/uio.h>
#include <thread>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "daemon_fixture.h"
#include "dbus_names.h"
#include "harness.h"

namespace resctrld::e2e {

// The NUL-terminated string at `address` in the memory of `pid` (root reads any process's),
// byte by byte so that no read crosses into an unmapped page.
inline std::optional<std::string> remoteString(pid_t pid, unsigned long address) {
    std::string text;
    for (std::size_t i = 0; i < 4096; ++i) {
        char c = 0;
        iovec local{&c, 1};
        iovec remote{reinterpret_cast<void*>(address + i), 1};
        if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != 1)
            return std::nullopt;
        if (c == '\0')
            return text;
        text += c;
    }
    return std::nullopt;
}

// Whether a thread of `pid` is blocked now in `op` on exactly `target` (x86-64 system call
// numbers; the path argument read from the daemon's memory, a write's file from its fd), so a
// crash is never taken at another operation that happens to be in flight. Like
// test_daemon_runtime.cpp's, but exact, and with open.
inline bool isStalledIn(pid_t pid, const std::string& op, const std::filesystem::path& target) {
    for (const BlockedSyscall& call : blockedSyscalls(pid)) {
        const long number = call.number;
        const auto [a0, a1, a2] = call.args;
        auto pathIs = [&](unsigned long address) {
            const auto path = remoteString(pid, address);
            return path &&
                   std::filesystem::path(*path).lexically_normal() == target.lexically_normal();
        };
        auto fdIs = [&](unsigned long fd) {
            std::error_code linkError;
            const auto file =
                std::filesystem::read_symlink(call.task / "fd" / std::to_string(fd), linkError);
            return !linkError && file.lexically_normal() == target.lexically_normal();
        };
        constexpr unsigned long kAtRemoveDir = 0x200;
        if (op == "mkdir" && ((number == 83 && pathIs(a0)) || (number == 258 && pathIs(a1))))
            return true;
        if (op == "rmdir" && ((number == 84 && pathIs(a0)) ||
                              (number == 263 && (a2 & kAtRemoveDir) != 0 && pathIs(a1))))
            return true;
        if (op == "rename" &&
            ((number == 82 && pathIs(a0)) || ((number == 264 || number == 316) && pathIs(a1))))
            return true;
        if (op == "write" && (number == 1 || number == 18 || number == 20) && fdIs(a0))
            return true;
        if (op == "open" && ((number == 2 && pathIs(a0)) || (number == 257 && pathIs(a1))))
            return true;
    }
    return false;
}

// What crashAt() saw.
struct CrashAttempt {
    bool killed = false;   // the daemon was killed while blocked at the point
    std::string callError; // the call's D-Bus error when it finished first, else ""
};

// Stalls `op` on the simulator path `path` (resctrlfs-sim's `faults` control, `stall`), makes
// `call` on the Manager from another thread over a connection of its own, and kills the daemon
// while it is blocked exactly there; then clears the fault and starts the daemon again (waiting
// until it is ready). When the call finishes first or the point is not reached within 5 s,
// nothing is killed: the fault is cleared and the daemon keeps running.
inline CrashAttempt crashAt(DaemonFixture& f, const std::string& op, const std::string& path,
                            std::chrono::milliseconds stall,
                            const std::function<void(sdbus::IProxy&)>& call) {
    f.sim.setControl("faults",
                     op + " " + path + " 1 stall " + std::to_string(stall.count()) + "\n");
    CrashAttempt attempt;
    std::atomic<bool> finished = false;
    std::thread caller([&] {
        try {
            auto connection = sdbus::createSessionBusConnectionWithAddress(f.bus.address());
            call(*sdbus::createProxy(*connection, kService, kRootPath));
        } catch (const sdbus::Error& e) {
            attempt.callError = e.getName() + ": " + e.getMessage();
        }
        finished = true;
    });
    const pid_t daemonPid = f.daemon->process().pid();
    const bool stalled =
        simtest::waitUntil([&] { return finished || isStalledIn(daemonPid, op, f.sim.at(path)); },
                           std::chrono::seconds(5));
    if (finished || !stalled) {
        caller.join();
        f.sim.setControl("faults", "");
        return attempt;
    }
    attempt.killed = true;
    f.killDaemon();
    caller.join();
    f.sim.setControl("faults", "");
    f.startDaemon();
    return attempt;
}

// "\n  not reached: <point>" for each point a crash matrix could not stop the daemon at.
inline std::string listNotReached(const std::vector<std::string>& points) {
    std::string list;
    for (const std::string& point : points)
        list += "\n  not reached: " + point;
    return list;
}

} // namespace resctrld::e2e
