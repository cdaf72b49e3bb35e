// SPDX-License-Identifier: LGPL-2.1-or-later
// The mapping from what the daemon publishes to the metric names, types and labels of the D-Bus
// API reference ("Metrics for Prometheus"), serialized by prometheus-cpp in the text format
// 0.0.4.
#pragma once

#include <cstdint>
#include <prometheus/metric_family.h>
#include <string>
#include <vector>

#include "host_snapshot.h"

namespace resctrld::exporter {

// resctrld_up and, when the daemon is up, every series of the daemon's state. A counter whose
// state is not `ok` gets no value series, only its resctrld_counter_state series.
std::vector<prometheus::MetricFamily> daemonFamilies(const HostSnapshot& host);

struct ExporterCounters {
    std::uint64_t scrapes = 0;
    std::uint64_t errors = 0;
};
std::vector<prometheus::MetricFamily> exporterFamilies(const ExporterCounters& counters);

std::string serializeText(const std::vector<prometheus::MetricFamily>& families);

// The page a scrape serves: the daemon's part (rendered once per change) and the exporter's own.
inline constexpr const char* kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

} // namespace resctrld::exporter
