// SPDX-License-Identifier: LGPL-2.1-or-later
// bench-fake-daemon: the stand-in daemon of fake_daemon.h as a process, for benchmarks driven
// from outside C++ (the Cockpit page's). Prints "ready" once org.resctrld1 is owned and its
// objects published; runs until SIGTERM or SIGINT.
//
//   bench-fake-daemon --bus ADDRESS [--domains N] [--monitors N] [--tick-ms MS (0: idle)]
//                     [--every-counter]
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "fake_daemon.h"

int main(int argc, char** argv) {
    using resctrld::bench::FakeDaemonShape;
    std::string address;
    FakeDaemonShape shape;
    try {
        for (int i = 1; i < argc; ++i) {
            const std::string arg = argv[i];
            const bool hasValue = i + 1 < argc;
            if (arg == "--bus" && hasValue)
                address = argv[++i];
            else if (arg == "--domains" && hasValue)
                shape.domains = static_cast<unsigned>(std::stoul(argv[++i]));
            else if (arg == "--monitors" && hasValue)
                shape.monitors = static_cast<unsigned>(std::stoul(argv[++i]));
            else if (arg == "--tick-ms" && hasValue)
                shape.tick = std::chrono::milliseconds(std::stoul(argv[++i]));
            else if (arg == "--every-counter")
                shape.kind = FakeDaemonShape::Monitors::EveryCounter;
            else
                throw std::invalid_argument("unknown argument " + arg);
        }
        if (address.empty())
            throw std::invalid_argument("--bus ADDRESS is required");
        if (shape.domains == 0)
            throw std::invalid_argument("--domains must be at least 1");
    } catch (const std::exception& e) {
        std::fprintf(stderr,
                     "bench-fake-daemon: %s\nusage: bench-fake-daemon --bus ADDRESS [--domains N] "
                     "[--monitors N] [--tick-ms MS] [--every-counter]\n",
                     e.what());
        return 2;
    }
    // Blocked before the daemon's thread starts, so only sigwait() below receives them.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    try {
        resctrld::bench::FakeDaemon daemon(address, shape);
        std::printf("ready: %u domains, %u monitors, tick %lld ms\n", shape.domains, shape.monitors,
                    static_cast<long long>(shape.tick.count()));
        std::fflush(stdout);
        int received = 0;
        sigwait(&stop, &received);
        std::printf("stopping after %llu ticks\n", static_cast<unsigned long long>(daemon.ticks()));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench-fake-daemon: %s\n", e.what());
        return 1;
    }
    return 0;
}
