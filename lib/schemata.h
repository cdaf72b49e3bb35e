// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cbm_mask.h"
#include "resource.h"
#include "types.h"

namespace resctrld {

// How Schemata::format lays out its text. The defaults give what resctrld writes: no padding,
// resctrld's line order (L3, L2, MB, SMBA). The other settings reproduce the kernel's read
// formats (docs/kernel.md §4.6), mainly for tests.
struct SchemataFormat {
    // Names right-aligned to this width ("    L3:" for 6).
    unsigned nameWidth = 0;
    // Kernels <= 6.14 pad every value to this width: masks with zeros, bandwidths with spaces.
    unsigned valueWidth = 0;
    // Kernels >= 5.13 print lines in reverse resource order, DATA before CODE.
    bool kernelLineOrder = false;
};

// The content of a group's `schemata` file in canonical form: per resource, per domain id, a
// capacity bitmask (cache resources) or a bandwidth value (MB, SMBA). Two Schemata compare equal
// when they hold the same values, however the text they came from was laid out.
class Schemata {
public:
    // Parses what the kernel prints (any kernel version: right-aligned names, zero-padded masks,
    // space-padded bandwidths, any line order, "0x" prefixes) and what resctrld writes.
    // Tolerated without error: blank lines, a trailing ';', lines of resources this version
    // does not know (newer kernels may add some), and `<name>:uninitialized` (a foreign group in
    // pseudo-locksetup mode holds nothing yet, §4.6). Anything else malformed throws
    // ResctrlUnavailable naming the line and what is wrong with it.
    static Schemata parse(std::string_view text);

    std::optional<CbmMask> mask(Resource resource, CacheId id) const;
    // resource must be a cache resource.
    void setMask(Resource resource, CacheId id, CbmMask mask);
    std::optional<std::uint32_t> bandwidth(Resource resource, CacheId id) const;
    // resource must be MB or SMBA.
    void setBandwidth(Resource resource, CacheId id, std::uint32_t value);

    // All masks of a cache resource by domain id (empty when the resource is absent).
    const std::map<CacheId, CbmMask>& masks(Resource resource) const;
    // All values of a bandwidth resource by domain id (empty when the resource is absent).
    const std::map<CacheId, std::uint32_t>& bandwidths(Resource resource) const;

    bool has(Resource resource) const;
    // The resources present, in resource order.
    std::vector<Resource> resources() const;
    bool empty() const { return masks_.empty() && bandwidths_.empty(); }

    // Every entry of `other` replaces this one's entry for the same resource and id.
    void merge(const Schemata& other);

    // One line per resource, "NAME:id=value;id=value\n" (ids ascending).
    std::string format(const SchemataFormat& layout = {}) const;
    // The line for one resource (empty string when absent), for writing one line per write(2).
    std::string formatLine(Resource resource, const SchemataFormat& layout = {}) const;

    friend bool operator==(const Schemata&, const Schemata&) = default;

private:
    std::map<Resource, std::map<CacheId, CbmMask>> masks_;
    std::map<Resource, std::map<CacheId, std::uint32_t>> bandwidths_;
};

} // namespace resctrld
