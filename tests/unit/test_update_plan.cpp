// SPDX-License-Identifier: LGPL-2.1-or-later
// planUpdate: which groups an update keeps, rewrites, creates and removes. Plans are built by
// hand, as GroupManager lays them out; nothing here touches a filesystem.
#include <catch2/catch.hpp>

#include "update_plan.h"

using namespace resctrld;

namespace {

const std::string kStem = "resctrld-vm1";

PlannedAllocation allocation(const std::string& vcpus, const std::string& schemata,
                             const std::string& group = "") {
    PlannedAllocation planned;
    planned.name = "vcpus_" + vcpus;
    planned.vcpus = VcpuSet::parse(vcpus);
    planned.schemata = Schemata::parse(schemata);
    planned.reserved = planned.schemata;
    planned.group = group.empty() ? kStem + "-" + planned.name : group;
    return planned;
}

// A monitor in allocation `index` with a group of its own.
PlannedMonitor monitor(const std::string& vcpus, std::size_t index, const std::string& parent) {
    PlannedMonitor planned;
    planned.name = "vcpus_" + vcpus;
    planned.vcpus = VcpuSet::parse(vcpus);
    planned.allocation = index;
    planned.group = parent + "/mon_groups/" + planned.name;
    return planned;
}

DomainGroups groups(std::vector<PlannedAllocation> allocations,
                    std::vector<PlannedMonitor> monitors = {}) {
    DomainGroups groups;
    groups.domain = "vm1";
    groups.stem = kStem;
    groups.plan.allocations = std::move(allocations);
    groups.plan.monitors = std::move(monitors);
    return groups;
}

std::vector<std::string> groupsOf(const UpdateSteps& steps) {
    return steps.next.allocationGroups();
}

} // namespace

TEST_CASE("a group whose vCPUs stay is rewritten in place when its schemata change", "[update]") {
    const auto current = groups({allocation("0-1", "L3:0=3;1=7ff\n")});
    const auto steps = planUpdate(current, groups({allocation("0-1", "L3:0=f;1=7ff\n")}));
    CHECK(groupsOf(steps) == std::vector<std::string>{kStem + "-vcpus_0-1"});
    CHECK(steps.rewritten == std::vector<std::size_t>{0});
    CHECK(steps.created.empty());
    CHECK(steps.removed.empty());
    CHECK(steps.createdMonitorGroups.empty());
}

TEST_CASE("a group whose vCPUs and schemata stay is not written", "[update]") {
    const auto current =
        groups({allocation("0-1", "L3:0=3;1=7ff\n"), allocation("2", "MB:0=50\n")});
    const auto steps = planUpdate(
        current, groups({allocation("0-1", "L3:0=3;1=7ff\n"), allocation("2", "MB:0=70\n")}));
    CHECK(steps.rewritten == std::vector<std::size_t>{1});
    CHECK(steps.created.empty());
    CHECK(steps.removed.empty());
}

TEST_CASE("a split keeps the old group for the part sharing most vCPUs and creates one group",
          "[update]") {
    const auto current = groups({allocation("0-3", "L3:0=f\n")});
    const auto steps =
        planUpdate(current, groups({allocation("0", "L3:0=1\n"), allocation("1-3", "L3:0=e\n")}));
    CHECK(groupsOf(steps) == std::vector<std::string>{kStem + "-vcpus_0", kStem + "-vcpus_0-3"});
    CHECK(steps.rewritten == std::vector<std::size_t>{1});
    CHECK(steps.created == std::vector<std::size_t>{0});
    CHECK(steps.removed.empty());
    CHECK(steps.previousGroup == std::vector<std::string>{"", kStem + "-vcpus_0-3"});
}

TEST_CASE("a merge rewrites one group for the new vCPU set and removes the other", "[update]") {
    const auto current = groups({allocation("0-1", "L3:0=3\n"), allocation("2-3", "L3:0=c\n")});
    const auto steps = planUpdate(current, groups({allocation("0-3", "L3:0=f\n")}));
    CHECK(groupsOf(steps) == std::vector<std::string>{kStem + "-vcpus_0-1"});
    CHECK(steps.rewritten == std::vector<std::size_t>{0});
    CHECK(steps.created.empty());
    CHECK(steps.removed == std::vector<std::string>{kStem + "-vcpus_2-3"});
}

