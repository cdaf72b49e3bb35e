// SPDX-License-Identifier: LGPL-2.1-or-later
// What the run-time tests share (test_daemon_runtime.cpp, test_daemon_lifecycle.cpp): the
// fixture with a restartable daemon and a signal recorder, fake hypervisors, the configuration
// and the readers of counters, states and groups.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <signal.h>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include "../sim/conformance/sim_instance.h"
#include "daemon_fixture.h"
#include "dbus_names.h"
#include "domain_builder.h"
#include "harness.h"
#include "schemata.h"

namespace resctrld::e2e::runtime {

using namespace resctrld;
using resctrld::simtest::SimInstance;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// skx-2s-l3cat: 28160 KiB of L3 per socket in 11 ways (hosts/README.md).
constexpr uint64_t kWay = 28160ULL * 1024 / 11;
constexpr uint64_t kMiB = 1024 * 1024;

using ThreadList = std::vector<sdbus::Struct<uint32_t, uint32_t>>;
using CounterMap = std::map<uint32_t, uint64_t>;
using StateMap = std::map<uint32_t, std::string>;
using PathList = std::vector<sdbus::ObjectPath>;
using Stats = std::map<std::string, sdbus::Variant>;

inline std::string config(const std::string& interval = "0.2",
                          const std::string& checkInterval = "0.5") {
    return "[Daemon]\nMount=no\nLogLevel=debug\nSampleIntervalSec=" + interval +
           "\nCheckIntervalSec=" + checkInterval + "\n";
}

// --- the fake hypervisor -------------------------------------------------------------------

// tests/tools/fake-hypervisor: a process with QEMU-named vCPU threads.
class Hypervisor : public resctrld::e2e::FakeHypervisor {
public:
    Hypervisor(const fs::path& dir, unsigned vcpus)
        : FakeHypervisor(FAKE_HYPERVISOR_PATH, dir, vcpus) {}

    std::set<pid_t> tids() const {
        std::set<pid_t> set;
        for (const auto& [vcpu, tid] : vcpus())
            set.insert(tid);
        return set;
    }
};

// --- signals -------------------------------------------------------------------------------

// One signal from the daemon, decoded on the event-loop thread into plain values.
struct Recorded {
    std::string path;
    std::string interface;
    std::string member;
    // DomainStarted / DomainStopped
    std::string name;
    std::string object;
    // PropertiesChanged: the interface whose properties changed, and the values by type
    std::string changedInterface;
    std::set<std::string> changedKeys;
    std::map<std::string, CounterMap> counterMaps;
    std::map<std::string, StateMap> stateMaps;
    std::map<std::string, uint64_t> numbers;
    std::map<std::string, std::string> strings;
    // Sampled
    uint64_t timestamp = 0;
    std::map<std::string, CounterMap> sampled;
};

// Every signal sent from below /org/resctrld1, recorded by a connection of its own whose event
// loop runs in a thread; tests wait for the one they expect with a deadline.
class SignalRecorder {
public:
    explicit SignalRecorder(const std::string& address)
        : connection_(sdbus::createSessionBusConnectionWithAddress(address)) {
        slot_ = connection_->addMatch("type='signal'", [this](sdbus::Message& m) { record(m); });
        connection_->enterEventLoopAsync();
    }
    ~SignalRecorder() { connection_->leaveEventLoop(); }
    SignalRecorder(const SignalRecorder&) = delete;
    SignalRecorder& operator=(const SignalRecorder&) = delete;

    using Predicate = std::function<bool(const Recorded&)>;

    // How many signals were recorded so far: a mark to wait for later ones only.
    std::size_t mark() const {
        std::lock_guard lock(mutex_);
        return signals_.size();
    }

    // The first recorded signal at or after `from` that satisfies `pred`, nullopt at the deadline.
    std::optional<Recorded> waitFor(const Predicate& pred, std::chrono::milliseconds timeout,
                                    std::size_t from = 0) const {
        std::unique_lock lock(mutex_);
        std::optional<Recorded> found;
        arrived_.wait_for(lock, timeout, [&] {
            for (std::size_t i = from; i < signals_.size(); ++i)
                if (pred(signals_[i])) {
                    found = signals_[i];
                    return true;
                }
            return false;
        });
        return found;
    }

    std::vector<Recorded> since(std::size_t from) const {
        std::lock_guard lock(mutex_);
        return {signals_.begin() + static_cast<std::ptrdiff_t>(std::min(from, signals_.size())),
                signals_.end()};
    }

    // Waits until `count` recorded signals at or after `from` satisfy `pred`; false at the
    // deadline.
    bool waitForCount(const Predicate& pred, std::size_t count, std::chrono::milliseconds timeout,
                      std::size_t from = 0) const {
        std::unique_lock lock(mutex_);
        return arrived_.wait_for(lock, timeout, [&] {
            std::size_t n = 0;
            for (std::size_t i = from; i < signals_.size(); ++i)
                n += pred(signals_[i]) ? 1 : 0;
            return n >= count;
        });
    }

