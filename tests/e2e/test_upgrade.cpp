// SPDX-License-Identifier: LGPL-2.1-or-later
// Group names and state records across versions, end to end: the real daemon on a private bus,
// resctrlfs-sim and fake hypervisors. Names that resctrld 0.1's 32-bit hash mixed up get groups
// of their own; the groups and records that version left (standing for it: its record format
// and group names written here by hand) are adopted by today's daemon as they are, nothing
// created and nothing removed; a record of a later version keeps the daemon from starting.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include "../sim/conformance/sim_instance.h"
#include "daemon_fixture.h"
#include "dbus_names.h"
#include "domain_builder.h"
#include "harness.h"
#include "state_store.h"

using namespace resctrld;
using namespace resctrld::e2e;
namespace simtest = resctrld::simtest;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Two domain names with the same first 40 bytes once mangled and the same FNV-1a-32, the hash
// of resctrld 0.1's group names.
const std::string kNameA = "guest xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx 501871";
const std::string kNameB = "guest xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx 1052480";
// The stem resctrld 0.1 gave both: prefix, mangled first 40 bytes, '~', 32-bit hash.
const std::string kOldStem = "resctrld-guest_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx~36e25c83";

std::string config() {
    return "[Daemon]\nMount=no\nLogLevel=debug\nSampleIntervalSec=0\nCheckIntervalSec=0.5\n";
}

// 5 MiB (2 ways) of cache 0 for vCPUs 0-1 with a monitor of vCPU 0, and a monitor-only
// cachetune for vCPU 2: an allocation group, a monitor group in it and one under the root.
std::string definition(const std::string& name) {
    return Domain(name)
        .vcpus(3)
        .cachetune("0-1", l3(0, 5_MiB) + monitor("0"))
        .cachetune("2", monitor("2"));
}

// /proc/<pid>/task/<tid>/stat field 22 (start time), as the daemon records it.
std::uint64_t startTime(pid_t pid, pid_t tid) {
    const std::string stat =
        readFile(fs::path("/proc") / std::to_string(pid) / "task" / std::to_string(tid) / "stat");
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string field;
    for (int i = 3; i <= 22; ++i)
        fields >> field;
    return std::stoull(field);
}

// A record in format version 1, byte for byte as resctrld 0.1 wrote it.
std::string versionOneRecord(const std::string& name, const std::string& definitionXml,
                             pid_t hypervisor, const FakeHypervisor& threads,
                             const std::string& group, const std::string& schemata,
                             const std::string& reserved) {
    std::string out = "resctrld-domain 1\n";
    out += "name " + std::to_string(name.size()) + "\n" + name + "\n";
    out += "definition " + std::to_string(definitionXml.size()) + "\n" + definitionXml + "\n";
    out += "hypervisor " + std::to_string(hypervisor) + " " +
           std::to_string(startTime(hypervisor, hypervisor)) + "\n";
    for (const auto& [vcpu, tid] : threads.vcpus())
        out += "thread " + std::to_string(vcpu) + " " + std::to_string(tid) + " " +
               std::to_string(startTime(hypervisor, tid)) + "\n";
    out += "allocation " + std::to_string(group.size()) + " " + std::to_string(schemata.size()) +
           " " + std::to_string(reserved.size()) + "\n" + group + "\n" + schemata + "\n" +
           reserved + "\n";
    return out + "end " + std::to_string(stateChecksum(out)) + "\n";
}

// The daemon on the simulator, started by each test when its state is in place, with the
// queries of this file: the domains listed, the groups carrying the daemon's prefix, the state
// files.
struct UpgradeFixture : DaemonFixture {
    UpgradeFixture()
        : DaemonFixture({.config = config(), .startDaemon = false}) {
        fs::create_directory(stateDir);
        fs::permissions(stateDir, fs::perms::owner_all);
    }

    std::string log() { return daemon ? daemon->process().stderrText() : std::string(); }

    // Every group carrying the daemon's prefix, and the groups below them.
    std::set<std::string> prefixedGroups() const {
        std::set<std::string> groups;
        for (const std::string& group : sim.groups())
            if (group.starts_with("resctrld-") || group.starts_with("mon_groups/resctrld-"))
                groups.insert(group);
        return groups;
    }

