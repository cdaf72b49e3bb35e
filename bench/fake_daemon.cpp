// SPDX-License-Identifier: LGPL-2.1-or-later
#include "fake_daemon.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <poll.h>
#include <stdexcept>
#include <tuple>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

namespace resctrld::bench {

namespace {

using CounterMap = std::map<uint32_t, uint64_t>;
using StateMap = std::map<uint32_t, std::string>;
using LayoutHolders = std::vector<sdbus::Struct<std::string, std::string, std::string>>;
using CacheLayoutList = std::vector<sdbus::Struct<std::string, uint32_t, uint32_t, uint64_t,
                                                  std::string, std::string, LayoutHolders>>;
using BandwidthLayoutList =
    std::vector<sdbus::Struct<std::string, std::string, uint32_t, LayoutHolders>>;

constexpr const char* kRoot = "/org/resctrld1";
constexpr const char* kManager = "org.resctrld1.Manager";
constexpr const char* kDomain = "org.resctrld1.Domain";
constexpr const char* kAllocation = "org.resctrld1.Allocation";
constexpr const char* kMonitor = "org.resctrld1.Monitor";

// The pretended host.
constexpr uint32_t kCacheIds = 2;
constexpr uint32_t kWays = 20;
constexpr uint64_t kBytesPerWay = 1441792; // 27.5 MiB of L3 in 20 ways
constexpr unsigned kClosidsForGroups = 15; // 16 CLOSIDs, the default group holds one
constexpr unsigned kRmids = 512;
constexpr const char* kShareable = "c0000";
constexpr uint32_t kDomainBandwidth = 50;

std::string hex(uint64_t mask) {
    char text[24];
    std::snprintf(text, sizeof text, "%llx", static_cast<unsigned long long>(mask));
    return text;
}

std::string vcpuList(const std::vector<uint32_t>& vcpus) {
    if (vcpus.size() == 1)
        return std::to_string(vcpus.front());
    return std::to_string(vcpus.front()) + "-" + std::to_string(vcpus.back());
}

uint64_t realtimeMicros() {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    return static_cast<uint64_t>(now.tv_sec) * 1000000u +
           static_cast<uint64_t>(now.tv_nsec) / 1000u;
}

struct MonitorState {
    enum class Kind { Cache, Bandwidth, Every };
    Kind kind = Kind::Cache;
    unsigned seed = 0;
    std::string name;
    std::string group;
    std::vector<uint32_t> vcpus;
    CounterMap occupancy, bytesTotal, bytesLocal, rateTotal, rateLocal;
    StateMap states;
    uint64_t sampledAt = 0;
    std::unique_ptr<sdbus::IObject> object;

    bool readsCache() const { return kind != Kind::Bandwidth; }
    bool readsBandwidth() const { return kind != Kind::Cache; }

    // New counter values for tick `tick`; the names of the properties that changed.
    std::vector<std::string> advance(uint64_t tick, double seconds) {
        std::vector<std::string> changed;
        for (uint32_t id = 0; id < kCacheIds; ++id) {
            if (readsCache())
                occupancy[id] = (1u << 20) + ((tick * 7 + seed * 13 + id * 5) % 64) * 65536;
            if (readsBandwidth()) {
                const uint64_t rate = 1'000'000'000 + ((tick + seed + id) % 10) * 10'000'000;
                bytesTotal[id] += static_cast<uint64_t>(static_cast<double>(rate) * seconds);
                bytesLocal[id] += static_cast<uint64_t>(static_cast<double>(rate) * seconds * 0.4);
                if (kind == Kind::Bandwidth) {
                    rateTotal[id] = rate;
                    rateLocal[id] = rate * 4 / 10;
                }
            }
        }
        if (readsCache())
            changed.emplace_back("CacheOccupancy");
        if (readsBandwidth()) {
            changed.emplace_back("MemoryBytesTotal");
            changed.emplace_back("MemoryBytesLocal");
        }
        if (kind == Kind::Bandwidth) {
            changed.emplace_back("MemoryBandwidthTotal");
            changed.emplace_back("MemoryBandwidthLocal");
        }
        if (kind != Kind::Every) {
            // The exporter benchmark's historical shape announced the three maps only.
            sampledAt = realtimeMicros();
            changed.emplace_back("SampledAt");
        }
        return changed;
    }
};

struct DomainState {
    std::string name;
    std::string path;
    std::vector<uint32_t> vcpus;
    std::string group; // the allocation group, empty when monitored only
    uint64_t mask = 0; // its way on every cache
    std::vector<sdbus::ObjectPath> allocations;
    std::vector<sdbus::ObjectPath> monitors;
    std::unique_ptr<sdbus::IObject> object;
    std::unique_ptr<sdbus::IObject> allocation;
};

class Publisher {
public:
    Publisher(sdbus::IConnection& connection, const FakeDaemonShape& shape)
        : connection_(connection)
        , shape_(shape) {
        const unsigned domains = std::max(1u, shape.domains);
        allocated_ = std::min(domains, kClosidsForGroups);
        for (unsigned d = 0; d < domains; ++d) {
            const unsigned count = shape.monitors / domains + (d < shape.monitors % domains);
            domains_.push_back(makeDomain(d, count));
        }
        publishManager();
        for (auto& domain : domains_)
            publishDomain(*domain);
    }

