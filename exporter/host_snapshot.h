// SPDX-License-Identifier: LGPL-2.1-or-later
// What the exporter knows of the daemon, as plain values: the follower fills it from D-Bus, the
// metric mapping reads it. Nothing here knows of D-Bus, so the mapping is tested without a bus.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace resctrld::exporter {

struct ManagerSnapshot {
    std::string version;
    std::string resctrlRoot;
    std::vector<std::string> mountOptions;
    std::uint32_t closidsTotal = 0;
    std::uint32_t closidsFree = 0;
    std::uint32_t rmidsTotal = 0;
    std::uint32_t rmidsFree = 0;
    // Hosts that assign bandwidth counters: L3 cache id -> counters (CountersTotal,
    // CountersFree); empty elsewhere.
    std::map<std::uint32_t, std::uint32_t> countersTotal;
    std::map<std::uint32_t, std::uint32_t> countersFree;
};

struct DomainSnapshot {
    std::string name;
    std::string uuid;
    std::string state;
};

struct CacheEntry {
    std::uint32_t level = 0;
    std::uint32_t cacheId = 0;
    std::string type;
    std::uint64_t bytes = 0;
};

struct AllocationSnapshot {
    // The object path's domain and index (the last path component).
    std::string domainPath;
    std::string index;
    std::vector<CacheEntry> caches;
    // node id -> value in the host's MB unit.
    std::map<std::uint32_t, std::uint32_t> memoryBandwidth;
    // node id -> slow-memory (SMBA) cap in 1/8 GB/s.
    std::map<std::uint32_t, std::uint32_t> slowMemoryBandwidth;
};

using CounterMap = std::map<std::uint32_t, std::uint64_t>;

struct MonitorSnapshot {
    std::string domainPath;
    std::string name;
    std::vector<std::uint32_t> vcpus;
    CounterMap cacheOccupancy;
    CounterMap memoryBytesTotal;
    CounterMap memoryBytesLocal;
    std::map<std::uint32_t, std::string> counterStates;
    // L3 cache id -> holds its hardware counters (CountersAssigned); empty where not assigned.
    std::map<std::uint32_t, bool> countersAssigned;
    // Sub-NUMA Clustering hosts: the same per SNC node id (Monitor.Node*).
    CounterMap nodeOccupancy;
    CounterMap nodeBytesTotal;
    CounterMap nodeBytesLocal;
    std::map<std::uint32_t, std::string> nodeCounterStates;
};

// Everything keyed by object path: domains by their own path, allocations and monitors by theirs
// (each names its domain's path, so a series carries the domain's libvirt name).
struct HostSnapshot {
    bool up = false;
    ManagerSnapshot manager;
    std::map<std::string, DomainSnapshot> domains;
    std::map<std::string, AllocationSnapshot> allocations;
    std::map<std::string, MonitorSnapshot> monitors;
};

// The domain object path an allocation or monitor path belongs to
// (/org/resctrld1/domain/<name>/monitor/<n> -> /org/resctrld1/domain/<name>), and its index.
std::string parentDomainPath(const std::string& childPath);
std::string lastPathComponent(const std::string& path);

} // namespace resctrld::exporter
