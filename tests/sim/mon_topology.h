// The L3 monitoring domains as the kernel builds them. Without Sub-NUMA Clustering there is
// one per L3 cache (mon_data/mon_L3_XX). With SNC active every NUMA node sharing an L3 is its
// own monitoring domain (mon_L3_XX/mon_sub_L3_YY, YY the global node id), the L3 files are
// sums over those nodes, and the hardware RMIDs are split between the nodes of an L3.
// Allocation domains stay one per L3 cache either way.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "profile.h"

namespace resctrlsim {

class MonTopology {
public:
    // `kernelKnowsSnc`: the kernel flavour has SNC-aware monitoring (6.11 on). Older kernels
    // on an SNC host show the plain per-L3 layout with the undivided RMID count.
    MonTopology(const Profile& profile, bool kernelKnowsSnc);

    bool snc() const { return nodesPerL3_ > 1; }
    // 1 without SNC.
    unsigned nodesPerL3() const { return nodesPerL3_; }
    // Number of monitoring domains: counter slots per RMID.
    size_t size() const { return l3Ids_.size() * nodesPerL3_; }
    // The monitoring domains of the L3 domain at index l3Index: [first, first + nodesPerL3).
    size_t firstOfL3(size_t l3Index) const { return l3Index * nodesPerL3_; }
    size_t l3IndexOf(size_t monDomain) const { return monDomain / nodesPerL3_; }
    // Global NUMA node id of a monitoring domain (SNC only; equal to the index).
    unsigned nodeIdOf(size_t monDomain) const { return static_cast<unsigned>(monDomain); }
    std::optional<size_t> l3Index(unsigned l3Id) const;
    // The monitoring domain of a NUMA node id, with SNC; without SNC the domain of the
    // node's L3 when the profile has a node table; nullopt for an unknown node.
    std::optional<size_t> domainOfNode(unsigned nodeId) const;
    // info/L3_MON/num_rmids: hardware RMIDs divided by the nodes per L3.
    unsigned visibleRmids(unsigned hardwareRmids) const { return hardwareRmids / nodesPerL3_; }
    // Occupancy is counted in units of the CPUID scale divided by the nodes per L3.
    uint64_t occupancyUnit(uint64_t cpuidScale) const { return cpuidScale / nodesPerL3_; }

    static std::string l3DirName(unsigned l3Id);
    static std::string subDirName(unsigned nodeId);

private:
    std::vector<unsigned> l3Ids_;
    unsigned profileNodesPerL3_ = 0;
    unsigned nodesPerL3_ = 1;
};

} // namespace resctrlsim
