// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cbm_mask.h"
#include "host_model.h"
#include "resource.h"
#include "schemata.h"
#include "types.h"

namespace resctrld {

// Who a control group belongs to, which decides whether its ways can be given away.
enum class GroupOwner {
    Default, // the root group
    Own,     // a group resctrld created
    Foreign, // anyone else's (pqos, runc, an administrator)
    Io,      // the ways io_alloc reserves for device DMA (io_alloc_cbm), on the I/O CLOSID
};

// Whether a holding is a control group that takes a CLOSID of the budget: the root's is not
// counted, and the I/O CLOSID is already left out of the budget (HostModel::closidBudget).
constexpr bool takesGroupClosid(GroupOwner owner) noexcept {
    return owner == GroupOwner::Own || owner == GroupOwner::Foreign;
}

// A control group as the allocator sees it.
struct GroupHolding {
    std::string name; // path relative to the resctrl root, "" for the root group
    GroupOwner owner = GroupOwner::Foreign;
    // Default and Foreign: the group's schemata as read. Own: only the entries the group
    // reserved (its requested caches), not the copies of the default group's masks it got for
    // the ids it did not name (docs/definitions.md rule 13): those are not held, they are shared.
    Schemata schemata;
    // The group's mode is `exclusive`: the default group's mask must stay clear of it.
    bool exclusive = false;
};

struct CacheRequest {
    unsigned level = 3;
    CacheType type = CacheType::Both;
    CacheId id;
    Bytes size = 0;
};

struct BandwidthRequest {
    CacheId node; // MB domain id (an L3 cache id)
    std::uint32_t value = 0;
    Resource resource = Resource::MB;
};

struct AllocatorOptions {
    // docs/definitions.md rule 12: yes = ways that only the default group holds count as free and
    // defaultGroupSchemata() gives the root masks to write back; no = libvirt's exact rule.
    bool manageDefaultGroup = true;
    // yes = where no contiguous run of free ways fits a request and the cache allows sparse
    // masks (info/<res>/sparse_masks reads 1), the request takes the lowest free ways that are
    // not shareable_bits, then shareable ones; no = contiguous runs only.
    bool sparseMasks = false;
};

// Places cache and bandwidth requests on a host, one allocation group at a time, for one
// planning session: every group placed is remembered, so the next one does not overlap it.
class Allocator {
public:
    Allocator(const HostModel& host, std::vector<GroupHolding> groups,
              AllocatorOptions options = {});

    // Checks the requests against the host (docs/definitions.md rules 9-11, 14), takes a CLOSID and
    // places every cache request in free ways. Returns what the new group reserves: the placed
    // masks and the bandwidth values. All or nothing: on failure nothing is recorded.
    // Throws NotSupported (resource, CDP or id missing), InvalidDefinition (size or bandwidth
    // does not fit the host's rules) or NoSpace (no CLOSID, not enough free contiguous ways).
    Schemata allocate(std::span<const CacheRequest> caches,
                      std::span<const BandwidthRequest> bandwidths = {});

    // The rule checks alone, without placing anything (same errors as allocate).
    void check(const CacheRequest& request) const;
    void check(const BandwidthRequest& request) const;

    // Ways a new reservation may use on that domain now.
    CbmMask freeWays(Resource resource, CacheId id) const;
    // The root group's schemata as it should be: unchanged with manageDefaultGroup=no;
    // otherwise on every cache domain the largest run (any ways where masks may be sparse) of
    // the ways no own group reserves and no exclusive group holds; bandwidths unchanged.
    Schemata defaultGroupSchemata() const;
    // A group's full schemata: its reserved entries, and for every other domain of every
    // resource the default group's value from defaultGroupSchemata() (rule 13). Call it after
    // the session's last allocate(), so that every group gets the final default masks.
    Schemata completeSchemata(const Schemata& reserved) const;

    // CLOSIDs left for new control groups in this session.
    unsigned closidsFree() const;

private:
    CbmMask heldWays(Resource resource, CacheId id, bool includeDefault) const;
    // The default group's mask on a domain if `alsoReserved` were reserved too.
    CbmMask defaultGroupMask(const CacheResource& cache, CacheId id, CbmMask alsoReserved) const;
    CbmMask place(const CacheRequest& request, const CacheResource& cache) const;
    std::optional<CbmMask> placeSparse(unsigned need, CbmMask free, const CacheResource& cache,
                                       CacheId id) const;

    const HostModel& host_;
    std::vector<GroupHolding> groups_;
    AllocatorOptions options_;
};

} // namespace resctrld
