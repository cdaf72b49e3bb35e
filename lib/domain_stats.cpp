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
    }
    stats["cpu.cache.monitor.count"] = cacheMonitors;
    if (bandwidthMonitors > 0)
        stats["memory.bandwidth.monitor.count"] = bandwidthMonitors;
    return stats;
}

} // namespace resctrld
