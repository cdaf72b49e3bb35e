// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unistd.h>
#include <vector>

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

// The pieces of `text` between `separator`s, in order, empty ones included; a separator at the
// very end starts no further piece, so "a,,b," gives {"a", "", "b"} and "" gives none.
inline std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> pieces;
    while (!text.empty()) {
        const auto end = text.find(separator);
        pieces.push_back(text.substr(0, end));
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    }
    return pieces;
}

// The lines of `text` without their "\n"; a last line without one counts.
inline std::vector<std::string_view> splitLines(std::string_view text) {
    return split(text, '\n');
}

// Reads all of fd from offset 0 with pread, for files whose st_size lies or is 0 (resctrl, sysfs,
// /proc): until EOF. Empty on a read error, with errno set. With `shortReadEnds`, a read that
// does not fill the buffer is taken for the end, which saves the read that would return 0 (a
// round trip through the filesystem, which for resctrl behind FUSE costs as much as the first):
// only for files one show callback renders whole (resctrl's and sysfs's attributes, /proc's
// per-process stat, status and comm). A file of many records (/proc/self/mountinfo) may return
// less than asked before its end: seq_file stops at a record that does not fit its buffer.
inline std::optional<std::string> readAll(int fd, bool shortReadEnds = false) {
    std::string text;
    char buffer[4096];
    off_t offset = 0;
    for (;;) {
        const ssize_t n = ::pread(fd, buffer, sizeof buffer, offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return std::nullopt;
        if (n == 0)
            return text;
        text.append(buffer, static_cast<std::size_t>(n));
        if (shortReadEnds && static_cast<std::size_t>(n) < sizeof buffer)
            return text;
        offset += n;
    }
}

} // namespace resctrld
