// SPDX-License-Identifier: LGPL-2.1-or-later
// The --json form of what the daemon publishes. The keys are documented in docs/resctrlctl.md
// and stable: new keys may be added, none renamed or removed. Sizes are always bytes; maps keyed
// by cache or node id have the id as a decimal string key.
#pragma once

#include <nlohmann/json.hpp>

#include "host_model.h"

namespace resctrld::cli {

using Json = nlohmann::ordered_json;

// By L3 cache id: {"total", "free"} of the hardware bandwidth counters; empty where none.
Json countersJson(const ManagerState& manager);
Json managerJson(const ManagerState& manager, std::size_t domains);
// list: a domain with its allocations summed per cache and its occupancy per cache id.
Json domainSummaryJson(const DomainState& domain);
// show: everything.
Json domainJson(const DomainState& domain);
Json counterJson(const CounterMap& map);

} // namespace resctrld::cli
