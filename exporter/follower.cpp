// SPDX-License-Identifier: LGPL-2.1-or-later
#include "follower.h"

#include <map>
#include <memory>
#include <poll.h>
#include <thread>
#include <time.h>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>
#include <spdlog/spdlog.h>

namespace resctrld::exporter {

namespace {

constexpr const char* kService = "org.resctrld1";
constexpr const char* kRoot = "/org/resctrld1";
constexpr const char* kManager = "org.resctrld1.Manager";
constexpr const char* kDomain = "org.resctrld1.Domain";
constexpr const char* kAllocation = "org.resctrld1.Allocation";
constexpr const char* kMonitor = "org.resctrld1.Monitor";
constexpr const char* kObjectManager = "org.freedesktop.DBus.ObjectManager";
constexpr const char* kProperties = "org.freedesktop.DBus.Properties";

using Properties = std::map<std::string, sdbus::Variant>;
using Interfaces = std::map<std::string, Properties>;
using ManagedObjects = std::map<sdbus::ObjectPath, Interfaces>;

std::unique_ptr<sdbus::IConnection> connect(const std::string& bus) {
    if (bus == "system")
        return sdbus::createSystemBusConnection();
    // An address was put in DBUS_SESSION_BUS_ADDRESS by main() (sdbus-c++ 1.2's connection to
    // an address leaks the half-made bus at every failed attempt; sd-bus's session opener
    // frees it).
    return sdbus::createSessionBusConnection();
}

std::uint64_t monotonicUsec() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000 +
           static_cast<std::uint64_t>(ts.tv_nsec) / 1000;
}

} // namespace

// One connection's worth of following: the bus, the daemon's unique name, what it published.
struct Follower::Session {
    Follower& owner;
    std::unique_ptr<sdbus::IConnection> connection;
    std::unique_ptr<sdbus::IProxy> root;
    std::unique_ptr<sdbus::IProxy> busDriver;
    std::vector<sdbus::Slot> matches;
    std::string daemonName; // the unique name owning org.resctrld1, empty when none
    HostSnapshot host;
    bool resyncNeeded = true;
    bool dirty = true;

    explicit Session(Follower& f)
        : owner(f) {}

    void fail(const char* what) {
        owner.errors_.fetch_add(1, std::memory_order_relaxed);
        spdlog::debug("malformed {} from resctrld, ignored", what);
    }

    // Reads a property of the expected type; a wrong type is the daemon's error, not ours.
    template <typename T> bool read(const Properties& props, const char* name, T& out) {
        auto it = props.find(name);
        if (it == props.end())
            return false;
        if (!it->second.containsValueOfType<T>()) {
            fail(name);
            return false;
        }
        out = it->second.get<T>();
        return true;
    }

    bool readCounters(const Properties& props, const char* name, CounterMap& out) {
        std::map<std::uint32_t, std::uint64_t> value;
        if (!read(props, name, value))
            return false;
        if (value.size() > owner.options_.maxEntries) {
            fail(name);
            value.erase(std::next(value.begin(), static_cast<long>(owner.options_.maxEntries)),
                        value.end());
        }
        out = std::move(value);
        return true;
    }

    void applyManager(const Properties& props) {
        auto& m = host.manager;
        read(props, "Version", m.version);
        read(props, "ResctrlRoot", m.resctrlRoot);
        read(props, "MountOptions", m.mountOptions);
        read(props, "ClosidsTotal", m.closidsTotal);
        read(props, "ClosidsFree", m.closidsFree);
        read(props, "RmidsTotal", m.rmidsTotal);
        read(props, "RmidsFree", m.rmidsFree);
        readBounded(props, "CountersTotal", m.countersTotal);
        readBounded(props, "CountersFree", m.countersFree);
    }

    // A dictionary property, no larger than the exporter's limit of entries.
    template <class Map> void readBounded(const Properties& props, const char* name, Map& out) {
        Map value;
        if (!read(props, name, value))
            return;
        if (value.size() > owner.options_.maxEntries)
            fail(name);
        else
            out = std::move(value);
    }

    std::size_t objectCount() const {
        return host.domains.size() + host.allocations.size() + host.monitors.size();
    }