    std::size_t count(const Predicate& pred, std::size_t from = 0) const {
        std::lock_guard lock(mutex_);
        std::size_t n = 0;
        for (std::size_t i = from; i < signals_.size(); ++i)
            n += pred(signals_[i]) ? 1 : 0;
        return n;
    }

private:
    void record(sdbus::Message& message) {
        Recorded r;
        r.path = message.getPath();
        if (!r.path.starts_with(kRootPath))
            return;
        r.interface = message.getInterfaceName();
        r.member = message.getMemberName();
        try {
            if (r.interface == kProperties && r.member == "PropertiesChanged") {
                std::map<std::string, sdbus::Variant> changed;
                std::vector<std::string> invalidated;
                message >> r.changedInterface >> changed >> invalidated;
                for (auto& [key, value] : changed) {
                    r.changedKeys.insert(key);
                    const std::string type = value.peekValueType();
                    if (type == "a{ut}")
                        r.counterMaps[key] = value.get<CounterMap>();
                    else if (type == "a{us}")
                        r.stateMaps[key] = value.get<StateMap>();
                    else if (type == "t")
                        r.numbers[key] = value.get<uint64_t>();
                    else if (type == "u")
                        r.numbers[key] = value.get<uint32_t>();
                    else if (type == "s")
                        r.strings[key] = value.get<std::string>();
                }
            } else if (r.interface == kManager && r.member == "Sampled") {
                std::map<sdbus::ObjectPath, CounterMap> sampled;
                message >> r.timestamp >> sampled;
                for (auto& [path, values] : sampled)
                    r.sampled[path] = values;
            } else if (r.interface == kManager &&
                       (r.member == "DomainStarted" || r.member == "DomainStopped")) {
                sdbus::ObjectPath object;
                message >> r.name >> object;
                r.object = object;
            } else if (r.interface == "org.freedesktop.DBus.ObjectManager" &&
                       (r.member == "InterfacesAdded" || r.member == "InterfacesRemoved")) {
                sdbus::ObjectPath object;
                message >> object;
                r.object = object;
            }
        } catch (const sdbus::Error& e) {
            r.member += " (undecodable: " + e.getMessage() + ")";
        }
        {
            std::lock_guard lock(mutex_);
            signals_.push_back(std::move(r));
        }
        arrived_.notify_all();
    }

    std::unique_ptr<sdbus::IConnection> connection_;
    sdbus::Slot slot_;
    mutable std::mutex mutex_;
    mutable std::condition_variable arrived_;
    std::vector<Recorded> signals_;
};

inline auto isMember(const std::string& member) {
    return [member](const Recorded& r) {
        return r.member == member;
    };
}

// --- the fixture ---------------------------------------------------------------------------

struct FixtureOptions {
    std::string profile = "skx-2s-l3cat";
    std::string configText = config();
    std::string kernel = "6.15";
};

// The fixture (daemon_fixture.h), its daemon restartable on the same state directory, with a
// signal recorder and the fake hypervisors of the test.
struct Fixture : DaemonFixture {
    explicit Fixture(FixtureOptions options = {})
        : DaemonFixture({.profile = options.profile,
                         .kernel = options.kernel,
                         .config = options.configText,
                         .startDaemon = false})
        , signals(bus.address()) {
        startDaemon();
        // The default group as the daemon left it at startup, to compare with after cleanups.
        rootSchemataAtStart = simtest::readFile(sim.at("schemata"));
    }

    std::string log() { return daemon ? daemon->process().stderrText() : std::string(); }

    Hypervisor& hypervisor(unsigned vcpus = 2) {
        hypervisors.push_back(std::make_unique<Hypervisor>(dir.path(), vcpus));
        return *hypervisors.back();
    }

    std::unique_ptr<sdbus::IProxy> proxy(const std::string& path) {
        return sdbus::createProxy(*connection, kService, path);
    }

    sdbus::ObjectPath startDomain(const std::string& definition, const ThreadList& threads) {
        return e2e::startDomain(*proxy(kRootPath), definition, threads);
    }
    sdbus::ObjectPath startDomainForProcess(const std::string& definition, pid_t pid) {
        return e2e::startDomainForProcess(*proxy(kRootPath), definition, pid);
    }
    void stopDomain(const std::string& name) { e2e::stopDomain(*proxy(kRootPath), name); }

    sdbus::ObjectPath getDomain(const std::string& name) {
        return e2e::getDomain(*proxy(kRootPath), name);
    }

    // The error GetDomain answers, or "" when it succeeds.
    std::string getDomainError(const std::string& name) {
        try {
            getDomain(name);
        } catch (const sdbus::Error& e) {
            return e.getName();
        }
        return "";
    }

    std::map<std::string, std::string> listDomains() {
        std::vector<sdbus::Struct<std::string, std::string, sdbus::ObjectPath>> list;
        proxy(kRootPath)->callMethod("ListDomains").onInterface(kManager).storeResultsTo(list);
        std::map<std::string, std::string> byName;
        for (const auto& entry : list)
            byName[entry.get<0>()] = entry.get<2>();
        return byName;
    }