    void tick(uint64_t tick, double seconds) {
        std::map<sdbus::ObjectPath, CounterMap> sampled;
        for (auto& domain : domains_)
            for (auto& m : monitors_[domain.get()]) {
                m->object->emitPropertiesChangedSignal(kMonitor, m->advance(tick, seconds));
                sampled[m->object->getObjectPath()] = m->occupancy;
            }
        manager_->emitSignal("Sampled").onInterface(kManager).withArguments(realtimeMicros(),
                                                                            sampled);
    }

private:
    std::unique_ptr<DomainState> makeDomain(unsigned d, unsigned count) {
        auto domain = std::make_unique<DomainState>();
        domain->name = "vm" + std::to_string(d);
        domain->path = std::string(kRoot) + "/domain/" + domain->name;
        auto& monitors = monitors_[domain.get()];
        const bool every = shape_.kind == FakeDaemonShape::Monitors::EveryCounter;
        const unsigned vcpuCount = every ? 16 : std::max(4u, count > 2 ? count - 2 : 0u);
        for (uint32_t v = 0; v < vcpuCount; ++v)
            domain->vcpus.push_back(v);
        if (!every && d < allocated_) {
            domain->group = "resctrld-" + domain->name + "-vcpus_" + vcpuList(domain->vcpus);
            domain->mask = 1ull << d;
            domain->allocations.emplace_back(domain->path + "/allocation/0");
        }
        for (unsigned m = 0; m < count; ++m) {
            auto state = std::make_unique<MonitorState>();
            state->seed = d * 31 + m;
            if (every) {
                state->kind = MonitorState::Kind::Every;
                state->vcpus = {m};
            } else if (m == 0 || (m + 1 == count && count >= 2)) {
                state->kind = m == 0 ? MonitorState::Kind::Cache : MonitorState::Kind::Bandwidth;
                state->vcpus = domain->vcpus;
            } else {
                state->vcpus = {(m - 1) % vcpuCount};
            }
            state->name = "vcpus_" + vcpuList(state->vcpus);
            if (every)
                state->name = "vcpus_" + std::to_string(m);
            // A domain's default monitor reads its allocation group; the others have monitor
            // groups of their own, under the allocation group or the root's mon_groups/.
            const std::string own = "resctrld-" + domain->name + "-" + state->name;
            if (m == 0 && !domain->group.empty())
                state->group = domain->group;
            else if (!domain->group.empty())
                state->group = domain->group + "/mon_groups/" + own + "-" + std::to_string(m);
            else
                state->group = "mon_groups/" + own + "-" + std::to_string(m);
            for (uint32_t id = 0; id < kCacheIds; ++id)
                state->states[id] = "ok";
            state->advance(0, 1.0);
            domain->monitors.emplace_back(domain->path + "/monitor/" + std::to_string(m));
            monitors.push_back(std::move(state));
        }
        return domain;
    }

    uint64_t defaultMask() const { return ((1ull << kWays) - 1) & ~((1ull << allocated_) - 1); }

    unsigned rmidsUsed() const {
        unsigned used = allocated_;
        for (const auto& [domain, monitors] : monitors_)
            for (const auto& m : monitors)
                used += m->group != domain->group ? 1 : 0;
        return used;
    }

