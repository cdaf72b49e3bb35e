// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace resctrld {

// A cache capacity bitmask (CBM): bit i set = cache way i (docs/kernel.md §4.4). Real hosts
// have at most 20 bits; 64 is the hard limit of this type.
class CbmMask {
public:
    // A run of consecutive set bits: ways [first, first + count).
    struct Run {
        unsigned first = 0;
        unsigned count = 0;
        friend bool operator==(const Run&, const Run&) = default;
    };

    constexpr CbmMask() = default;
    constexpr explicit CbmMask(std::uint64_t bits)
        : bits_(bits) {}

    // `count` ways starting at way `first` (first + count <= 64).
    static CbmMask fromRun(unsigned first, unsigned count) noexcept;
    // Parses hex as the kernel prints and accepts it: optional "0x", zero padding allowed, at
    // most 64 significant bits. Empty on anything else.
    static std::optional<CbmMask> parseHex(std::string_view text) noexcept;

    constexpr std::uint64_t bits() const noexcept { return bits_; }
    unsigned count() const noexcept;
    bool empty() const noexcept { return bits_ == 0; }
    bool test(unsigned way) const noexcept { return way < 64 && ((bits_ >> way) & 1U) != 0; }
    // True for an empty mask and for a single run of set bits.
    bool isContiguous() const noexcept;
    bool overlaps(CbmMask other) const noexcept { return (bits_ & other.bits_) != 0; }
    bool contains(CbmMask other) const noexcept { return (bits_ & other.bits_) == other.bits_; }
    // The bits of this mask that are not in `other`.
    CbmMask without(CbmMask other) const noexcept { return CbmMask(bits_ & ~other.bits_); }

    // Lowercase hex without "0x" or padding, as kernels >= 6.15 print it; "0" when empty.
    std::string toHex() const;

    // Maximal runs of set bits, lowest first.
    std::vector<Run> runs() const;
    // The longest run (the lowest of equally long ones); {0, 0} when empty.
    Run largestRun() const;

    friend constexpr CbmMask operator|(CbmMask a, CbmMask b) noexcept {
        return CbmMask(a.bits_ | b.bits_);
    }
    friend constexpr CbmMask operator&(CbmMask a, CbmMask b) noexcept {
        return CbmMask(a.bits_ & b.bits_);
    }
    CbmMask& operator|=(CbmMask other) noexcept {
        bits_ |= other.bits_;
        return *this;
    }
    friend constexpr bool operator==(CbmMask, CbmMask) = default;

private:
    std::uint64_t bits_ = 0;
};

} // namespace resctrld
