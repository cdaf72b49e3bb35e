// SPDX-License-Identifier: LGPL-2.1-or-later
#include "text_style.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace resctrld::cli {

namespace {

// Visible width: ANSI escape sequences take no room, a UTF-8 sequence one column.
std::size_t visibleWidth(const std::string& text) {
    std::size_t width = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\x1b') {
            while (i < text.size() && text[i] != 'm')
                ++i;
            continue;
        }
        if ((static_cast<unsigned char>(text[i]) & 0xc0) != 0x80)
            ++width;
    }
    return width;
}

std::string scaled(std::uint64_t value, const char* suffix) {
    static const char* const kUnits[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi"};
    double scaledValue = static_cast<double>(value);
    std::size_t unit = 0;
    while (scaledValue >= 1024 && unit + 1 < std::size(kUnits)) {
        scaledValue /= 1024;
        ++unit;
    }
    char text[64];
    if (unit == 0 || scaledValue >= 100 || scaledValue == static_cast<std::uint64_t>(scaledValue))
        std::snprintf(text, sizeof text, "%.0f %s%s", scaledValue, kUnits[unit], suffix);
    else
        std::snprintf(text, sizeof text, "%.1f %s%s", scaledValue, kUnits[unit], suffix);
    return text;
}

} // namespace

bool TextStyle::colourWanted(int fd) {
    const char* noColor = std::getenv("NO_COLOR");
    if (noColor != nullptr && *noColor != '\0')
        return false;
    return ::isatty(fd) == 1;
}

std::string TextStyle::size(std::uint64_t bytes) const {
    return exactBytes_ ? std::to_string(bytes) : scaled(bytes, "B");
}

std::string TextStyle::rate(std::uint64_t bytesPerSecond) const {
    return exactBytes_ ? std::to_string(bytesPerSecond) + " B/s" : scaled(bytesPerSecond, "B/s");
}

std::string TextStyle::wrap(const char* code, const std::string& text) const {
    return colour_ ? std::string("\x1b[") + code + "m" + text + "\x1b[0m" : text;
}

std::string TextStyle::bold(const std::string& text) const {
    return wrap("1", text);
}

std::string TextStyle::dim(const std::string& text) const {
    return wrap("2", text);
}

std::string TextStyle::state(const std::string& text) const {
    return wrap(text == "active" || text == "ok" ? "32" : "31", text);
}

void Table::print(std::ostream& out, const TextStyle& style) const {
    std::vector<std::size_t> widths;
    for (const auto& row : rows_) {
        widths.resize(std::max(widths.size(), row.size()));
        for (std::size_t i = 0; i < row.size(); ++i)
            widths[i] = std::max(widths[i], visibleWidth(row[i]));
    }
    for (std::size_t r = 0; r < rows_.size(); ++r) {
        const auto& row = rows_[r];
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            const std::string cell = r == 0 ? style.bold(row[i]) : row[i];
            line += cell;
            if (i + 1 < row.size())
                line += std::string(widths[i] - visibleWidth(row[i]) + 2, ' ');
        }
        out << line << '\n';
    }
}

std::string rangeList(std::vector<std::uint32_t> values) {
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    std::string text;
    for (std::size_t i = 0; i < values.size();) {
        std::size_t j = i;
        while (j + 1 < values.size() && values[j + 1] == values[j] + 1)
            ++j;
        if (!text.empty())
            text += ',';
        text += std::to_string(values[i]);
        if (j > i)
            text += "-" + std::to_string(values[j]);
        i = j + 1;
    }
    return text;
}

} // namespace resctrld::cli