    void publishManager() {
        manager_ = sdbus::createObject(connection_, kRoot);
        auto& o = *manager_;
        o.addObjectManager();
        o.registerProperty("Version").onInterface(kManager).withGetter(
            [] { return std::string("bench"); });
        o.registerProperty("ResctrlRoot").onInterface(kManager).withGetter([] {
            return std::string("/sys/fs/resctrl");
        });
        o.registerProperty("Mounted").onInterface(kManager).withGetter([] { return true; });
        o.registerProperty("MountOptions").onInterface(kManager).withGetter([] {
            return std::vector<std::string>{};
        });
        const unsigned closidsFree = kClosidsForGroups - allocated_;
        const unsigned rmidsFree = kRmids - std::min(kRmids, rmidsUsed());
        o.registerProperty("ClosidsTotal").onInterface(kManager).withGetter([] {
            return kClosidsForGroups;
        });
        o.registerProperty("ClosidsFree").onInterface(kManager).withGetter([closidsFree] {
            return closidsFree;
        });
        o.registerProperty("RmidsTotal").onInterface(kManager).withGetter([] { return kRmids; });
        o.registerProperty("RmidsFree").onInterface(kManager).withGetter([rmidsFree] {
            return rmidsFree;
        });
        const uint64_t interval = static_cast<uint64_t>(shape_.tick.count()) * 1000u;
        o.registerProperty("SampleIntervalUSec").onInterface(kManager).withGetter([interval] {
            return interval;
        });
        o.registerMethod("GetLayout")
            .onInterface(kManager)
            .withOutputParamNames("caches", "bandwidth")
            .implementedAs([this] { return layout(); });
        o.registerSignal("Sampled")
            .onInterface(kManager)
            .withParameters<uint64_t, std::map<sdbus::ObjectPath, CounterMap>>();
        o.registerSignal("LayoutChanged").onInterface(kManager);
        o.finishRegistration();
    }

    // The default group first, then the domains' groups by path, on every cache and node.
    std::tuple<CacheLayoutList, BandwidthLayoutList> layout() const {
        std::vector<const DomainState*> holders;
        for (const auto& d : domains_)
            if (!d->group.empty())
                holders.push_back(d.get());
        std::sort(holders.begin(), holders.end(),
                  [](const DomainState* a, const DomainState* b) { return a->group < b->group; });
        CacheLayoutList caches;
        BandwidthLayoutList bandwidth;
        for (uint32_t id = 0; id < kCacheIds; ++id) {
            LayoutHolders cacheGroups{{"", "default", hex(defaultMask())}};
            LayoutHolders bandwidthGroups{{"", "default", "100"}};
            for (const DomainState* d : holders) {
                cacheGroups.emplace_back(d->group, "domain:" + d->name, hex(d->mask));
                bandwidthGroups.emplace_back(d->group, "domain:" + d->name,
                                             std::to_string(kDomainBandwidth));
            }
            caches.emplace_back("L3", id, kWays, kBytesPerWay, kShareable, "", cacheGroups);
            bandwidth.emplace_back("MB", "percent", id, bandwidthGroups);
        }
        return {caches, bandwidth};
    }

    void publishDomain(DomainState& d) {
        d.object = sdbus::createObject(connection_, d.path);
        auto& o = *d.object;
        const DomainState* s = &d;
        const unsigned index = static_cast<unsigned>(std::stoul(d.name.substr(2)));
        o.registerProperty("Name").onInterface(kDomain).withGetter([s] { return s->name; });
        o.registerProperty("Uuid").onInterface(kDomain).withGetter([index] {
            char uuid[40];
            std::snprintf(uuid, sizeof uuid, "00000000-0000-4000-8000-%012u", index);
            return std::string(uuid);
        });
        o.registerProperty("HypervisorPid").onInterface(kDomain).withGetter([index] {
            return 100000u + index;
        });
        o.registerProperty("State").onInterface(kDomain).withGetter(
            [] { return std::string("active"); });
        o.registerProperty("VcpuThreads").onInterface(kDomain).withGetter([s, index] {
            std::vector<sdbus::Struct<uint32_t, uint32_t>> threads;
            for (uint32_t v : s->vcpus)
                threads.emplace_back(v, 200000u + index * 100u + v);
            return threads;
        });
        o.registerProperty("Allocations").onInterface(kDomain).withGetter([s] {
            return s->allocations;
        });
        o.registerProperty("Monitors").onInterface(kDomain).withGetter([s] { return s->monitors; });
        o.finishRegistration();
        o.emitInterfacesAddedSignal();

        if (!d.group.empty())
            publishAllocation(d);
        auto& monitors = monitors_[&d];
        for (std::size_t m = 0; m < monitors.size(); ++m)
            publishMonitor(*monitors[m], d.monitors[m]);
    }

