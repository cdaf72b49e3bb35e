// SPDX-License-Identifier: LGPL-2.1-or-later
#include "json_view.h"

#include <tuple>

namespace resctrld::cli {

namespace {

Json threadsJson(const DomainState& d) {
    Json threads = Json::array();
    for (const auto& [vcpu, tid] : d.vcpuThreads)
        threads.push_back({{"vcpu", vcpu}, {"tid", tid}});
    return threads;
}

Json identityJson(const DomainState& d) {
    return {{"name", d.name},
            {"uuid", d.uuid},
            {"path", d.path},
            {"state", d.state},
            {"hypervisor_pid", d.hypervisorPid},
            {"vcpu_threads", threadsJson(d)}};
}

} // namespace

Json counterJson(const CounterMap& map) {
    Json out = Json::object();
    for (const auto& [id, value] : map)
        out[std::to_string(id)] = value;
    return out;
}

Json countersJson(const ManagerState& m) {
    Json counters = Json::object();
    for (const auto& [id, total] : m.countersTotal) {
        const auto free = m.countersFree.find(id);
        counters[std::to_string(id)] = {
            {"total", total},
            {"free", free == m.countersFree.end() ? Json(nullptr) : Json(free->second)}};
    }
    return counters;
}

Json managerJson(const ManagerState& m, std::size_t domains) {
    return {{"version", m.version},
            {"resctrl_root", m.resctrlRoot},
            {"mounted", m.mounted},
            {"mount_options", m.mountOptions},
            {"closids",
             {{"total", m.closidsTotal},
              {"free", m.closidsFree},
              {"used", m.closidsTotal - std::min(m.closidsFree, m.closidsTotal)}}},
            {"rmids",
             {{"total", m.rmidsTotal},
              {"free", m.rmidsFree},
              {"used", m.rmidsTotal - std::min(m.rmidsFree, m.rmidsTotal)}}},
            {"domains", domains},
            {"sample_interval_usec", m.sampleIntervalUsec},
            {"counter_mode", m.counterMode},
            {"counters", countersJson(m)}};
}

Json domainSummaryJson(const DomainState& d) {
    Json out = identityJson(d);
    std::map<std::tuple<std::uint32_t, std::uint32_t, std::string>, std::uint64_t> caches;
    for (const auto& a : d.allocations)
        for (const auto& c : a.caches)
            caches[{c.level, c.cacheId, c.type}] += c.bytes;
    Json cacheList = Json::array();
    for (const auto& [key, bytes] : caches)
        cacheList.push_back({{"level", std::get<0>(key)},
                             {"cache_id", std::get<1>(key)},
                             {"type", std::get<2>(key)},
                             {"bytes", bytes}});
    out["caches"] = cacheList;
    out["occupancy"] = counterJson(d.occupancy());
    return out;
}

Json domainJson(const DomainState& d) {
    Json out = identityJson(d);
    Json allocations = Json::array();
    for (const auto& a : d.allocations) {
        Json caches = Json::array();
        for (const auto& c : a.caches)
            caches.push_back({{"level", c.level},
                              {"cache_id", c.cacheId},
                              {"type", c.type},
                              {"bytes", c.bytes},
                              {"mask", c.mask}});
        Json bandwidth = Json::array();
        for (const auto& [node, value] : a.memoryBandwidth)
            bandwidth.push_back({{"node", node}, {"value", value}});
        allocations.push_back({{"path", a.path},
                               {"group", a.group},
                               {"vcpus", a.vcpus},
                               {"caches", caches},
                               {"memory_bandwidth", bandwidth},
                               {"schemata", a.schemata}});
    }
    Json monitors = Json::array();
    for (const auto& m : d.monitors) {
        Json states = Json::object();
        for (const auto& [id, state] : m.counterStates)
            states[std::to_string(id)] = state;
        Json assigned = Json::object();
        for (const auto& [id, held] : m.countersAssigned)
            assigned[std::to_string(id)] = held;
        monitors.push_back({{"path", m.path},
                            {"name", m.name},
                            {"vcpus", m.vcpus},
                            {"level", m.level},
                            {"group", m.group},
                            {"cache_occupancy", counterJson(m.cacheOccupancy)},
                            {"memory_bytes_total", counterJson(m.memoryBytesTotal)},
                            {"memory_bytes_local", counterJson(m.memoryBytesLocal)},
                            {"memory_bandwidth_total", counterJson(m.memoryBandwidthTotal)},
                            {"memory_bandwidth_local", counterJson(m.memoryBandwidthLocal)},
                            {"counter_states", states},
                            {"counters_assigned", assigned},
                            {"node_occupancy", counterJson(m.nodeOccupancy)},
                            {"node_bandwidth_total", counterJson(m.nodeBandwidthTotal)},
                            {"node_bandwidth_local", counterJson(m.nodeBandwidthLocal)},
                            {"sampled_at_usec", m.sampledAtUsec}});
    }
    out["allocations"] = allocations;
    out["monitors"] = monitors;
    return out;
}

} // namespace resctrld::cli
