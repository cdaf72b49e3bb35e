// SPDX-License-Identifier: LGPL-2.1-or-later
#include "allocator.h"

#include <algorithm>
#include <fmt/format.h>
#include <tuple>

#include "errors.h"

namespace resctrld {
namespace {

// "0-7,16-23": how an operator reads a list of ids.
std::string formatIds(const std::vector<CacheId>& ids) {
    std::string text;
    for (std::size_t i = 0; i < ids.size();) {
        std::size_t j = i;
        while (j + 1 < ids.size() && ids[j + 1].value == ids[j].value + 1)
            ++j;
        if (!text.empty())
            text += ',';
        text += std::to_string(ids[i].value);
        if (j > i)
            text += fmt::format("-{}", ids[j].value);
        i = j + 1;
    }
    return text.empty() ? "none" : text;
}

std::string waysText(unsigned ways) {
    return fmt::format("{} {}", ways, ways == 1 ? "way" : "ways");
}

std::string cacheName(const CacheRequest& request) {
    std::string name = fmt::format("L{} cache {}", request.level, request.id.value);
    if (request.type != CacheType::Both)
        name += " (" + std::string(toString(request.type)) + ")";
    return name;
}

// The ways the default group keeps at least: min_cbm_bits, and never none at all, even where
// the hardware allows an empty mask (AMD): the root group holds every task of the host that is
// not in a VM's group (docs/definitions.md rule 12).
unsigned defaultGroupMinimum(const CacheResource& cache) {
    return std::max(1U, cache.minCbmBits);
}

} // namespace

Allocator::Allocator(const HostModel& host, std::vector<GroupHolding> groups,
                     AllocatorOptions options)
    : host_(host)
    , groups_(std::move(groups))
    , options_(options) {
}

// Ways held on a domain. With CDP the CODE and DATA masks of a CLOSID steer fills into the same
// physical ways, so the kernel's overlap checks and its default masks for new groups look at
// both halves (docs/kernel.md §3.3, §4.4). resctrld does the same: a way another group uses
// for code is not free for our data. libvirt keeps two separate bitmaps and would hand that
// way out again; sharing it would defeat the isolation a cachetune asks for.
CbmMask Allocator::heldWays(Resource resource, CacheId id, bool includeDefault) const {
    CbmMask held;
    for (const GroupHolding& group : groups_) {
        if (group.owner == GroupOwner::Default && !includeDefault)
            continue;
        for (Resource half : {resource, cdpPeer(resource)})
            if (const auto mask = group.schemata.mask(half, id))
                held |= *mask;
    }
    return held;
}

CbmMask Allocator::freeWays(Resource resource, CacheId id) const {
    const CacheResource* cache = host_.cacheResource(resource);
    if (!cache || !cache->hasDomain(id))
        return CbmMask();
    return cache->cbmMask.without(heldWays(resource, id, !options_.manageDefaultGroup));
}

CbmMask Allocator::defaultGroupMask(const CacheResource& cache, CacheId id,
                                    CbmMask alsoReserved) const {
    CbmMask taken = alsoReserved;
    for (const GroupHolding& group : groups_) {
        // Foreign groups keep their ways and the root may share them, except an exclusive
        // group's, which the kernel refuses to overlap (§4.3 "Overlaps with exclusive group").
        if (group.owner != GroupOwner::Own && !group.exclusive)
            continue;
        for (Resource half : {cache.resource, cdpPeer(cache.resource)})
            if (const auto mask = group.schemata.mask(half, id))
                taken |= *mask;
    }
    const CbmMask left = cache.cbmMask.without(taken);
    if (cache.sparseMasks)
        return left;
    const CbmMask::Run run = left.largestRun();
    return CbmMask::fromRun(run.first, run.count);
}

void Allocator::check(const CacheRequest& request) const {
    const std::string level = fmt::format("L{}", request.level);
    const auto resource = cacheResource(request.level, request.type);
    if (!resource)
        throw NotSupported(fmt::format(
            "cache level {} cannot be tuned: resctrl allocates only L2 and L3", request.level));
    const CacheResource* cache = host_.cacheResource(*resource);
    if (!cache) {
        if (request.type == CacheType::Both && host_.isCdpEnabled(request.level))
            throw NotSupported(level + " is split into code and data on this host (resctrl is "
                                       "mounted with CDP): ask for type 'code' and 'data' "
                                       "instead of 'both'");
        if (request.type != CacheType::Both && host_.cacheResource(request.level, CacheType::Both))
            throw NotSupported("type '" + std::string(toString(request.type)) + "' needs CDP on " +
                               level + ": mount resctrl with -o " +
                               (request.level == 3 ? "cdp" : "cdpl2") + ", or ask for 'both'");
        if (const auto reason = host_.whyUnusable(*resource))
            throw NotSupported("this host's " + level + " cache allocation cannot be used (" +
                               *reason + ")");
        std::string message = "this host has no " + level + " cache allocation (no info/" + level +
                              " under " + host_.resctrlRoot.string() + ")";
        if (request.level == 3)
            message += "; on Intel Skylake-SP and Cascade Lake the kernel enables it only when "
                       "booted with rdt=l3cat";
        throw NotSupported(message);
    }
    if (!cache->hasDomain(request.id)) {
        std::vector<CacheId> ids;
        for (const auto& [id, size] : cache->domains)
            ids.push_back(id);
        throw NotSupported(fmt::format("{} cache id {} does not exist on this host ({} ids: {})",
                                       level, request.id.value, resourceName(*resource),
                                       formatIds(ids)));
    }
    const Bytes cacheSize = cache->domains.at(request.id);
    const Bytes granularity = cache->granularity(request.id);
    if (granularity == 0)
        throw NotSupported("the size of " + cacheName(request) +
                           " is unknown (sysfs has no cache information for it)");
    const std::string asked = formatBytes(request.size) + " on " + cacheName(request);
    if (request.size >= cacheSize)
        throw InvalidDefinition(asked +
                                " is not possible: an allocation must be smaller than "
                                "the whole cache (" +
                                formatBytes(cacheSize) + ")");
    const auto ways = cache->waysFor(request.id, request.size);
    if (!ways) {
        // The exact sizes nearest to the request: whole ways, and with SNC whole kernel ways
        // once multiplied by the nodes.
        unsigned below = 0;
        unsigned above = cache->ways();
        for (unsigned n = 1; n <= cache->ways(); ++n) {
            if (!cache->waysFor(request.id, cache->bytesFor(request.id, n)))
                continue;
            if (cache->bytesFor(request.id, n) < request.size)
                below = n;
            else if (n < above)
                above = n;
        }
        std::string hint =
            below > 0 ? formatBytes(cache->bytesFor(request.id, below)) + " or " : std::string();
        std::string perNode = cache->nodesPerCache > 1
                                  ? fmt::format(" / {} SNC nodes", cache->nodesPerCache)
                                  : std::string();
        throw InvalidDefinition(asked + " is not a multiple of the granularity " +
                                formatBytes(granularity) + " (" + formatBytes(cacheSize) + " / " +
                                waysText(cache->ways()) + perNode + "): use " + hint +
                                formatBytes(cache->bytesFor(request.id, above)));
    }
    if (*ways < cache->minCbmBits)
        throw InvalidDefinition(asked + " is less than the minimum allocation " +
                                formatBytes(cache->minimumAllocation(request.id)) + " (" +
                                waysText(cache->minCbmBits) + " of " + formatBytes(granularity) +
                                ")");
}

void Allocator::check(const BandwidthRequest& request) const {
    const std::string name(resourceName(request.resource));
    const BandwidthResource* bandwidth = host_.bandwidthResource(request.resource);
    if (!bandwidth) {
        if (const auto reason = host_.whyUnusable(request.resource))
            throw NotSupported("this host's memory bandwidth allocation cannot be used (" +
                               *reason + ")");
        throw NotSupported("this host has no memory bandwidth allocation (no info/" + name +
                           " under " + host_.resctrlRoot.string() + ")");
    }
    if (!bandwidth->hasDomain(request.node))
        throw NotSupported(fmt::format("{} node {} does not exist on this host (nodes: {})", name,
                                       request.node.value, formatIds(bandwidth->domains)));
    const std::string asked =
        fmt::format("bandwidth {} on {} node {}", request.value, name, request.node.value);
    const std::string unit = " (unit: " + std::string(toString(bandwidth->unit)) + ")";
    // With mba_MBps the kernel takes any u32 as a target in MiB/s (§4.4).
    if (bandwidth->unit == BandwidthUnit::MiBps)
        return;
    if (bandwidth->bandwidthGran > 1 && request.value % bandwidth->bandwidthGran != 0)
        throw InvalidDefinition(fmt::format("{} is not a multiple of the host's granularity {}{}",
                                            asked, bandwidth->bandwidthGran, unit));
    if (request.value < bandwidth->minBandwidth)
        throw InvalidDefinition(fmt::format("{} is below the host's minimum {}{}", asked,
                                            bandwidth->minBandwidth, unit));
    if (request.value > bandwidth->maxBandwidth)
        throw InvalidDefinition(fmt::format("{} is above the host's maximum {}{}", asked,
                                            bandwidth->maxBandwidth, unit));
}

// Placement strategy. Among all positions of a contiguous window of the needed ways inside the
// free ways, take the first by:
//   1. fewest ways of shareable_bits: those ways are also filled by I/O devices (DDIO), so a
//      VM placed there does not get the isolation it asked for;
//   2. best fit: the shortest free run that holds the window (counted within the non-shareable
//      free ways when the window avoids them), so that large runs stay whole for large
//      requests and fragmentation stays low;
//   3. lowest way: packed at the low end of its run, ties going to the lower run, as libvirt
//      does (docs/definitions.md appendix §3.3), which also keeps the rest of the run contiguous.
// With manageDefaultGroup, a position that would leave the default group fewer than its
// minimum ways is skipped.
CbmMask Allocator::place(const CacheRequest& request, const CacheResource& cache) const {
    const Bytes granularity = cache.granularity(request.id);
    const unsigned need = cache.waysFor(request.id, request.size).value_or(0);
    if (need == 0)
        return CbmMask(); // min_cbm_bits 0 (AMD): an empty mask is a valid request
    const CbmMask free = freeWays(cache.resource, request.id);
    const CbmMask clear = free.without(cache.shareableBits);
    auto runLength = [](CbmMask pool, unsigned start) {
        for (const CbmMask::Run& run : pool.runs())
            if (run.first <= start && start < run.first + run.count)
                return run.count;
        return 0U;
    };

    std::vector<std::tuple<unsigned, unsigned, unsigned>> candidates; // overlap, run, start
    for (const CbmMask::Run& run : free.runs()) {
        for (unsigned start = run.first; start + need <= run.first + run.count; ++start) {
            const CbmMask window = CbmMask::fromRun(start, need);
            const unsigned overlap = (window & cache.shareableBits).count();
            candidates.emplace_back(overlap, overlap == 0 ? runLength(clear, start) : run.count,
                                    start);
        }
    }
    std::sort(candidates.begin(), candidates.end());
    for (const auto& [overlap, runCount, start] : candidates) {
        const CbmMask window = CbmMask::fromRun(start, need);
        if (options_.manageDefaultGroup &&
            defaultGroupMask(cache, request.id, window).count() < defaultGroupMinimum(cache))
            continue;
        return window;
    }

    if (options_.sparseMasks && cache.sparseMasks)
        if (const auto sparse = placeSparse(need, free, cache, request.id))
            return *sparse;

    const CbmMask::Run largest = free.largestRun();
    std::string message = "not enough room for " + formatBytes(request.size) + " (" +
                          waysText(need) + ") on " + cacheName(request) +
                          ": the largest free run is " + waysText(largest.count) + " (" +
                          formatBytes(largest.count * granularity) + ")";
    if (largest.count >= need)
        message += ", and taking " + waysText(need) +
                   " from it would leave the default group fewer than " +
                   waysText(defaultGroupMinimum(cache));
    throw NoSpace(message);
}

// The `need` lowest free ways, ways outside shareable_bits first (other hardware, such as a
// GPU's or the I/O hub's caching, may use those). A way taken that the default group needs for
// its minimum is given back for the next higher one; none when the free ways are too few.
std::optional<CbmMask> Allocator::placeSparse(unsigned need, CbmMask free,
                                              const CacheResource& cache, CacheId id) const {
    std::vector<unsigned> order;
    for (bool shareable : {false, true})
        for (unsigned way = 0; way < 64; ++way)
            if (free.test(way) && cache.shareableBits.test(way) == shareable)
                order.push_back(way);
    CbmMask picked;
    for (unsigned way : order) {
        if (picked.count() == need)
            break;
        const CbmMask candidate = picked | CbmMask::fromRun(way, 1);
        if (options_.manageDefaultGroup &&
            defaultGroupMask(cache, id, candidate).count() < defaultGroupMinimum(cache))
            continue;
        picked = candidate;
    }
    if (picked.count() < need)
        return std::nullopt;
    return picked;
}

Schemata Allocator::allocate(std::span<const CacheRequest> caches,
                             std::span<const BandwidthRequest> bandwidths) {
    // Rule checks first, in libvirt's order (docs/definitions.md appendix §2.2): bandwidth, then
    // caches by level, type and id; then the CLOSID, then the ways.
    for (const BandwidthRequest& request : bandwidths)
        check(request);
    std::vector<CacheRequest> ordered(caches.begin(), caches.end());
    std::sort(ordered.begin(), ordered.end(), [](const CacheRequest& a, const CacheRequest& b) {
        return std::tie(a.level, a.type, a.id) < std::tie(b.level, b.type, b.id);
    });
    for (std::size_t i = 0; i < ordered.size(); ++i) {
        check(ordered[i]);
        if (i > 0 && ordered[i].level == ordered[i - 1].level &&
            ordered[i].type == ordered[i - 1].type && ordered[i].id == ordered[i - 1].id)
            throw InvalidDefinition("two allocations for " + cacheName(ordered[i]) +
                                    " in one group");
    }
    Schemata reserved;
    for (const BandwidthRequest& request : bandwidths) {
        if (reserved.bandwidth(request.resource, request.node))
            throw InvalidDefinition(fmt::format("two bandwidth values for {} node {} in one group",
                                                resourceName(request.resource),
                                                request.node.value));
        reserved.setBandwidth(request.resource, request.node, request.value);
    }

    if (closidsFree() == 0) {
        unsigned own = 0;
        for (const GroupHolding& group : groups_)
            own += group.owner == GroupOwner::Own ? 1 : 0;
        const unsigned total = host_.closidBudget();
        throw NoSpace(fmt::format("out of CLOSIDs: this host has {} control groups besides the "
                                  "default group and all are taken ({} by resctrld, {} by other "
                                  "tools)",
                                  total, own, total > own ? total - own : 0));
    }

    // Requests of one group are placed independently of each other: the group's own code and
    // data halves may share ways, as they would in one CLOSID.
    for (const CacheRequest& request : ordered) {
        const CacheResource& cache = *host_.cacheResource(request.level, request.type);
        reserved.setMask(cache.resource, request.id, place(request, cache));
    }
    groups_.push_back({std::string(), GroupOwner::Own, reserved, false});
    return reserved;
}

Schemata Allocator::defaultGroupSchemata() const {
    Schemata current;
    for (const GroupHolding& group : groups_)
        if (group.owner == GroupOwner::Default)
            current = group.schemata;
    Schemata result;
    for (const CacheResource& cache : host_.cacheResources) {
        for (const auto& [id, size] : cache.domains) {
            if (options_.manageDefaultGroup)
                result.setMask(cache.resource, id, defaultGroupMask(cache, id, CbmMask()));
            else
                result.setMask(cache.resource, id,
                               current.mask(cache.resource, id).value_or(cache.cbmMask));
        }
    }
    for (const BandwidthResource& bandwidth : host_.bandwidthResources)
        for (CacheId id : bandwidth.domains)
            result.setBandwidth(
                bandwidth.resource, id,
                current.bandwidth(bandwidth.resource, id).value_or(bandwidth.maxBandwidth));
    return result;
}

Schemata Allocator::completeSchemata(const Schemata& reserved) const {
    Schemata result = defaultGroupSchemata();
    result.merge(reserved);
    return result;
}

unsigned Allocator::closidsFree() const {
    unsigned groups = 0;
    for (const GroupHolding& group : groups_)
        groups += takesGroupClosid(group.owner) ? 1 : 0;
    return host_.closidsFree(groups);
}

} // namespace resctrld
