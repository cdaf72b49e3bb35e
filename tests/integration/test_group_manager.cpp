// SPDX-License-Identifier: LGPL-2.1-or-later
// The group manager against the real simulator: groups, schemata, tasks, rollback after kernel
// errors, the default group, foreign groups and stray groups.
#include <set>
#include <vector>

#include <catch2/catch.hpp>

#include "../sim/conformance/sim_instance.h"
#include "../sim/conformance/test_thread.h"
#include "domain_definition.h"
#include "errors.h"
#include "group_manager.h"
#include "host_model.h"

using namespace resctrld;
using namespace resctrld::simtest;
namespace fs = std::filesystem;

namespace {

HostModel discoverSim(const SimInstance& sim) {
    return HostModel::discover({sim.root(), sim.sysfsDir(), "/proc/self/mountinfo"});
}

std::set<std::string> groupsIn(const fs::path& dir) {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) {
        auto name = entry.path().filename().string();
        if (entry.is_directory() && name != "info" && name != "mon_groups" && name != "mon_data")
            names.insert(name);
    }
    return names;
}

std::string readText(const fs::path& path) {
    return simtest::readFile(path);
}

const char* kTwoGroups = R"(<domain type='kvm'>
  <name>vm1</name>
  <vcpu>4</vcpu>
  <cputune>
    <cachetune vcpus='0-1'>
      <cache id='0' level='3' type='both' size='5' unit='MiB'/>
      <monitor level='3' vcpus='0-1'/>
      <monitor level='3' vcpus='1'/>
    </cachetune>
    <cachetune vcpus='2-3'>
      <monitor level='3' vcpus='2'/>
    </cachetune>
  </cputune>
</domain>)";

} // namespace

TEST_CASE("start creates groups, schemata, monitors and tasks; stop removes them",
          "[group-manager][sim]") {
    SimInstance sim({"skx-2s-l3cat", "6.1", "", true});
    HostModel host = discoverSim(sim);
    GroupManager manager(host, ResctrlFs(sim.root()));
    const auto lock = ResctrlLock::acquire(sim.root(), std::chrono::seconds(5));
    std::string rootBefore = readText(sim.at("schemata"));

    TestThread cpu0, cpu1, cpu2, cpu3;
    std::vector<VcpuThread> threads{{0, static_cast<std::uint32_t>(cpu0.tid())},
                                    {1, static_cast<std::uint32_t>(cpu1.tid())},
                                    {2, static_cast<std::uint32_t>(cpu2.tid())},
                                    {3, static_cast<std::uint32_t>(cpu3.tid())}};
    DomainGroups groups = manager.start(lock, parseDomainDefinition(kTwoGroups), threads);

    REQUIRE(groups.allocationGroups() == std::vector<std::string>{"resctrld-vm1-vcpus_0-1"});
    CHECK(groups.monitorGroups() ==
          std::vector<std::string>{"resctrld-vm1-vcpus_0-1",
                                   "resctrld-vm1-vcpus_0-1/mon_groups/vcpus_1",
                                   "mon_groups/resctrld-vm1-vcpus_2"});
    // 5 MiB = 2 ways of 2.5 MiB, placed outside shareable_bits 600; cache 1 gets the default
    // group's mask; the default group gives up the two ways.
    auto schemata = Schemata::parse(readText(sim.at("resctrld-vm1-vcpus_0-1/schemata")));
    CHECK(schemata.mask(Resource::L3, CacheId{0}) == CbmMask(0x3));
    CHECK(schemata.mask(Resource::L3, CacheId{1}) == CbmMask(0x7ff));
    auto root = Schemata::parse(readText(sim.at("schemata")));
    CHECK(root.mask(Resource::L3, CacheId{0}) == CbmMask(0x7fc));
    CHECK(root.mask(Resource::L3, CacheId{1}) == CbmMask(0x7ff));

    auto allocTasks = readTasks(sim.at("resctrld-vm1-vcpus_0-1/tasks"));
    CHECK(allocTasks == std::set<pid_t>{cpu0.tid(), cpu1.tid()});
    CHECK(readTasks(sim.at("resctrld-vm1-vcpus_0-1/mon_groups/vcpus_1/tasks")) ==
          std::set<pid_t>{cpu1.tid()});
    CHECK(readTasks(sim.at("mon_groups/resctrld-vm1-vcpus_2/tasks")) ==
          std::set<pid_t>{cpu2.tid()});

    manager.stop(lock, groups);
    CHECK(groupsIn(sim.root()).empty());
    CHECK_FALSE(pathExists(sim.at("mon_groups/resctrld-vm1-vcpus_2")));
    CHECK(Schemata::parse(readText(sim.at("schemata"))) == Schemata::parse(rootBefore));
    CHECK(readTasks(sim.at("tasks")).count(cpu0.tid()) == 1);
}

