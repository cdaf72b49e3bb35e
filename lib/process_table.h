// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <sys/types.h>
#include <vector>

namespace resctrld {

// What /proc says about one thread.
struct ThreadInfo {
    pid_t tid = 0;
    pid_t tgid = 0; // the process the thread belongs to
    // /proc/<tid>/stat field 22, in clock ticks since boot: with the tid it names a thread
    // uniquely, so a reused tid is never mistaken for the one recorded.
    std::uint64_t startTime = 0;
    bool isKernelThread = false;
    bool exited = false; // a zombie, waiting for its parent
    std::string comm;
};

// A process's identity that survives PID reuse.
struct ProcessIdentity {
    pid_t pid = 0;
    std::uint64_t startTime = 0;
    friend bool operator==(const ProcessIdentity&, const ProcessIdentity&) = default;
};

// Reads threads and processes from a proc root (a constructor argument, so tests can point it at
// a fixture tree; the daemon uses /proc). Threads that exit are expected: lookups return
// std::nullopt. They throw std::system_error only when /proc cannot be read at all (EMFILE,
// ENFILE, ENOMEM), which says nothing about the process.
class ProcessTable {
public:
    explicit ProcessTable(std::filesystem::path procRoot = "/proc");

    std::optional<ThreadInfo> thread(pid_t tid) const;
    // The thread `tid` when it is one of process `pid`'s: one read of /proc/<pid>/task/<tid>/stat
    // instead of thread()'s two. nullopt when it is not (or is gone).
    std::optional<ThreadInfo> threadOf(pid_t pid, pid_t tid) const;
    std::optional<ProcessIdentity> process(pid_t pid) const;
    // True while the process recorded as `identity` runs (same pid and same start time, and not
    // a zombie).
    bool isAlive(const ProcessIdentity& identity) const;

    // QEMU names its vCPU threads "CPU <n>/<accel>" ("CPU 0/KVM", "CPU 3/TCG"). Returns vCPU
    // number -> tid for the threads of `pid` named so; empty if the process is gone.
    std::map<unsigned, pid_t> vcpuThreads(pid_t pid) const;

    // The thread ids of `pid` (/proc/<pid>/task), without reading any of them; empty if the
    // process is gone.
    std::set<pid_t> threadIds(pid_t pid) const;

    // The real, effective, saved and filesystem uids of task `tid` (the "Uid:" line of its
    // status); nullopt if it is gone.
    std::optional<std::vector<uid_t>> uids(pid_t tid) const;

private:
    std::filesystem::path procRoot_;
};

// Parses a thread name of QEMU's form "CPU <n>/<accel>"; nullopt for any other name.
std::optional<unsigned> parseVcpuThreadName(const std::string& comm);

} // namespace resctrld
