// SPDX-License-Identifier: LGPL-2.1-or-later
// Small helpers shared by the benchmarks' parts: the median of a sample and a number printed
// with a fixed count of decimals (for the table and the JSON alike).
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace resctrld::bench {

// The median of `values` (the mean of the two middle ones for an even count); 0 for none.
inline double medianOf(std::vector<double> values) {
    if (values.empty())
        return 0;
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// `value` with exactly `decimals` digits after the point, as printf's "%.*f" writes it.
inline std::string fixed(double value, int decimals = 2) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
    return buffer;
}

} // namespace resctrld::bench
