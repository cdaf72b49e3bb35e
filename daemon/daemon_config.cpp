// SPDX-License-Identifier: LGPL-2.1-or-later
#include "daemon_config.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <system_error>

#include <ini.h>

namespace resctrld {
namespace {

// A configuration file is a few hundred bytes; anything this large is not one.
constexpr std::uintmax_t kMaxConfigFileBytes = 1 << 20;
// Durations above a day are a typo (a value in ms or µs), not an intent.
constexpr double kMaxSeconds = 86400.0;

std::string trim(std::string_view s) {
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos)
        return {};
    const auto last = s.find_last_not_of(" \t");
    return std::string(s.substr(first, last - first + 1));
}

std::vector<std::string> splitWords(std::string_view s) {
    std::vector<std::string> words;
    std::string word;
    for (char c : s) {
        if (c == ' ' || c == '\t' || c == ',') {
            if (!word.empty())
                words.push_back(std::move(word));
            word.clear();
        } else {
            word += c;
        }
    }
    if (!word.empty())
        words.push_back(std::move(word));
    return words;
}

std::string parseGroupPrefix(std::string_view key, std::string_view value) {
    // The prefix is how the daemon recognises its own groups (it never touches others), so it
    // must be non-empty and a plain file-name fragment that cannot collide with "info" or
    // "mon_groups" when followed by a domain name.
    if (value.empty())
        throw ConfigError(std::string(key) + "= must not be empty: it marks the groups the "
                                             "daemon owns");
    if (value.front() == '.')
        throw ConfigError(std::string(key) + "=" + std::string(value) + " must not start with '.'");
    for (char c : value) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok)
            throw ConfigError(std::string(key) + "=" + std::string(value) +
                              " may only contain A-Z a-z 0-9 . _ -");
    }
    return std::string(value);
}

MountMode parseMountMode(std::string_view key, std::string_view value) {
    if (value == "auto")
        return MountMode::Auto;
    if (value == "no")
        return MountMode::No;
    throw ConfigError(std::string(key) + "=" + std::string(value) + " is not one of: auto, no");
}

struct ParseContext {
    Config* config;
    std::string_view origin;
    std::vector<std::string> warnings;
    std::optional<std::string> firstError;
};

std::optional<CounterMode> parseCounterModeSetting(std::string_view key, std::string_view value) {
    if (value == "keep")
        return std::nullopt;
    if (auto mode = parseCounterMode(value))
        return mode;
    throw ConfigError(std::string(key) + "=" + std::string(value) +
                      " is not one of: keep (never change the host's mode), mbm_event, default");
}

CounterAssignment parseCounterAssignment(std::string_view key, std::string_view value) {
    if (value == "auto")
        return CounterAssignment::Auto;
    if (value == "manual")
        return CounterAssignment::Manual;
    throw ConfigError(std::string(key) + "=" + std::string(value) +
                      " is not one of: auto (by priority, then order of start), manual (only "
                      "Monitor.AssignCounters)");
}

void applyKey(Config& config, std::string_view key, std::string_view value) {
    if (key == "ResctrlRoot")
        config.resctrlRoot = parseAbsolutePath(key, value);
    else if (key == "SysfsRoot")
        config.sysfsRoot = parseAbsolutePath(key, value);
    else if (key == "StateDirectory")
        config.stateDirectory = parseAbsolutePath(key, value);
    else if (key == "SampleIntervalSec")
        config.sampleInterval = parseSeconds(key, value);
    else if (key == "CheckIntervalSec")
        config.checkInterval = parsePositiveSeconds(key, value);
    else if (key == "GroupPrefix")
        config.groupPrefix = parseGroupPrefix(key, value);
    else if (key == "ManageDefaultGroup")
        config.manageDefaultGroup = parseBoolean(key, value);
    else if (key == "SparseMasks")
        config.sparseMasks = parseBoolean(key, value);
    else if (key == "ThreadEvents")
        config.threadEvents = parseBoolean(key, value);
    else if (key == "Mount")
        config.mount = parseMountMode(key, value);
    else if (key == "MountOptions")
        config.mountOptions = std::string(value);
    else if (key == "AllowedGroups")
        config.allowedGroups = splitWords(value); // an assignment replaces, "" empties
    else if (key == "HypervisorUsers")
        config.hypervisorUsers = splitWords(value); // an assignment replaces, "" empties
    else if (key == "LockTimeoutSec")
        config.lockTimeout = parseSeconds(key, value);
    else if (key == "LogLevel")
        config.logLevel = parseLogLevel(key, value);
    else if (key == "CounterMode")
        config.counterMode = parseCounterModeSetting(key, value);
    else if (key == "CounterAssignment")
        config.counterAssignment = parseCounterAssignment(key, value);
    else
        throw std::out_of_range("unknown key");
}

