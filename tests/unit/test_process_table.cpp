// SPDX-License-Identifier: LGPL-2.1-or-later
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <pthread.h>
#include <set>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "process_table.h"

using namespace resctrld;
namespace fs = std::filesystem;

namespace {

// A thread of this test process named like a QEMU vCPU thread, alive for the test's scope.
class NamedThread {
public:
    explicit NamedThread(const char* name) {
        thread_ = std::thread([this, name] {
            pthread_setname_np(pthread_self(), name);
            std::unique_lock lock(mutex_);
            tid_ = gettid();
            changed_.notify_all();
            changed_.wait(lock, [this] { return stop_; });
        });
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [this] { return tid_ != 0; });
    }
    ~NamedThread() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        changed_.notify_all();
        thread_.join();
    }
    pid_t tid() const { return tid_; }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    pid_t tid_ = 0;
    bool stop_ = false;
    std::thread thread_;
};

// A fake /proc entry: stat with the given flags and start time, status with Tgid.
void writeProcEntry(const fs::path& root, pid_t tid, pid_t tgid, std::uint64_t flags,
                    std::uint64_t start, const std::string& comm) {
    auto dir = root / std::to_string(tid);
    fs::create_directories(dir);
    std::ofstream(dir / "stat") << tid << " (" << comm << ") S 2 0 0 0 -1 " << flags
                                << " 0 0 0 0 0 0 0 0 20 0 1 0 " << start << " 0 0\n";
    std::ofstream(dir / "status") << "Name:\t" << comm << "\nTgid:\t" << tgid << "\nPid:\t" << tid
                                  << "\n";
}

// The ids in `now` that were not in `before`.
std::set<pid_t> added(const std::set<pid_t>& before, const std::set<pid_t>& now) {
    std::set<pid_t> result;
    std::set_difference(now.begin(), now.end(), before.begin(), before.end(),
                        std::inserter(result, result.end()));
    return result;
}

// Waits, with a deadline, until `tid` is no longer one of this process's threads. join()
// returns when the thread has cleared its id, before the kernel releases it and drops its
// /proc/self/task entry. Polling: no file descriptor reports a thread's release (a pidfd
// refers to a process on the kernels this runs on).
bool waitUntilReaped(const ProcessTable& proc, pid_t tid) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (proc.threadIds(getpid()).count(tid) != 0) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

struct TempDir {
    fs::path path;
    TempDir() {
        char templ[] = "/tmp/resctrld-proc-XXXXXX";
        path = mkdtemp(templ);
    }
    ~TempDir() { fs::remove_all(path); }
};

} // namespace

TEST_CASE("parseVcpuThreadName accepts QEMU's names only", "[proc]") {
    CHECK(parseVcpuThreadName("CPU 0/KVM") == 0u);
    CHECK(parseVcpuThreadName("CPU 17/TCG") == 17u);
    CHECK_FALSE(parseVcpuThreadName("CPU /KVM"));
    CHECK_FALSE(parseVcpuThreadName("CPU 1/"));
    CHECK_FALSE(parseVcpuThreadName("CPU x/KVM"));
    CHECK_FALSE(parseVcpuThreadName("CPU 1 /KVM"));
    CHECK_FALSE(parseVcpuThreadName("IO mon_iothread"));
    CHECK_FALSE(parseVcpuThreadName("cpu 0/KVM"));
}

TEST_CASE("vCPU threads of a live process are found by name", "[proc]") {
    NamedThread cpu0("CPU 0/KVM");
    NamedThread cpu1("CPU 1/KVM");
    NamedThread other("worker");
    ProcessTable proc;
    auto threads = proc.vcpuThreads(getpid());
    REQUIRE(threads.size() == 2);
    CHECK(threads.at(0) == cpu0.tid());
    CHECK(threads.at(1) == cpu1.tid());

    auto info = proc.thread(cpu1.tid());
    REQUIRE(info);
    CHECK(info->tgid == getpid());
    CHECK(info->comm == "CPU 1/KVM");
    CHECK_FALSE(info->isKernelThread);
    CHECK(info->startTime > 0);
}

TEST_CASE("threadIds lists a live process's threads, and nothing for a gone one", "[proc]") {
    ProcessTable proc;
    // Threads that earlier test cases joined may still be listed here (see below), so what
    // follows compares against the thread this test makes, never against a count.
    const std::set<pid_t> before = proc.threadIds(getpid());
    CHECK(before.count(gettid()) == 1);
    pid_t workerTid = 0;
    {
        NamedThread worker("worker");
        workerTid = worker.tid();
        const auto during = proc.threadIds(getpid());
        CHECK(before.count(workerTid) == 0);
        CHECK(during.count(gettid()) == 1);
        CHECK(added(before, during) == std::set<pid_t>{workerTid});
    }
    // A joined thread keeps its task entry until the kernel has reaped it, a moment after
    // join() returned.
    CHECK(waitUntilReaped(proc, workerTid));
    const auto after = proc.threadIds(getpid());
    CHECK(after.count(gettid()) == 1);
    CHECK(added(before, after).empty());
    CHECK(ProcessTable("/nonexistent").threadIds(getpid()).empty());
}

TEST_CASE("a thread is not a process, and a gone process is not alive", "[proc]") {
    NamedThread cpu0("CPU 0/KVM");
    ProcessTable proc;
    CHECK_FALSE(proc.process(cpu0.tid()));
    auto self = proc.process(getpid());
    REQUIRE(self);
    CHECK(proc.isAlive(*self));
    CHECK_FALSE(proc.isAlive({self->pid, self->startTime + 1})); // a reused pid
    CHECK_FALSE(proc.thread(0));
    CHECK(proc.vcpuThreads(999999999).empty());
}

TEST_CASE("kernel threads and start times are read from stat", "[proc]") {
    TempDir root;
    writeProcEntry(root.path, 2, 2, 0x00208040, 3, "kthreadd");
    writeProcEntry(root.path, 4242, 4242, 0x00400100, 987654, "qemu (x) y");
    ProcessTable proc(root.path);

    auto kthread = proc.thread(2);
    REQUIRE(kthread);
    CHECK(kthread->isKernelThread);

    auto qemu = proc.thread(4242);
    REQUIRE(qemu);
    CHECK_FALSE(qemu->isKernelThread);
    CHECK(qemu->startTime == 987654);
    CHECK(qemu->comm == "qemu (x) y");
    CHECK(proc.isAlive({4242, 987654}));
}

TEST_CASE("a malformed stat file reads as no thread", "[proc]") {
    TempDir root;
    fs::create_directories(root.path / "7");
    std::ofstream(root.path / "7" / "stat") << "7 (broken";
    std::ofstream(root.path / "7" / "status") << "Tgid:\t7\n";
    CHECK_FALSE(ProcessTable(root.path).thread(7));
}

TEST_CASE("an exited process waiting for its parent (a zombie) is not alive", "[proc]") {
    ProcessTable proc;
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0)
        _exit(0);
    // WNOWAIT: wait for the exit but leave the child a zombie ('Z' in stat) until waitpid().
    siginfo_t exited{};
    REQUIRE(waitid(P_PID, static_cast<id_t>(child), &exited, WEXITED | WNOWAIT) == 0);
    const auto info = proc.thread(child);
    REQUIRE(info);
    const bool zombie = info->exited;
    CHECK(zombie);
    CHECK_FALSE(proc.process(child));
    CHECK_FALSE(proc.isAlive({child, info->startTime}));
    REQUIRE(waitpid(child, nullptr, 0) == child);
}
