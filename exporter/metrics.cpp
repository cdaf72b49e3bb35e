// SPDX-License-Identifier: LGPL-2.1-or-later
#include "metrics.h"

#include <algorithm>
#include <set>
#include <string_view>

namespace resctrld::exporter {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

MetricFamily family(std::string name, std::string help, MetricType type) {
    MetricFamily f;
    f.name = std::move(name);
    f.help = std::move(help);
    f.type = type;
    return f;
}

void addGauge(MetricFamily& f, Labels labels, double value) {
    ClientMetric m;
    m.label = std::move(labels);
    m.gauge.value = value;
    f.metric.push_back(std::move(m));
}

void addCounter(MetricFamily& f, Labels labels, double value) {
    ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = value;
    f.metric.push_back(std::move(m));
}

void dropRepeatedSeries(MetricFamily& f) {
    std::set<std::vector<std::pair<std::string_view, std::string_view>>> seen;
    std::erase_if(f.metric, [&](const ClientMetric& m) {
        std::vector<std::pair<std::string_view, std::string_view>> labels;
        labels.reserve(m.label.size());
        for (const auto& l : m.label)
            labels.emplace_back(l.name, l.value);
        return !seen.insert(std::move(labels)).second;
    });
}

std::string joined(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) {
        if (!out.empty())
            out += ',';
        out += w;
    }
    return out;
}

// "0-3,6" as libvirt writes a vCPU list.
std::string vcpuList(std::vector<std::uint32_t> vcpus) {
    std::sort(vcpus.begin(), vcpus.end());
    vcpus.erase(std::unique(vcpus.begin(), vcpus.end()), vcpus.end());
    std::string out;
    for (std::size_t i = 0; i < vcpus.size();) {
        std::size_t j = i;
        while (j + 1 < vcpus.size() && vcpus[j + 1] == vcpus[j] + 1)
            ++j;
        if (!out.empty())
            out += ',';
        out += std::to_string(vcpus[i]);
        if (j > i)
            out += '-' + std::to_string(vcpus[j]);
        i = j + 1;
    }
    return out;
}

bool isOk(const MonitorSnapshot& monitor, std::uint32_t cacheId) {
    auto it = monitor.counterStates.find(cacheId);
    // A daemon that names no state for an id has nothing to say against its value.
    return it == monitor.counterStates.end() || it->second == "ok";
}

bool isNodeOk(const MonitorSnapshot& monitor, std::uint32_t node) {
    auto it = monitor.nodeCounterStates.find(node);
    return it == monitor.nodeCounterStates.end() || it->second == "ok";
}

} // namespace

std::string parentDomainPath(const std::string& childPath) {
    // <domain path>/monitor/<n> or <domain path>/allocation/<n>
    auto last = childPath.rfind('/');
    if (last == std::string::npos || last == 0)
        return {};
    auto kind = childPath.rfind('/', last - 1);
    if (kind == std::string::npos)
        return {};
    return childPath.substr(0, kind);
}

std::string lastPathComponent(const std::string& path) {
    auto last = path.rfind('/');
    return last == std::string::npos ? path : path.substr(last + 1);
}

