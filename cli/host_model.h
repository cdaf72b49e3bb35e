// SPDX-License-Identifier: LGPL-2.1-or-later
// What the daemon publishes, as plain values: the Manager's properties and every domain with its
// allocations and monitors, built from ObjectManager.GetManagedObjects and kept current by
// InterfacesAdded/Removed and PropertiesChanged. No D-Bus calls here.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <sdbus-c++/Types.h>

namespace resctrld::cli {

using Properties = std::map<std::string, sdbus::Variant>;
using Interfaces = std::map<std::string, Properties>;
using ManagedObjects = std::map<sdbus::ObjectPath, Interfaces>;
using CounterMap = std::map<std::uint32_t, std::uint64_t>;

struct ManagerState {
    std::string version;
    std::string resctrlRoot;
    bool mounted = false;
    std::vector<std::string> mountOptions;
    std::uint32_t closidsTotal = 0, closidsFree = 0, rmidsTotal = 0, rmidsFree = 0;
    std::uint64_t sampleIntervalUsec = 0;
    // Hosts that assign bandwidth counters: the mode and, by L3 cache id, the counters.
    std::string counterMode;
    std::map<std::uint32_t, std::uint32_t> countersTotal, countersFree;

    void apply(const Properties& props);
};

struct CacheAllocation {
    std::uint32_t level = 0;
    std::uint32_t cacheId = 0;
    std::string type; // both, code or data
    std::uint64_t bytes = 0;
    std::string mask; // lowercase hex
};

struct AllocationState {
    std::string path;
    std::vector<std::uint32_t> vcpus;
    std::string group;
    std::vector<CacheAllocation> caches;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> memoryBandwidth; // (node, value)
    std::string schemata;
};

struct MonitorState {
    std::string path;
    std::string name;
    std::vector<std::uint32_t> vcpus;
    std::uint32_t level = 0;
    std::string group;
    CounterMap cacheOccupancy;
    CounterMap memoryBytesTotal, memoryBytesLocal;
    CounterMap memoryBandwidthTotal, memoryBandwidthLocal;
    std::map<std::uint32_t, std::string> counterStates;
    // L3 cache id -> holds its hardware bandwidth counters (hosts that assign them).
    std::map<std::uint32_t, bool> countersAssigned;
    // Sub-NUMA Clustering hosts: the same per NUMA node id (empty elsewhere).
    CounterMap nodeOccupancy;
    CounterMap nodeBandwidthTotal, nodeBandwidthLocal;
    std::map<std::uint32_t, std::string> nodeCounterStates;
    std::uint64_t sampledAtUsec = 0;
};

struct DomainState {
    std::string path;
    std::string name;
    std::string uuid;
    std::string state;
    std::uint32_t hypervisorPid = 0;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> vcpuThreads; // (vcpu, tid)
    std::vector<AllocationState> allocations;
    std::vector<MonitorState> monitors;

    // Summed over the domain's monitors, by cache id.
    CounterMap occupancy() const;
    // Summed over monitors and cache ids (bytes per second).
    std::uint64_t bandwidthTotal() const;
    std::uint64_t bandwidthLocal() const;
};

class HostModel {
public:
    // Replaces everything with a full read.
    void load(const ManagedObjects& objects);
    // An object's interfaces appearing (all properties) or one interface's properties changing.
    void apply(const std::string& path, const std::string& interface, const Properties& props);
    void remove(const std::string& path);
    // A sample's occupancy for one monitor (the Sampled signal).
    void applyOccupancy(const std::string& monitorPath, const CounterMap& occupancy,
                        std::uint64_t timestampUsec);

    // Every domain, sorted by name, with its allocations and monitors in the domain's order.
    std::vector<DomainState> domains() const;
    // The domain and the monitor's name owning a monitor object; empty when unknown.
    std::pair<std::string, std::string> monitorOwner(const std::string& monitorPath) const;
    std::string domainName(const std::string& domainPath) const;

private:
    struct DomainEntry {
        DomainState state;
        std::vector<sdbus::ObjectPath> allocationPaths, monitorPaths;
    };
    std::map<std::string, DomainEntry> domains_;
    std::map<std::string, AllocationState> allocations_;
    std::map<std::string, MonitorState> monitors_;
};

} // namespace resctrld::cli
