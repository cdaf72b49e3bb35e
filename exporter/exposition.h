// SPDX-License-Identifier: LGPL-2.1-or-later
// The two exposition formats a scrape can get: Prometheus's text format 0.0.4, and OpenMetrics
// 1.0.0 when the scraper's Accept header prefers it (Prometheus asks for it first).
#pragma once

#include <prometheus/metric_family.h>
#include <string>
#include <string_view>
#include <vector>

namespace resctrld::exporter {

enum class Exposition { Text, OpenMetrics };

// The format an Accept header asks for: OpenMetrics when its media range has a quality above 0
// and at least that of text/plain (or of */* when text/plain is not named); else text.
Exposition negotiate(std::string_view accept);

const char* contentType(Exposition format);

// The families in the format, without OpenMetrics's closing "# EOF" line: a page is made of
// several parts and ends with endOfPage().
std::string serialize(const std::vector<prometheus::MetricFamily>& families, Exposition format);
std::string_view endOfPage(Exposition format);

// Families written once in each format, for the scrapes until the next change.
struct RenderedFamilies {
    explicit RenderedFamilies(const std::vector<prometheus::MetricFamily>& families)
        : text(serialize(families, Exposition::Text))
        , openMetrics(serialize(families, Exposition::OpenMetrics)) {}
    const std::string& in(Exposition format) const {
        return format == Exposition::OpenMetrics ? openMetrics : text;
    }
    std::string text;
    std::string openMetrics;
};

} // namespace resctrld::exporter
