// SPDX-License-Identifier: LGPL-2.1-or-later
// The one fixture of the end-to-end tests on the simulator: a temporary directory, resctrlfs-sim,
// a private bus, resctrld serving the simulator, and a root client with a Manager proxy. Each
// test program says what it needs through Options; what a program adds on top are queries and
// helpers of its own theme, never another way to set things up.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "../sim/conformance/sim_instance.h"
#include "harness.h"

namespace sdbus {
class IConnection;
class IProxy;
} // namespace sdbus

namespace resctrld::e2e {

class DaemonFixture {
public:
    struct Options {
        // The simulated host: profile, kernel and mount options (sysfs is always written: the
        // daemon reads the topology from it).
        std::string profile = "skx-2s-l3cat";
        std::string kernel = "6.15";
        std::string mountOptions{};
        // The simulator's `absent` control file (e.g. "info/MB/delay_linear\n"), in place before
        // the daemon discovers the host.
        std::string absentInfoFiles{};
        // Written to the default group's schemata before the daemon starts.
        std::string rootSchemata{};
        // Run on the simulator before the daemon starts (after absentInfoFiles and
        // rootSchemata): host-wide settings an administrator makes before starting the daemon,
        // such as io_alloc switched on or BMEC event masks.
        std::function<void(const simtest::SimInstance&)> prepareSim{};
        // The daemon's configuration file, whole.
        std::string config = "[Daemon]\nMount=no\n";
        // Command-line arguments after --sysfs-root.
        std::vector<std::string> extraArgs{};
        // Started (and READY=1 received) by the constructor; else call startDaemon().
        bool startDaemon = true;
        // A bus configured like the system bus (PrivateBus::SystemLike) that includes the
        // daemon's policy file and these <busconfig> contents (an admin's additions); else a
        // session-like bus that lets everyone in.
        bool systemLikeBus = false;
        std::vector<std::string> busPolicyFragments{};
    };

    explicit DaemonFixture(Options options);
    DaemonFixture()
        : DaemonFixture(Options{}) {}
    // With RESCTRLD_E2E_LOG_DIR set, keeps the log of every daemon the test started there (the
    // evidence for a failure; the temporary directory goes away with the fixture).
    ~DaemonFixture();
    DaemonFixture(const DaemonFixture&) = delete;
    DaemonFixture& operator=(const DaemonFixture&) = delete;

    // The options a (re)started daemon gets: the configuration, the simulator's root and sysfs,
    // the state directory.
    Daemon::Options daemonOptions(bool waitReady = true) const;
    // Starts a daemon, replacing the one running (which should be gone: killDaemon()).
    void startDaemon(bool waitReady = true);
    // SIGKILL, and waits until the process is gone (it is not while a FUSE request of it is still
    // being answered: the kernel makes a killed task wait for a request already sent).
    void killDaemon();
    // Replaces the daemon's configuration for the next startDaemon().
    void setConfig(std::string config) { options_.config = std::move(config); }
    // ValidateDomain's answer to root: (group path, schemata) of each group it would create.
    std::vector<sdbus::Struct<std::string, std::string>> validate(const std::string& definition);
    // The names of the started domains, as ListDomains answers root.
    std::set<std::string> domainNames();
    // Every file of the state directory with its bytes, but the instance lock (it holds the
    // running daemon's pid, which a restart changes by design).
    std::map<std::string, std::string> stateDirFiles() const;

    TempDir dir;
    simtest::SimInstance sim;
    PrivateBus bus;
    std::filesystem::path stateDir;
    std::optional<Daemon> daemon;
    std::unique_ptr<sdbus::IConnection> connection;
    std::unique_ptr<sdbus::IProxy> manager;

private:
    Options options_;
};

} // namespace resctrld::e2e
