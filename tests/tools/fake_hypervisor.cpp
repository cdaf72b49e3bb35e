// SPDX-License-Identifier: LGPL-2.1-or-later
// A stand-in for QEMU in tests and the demo: a process whose threads are named like QEMU's vCPU
// threads ("CPU 0/KVM", "CPU 1/KVM", ...) plus a couple of other threads, so that thread
// discovery, validation and attachment run against a real process.
//
//   fake-hypervisor [--vcpus N] [--accel NAME]
//
// Prints "vcpu <n> <tid>" for each vCPU thread, then "ready <pid>", and waits. SIGUSR1 adds one
// more vCPU thread (hot-plug; printed the same way). SIGTERM/SIGINT end it.
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <pthread.h>
#include <signal.h>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

struct Parked {
    std::mutex mutex;
    std::condition_variable wake;
};

// Starts a thread named `name` that parks until the process exits; returns its tid.
pid_t startNamedThread(Parked& parked, std::vector<std::thread>& threads, std::string name) {
    std::mutex started;
    std::condition_variable ready;
    pid_t tid = 0;
    threads.emplace_back([&, name] {
        pthread_setname_np(pthread_self(), name.c_str());
        {
            std::lock_guard lock(started);
            tid = gettid();
        }
        ready.notify_one();
        std::unique_lock lock(parked.mutex);
        parked.wake.wait(lock, [] { return false; });
    });
    std::unique_lock lock(started);
    ready.wait(lock, [&] { return tid != 0; });
    return tid;
}

int usage() {
    std::fprintf(stderr, "usage: fake-hypervisor [--vcpus N] [--accel NAME]\n");
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    unsigned vcpus = 2;
    std::string accel = "KVM";
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--vcpus" && i + 1 < argc)
            vcpus = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
        else if (arg == "--accel" && i + 1 < argc)
            accel = argv[++i];
        else
            return usage();
    }

    // Signals are taken synchronously by the main thread; block them before any thread starts
    // so the parked threads inherit the mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGUSR1);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    Parked parked;
    std::vector<std::thread> threads;
    startNamedThread(parked, threads, "IO mon_iothread");
    unsigned next = 0;
    for (; next < vcpus; ++next) {
        pid_t tid = startNamedThread(parked, threads, "CPU " + std::to_string(next) + "/" + accel);
        std::printf("vcpu %u %d\n", next, tid);
    }
    startNamedThread(parked, threads, "worker");
    std::printf("ready %d\n", getpid());
    std::fflush(stdout);

    for (;;) {
        int signal = 0;
        sigwait(&signals, &signal);
        if (signal != SIGUSR1)
            break;
        pid_t tid = startNamedThread(parked, threads, "CPU " + std::to_string(next) + "/" + accel);
        std::printf("vcpu %u %d\n", next++, tid);
        std::fflush(stdout);
    }
    std::fflush(stdout);
    _exit(0); // the parked threads never return; do not join them
}
