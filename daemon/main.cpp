// SPDX-License-Identifier: LGPL-2.1-or-later
// resctrld: owns the resctrl filesystem of a VM host and serves org.resctrld1 (docs/api.md).

#include <cerrno>
#include <config.h>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <malloc.h>
#include <memory>
#include <optional>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <sdbus-c++/sdbus-c++.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include "access_policy.h"
#include "command_line.h"
#include "daemon_config.h"
#include "event_loop.h"
#include "host_model.h"
#include "instance_lock.h"
#include "logging.h"
#include "manager_object.h"
#include "resctrl_mount.h"
#include "state_directory.h"
#include "state_store.h"
#include "text.h"

namespace {

// sysexits.h values, which systemd units can key RestartPreventExitStatus= on.
constexpr int kExitUsage = 64;
constexpr int kExitConfig = 78;
// EX_UNAVAILABLE: the bus went away. Restart=on-failure brings the daemon back, and it re-adopts
// every domain.
constexpr int kExitBusLost = 69;

std::unique_ptr<sdbus::IConnection> connectBus(const resctrld::CommandLine& commandLine) {
    switch (commandLine.bus) {
    case resctrld::BusKind::Session:
        return sdbus::createSessionBusConnection();
    case resctrld::BusKind::Address:
        return sdbus::createSessionBusConnectionWithAddress(commandLine.busAddress);
    case resctrld::BusKind::System:
        break;
    }
    return sdbus::createSystemBusConnection();
}

std::string describeBus(const resctrld::CommandLine& commandLine) {
    switch (commandLine.bus) {
    case resctrld::BusKind::Session:
        return "the session bus";
    case resctrld::BusKind::Address:
        return "the bus at " + commandLine.busAddress;
    case resctrld::BusKind::System:
        break;
    }
    return "the system bus";
}

// Mount=auto: mount resctrl when the root is an empty mount point; on
// failure keep serving with Mounted=false, since read-only callers still deserve answers.
void mountIfWanted(const resctrld::Config& config) {
    if (config.mount != resctrld::MountMode::Auto ||
        resctrld::probeResctrl(config.resctrlRoot).mounted)
        return;
    std::error_code ec;
    if (!std::filesystem::is_directory(config.resctrlRoot, ec)) {
        spdlog::warn("resctrl root {} does not exist; the kernel lacks resctrl or it is not "
                     "mounted there. Serving with Mounted=false",
                     config.resctrlRoot.string());
        return;
    }
    if (!resctrld::sharesInitMountNamespace()) {
        spdlog::warn("not mounting resctrl at {} from a private mount namespace: the kernel "
                     "deletes every group when the last mount goes, which would be when this "
                     "daemon exits. Mount it on the host (sys-fs-resctrl.mount). Serving with "
                     "Mounted=false",
                     config.resctrlRoot.string());
        return;
    }
    // The kernel refuses mba_MBps on a Sub-NUMA Clustering host (bandwidth is allocated per L3
    // and measured per node): mount without it, in percent, rather than not at all.
    std::string options = config.mountOptions;
    if (const unsigned nodes = resctrld::sncNodesPerL3(config.sysfsRoot); nodes > 1) {
        std::string kept;
        for (const std::string_view option : resctrld::split(options, ','))
            if (option != "mba_MBps")
                kept += (kept.empty() ? "" : ",") + std::string(option);
        if (kept != options)
            spdlog::warn("MountOptions={}: not asking for mba_MBps, which the kernel refuses on "
                         "this host with Sub-NUMA Clustering ({} nodes per L3); memory bandwidth "
                         "stays in percent",
                         options, nodes);
        options = kept;
    }
    try {
        resctrld::mountResctrl(config.resctrlRoot, options);
        spdlog::info("mounted resctrl at {}{}", config.resctrlRoot.string(),
                     options.empty() ? "" : " with " + options);
    } catch (const std::system_error& e) {
        // what() already ends with the errno text.
        spdlog::warn("{}. Serving with Mounted=false{}", e.what(),
                     e.code() == std::errc::operation_not_permitted
                         ? " (under resctrld.service, sys-fs-resctrl.mount mounts it)"
                         : "");
    }
}

// Every monitor holds one descriptor per counter file (a cache monitor on a 16-L3 host holds 16),
// so a busy host needs more than the soft limit of 1024 systemd gives services. The daemon uses
// poll(), never select(), so the hard limit is safe.
void raiseFileLimit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max)
        return;
    const auto soft = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
        spdlog::warn("cannot raise the open file limit from {}: {}", soft, std::strerror(errno));
}

