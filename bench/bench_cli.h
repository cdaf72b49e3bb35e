// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "bench_validate.h"

namespace resctrld::bench {

// resctrlctl `list --json` and `show NAME --json` as an operator runs them (process start
// included) with as many domains as the largest simulated host has CLOSIDs (milan-2s), against
// bench-floor-cli at `floorCli`: a minimal sd-bus program making the same calls on the same bus.
// Medians of `runs` x 10 alternating runs, and their ratios (target at most 1.5).
std::vector<BenchRow> benchCli(const std::filesystem::path& dir, int runs,
                               const std::string& resctrlctl, const std::string& floorCli,
                               const std::string& fakeHypervisor);

} // namespace resctrld::bench
