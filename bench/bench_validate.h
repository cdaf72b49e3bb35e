// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace resctrld::bench {

// One result: a line for the summary table and a JSON object for the results file.
struct BenchRow {
    std::string line;
    std::string json;
};

// ValidateDomain with the hostile 1 MiB shapes, through the daemon on resctrlfs-sim, against
// libxml2 alone parsing the same bytes in this process: medians of `runs` calls each, and their
// ratio (target at most 3). Prints each shape's line as it is measured.
std::vector<BenchRow> benchValidate(const std::filesystem::path& dir, int runs);

} // namespace resctrld::bench
