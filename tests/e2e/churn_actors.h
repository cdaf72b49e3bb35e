// SPDX-License-Identifier: LGPL-2.1-or-later
// The actors of the churn test (test_churn.cpp), each on its own bus connection: starters of
// domains on fake hypervisors of their own, readers of every property and stats, a foreign writer
// of groups on the mount; and the measures of the daemon's footprint.
#pragma once

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <sys/file.h>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include "../sim/conformance/sim_instance.h"
#include "daemon_fixture.h"
#include "dbus_names.h"
#include "domain_builder.h"
#include "harness.h"

namespace resctrld::e2e::churn {

using resctrld::simtest::SimInstance;
namespace fs = std::filesystem;
namespace simtest = resctrld::simtest;
using namespace std::chrono_literals;

constexpr const char* kNoSpace = "org.resctrld1.Error.NoSpace";
constexpr const char* kNotFound = "org.resctrld1.Error.NotFound";
constexpr const char* kUnknownObject = "org.freedesktop.DBus.Error.UnknownObject";

// Every call of the run must be answered within this; a daemon that takes longer is stuck.
constexpr auto kCallTimeout = 10s;
// milan-2s: 15 usable CLOSIDs, 256 RMIDs, 16 ways of 2 MiB on each of 16 L3 domains.
constexpr const char* kProfile = "milan-2s";
constexpr unsigned kWayKiB = 32 * 1024 / 16;
constexpr unsigned kStarters = 4;
constexpr unsigned kReaders = 4;
// Live domains per starter: 4 x 3 domains of up to 2 control groups, plus the foreign writer's
// up to 3, compete for 15 CLOSIDs and 2 x 16 ways, so NoSpace happens now and then.
constexpr std::size_t kMaxLivePerStarter = 3;
constexpr std::size_t kMaxForeignGroups = 3;

// RSS may grow by this much between the measurement after the warm-up and the one after the run,
// both taken with no domain started. Measured in thirteen 25 s runs: +0.2 to +3.8 MiB, and in a
// 120 s run +1.4 MiB reached in steps of 100-500 KiB within the first ~50 s, then flat to the
// byte for 80 s. The growth followed the largest number of domains the daemon held at once (up
// to ~40 with 12 live, while killed hypervisors' cleanups lagged behind the churn): glibc's malloc
// keeps that high-water mark (freed chunks stay in the arena, the heap is trimmed only from its
// top). Since the event loop is fair (cleanups within 0.4 s) the growth is about 0.2 MiB; the
// bound keeps room for the allocator. Small leaks are the soak's plateau check's job.
constexpr long kRssToleranceKiB = 2 * 1024;
// Runs of at least this long also check the plateau: the largest RSS sampled in the final
// quarter of the run is at most kPlateauToleranceKiB above the largest of the first three
// quarters (a late step or two of the allocator, as above). A leak of ~500 bytes per start
// fails it in the 600 s soak (about 2000 starts in its final quarter).
constexpr std::chrono::seconds kPlateauCheckFrom{120};
constexpr long kPlateauToleranceKiB = 1024;

using Threads = std::vector<sdbus::Struct<std::uint32_t, std::uint32_t>>;
using Caches = std::vector<
    sdbus::Struct<std::uint32_t, std::uint32_t, std::string, std::uint64_t, std::string>>;
using PathList = std::vector<sdbus::ObjectPath>;
using Properties = std::map<std::string, sdbus::Variant>;
using TidSet = std::set<pid_t>;

inline std::chrono::seconds runDuration() {
    if (const char* soak = std::getenv("RESCTRLD_SOAK_SECONDS"); soak && *soak)
        if (const long seconds = std::strtol(soak, nullptr, 10); seconds > 0)
            return std::chrono::seconds(seconds);
    return 20s;
}

// The warm-up reaches the steady state the final figures are compared with.
inline std::chrono::seconds warmUpDuration(std::chrono::seconds run) {
    return std::clamp(run / 10, std::chrono::seconds(5), std::chrono::seconds(30));
}

// --- what the threads share ----------------------------------------------------------------

// The first unexpected outcome of any thread ends the run early; the main thread reports all.
class Failures {
public:
    void add(const std::string& what) {
        {
            std::lock_guard lock(mutex_);
            list_.push_back(what);
        }
        any_ = true;
        changed_.notify_all();
    }
    bool any() const { return any_; }
    std::vector<std::string> list() const {
        std::lock_guard lock(mutex_);
        return list_;
    }
    // Waits until `deadline` or the first failure.
    void waitUntil(Clock::time_point deadline) {
        std::unique_lock lock(mutex_);
        changed_.wait_until(lock, deadline, [&] { return !list_.empty(); });
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<std::string> list_;
    std::atomic<bool> any_{false};
};

struct Counters {
    std::atomic<std::uint64_t> starts{0};           // StartDomain with threads, succeeded
    std::atomic<std::uint64_t> startsForProcess{0}; // StartDomainForProcess, succeeded
    std::atomic<std::uint64_t> reconnects{0};       // StartDomain again with the same definition
    std::atomic<std::uint64_t> stops{0};            // StopDomain of a live domain
    std::atomic<std::uint64_t> kills{0};            // hypervisor killed, cleanup left to the daemon
    std::atomic<std::uint64_t> killStops{0};        // killed, then StopDomain at once: succeeded
    std::atomic<std::uint64_t> killStopsLate{0};    // ... or NotFound: the daemon was first
    std::atomic<std::uint64_t> noSpace{0};
    std::atomic<std::uint64_t> reads{0};
    std::atomic<std::uint64_t> objectReads{0}; // answered reads of a domain and its objects
    std::atomic<std::uint64_t> vanished{0};    // NotFound / UnknownObject of a read
    std::atomic<std::uint64_t> foreignOps{0};
    std::atomic<std::uint64_t> foreignRefused{0}; // ENOSPC, EINVAL, ... for the foreign writer
    std::atomic<std::int64_t> slowestCallMs{0};   // the longest any call of the run waited

