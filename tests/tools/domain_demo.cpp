// SPDX-License-Identifier: LGPL-2.1-or-later
// The demo's driver (scripts/demo), until the daemon serves StartDomain: runs lib/'s real
// pipeline (host discovery, definition parsing, planning, group manager) against a resctrl root,
// for one definition and one hypervisor process, and shows the result.
//
//   domain-demo RESCTRL_ROOT SYSFS_ROOT DEFINITION.xml HYPERVISOR_PID SECONDS
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "domain_definition.h"
#include "errors.h"
#include "group_manager.h"
#include "host_model.h"
#include "process_table.h"

using namespace resctrld;

namespace {

std::string readAllText(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void showHost(const HostModel& host) {
    std::cout << "Host: " << host.closidBudget() << " control groups, " << host.rmidBudget()
              << " monitoring groups\n";
    for (const auto& cache : host.cacheResources) {
        std::cout << "  " << resourceName(cache.resource) << ": " << cache.ways()
                  << " ways, cache ids";
        for (const auto& [id, size] : cache.domains)
            std::cout << " " << id.value << " (" << formatBytes(size) << ", "
                      << formatBytes(cache.granularity(id)) << "/way)";
        std::cout << "\n";
    }
    for (const auto& bw : host.bandwidthResources)
        std::cout << "  " << resourceName(bw.resource) << ": min " << bw.minBandwidth << ", step "
                  << bw.bandwidthGran << " (" << toString(bw.unit) << ")\n";
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 6) {
        std::cerr << "usage: domain-demo RESCTRL_ROOT SYSFS_ROOT DEFINITION.xml PID SECONDS\n";
        return 2;
    }
    std::filesystem::path root = argv[1];
    try {
        HostModel host = HostModel::discover({root, argv[2], "/proc/self/mountinfo"});
        showHost(host);

        DomainDefinition definition = parseDomainDefinition(readAllText(argv[3]));
        pid_t pid = std::stoi(argv[4]);
        ProcessTable proc;
        std::vector<VcpuThread> threads;
        for (auto [vcpu, tid] : proc.vcpuThreads(pid))
            threads.push_back({vcpu, static_cast<std::uint32_t>(tid)});
        std::cout << "\nDomain " << definition.name << ": " << threads.size()
                  << " vCPU threads found in process " << pid << "\n";

        GroupManager manager(host, ResctrlFs(root));
        DomainGroups groups = manager.start(definition, threads);
        std::cout << "\nStarted. Groups:\n";
        for (const auto& group : groups.createdGroups()) {
            std::cout << "  " << group << "\n";
            std::istringstream schemata(readAllText(root / group / "schemata"));
            for (std::string line; std::getline(schemata, line);)
                std::cout << "      schemata " << line << "\n";
            std::istringstream tasks(readAllText(root / group / "tasks"));
            for (std::string tid; std::getline(tasks, tid);)
                std::cout << "      task " << tid << "\n";
        }
        std::cout << "  default group now: " << readAllText(root / "schemata");

        int seconds = std::stoi(argv[5]);
        for (int tick = 0; tick < seconds; ++tick) {
            std::this_thread::sleep_for(std::chrono::seconds(1));
            std::cout << "\nt=" << tick + 1 << "s cache occupancy:\n";
            for (std::size_t i = 0; i < groups.plan.monitors.size(); ++i) {
                auto dir = root / groups.monitorGroups[i] / "mon_data";
                std::cout << "  " << groups.plan.monitors[i].name << ":";
                for (const auto& entry : std::filesystem::directory_iterator(dir)) {
                    auto value = readAllText(entry.path() / "llc_occupancy");
                    if (!value.empty() && value.back() == '\n')
                        value.pop_back();
                    std::cout << " " << entry.path().filename().string() << "=" << value;
                }
                std::cout << "\n";
            }
        }

        manager.stop(groups);
        std::cout << "\nStopped. Default group: " << readAllText(root / "schemata");
    } catch (const Error& e) {
        std::cerr << "domain-demo: " << e.dbusName() << ": " << e.what() << "\n";
        return 1;
    }
    return 0;
}
