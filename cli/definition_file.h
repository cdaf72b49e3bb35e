// SPDX-License-Identifier: LGPL-2.1-or-later
// Reads a definition the user named: a file, or standard input for "-". The daemon refuses
// documents over 1 MiB; refusing them here, before any bus call, tells the operator which file
// is at fault and spares the bus a message it would only carry to be refused.
#pragma once

#include <cstddef>
#include <string>

namespace resctrld::cli {

inline constexpr std::size_t kMaxDefinitionBytes = 1024 * 1024;

// Throws UsageError when the file is missing, unreadable, empty or over kMaxDefinitionBytes.
std::string readDefinition(const std::string& path);

} // namespace resctrld::cli
