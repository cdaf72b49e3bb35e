// SPDX-License-Identifier: LGPL-2.1-or-later
#include "capabilities.h"

#include <array>
#include <fmt/format.h>
#include <string_view>

namespace resctrld {
namespace {

std::string escapeAttribute(std::string_view text) {
    std::string out;
    for (const char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '\'':
            out += "&apos;";
            break;
        case '"':
            out += "&quot;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

// libvirt lists monitoring features by prefix only (§6.0, fixture resctrl-fake-feature):
// llc_* under <cache>, mbm_* under <memory_bandwidth>, anything else nowhere.
std::vector<std::string> featuresWithPrefix(const MonitorResource& monitor,
                                            std::string_view prefix) {
    std::vector<std::string> out;
    for (const auto& feature : monitor.features)
        if (feature.starts_with(prefix))
            out.push_back(feature);
    return out;
}

// <control granularity [min] unit type maxAllocs/> of one cache resource on one bank. As libvirt
// does, granularity and min are printed in the smaller of their two pretty units, and min only
// when min_cbm_bits is above 1.
std::string formatCacheControl(const CacheResource& resource, CacheId id) {
    const Bytes granularity = resource.granularity(id);
    const Bytes minimum = resource.minCbmBits > 1 ? resource.minimumAllocation(id) : 0;
    PrettySize gran = prettySize(granularity);
    PrettySize min = prettySize(minimum);
    if (min.value != 0 && gran.value != 0) {
        const Bytes granDivisor = granularity / gran.value;
        const Bytes minDivisor = minimum / min.value;
        if (minDivisor > granDivisor) {
            min.value *= minDivisor / granDivisor;
            min.unit = gran.unit;
        } else if (minDivisor < granDivisor) {
            gran.value *= granDivisor / minDivisor;
            gran.unit = min.unit;
        }
    }
    std::string out = fmt::format("<control granularity='{}'", gran.value);
    if (min.value != 0)
        out += fmt::format(" min='{}'", min.value);
    out += fmt::format(" unit='{}' type='{}' maxAllocs='{}'/>", gran.unit,
                       toString(resource.type()), resource.numClosids);
    return out;
}

} // namespace

PrettySize prettySize(Bytes bytes) {
    static constexpr std::array<const char*, 5> kUnits{"B", "KiB", "MiB", "GiB", "TiB"};
    PrettySize size{bytes, kUnits[0]};
    for (std::size_t i = 1; i < kUnits.size() && size.value != 0 && size.value % 1024 == 0; ++i) {
        size.value /= 1024;
        size.unit = kUnits[i];
    }
    return size;
}

std::string formatCapabilities(const HostModel& host) {
    std::string cache;
    // Banks of level 2 and above, by level then id, as libvirt 10.8 and later list them (10.7
    // and earlier listed level 3 only, so an L2 CAT host showed its L2 controls nowhere).
    for (const auto& [level, banks] : host.caches) {
        if (level < 2)
            continue;
        for (const auto& [id, bank] : banks) {
            const PrettySize size = prettySize(bank.size);
            cache +=
                fmt::format("  <bank id='{}' level='{}' type='both' size='{}' unit='{}' "
                            "cpus='{}'",
                            id.value, level, size.value, size.unit, escapeAttribute(bank.cpuList));
            std::string controls;
            for (const auto& resource : host.cacheResources)
                if (resource.level() == level && resource.hasDomain(id))
                    controls += "    " + formatCacheControl(resource, id) + "\n";
            cache += controls.empty() ? "/>\n" : ">\n" + controls + "  </bank>\n";
        }
    }
    if (host.monitoring) {
        const auto features = featuresWithPrefix(*host.monitoring, "llc_");
        if (!features.empty()) {
            cache += fmt::format("  <monitor level='3' reuseThreshold='{}' maxMonitors='{}'>\n",
                                 host.monitoring->maxThresholdOccupancy, host.monitoring->numRmids);
            for (const auto& feature : features)
                cache += fmt::format("    <feature name='{}'/>\n", escapeAttribute(feature));
            cache += "  </monitor>\n";
        }
    }

    std::string bandwidth;
    // One node per LLC bank, with that bank's CPUs (§6.0).
    if (const BandwidthResource* mb = host.bandwidthResource(Resource::MB);
        mb != nullptr && host.caches.count(3) != 0) {
        for (const auto& [id, bank] : host.caches.at(3)) {
            if (!mb->hasDomain(id))
                continue;
            bandwidth += fmt::format("  <node id='{}' cpus='{}'>\n", id.value,
                                     escapeAttribute(bank.cpuList));
            bandwidth += fmt::format("    <control granularity='{}' min='{}' maxAllocs='{}'/>\n",
                                     mb->bandwidthGran, mb->minBandwidth, mb->numClosids);
            bandwidth += "  </node>\n";
        }
    }
    if (host.monitoring) {
        const auto features = featuresWithPrefix(*host.monitoring, "mbm_");
        if (!features.empty()) {
            bandwidth += fmt::format("  <monitor maxMonitors='{}'>\n", host.monitoring->numRmids);
            for (const auto& feature : features) {
                // BMEC (AMD): the transactions each event counts, per L3 id as the kernel prints
                // them, so that a reader knows what "total" and "local" mean on this host. An
                // attribute libvirt does not write; its readers ignore it.
                const auto& config =
                    feature == "mbm_total_bytes"   ? host.monitoring->totalBytesConfig
                    : feature == "mbm_local_bytes" ? host.monitoring->localBytesConfig
                                                   : std::map<CacheId, unsigned>{};
                std::string events;
                for (const auto& [id, mask] : config)
                    events +=
                        fmt::format("{}{}=0x{:02x}", events.empty() ? "" : ";", id.value, mask);
                bandwidth += fmt::format("    <feature name='{}'{}/>\n", escapeAttribute(feature),
                                         events.empty() ? "" : " events='" + events + "'");
            }
            bandwidth += "  </monitor>\n";
        }
    }

    std::string out;
    if (!cache.empty())
        out += "<cache>\n" + cache + "</cache>\n";
    if (!bandwidth.empty())
        out += "<memory_bandwidth>\n" + bandwidth + "</memory_bandwidth>\n";
    return out;
}

} // namespace resctrld
