// SPDX-License-Identifier: LGPL-2.1-or-later
// The cost of GetLayout, which every local user may call, with every CLOSID of the host in use.
// The floor is what no implementation can avoid: one bus round trip (a trivial sdbus-c++ service
// on the same bus) and the reads GetLayout needs (one listing of the resctrl root, one read of
// each control group's schemata), made in this process in the same run. The daemon's figure is
// the whole call as a client sees it, its answer decoded.
#include "bench_layout.h"

#include <algorithm>
#include <chrono>
#include <dirent.h>
#include <fcntl.h>
#include <iostream>
#include <sys/stat.h>
#include <unistd.h>

#include <sdbus-c++/sdbus-c++.h>

#include "../tests/e2e/dbus_names.h"
#include "../tests/e2e/harness.h"
#include "../tests/sim/conformance/sim_instance.h"
#include "bench_stack.h"
#include "bench_util.h"

namespace resctrld::bench {

namespace {

using namespace resctrld::e2e;
using Microseconds = std::chrono::duration<double, std::micro>;

constexpr double kTargetRatio = 1.5;
constexpr std::chrono::seconds kCallTimeout{120};
constexpr const char* kProfile = "milan-2s";

using WireHolders = std::vector<sdbus::Struct<std::string, std::string, std::string>>;
using CacheList = std::vector<sdbus::Struct<std::string, std::uint32_t, std::uint32_t,
                                            std::uint64_t, std::string, std::string, WireHolders>>;
using BandwidthList =
    std::vector<sdbus::Struct<std::string, std::string, std::uint32_t, WireHolders>>;

// Reads a whole file as the daemon does (until EOF: resctrl files have st_size 0).
void readWhole(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw std::runtime_error("cannot open " + path);
    char buffer[4096];
    off_t offset = 0;
    for (ssize_t n; (n = ::pread(fd, buffer, sizeof buffer, offset)) > 0;)
        offset += n;
    ::close(fd);
}

// The floor's file part: the root listing, then the root's and every control group's schemata.
void readLayoutFiles(const std::string& root) {
    std::vector<std::string> groups;
    DIR* dir = ::opendir(root.c_str());
    if (dir == nullptr)
        throw std::runtime_error("cannot list " + root);
    while (const dirent* entry = ::readdir(dir)) {
        const std::string name = entry->d_name;
        if (entry->d_type == DT_DIR && name != "." && name != ".." && name != "info" &&
            name != "mon_groups" && name != "mon_data")
            groups.push_back(name);
    }
    ::closedir(dir);
    readWhole(root + "/schemata");
    for (const std::string& group : groups)
        readWhole(root + "/" + group + "/schemata");
}

void trivialCall(sdbus::IProxy& floor) {
    std::uint32_t value = 0;
    floor.callMethod("Trivial").onInterface("org.resctrld1.BenchFloor").storeResultsTo(value);
}

std::size_t getLayout(sdbus::IProxy& manager) {
    CacheList caches;
    BandwidthList bandwidth;
    manager.callMethod("GetLayout")
        .onInterface(kManager)
        .withTimeout(kCallTimeout)
        .storeResultsTo(caches, bandwidth);
    std::size_t groups = 0;
    for (const auto& entry : caches)
        groups = std::max(groups, entry.get<6>().size());
    return groups;
}

// A domain of 2 x `allocations` vCPUs with one cachetune of one way per pair of vCPUs, on L3 ids
// `first`, `first` + 1, ..., each with two monitors of one vCPU (two monitoring groups).
std::string benchDomain(const std::string& name, unsigned first, unsigned allocations) {
    std::string xml = "<domain type='kvm'><name>" + name + "</name><vcpu placement='static'>" +
                      std::to_string(2 * allocations) + "</vcpu><cputune>";
    for (unsigned i = 0; i < allocations; ++i) {
        const unsigned a = 2 * i, b = a + 1;
        xml += "<cachetune vcpus='" + std::to_string(a) + "-" + std::to_string(b) +
               "'><cache id='" + std::to_string(first + i) +
               "' level='3' type='both' size='2' unit='MiB'/><monitor level='3' vcpus='" +
               std::to_string(a) + "'/><monitor level='3' vcpus='" + std::to_string(b) +
               "'/></cachetune>";
    }
    return xml + "</cputune></domain>";
}

} // namespace

std::vector<BenchRow> benchLayout(const std::filesystem::path& dir, int runs,
                                  const std::string& floorDbus, const std::string& fakeHypervisor) {
    std::filesystem::create_directories(dir);
    BenchStack stack(dir, kProfile);

    // Every CLOSID in use: two domains' groups first (6 groups, 12 monitoring groups), then
    // foreign groups made directly, each with a monitoring group, until mkdir runs out.
    constexpr unsigned kAllocations = 6;
    FakeHypervisor vm1(fakeHypervisor, dir, 2 * (kAllocations - 1));
    startDomain(*stack.manager, benchDomain("bench1", 0, kAllocations - 1), vm1.vcpuThreads(),
                kCallTimeout);
    FakeHypervisor vm2(fakeHypervisor, dir, 2);
    startDomain(*stack.manager, benchDomain("bench2", kAllocations - 1, 1), vm2.vcpuThreads(),
                kCallTimeout);
    unsigned foreign = 0;
    for (;; ++foreign) {
        const auto group = stack.sim.at("foreign" + std::to_string(foreign));
        if (::mkdir(group.c_str(), 0755) != 0)
            break;
        ::mkdir((group / "mon_groups" / "m").c_str(), 0755);
        resctrld::simtest::writeFile(group / "schemata", "MB:0=512\n");
    }
    const auto closidsFree =
        stack.manager->getProperty("ClosidsFree").onInterface(kManager).get<std::uint32_t>();
    if (closidsFree != 0 || foreign == 0)
        throw std::runtime_error("the layout benchmark needs every CLOSID in use; " +
                                 std::to_string(closidsFree) + " are free");

    Process::Options floorOptions;
    floorOptions.pipeStdout = true;
    Process floorService({floorDbus, stack.bus.address()}, dir, floorOptions);
    if (floorService.readStdoutLine() != std::optional<std::string>("ready"))
        throw std::runtime_error("bench-floor-dbus did not start: " + floorService.stderrText());
    auto floor = sdbus::createProxy(*stack.connection, "org.resctrld1.BenchFloor",
                                    "/org/resctrld1/BenchFloor");

    const std::size_t groups = getLayout(*stack.manager);
    if (groups != 1 + kAllocations + foreign)
        throw std::runtime_error("GetLayout shows " + std::to_string(groups) +
                                 " groups on a cache id, not " +
                                 std::to_string(1 + kAllocations + foreign));
    const std::string root = stack.sim.root().string();
    for (int i = 0; i < 20; ++i) { // warm-up: page faults, the bus's and FUSE's first requests
        getLayout(*stack.manager);
        trivialCall(*floor);
        readLayoutFiles(root);
    }
    std::vector<double> daemonUs, floorUs;
    for (int i = 0; i < runs * 10; ++i) {
        auto start = std::chrono::steady_clock::now();
        getLayout(*stack.manager);
        daemonUs.push_back(Microseconds(std::chrono::steady_clock::now() - start).count());
        start = std::chrono::steady_clock::now();
        trivialCall(*floor);
        readLayoutFiles(root);
        floorUs.push_back(Microseconds(std::chrono::steady_clock::now() - start).count());
    }
    const double d = medianOf(daemonUs);
    const double f = medianOf(floorUs);
    const double ratio = d / f;
    BenchRow row;
    row.line = "layout: GetLayout on " + std::string(kProfile) + " with " + std::to_string(groups) +
               " control groups (" + std::to_string(foreign) + " foreign) and " +
               std::to_string(2 * kAllocations + foreign) + " monitoring groups " + fixed(d, 1) +
               " us, floor (round trip + the same reads) " + fixed(f, 1) + " us, ratio " +
               fixed(ratio, 2) + (ratio <= kTargetRatio ? "" : " (above the target of 1.5)");
    row.json = "{\"bench\": \"layout\", \"profile\": \"" + std::string(kProfile) +
               "\", \"control_groups\": " + std::to_string(groups) +
               ", \"daemon_us\": " + fixed(d, 2) + ", \"floor_us\": " + fixed(f, 2) +
               ", \"ratio\": " + fixed(ratio, 3) + ", \"samples\": " + std::to_string(runs * 10) +
               "}";
    std::cout << row.line << std::endl;
    return {row};
}

} // namespace resctrld::bench
