// SPDX-License-Identifier: LGPL-2.1-or-later
// The Granite Rapids-like SNC-3 host as the kernel must show it, written down from the
// kernel's SNC rules independently of the simulator: 2 sockets, one L3 each, three NUMA
// nodes per L3 with global ids, 512 hardware RMIDs, CPUID occupancy scale 196608.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace resctrld::simtest::gnr {

inline constexpr unsigned kNodesPerL3 = 3;
inline constexpr unsigned kHardwareRmids = 512;
inline constexpr unsigned kSncRmids = 512 / 3; // 170: the hardware RMIDs split between nodes
inline constexpr uint64_t kL3Bytes = 491520ull * 1024;
inline constexpr unsigned kCbmLen = 15;
inline constexpr uint64_t kBytesPerBit = kL3Bytes / kCbmLen;             // what `size` uses
inline constexpr uint64_t kNodeBytesPerBit = kBytesPerBit / kNodesPerL3; // what a node holds
inline constexpr uint64_t kCpuidScale = 196608;
inline constexpr uint64_t kNodeUnit = kCpuidScale / kNodesPerL3; // 65536
// The whole L3 over the visible RMIDs, rounded down to the undivided scale.
inline constexpr uint64_t kSncThreshold = kL3Bytes / kSncRmids / kCpuidScale * kCpuidScale;
static_assert(kSncThreshold == 2949120);

inline std::vector<unsigned> nodesOfL3(unsigned l3) {
    return {3 * l3, 3 * l3 + 1, 3 * l3 + 2};
}

inline std::string l3Dir(unsigned id) {
    char b[32];
    std::snprintf(b, sizeof b, "mon_L3_%02u", id);
    return b;
}

inline std::string subDir(unsigned node) {
    char b[32];
    std::snprintf(b, sizeof b, "mon_sub_L3_%02u", node);
    return b;
}

inline uint64_t roundToNodeUnit(uint64_t v) {
    return v / kNodeUnit * kNodeUnit;
}

} // namespace resctrld::simtest::gnr
