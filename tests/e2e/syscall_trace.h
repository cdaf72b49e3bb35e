// SPDX-License-Identifier: LGPL-2.1-or-later
// strace(1) attached to a running process, and what a daemon's sampling ticks did by its trace:
// for the tests that pin a tick's system calls and for the benchmark that reports them.
#pragma once

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <sys/types.h>
#include <vector>

namespace resctrld::e2e {

// `strace -f -o OUTPUT OPTIONS... -p PID`, attached when the constructor returns, detached (and
// its output complete) when the destructor returns.
class Strace {
public:
    Strace(pid_t pid, const std::vector<std::string>& options, const std::filesystem::path& output);
    ~Strace();
    Strace(const Strace&) = delete;
    Strace& operator=(const Strace&) = delete;

private:
    pid_t pid_ = -1;
    FILE* stderr_ = nullptr;
};

// The system calls of a daemon's whole sampling ticks: those between the first and the last
// expiry of its sampler's timerfd (the timer that fires most; the domain check has one too).
struct TickSyscalls {
    unsigned ticks = 0;
    // pread64(2) calls per counter file (a path with /mon_data/ in it).
    std::map<std::string, unsigned> counterReads;
    unsigned counterOpens = 0;
    // recvmsg(2) calls, on the bus socket: a tick has nothing to read from the bus.
    unsigned busReads = 0;
};

// Traces `pid` for `window` (pread64, read, openat and recvmsg with descriptors' paths; the trace
// goes to `output`) and sorts its ticks' calls.
TickSyscalls traceTicks(pid_t pid, const std::filesystem::path& output,
                        std::chrono::milliseconds window);

} // namespace resctrld::e2e