    void recordCall(std::chrono::milliseconds took) {
        std::int64_t slowest = slowestCallMs;
        while (took.count() > slowest &&
               !slowestCallMs.compare_exchange_weak(slowest, took.count()))
            ;
    }

    std::string describe() const {
        std::ostringstream text;
        text << "starts " << starts << " + " << startsForProcess << " for process, reconnects "
             << reconnects << ", stops " << stops << ", kills " << kills
             << " (then StopDomain: " << killStops << " ok, " << killStopsLate
             << " NotFound), NoSpace " << noSpace << ", reads " << reads
             << " (of domains and their objects " << objectReads << ", vanished " << vanished
             << "), foreign ops " << foreignOps << " (refused " << foreignRefused
             << "), slowest call " << slowestCallMs << " ms";
        return text.str();
    }
};

// harness.cpp's Process numbers its output files with an unguarded static counter.
std::mutex spawnMutex;

class FakeVm : public FakeHypervisor {
public:
    FakeVm(const fs::path& dir, unsigned vcpus)
        : FakeHypervisor(FAKE_HYPERVISOR_PATH, dir, vcpus) {}

    Threads threads() const {
        Threads list;
        for (const auto& [vcpu, tid] : vcpus())
            list.emplace_back(vcpu, static_cast<std::uint32_t>(tid));
        return list;
    }
};

inline std::unique_ptr<FakeVm> spawnVm(const fs::path& dir, unsigned vcpus) {
    std::lock_guard lock(spawnMutex);
    return std::make_unique<FakeVm>(dir, vcpus);
}

// --- a client on its own connection --------------------------------------------------------

struct Listed {
    std::string name;
    std::string path;
};

class Client {
public:
    // With `counters`, every call's wait counts towards the slowest call of the run.
    explicit Client(const std::string& address, Counters* counters = nullptr)
        : connection_(sdbus::createSessionBusConnectionWithAddress(address))
        , manager_(sdbus::createProxy(*connection_, kService, kRootPath))
        , counters_(counters) {}

