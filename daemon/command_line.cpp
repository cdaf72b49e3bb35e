// SPDX-License-Identifier: LGPL-2.1-or-later
#include "command_line.h"

namespace resctrld {

CommandLine parseCommandLine(const std::vector<std::string>& args) {
    CommandLine result;
    bool busGiven = false;
    auto setBus = [&](BusKind kind, const std::string& option) {
        if (busGiven)
            throw ConfigError(option + ": only one of --system, --session, --address may be given");
        busGiven = true;
        result.bus = kind;
    };

    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string option = args[i];
        std::optional<std::string> inlineValue;
        if (const auto eq = option.find('='); option.starts_with("--") && eq != std::string::npos) {
            inlineValue = option.substr(eq + 1);
            option.resize(eq);
        }
        auto value = [&]() -> std::string {
            if (inlineValue)
                return *inlineValue;
            if (i + 1 >= args.size())
                throw ConfigError(option + " needs a value");
            return args[++i];
        };
        auto noValue = [&] {
            if (inlineValue)
                throw ConfigError(option + " takes no value");
        };

        if (option == "--help" || option == "-h") {
            noValue();
            result.showHelp = true;
        } else if (option == "--version") {
            noValue();
            result.showVersion = true;
        } else if (option == "--config") {
            result.configFile = value();
        } else if (option == "--system") {
            noValue();
            setBus(BusKind::System, option);
        } else if (option == "--session") {
            noValue();
            setBus(BusKind::Session, option);
        } else if (option == "--address") {
            setBus(BusKind::Address, option);
            result.busAddress = value();
            if (result.busAddress.empty())
                throw ConfigError("--address needs a D-Bus address, e.g. unix:path=/run/bus");
        } else if (option == "--resctrl-root") {
            result.resctrlRoot = parseAbsolutePath(option, value());
        } else if (option == "--sysfs-root") {
            result.sysfsRoot = parseAbsolutePath(option, value());
        } else if (option == "--state-dir") {
            result.stateDirectory = parseAbsolutePath(option, value());
        } else if (option == "--log-level") {
            result.logLevel = parseLogLevel(option, value());
        } else {
            throw ConfigError("unknown option '" + args[i] + "' (see --help)");
        }
    }
    return result;
}

void applyCommandLine(Config& config, const CommandLine& commandLine) {
    if (commandLine.resctrlRoot)
        config.resctrlRoot = *commandLine.resctrlRoot;
    if (commandLine.sysfsRoot)
        config.sysfsRoot = *commandLine.sysfsRoot;
    if (commandLine.stateDirectory)
        config.stateDirectory = *commandLine.stateDirectory;
    if (commandLine.logLevel)
        config.logLevel = *commandLine.logLevel;
}

std::string usageText(std::string_view program) {
    return "Usage: " + std::string(program) +
           " [OPTIONS]\n"
           "\n"
           "Owns the resctrl filesystem for a VM host and serves org.resctrld1 on D-Bus.\n"
           "\n"
           "  --config FILE        configuration file (default " +
           std::string(defaultConfigFile()) +
           ";\n"
           "                       drop-ins are read from FILE.d/*.conf in lexical order)\n"
           "  --system             serve on the system bus (default)\n"
           "  --session            serve on the session bus\n"
           "  --address ADDR       serve on the bus at the D-Bus address ADDR\n"
           "  --resctrl-root DIR   the resctrl mount (overrides ResctrlRoot=)\n"
           "  --sysfs-root DIR     the sysfs root (overrides SysfsRoot=)\n"
           "  --state-dir DIR      the state directory (overrides StateDirectory=)\n"
           "  --log-level LEVEL    trace, debug, info, warn, error, critical or off\n"
           "                       (overrides LogLevel=)\n"
           "  -h, --help           show this help and exit\n"
           "  --version            show the version and exit\n";
}

} // namespace resctrld
