// SPDX-License-Identifier: LGPL-2.1-or-later
// prometheus-cpp 1.0 serializes only the text format; the OpenMetrics writer here covers what
// the exporter emits (gauges and counters, no timestamps, no exemplars).
#include "exposition.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <prometheus/text_serializer.h>

#include "text.h"

namespace resctrld::exporter {

namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

// The q= parameter of one media range ("type/subtype;version=1.0.0;q=0.5"), 1 without one.
double quality(std::string_view parameters) {
    for (auto parameter : split(parameters, ';')) {
        parameter = trim(parameter);
        if (parameter.size() > 2 && equalsIgnoringCase(parameter.substr(0, 2), "q=")) {
            std::string value(parameter.substr(2));
            char* end = nullptr;
            double q = std::strtod(value.c_str(), &end);
            return end != value.c_str() && std::isfinite(q) ? std::clamp(q, 0.0, 1.0) : 0.0;
        }
    }
    return 1.0;
}

std::string escaped(std::string_view value, bool quotes) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (c == '"' && quotes)
            out += "\\\"";
        else
            out += c;
    }
    return out;
}

std::string number(double value) {
    if (std::isnan(value))
        return "NaN";
    if (std::isinf(value))
        return value > 0 ? "+Inf" : "-Inf";
    char buffer[32];
    if (value == std::trunc(value) && std::fabs(value) < 9007199254740992.0)
        std::snprintf(buffer, sizeof buffer, "%.0f", value);
    else
        std::snprintf(buffer, sizeof buffer, "%.17g", value);
    return buffer;
}

void appendOpenMetrics(std::string& out, const MetricFamily& family) {
    const bool counter = family.type == MetricType::Counter;
    constexpr std::string_view kTotal = "_total";
    // A counter's family is named without _total; its samples carry it.
    std::string_view name = family.name;
    if (counter && name.ends_with(kTotal))
        name.remove_suffix(kTotal.size());
    out.append("# TYPE ").append(name).append(counter ? " counter\n" : " gauge\n");
    if (name.ends_with("_bytes"))
        out.append("# UNIT ").append(name).append(" bytes\n");
    out.append("# HELP ").append(name).append(" ").append(escaped(family.help, true)).append("\n");
    for (const auto& metric : family.metric) {
        out.append(name);
        if (counter)
            out.append(kTotal);
        if (!metric.label.empty()) {
            out += '{';
            for (std::size_t i = 0; i < metric.label.size(); ++i) {
                if (i > 0)
                    out += ',';
                out.append(metric.label[i].name)
                    .append("=\"")
                    .append(escaped(metric.label[i].value, true))
                    .append("\"");
            }
            out += '}';
        }
        out += ' ';
        out.append(number(counter ? metric.counter.value : metric.gauge.value));
        out += '\n';
    }
}

} // namespace

Exposition negotiate(std::string_view accept) {
    std::optional<double> openMetrics;
    std::optional<double> text;
    double anything = 0;
    for (auto range : split(accept, ',')) {
        auto semicolon = range.find(';');
        auto type = trim(range.substr(0, semicolon));
        double q = semicolon == std::string_view::npos ? 1.0 : quality(range.substr(semicolon + 1));
        if (equalsIgnoringCase(type, "application/openmetrics-text"))
            openMetrics = std::max(openMetrics.value_or(0.0), q);
        else if (equalsIgnoringCase(type, "text/plain"))
            text = std::max(text.value_or(0.0), q);
        else if (type == "*/*" || equalsIgnoringCase(type, "text/*"))
            anything = std::max(anything, q);
    }
    if (openMetrics && *openMetrics > 0 && *openMetrics >= text.value_or(anything))
        return Exposition::OpenMetrics;
    return Exposition::Text;
}

const char* contentType(Exposition format) {
    return format == Exposition::OpenMetrics
               ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
               : "text/plain; version=0.0.4; charset=utf-8";
}

std::string serialize(const std::vector<MetricFamily>& families, Exposition format) {
    if (format == Exposition::Text)
        return prometheus::TextSerializer().Serialize(families);
    std::string out;
    for (const auto& family : families)
        appendOpenMetrics(out, family);
    return out;
}

std::string_view endOfPage(Exposition format) {
    return format == Exposition::OpenMetrics ? "# EOF\n" : "";
}

} // namespace resctrld::exporter