std::vector<MetricFamily> daemonFamilies(const HostSnapshot& host) {
    std::vector<MetricFamily> out;
    auto up = family("resctrld_up", "1 when resctrld answered the exporter's last read",
                     MetricType::Gauge);
    addGauge(up, {}, host.up ? 1 : 0);
    out.push_back(std::move(up));
    if (!host.up)
        return out;

    const auto& mgr = host.manager;
    auto info = family("resctrld_info", "resctrld's version and resctrl mount", MetricType::Gauge);
    addGauge(info,
             {{"mount_options", joined(mgr.mountOptions)},
              {"resctrl_root", mgr.resctrlRoot},
              {"version", mgr.version}},
             1);
    out.push_back(std::move(info));
    auto closids = family("resctrld_closids", "Control groups (CLOSIDs) usable on the host",
                          MetricType::Gauge);
    addGauge(closids, {{"state", "total"}}, mgr.closidsTotal);
    addGauge(closids, {{"state", "free"}}, mgr.closidsFree);
    out.push_back(std::move(closids));
    auto rmids =
        family("resctrld_rmids", "Monitoring groups (RMIDs) usable on the host", MetricType::Gauge);
    addGauge(rmids, {{"state", "total"}}, mgr.rmidsTotal);
    addGauge(rmids, {{"state", "free"}}, mgr.rmidsFree);
    out.push_back(std::move(rmids));
    // Only on hosts that assign bandwidth counters: elsewhere the daemon's maps are empty.
    if (!mgr.countersTotal.empty()) {
        auto counters = family("resctrld_counters",
                               "Hardware bandwidth counters per L3 cache id (assignable counters)",
                               MetricType::Gauge);
        for (const auto& [id, total] : mgr.countersTotal)
            addGauge(counters, {{"cache_id", std::to_string(id)}, {"state", "total"}}, total);
        for (const auto& [id, free] : mgr.countersFree)
            addGauge(counters, {{"cache_id", std::to_string(id)}, {"state", "free"}}, free);
        out.push_back(std::move(counters));
    }

    auto domainInfo =
        family("resctrld_domain_info", "One per domain started by resctrld", MetricType::Gauge);
    for (const auto& [path, d] : host.domains)
        addGauge(domainInfo, {{"domain", d.name}, {"state", d.state}, {"uuid", d.uuid}}, 1);
    out.push_back(std::move(domainInfo));

    auto domainName = [&](const std::string& domainPath) -> const std::string* {
        auto it = host.domains.find(domainPath);
        return it == host.domains.end() ? nullptr : &it->second.name;
    };

    auto monitorInfo =
        family("resctrld_monitor_info", "The vCPUs a monitor measures", MetricType::Gauge);
    auto occupancy = family("resctrld_llc_occupancy_bytes", "Last-level cache occupancy in bytes",
                            MetricType::Gauge);
    auto bandwidth = family("resctrld_memory_bandwidth_bytes_total",
                            "Cumulative bytes of memory traffic", MetricType::Counter);
    auto states =
        family("resctrld_counter_state", "A monitor counter's state; not ok means no value series",
               MetricType::Gauge);
    auto assigned = family("resctrld_monitor_counters_assigned",
                           "1 when a bandwidth monitor holds hardware counters on that L3 cache "
                           "id, 0 when it waits for them",
                           MetricType::Gauge);
    auto nodeOccupancy = family(
        "resctrld_node_llc_occupancy_bytes",
        "Last-level cache occupancy in bytes on one Sub-NUMA Clustering node", MetricType::Gauge);
    auto nodeBandwidth = family(
        "resctrld_node_memory_bandwidth_bytes_total",
        "Cumulative bytes of memory traffic on one Sub-NUMA Clustering node", MetricType::Counter);
    for (const auto& [path, m] : host.monitors) {
        const std::string* domain = domainName(m.domainPath);
        if (domain == nullptr)
            continue;
        addGauge(monitorInfo,
                 {{"domain", *domain}, {"monitor", m.name}, {"vcpus", vcpuList(m.vcpus)}}, 1);
        for (const auto& [id, bytes] : m.cacheOccupancy)
            if (isOk(m, id))
                addGauge(
                    occupancy,
                    {{"cache_id", std::to_string(id)}, {"domain", *domain}, {"monitor", m.name}},
                    static_cast<double>(bytes));
        for (const auto& [scope, values] :
             {std::pair{"local", &m.memoryBytesLocal}, std::pair{"total", &m.memoryBytesTotal}})
            for (const auto& [id, bytes] : *values)
                if (isOk(m, id))
                    addCounter(bandwidth,
                               {{"cache_id", std::to_string(id)},
                                {"domain", *domain},
                                {"monitor", m.name},
                                {"scope", scope}},
                               static_cast<double>(bytes));
        // A node whose counter is not ok has no series, as for a cache id.
        for (const auto& [node, bytes] : m.nodeOccupancy)
            if (isNodeOk(m, node))
                addGauge(nodeOccupancy,
                         {{"domain", *domain}, {"monitor", m.name}, {"node", std::to_string(node)}},
                         static_cast<double>(bytes));
        for (const auto& [scope, values] :
             {std::pair{"local", &m.nodeBytesLocal}, std::pair{"total", &m.nodeBytesTotal}})
            for (const auto& [node, bytes] : *values)
                if (isNodeOk(m, node))
                    addCounter(nodeBandwidth,
                               {{"domain", *domain},
                                {"monitor", m.name},
                                {"node", std::to_string(node)},
                                {"scope", scope}},
                               static_cast<double>(bytes));
        for (const auto& [id, state] : m.counterStates)
            addGauge(states,
                     {{"cache_id", std::to_string(id)},
                      {"domain", *domain},
                      {"monitor", m.name},
                      {"state", state}},
                     1);
        for (const auto& [id, held] : m.countersAssigned)
            addGauge(assigned,
                     {{"cache_id", std::to_string(id)}, {"domain", *domain}, {"monitor", m.name}},
                     held ? 1 : 0);
    }
    out.push_back(std::move(monitorInfo));
    out.push_back(std::move(occupancy));
    out.push_back(std::move(bandwidth));
    out.push_back(std::move(states));
    out.push_back(std::move(assigned));
    out.push_back(std::move(nodeOccupancy));
    out.push_back(std::move(nodeBandwidth));

    auto cacheBytes =
        family("resctrld_allocation_cache_bytes",
               "Cache allocated to a domain's allocation, in bytes", MetricType::Gauge);
    auto memoryBandwidth = family(
        "resctrld_allocation_memory_bandwidth",
        "Memory bandwidth cap of a domain's allocation, in the host's unit", MetricType::Gauge);
    auto slowMemoryBandwidth =
        family("resctrld_allocation_slow_memory_bandwidth",
               "Slow-memory (CXL, AMD SMBA) bandwidth cap of a domain's allocation, in 1/8 GB/s",
               MetricType::Gauge);
    // The MB values are percentages unless resctrl is mounted with mba_MBps.
    const auto& options = host.manager.mountOptions;
    const std::string unit =
        std::find(options.begin(), options.end(), "mba_MBps") != options.end() ? "MBps" : "percent";
    for (const auto& [path, a] : host.allocations) {
        const std::string* domain = domainName(a.domainPath);
        if (domain == nullptr)
            continue;
        for (const auto& c : a.caches)
            addGauge(cacheBytes,
                     {{"allocation", a.index},
                      {"cache_id", std::to_string(c.cacheId)},
                      {"domain", *domain},
                      {"level", std::to_string(c.level)},
                      {"type", c.type}},
                     static_cast<double>(c.bytes));
        for (const auto& [node, value] : a.memoryBandwidth)
            addGauge(memoryBandwidth,
                     {{"allocation", a.index},
                      {"domain", *domain},
                      {"node", std::to_string(node)},
                      {"unit", unit}},
                     value);
        for (const auto& [node, value] : a.slowMemoryBandwidth)
            addGauge(slowMemoryBandwidth,
                     {{"allocation", a.index},
                      {"domain", *domain},
                      {"node", std::to_string(node)},
                      {"unit", "1/8 GB/s"}},
                     value);
    }
    out.push_back(std::move(cacheBytes));
    out.push_back(std::move(memoryBandwidth));
    out.push_back(std::move(slowMemoryBandwidth));

    // A cache monitor and a memory-bandwidth monitor over the same vCPUs share their name and
    // their resctrl group: their series add up to one monitor's, and those both have (vCPUs,
    // a counter's state) are the same series, written once.
    for (auto& f : out)
        dropRepeatedSeries(f);
    // An empty family would still print its HELP and TYPE lines; leave those out.
    std::erase_if(out, [](const MetricFamily& f) { return f.metric.empty(); });
    return out;
}

std::vector<MetricFamily> exporterFamilies(const ExporterCounters& counters) {
    std::vector<MetricFamily> out;
    auto scrapes = family("resctrld_exporter_scrapes_total", "Scrapes served", MetricType::Counter);
    addCounter(scrapes, {}, static_cast<double>(counters.scrapes));
    out.push_back(std::move(scrapes));
    auto errors = family("resctrld_exporter_errors_total",
                         "Failed or malformed reads of resctrld, lost connections included",
                         MetricType::Counter);
    addCounter(errors, {}, static_cast<double>(counters.errors));
    out.push_back(std::move(errors));
    return out;
}

} // namespace resctrld::exporter
