// SPDX-License-Identifier: LGPL-2.1-or-later
// node_exporter's textfile collector reads DIR/*.prom; a file must appear whole, so it is
// written beside its final name and renamed over it.
#pragma once

#include <filesystem>
#include <string>

namespace resctrld::exporter {

void writeTextfileAtomically(const std::filesystem::path& dir, const std::string& contents);

} // namespace resctrld::exporter