    // An object's interface appearing (with all its properties) or changing (with some).
    void apply(const std::string& path, const std::string& iface, const Properties& props,
               bool added) {
        if (added && objectCount() >= owner.options_.maxObjects) {
            fail("object beyond the exporter's limit");
            return;
        }
        if (iface == kManager && path == kRoot) {
            applyManager(props);
        } else if (iface == kDomain) {
            if (!added && !host.domains.contains(path))
                return;
            auto& d = host.domains[path];
            read(props, "Name", d.name);
            read(props, "Uuid", d.uuid);
            read(props, "State", d.state);
        } else if (iface == kAllocation) {
            if (!added && !host.allocations.contains(path))
                return;
            auto& a = host.allocations[path];
            a.domainPath = parentDomainPath(path);
            a.index = lastPathComponent(path);
            std::vector<sdbus::Struct<std::uint32_t, std::uint32_t, std::string, std::uint64_t,
                                      std::string>>
                caches;
            if (read(props, "Caches", caches)) {
                a.caches.clear();
                for (const auto& c : caches)
                    if (a.caches.size() < owner.options_.maxEntries)
                        a.caches.push_back({c.get<0>(), c.get<1>(), c.get<2>(), c.get<3>()});
            }
            for (auto [name, values] : {std::pair{"MemoryBandwidth", &a.memoryBandwidth},
                                        std::pair{"SlowMemoryBandwidth", &a.slowMemoryBandwidth}}) {
                std::vector<sdbus::Struct<std::uint32_t, std::uint32_t>> nodes;
                if (!read(props, name, nodes))
                    continue;
                values->clear();
                for (const auto& n : nodes)
                    if (values->size() < owner.options_.maxEntries)
                        (*values)[n.get<0>()] = n.get<1>();
            }
        } else if (iface == kMonitor) {
            if (!added && !host.monitors.contains(path))
                return;
            auto& m = host.monitors[path];
            m.domainPath = parentDomainPath(path);
            read(props, "Name", m.name);
            if (read(props, "Vcpus", m.vcpus) && m.vcpus.size() > owner.options_.maxEntries)
                m.vcpus.resize(owner.options_.maxEntries);
            readCounters(props, "CacheOccupancy", m.cacheOccupancy);
            readCounters(props, "MemoryBytesTotal", m.memoryBytesTotal);
            readCounters(props, "MemoryBytesLocal", m.memoryBytesLocal);
            readCounters(props, "NodeOccupancy", m.nodeOccupancy);
            readCounters(props, "NodeBytesTotal", m.nodeBytesTotal);
            readCounters(props, "NodeBytesLocal", m.nodeBytesLocal);
            for (auto [name, out] : {std::pair{"CounterStates", &m.counterStates},
                                     std::pair{"NodeCounterStates", &m.nodeCounterStates}}) {
                std::map<std::uint32_t, std::string> states;
                if (!read(props, name, states))
                    continue;
                if (states.size() > owner.options_.maxEntries)
                    fail(name);
                else
                    *out = std::move(states);
            }
            readBounded(props, "CountersAssigned", m.countersAssigned);
        } else {
            return;
        }
        dirty = true;
    }

    void remove(const std::string& path) {
        dirty |=
            host.domains.erase(path) + host.allocations.erase(path) + host.monitors.erase(path) > 0;
    }

    void resync() {
        host = HostSnapshot{};
        dirty = true;
        resyncNeeded = false;
        std::string name;
        try {
            busDriver->callMethod("GetNameOwner")
                .onInterface("org.freedesktop.DBus")
                .withTimeout(owner.options_.callTimeout)
                .withArguments(std::string(kService))
                .storeResultsTo(name);
        } catch (const sdbus::Error&) {
            daemonName.clear();
            return; // not running: up 0 until NameOwnerChanged says otherwise
        }
        daemonName = name;
        try {
            Properties managerProps;
            root->callMethod("GetAll")
                .onInterface(kProperties)
                .withTimeout(owner.options_.callTimeout)
                .withArguments(std::string(kManager))
                .storeResultsTo(managerProps);
            ManagedObjects objects;
            root->callMethod("GetManagedObjects")
                .onInterface(kObjectManager)
                .withTimeout(owner.options_.callTimeout)
                .storeResultsTo(objects);
            applyManager(managerProps);
            for (const auto& [path, interfaces] : objects)
                for (const auto& [iface, props] : interfaces)
                    apply(path, iface, props, true);
            host.up = true;
        } catch (const sdbus::Error& e) {
            owner.errors_.fetch_add(1, std::memory_order_relaxed);
            spdlog::warn("reading resctrld failed: {}; trying again in 1 s", e.getMessage());
            host = HostSnapshot{};
            resyncRetryAt = monotonicUsec() + 1'000'000;
        }
    }
    std::uint64_t resyncRetryAt = 0;

    void onNameOwnerChanged(sdbus::Message& msg) {
        std::string name, oldOwner, newOwner;
        msg >> name >> oldOwner >> newOwner;
        if (name != kService)
            return;
        spdlog::info("resctrld {}", newOwner.empty() ? "left the bus" : "is on the bus");
        daemonName = newOwner;
        host = HostSnapshot{};
        dirty = true;
        resyncNeeded = !newOwner.empty();
    }

