// SPDX-License-Identifier: LGPL-2.1-or-later
// The daemon on a simulated host (kernel 6.15, mounted by the simulator), on a private bus of its
// own, sampling on request only, with a client connection and a proxy of the Manager: what the
// bus-level benchmarks (layout, validate, cli) call.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include <sdbus-c++/sdbus-c++.h>

#include "../tests/e2e/dbus_names.h"
#include "../tests/e2e/harness.h"
#include "../tests/sim/conformance/sim_instance.h"

namespace resctrld::bench {

struct BenchStack {
    BenchStack(const std::filesystem::path& dir, const std::string& profile)
        : sim({profile, "6.15", "", true})
        , bus(dir)
        , daemon(bus, dir, daemonOptions(dir, sim))
        , connection(sdbus::createSessionBusConnectionWithAddress(bus.address()))
        , manager(sdbus::createProxy(*connection, e2e::kService, e2e::kRootPath)) {}

    simtest::SimInstance sim;
    e2e::PrivateBus bus;
    e2e::Daemon daemon;
    std::unique_ptr<sdbus::IConnection> connection;
    std::unique_ptr<sdbus::IProxy> manager;

private:
    static e2e::Daemon::Options daemonOptions(const std::filesystem::path& dir,
                                              const simtest::SimInstance& sim) {
        e2e::Daemon::Options options;
        options.configText = "[Daemon]\nMount=no\nSampleIntervalSec=0\n";
        options.resctrlRoot = sim.root();
        options.extraArgs = {"--sysfs-root", sim.sysfsDir().string()};
        options.stateDir = dir / "state";
        return options;
    }
};

} // namespace resctrld::bench
