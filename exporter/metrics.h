// SPDX-License-Identifier: LGPL-2.1-or-later
// The mapping from what the daemon publishes to the metric names, types and labels of the D-Bus
// API reference ("Metrics for Prometheus"), as prometheus-cpp's metric families; exposition.h
// writes them in the format a scraper asks for.
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

} // namespace resctrld::exporter