    Stats getStats(const std::string& name) {
        Stats stats;
        proxy(kRootPath)
            ->callMethod("GetStats")
            .onInterface(kManager)
            .withArguments(name)
            .storeResultsTo(stats);
        return stats;
    }

    CounterMap sample(const std::string& monitor) {
        CounterMap values;
        proxy(monitor)->callMethod("Sample").onInterface(kMonitor).storeResultsTo(values);
        return values;
    }

    template <typename T>
    T property(const std::string& path, const std::string& interface, const std::string& name) {
        return proxy(path)->getProperty(name).onInterface(interface).get<T>();
    }

    CounterMap counters(const std::string& monitor, const std::string& name) {
        return property<CounterMap>(monitor, kMonitor, name);
    }

    std::string state(const std::string& domainPath) {
        return property<std::string>(domainPath, kDomain, "State");
    }

    std::string group(const std::string& path, const std::string& interface) {
        return property<std::string>(path, interface, "Group");
    }

    PathList children(const std::string& domainPath, const std::string& which) {
        return property<PathList>(domainPath, kDomain, which);
    }

    // Every group on the simulator: root-level control groups and every mon_groups/ child.
    std::set<std::string> groupsOnSim() const {
        std::set<std::string> names;
        auto monGroups = [&](const fs::path& parent) {
            std::error_code ec;
            for (const auto& entry : fs::directory_iterator(parent / "mon_groups", ec))
                names.insert(fs::relative(entry.path(), sim.root()).string());
        };
        monGroups(sim.root());
        for (const auto& entry : fs::directory_iterator(sim.root())) {
            const auto name = entry.path().filename().string();
            if (!entry.is_directory() || name == "info" || name == "mon_groups" ||
                name == "mon_data")
                continue;
            names.insert(name);
            monGroups(entry.path());
        }
        return names;
    }

    // The groups carrying the daemon's prefix (and everything below such a group).
    std::set<std::string> prefixedGroups() const {
        std::set<std::string> names;
        for (const auto& name : groupsOnSim())
            if (name.starts_with("resctrld-") || name.starts_with("mon_groups/resctrld-"))
                names.insert(name);
        return names;
    }

    std::set<pid_t> tasksOf(const std::string& group) const {
        return simtest::readTasks(group.empty() ? sim.at("tasks") : sim.at(group) / "tasks");
    }

    // The value of a monitoring file of `group` on cache `id` as the simulator shows it now.
    std::string monFile(const std::string& group, unsigned id, const std::string& event) const {
        char sub[32];
        std::snprintf(sub, sizeof(sub), "mon_L3_%02u", id);
        return simtest::readFile(sim.at(group) / "mon_data" / sub / event);
    }

    uint64_t monValue(const std::string& group, unsigned id, const std::string& event) const {
        return std::stoull(monFile(group, id, event));
    }

    std::size_t stateFiles() const {
        std::size_t n = 0;
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(stateDir, ec))
            n += entry.path().extension() == ".domain" ? 1 : 0;
        return n;
    }

    // Every group the domain's objects name.
    std::set<std::string> groupsOf(const std::string& domainPath) {
        std::set<std::string> groups;
        for (const auto& a : children(domainPath, "Allocations"))
            groups.insert(group(a, kAllocation));
        for (const auto& m : children(domainPath, "Monitors")) {
            const auto g = group(m, kMonitor);
            if (!g.empty())
                groups.insert(g);
        }
        return groups;
    }

    std::string rootSchemataAtStart;
    SignalRecorder signals;
    std::vector<std::unique_ptr<Hypervisor>> hypervisors;
};

inline std::string footprint(const std::vector<std::tuple<pid_t, unsigned, uint64_t>>& entries) {
    std::string text;
    for (const auto& [tid, id, bytes] : entries)
        text += std::to_string(tid) + " " + std::to_string(id) + " " + std::to_string(bytes) + "\n";
    return text;
}

// Polls (every 10 ms): for what no event announces, the simulator's counters (its model changes
// them without a file event) and the values the daemon samples from them (Monitor properties
// emit no PropertiesChanged). A wait for a signal uses the recorder, for a file waitForChange().
inline bool waitUntil(const std::function<bool()>& pred,
                      std::chrono::milliseconds timeout = kDeadline) {
    return simtest::waitUntil(pred, timeout);
}

inline std::string describe(const CounterMap& map) {
    std::string text = "{";
    for (const auto& [id, value] : map)
        text += " " + std::to_string(id) + ":" + std::to_string(value);
    return text + " }";
}

inline std::string describe(const StateMap& map) {
    std::string text = "{";
    for (const auto& [id, value] : map)
        text += " " + std::to_string(id) + ":" + value;
    return text + " }";
}

} // namespace resctrld::e2e::runtime
