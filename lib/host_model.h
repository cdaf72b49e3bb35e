// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cbm_mask.h"
#include "resource.h"
#include "types.h"

namespace resctrld {

// Where discovery looks. Tests point these at fixture trees or at the simulator.
struct HostPaths {
    std::filesystem::path resctrlRoot = "/sys/fs/resctrl";
    std::filesystem::path sysfsRoot = "/sys";
    // Searched for the mount at resctrlRoot, for its options (cdp, cdpl2, mba_MBps, debug).
    std::filesystem::path mountinfo = "/proc/self/mountinfo";
};

// One cache instance as sysfs describes it (<sysfs>/devices/system/cpu/cpu*/cache/index*/).
struct CacheDomain {
    Bytes size = 0;
    // shared_cpu_list as the kernel prints it, e.g. "0-19,40-59".
    std::string cpuList;
};

// A cache allocation resource: info/L3, info/L3CODE, info/L2DATA, ... (docs/kernel.md §2.5).
struct CacheResource {
    Resource resource = Resource::L3;
    unsigned numClosids = 0;
    CbmMask cbmMask;
    unsigned minCbmBits = 0;
    CbmMask shareableBits;
    // info/<res>/sparse_masks; absent (kernels before 6.7) means contiguous masks only.
    bool sparseMasks = false;
    // info/<res>/io_alloc reads "enabled" (AMD SDCIAE, >= 6.19): I/O holds the top CLOSID.
    bool ioAllocEnabled = false;
    // info/<res>/bit_usage as read at discovery, e.g. "0=SSSSSSSSSSS;1=SSSSSSSSSSS" (a
    // snapshot for operators; the allocator works from schemata, not from this).
    std::string bitUsage;
    // The domains the kernel lists for this resource (ids of the root schemata line) with the
    // size sysfs gives for the cache of that level and id (0 when sysfs does not say).
    std::map<CacheId, Bytes> domains;
    // Sub-NUMA Clustering splits each L3 among this many nodes, and a way then holds that
    // share of the cache on each node: 1 elsewhere and for L2.
    unsigned nodesPerCache = 1;

    unsigned level() const noexcept { return cacheLevel(resource); }
    CacheType type() const noexcept { return cacheType(resource); }
    // Number of ways: the bits of cbm_mask.
    unsigned ways() const noexcept { return cbmMask.count(); }
    bool hasDomain(CacheId id) const { return domains.count(id) != 0; }
    // Bytes per way on that domain: cache size / ways / nodesPerCache (0 when the size is
    // unknown). On an SNC host this is what a way holds for a VM on one node, which is less
    // than the kernel's `size` file says (it does not divide by the nodes).
    Bytes granularity(CacheId id) const;
    // The smallest allocation: granularity x min_cbm_bits.
    Bytes minimumAllocation(CacheId id) const;
    // The ways that hold exactly `size` bytes per node on that domain: size x nodesPerCache /
    // (cache size / ways). Empty when that is not a whole number (with SNC-3 a way holds a third
    // of a kernel way, so only some sizes are exact) or the size is unknown.
    std::optional<unsigned> waysFor(CacheId id, Bytes size) const;
    // The bytes per node that `ways` ways hold, rounded down.
    Bytes bytesFor(CacheId id, unsigned ways) const;
};

// What an MB/SMBA value means (docs/kernel.md §4.4).
enum class BandwidthUnit {
    Percent,    // Intel: percent of the unthrottled bandwidth, max 100
    EighthGBps, // AMD: multiples of 1/8 GB/s, max 2048 ("unlimited")
    MiBps,      // mounted with mba_MBps: MiB/s, max 4294967295
};

std::string_view toString(BandwidthUnit unit) noexcept;

// A bandwidth allocation resource: info/MB or info/SMBA.
struct BandwidthResource {
    Resource resource = Resource::MB;
    unsigned numClosids = 0;
    unsigned minBandwidth = 0;
    unsigned bandwidthGran = 1;
    bool delayLinear = true;
    // info/MB/thread_throttle_mode ("max", "per-thread"). When absent: "max" on a linear scale
    // (the kernel's default, and what Intel parts before the file existed did), empty otherwise
    // (AMD defines no throttle mode).
    std::string threadThrottleMode;
    BandwidthUnit unit = BandwidthUnit::Percent;
    std::uint32_t maxBandwidth = 100;
    // MB domain ids are L3 cache ids (§4.6), as the root schemata lists them.
    std::vector<CacheId> domains;