TEST_CASE("validate reports the groups and changes nothing", "[group-manager][sim]") {
    SimInstance sim({"skx-2s-l3cat", "6.15", "", true});
    HostModel host = discoverSim(sim);
    GroupManager manager(host, ResctrlFs(sim.root()));
    // Held while validate runs: it must not need the lock.
    const auto lock = ResctrlLock::acquire(sim.root(), std::chrono::seconds(5));
    std::string rootBefore = readText(sim.at("schemata"));

    auto planned = manager.validate(parseDomainDefinition(kTwoGroups));
    REQUIRE(planned.size() == 3);
    CHECK(planned[0].path == "resctrld-vm1-vcpus_0-1");
    CHECK(Schemata::parse(planned[0].schemata).mask(Resource::L3, CacheId{0}) == CbmMask(0x3));
    CHECK(planned[1] == PlannedGroup{"resctrld-vm1-vcpus_0-1/mon_groups/vcpus_1", ""});
    CHECK(planned[2] == PlannedGroup{"mon_groups/resctrld-vm1-vcpus_2", ""});
    CHECK(groupsIn(sim.root()).empty());
    CHECK(readText(sim.at("schemata")) == rootBefore);
}

TEST_CASE("a kernel error at any step leaves nothing behind", "[group-manager][sim]") {
    auto [op, glob, expected] = GENERATE(table<std::string, std::string, std::string>({
        {"mkdir", "resctrld-vm1-vcpus_0-1", "create group"},
        {"write", "resctrld-*/schemata", "write 'L3:"},
        {"mkdir", "*mon_groups/vcpus_1", "create group"},
        {"mkdir", "mon_groups/resctrld-*", "create group"},
        {"write", "schemata", "default group"},
        {"write", "*/mon_groups/vcpus_1/tasks", "move thread"},
    }));
    SimInstance sim({"skx-2s-l3cat", "6.15", "", true});
    HostModel host = discoverSim(sim);
    GroupManager manager(host, ResctrlFs(sim.root()));
    const auto lock = ResctrlLock::acquire(sim.root(), std::chrono::seconds(5));
    std::string rootBefore = readText(sim.at("schemata"));
    sim.setControl("faults", op + " " + glob + " 1 EIO\n");

    TestThread cpu0, cpu1;
    std::vector<VcpuThread> threads{{0, static_cast<std::uint32_t>(cpu0.tid())},
                                    {1, static_cast<std::uint32_t>(cpu1.tid())}};
    INFO(op << " " << glob);
    try {
        manager.start(lock, parseDomainDefinition(kTwoGroups), threads);
        FAIL("start succeeded despite the injected fault");
    } catch (const KernelRejected& e) {
        CHECK_THAT(e.what(), Catch::Contains(expected) && Catch::Contains("Input/output error"));
    }
    CHECK(groupsIn(sim.root()).empty());
    CHECK(groupsIn(sim.at("mon_groups")).empty());
    CHECK(Schemata::parse(readText(sim.at("schemata"))) == Schemata::parse(rootBefore));
}

TEST_CASE("a thread that does not exist is ProcessNotFound and rolls back",
          "[group-manager][sim]") {
    SimInstance sim({"skx-2s-l3cat", "6.1", "", true});
    HostModel host = discoverSim(sim);
    GroupManager manager(host, ResctrlFs(sim.root()));
    const auto lock = ResctrlLock::acquire(sim.root(), std::chrono::seconds(5));
    std::vector<VcpuThread> threads{{0, static_cast<std::uint32_t>(unusedTid())}};
    CHECK_THROWS_AS(manager.start(lock, parseDomainDefinition(kTwoGroups), threads),
                    ProcessNotFound);
    CHECK(groupsIn(sim.root()).empty());
}

