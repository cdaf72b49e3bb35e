// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <charconv>
#include <optional>
#include <string_view>
#include <system_error>

namespace resctrld {

// The text without leading and trailing blanks (space, tab, CR, LF): kernel files end in "\n",
// and schemata values may be space-padded.
inline std::string_view trim(std::string_view text) noexcept {
    constexpr std::string_view kBlank = " \t\r\n";
    const auto first = text.find_first_not_of(kBlank);
    if (first == std::string_view::npos)
        return {};
    return text.substr(first, text.find_last_not_of(kBlank) - first + 1);
}

// A decimal unsigned number and nothing else: no sign, no blanks, no base prefix. Empty on
// anything else and on overflow of Unsigned.
template <typename Unsigned> std::optional<Unsigned> parseUnsigned(std::string_view text) noexcept {
    Unsigned value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

} // namespace resctrld
