// SPDX-License-Identifier: LGPL-2.1-or-later
// The cost of resctrlctl's read commands as a whole process: exec, dynamic linking, connecting,
// the calls, decoding, formatting JSON. The floor is a minimal sd-bus program making the same
// calls on the same bus and walking the same answer, also started as a process each time.
#include "bench_cli.h"

#include <algorithm>
#include <chrono>
#include <fcntl.h>
#include <iostream>
#include <spawn.h>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include <sdbus-c++/sdbus-c++.h>

#include "../tests/e2e/dbus_names.h"
#include "../tests/e2e/harness.h"
#include "../tests/sim/conformance/sim_instance.h"
#include "bench_stack.h"

extern char** environ;

namespace resctrld::bench {

namespace {

using namespace resctrld::e2e;
using Microseconds = std::chrono::duration<double, std::micro>;

constexpr double kTargetRatio = 1.5;
constexpr const char* kProfile = "milan-2s";
// milan-2s numbers its L3 ids 0-7 and 16-23 (one per CCX, by socket).
unsigned l3Id(unsigned index) {
    return index < 8 ? index : index + 8;
}

double medianOf(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::string fixed(double value, int decimals) {
    std::ostringstream text;
    text.setf(std::ios::fixed);
    text.precision(decimals);
    text << value;
    return text.str();
}

// Runs argv with its output to /dev/null and returns the wall time from spawn to reaped exit.
double timedRun(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    const auto start = std::chrono::steady_clock::now();
    pid_t pid = -1;
    const int r = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (r != 0)
        throw std::runtime_error("cannot run " + argv[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    const auto elapsed = Microseconds(std::chrono::steady_clock::now() - start).count();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error(argv[0] + " failed in the benchmark");
    return elapsed;
}

// One cachetune of vCPUs 0-1 on one L3 id with a monitor per vCPU.
std::string benchDomain(const std::string& name, unsigned cacheId) {
    const std::string id = std::to_string(cacheId);
    return "<domain type='kvm'><name>" + name +
           "</name><vcpu placement='static'>2</vcpu><cputune><cachetune vcpus='0-1'><cache id='" +
           id +
           "' level='3' type='both' size='2' unit='MiB'/><monitor level='3' vcpus='0'/>"
           "<monitor level='3' vcpus='1'/></cachetune></cputune></domain>";
}

} // namespace

std::vector<BenchRow> benchCli(const std::filesystem::path& dir, int runs,
                               const std::string& resctrlctl, const std::string& floorCli,
                               const std::string& fakeHypervisor) {
    std::filesystem::create_directories(dir);
    BenchStack stack(dir, kProfile);

    // As many domains as the host has CLOSIDs: every one holds one.
    const auto closids =
        stack.manager->getProperty("ClosidsTotal").onInterface(kManager).get<std::uint32_t>();
    std::vector<std::unique_ptr<FakeHypervisor>> vms;
    for (unsigned i = 0; i < closids; ++i) {
        vms.push_back(std::make_unique<FakeHypervisor>(fakeHypervisor, dir, 2));
        startDomain(*stack.manager, benchDomain("bench" + std::to_string(i), l3Id(i % 16)),
                    vms.back()->vcpuThreads());
    }
    const std::string address = stack.bus.address();
    const std::string name = "bench" + std::to_string(closids / 2);
    struct Case {
        std::string label;
        std::vector<std::string> cli;
        std::vector<std::string> floor;
    };
    const std::vector<Case> cases{
        {"list", {resctrlctl, "--bus", address, "list", "--json"}, {floorCli, address, "list"}},
        {"show",
         {resctrlctl, "--bus", address, "show", name, "--json"},
         {floorCli, address, "show", name}},
    };
    std::vector<BenchRow> rows;
    for (const auto& c : cases) {
        for (int i = 0; i < 5; ++i) { // warm-up: page cache, the bus's first requests
            timedRun(c.cli);
            timedRun(c.floor);
        }
        std::vector<double> cliUs, floorUs;
        for (int i = 0; i < runs * 10; ++i) {
            cliUs.push_back(timedRun(c.cli));
            floorUs.push_back(timedRun(c.floor));
        }
        const double d = medianOf(cliUs);
        const double f = medianOf(floorUs);
        const double ratio = d / f;
        BenchRow row;
        row.line = "cli-" + c.label + ": resctrlctl " + c.label + " --json with " +
                   std::to_string(closids) + " domains on " + kProfile + " " + fixed(d, 0) +
                   " us, floor (sd-bus, same calls) " + fixed(f, 0) + " us, ratio " +
                   fixed(ratio, 2) + (ratio <= kTargetRatio ? "" : " (above the target of 1.5)");
        row.json = "{\"bench\": \"cli-" + c.label + "\", \"profile\": \"" + kProfile +
                   "\", \"domains\": " + std::to_string(closids) +
                   ", \"resctrlctl_us\": " + fixed(d, 1) + ", \"floor_us\": " + fixed(f, 1) +
                   ", \"ratio\": " + fixed(ratio, 3) +
                   ", \"samples\": " + std::to_string(runs * 10) + "}";
        std::cout << row.line << std::endl;
        rows.push_back(row);
    }
    return rows;
}

} // namespace resctrld::bench