    sdbus::ObjectPath startDomain(const std::string& definition, const Threads& threads) {
        Stopwatch stopwatch(counters_);
        return resctrld::e2e::startDomain(*manager_, definition, threads, kCallTimeout);
    }
    sdbus::ObjectPath startDomainForProcess(const std::string& definition, pid_t pid) {
        Stopwatch stopwatch(counters_);
        return resctrld::e2e::startDomainForProcess(*manager_, definition, pid, kCallTimeout);
    }
    void stopDomain(const std::string& name) {
        Stopwatch stopwatch(counters_);
        resctrld::e2e::stopDomain(*manager_, name, kCallTimeout);
    }

    std::vector<Listed> listDomains(std::chrono::microseconds timeout = kCallTimeout) {
        std::vector<sdbus::Struct<std::string, std::string, sdbus::ObjectPath>> list;
        Stopwatch stopwatch(counters_);
        manager_->callMethod("ListDomains")
            .onInterface(kManager)
            .withTimeout(timeout)
            .storeResultsTo(list);
        std::vector<Listed> result;
        for (const auto& entry : list)
            result.push_back({entry.get<0>(), entry.get<2>()});
        return result;
    }

    Properties stats(const std::string& name) {
        Properties stats;
        Stopwatch stopwatch(counters_);
        manager_->callMethod("GetStats")
            .onInterface(kManager)
            .withTimeout(kCallTimeout)
            .withArguments(name)
            .storeResultsTo(stats);
        return stats;
    }

    Properties domainStats(const std::string& domainPath) {
        Properties stats;
        Stopwatch stopwatch(counters_);
        proxy(domainPath)
            ->callMethod("GetStats")
            .onInterface(kDomain)
            .withTimeout(kCallTimeout)
            .storeResultsTo(stats);
        return stats;
    }

    std::map<std::uint32_t, std::uint64_t> sample(const std::string& monitorPath) {
        std::map<std::uint32_t, std::uint64_t> occupancy;
        Stopwatch stopwatch(counters_);
        proxy(monitorPath)
            ->callMethod("Sample")
            .onInterface(kMonitor)
            .withTimeout(kCallTimeout)
            .storeResultsTo(occupancy);
        return occupancy;
    }

    template <class T>
    T get(const std::string& path, const char* interface, const std::string& name) {
        sdbus::Variant value;
        Stopwatch stopwatch(counters_);
        proxy(path)
            ->callMethod("Get")
            .onInterface(kProperties)
            .withTimeout(kCallTimeout)
            .withArguments(std::string(interface), name)
            .storeResultsTo(value);
        return value.get<T>();
    }

    Properties getAll(const std::string& path, const char* interface) {
        Properties properties;
        Stopwatch stopwatch(counters_);
        proxy(path)
            ->callMethod("GetAll")
            .onInterface(kProperties)
            .withTimeout(kCallTimeout)
            .withArguments(std::string(interface))
            .storeResultsTo(properties);
        return properties;
    }

private:
    // Objects come and go: a proxy per call, never one kept for a path that may vanish.
    std::unique_ptr<sdbus::IProxy> proxy(const std::string& path) {
        return sdbus::createProxy(*connection_, kService, path);
    }

    // Measures the call it lives through, whether it answers or throws.
    class Stopwatch {
    public:
        explicit Stopwatch(Counters* counters)
            : counters_(counters) {}
        ~Stopwatch() {
            if (counters_)
                counters_->recordCall(
                    std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - from_));
        }
        Stopwatch(const Stopwatch&) = delete;
        Stopwatch& operator=(const Stopwatch&) = delete;

