// SPDX-License-Identifier: LGPL-2.1-or-later
// The floor of the sampling benchmark: a loop reading the same counter files resctrld samples,
// one pread(2) each on descriptors held open, and nothing else; with --signal, also the signal
// resctrld sends once per tick.
//
//   bench-floor-sample [--signal BUS_ADDRESS PATH_PREFIX] LIST LOOPS [INTERVAL_MS]
//
// LIST names one counter file a line. --signal: after each loop's reads, one signal of the
// Sampled signal's type and size (t, a{oa{ut}}: the time, and for every monitor group PATH_PREFIX
// plus its index and the occupancy read per L3 id, from the files of the group's mon_L3_* directory
// itself) sent with libsystemd's sd-bus on the bus at BUS_ADDRESS, as org.resctrld1.BenchFloor.
// After one warm-up loop, prints "CPU_NS_PER_LOOP WALL_NS_PER_LOOP" (CLOCK_PROCESS_CPUTIME_ID;
// CLOCK_MONOTONIC of the reads). With INTERVAL_MS the loops run at that cadence, like the daemon's
// ticks (a loop after a sleep runs on colder caches than back-to-back loops; the comparison must
// not favour the floor), and the CPU time is the whole run's after the warm-up, its wake-ups
// included, as the daemon's is (the run time of all its threads over the ticks).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <systemd/sd-bus.h>

namespace {

long long nowNs(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return static_cast<long long>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// A counter file as the signal needs it: which monitor group, and its L3 id when it is the
// group's own counter of that cache (a sub-node counter of SNC is read but not sent).
struct Counter {
    int fd = -1;
    std::string group;
    bool sent = false;
    uint32_t cacheId = 0;
    uint64_t value = 0;
};

Counter counterOf(const std::string& path, int fd) {
    Counter c{fd, path.substr(0, path.find("/mon_data/"))};
    const auto l3 = path.find("/mon_L3_");
    if (l3 != std::string::npos && path.find("/mon_sub_L3_") == std::string::npos) {
        c.sent = true;
        c.cacheId = static_cast<uint32_t>(std::strtoul(path.c_str() + l3 + 8, nullptr, 10));
    }
    return c;
}

// One Sampled-shaped signal with the values of this loop's reads.
int sendSampled(sd_bus* bus, const std::vector<Counter>& counters, const std::string& prefix) {
    sd_bus_message* m = nullptr;
    int r = sd_bus_message_new_signal(bus, &m, "/org/resctrld1/bench_floor",
                                      "org.resctrld1.BenchFloor", "Sampled");
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    const uint64_t usec = static_cast<uint64_t>(now.tv_sec) * 1'000'000 + now.tv_nsec / 1000;
    if (r >= 0)
        r = sd_bus_message_append(m, "t", usec);
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'a', "{oa{ut}}");
    std::size_t index = 0;
    for (std::size_t i = 0; r >= 0 && i < counters.size();) {
        const std::string path = prefix + std::to_string(index++);
        r = sd_bus_message_open_container(m, 'e', "oa{ut}");
        if (r >= 0)
            r = sd_bus_message_append(m, "o", path.c_str());
        if (r >= 0)
            r = sd_bus_message_open_container(m, 'a', "{ut}");
        const std::string& group = counters[i].group;
        for (; r >= 0 && i < counters.size() && counters[i].group == group; ++i)
            if (counters[i].sent)
                r = sd_bus_message_append(m, "{ut}", counters[i].cacheId, counters[i].value);
        if (r >= 0)
            r = sd_bus_message_close_container(m);
        if (r >= 0)
            r = sd_bus_message_close_container(m);
    }
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    if (r >= 0)
        r = sd_bus_send(bus, m, nullptr);
    sd_bus_message_unref(m);
    return r;
}

} // namespace

int main(int argc, char** argv) {
    sd_bus* bus = nullptr;
    std::string prefix;
    if (argc >= 4 && std::strcmp(argv[1], "--signal") == 0) {
        int r = sd_bus_new(&bus);
        if (r >= 0)
            r = sd_bus_set_address(bus, argv[2]);
        if (r >= 0)
            r = sd_bus_set_bus_client(bus, 1);
        if (r >= 0)
            r = sd_bus_start(bus);
        if (r < 0) {
            std::fprintf(stderr, "bench-floor-sample: bus %s: %s\n", argv[2], std::strerror(-r));
            return 1;
        }
        prefix = argv[3];
        argc -= 3;
        argv += 3;
    }
    if (argc != 3 && argc != 4) {
        std::fprintf(stderr, "usage: bench-floor-sample [--signal BUS_ADDRESS PATH_PREFIX] LIST "
                             "LOOPS [INTERVAL_MS]\n");
        return 2;
    }
    // Sorted by path, a group's counters are next to each other.
    std::vector<Counter> counters;
    std::ifstream in(argv[1]);
    for (std::string path; std::getline(in, path);) {
        if (path.empty())
            continue;
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            std::perror(path.c_str());
            return 1;
        }
        counters.push_back(counterOf(path, fd));
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
        for (Counter& counter : counters) {
            ssize_t n = ::pread(counter.fd, buffer, sizeof buffer - 1, 0);
            if (n < 0) {
                std::perror("pread");
                return 1;
            }
            sink += static_cast<unsigned long long>(n);
            if (bus) {
                buffer[n] = '\0';
                counter.value = std::strtoull(buffer, nullptr, 10);
            }
        }
        if (bus) {
            if (const int r = sendSampled(bus, counters, prefix); r < 0) {
                std::fprintf(stderr, "bench-floor-sample: signal: %s\n", std::strerror(-r));
                return 1;
            }
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
    if (bus)
        sd_bus_flush_close_unref(bus);
    return sink == 0 ? 1 : 0;
}
