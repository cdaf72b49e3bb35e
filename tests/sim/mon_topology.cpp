#include "mon_topology.h"

#include <cstdio>

namespace resctrlsim {

MonTopology::MonTopology(const Profile& profile, bool kernelKnowsSnc)
    : l3Ids_(profile.l3Ids)
    , profileNodesPerL3_(profile.nodesPerL3) {
    // The kernel accepts 2, 3, 4 and 6 nodes per L3 on the CPU models it knows; any other
    // count is logged as improbable and monitoring stays per L3.
    const unsigned n = profile.nodesPerL3;
    if (kernelKnowsSnc && profile.sncModel && (n == 2 || n == 3 || n == 4 || n == 6))
        nodesPerL3_ = n;
}

std::optional<size_t> MonTopology::l3Index(unsigned l3Id) const {
    for (size_t i = 0; i < l3Ids_.size(); ++i)
        if (l3Ids_[i] == l3Id)
            return i;
    return std::nullopt;
}

std::optional<size_t> MonTopology::domainOfNode(unsigned nodeId) const {
    if (profileNodesPerL3_ == 0 || nodeId >= profileNodesPerL3_ * l3Ids_.size())
        return std::nullopt;
    if (snc())
        return nodeId;
    return nodeId / profileNodesPerL3_;
}

std::string MonTopology::l3DirName(unsigned l3Id) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "mon_L3_%02u", l3Id);
    return buf;
}

std::string MonTopology::subDirName(unsigned nodeId) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "mon_sub_L3_%02u", nodeId);
    return buf;
}

} // namespace resctrlsim