// The configuration files and the command line, in that order. Throws ConfigError.
resctrld::Config readConfiguration(const resctrld::CommandLine& commandLine,
                                   std::vector<std::string>& warnings) {
    resctrld::Config config;
    const bool explicitFile = commandLine.configFile.has_value();
    warnings = resctrld::applyConfigFiles(
        config, commandLine.configFile.value_or(std::string(resctrld::defaultConfigFile())),
        explicitFile);
    resctrld::applyCommandLine(config, commandLine);
    return config;
}

// SIGHUP (systemctl reload): what can change at run time changes; no domain is touched.
void reload(const resctrld::CommandLine& commandLine, resctrld::Config& config,
            resctrld::AccessPolicy& access, resctrld::ManagerObject& manager) {
    sd_notify(0, "RELOADING=1");
    std::vector<std::string> warnings;
    try {
        const resctrld::Config reloaded = readConfiguration(commandLine, warnings);
        for (const std::string& key : resctrld::applyReload(config, reloaded))
            spdlog::warn("reload: {}= changed; it takes effect when resctrld is restarted "
                         "(domains and groups survive a restart)",
                         key);
        resctrld::setupLogging(config.logLevel);
        for (const auto& warning : warnings)
            spdlog::warn("{}", warning);
        access = resctrld::AccessPolicy(config.allowedGroups, config.hypervisorUsers);
        manager.configurationReloaded();
        spdlog::info("configuration reloaded");
    } catch (const resctrld::ConfigError& e) {
        spdlog::error("reload: {}; the running configuration is kept", e.what());
    }
    sd_notify(0, "READY=1\nSTATUS=Serving org.resctrld1");
}