    std::set<pid_t> tasksOf(const std::string& group) const {
        return simtest::readTasks(sim.at(group) / "tasks");
    }

    // The state directory's files but the daemon's instance lock.
    std::vector<fs::path> stateFiles() const {
        std::vector<fs::path> files;
        for (const auto& entry : fs::directory_iterator(stateDir))
            if (entry.path().filename() != "resctrld.lock")
                files.push_back(entry.path().filename());
        std::sort(files.begin(), files.end());
        return files;
    }
};

} // namespace

TEST_CASE("two names that resctrld 0.1's hash mixed up start side by side and stop apart",
          "[e2e][sim][naming]") {
    UpgradeFixture f;
    f.startDaemon();
    FakeHypervisor hvA(FAKE_HYPERVISOR_PATH, f.dir.path(), 3);
    FakeHypervisor hvB(FAKE_HYPERVISOR_PATH, f.dir.path(), 3);

    startDomainForProcess(*f.manager, definition(kNameA), hvA.pid());
    const auto groupsA = f.prefixedGroups();
    REQUIRE(groupsA.size() == 3);
    INFO(f.log());
    // Before, the second start failed with KernelRejected (File exists): the same group names.
    startDomainForProcess(*f.manager, definition(kNameB), hvB.pid());
    const auto both = f.prefixedGroups();
    REQUIRE(both.size() == 6);
    CHECK(f.domainNames() == std::set<std::string>{kNameA, kNameB});

    std::set<std::string> groupsB;
    for (const std::string& group : both)
        if (!groupsA.count(group))
            groupsB.insert(group);
    std::string allocationB;
    for (const std::string& group : groupsB)
        if (group.ends_with("-vcpus_0-1"))
            allocationB = group;
    REQUIRE_FALSE(allocationB.empty());
    CHECK(f.tasksOf(allocationB) == std::set<pid_t>{hvB.tid(0), hvB.tid(1)});

    // Before, stopping one removed the groups of both.
    stopDomain(*f.manager, kNameA);
    CHECK(f.prefixedGroups() == groupsB);
    CHECK(f.tasksOf(allocationB) == std::set<pid_t>{hvB.tid(0), hvB.tid(1)});
    CHECK(f.domainNames() == std::set<std::string>{kNameB});
}

