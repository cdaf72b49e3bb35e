// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "domain_stats.h"

namespace resctrld {

// GetStats of org.resctrld1.Manager (s → a{sv}) and org.resctrld1.Domain (→ a{sv}), registered
// by hand rather than through the generated adaptors (dbus/meson.build leaves it out of them):
// sdbus-c++ 1.x builds every sdbus::Variant as a D-Bus message of its own, and a 256-monitor
// domain's answer made of them held 2.9 MiB of the daemon's 8.5 MiB heap peak (heaptrack) and
// cost a fifth of the calls per second. Here the dictionary is written straight into the reply.

// Appends `stats` to a message being built, as an a{sv}.
void appendStats(sdbus::Message& message, const DomainStats& stats);

// Registers GetStats on `interface` of `object`; call it before the object's registerAdaptor().
// `inputNames` is {"name"} (the method takes the domain's name, passed to `stats`) or {} (it
// takes nothing; `stats` gets ""). `stats` runs under translateErrors(`method`, ...).
using StatsSource = std::function<const DomainStats&(const std::string& name)>;
void registerGetStats(sdbus::IObject& object, const char* interface, const char* method,
                      const std::vector<std::string>& inputNames, StatsSource stats);

} // namespace resctrld
