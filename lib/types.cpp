// SPDX-License-Identifier: LGPL-2.1-or-later
#include "types.h"

#include <array>
#include <cstdio>
#include <fmt/format.h>

namespace resctrld {

std::string_view toString(CacheType type) noexcept {
    switch (type) {
    case CacheType::Both:
        return "both";
    case CacheType::Code:
        return "code";
    case CacheType::Data:
        return "data";
    }
    return "both";
}

std::string formatBytes(Bytes bytes) {
    static constexpr std::array<const char*, 5> kUnits{"B", "KiB", "MiB", "GiB", "TiB"};
    std::size_t unit = 0;
    Bytes scale = 1;
    while (unit + 1 < kUnits.size() && bytes >= scale * 1024)
        scale *= 1024, ++unit;
    if (bytes % scale == 0)
        return fmt::format("{} {}", bytes / scale, kUnits[unit]);
    char text[32];
    std::snprintf(text, sizeof text, "%.3g %s", static_cast<double>(bytes) / scale, kUnits[unit]);
    return text;
}

} // namespace resctrld
