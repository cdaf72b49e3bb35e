// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <variant>

#include "monitor_counters.h"
#include "plan.h"

namespace resctrld {

using StatValue = std::variant<std::uint32_t, std::uint64_t, std::string>;
using DomainStats = std::map<std::string, StatValue>;

// A domain's counters under the keys `virsh domstats` uses (docs/definitions.md appendix §5.3):
// cpu.cache.monitor.* for cache monitors (the count always, even 0) and
// memory.bandwidth.monitor.* for bandwidth monitors (only when there is one). `samples[i]` is
// plan.monitors[i]'s reading. Unlike libvirt, bytes are 64-bit (libvirt truncates occupancy to
// 32 bits) and a bank whose counter is not ok has its id but no bytes (libvirt fails the call).
DomainStats domainStats(const Plan& plan, std::span<const MonitorSample> samples);

} // namespace resctrld
