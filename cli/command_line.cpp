// SPDX-License-Identifier: LGPL-2.1-or-later
#include "command_line.h"

#include <charconv>
#include <map>
#include <set>

#include "cli_error.h"

namespace resctrld::cli {

namespace {

struct CommandSpec {
    std::size_t operands;
    std::string operandNames; // for the message when the count is wrong
    std::set<std::string> options;
};

// Every command, how many operands it takes and the command options it accepts (the global
// options --json, --bus, -q and --bytes go with every command).
const std::map<std::string, CommandSpec>& commandSpecs() {
    static const std::map<std::string, CommandSpec> specs{
        {"status", {0, "", {}}},
        {"list", {0, "", {"--names"}}},
        {"show", {1, "NAME", {}}},
        {"layout", {0, "", {}}},
        {"capabilities", {0, "", {"--xml"}}},
        {"validate", {1, "FILE", {}}},
        {"start", {1, "FILE", {"--pid", "--threads", "--status"}}},
        {"update", {2, "NAME FILE", {}}},
        {"stop", {1, "NAME", {}}},
        {"stats", {1, "NAME", {}}},
        {"counters", {0, "", {}}},
        {"top", {0, "", {"--iterations", "--batch", "--sort"}}},
        {"monitor", {0, "", {"--iterations"}}},
    };
    return specs;
}

std::uint32_t parseNumber(const std::string& text, const std::string& what) {
    std::uint32_t value = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end)
        throw UsageError(what + " must be a non-negative integer below 2^32, not '" + text + "'");
    return value;
}

// "0=4242,1=4243": (vcpu, tid) pairs.
std::vector<std::pair<std::uint32_t, std::uint32_t>> parseThreads(const std::string& text) {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> threads;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto comma = text.find(',', start);
        const std::string item =
            text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        const auto eq = item.find('=');
        if (eq == std::string::npos)
            throw UsageError("--threads takes VCPU=TID pairs separated by commas, not '" + item +
                             "'");
        threads.emplace_back(parseNumber(item.substr(0, eq), "a vCPU number in --threads"),
                             parseNumber(item.substr(eq + 1), "a thread id in --threads"));
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
    return threads;
}

// Options that take a value, by their long name; short forms map onto them.
const std::set<std::string> kWithValue{"--bus", "--pid", "--threads", "--iterations", "--sort"};
const std::map<std::string, std::string> kShort{
    {"-q", "--quiet"}, {"-n", "--iterations"}, {"-h", "--help"}};
const std::set<std::string> kGlobal{"--json", "--bus", "--quiet", "--bytes", "--help", "--version"};
const std::set<std::string> kCommandOptions{"--names",  "--xml",   "--pid",  "--threads",
                                            "--status", "--batch", "--sort", "--iterations"};

} // namespace