int iniHandler(void* user, const char* section, const char* name, const char* value) {
    auto& ctx = *static_cast<ParseContext*>(user);
    // Never let an exception cross inih's C frames: record it and report after the parse.
    try {
        if (std::string_view(section) != kConfigSection) {
            ctx.warnings.push_back(std::string(ctx.origin) + ": ignoring " + name +
                                   "= in unknown section [" + section + "] (expected [" +
                                   std::string(kConfigSection) + "])");
            return 1;
        }
        try {
            applyKey(*ctx.config, name, trim(value));
        } catch (const std::out_of_range&) {
            ctx.warnings.push_back(std::string(ctx.origin) + ": ignoring unknown key " + name +
                                   "=");
        }
        return 1;
    } catch (const std::exception& e) {
        if (!ctx.firstError)
            ctx.firstError = e.what();
        return 0;
    }
}

} // namespace

std::string_view defaultConfigFile() {
#ifdef RESCTRLD_DEFAULT_CONFIG
    return RESCTRLD_DEFAULT_CONFIG;
#else
    return "/etc/resctrld/resctrld.conf";
#endif
}

std::chrono::microseconds parseSeconds(std::string_view key, std::string_view value) {
    double seconds = 0;
    const auto* end = value.data() + value.size();
    const auto [ptr, ec] = std::from_chars(value.data(), end, seconds);
    if (value.empty() || ec != std::errc() || ptr != end || !std::isfinite(seconds) ||
        seconds < 0 || seconds > kMaxSeconds)
        throw ConfigError(std::string(key) + "=" + std::string(value) +
                          " is not a number of seconds between 0 and 86400 (e.g. 1 or 0.5)");
    return std::chrono::microseconds(std::llround(seconds * 1e6));
}

std::chrono::microseconds parsePositiveSeconds(std::string_view key, std::string_view value) {
    const auto interval = parseSeconds(key, value);
    if (interval.count() == 0)
        throw ConfigError(std::string(key) + "=" + std::string(value) +
                          " must be more than 0 seconds (e.g. 5 or 0.5)");
    return interval;
}

bool parseBoolean(std::string_view key, std::string_view value) {
    static constexpr std::array kTrue{"1", "yes", "true", "on"};
    static constexpr std::array kFalse{"0", "no", "false", "off"};
    if (std::find(kTrue.begin(), kTrue.end(), value) != kTrue.end())
        return true;
    if (std::find(kFalse.begin(), kFalse.end(), value) != kFalse.end())
        return false;
    throw ConfigError(std::string(key) + "=" + std::string(value) +
                      " is not a boolean (yes/no, true/false, on/off, 1/0)");
}

std::string parseLogLevel(std::string_view key, std::string_view value) {
    static constexpr std::array kLevels{"trace", "debug",    "info", "warn",
                                        "error", "critical", "off"};
    if (std::find(kLevels.begin(), kLevels.end(), value) == kLevels.end())
        throw ConfigError(std::string(key) + "=" + std::string(value) +
                          " is not one of: trace, debug, info, warn, error, critical, off");
    return std::string(value);
}

std::filesystem::path parseAbsolutePath(std::string_view key, std::string_view value) {
    std::filesystem::path path(value);
    if (!path.is_absolute())
        throw ConfigError(std::string(key) + "=" + std::string(value) + " is not an absolute path");
    return path.lexically_normal();
}