    private:
        Counters* counters_;
        Clock::time_point from_ = Clock::now();
    };

    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<sdbus::IProxy> manager_;
    Counters* counters_;
};

inline std::string describe(const sdbus::Error& e) {
    return e.getName() + ": " + e.getMessage();
}

// --- definitions ---------------------------------------------------------------------------

inline CacheSize waysOf(unsigned ways) {
    return {ways * kWayKiB};
}

// Three shapes: one control group with two monitor groups; two control groups on both caches
// with a default and a per-vCPU monitor; monitors only (RMIDs, no CLOSID).
inline Domain randomShape(const std::string& name, std::mt19937& rng) {
    std::uniform_int_distribution<unsigned> ways(1, 3);
    switch (rng() % 3) {
    case 0:
        return Domain(name).vcpus(2).cachetune("0-1", l3(rng() % 2, waysOf(ways(rng))) +
                                                          monitor("0") + monitor("1"));
    case 1:
        return Domain(name)
            .vcpus(4)
            .cachetune("0-1", l3(0, waysOf(ways(rng))) + monitor("0-1"))
            .cachetune("2-3", l3(1, waysOf(ways(rng))) + monitor("2"));
    default:
        return Domain(name).vcpus(2).cachetune("0-1", monitor("0") + monitor("1"));
    }
}

inline bool chance(std::mt19937& rng, double p) {
    return std::uniform_real_distribution<double>(0, 1)(rng) < p;
}

// --- DomainStopped, as a client that follows the daemon sees it ----------------------------

class StopWatcher {
public:
    explicit StopWatcher(const std::string& address)
        : connection_(sdbus::createSessionBusConnectionWithAddress(address))
        , manager_(sdbus::createProxy(*connection_, kService, kRootPath)) {
        manager_->uponSignal("DomainStopped")
            .onInterface(kManager)
            .call([this](const std::string& name, const sdbus::ObjectPath&) {
                {
                    std::lock_guard lock(mutex_);
                    stoppedAt_.emplace(name, Clock::now());
                }
                arrived_.notify_all();
            });
        manager_->finishRegistration();
        connection_->enterEventLoopAsync();
    }
    ~StopWatcher() { connection_->leaveEventLoop(); }
    StopWatcher(const StopWatcher&) = delete;
    StopWatcher& operator=(const StopWatcher&) = delete;

    std::optional<Clock::time_point> stoppedAt(const std::string& name) const {
        std::lock_guard lock(mutex_);
        auto it = stoppedAt_.find(name);
        return it == stoppedAt_.end() ? std::nullopt : std::optional(it->second);
    }

    // Waits until DomainStopped came for every one of `names`; false at the deadline.
    template <class Names>
    bool waitForAll(const Names& names, std::chrono::milliseconds timeout) const {
        std::unique_lock lock(mutex_);
        return arrived_.wait_for(lock, timeout, [&] {
            return std::all_of(names.begin(), names.end(),
                               [&](const std::string& name) { return stoppedAt_.count(name) > 0; });
        });
    }

private:
    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<sdbus::IProxy> manager_;
    mutable std::mutex mutex_;
    mutable std::condition_variable arrived_;
    std::map<std::string, Clock::time_point> stoppedAt_;
};

// --- starters ------------------------------------------------------------------------------

struct OwnDomain {
    std::string name;
    std::string path;
    std::string definition;
    std::unique_ptr<FakeVm> vm;
};

// One client that starts and ends domains of its own hypervisors. Its state outlives its thread:
// the main thread compares it with the daemon's after the phase and stops what is left.
struct Starter {
    unsigned index = 0;
    fs::path dir;
    unsigned seq = 0;
    std::vector<OwnDomain> live;
    // Killed without a StopDomain that answered: the daemon must remove them on its own. When
    // the hypervisor was reaped (its exit is visible to everyone from then on).
    std::map<std::string, Clock::time_point> killed;

