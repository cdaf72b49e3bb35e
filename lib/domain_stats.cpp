// SPDX-License-Identifier: LGPL-2.1-or-later
#include "domain_stats.h"

#include <fmt/format.h>

namespace resctrld {

DomainStats domainStats(const Plan& plan, std::span<const MonitorSample> samples) {
    DomainStats stats;
    std::uint32_t cacheMonitors = 0;
    std::uint32_t bandwidthMonitors = 0;
    for (std::size_t i = 0; i < plan.monitors.size() && i < samples.size(); ++i) {
        const PlannedMonitor& monitor = plan.monitors[i];
        const MonitorSample& sample = samples[i];
        const bool isCache = monitor.kind == MonitorKind::Cache;
        const std::string prefix =
            isCache ? fmt::format("cpu.cache.monitor.{}.", cacheMonitors++)
                    : fmt::format("memory.bandwidth.monitor.{}.", bandwidthMonitors++);
        const std::string banks = isCache ? "bank." : "node.";
        stats[prefix + "name"] = monitor.name;
        stats[prefix + "vcpus"] = monitor.vcpus.format();
        stats[prefix + banks + "count"] = static_cast<std::uint32_t>(sample.states.size());
        std::uint32_t j = 0;
        for (const auto& [id, state] : sample.states) {
            const std::string bank = fmt::format("{}{}{}.", prefix, banks, j++);
            stats[bank + "id"] = static_cast<std::uint32_t>(id);
            auto put = [&, cacheId = id](const std::string& key,
                                         const std::map<unsigned, std::uint64_t>& m) {
                if (auto it = m.find(cacheId); it != m.end())
                    stats[bank + key] = it->second;
            };
            if (isCache) {
                put("bytes", sample.occupancy);
            } else {
                put("bytes.local", sample.bytesLocal);
                put("bytes.total", sample.bytesTotal);
            }
        }
        // Sub-NUMA Clustering: the per-node values under resctrld.* keys, beside libvirt's
        // per-L3 ones (which are the sums over each L3's nodes).
        if (sample.nodes.states.empty())
            continue;
        const std::string nodePrefix =
            isCache
                ? fmt::format("resctrld.cache.monitor.{}.node.", cacheMonitors - 1)
                : fmt::format("resctrld.memory.bandwidth.monitor.{}.node.", bandwidthMonitors - 1);
        stats[nodePrefix + "count"] = static_cast<std::uint32_t>(sample.nodes.states.size());
        std::uint32_t k = 0;
        for (const auto& [node, state] : sample.nodes.states) {
            const std::string key = fmt::format("{}{}.", nodePrefix, k++);
            stats[key + "id"] = static_cast<std::uint32_t>(node);
            auto put = [&, nodeId = node](const std::string& name,
                                          const std::map<unsigned, std::uint64_t>& m) {
                if (auto it = m.find(nodeId); it != m.end())
                    stats[key + name] = it->second;
            };
            if (isCache) {
                put("bytes", sample.nodes.occupancy);
            } else {
                put("bytes.total", sample.nodes.bytesTotal);
                put("bytes.local", sample.nodes.bytesLocal);
            }
        }
    }
    stats["cpu.cache.monitor.count"] = cacheMonitors;
    if (bandwidthMonitors > 0)
        stats["memory.bandwidth.monitor.count"] = bandwidthMonitors;
    return stats;
}

} // namespace resctrld
