// SPDX-License-Identifier: LGPL-2.1-or-later
// How resctrlctl writes for a person: sizes human-readable (or exact with --bytes), colour only
// on a terminal and never with NO_COLOR set, and aligned columns.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace resctrld::cli {

class TextStyle {
public:
    TextStyle(bool exactBytes, bool colour)
        : exactBytes_(exactBytes)
        , colour_(colour) {}
    // Colour when `fd` is a terminal and NO_COLOR is unset or empty.
    static bool colourWanted(int fd);

    // "2.5 MiB", "512 KiB", "0 B"; with --bytes the plain number.
    std::string size(std::uint64_t bytes) const;
    // Bytes per second: "1.2 GiB/s", or the number with "B/s".
    std::string rate(std::uint64_t bytesPerSecond) const;
    std::string bold(const std::string& text) const;
    // A domain's or counter's state: green when fine, red otherwise.
    std::string state(const std::string& text) const;
    std::string dim(const std::string& text) const;
    bool colour() const { return colour_; }

private:
    std::string wrap(const char* code, const std::string& text) const;
    bool exactBytes_;
    bool colour_;
};

// Rows of cells printed with each column as wide as its widest cell (colour codes not counted);
// the last column is not padded.
class Table {
public:
    explicit Table(std::vector<std::string> header)
        : rows_{std::move(header)} {}
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    void print(std::ostream& out, const TextStyle& style) const;

private:
    std::vector<std::vector<std::string>> rows_;
};

// "0-3,6": a list of numbers as ranges.
std::string rangeList(std::vector<std::uint32_t> values);

} // namespace resctrld::cli