    void run(const std::string& address, const std::atomic<bool>& stop, Failures& failures,
             Counters& counters) {
        std::mt19937 rng(1000 + index);
        Client client(address, &counters);
        while (!stop && !failures.any()) {
            if (live.size() < kMaxLivePerStarter && (live.empty() || chance(rng, 0.55))) {
                startOne(client, rng, failures, counters);
                continue;
            }
            const std::size_t i = rng() % live.size();
            const double r = std::uniform_real_distribution<double>(0, 1)(rng);
            if (r < 0.40)
                stopOne(client, i, failures, counters);
            else if (r < 0.85)
                killOne(client, i, r >= 0.70, failures, counters);
            else
                reconnect(client, i, failures, counters);
        }
    }

    void startOne(Client& client, std::mt19937& rng, Failures& failures, Counters& counters) {
        const std::string name = "churn-" + std::to_string(index) + "-" + std::to_string(++seq);
        const Domain shape = randomShape(name, rng);
        auto vm = spawnVm(dir, shape.vcpuCount());
        const std::string definition = shape;
        const bool forProcess = chance(rng, 0.5);
        try {
            const auto path = forProcess ? client.startDomainForProcess(definition, vm->pid())
                                         : client.startDomain(definition, vm->threads());
            ++(forProcess ? counters.startsForProcess : counters.starts);
            live.push_back({name, path, definition, std::move(vm)});
        } catch (const sdbus::Error& e) {
            if (e.getName() == kNoSpace)
                ++counters.noSpace;
            else
                failures.add((forProcess ? "StartDomainForProcess " : "StartDomain ") + name +
                             ": " + describe(e));
        }
    }

    void stopOne(Client& client, std::size_t i, Failures& failures, Counters& counters) {
        try {
            client.stopDomain(live[i].name);
            ++counters.stops;
        } catch (const sdbus::Error& e) {
            failures.add("StopDomain " + live[i].name + ": " + describe(e));
            return;
        }
        live.erase(live.begin() + static_cast<long>(i));
    }

    // Kills the hypervisor; with `thenStop`, races the daemon's own cleanup with a StopDomain.
    void killOne(Client& client, std::size_t i, bool thenStop, Failures& failures,
                 Counters& counters) {
        OwnDomain domain = std::move(live[i]);
        live.erase(live.begin() + static_cast<long>(i));
        domain.vm->kill();
        ++counters.kills;
        if (!thenStop) {
            killed.emplace(domain.name, Clock::now());
            return;
        }
        try {
            client.stopDomain(domain.name);
            ++counters.killStops;
        } catch (const sdbus::Error& e) {
            if (e.getName() == kNotFound)
                ++counters.killStopsLate;
            else
                failures.add("StopDomain " + domain.name +
                             " after its hypervisor was killed: " + describe(e));
        }
    }

