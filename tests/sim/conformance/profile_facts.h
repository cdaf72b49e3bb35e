// SPDX-License-Identifier: LGPL-2.1-or-later
// What each built-in profile must look like, written down independently of the simulator
// from docs/kernel.md §9, so the tests check the simulator rather
// than echo it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace resctrld::simtest {

struct ProfileFacts {
    std::string name;
    bool hasL3Cat;
    std::vector<unsigned> l3Ids; // also the MB and mon_L3 domain ids
    unsigned cbmLen;
    uint32_t cbmMask;
    uint32_t shareableBits;
    unsigned minCbmBits;
    unsigned l3Closids;
    bool sparseMasks;
    bool hasMb;
    unsigned mbClosids;
    unsigned mbMin;
    unsigned mbGran;
    unsigned mbMax;
    unsigned numRmids;
    uint64_t l3Bytes;
    unsigned cpus;
    bool amd;

    uint64_t granularity() const { return l3Bytes / cbmLen; }
    // Usable CTRL_MON groups besides the root (docs/kernel.md §3.2), halved CLOSIDs with CDP.
    unsigned closidBudget(bool cdp) const {
        unsigned n = ~0u;
        if (hasL3Cat)
            n = cdp ? l3Closids / 2 : l3Closids;
        if (hasMb && mbClosids < n)
            n = mbClosids;
        return n - 1;
    }
    // Width in hex digits / decimal places of padded (<= 6.14) values (docs/kernel.md §4.6).
    unsigned dataWidth() const {
        unsigned w = 0;
        if (hasL3Cat)
            w = (cbmLen + 3) / 4;
        if (hasMb && (amd ? 4u : 3u) > w)
            w = amd ? 4 : 3;
        return w;
    }
};

inline std::vector<unsigned> range(unsigned from, unsigned to) {
    std::vector<unsigned> v;
    for (unsigned i = from; i <= to; ++i)
        v.push_back(i);
    return v;
}

inline const ProfileFacts& profileFacts(const std::string& name) {
    static const std::vector<ProfileFacts> all = [] {
        std::vector<unsigned> milanIds = range(0, 7);
        for (unsigned i = 16; i <= 23; ++i)
            milanIds.push_back(i);
        return std::vector<ProfileFacts>{
            {"skx-2s-l3cat",
             true,
             {0, 1},
             11,
             0x7ff,
             0x600,
             1,
             16,
             false,
             true,
             8,
             10,
             10,
             100,
             160,
             28160ull * 1024,
             80,
             false},
            {"skx-2s-no-l3cat",
             false,
             {0, 1},
             11,
             0x7ff,
             0x600,
             1,
             16,
             false,
             true,
             8,
             10,
             10,
             100,
             160,
             28160ull * 1024,
             80,
             false},
            {"bdx-2s",
             true,
             {0, 1},
             20,
             0xfffff,
             0xc0000,
             1,
             16,
             false,
             false,
             0,
             0,
             0,
             0,
             128,
             40ull << 20,
             64,
             false},
            {"milan-2s", true, milanIds, 16, 0xffff, 0, 0, 16, true, true, 16, 0, 1, 2048, 256,
             32ull << 20, 256, true},
            {"turin-2s", true, range(0, 31), 16, 0xffff, 0, 0, 16, true, true, 16, 0, 1, 2048, 256,
             32ull << 20, 512, true},
        };
    }();
    for (const auto& p : all)
        if (p.name == name)
            return p;
    throw std::out_of_range("no facts for profile " + name);
}

} // namespace resctrld::simtest
