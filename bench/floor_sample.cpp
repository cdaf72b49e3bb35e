// SPDX-License-Identifier: LGPL-2.1-or-later
// The floor of the sampling benchmark: a loop reading the same counter files resctrld samples,
// one pread(2) each on descriptors held open, and nothing else.
//
//   bench-floor-sample LIST LOOPS [INTERVAL_MS]
//
// LIST names one counter file a line. After one warm-up loop, prints
// "CPU_NS_PER_LOOP WALL_NS_PER_LOOP" (CLOCK_PROCESS_CPUTIME_ID; CLOCK_MONOTONIC of the reads).
// With INTERVAL_MS the loops run at that cadence, like the daemon's ticks (a loop after a sleep
// runs on colder caches than back-to-back loops; the comparison must not favour the floor), and
// the CPU time is the whole run's after the warm-up, its wake-ups included, as the daemon's is
// (the run time of all its threads over the ticks).
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

long long nowNs(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return static_cast<long long>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 3 && argc != 4) {
        std::fprintf(stderr, "usage: bench-floor-sample LIST LOOPS [INTERVAL_MS]\n");
        return 2;
    }
    std::vector<int> fds;
    std::ifstream in(argv[1]);
    for (std::string path; std::getline(in, path);) {
        if (path.empty())
            continue;
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            std::perror(path.c_str());
            return 1;
        }
        fds.push_back(fd);
    }
    const int loops = std::atoi(argv[2]);
    const long long intervalNs = argc == 4 ? std::atoll(argv[3]) * 1'000'000 : 0;
    char buffer[64];
    unsigned long long sink = 0;
    long long cpu = 0, wall = 0, cpuAfterWarmup = 0;
    timespec next{};
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (int i = 0; i < loops + 1; ++i) {
        if (intervalNs > 0) {
            const long long at = next.tv_sec * 1'000'000'000LL + next.tv_nsec + intervalNs;
            next.tv_sec = at / 1'000'000'000;
            next.tv_nsec = at % 1'000'000'000;
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr);
        }
        const long long cpu0 = nowNs(CLOCK_PROCESS_CPUTIME_ID);
        const long long wall0 = nowNs(CLOCK_MONOTONIC);
        for (int fd : fds) {
            ssize_t n = ::pread(fd, buffer, sizeof buffer, 0);
            if (n < 0) {
                std::perror("pread");
                return 1;
            }
            sink += static_cast<unsigned long long>(n);
        }
        if (i > 0) { // the first loop is the warm-up
            cpu += nowNs(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
            wall += nowNs(CLOCK_MONOTONIC) - wall0;
        } else {
            cpuAfterWarmup = nowNs(CLOCK_PROCESS_CPUTIME_ID);
        }
    }
    if (intervalNs > 0)
        cpu = nowNs(CLOCK_PROCESS_CPUTIME_ID) - cpuAfterWarmup;
    std::printf("%lld %lld\n", cpu / loops, wall / loops);
    return sink == 0 ? 1 : 0;
}
