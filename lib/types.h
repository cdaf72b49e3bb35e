// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace resctrld {

// A byte count (cache sizes, allocation sizes, occupancy).
using Bytes = std::uint64_t;

// A cache id as the kernel lists it (info/, schemata, sysfs cache/indexN/id). Ids may have gaps
// (AMD: 0-7,16-23), so they are keys, never indexes.
struct CacheId {
    unsigned value = 0;
    friend auto operator<=>(const CacheId&, const CacheId&) = default;
};

// The part of a cache a request or schemata line addresses: `both` is the un-split resource (L3,
// L2); `code`/`data` exist only with CDP (L3CODE/L3DATA, L2CODE/L2DATA).
enum class CacheType { Both, Code, Data };

std::string_view toString(CacheType type) noexcept;

// Formats a byte count the way an operator reads it: "2.5 MiB", "768 KiB", "17 B".
std::string formatBytes(Bytes bytes);

} // namespace resctrld
