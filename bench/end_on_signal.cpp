// SPDX-License-Identifier: LGPL-2.1-or-later
#include "end_on_signal.h"

#include <chrono>
#include <csignal>
#include <exception>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <set>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace resctrld::bench {
namespace {

// The write end of the pipe the handler reports its signal through: a handler can reach nothing
// else, and may only make async-signal-safe calls (write).
int signalPipe = -1;

void onSignal(int signo) {
    const unsigned char byte = static_cast<unsigned char>(signo);
    [[maybe_unused]] const ssize_t n = write(signalPipe, &byte, 1);
}

// This process's children now, from every thread's list (the harness forks from several).
std::set<pid_t> children() {
    std::set<pid_t> pids;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream in(task.path() / "children");
        for (pid_t pid; in >> pid;)
            pids.insert(pid);
    }
    return pids;
}

// Reaped here or by a thread of the harness: either way it is gone.
bool gone(pid_t pid) {
    return waitpid(pid, nullptr, WNOHANG) != 0;
}

[[noreturn]] void endWithChildren(int signo) {
    // A thread whose bus connection dies with the bus (an sd-bus event loop throws) must not
    // abort the process before the children are gone: it waits here for the _exit below.
    std::set_terminate([] {
        for (;;)
            pause();
    });
    std::set<pid_t> left = children();
    for (pid_t pid : left)
        kill(pid, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!left.empty() && std::chrono::steady_clock::now() < deadline) {
        std::erase_if(left, gone);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (pid_t pid : left)
        kill(pid, SIGKILL);
    _exit(128 + signo);
}

} // namespace

void endWithChildrenOnSignal() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return;
    signalPipe = fds[1];
    std::thread([readEnd = fds[0]] {
        unsigned char signo = 0;
        while (read(readEnd, &signo, 1) != 1) {
        }
        endWithChildren(signo);
    }).detach();
    struct sigaction action {};
    action.sa_handler = onSignal;
    sigemptyset(&action.sa_mask);
    for (int signo : {SIGTERM, SIGINT, SIGHUP})
        sigaction(signo, &action, nullptr);
}

} // namespace resctrld::bench
