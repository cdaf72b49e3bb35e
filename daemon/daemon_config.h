// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "counter_policy.h"
#include "mbm_assignment.h"

namespace resctrld {

// A configuration file, drop-in or command-line value the daemon cannot use. The message names
// the file, line and key, and what would be accepted.
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class MountMode { Auto, No };

// The daemon's settings. Defaults here are the documented defaults of config/resctrld.conf; keep
// the two in step.
struct Config {
    std::filesystem::path resctrlRoot = "/sys/fs/resctrl";
    std::filesystem::path sysfsRoot = "/sys";
    std::filesystem::path stateDirectory = "/run/resctrld";
    // 0 = sample only on request (Monitor.Sample, GetStats).
    std::chrono::microseconds sampleInterval = std::chrono::seconds(1);
    // How often started domains are checked (threads in their groups, groups present, hot-plugged
    // vCPUs); a hypervisor's exit is noticed at once through its pidfd. Never 0.
    std::chrono::microseconds checkInterval = std::chrono::seconds(5);
    std::string groupPrefix = "resctrld-";
    bool manageDefaultGroup = true;
    // SparseMasks=: place a reservation in non-contiguous free ways when no contiguous run fits
    // and the host's sparse_masks allows it. Off by default: a sparse reservation leaves the
    // free ways fragmented for later requests.
    bool sparseMasks = false;
    // Whether to learn of new vCPU threads from the kernel's process events (needs
    // CAP_NET_ADMIN) rather than from the periodic check alone.
    bool threadEvents = true;
    MountMode mount = MountMode::Auto;
    std::string mountOptions;
    // Names of groups whose members may call the mutating methods besides root.
    std::vector<std::string> allowedGroups;
    // Users whose processes' threads a caller other than root may pass besides its own: the users
    // hypervisors run as (libvirt's QEMU user on Debian and on Fedora).
    std::vector<std::string> hypervisorUsers = {"libvirt-qemu", "qemu"};
    std::chrono::microseconds lockTimeout = std::chrono::seconds(5);
    std::string logLevel = "info";
    // CounterMode=: nullopt (keep) never writes the host-wide mbm_assign_mode; a mode switches
    // to it once at start-up.
    std::optional<CounterMode> counterMode;
    CounterAssignment counterAssignment = CounterAssignment::Auto;
};

// <sysconfdir>/resctrld/resctrld.conf of the build (/etc/resctrld/resctrld.conf for a
// distribution).
std::string_view defaultConfigFile();
inline constexpr std::string_view kConfigSection = "Daemon";

// Applies the [Daemon] assignments of one INI text on top of `config`. `origin` names the text in
// messages (a file name). Unknown keys and sections are not fatal (a newer configuration must not
// stop an older daemon) but are returned as warnings; a bad value throws ConfigError.
std::vector<std::string> applyConfigText(Config& config, const std::string& text,
                                         std::string_view origin);

// Applies `file` (when it exists, or always when `required`), then every `*.conf` in
// `<file>.d/` in lexical order: later files override earlier ones key by key.
std::vector<std::string> applyConfigFiles(Config& config, const std::filesystem::path& file,
                                          bool required);

// A reload (SIGHUP): copies into `running` what a running daemon applies at once (AllowedGroups=,
// HypervisorUsers=, SampleIntervalSec=, CheckIntervalSec=, LockTimeoutSec=, LogLevel=) and
// returns the keys of the settings that differ but take effect only at the next start (the
// resctrl and sysfs roots, the state directory, the group prefix, the default group, mounting,
// the counter mode and assignment).
std::vector<std::string> applyReload(Config& running, const Config& reloaded);

// Parsers shared by the file and the command line; they throw ConfigError naming `key`.
std::chrono::microseconds parseSeconds(std::string_view key, std::string_view value);
// parseSeconds, refusing 0.
std::chrono::microseconds parsePositiveSeconds(std::string_view key, std::string_view value);
bool parseBoolean(std::string_view key, std::string_view value);
std::string parseLogLevel(std::string_view key, std::string_view value);
std::filesystem::path parseAbsolutePath(std::string_view key, std::string_view value);

} // namespace resctrld
