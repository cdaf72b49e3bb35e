// SPDX-License-Identifier: LGPL-2.1-or-later
// resctrlctl's command line: global options, one command and its operands and options. Options
// may come before or after the command; an option the command does not take is a usage error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace resctrld::cli {

struct GlobalOptions {
    bool json = false;
    bool quiet = false;
    bool exactBytes = false;
    // "system", "session" or a D-Bus address.
    std::string bus = "system";
};

enum class TopSort { Occupancy, Bandwidth };

struct Invocation {
    GlobalOptions global;
    std::string command; // empty with --help or --version
    std::vector<std::string> operands;
    bool help = false;
    bool version = false;
    // start: exactly one of these
    std::optional<std::uint32_t> pid;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> threads; // (vcpu, tid)
    bool statusDocument = false;
    // capabilities
    bool xml = false;
    // list: names only, one a line (for shell completion)
    bool namesOnly = false;
    // top, monitor
    std::optional<unsigned> iterations;
    bool batch = false;
    TopSort sort = TopSort::Occupancy;
};

// Throws UsageError naming what is wrong.
Invocation parseCommandLine(int argc, char** argv);

// The text --help prints.
std::string usageText();

} // namespace resctrld::cli
