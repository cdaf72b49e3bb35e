// SPDX-License-Identifier: LGPL-2.1-or-later
// A stand-in for resctrld on a private bus, for the benchmarks of its clients (the exporter, the
// Cockpit page) at sizes the simulator's hosts have no CLOSIDs or RMIDs for: it publishes the
// daemon's objects, properties and signals (Manager with GetLayout, domains, allocations,
// monitors, the ObjectManager) and at every tick changes every monitor's counters, announces
// them with PropertiesChanged and sends one Sampled, as the daemon does.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

namespace resctrld::bench {

struct FakeDaemonShape {
    // How a domain's monitors read. ByKind is the daemon's: a cache monitor reads
    // llc_occupancy, a bandwidth monitor the MBM counters; each domain has a cache monitor on
    // all its vCPUs, cache monitors on single vCPUs and (with two monitors or more) a bandwidth
    // monitor on all its vCPUs. EveryCounter is the exporter benchmark's historical shape: 16
    // monitors per domain, one per vCPU, each reading occupancy and the MBM byte counters.
    enum class Monitors { ByKind, EveryCounter };

    unsigned domains = 64;
    unsigned monitors = 256; // spread evenly over the domains
    Monitors kind = Monitors::ByKind;
    // 0: no ticks at all (an idle daemon: objects published, nothing ever changes).
    std::chrono::milliseconds tick{1000};
};

// The host it pretends to run on: two L3 caches of 20 ways, 16 CLOSIDs. The first 15 domains
// hold one exclusive way on each cache (bit d) and a bandwidth cap; the rest are monitored
// only. GetLayout answers with exactly these groups and masks.
class FakeDaemon {
public:
    // Returns once the objects are published and the name org.resctrld1 is owned.
    FakeDaemon(std::string address, FakeDaemonShape shape);
    ~FakeDaemon();
    FakeDaemon(const FakeDaemon&) = delete;
    FakeDaemon& operator=(const FakeDaemon&) = delete;

    uint64_t ticks() const { return ticks_.load(); }

private:
    void run();

    std::string address_;
    FakeDaemonShape shape_;
    std::atomic<bool> ready_{false};
    std::atomic<bool> stop_{false};
    std::atomic<uint64_t> ticks_{0};
    std::string error_;
    std::thread thread_;
};

} // namespace resctrld::bench
