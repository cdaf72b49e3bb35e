// SPDX-License-Identifier: LGPL-2.1-or-later
#include "host_model.h"

#include <algorithm>

namespace resctrld::cli {

namespace {

constexpr const char* kDomain = "org.resctrld1.Domain";
constexpr const char* kAllocation = "org.resctrld1.Allocation";
constexpr const char* kMonitor = "org.resctrld1.Monitor";

// A property of the expected type; absent or of another type leaves `out` as it was (a newer
// daemon may add members; a wrong type is not worth failing an operator's command for).
template <typename T> void read(const Properties& props, const char* name, T& out) {
    const auto it = props.find(name);
    if (it != props.end() && it->second.containsValueOfType<T>())
        out = it->second.get<T>();
}

template <typename A, typename B>
void readPairs(const Properties& props, const char* name, std::vector<std::pair<A, B>>& out) {
    std::vector<sdbus::Struct<A, B>> wire;
    const auto it = props.find(name);
    if (it == props.end() || !it->second.containsValueOfType<decltype(wire)>())
        return;
    wire = it->second.get<decltype(wire)>();
    out.clear();
    for (const auto& item : wire)
        out.emplace_back(item.template get<0>(), item.template get<1>());
}

std::uint64_t sumOf(const CounterMap& map) {
    std::uint64_t sum = 0;
    for (const auto& [id, value] : map)
        sum += value;
    return sum;
}

} // namespace

void ManagerState::apply(const Properties& props) {
    read(props, "Version", version);
    read(props, "ResctrlRoot", resctrlRoot);
    read(props, "Mounted", mounted);
    read(props, "MountOptions", mountOptions);
    read(props, "ClosidsTotal", closidsTotal);
    read(props, "ClosidsFree", closidsFree);
    read(props, "RmidsTotal", rmidsTotal);
    read(props, "RmidsFree", rmidsFree);
    read(props, "SampleIntervalUSec", sampleIntervalUsec);
    read(props, "CounterMode", counterMode);
    read(props, "CountersTotal", countersTotal);
    read(props, "CountersFree", countersFree);
}

CounterMap DomainState::occupancy() const {
    CounterMap sum;
    for (const auto& monitor : monitors)
        for (const auto& [id, bytes] : monitor.cacheOccupancy)
            sum[id] += bytes;
    return sum;
}

std::uint64_t DomainState::bandwidthTotal() const {
    std::uint64_t sum = 0;
    for (const auto& monitor : monitors)
        sum += sumOf(monitor.memoryBandwidthTotal);
    return sum;
}

std::uint64_t DomainState::bandwidthLocal() const {
    std::uint64_t sum = 0;
    for (const auto& monitor : monitors)
        sum += sumOf(monitor.memoryBandwidthLocal);
    return sum;
}

void HostModel::load(const ManagedObjects& objects) {
    domains_.clear();
    allocations_.clear();
    monitors_.clear();
    for (const auto& [path, interfaces] : objects)
        for (const auto& [interface, props] : interfaces)
            apply(path, interface, props);
}

void HostModel::apply(const std::string& path, const std::string& interface,
                      const Properties& props) {
    if (interface == kDomain) {
        auto& entry = domains_[path];
        auto& d = entry.state;
        d.path = path;
        read(props, "Name", d.name);
        read(props, "Uuid", d.uuid);
        read(props, "State", d.state);
        read(props, "HypervisorPid", d.hypervisorPid);
        readPairs(props, "VcpuThreads", d.vcpuThreads);
        read(props, "Allocations", entry.allocationPaths);
        read(props, "Monitors", entry.monitorPaths);
    } else if (interface == kAllocation) {
        auto& a = allocations_[path];
        a.path = path;
        read(props, "Vcpus", a.vcpus);
        read(props, "Group", a.group);
        read(props, "Schemata", a.schemata);
        readPairs(props, "MemoryBandwidth", a.memoryBandwidth);
        using Wire = std::vector<
            sdbus::Struct<std::uint32_t, std::uint32_t, std::string, std::uint64_t, std::string>>;
        Wire caches;
        if (const auto it = props.find("Caches");
            it != props.end() && it->second.containsValueOfType<Wire>()) {
            caches = it->second.get<Wire>();
            a.caches.clear();
            for (const auto& c : caches)
                a.caches.push_back({c.get<0>(), c.get<1>(), c.get<2>(), c.get<3>(), c.get<4>()});
        }
    } else if (interface == kMonitor) {
        auto& m = monitors_[path];
        m.path = path;
        read(props, "Name", m.name);
        read(props, "Vcpus", m.vcpus);
        read(props, "Level", m.level);
        read(props, "Group", m.group);
        read(props, "CacheOccupancy", m.cacheOccupancy);
        read(props, "MemoryBytesTotal", m.memoryBytesTotal);
        read(props, "MemoryBytesLocal", m.memoryBytesLocal);
        read(props, "MemoryBandwidthTotal", m.memoryBandwidthTotal);
        read(props, "MemoryBandwidthLocal", m.memoryBandwidthLocal);
        read(props, "CounterStates", m.counterStates);
        read(props, "CountersAssigned", m.countersAssigned);
        read(props, "NodeOccupancy", m.nodeOccupancy);
        read(props, "NodeBandwidthTotal", m.nodeBandwidthTotal);
        read(props, "NodeBandwidthLocal", m.nodeBandwidthLocal);
        read(props, "NodeCounterStates", m.nodeCounterStates);
        read(props, "SampledAt", m.sampledAtUsec);
    }
}

void HostModel::remove(const std::string& path) {
    domains_.erase(path);
    allocations_.erase(path);
    monitors_.erase(path);
}

void HostModel::applyOccupancy(const std::string& monitorPath, const CounterMap& occupancy,
                               std::uint64_t timestampUsec) {
    const auto it = monitors_.find(monitorPath);
    if (it == monitors_.end())
        return;
    it->second.cacheOccupancy = occupancy;
    it->second.sampledAtUsec = timestampUsec;
}

std::vector<DomainState> HostModel::domains() const {
    std::vector<DomainState> list;
    for (const auto& [path, entry] : domains_) {
        DomainState d = entry.state;
        for (const auto& child : entry.allocationPaths)
            if (const auto it = allocations_.find(child); it != allocations_.end())
                d.allocations.push_back(it->second);
        for (const auto& child : entry.monitorPaths)
            if (const auto it = monitors_.find(child); it != monitors_.end())
                d.monitors.push_back(it->second);
        list.push_back(std::move(d));
    }
    std::sort(list.begin(), list.end(),
              [](const DomainState& a, const DomainState& b) { return a.name < b.name; });
    return list;
}

std::pair<std::string, std::string> HostModel::monitorOwner(const std::string& monitorPath) const {
    for (const auto& [path, entry] : domains_)
        if (std::find(entry.monitorPaths.begin(), entry.monitorPaths.end(), monitorPath) !=
            entry.monitorPaths.end()) {
            const auto m = monitors_.find(monitorPath);
            return {entry.state.name, m == monitors_.end() ? std::string() : m->second.name};
        }
    return {};
}

std::string HostModel::domainName(const std::string& domainPath) const {
    const auto it = domains_.find(domainPath);
    return it == domains_.end() ? std::string() : it->second.state.name;
}

} // namespace resctrld::cli