TEST_CASE("a new group never takes the path of a kept one", "[update]") {
    // After an earlier update the group of vCPUs 0-3 is named after vCPUs 4-5.
    const auto current = groups({allocation("0-3", "L3:0=f\n", kStem + "-vcpus_4-5")});
    const auto steps = planUpdate(
        current, groups({allocation("0-3", "L3:0=f\n"), allocation("4-5", "L3:0=30\n")}));
    CHECK(groupsOf(steps) ==
          std::vector<std::string>{kStem + "-vcpus_4-5", kStem + "-vcpus_4-5~2"});
    CHECK(steps.rewritten.empty());
    CHECK(steps.created == std::vector<std::size_t>{1});
}

TEST_CASE("monitors keep their groups under kept groups; others are created or removed, "
          "taking and freeing one RMID each",
          "[update]") {
    const std::string a = kStem + "-vcpus_0-3";
    const std::string b = kStem + "-vcpus_4-5";
    const auto current = groups({allocation("0-3", "L3:0=f\n"), allocation("4-5", "L3:0=30\n")},
                                {monitor("0", 0, a), monitor("1", 0, a), monitor("4", 1, b)});
    const auto steps = planUpdate(
        current, groups({allocation("0-3", "L3:0=3\n")}, {monitor("0", 0, a), monitor("2", 0, a)}));
    CHECK(steps.next.plan.monitors[0].group == a + "/mon_groups/vcpus_0");
    CHECK(steps.createdMonitorGroups == std::vector<std::string>{a + "/mon_groups/vcpus_2"});
    // vcpus_4 goes with its group.
    CHECK(steps.removed == std::vector<std::string>{a + "/mon_groups/vcpus_1", b});
    // One RMID taken (vcpus_2), three freed: vcpus_1, b and vcpus_4 under it.
    const RmidBalance balance = rmidBalance(current, steps);
    CHECK(balance.taken == 1);
    CHECK(balance.released == 3);
}

TEST_CASE("monitoring groups that go are renamed to those that come, as many as asked",
          "[update]") {
    const std::string a = kStem + "-vcpus_0-3";
    const std::string b = kStem + "-vcpus_4-5";
    const auto current = groups({allocation("0-3", "L3:0=f\n"), allocation("4-5", "L3:0=30\n")},
                                {monitor("1", 0, a), monitor("4", 1, b)});
    const auto next = groups({allocation("0-3", "L3:0=3\n")},
                             {monitor("2", 0, a), monitor("3", 0, a), monitor("0", 0, a)});

    SECTION("none asked: created and removed") {
        const auto steps = planUpdate(current, next);
        CHECK(steps.renamedMonitorGroups.empty());
        CHECK(steps.createdMonitorGroups.size() == 3);
        CHECK(rmidBalance(current, steps).taken == 3);
    }
    SECTION("two asked: the first two to create take the two that go, in plan order") {
        const auto steps = planUpdate(current, next, 2);
        REQUIRE(steps.renamedMonitorGroups.size() == 2);
        CHECK(steps.renamedMonitorGroups[0].from == a + "/mon_groups/vcpus_1");
        CHECK(steps.renamedMonitorGroups[0].to == a + "/mon_groups/vcpus_2");
        // Moved out of a group that goes, before it goes.
        CHECK(steps.renamedMonitorGroups[1].from == b + "/mon_groups/vcpus_4");
        CHECK(steps.renamedMonitorGroups[1].to == a + "/mon_groups/vcpus_3");
        CHECK(steps.createdMonitorGroups == std::vector<std::string>{a + "/mon_groups/vcpus_0"});
        CHECK(steps.removed == std::vector<std::string>{b});
        const RmidBalance balance = rmidBalance(current, steps);
        CHECK(balance.taken == 1);
        CHECK(balance.released == 1); // b alone: vcpus_4 left it
    }
    SECTION("more asked than there are groups that go") {
        const auto steps = planUpdate(current, next, 10);
        CHECK(steps.renamedMonitorGroups.size() == 2);
        CHECK(steps.createdMonitorGroups.size() == 1);
    }
}