    void onDaemonSignal(sdbus::Message& msg) {
        if (daemonName.empty() || msg.getSender() != daemonName || !host.up)
            return;
        const std::string iface = msg.getInterfaceName();
        const std::string member = msg.getMemberName();
        try {
            if (iface == kProperties && member == "PropertiesChanged") {
                std::string changedIface;
                Properties changed;
                std::vector<std::string> invalidated;
                msg >> changedIface >> changed >> invalidated;
                apply(msg.getPath(), changedIface, changed, false);
            } else if (iface == kObjectManager && member == "InterfacesAdded") {
                sdbus::ObjectPath path;
                Interfaces interfaces;
                msg >> path >> interfaces;
                for (const auto& [name, props] : interfaces)
                    apply(path, name, props, true);
            } else if (iface == kObjectManager && member == "InterfacesRemoved") {
                sdbus::ObjectPath path;
                std::vector<std::string> interfaces;
                msg >> path >> interfaces;
                remove(path);
            } else if (iface == kManager && member == "Sampled") {
                std::uint64_t timestamp = 0;
                std::map<sdbus::ObjectPath, std::map<std::uint32_t, std::uint64_t>> occupancy;
                msg >> timestamp >> occupancy;
                for (auto& [path, values] : occupancy) {
                    auto it = host.monitors.find(path);
                    if (it != host.monitors.end() && values.size() <= owner.options_.maxEntries)
                        it->second.cacheOccupancy = std::move(values);
                }
                dirty = true;
            }
        } catch (const sdbus::Error&) {
            fail(member.c_str());
        }
    }
};

Follower::Follower(FollowerOptions options, Publish publish)
    : options_(std::move(options))
    , publish_(std::move(publish)) {
}

void Follower::follow(const std::atomic<bool>& stop) {
    Session s(*this);
    s.connection = connect(options_.bus);
    s.root = sdbus::createProxy(*s.connection, kService, kRoot);
    s.busDriver =
        sdbus::createProxy(*s.connection, "org.freedesktop.DBus", "/org/freedesktop/DBus");
    // Matches first, then the full read: a change made in between is seen twice, never missed.
    s.matches.push_back(s.connection->addMatch(
        "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
        "member='NameOwnerChanged',arg0='org.resctrld1'",
        [&s](sdbus::Message& msg) { s.onNameOwnerChanged(msg); }));
    // The sender is checked against the name's owner in the handler: any client may emit a
    // signal on any path.
    s.matches.push_back(
        s.connection->addMatch("type='signal',path_namespace='/org/resctrld1'",
                               [&s](sdbus::Message& msg) { s.onDaemonSignal(msg); }));

    while (!stop.load()) {
        if (s.resyncNeeded || (!s.host.up && !s.daemonName.empty() && s.resyncRetryAt != 0 &&
                               monotonicUsec() >= s.resyncRetryAt)) {
            s.resyncRetryAt = 0;
            s.resync();
        }
        if (s.dirty) {
            s.dirty = false;
            publish_(s.host);
        }
        auto poll = s.connection->getEventLoopPollData();
        // At most 200 ms, so that stop is seen and a failed read is retried on time.
        int timeoutMs = 200;
        if (poll.timeout_usec != UINT64_MAX) {
            auto now = monotonicUsec();
            auto left = poll.timeout_usec > now ? (poll.timeout_usec - now) / 1000 : 0;
            timeoutMs = static_cast<int>(std::min<std::uint64_t>(left, 200));
        }
        pollfd fd{poll.fd, poll.events, 0};
        if (::poll(&fd, 1, timeoutMs) < 0 && errno != EINTR)
            throw std::system_error(errno, std::generic_category(), "poll");
        // Bounded, so that a flood of signals cannot keep the snapshot from being published.
        for (int i = 0; i < 4096 && s.connection->processPendingRequest(); ++i) {
        }
    }
}

void Follower::run(const std::atomic<bool>& stop) {
    auto backoff = std::chrono::milliseconds(1000);
    while (!stop.load()) {
        const auto started = std::chrono::steady_clock::now();
        try {
            follow(stop);
            return;
        } catch (const std::exception& e) {
            // A connection that lived a while starts the backoff over: the bus restarting
            // once a day is not a flapping bus.
            if (std::chrono::steady_clock::now() - started > std::chrono::seconds(30))
                backoff = std::chrono::milliseconds(1000);
            errors_.fetch_add(1, std::memory_order_relaxed);
            spdlog::warn("D-Bus connection failed: {}; connecting again in {} ms", e.what(),
                         backoff.count());
        }
        publish_(HostSnapshot{});
        auto until = std::chrono::steady_clock::now() + backoff;
        while (!stop.load() && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
}

} // namespace resctrld::exporter
