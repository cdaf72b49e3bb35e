// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

namespace resctrld::bench {

// From now on, SIGTERM, SIGINT or SIGHUP end the benchmark together with its children: each gets
// SIGTERM (SIGKILL if it is still there 5 s later) before the benchmark exits with 128 plus the
// signal. Without it a benchmark killed between a stack's constructor and destructor leaves the
// simulator (with its mount), the bus and the daemon running beside every later run. Call once,
// early in main.
void endWithChildrenOnSignal();

} // namespace resctrld::bench
