// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <bitset>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace resctrld {

// A set of vCPU numbers, written and printed in libvirt's bitmap syntax ("0-3,^2,5").
// Bounded like libvirt's parser (VIR_DOMAIN_CPUMASK_LEN, docs/definitions.md appendix §1.1):
// numbers at or above kMaxVcpus are refused, which also keeps hostile input ("0-4000000000") cheap.
class VcpuSet {
public:
    static constexpr unsigned kMaxVcpus = 16384;

    VcpuSet() = default;

    // Parses libvirt bitmap syntax: comma-separated items `N`, `N-M` (N <= M) or `^N` (removes N
    // from the items before it, as libvirt does), whitespace allowed around items and around `-`.
    // Throws InvalidDefinition on bad syntax, on numbers >= kMaxVcpus and on an empty result.
    static VcpuSet parse(std::string_view text);
    // The set {first, ..., last}; throws InvalidDefinition if last >= kMaxVcpus or first > last.
    static VcpuSet range(unsigned first, unsigned last);

    void insert(unsigned vcpu);
    // Adds every member of `other`.
    void insert(const VcpuSet& other) noexcept { bits_ |= other.bits_; }
    void erase(unsigned vcpu);
    bool contains(unsigned vcpu) const noexcept;
    bool empty() const noexcept { return bits_.none(); }
    std::size_t size() const noexcept { return bits_.count(); }
    // Smallest and largest member; only meaningful when !empty().
    unsigned first() const noexcept;
    unsigned last() const noexcept;
    std::vector<unsigned> members() const;

    // Formats as libvirt formats bitmaps: ascending ranges, "0-3", "1,3", "0-1,5"; "" when empty.
    std::string format() const;

    bool isSubsetOf(const VcpuSet& other) const noexcept;
    bool overlaps(const VcpuSet& other) const noexcept;
    VcpuSet intersection(const VcpuSet& other) const noexcept;
    // The members below `count` (libvirt truncates every set to the domain's vCPU count).
    VcpuSet truncated(unsigned count) const noexcept;

    friend bool operator==(const VcpuSet&, const VcpuSet&) = default;

private:
    std::bitset<kMaxVcpus> bits_;
};

} // namespace resctrld
