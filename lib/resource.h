// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "types.h"

namespace resctrld {

// An allocation resource as resctrl names it: an `info/<name>` directory and a schemata line.
// Declared in the kernel's resource order (L3, L2, MB, SMBA; unified, CODE, DATA), which is also
// the order in which resctrld writes schemata lines.
enum class Resource { L3, L3Code, L3Data, L2, L2Code, L2Data, MB, SMBA };

inline constexpr std::array<Resource, 8> kAllResources{
    Resource::L3,     Resource::L3Code, Resource::L3Data, Resource::L2,
    Resource::L2Code, Resource::L2Data, Resource::MB,     Resource::SMBA,
};

// "L3", "L3CODE", "MB", ...
std::string_view resourceName(Resource resource) noexcept;
// The inverse of resourceName (case-sensitive, as the kernel is).
std::optional<Resource> parseResourceName(std::string_view name) noexcept;

// A cache resource holds capacity bitmasks; MB and SMBA hold bandwidth values.
bool isCacheResource(Resource resource) noexcept;
// 3 or 2 for cache resources, 0 for MB/SMBA.
unsigned cacheLevel(Resource resource) noexcept;
// Both for L3/L2 (and MB/SMBA), Code/Data for the CDP halves.
CacheType cacheType(Resource resource) noexcept;
// The resource that holds (level, type): L3+Code -> L3CODE. Empty for levels other than 2 and 3.
std::optional<Resource> cacheResource(unsigned level, CacheType type) noexcept;
// The other half of a CDP resource (L3CODE <-> L3DATA); the resource itself otherwise.
Resource cdpPeer(Resource resource) noexcept;

} // namespace resctrld
