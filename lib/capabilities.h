// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <string>

#include "host_model.h"

namespace resctrld {

// The host's cache and memory-bandwidth capabilities as libvirt's capabilities XML presents them
// (libvirt 10.8 and later): a <cache> element with one <bank> per cache of level 2 and up that
// sysfs describes, with a <control> per resource that can allocate it, and the llc_* <monitor>,
// then <memory_bandwidth> with one <node> per LLC bank and the mbm_* <monitor>. Each element is
// left out when it would be empty. The text is a fragment of <host>, indented by two spaces per
// level from column 0, one element per line.
std::string formatCapabilities(const HostModel& host);

// libvirt's virFormatIntPretty: the largest of B, KiB, MiB, GiB, TiB that divides `bytes`
// exactly, and the value in it (0 is "0 B").
struct PrettySize {
    unsigned long long value = 0;
    const char* unit = "B";
};
PrettySize prettySize(Bytes bytes);

} // namespace resctrld