    void publishAllocation(DomainState& d) {
        d.allocation = sdbus::createObject(connection_, d.allocations.front());
        auto& o = *d.allocation;
        const DomainState* s = &d;
        o.registerProperty("Vcpus").onInterface(kAllocation).withGetter([s] { return s->vcpus; });
        o.registerProperty("Group").onInterface(kAllocation).withGetter([s] { return s->group; });
        o.registerProperty("Caches").onInterface(kAllocation).withGetter([s] {
            std::vector<sdbus::Struct<uint32_t, uint32_t, std::string, uint64_t, std::string>> c;
            for (uint32_t id = 0; id < kCacheIds; ++id)
                c.emplace_back(3u, id, std::string("both"), kBytesPerWay, hex(s->mask));
            return c;
        });
        o.registerProperty("MemoryBandwidth").onInterface(kAllocation).withGetter([] {
            std::vector<sdbus::Struct<uint32_t, uint32_t>> nodes;
            for (uint32_t id = 0; id < kCacheIds; ++id)
                nodes.emplace_back(id, kDomainBandwidth);
            return nodes;
        });
        o.registerProperty("Schemata").onInterface(kAllocation).withGetter([s] {
            std::string l3 = "L3:", mb = "MB:";
            for (uint32_t id = 0; id < kCacheIds; ++id) {
                const std::string sep = id ? ";" : "";
                l3 += sep + std::to_string(id) + "=" + hex(s->mask);
                mb += sep + std::to_string(id) + "=" + std::to_string(kDomainBandwidth);
            }
            return l3 + "\n" + mb + "\n";
        });
        o.finishRegistration();
        o.emitInterfacesAddedSignal();
    }

    void publishMonitor(MonitorState& m, const sdbus::ObjectPath& path) {
        m.object = sdbus::createObject(connection_, path);
        auto& o = *m.object;
        const MonitorState* s = &m;
        o.registerProperty("Name").onInterface(kMonitor).withGetter([s] { return s->name; });
        o.registerProperty("Vcpus").onInterface(kMonitor).withGetter([s] { return s->vcpus; });
        o.registerProperty("Level").onInterface(kMonitor).withGetter([] { return 3u; });
        o.registerProperty("Group").onInterface(kMonitor).withGetter([s] { return s->group; });
        o.registerProperty("CacheOccupancy").onInterface(kMonitor).withGetter([s] {
            return s->occupancy;
        });
        o.registerProperty("MemoryBytesTotal").onInterface(kMonitor).withGetter([s] {
            return s->bytesTotal;
        });
        o.registerProperty("MemoryBytesLocal").onInterface(kMonitor).withGetter([s] {
            return s->bytesLocal;
        });
        o.registerProperty("MemoryBandwidthTotal").onInterface(kMonitor).withGetter([s] {
            return s->rateTotal;
        });
        o.registerProperty("MemoryBandwidthLocal").onInterface(kMonitor).withGetter([s] {
            return s->rateLocal;
        });
        o.registerProperty("CounterStates").onInterface(kMonitor).withGetter([s] {
            return s->states;
        });
        o.registerProperty("SampledAt").onInterface(kMonitor).withGetter([s] {
            return s->sampledAt;
        });
        o.finishRegistration();
        o.emitInterfacesAddedSignal();
    }

    sdbus::IConnection& connection_;
    FakeDaemonShape shape_;
    unsigned allocated_ = 0;
    std::unique_ptr<sdbus::IObject> manager_;
    std::vector<std::unique_ptr<DomainState>> domains_;
    std::map<const DomainState*, std::vector<std::unique_ptr<MonitorState>>> monitors_;
};

} // namespace

FakeDaemon::FakeDaemon(std::string address, FakeDaemonShape shape)
    : address_(std::move(address))
    , shape_(shape) {
    thread_ = std::thread([this] {
        try {
            run();
        } catch (const std::exception& e) {
            error_ = e.what();
            ready_ = true;
        }
    });
    // The thread says when its objects are up (or why it failed); nothing else to wait on.
    while (!ready_.load())
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!error_.empty()) {
        thread_.join();
        throw std::runtime_error("the stand-in daemon failed: " + error_);
    }
}

FakeDaemon::~FakeDaemon() {
    stop_ = true;
    thread_.join();
}

void FakeDaemon::run() {
    auto connection = sdbus::createSessionBusConnectionWithAddress(address_);
    Publisher publisher(*connection, shape_);
    connection->requestName("org.resctrld1");
    ready_ = true;

    const bool ticking = shape_.tick.count() > 0;
    const double seconds = std::chrono::duration<double>(shape_.tick).count();
    auto next = std::chrono::steady_clock::now() + shape_.tick;
    while (!stop_.load()) {
        auto poll = connection->getEventLoopPollData();
        long wait = 50;
        if (ticking) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                next - std::chrono::steady_clock::now());
            wait = std::max<long>(0, std::min<long>(left.count(), 50));
        }
        pollfd fd{poll.fd, poll.events, 0};
        ::poll(&fd, 1, static_cast<int>(wait));
        while (connection->processPendingRequest()) {
        }
        if (!ticking || std::chrono::steady_clock::now() < next)
            continue;
        next += shape_.tick;
        publisher.tick(ticks_.load() + 1, seconds);
        ++ticks_;
    }
}

} // namespace resctrld::bench