int run(const resctrld::CommandLine& commandLine, resctrld::Config& config) {
    raiseFileLimit();
    // Signals become loop events; block them before anything could start a thread.
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    signal(SIGPIPE, SIG_IGN);

    // Before anything is read from or written to it.
    try {
        resctrld::prepareStateDirectory(config.stateDirectory, geteuid());
    } catch (const resctrld::UnsafeStateDirectory& e) {
        spdlog::error("refusing to start: {}", e.what());
        return kExitConfig;
    } catch (const std::system_error& e) {
        spdlog::error("cannot prepare the state directory: {}", e.what());
        return 1;
    }

    std::optional<resctrld::InstanceLock> lock;
    try {
        lock.emplace(config.stateDirectory);
    } catch (const resctrld::AlreadyRunning& e) {
        spdlog::error("refusing to start: {}", e.what());
        return 1;
    } catch (const std::system_error& e) {
        spdlog::error("cannot take the instance lock: {}", e.what());
        return 1;
    }

    // Records of a later resctrld (a downgrade) name groups this one would take for strays and
    // remove: nothing is read, moved or removed, and the daemon does not start.
    try {
        const auto newer = resctrld::StateStore(config.stateDirectory).newerRecords();
        if (!newer.empty()) {
            for (const std::string& record : newer)
                spdlog::error("refusing to start: {}", record);
            spdlog::error("refusing to start: {} has {} record(s) of a newer resctrld (state "
                          "format versions {} to {} are read); start that version again, or "
                          "stop its domains with it first",
                          config.stateDirectory.string(), newer.size(),
                          resctrld::kStateFormatOldest, resctrld::kStateFormatCurrent);
            return kExitConfig;
        }
    } catch (const std::system_error& e) {
        spdlog::error("cannot read the state directory: {}", e.what());
        return 1;
    }

    mountIfWanted(config);
    resctrld::AccessPolicy access(config.allowedGroups, config.hypervisorUsers);

    std::unique_ptr<sdbus::IConnection> bus;
    try {
        bus = connectBus(commandLine);
    } catch (const sdbus::Error& e) {
        spdlog::error("cannot connect to {}: {}", describeBus(commandLine), e.getMessage());
        return 1;
    }

    // Objects first, name second: a caller who sees the name must find the objects.
    resctrld::EventLoop loop(*bus);
    resctrld::ManagerObject manager(*bus, loop, config, access);
    resctrld::SignalWatch signals(loop, {SIGTERM, SIGINT, SIGHUP}, [&](int signal) {
        if (signal == SIGHUP) {
            reload(commandLine, config, access, manager);
            return;
        }
        spdlog::info("received {}, shutting down (groups and state are kept)",
                     signal == SIGTERM ? "SIGTERM" : "SIGINT");
        sd_notify(0, "STOPPING=1");
        loop.quit();
    });

    try {
        bus->requestName(resctrld::kBusName);
    } catch (const sdbus::Error& e) {
        spdlog::error("cannot own {} on {}: {} (is another resctrld running on that bus?)",
                      resctrld::kBusName, describeBus(commandLine), e.getMessage());
        return 1;
    }

    try {
        manager.startServing();
    } catch (const resctrld::AlreadyRunning& e) {
        spdlog::error("refusing to start: {}", e.what());
        return 1;
    }

    std::optional<resctrld::PeriodicTimer> watchdog;
    uint64_t watchdogUsec = 0;
    if (sd_watchdog_enabled(0, &watchdogUsec) > 0 && watchdogUsec > 0) {
        // Ping at half the deadline so one slow iteration does not get us killed.
        watchdog.emplace(loop, std::chrono::microseconds(watchdogUsec / 2),
                         [] { sd_notify(0, "WATCHDOG=1"); });
    }

    spdlog::info("resctrld {} serving {} on {} (resctrl root {}, state {})", RESCTRLD_VERSION,
                 resctrld::kBusName, describeBus(commandLine), config.resctrlRoot.string(),
                 config.stateDirectory.string());
    sd_notify(0, "READY=1\nSTATUS=Serving org.resctrld1");

    try {
        loop.run();
    } catch (const sdbus::Error& e) {
        // Every group and the state directory stay as they are: the VMs keep their tuning, and
        // the next daemon re-adopts them. Nothing below may emit on the dead connection.
        spdlog::error("lost the connection to {}: {}; exiting so that resctrld is restarted "
                      "(every resctrl group and the state directory are kept)",
                      describeBus(commandLine), e.getMessage());
        sd_notify(0, "STATUS=Lost the bus connection");
        return kExitBusLost;
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    // No fastbins: a definition's libxml2 tree (up to 1 MiB of XML, a hundred thousand small
    // nodes) is freed on the event loop after every ValidateDomain and StartDomain, and glibc
    // defers merging fastbin chunks to one sweep over all of them at the next large free; that
    // sweep, cold in cache, took half the daemon's time for a 1 MiB definition. Merged as they
    // are freed, the same definitions are checked two to three times faster; tcache still serves
    // the daemon's frequent small allocations.
    mallopt(M_MXFAST, 0);
    const std::string program = argc > 0 ? argv[0] : "resctrld";
    resctrld::CommandLine commandLine;
    try {
        commandLine = resctrld::parseCommandLine(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const resctrld::ConfigError& e) {
        std::cerr << "resctrld: " << e.what() << "\n";
        return kExitUsage;
    }
    if (commandLine.showHelp) {
        std::cout << resctrld::usageText(program);
        return 0;
    }
    if (commandLine.showVersion) {
        std::cout << "resctrld " << RESCTRLD_VERSION << "\n";
        return 0;
    }

    resctrld::Config config;
    std::vector<std::string> warnings;
    try {
        config = readConfiguration(commandLine, warnings);
    } catch (const resctrld::ConfigError& e) {
        std::cerr << "resctrld: " << e.what() << "\n";
        return kExitConfig;
    }

    resctrld::setupLogging(config.logLevel);
    for (const auto& warning : warnings)
        spdlog::warn("{}", warning);

    try {
        return run(commandLine, config);
    } catch (const std::exception& e) {
        spdlog::critical("fatal: {}", e.what());
        return 1;
    }
}