TEST_CASE("an upgraded daemon adopts resctrld 0.1's records and groups, making and removing none",
          "[e2e][sim][upgrade]") {
    UpgradeFixture f;
    FakeHypervisor hv(FAKE_HYPERVISOR_PATH, f.dir.path(), 3);

    // What resctrld 0.1 left running: its groups, under its names, holding the threads...
    const std::string allocation = kOldStem + "-vcpus_0-1";
    const std::string inAllocation = allocation + "/mon_groups/vcpus_0";
    const std::string underRoot = "mon_groups/" + kOldStem + "-vcpus_2";
    const std::string schemata = "L3:0=3;1=7ff\n";
    REQUIRE(simtest::makeDir(f.sim.at(allocation)) == 0);
    REQUIRE(simtest::writeFile(f.sim.at(allocation + "/schemata"), schemata) == 0);
    REQUIRE(simtest::makeDir(f.sim.at(inAllocation)) == 0);
    REQUIRE(simtest::makeDir(f.sim.at(underRoot)) == 0);
    REQUIRE(simtest::writeFile(f.sim.at("schemata"), "L3:0=7fc\n") == 0);
    for (unsigned vcpu : {0u, 1u})
        REQUIRE(simtest::writeFile(f.sim.at(allocation + "/tasks"),
                                   std::to_string(hv.tid(vcpu)) + "\n") == 0);
    REQUIRE(simtest::writeFile(f.sim.at(inAllocation + "/tasks"),
                               std::to_string(hv.tid(0)) + "\n") == 0);
    REQUIRE(simtest::writeFile(f.sim.at(underRoot + "/tasks"), std::to_string(hv.tid(2)) + "\n") ==
            0);
    // ... and its record.
    const std::string record = versionOneRecord(kNameA, definition(kNameA), hv.pid(), hv,
                                                allocation, schemata, "L3:0=3\n");
    std::ofstream(f.stateDir / stateFileName(kNameA)) << record;
    const std::set<std::string> groups{allocation, inAllocation, underRoot};
    REQUIRE(f.prefixedGroups() == groups);
    const std::string schemataBefore = simtest::readFile(f.sim.at(allocation + "/schemata"));

    // Any mkdir or rmdir of such a group fails from now on: one would show in the log.
    f.sim.setControl("faults", "mkdir *guest* 100 EPERM\nrmdir *guest* 100 EPERM\n");
    f.startDaemon();
    INFO(f.log());
    // A start takes the resctrl lock after the repair of the adopted domains: once it returns,
    // recovery has done all it would do.
    FakeHypervisor other(FAKE_HYPERVISOR_PATH, f.dir.path(), 1);
    startDomainForProcess(*f.manager, Domain("beta").vcpus(1).cachetune("0", monitor("0")),
                          other.pid());

    CHECK(f.domainNames() == std::set<std::string>{kNameA, "beta"});
    std::set<std::string> withBeta = groups;
    withBeta.insert("mon_groups/resctrld-beta-vcpus_0");
    CHECK(f.prefixedGroups() == withBeta);
    CHECK(f.tasksOf(allocation) == std::set<pid_t>{hv.tid(0), hv.tid(1)});
    CHECK(f.tasksOf(inAllocation) == std::set<pid_t>{hv.tid(0)});
    CHECK(f.tasksOf(underRoot) == std::set<pid_t>{hv.tid(2)});
    CHECK(simtest::readFile(f.sim.at(allocation + "/schemata")) == schemataBefore);
    const std::string log = f.log();
    CHECK_THAT(log, Catch::Contains("re-adopted"));
    CHECK_THAT(log, !Catch::Contains("recreating") && !Catch::Contains("stray") &&
                        !Catch::Contains("cannot") && !Catch::Contains("corrupt"));

    // Its groups are the recorded ones for every call: a stop removes exactly them.
    f.sim.setControl("faults", "");
    stopDomain(*f.manager, kNameA);
    CHECK(f.prefixedGroups() == std::set<std::string>{"mon_groups/resctrld-beta-vcpus_0"});
    CHECK(f.stateFiles() == std::vector<fs::path>{"beta.domain"});
}

TEST_CASE("a record of a newer format keeps the daemon from starting, and nothing is deleted",
          "[e2e][sim][upgrade]") {
    UpgradeFixture f;
    f.startDaemon();
    FakeHypervisor hv(FAKE_HYPERVISOR_PATH, f.dir.path(), 3);
    startDomainForProcess(*f.manager, definition("alpha"), hv.pid());
    const auto groups = f.prefixedGroups();
    REQUIRE(groups.size() == 3);
    f.killDaemon();

    // What a later resctrld would leave before a downgrade: a record of a format after ours.
    const fs::path file = f.stateDir / "alpha.domain";
    const std::string current = readFile(file);
    REQUIRE(current.starts_with("resctrld-domain "));
    std::string text = current;
    text.replace(0, text.find('\n'), "resctrld-domain " + std::to_string(kStateFormatCurrent + 1));
    std::ofstream(file, std::ios::trunc) << text;

    f.startDaemon(/*waitReady=*/false);
    const auto status = f.daemon->process().waitExit();
    INFO(f.log());
    REQUIRE(status);
    CHECK(*status == 78);
    CHECK_THAT(f.log(), Catch::Contains("refusing to start") && Catch::Contains("alpha.domain") &&
                            Catch::Contains("newer resctrld"));
    CHECK(f.prefixedGroups() == groups);
    CHECK(f.tasksOf(*groups.begin()).size() > 0);
    CHECK(f.stateFiles() == std::vector<fs::path>{"alpha.domain"});
    CHECK(readFile(file) == text);

    // Back on the version that wrote it (here: the record as ours again), the domain is there.
    std::ofstream(file, std::ios::trunc) << current;
    f.startDaemon();
    CHECK(f.domainNames() == std::set<std::string>{"alpha"});
    CHECK(f.prefixedGroups() == groups);
}