std::vector<std::string> applyConfigText(Config& config, const std::string& text,
                                         std::string_view origin) {
    // Parse into a copy so a file with an error leaves `config` untouched.
    Config updated = config;
    ParseContext ctx{&updated, origin, {}, std::nullopt};
    const int line = ini_parse_string(text.c_str(), iniHandler, &ctx);
    if (line != 0) {
        std::string what =
            ctx.firstError.value_or("syntax error (expected [Section] or Key=Value)");
        throw ConfigError(fmt::format("{}:{}: {}", origin, line, what));
    }
    config = std::move(updated);
    return ctx.warnings;
}

std::vector<std::string> applyConfigFiles(Config& config, const std::filesystem::path& file,
                                          bool required) {
    namespace fs = std::filesystem;
    auto readFile = [](const fs::path& path) {
        std::ifstream in(path, std::ios::binary);
        if (!in)
            throw ConfigError(path.string() + ": cannot open");
        // Read at most one byte past the limit instead of trusting a size that /dev/null or a
        // FIFO does not have.
        std::string text(kMaxConfigFileBytes + 1, '\0');
        in.read(text.data(), static_cast<std::streamsize>(text.size()));
        if (in.bad())
            throw ConfigError(path.string() + ": cannot read");
        text.resize(static_cast<std::size_t>(in.gcount()));
        if (text.size() > kMaxConfigFileBytes)
            throw ConfigError(path.string() + ": larger than 1 MiB, not a configuration file");
        return text;
    };

    std::vector<std::string> warnings;
    auto apply = [&](const fs::path& path) {
        auto w = applyConfigText(config, readFile(path), path.string());
        warnings.insert(warnings.end(), w.begin(), w.end());
    };

    std::error_code ec;
    if (fs::exists(file, ec))
        apply(file);
    else if (required)
        throw ConfigError(file.string() + ": no such configuration file");

    const fs::path dropInDir = file.string() + ".d";
    std::vector<fs::path> dropIns;
    if (fs::is_directory(dropInDir, ec)) {
        for (const auto& entry : fs::directory_iterator(dropInDir, ec)) {
            if (entry.path().extension() == ".conf" && !entry.is_directory())
                dropIns.push_back(entry.path());
        }
        if (ec)
            throw ConfigError(dropInDir.string() + ": cannot list: " + ec.message());
    }
    // Lexical order of the file names, as systemd does for its drop-ins.
    std::sort(dropIns.begin(), dropIns.end(),
              [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
    for (const auto& path : dropIns)
        apply(path);
    return warnings;
}

std::vector<std::string> applyReload(Config& running, const Config& reloaded) {
    std::vector<std::string> restartOnly;
    auto note = [&](bool differs, const char* key) {
        if (differs)
            restartOnly.emplace_back(key);
    };
    note(running.resctrlRoot != reloaded.resctrlRoot, "ResctrlRoot");
    note(running.sysfsRoot != reloaded.sysfsRoot, "SysfsRoot");
    note(running.stateDirectory != reloaded.stateDirectory, "StateDirectory");
    note(running.groupPrefix != reloaded.groupPrefix, "GroupPrefix");
    note(running.manageDefaultGroup != reloaded.manageDefaultGroup, "ManageDefaultGroup");
    note(running.sparseMasks != reloaded.sparseMasks, "SparseMasks");
    note(running.threadEvents != reloaded.threadEvents, "ThreadEvents");
    note(running.mount != reloaded.mount, "Mount");
    note(running.mountOptions != reloaded.mountOptions, "MountOptions");
    note(running.counterMode != reloaded.counterMode, "CounterMode");
    note(running.counterAssignment != reloaded.counterAssignment, "CounterAssignment");
    running.allowedGroups = reloaded.allowedGroups;
    running.hypervisorUsers = reloaded.hypervisorUsers;
    running.sampleInterval = reloaded.sampleInterval;
    running.checkInterval = reloaded.checkInterval;
    running.lockTimeout = reloaded.lockTimeout;
    running.logLevel = reloaded.logLevel;
    return restartOnly;
}

} // namespace resctrld