Invocation parseCommandLine(int argc, char** argv) {
    Invocation inv;
    std::vector<std::string> positional;
    std::vector<std::string> commandOptionsSeen;
    bool optionsEnded = false;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (optionsEnded || arg == "-" || arg.empty() || arg[0] != '-') {
            positional.push_back(arg);
            continue;
        }
        if (arg == "--") {
            optionsEnded = true;
            continue;
        }
        std::optional<std::string> value;
        if (arg.starts_with("--")) {
            if (const auto eq = arg.find('='); eq != std::string::npos) {
                value = arg.substr(eq + 1);
                arg = arg.substr(0, eq);
            }
        } else if (auto it = kShort.find(arg.substr(0, 2)); it != kShort.end()) {
            if (arg.size() > 2)
                value = arg.substr(2); // -n3
            arg = it->second;
        } else {
            throw UsageError("unknown option '" + arg + "' (resctrlctl --help lists them)");
        }
        if (!kGlobal.contains(arg) && !kCommandOptions.contains(arg))
            throw UsageError("unknown option '" + arg + "' (resctrlctl --help lists them)");
        if (kWithValue.contains(arg)) {
            if (!value) {
                if (i + 1 >= argc)
                    throw UsageError(arg + " needs a value");
                value = argv[++i];
            }
        } else if (value) {
            throw UsageError(arg + " takes no value");
        }
        if (kCommandOptions.contains(arg))
            commandOptionsSeen.push_back(arg);

        if (arg == "--json")
            inv.global.json = true;
        else if (arg == "--quiet")
            inv.global.quiet = true;
        else if (arg == "--bytes")
            inv.global.exactBytes = true;
        else if (arg == "--help")
            inv.help = true;
        else if (arg == "--version")
            inv.version = true;
        else if (arg == "--bus") {
            // A D-Bus address is transport:key=value,...
            if (*value != "system" && *value != "session" && value->find(':') == std::string::npos)
                throw UsageError("--bus takes system, session or a D-Bus address such as "
                                 "unix:path=/run/dbus/system_bus_socket, not '" +
                                 *value + "'");
            inv.global.bus = *value;
        } else if (arg == "--names")
            inv.namesOnly = true;
        else if (arg == "--xml")
            inv.xml = true;
        else if (arg == "--status")
            inv.statusDocument = true;
        else if (arg == "--batch")
            inv.batch = true;
        else if (arg == "--pid")
            inv.pid = parseNumber(*value, "--pid");
        else if (arg == "--threads")
            inv.threads = parseThreads(*value);
        else if (arg == "--iterations") {
            inv.iterations = parseNumber(*value, "--iterations");
            if (*inv.iterations == 0)
                throw UsageError("--iterations must be at least 1");
        } else if (arg == "--sort") {
            if (*value == "occupancy")
                inv.sort = TopSort::Occupancy;
            else if (*value == "bandwidth")
                inv.sort = TopSort::Bandwidth;
            else
                throw UsageError("--sort takes occupancy or bandwidth, not '" + *value + "'");
        }
    }
    if (inv.help || inv.version)
        return inv;
    if (positional.empty())
        throw UsageError("no command given (resctrlctl --help lists them)");
    inv.command = positional.front();
    inv.operands.assign(positional.begin() + 1, positional.end());
    const auto spec = commandSpecs().find(inv.command);
    if (spec == commandSpecs().end())
        throw UsageError("unknown command '" + inv.command + "' (resctrlctl --help lists them)");
    if (inv.operands.size() != spec->second.operands)
        throw UsageError(inv.command +
                         (spec->second.operands == 0 ? " takes no operand"
                                                     : " takes " + spec->second.operandNames) +
                         " (resctrlctl --help)");
    for (const auto& option : commandOptionsSeen)
        if (!spec->second.options.contains(option))
            throw UsageError(inv.command + " does not take " + option);
    if (inv.command == "start") {
        const int ways =
            (inv.pid ? 1 : 0) + (inv.threads.empty() ? 0 : 1) + (inv.statusDocument ? 1 : 0);
        if (ways != 1)
            throw UsageError("start needs exactly one of --pid PID, --threads VCPU=TID,... and "
                             "--status");
    }
    return inv;
}

std::string usageText() {
    return R"(Usage: resctrlctl [OPTIONS] COMMAND [ARGS]

Drives resctrld, the daemon that owns the resctrl filesystem (cache and memory-bandwidth
allocation and monitoring for virtual machines).

Commands:
  status                 daemon version, resctrl mount, CLOSIDs and RMIDs, domains, sampling
  list                   one line per domain: state, vCPU threads, allocations, occupancy
  show NAME              everything about one domain
  layout                 who holds which cache ways, per cache id, and bandwidth caps
  capabilities [--xml]   the host's cache and memory-bandwidth capabilities
  validate FILE          dry run: the groups a start would create now
  start FILE --pid PID | --threads VCPU=TID,... | --status
                         start a domain for a hypervisor process, for the given vCPU threads,
                         or with the threads listed in a libvirt status document
  update NAME FILE       re-tune a started domain to a new definition
  stop NAME              stop a domain and remove its groups
  stats NAME             the domain's counters under virsh domstats keys
  counters               hardware bandwidth counters per cache id, and the monitors waiting
                         for one (hosts that assign counters)
  top [-n N] [--batch] [--sort occupancy|bandwidth]
                         live view of the domains, refreshed at every sample
  monitor [-n N]         follow the daemon's signals, one line each

FILE is a libvirt domain or status document; '-' reads standard input.

Options:
  --json                 machine-readable output (read commands, top, monitor)
  --bus system|session|ADDRESS
                         the bus the daemon is on (default: system)
  --bytes                sizes in bytes instead of KiB/MiB/GiB
  -q, --quiet            print nothing on success for start, update, stop
  -h, --help             this text
  --version              resctrlctl's version

Exit status: 0 success, 1 the daemon refused (error name and message on stderr), 2 usage
error or unreadable definition, 3 the bus or the daemon cannot be reached.
)";
}

} // namespace resctrld::cli