    // A hypervisor's reconnect: the same definition again, the same threads, the same path.
    void reconnect(Client& client, std::size_t i, Failures& failures, Counters& counters) {
        try {
            const auto path = client.startDomain(live[i].definition, live[i].vm->threads());
            if (path != live[i].path)
                failures.add("reconnect of " + live[i].name + " returned " + std::string(path) +
                             ", not " + live[i].path);
            ++counters.reconnects;
        } catch (const sdbus::Error& e) {
            failures.add("StartDomain (reconnect) " + live[i].name + ": " + describe(e));
        }
    }
};

// --- readers -------------------------------------------------------------------------------

inline void readerLoop(unsigned index, const std::string& address, const std::atomic<bool>& stop,
                       Failures& failures, Counters& counters) {
    std::mt19937 rng(2000 + index);
    Client client(address, &counters);
    // One read; a vanished domain or object is a legitimate answer, anything else is not.
    auto read = [&](const std::string& what, const std::function<void()>& call) {
        try {
            call();
            ++counters.reads;
            if (!what.starts_with("ListDomains") && !what.starts_with("Manager"))
                ++counters.objectReads;
            return true;
        } catch (const sdbus::Error& e) {
            ++counters.reads;
            if (e.getName() == kNotFound || e.getName() == kUnknownObject) {
                ++counters.vanished;
                return false;
            }
            failures.add("reader " + std::to_string(index) + ": " + what + ": " + describe(e));
        } catch (const std::exception& e) {
            failures.add("reader " + std::to_string(index) + ": " + what + ": " + e.what());
        }
        return false;
    };
    for (unsigned round = 0; !stop && !failures.any(); ++round) {
        std::vector<Listed> list;
        if (!read("ListDomains", [&] { list = client.listDomains(); }))
            continue;
        if (round % 8 == 0)
            read("Manager GetAll", [&] { client.getAll(kRootPath, kManager); });
        if (list.empty())
            continue;
        const Listed& domain = list[rng() % list.size()];
        switch (rng() % 6) {
        case 0:
            read("Domain GetAll " + domain.path, [&] { client.getAll(domain.path, kDomain); });
            break;
        case 1:
            read("GetStats " + domain.name, [&] { client.stats(domain.name); });
            break;
        case 2:
            read("Domain.GetStats " + domain.path, [&] { client.domainStats(domain.path); });
            break;
        case 3: {
            PathList monitors;
            if (!read("Monitors of " + domain.path,
                      [&] { monitors = client.get<PathList>(domain.path, kDomain, "Monitors"); }))
                break;
            for (const auto& m : monitors) {
                read("CacheOccupancy " + m, [&] {
                    client.get<std::map<std::uint32_t, std::uint64_t>>(m, kMonitor,
                                                                       "CacheOccupancy");
                });
                read("Monitor GetAll " + m, [&] { client.getAll(m, kMonitor); });
            }
            break;
        }
        case 4: {
            PathList allocations;
            if (!read("Allocations of " + domain.path, [&] {
                    allocations = client.get<PathList>(domain.path, kDomain, "Allocations");
                }))
                break;
            for (const auto& a : allocations)
                read("Allocation GetAll " + a, [&] { client.getAll(a, kAllocation); });
            break;
        }
        default: {
            PathList monitors;
            if (read("Monitors of " + domain.path,
                     [&] { monitors = client.get<PathList>(domain.path, kDomain, "Monitors"); }) &&
                !monitors.empty())
                read("Sample " + monitors.front(), [&] { client.sample(monitors.front()); });
            break;
        }
        }
    }
}

// --- the foreign writer --------------------------------------------------------------------

// Another tool on the host (pqos, an administrator's script): its own groups, made and removed
// and configured directly on the mount under the resctrl lock, as the kernel documentation asks.
struct ForeignWriter {
    fs::path root;
    unsigned seq = 0;
    // Relative path -> the schemata line it last wrote successfully ("" for none or a MON group).
    std::map<std::string, std::string> groups;

    // flock(2) on the root with a deadline: a lock that stays taken is the daemon's deadlock.
    bool withLock(Failures& failures, const std::function<void()>& body) {
        const int fd = open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            failures.add("foreign writer: open " + root.string() + ": " + std::strerror(errno));
            return false;
        }
        const auto deadline = Clock::now() + kCallTimeout;
        bool locked = false;
        while (!(locked = flock(fd, LOCK_EX | LOCK_NB) == 0) && Clock::now() < deadline)
            std::this_thread::sleep_for(1ms); // flock has no timeout of its own
        if (locked) {
            body();
            flock(fd, LOCK_UN);
        } else {
            failures.add("foreign writer: the resctrl lock stayed taken for 10 s");
        }
        close(fd);
        return locked;
    }

    void run(const std::atomic<bool>& stop, Failures& failures, Counters& counters) {
        std::mt19937 rng(3000);
        while (!stop && !failures.any()) {
            // A tool configures now and then; unpaced it would hold the lock most of the time.
            std::this_thread::sleep_for(5ms);
            withLock(failures, [&] { step(rng, failures, counters); });
        }
    }

