// SPDX-License-Identifier: LGPL-2.1-or-later
#include "cbm_mask.h"

#include <bit>
#include <charconv>

namespace resctrld {

CbmMask CbmMask::fromRun(unsigned first, unsigned count) noexcept {
    if (count == 0 || first >= 64)
        return CbmMask();
    const std::uint64_t run = count >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << count) - 1;
    return CbmMask(run << first);
}

std::optional<CbmMask> CbmMask::parseHex(std::string_view text) noexcept {
    if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
        text.remove_prefix(2);
    // Zero padding (kernels <= 6.14) may make the text longer than 16 digits only in theory;
    // skip it so that from_chars sees the significant digits.
    while (text.size() > 1 && text.front() == '0')
        text.remove_prefix(1);
    if (text.empty())
        return std::nullopt;
    std::uint64_t bits = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), bits, 16);
    if (error != std::errc() || end != text.data() + text.size())
        return std::nullopt;
    return CbmMask(bits);
}

unsigned CbmMask::count() const noexcept {
    return static_cast<unsigned>(std::popcount(bits_));
}

bool CbmMask::isContiguous() const noexcept {
    if (bits_ == 0)
        return true;
    const std::uint64_t shifted = bits_ >> std::countr_zero(bits_);
    return (shifted & (shifted + 1)) == 0;
}

std::string CbmMask::toHex() const {
    char text[17];
    const auto [end, error] = std::to_chars(text, text + sizeof text, bits_, 16);
    (void)error; // 16 hex digits always fit
    return std::string(text, end);
}

std::vector<CbmMask::Run> CbmMask::runs() const {
    std::vector<Run> result;
    std::uint64_t rest = bits_;
    while (rest != 0) {
        const auto first = static_cast<unsigned>(std::countr_zero(rest));
        const auto count = static_cast<unsigned>(std::countr_one(rest >> first));
        result.push_back({first, count});
        rest &= ~fromRun(first, count).bits_;
    }
    return result;
}

CbmMask::Run CbmMask::largestRun() const {
    Run best;
    for (const Run& run : runs())
        if (run.count > best.count)
            best = run;
    return best;
}

} // namespace resctrld
