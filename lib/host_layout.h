// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cbm_mask.h"
#include "host_model.h"
#include "resctrl_fs.h"
#include "resource.h"
#include "types.h"

namespace resctrld {

// Whose a control group is, as the host's layout names it (docs/api.md, GetLayout).
enum class LayoutOwner {
    Default, // the root group
    Foreign, // any group that is no started domain's (other tools, or resctrld's strays)
    Domain,  // a group of a started domain
};

struct LayoutGroup {
    std::string path; // relative to the resctrl root, "" for the default group
    LayoutOwner owner = LayoutOwner::Foreign;
    std::string domain; // the domain's name when owner is Domain
    friend bool operator==(const LayoutGroup&, const LayoutGroup&) = default;
};

// One cache resource and id, and the mask every group with a line for it holds there.
struct CacheLayout {
    struct Holder {
        LayoutGroup group;
        CbmMask mask;
        friend bool operator==(const Holder&, const Holder&) = default;
    };
    Resource resource = Resource::L3;
    CacheId id;
    unsigned ways = 0;
    Bytes bytesPerWay = 0; // 0 when sysfs does not give the cache's size
    CbmMask shareableBits;
    // The mask I/O allocates in (io_alloc_cbm) where io_alloc is enabled.
    std::optional<CbmMask> ioAllocMask;
    std::vector<Holder> holders; // the default group first, then by path
};

// One bandwidth resource (MB, SMBA) and id, and every group's value there.
struct BandwidthLayout {
    struct Holder {
        LayoutGroup group;
        std::uint32_t value = 0;
        friend bool operator==(const Holder&, const Holder&) = default;
    };
    Resource resource = Resource::MB;
    BandwidthUnit unit = BandwidthUnit::Percent;
    CacheId id;
    std::vector<Holder> holders; // the default group first, then by path
};

// Who holds which ways and which bandwidth on the host, as resctrl says now.
struct HostLayout {
    std::vector<CacheLayout> caches;         // resource order (L3, L3CODE, ... L2DATA), then id
    std::vector<BandwidthLayout> bandwidths; // MB then SMBA, then id
};

// Reads the layout of the host: one listing of the root directory and one read of each control
// group's schemata (plus each io_alloc_cbm where io_alloc was enabled at discovery); monitoring
// groups are never read, as they hold no schemata. The resources and ids are the host model's,
// so the answer's size is bounded by the host, not by what the files hold. The kernel gives no
// more control groups than CLOSIDs: a root listing with more group directories (not a kernel
// mount) is cut there. `domainGroups` names the started domains' groups (path -> domain name);
// every other group but the root is foreign. A group removed between the listing and its read
// is left out. Throws ResctrlUnavailable when the root's schemata cannot be read or a schemata
// does not hold what the kernel writes.
HostLayout readHostLayout(const HostModel& host, const ResctrlFs& resctrl,
                          const std::map<std::string, std::string>& domainGroups);

// info/<resource>/io_alloc_cbm ("0=ffff;1=ffff", no resource name): the ways I/O allocates in,
// per cache id. Empty when it cannot be read (io_alloc disabled since discovery) or is malformed.
std::map<CacheId, CbmMask> readIoAllocMasks(const ResctrlFs& resctrl, Resource resource);

// How many control groups besides the root the kernel can have on that host: one per CLOSID,
// including the one io_alloc may reserve.
unsigned controlGroupLimit(const HostModel& host);

} // namespace resctrld