    void step(std::mt19937& rng, Failures& failures, Counters& counters) {
        ++counters.foreignOps;
        std::vector<std::string> controlGroups;
        for (const auto& [group, line] : groups)
            if (group.find('/') == std::string::npos)
                controlGroups.push_back(group);
        if (groups.size() < kMaxForeignGroups && (groups.empty() || chance(rng, 0.4))) {
            const bool control = chance(rng, 0.6);
            const std::string group =
                (control ? "foreign-" : "mon_groups/foreign-mon-") + std::to_string(++seq);
            if (simtest::makeDir(root / group) == 0)
                groups.emplace(group, "");
            else
                ++counters.foreignRefused; // ENOSPC, EBUSY (RMIDs in limbo): the host is full
        } else if (!groups.empty() && (controlGroups.empty() || chance(rng, 0.3))) {
            auto it = groups.begin();
            std::advance(it, static_cast<long>(rng() % groups.size()));
            if (const int error = simtest::removeDir(root / it->first); error != 0)
                failures.add("foreign writer: rmdir " + it->first + ": " + std::strerror(error) +
                             " (someone else removed or changed its group)");
            groups.erase(it);
        } else {
            const std::string& group = controlGroups[rng() % controlGroups.size()];
            const unsigned bits = 1 + rng() % 4;
            const unsigned first = rng() % (16 - bits + 1);
            char line[64];
            std::snprintf(line, sizeof line, "L3:%u=%x\n", static_cast<unsigned>(rng() % 2),
                          ((1u << bits) - 1) << first);
            const int error = simtest::writeFile(root / group / "schemata", line);
            if (error == 0)
                groups[group] = line;
            else if (error == ENOENT || error == ENODEV)
                failures.add("foreign writer: " + group + " vanished under it");
            else
                ++counters.foreignRefused;
        }
    }
};

// --- the daemon's footprint ----------------------------------------------------------------

struct Footprint {
    std::size_t fds = 0;
    long rssKiB = 0;
    double cpuSeconds = 0; // user + system
};

// The daemon's fds, VmRSS and CPU time from /proc; zeros once it is gone.
inline Footprint footprintOf(pid_t pid) {
    Footprint footprint;
    const fs::path proc = "/proc/" + std::to_string(pid);
    std::error_code ec;
    for (fs::directory_iterator it(proc / "fd", ec), end; !ec && it != end; it.increment(ec))
        ++footprint.fds;
    std::ifstream status(proc / "status");
    std::string line;
    while (std::getline(status, line))
        if (line.starts_with("VmRSS:"))
            footprint.rssKiB = std::stol(line.substr(6));
    const std::string stat = readFile(proc / "stat");
    if (const auto close = stat.rfind(')'); close != std::string::npos) {
        std::istringstream fields(stat.substr(close + 2));
        std::string field;
        unsigned long ticks = 0;
        // After comm: state(3) ... utime(14) stime(15).
        for (int i = 3; i <= 15 && fields >> field; ++i)
            if (i >= 14)
                ticks += std::stoul(field);
        footprint.cpuSeconds =
            static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
    }
    return footprint;
}

// --- resctrl as the simulator shows it -----------------------------------------------------

// The value of `L3:<id>=` in a schemata text, as a number; nullopt if absent.
inline std::optional<unsigned long> l3Mask(const std::string& schemata, unsigned id) {
    std::istringstream lines(schemata);
    std::string line;
    while (std::getline(lines, line)) {
        line.erase(std::remove(line.begin(), line.end(), ' '), line.end());
        if (!line.starts_with("L3:"))
            continue;
        std::istringstream entries(line.substr(3));
        std::string entry;
        while (std::getline(entries, entry, ';'))
            if (const auto eq = entry.find('=');
                eq != std::string::npos && entry.substr(0, eq) == std::to_string(id))
                return std::stoul(entry.substr(eq + 1), nullptr, 16);
    }
    return std::nullopt;
}

} // namespace resctrld::e2e::churn
