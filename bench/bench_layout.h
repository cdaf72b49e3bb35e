// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "bench_validate.h"

namespace resctrld::bench {

// GetLayout, which every local user may call, on the largest simulated host (milan-2s: 15
// control groups, 16 L3 ids, 16 MB nodes) with every CLOSID in use by the daemon's domains and
// foreign groups, monitoring groups included, against a floor that makes one bus round trip to a
// trivial service (bench-floor-dbus at `floorDbus`) and reads the same files in this process:
// the root listing and every control group's schemata. Medians of `runs` x 10 alternating
// calls, and their ratio (target at most 1.5). Prints its line as it is measured.
std::vector<BenchRow> benchLayout(const std::filesystem::path& dir, int runs,
                                  const std::string& floorDbus, const std::string& fakeHypervisor);

} // namespace resctrld::bench
