// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <string>

namespace resctrld {

// Sends spdlog's default logger to the journal when stderr is the journal stream systemd gave us
// (JOURNAL_STREAM names its device:inode, sd_journal_stream_fd(3)), else to stderr. `level` is
// one of spdlog's level names; it was validated with the configuration.
void setupLogging(const std::string& level);

// True when JOURNAL_STREAM names the file that stderr is.
bool isStderrJournal();

} // namespace resctrld
