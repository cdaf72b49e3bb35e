// SPDX-License-Identifier: LGPL-2.1-or-later
// The cost of ValidateDomain, which every local user may call, for definitions as large as the
// daemon takes and shaped to make its checks expensive. The floor is what no implementation can
// avoid: libxml2 parsing the same bytes, with the daemon's parser options, in this process and
// in the same run. The daemon's figure is the whole call as a client sees it (the 1 MiB over the
// bus and back, parsing, checking, planning against a fresh read of resctrl).
#include "bench_validate.h"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <malloc.h>

#include <libxml/parser.h>
#include <sdbus-c++/sdbus-c++.h>

#include "../tests/e2e/dbus_names.h"
#include "../tests/e2e/harness.h"
#include "../tests/e2e/hostile_shapes.h"
#include "../tests/sim/conformance/sim_instance.h"
#include "bench_stack.h"
#include "bench_util.h"

namespace resctrld::bench {

namespace {

using namespace resctrld::e2e;
using Milliseconds = std::chrono::duration<double, std::milli>;

constexpr double kTargetRatio = 3.0;
constexpr std::chrono::seconds kCallTimeout{120};

std::string jsonString(const std::string& text) {
    std::string out = "\"";
    for (char c : text)
        out += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
    return out + "\"";
}

// libxml2 alone: the daemon's options (no network, no entity substitution, no DTD loading).
double parseMilliseconds(const std::string& xml) {
    const auto start = std::chrono::steady_clock::now();
    xmlDoc* doc = xmlReadMemory(xml.data(), static_cast<int>(xml.size()), nullptr, nullptr,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                    XML_PARSE_NOCDATA);
    if (doc == nullptr)
        throw std::runtime_error("libxml2 refused a hostile shape");
    xmlFreeDoc(doc);
    return Milliseconds(std::chrono::steady_clock::now() - start).count();
}

// The whole call; an error answer is as good as a plan here (most shapes are refused).
double validateMilliseconds(sdbus::IProxy& manager, const std::string& xml) {
    const auto start = std::chrono::steady_clock::now();
    try {
        auto call = manager.createMethodCall(kManager, "ValidateDomain");
        call << xml;
        manager.callMethod(call, kCallTimeout);
    } catch (const sdbus::Error& e) {
        if (!e.getName().starts_with("org.resctrld1.Error."))
            throw;
    }
    return Milliseconds(std::chrono::steady_clock::now() - start).count();
}

} // namespace

std::vector<BenchRow> benchValidate(const std::filesystem::path& dir, int runs) {
    // The floor runs with the daemon's allocator setting (no fastbins, see daemon/main.cpp):
    // with glibc's default, freeing each tree costs libxml2 alone up to twice as much, and the
    // ratio would flatter the daemon. glibc's default is restored for whatever runs next.
    mallopt(M_MXFAST, 0);
    struct RestoreFastbins {
        ~RestoreFastbins() { mallopt(M_MXFAST, 64 * sizeof(std::size_t) / 4); }
    } restore;
    std::filesystem::create_directories(dir);
    BenchStack stack(dir, "skx-2s-l3cat");

    std::vector<BenchRow> rows;
    double worst = 0;

    for (const auto& shape : hostile::hostileShapes()) {
        // One call of each first: page faults, libxml2's dictionary, the daemon's first read.
        validateMilliseconds(*stack.manager, shape.xml);
        parseMilliseconds(shape.xml);
        std::vector<double> daemonMs;
        std::vector<double> floorMs;
        for (int i = 0; i < runs; ++i) {
            daemonMs.push_back(validateMilliseconds(*stack.manager, shape.xml));
            floorMs.push_back(parseMilliseconds(shape.xml));
        }
        const double d = medianOf(daemonMs);
        const double f = medianOf(floorMs);
        const double ratio = d / f;
        worst = std::max(worst, ratio);
        BenchRow row;
        row.line = "validate " + shape.name + ": daemon " + fixed(d, 2) + " ms, libxml2 alone " +
                   fixed(f, 2) + " ms, ratio " + fixed(ratio, 2) +
                   (ratio <= kTargetRatio ? "" : " (above the target of 3)");
        row.json = "{\"bench\": \"validate\", \"shape\": " + jsonString(shape.name) +
                   ", \"bytes\": " + std::to_string(shape.xml.size()) +
                   ", \"daemon_ms\": " + fixed(d, 3) + ", \"libxml2_ms\": " + fixed(f, 3) +
                   ", \"ratio\": " + fixed(ratio, 3) + ", \"runs\": " + std::to_string(runs) + "}";
        std::cout << row.line << std::endl;
        rows.push_back(std::move(row));
    }
    rows.push_back(
        {"validate: worst ratio " + fixed(worst, 2) + " (target " + fixed(kTargetRatio, 0) + ")",
         "{\"bench\": \"validate_worst\", \"ratio\": " + fixed(worst, 3) + "}"});
    std::cout << rows.back().line << std::endl;
    return rows;
}

} // namespace resctrld::bench
