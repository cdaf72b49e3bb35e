// SPDX-License-Identifier: LGPL-2.1-or-later
// resctrlctl: the command-line tool of resctrld. Parses the command line, runs the command and
// turns what went wrong into a message and the documented exit status.
#include <iostream>
#include <map>
#include <unistd.h>

#include "cli_error.h"
#include "command_line.h"
#include "config.h"
#include "context.h"

using namespace resctrld::cli;

namespace {

int exitWith(ExitStatus status) {
    return static_cast<int>(status);
}

void run(Context& ctx) {
    static const std::map<std::string, void (*)(Context&)> kCommands{
        {"status", runStatus},
        {"list", runList},
        {"show", runShow},
        {"layout", runLayout},
        {"capabilities", runCapabilities},
        {"validate", runValidate},
        {"start", runStart},
        {"update", runUpdate},
        {"stop", runStop},
        {"stats", runStats},
        {"counters", runCounters},
        {"top", runTop},
        {"monitor", runMonitor},
    };
    kCommands.at(ctx.invocation.command)(ctx);
}

} // namespace

int main(int argc, char** argv) {
    std::ios::sync_with_stdio(false);
    Invocation invocation;
    try {
        invocation = parseCommandLine(argc, argv);
    } catch (const UsageError& e) {
        std::cerr << "resctrlctl: " << e.what() << "\n";
        return exitWith(ExitStatus::Usage);
    }
    if (invocation.help) {
        std::cout << usageText();
        return exitWith(ExitStatus::Ok);
    }
    if (invocation.version) {
        std::cout << "resctrlctl " << RESCTRLD_VERSION << "\n";
        return exitWith(ExitStatus::Ok);
    }
    Context ctx(invocation, std::cout,
                TextStyle(invocation.global.exactBytes, TextStyle::colourWanted(STDOUT_FILENO)));
    try {
        run(ctx);
        std::cout.flush();
        return exitWith(std::cout.good() ? ExitStatus::Ok : ExitStatus::Refused);
    } catch (const UsageError& e) {
        std::cerr << "resctrlctl: " << e.what() << "\n";
        return exitWith(ExitStatus::Usage);
    } catch (const Refusal& e) {
        std::cerr << "resctrlctl: " << e.name() << ": " << e.what() << "\n";
        return exitWith(ExitStatus::Refused);
    } catch (const Unreachable& e) {
        std::cerr << "resctrlctl: " << e.what() << "\n";
        return exitWith(ExitStatus::Unreachable);
    } catch (const sdbus::Error& e) {
        // A D-Bus failure outside a call to the daemon (e.g. adding a match rule).
        std::cerr << "resctrlctl: " << e.getName() << ": " << e.getMessage() << "\n";
        return exitWith(ExitStatus::Refused);
    }
}