    bool hasDomain(CacheId id) const;
};

// Cache monitoring: info/L3_MON (docs/kernel.md §2.5, §7).
struct MonitorResource {
    unsigned numRmids = 0;
    // mon_features, one event per line: llc_occupancy, mbm_total_bytes, mbm_local_bytes, ...
    std::vector<std::string> features;
    Bytes maxThresholdOccupancy = 0;
    // Monitoring domains: the L3 ids of the root's mon_data/mon_L3_XX directories.
    std::vector<CacheId> domains;
    // They were listed there (not taken from sysfs for want of them): every group's mon_data
    // has the same directories.
    bool domainsListed = false;
    // Sub-NUMA Clustering: L3 id -> the NUMA node ids of its mon_sub_L3_<node> directories
    // (global node ids: they go on counting on the second socket). Empty without SNC.
    std::map<CacheId, std::vector<unsigned>> sncNodes;
    // BMEC: the transactions each MBM event counts, per L3 id (mbm_total_bytes_config,
    // mbm_local_bytes_config as read; empty where the host has no such file). Read only: the
    // daemon never writes them, since a change resets every group's counters on that domain.
    std::map<CacheId, unsigned> totalBytesConfig, localBytesConfig;

    bool hasFeature(std::string_view event) const;
    bool hasSnc() const noexcept { return !sncNodes.empty(); }
    // Nodes per L3 cache: the largest count of mon_sub_L3_* in one mon_L3_XX, 1 without SNC.
    unsigned nodesPerL3() const noexcept;
    // The node ids of every L3, in order.
    std::vector<unsigned> sncNodeIds() const;
};

// Everything resctrld needs to know about a host's resctrl resources. Discovered once from the
// filesystem (discover), or assembled in memory by tests and tools.
struct HostModel {
    std::filesystem::path resctrlRoot;
    // True when the mountinfo file lists a mount at resctrlRoot.
    bool mounted = false;
    // The resctrl options in force (subset of cdp, cdpl2, mba_MBps, debug), in that order.
    std::vector<std::string> mountOptions;
    // Cache allocation resources in resource order (L3, L3CODE, L3DATA, L2, ...).
    std::vector<CacheResource> cacheResources;
    // MB then SMBA, when present.
    std::vector<BandwidthResource> bandwidthResources;
    std::optional<MonitorResource> monitoring;
    // Every cache sysfs reports, by level (1, 2, 3) and id: unified and data caches only.
    std::map<unsigned, std::map<CacheId, CacheDomain>> caches;
    // Resources discovery left out because a file that defines them is missing, with the
    // reason, e.g. "MB: <root>/info/MB/min_bandwidth is missing". The others stay usable.
    std::vector<std::string> unusableResources;
    // The smallest num_closids among those, where it could be read: the kernel still counts
    // them when it hands out CLOSIDs.
    std::optional<unsigned> unusableNumClosids;

    // Reads <resctrlRoot>/info, the root schemata and mon_data, the sysfs cache tree and the
    // mountinfo file. Throws ResctrlUnavailable when resctrl is not there (no info/ directory)
    // or a file does not hold what the kernel writes there, naming the file. A missing file
    // that only qualifies a resource takes the kernel's default; a missing file that defines
    // one leaves that resource out (see unusableResources) with a warning.
    static HostModel discover(const HostPaths& paths = {});

    const CacheResource* cacheResource(Resource resource) const;
    const CacheResource* cacheResource(unsigned level, CacheType type) const;
    const BandwidthResource* bandwidthResource(Resource resource = Resource::MB) const;
    bool hasMountOption(std::string_view option) const;
    // Why discovery left that resource out (from unusableResources), or nullopt.
    std::optional<std::string> whyUnusable(Resource resource) const;
    // CDP is on at that level: the kernel shows L3CODE/L3DATA (L2CODE/L2DATA) instead of L3 (L2).
    bool isCdpEnabled(unsigned level) const;
    bool supportsAllocation() const {
        return !cacheResources.empty() || !bandwidthResources.empty();
    }

    // Control groups resctrld may create on this host: the smallest num_closids over the
    // allocation resources, left-out ones included (CDP halves come halved from the kernel),
    // minus the root group, minus one more when io_alloc is enabled (docs/kernel.md §3.2).
    // 0 without allocation.
    unsigned closidBudget() const;
    // Monitoring groups: num_rmids minus the root's RMID. 0 without monitoring.
    unsigned rmidBudget() const;
    // What is left of those budgets with `ctrlMonGroups` control groups (other than the root)
    // and `monGroups` monitoring groups on the host, anyone's. Each control group holds a
    // CLOSID and, on a monitoring host, an RMID; each monitoring group holds an RMID (§3.2).
    unsigned closidsFree(unsigned ctrlMonGroups) const;
    unsigned rmidsFree(unsigned ctrlMonGroups, unsigned monGroups) const;
};

// Sub-NUMA Clustering as the CPU topology in sysfs shows it, before resctrl is mounted: the CPUs
// sharing CPU 0's L3 divided by the CPUs of CPU 0's NUMA node (the kernel's own rule). 1 where
// sysfs says nothing of L3 caches or NUMA nodes.
unsigned sncNodesPerL3(const std::filesystem::path& sysfsRoot);

} // namespace resctrld
