#include "profile.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <stdexcept>

#include <ini.h>

namespace resctrlsim {
namespace {

// A Granite Rapids-AP-like host: 2 sockets of 96 cores, one 480 MiB L3 each, 512 hardware
// RMIDs; with SNC-3 each socket is three NUMA nodes of 32 cores.
Profile gnrBase(std::string name, unsigned nodesPerL3) {
    Profile p;
    p.name = std::move(name);
    p.cpus = 384;
    p.threadsPerCore = 2;
    p.coresPerL3 = 96;
    p.l3Ids = {0, 1};
    p.l2Bytes = 2ULL * 1024 * 1024;
    p.l3Bytes = 491520ULL * 1024;
    p.nodesPerL3 = nodesPerL3;
    p.sncModel = true;
    p.l3 = CacheAllocSpec{15, 0x7fff, 1, 0x6000, true, true};
    p.mb = MbSpec{15, 10, 10, true, 100, "per-thread", 3};
    p.mon = MonSpec{512, true, true, true, 196608};
    return p;
}

Profile skxBase(std::string name) {
    Profile p;
    p.name = std::move(name);
    p.cpus = 80;
    p.threadsPerCore = 2;
    p.coresPerL3 = 20;
    p.l3Ids = {0, 1};
    p.l2Bytes = 1024 * 1024;
    p.l3Bytes = 28160ULL * 1024;
    p.mb = MbSpec{8, 10, 10, true, 100, "max", 3};
    p.mon = MonSpec{160, true, true, true, 64};
    return p;
}

} // namespace

std::vector<std::string> builtinProfileNames() {
    return {
        "skx-2s-l3cat",         "skx-2s-no-l3cat", "bdx-2s",   "milan-2s",        "modern-intel-l2",
        "gnr-2s-snc3",          "gnr-2s-nosnc",    "turin-2s", "turin-2s-pre618", "turin-2s-pre619",
        "turin-2s-default-mode"};
}

namespace {

// AMD EPYC 9005 "Turin"-like: 2 sockets x 16 CCDs of 8 cores, one 32 MiB L3 per CCD, with
// counter assignment (ABMC), SMBA, BMEC and I/O allocation (SDCIAE).
Profile turin(std::string name, std::string kernel) {
    Profile p;
    p.name = std::move(name);
    p.defaultKernel = std::move(kernel);
    p.cpus = 512;
    p.coresPerL3 = 8;
    p.l3Ids.clear();
    for (unsigned i = 0; i < 32; ++i)
        p.l3Ids.push_back(i);
    p.l2Bytes = 1024 * 1024;
    p.l3Bytes = 32ULL * 1024 * 1024;
    p.l3 = CacheAllocSpec{16, 0xffff, 0, 0, true, true, true};
    p.mb = MbSpec{16, 0, 1, false, 2048, "", 4};
    p.smba = SmbaSpec{16, 2048};
    p.mon = MonSpec{256, true, true, true, 64, 32, true, true};
    return p;
}

} // namespace

std::optional<Profile> builtinProfile(std::string_view name) {
    if (name == "skx-2s-l3cat") {
        Profile p = skxBase("skx-2s-l3cat");
        p.l3 = CacheAllocSpec{16, 0x7ff, 1, 0x600, true, false};
        return p;
    }
    if (name == "skx-2s-no-l3cat") {
        // Skylake-SP quirk (docs/kernel.md §1.6): L3 CAT off unless rdt=l3cat.
        return skxBase("skx-2s-no-l3cat");
    }
    if (name == "bdx-2s") {
        Profile p;
        p.name = "bdx-2s";
        p.cpus = 64;
        p.coresPerL3 = 16;
        p.l3Ids = {0, 1};
        p.l2Bytes = 256 * 1024;
        p.l3Bytes = 40ULL * 1024 * 1024;
        p.l3 = CacheAllocSpec{16, 0xfffff, 1, 0xc0000, true, false};
        p.mon = MonSpec{128, true, true, true, 64};
        return p;
    }
    if (name == "milan-2s") {
        Profile p;
        p.name = "milan-2s";
        p.cpus = 256;
        p.coresPerL3 = 8;
        p.l3Ids = {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23};
        p.l2Bytes = 512 * 1024;
        p.l3Bytes = 32ULL * 1024 * 1024;
        p.l3 = CacheAllocSpec{16, 0xffff, 0, 0, true, true};
        p.mb = MbSpec{16, 0, 1, false, 2048, "", 4};
        p.mon = MonSpec{256, true, true, true, 64};
        return p;
    }
    if (name == "turin-2s")
        return turin("turin-2s", "6.19");
    if (name == "turin-2s-pre618")
        return turin("turin-2s-pre618", "6.15");
    if (name == "turin-2s-pre619")
        return turin("turin-2s-pre619", "6.18");
    if (name == "turin-2s-default-mode") {
        Profile p = turin("turin-2s-default-mode", "6.19");
        p.mon->bootMbmEvent = false;
        return p;
    }
    if (name == "modern-intel-l2") {
        Profile p;
        p.name = "modern-intel-l2";
        p.cpus = 96;
        p.coresPerL3 = 48;
        p.l3Ids = {0};
        p.l2Bytes = 2ULL * 1024 * 1024;
        p.l3Bytes = 105ULL * 1024 * 1024;
        p.l3 = CacheAllocSpec{15, 0x7fff, 1, 0x6000, true, false};
        p.l2 = CacheAllocSpec{8, 0xffff, 1, 0, true, false};
        p.mb = MbSpec{15, 10, 10, true, 100, "max", 3};
        p.mon = MonSpec{256, true, true, true, 64};
        return p;
    }
    if (name == "gnr-2s-snc3")
        return gnrBase("gnr-2s-snc3", 3);
    if (name == "gnr-2s-nosnc")
        return gnrBase("gnr-2s-nosnc", 1); // SNC off in the firmware: one node per socket
    return std::nullopt;
}

void validateProfile(const Profile& p) {
    auto fail = [&](const std::string& what) {
        throw std::runtime_error("profile " + p.name + ": " + what);
    };
    if (p.cpus == 0 || p.threadsPerCore == 0 || p.cpus % p.threadsPerCore != 0)
        fail("cpus must be a positive multiple of threads_per_core");
    if (p.coresPerL3 == 0 || p.cores() % p.coresPerL3 != 0)
        fail("cores (cpus / threads_per_core) must be a multiple of cores_per_l3");
    if (p.l3Ids.size() != p.cores() / p.coresPerL3)
        fail("l3_ids must list cores / cores_per_l3 ids");
    if (!std::is_sorted(p.l3Ids.begin(), p.l3Ids.end()) ||
        std::adjacent_find(p.l3Ids.begin(), p.l3Ids.end()) != p.l3Ids.end())
        fail("l3_ids must be ascending and unique");
    if (p.nodesPerL3 > 0 && p.coresPerL3 % p.nodesPerL3 != 0)
        fail("cores_per_l3 must be a multiple of nodes_per_l3");
    if (p.cpus > 4096)
        fail("at most 4096 cpus");
    for (const auto* c : {&p.l3, &p.l2}) {
        if (!*c)
            continue;
        if ((*c)->cbmMask == 0 || ((*c)->cbmMask & ((*c)->cbmMask + 1)) != 0)
            fail("cbm_mask must be a non-empty run of low bits");
        if ((*c)->numClosids == 0)
            fail("num_closids must be positive");
        if (((*c)->shareableBits & ~(*c)->cbmMask) != 0)
            fail("shareable_bits outside cbm_mask");
    }
    if (p.mb && (p.mb->numClosids == 0 || p.mb->bandwidthGran == 0))
        fail("MB num_closids and bandwidth_gran must be positive");
    if (p.l2 && p.l2->ioAlloc)
        fail("io_alloc is an L3 feature");
    if (p.smba && (p.smba->numClosids == 0 || !p.mb))
        fail("SMBA needs MB and a positive num_closids");
    if (p.mon && p.mon->numMbmCntrs > 0 && !p.mon->mbmTotal && !p.mon->mbmLocal)
        fail("num_mbm_cntrs needs an MBM event");
    if (p.mon && p.mon->numRmids == 0)
        fail("num_rmids must be positive");
    if (!p.allocCapable() && !p.mon)
        fail("a host needs at least one allocation or monitoring feature");
}

namespace {

struct IniState {
    Profile profile;
    std::string error;
};

uint64_t parseNumber(const std::string& value, int base) {
    errno = 0;
    char* end = nullptr;
    unsigned long long v = std::strtoull(value.c_str(), &end, base);
    if (errno != 0 || end == value.c_str() || *end != '\0')
        throw std::invalid_argument("bad number '" + value + "'");
    return v;
}

bool parseBool(const std::string& value) {
    if (value == "1" || value == "true" || value == "yes")
        return true;
    if (value == "0" || value == "false" || value == "no")
        return false;
    throw std::invalid_argument("bad boolean '" + value + "'");
}

void applyCache(CacheAllocSpec& c, const std::string& key, const std::string& value) {
    if (key == "num_closids")
        c.numClosids = static_cast<unsigned>(parseNumber(value, 10));
    else if (key == "cbm_mask")
        c.cbmMask = parseNumber(value, 16);
    else if (key == "min_cbm_bits")
        c.minCbmBits = static_cast<unsigned>(parseNumber(value, 10));
    else if (key == "shareable_bits")
        c.shareableBits = parseNumber(value, 16);
    else if (key == "cdp")
        c.cdpCapable = parseBool(value);
    else if (key == "sparse_masks")
        c.sparseMasks = parseBool(value);
    else if (key == "io_alloc")
        c.ioAlloc = parseBool(value);
    else
        throw std::invalid_argument("unknown key '" + key + "'");
}

int onIniValue(void* user, const char* sectionC, const char* keyC, const char* valueC) {
    auto* st = static_cast<IniState*>(user);
    std::string section = sectionC, key = keyC, value = valueC;
    Profile& p = st->profile;
    try {
        if (section == "host") {
            if (key == "name")
                p.name = value;
            else if (key == "cpus")
                p.cpus = static_cast<unsigned>(parseNumber(value, 10));
            else if (key == "threads_per_core")
                p.threadsPerCore = static_cast<unsigned>(parseNumber(value, 10));
            else if (key == "cores_per_l3")
                p.coresPerL3 = static_cast<unsigned>(parseNumber(value, 10));
            else if (key == "l3_ids") {
                p.l3Ids.clear();
                size_t pos = 0;
                while (pos <= value.size()) {
                    size_t comma = value.find(',', pos);
                    std::string item = value.substr(pos, comma - pos);
                    size_t dash = item.find('-');
                    if (dash != std::string::npos) {
                        auto lo = parseNumber(item.substr(0, dash), 10);
                        auto hi = parseNumber(item.substr(dash + 1), 10);
                        for (auto i = lo; i <= hi; ++i)
                            p.l3Ids.push_back(static_cast<unsigned>(i));
                    } else {
                        p.l3Ids.push_back(static_cast<unsigned>(parseNumber(item, 10)));
                    }
                    if (comma == std::string::npos)
                        break;
                    pos = comma + 1;
                }
            } else if (key == "l1d_kb")
                p.l1dBytes = parseNumber(value, 10) * 1024;
            else if (key == "l1i_kb")
                p.l1iBytes = parseNumber(value, 10) * 1024;
            else if (key == "l2_kb")
                p.l2Bytes = parseNumber(value, 10) * 1024;
            else if (key == "l3_kb")
                p.l3Bytes = parseNumber(value, 10) * 1024;
            else if (key == "nodes_per_l3")
                p.nodesPerL3 = static_cast<unsigned>(parseNumber(value, 10));
            else if (key == "snc")
                p.sncModel = parseBool(value);
            else if (key == "kernel")
                p.defaultKernel = value;
            else
                throw std::invalid_argument("unknown key '" + key + "'");
        } else if (section == "L3") {
            if (!p.l3)
                p.l3 = CacheAllocSpec{};
            applyCache(*p.l3, key, value);
        } else if (section == "L2") {
            if (!p.l2)
                p.l2 = CacheAllocSpec{16, 0xffff, 1, 0, true, false};
            applyCache(*p.l2, key, value);
        } else if (section == "MB") {
            if (!p.mb)
                p.mb = MbSpec{};
            MbSpec& m = *p.mb;
            if (key == "num_closids")
                m.numClosids = static_cast<unsigned>(parseNumber(value, 10));
            else if (key == "min_bandwidth")
                m.minBandwidth = static_cast<unsigned>(parseNumber(value, 10));
            else if (key == "bandwidth_gran")
                m.bandwidthGran = static_cast<unsigned>(parseNumber(value, 10));
            else if (key == "delay_linear")
                m.delayLinear = parseBool(value);
            else if (key == "max_bandwidth")
                m.maxBandwidth = static_cast<unsigned>(parseNumber(value, 10));
            else if (key == "thread_throttle_mode")
                m.throttleMode = value;
            else if (key == "data_width")
                m.dataWidth = static_cast<unsigned>(parseNumber(value, 10));
            else
                throw std::invalid_argument("unknown key '" + key + "'");
        } else if (section == "SMBA") {
            if (!p.smba)
                p.smba = SmbaSpec{};
            if (key == "num_closids")
                p.smba->numClosids = static_cast<unsigned>(parseNumber(value, 10));
            else if (key == "max_bandwidth")
                p.smba->maxBandwidth = static_cast<unsigned>(parseNumber(value, 10));
            else
                throw std::invalid_argument("unknown key '" + key + "'");
        } else if (section == "L3_MON") {
            if (!p.mon)
                p.mon = MonSpec{};
            MonSpec& m = *p.mon;
            if (key == "num_rmids")
                m.numRmids = static_cast<unsigned>(parseNumber(value, 10));
            else if (key == "llc_occupancy")
                m.llcOccupancy = parseBool(value);
            else if (key == "mbm_total_bytes")
                m.mbmTotal = parseBool(value);
            else if (key == "mbm_local_bytes")
                m.mbmLocal = parseBool(value);
            else if (key == "occupancy_scale")
                m.occupancyScale = parseNumber(value, 10);
            else if (key == "num_mbm_cntrs")
                m.numMbmCntrs = static_cast<unsigned>(parseNumber(value, 10));
            else if (key == "mbm_assign_mode")
                m.bootMbmEvent = [&] {
                    if (value == "mbm_event" || value == "default")
                        return value == "mbm_event";
                    throw std::invalid_argument("mbm_assign_mode is mbm_event or default");
                }();
            else if (key == "bmec")
                m.bmec = parseBool(value);
            else
                throw std::invalid_argument("unknown key '" + key + "'");
        } else {
            throw std::invalid_argument("unknown section [" + section + "]");
        }
    } catch (const std::exception& e) {
        st->error = "[" + section + "] " + e.what();
        return 0;
    }
    return 1;
}

} // namespace

Profile loadProfileFile(const std::string& path) {
    IniState st;
    // A file starts from an empty host: only the sections present exist.
    st.profile.name = path;
    int rc = ini_parse(path.c_str(), onIniValue, &st);
    if (rc < 0)
        throw std::runtime_error("cannot open profile file " + path);
    if (rc > 0)
        throw std::runtime_error(path + ":" + std::to_string(rc) + ": " +
                                 (st.error.empty() ? "syntax error" : st.error));
    if (st.profile.mon && st.profile.mon->occupancyScale == 0)
        throw std::runtime_error(path + ": occupancy_scale must be positive");
    validateProfile(st.profile);
    return st.profile;
}

} // namespace resctrlsim
