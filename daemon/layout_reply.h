// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "host_layout.h"

namespace resctrld {

// GetLayout's answer (docs/api.md): a(suutssa(sss)) caches, a(ssua(sss)) bandwidth.
using LayoutHolders = std::vector<sdbus::Struct<std::string, std::string, std::string>>;
using CacheLayoutList = std::vector<sdbus::Struct<std::string, uint32_t, uint32_t, uint64_t,
                                                  std::string, std::string, LayoutHolders>>;
using BandwidthLayoutList =
    std::vector<sdbus::Struct<std::string, std::string, uint32_t, LayoutHolders>>;
using LayoutReply = std::tuple<CacheLayoutList, BandwidthLayoutList>;

LayoutReply encodeLayout(const HostLayout& layout);

// "default", "foreign" or "domain:<name>".
std::string layoutOwnerName(const LayoutGroup& group);

// D-Bus strings are UTF-8, resctrl group names any bytes: every byte that is not part of valid
// UTF-8 becomes "\xNN", so a group named so by another tool cannot make the answer fail.
std::string validUtf8(std::string_view text);

} // namespace resctrld
