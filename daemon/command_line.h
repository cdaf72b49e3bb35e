// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "daemon_config.h"

namespace resctrld {

enum class BusKind { System, Session, Address };

// What was given on the command line. Unset options leave the configuration file's value.
struct CommandLine {
    std::optional<std::filesystem::path> configFile;
    BusKind bus = BusKind::System;
    std::string busAddress;
    std::optional<std::filesystem::path> resctrlRoot;
    std::optional<std::filesystem::path> sysfsRoot;
    std::optional<std::filesystem::path> stateDirectory;
    std::optional<std::string> logLevel;
    bool showHelp = false;
    bool showVersion = false;
};

// Accepts "--option VALUE" and "--option=VALUE". Throws ConfigError for an unknown option, a
// missing or bad value, or two bus options.
CommandLine parseCommandLine(const std::vector<std::string>& args);

// Command-line options override the configuration files.
void applyCommandLine(Config& config, const CommandLine& commandLine);

std::string usageText(std::string_view program);

} // namespace resctrld
