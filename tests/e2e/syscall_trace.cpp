// SPDX-License-Identifier: LGPL-2.1-or-later
#include "syscall_trace.h"

#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace resctrld::e2e {

Strace::Strace(pid_t pid, const std::vector<std::string>& options,
               const std::filesystem::path& output) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        throw std::runtime_error("pipe failed");
    std::vector<std::string> argv{"strace", "-f", "-o", output.string()};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.push_back("-p");
    argv.push_back(std::to_string(pid));
    std::vector<char*> args;
    for (auto& a : argv)
        args.push_back(a.data());
    args.push_back(nullptr);
    pid_ = fork();
    if (pid_ < 0) {
        close(fds[0]);
        close(fds[1]);
        throw std::runtime_error("fork failed");
    }
    if (pid_ == 0) {
        dup2(fds[1], 2);
        execvp("strace", args.data());
        _exit(127);
    }
    close(fds[1]);
    stderr_ = fdopen(fds[0], "r");
    // strace says "Process N attached" on its stderr once it traces the process.
    char line[512];
    while (std::fgets(line, sizeof line, stderr_))
        if (std::strstr(line, "attached"))
            return;
    std::fclose(stderr_);
    waitpid(pid_, nullptr, 0);
    throw std::runtime_error("strace did not attach to " + std::to_string(pid));
}

Strace::~Strace() {
    kill(pid_, SIGINT);
    waitpid(pid_, nullptr, 0);
    std::fclose(stderr_);
}

TickSyscalls traceTicks(pid_t pid, const std::filesystem::path& output,
                        std::chrono::milliseconds window) {
    {
        Strace strace(pid, {"-y", "-e", "trace=pread64,read,openat,recvmsg"}, output);
        std::this_thread::sleep_for(window);
    }
    std::vector<std::string> lines;
    {
        std::ifstream in(output);
        for (std::string line; std::getline(in, line);)
            lines.push_back(line);
    }
    // A timer's expiry: "read(12<anon_inode:[timerfd]>, ..., 8) = 8".
    auto isTimer = [](const std::string& l) {
        return l.find("read(") != std::string::npos && l.find("timerfd") != std::string::npos &&
               l.find("= 8") != std::string::npos;
    };
    auto timerFd = [](const std::string& l) {
        const auto open = l.find("read(") + 5;
        return l.substr(open, l.find('<', open) - open);
    };
    std::map<std::string, unsigned> expirations;
    for (const auto& l : lines)
        if (isTimer(l))
            ++expirations[timerFd(l)];
    std::string sampler;
    for (const auto& [fd, n] : expirations)
        if (sampler.empty() || n > expirations[sampler])
            sampler = fd;
    std::size_t first = lines.size(), last = 0;
    unsigned timers = 0;
    for (std::size_t i = 0; i < lines.size(); ++i)
        if (isTimer(lines[i]) && timerFd(lines[i]) == sampler) {
            first = std::min(first, i);
            last = i;
            ++timers;
        }
    TickSyscalls ticks;
    if (timers < 2)
        return ticks;
    ticks.ticks = timers - 1;
    for (std::size_t i = first; i < last; ++i) {
        const std::string& l = lines[i];
        if (l.find("recvmsg(") != std::string::npos)
            ++ticks.busReads;
        const auto lt = l.find('<'), gt = l.find(">,");
        if (lt == std::string::npos || gt == std::string::npos || l.find("/mon_data/") == l.npos)
            continue;
        if (l.find("pread64(") != std::string::npos)
            ++ticks.counterReads[l.substr(lt + 1, gt - lt - 1)];
        if (l.find("openat(") != std::string::npos)
            ++ticks.counterOpens;
    }
    return ticks;
}

} // namespace resctrld::e2e