TEST_CASE("domains compete for ways until NoSpace; foreign groups keep theirs",
          "[group-manager][sim]") {
    SimInstance sim({"bdx-2s", "6.15", "", true});
    HostModel host = discoverSim(sim);
    GroupManager manager(host, ResctrlFs(sim.root()));
    const auto lock = ResctrlLock::acquire(sim.root(), std::chrono::seconds(5));
    // A foreign tool holds ways 0-3 of cache 0.
    REQUIRE(makeDir(sim.at("pqos-cos1")) == 0);
    REQUIRE(writeFile(sim.at("pqos-cos1/schemata"), "L3:0=f\n") == 0);

    auto domain = [](const std::string& name, unsigned mib) {
        return parseDomainDefinition("<domain><name>" + name +
                                     "</name><cputune><cachetune vcpus='0'><cache id='0' "
                                     "level='3' type='both' size='" +
                                     std::to_string(mib) +
                                     "' unit='MiB'/></cachetune>"
                                     "</cputune></domain>");
    };
    // 20 ways of 2 MiB; c0000 is shared with I/O; 4 ways are foreign: 14 ways outside both.
    auto a = manager.start(lock, domain("a", 16), {});
    auto b = manager.start(lock, domain("b", 12), {});
    CHECK(Schemata::parse(readText(sim.at("resctrld-a-vcpus_0/schemata")))
              .mask(Resource::L3, CacheId{0}) == CbmMask(0xff0));
    CHECK(Schemata::parse(readText(sim.at("pqos-cos1/schemata"))).mask(Resource::L3, CacheId{0}) ==
          CbmMask(0xf));
    auto before = groupsIn(sim.root());
    try {
        manager.start(lock, domain("c", 12), {});
        FAIL("a third domain fit");
    } catch (const NoSpace& e) {
        CHECK_THAT(e.what(), Catch::Contains("cache 0"));
    }
    CHECK(groupsIn(sim.root()) == before);
    manager.stop(lock, a);
    CHECK_NOTHROW(manager.stop(lock, b));
    CHECK(groupsIn(sim.root()) == std::set<std::string>{"pqos-cos1"});
}

TEST_CASE("stray prefixed groups are removed, foreign and known ones stay",
          "[group-manager][sim]") {
    SimInstance sim({"skx-2s-l3cat", "6.15", "", true});
    HostModel host = discoverSim(sim);
    GroupManager manager(host, ResctrlFs(sim.root()));
    const auto lock = ResctrlLock::acquire(sim.root(), std::chrono::seconds(5));
    REQUIRE(makeDir(sim.at("resctrld-gone-vcpus_0")) == 0);
    REQUIRE(makeDir(sim.at("resctrld-kept-vcpus_0")) == 0);
    REQUIRE(makeDir(sim.at("mon_groups/resctrld-gone-vcpus_1")) == 0);
    REQUIRE(makeDir(sim.at("foreign")) == 0);
    auto removed = manager.removeStrayGroups(lock, {"resctrld-kept-vcpus_0"}).removed;
    CHECK(std::set<std::string>(removed.begin(), removed.end()) ==
          std::set<std::string>{"resctrld-gone-vcpus_0", "mon_groups/resctrld-gone-vcpus_1"});
    CHECK(groupsIn(sim.root()) == std::set<std::string>{"foreign", "resctrld-kept-vcpus_0"});
}

TEST_CASE("group names are safe and unique", "[group-manager]") {
    HostModel host;
    GroupManager manager(host, ResctrlFs("/nonexistent"), {"p-", true});
    CHECK(manager.groupStem("vm-1.test_a") == "p-vm-1.test_a");
    auto odd = manager.groupStem("my vm/1");
    CHECK(odd.starts_with("p-my_vm_1~"));
    CHECK(odd != manager.groupStem("my_vm_1"));
    CHECK(odd != manager.groupStem("my vm_1"));
    CHECK(manager.groupStem(std::string(100, 'a')).size() < 64);
    CHECK(manager.groupStem("").starts_with("p-~"));
}
