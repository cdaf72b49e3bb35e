// Host shapes the simulator can pretend to be (docs/kernel.md §9).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace resctrlsim {

// One cache allocation resource (L3 or L2 CAT) as the kernel reports it in info/<res>/.
struct CacheAllocSpec {
    unsigned numClosids = 16;
    uint64_t cbmMask = 0x7ff;
    unsigned minCbmBits = 1;
    uint64_t shareableBits = 0;
    bool cdpCapable = true;
    bool sparseMasks = false;
    bool ioAlloc = false; // AMD SDCIAE: the highest CLOSID can be reserved for I/O (L3 only)
};

// Memory bandwidth allocation (info/MB/).
struct MbSpec {
    unsigned numClosids = 8;
    unsigned minBandwidth = 10;
    unsigned bandwidthGran = 10;
    bool delayLinear = true;
    unsigned maxBandwidth = 100;
    std::string throttleMode = "max"; // empty: no thread_throttle_mode file (AMD)
    unsigned dataWidth = 3;           // padding width in the <=6.14 format (AMD: 4)
};

// AMD slow-memory bandwidth allocation (info/SMBA/): MB's format, its own CLOSID count.
struct SmbaSpec {
    unsigned numClosids = 16;
    unsigned maxBandwidth = 2048;
};

// L3 monitoring (info/L3_MON/).
struct MonSpec {
    unsigned numRmids = 160;
    bool llcOccupancy = true;
    bool mbmTotal = true;
    bool mbmLocal = true;
    uint64_t occupancyScale = 64; // bytes per hardware occupancy unit
    unsigned numMbmCntrs = 0;     // assignable MBM counters per domain (AMD ABMC); 0: none
    bool bootMbmEvent = true;     // with counters: the mode at boot is mbm_event
    bool bmec = false;            // AMD: per-domain configurable MBM events
};

struct Profile {
    std::string name;
    unsigned cpus = 80;
    unsigned threadsPerCore = 2;
    unsigned coresPerL3 = 20;
    std::vector<unsigned> l3Ids{0, 1};
    uint64_t l1dBytes = 32 * 1024;
    uint64_t l1iBytes = 32 * 1024;
    uint64_t l2Bytes = 1024 * 1024;
    uint64_t l3Bytes = 28160ULL * 1024;
    // NUMA nodes per L3 domain as sysfs shows them (0: the profile describes no NUMA
    // topology). Node ids are global and consecutive: L3 domain i holds nodes
    // i*n .. i*n+n-1, each with an equal share of that L3's cores.
    unsigned nodesPerL3 = 0;
    // The CPU model is one the kernel knows for Sub-NUMA Clustering: with more than one node
    // per L3 it makes each node its own monitoring domain (mon_sub_L3_*).
    bool sncModel = false;
    std::optional<CacheAllocSpec> l3;
    std::optional<CacheAllocSpec> l2;
    std::optional<MbSpec> mb;
    std::optional<SmbaSpec> smba;
    std::optional<MonSpec> mon;
    // The kernel the host is meant to run when no --kernel is given.
    std::string defaultKernel = "6.15";

    // CPU numbering as Linux does it on these hosts: CPU c is a hyperthread of core
    // c % cores, so socket 0 holds 0..n-1 and the siblings n..2n-1 (hosts README).
    unsigned cores() const { return cpus / threadsPerCore; }
    unsigned coreOf(unsigned cpu) const { return cpu % cores(); }
    unsigned l3IdOf(unsigned cpu) const { return l3Ids.at(coreOf(cpu) / coresPerL3); }
    unsigned numaNodes() const { return nodesPerL3 * static_cast<unsigned>(l3Ids.size()); }
    // The NUMA node of a CPU (only meaningful when nodesPerL3 > 0).
    unsigned nodeOf(unsigned cpu) const {
        const unsigned core = coreOf(cpu);
        return core / coresPerL3 * nodesPerL3 + core % coresPerL3 / (coresPerL3 / nodesPerL3);
    }
    bool allocCapable() const { return l3 || l2 || mb; }
};

std::optional<Profile> builtinProfile(std::string_view name);
std::vector<std::string> builtinProfileNames();

// Loads an INI profile (format in tests/sim/README.md). Throws std::runtime_error with a
// message naming the file and line on any problem.
Profile loadProfileFile(const std::string& path);

// Checks internal consistency (ids count matches cores, masks non-zero...). Throws.
void validateProfile(const Profile& profile);

} // namespace resctrlsim
