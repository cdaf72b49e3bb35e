// SPDX-License-Identifier: LGPL-2.1-or-later
// Live re-tuning end to end (docs/api.md, Manager.UpdateDomain): a started domain's allocations
// grown, shrunk, split and moved while its fake VM runs, with its threads checked in their
// groups after each step; an update that does not fit leaves the simulator's whole tree as it
// was; monitors whose vCPUs stay keep their objects.

#define CATCH_CONFIG_ENABLE_TUPLE_STRINGMAKER
#define CATCH_CONFIG_ENABLE_PAIR_STRINGMAKER

#include "update_fixture.h"

using namespace resctrld::e2e;
using namespace resctrld::e2e::domains;

TEST_CASE("UpdateDomain grows, shrinks, splits and moves the allocations of a running domain",
          "[e2e][sim][update]") {
    const std::string kernel = GENERATE("6.15", "6.1");
    INFO("kernel " << kernel);
    UpdateFixture f(kernel);
    FakeVm& vm = f.spawn(4);
    f.start(vm1().cachetune("0-3", l3(0, 5_MiB)), vm.threadsOf({0, 1, 2, 3}));
    const std::string group = "resctrld-vm1-vcpus_0-3";
    REQUIRE(f.groups() == std::set<std::string>{group});

    SECTION("grow and shrink rewrite the group in place") {
        CHECK(f.update(vm1().cachetune("0-3", l3(0, 10_MiB))) == kDomainPath);
        CHECK(f.groups() == std::set<std::string>{group});
        auto mask = maskOf(f.schemata(group), "L3", 0);
        CHECK(std::popcount(mask) == 4);
        CHECK(isContiguous(mask));
        CHECK((maskOf(f.schemata(), "L3", 0) & mask) == 0);
        CHECK(f.tasks(group) == TidSet{vm.tid(0), vm.tid(1), vm.tid(2), vm.tid(3)});

        f.update(vm1().cachetune("0-3", l3(0, 2560_KiB)));
        mask = maskOf(f.schemata(group), "L3", 0);
        CHECK(std::popcount(mask) == 1);
        // The default group got the freed ways back.
        CHECK(maskOf(f.schemata(), "L3", 0) == (0x7ff & ~mask));
        CHECK(f.tasks(group) == TidSet{vm.tid(0), vm.tid(1), vm.tid(2), vm.tid(3)});
        CHECK(f.waitFor([&] { return f.updated.size() == 2; }));
        CHECK(f.updated.front() == std::pair<std::string, std::string>{"vm1", kDomainPath});
    }

    SECTION("a split keeps the group for one part and creates one for the other; a move follows") {
        f.update(vm1().cachetune("0-1", l3(0, 5_MiB)).cachetune("2-3", l3(0, 5_MiB)));
        const std::string second = "resctrld-vm1-vcpus_2-3";
        CHECK(f.groups() == std::set<std::string>{group, second});
        CHECK(f.tasks(group) == TidSet{vm.tid(0), vm.tid(1)});
        CHECK(f.tasks(second) == TidSet{vm.tid(2), vm.tid(3)});
        const auto a = maskOf(f.schemata(group), "L3", 0);
        const auto b = maskOf(f.schemata(second), "L3", 0);
        CHECK((a & b) == 0);
        CHECK(((a | b) & maskOf(f.schemata(), "L3", 0)) == 0);

        // vCPU 1 moves to the other allocation; no group is created or removed.
        f.update(vm1().cachetune("0", l3(0, 5_MiB)).cachetune("1-3", l3(0, 5_MiB)));
        CHECK(f.groups() == std::set<std::string>{group, second});
        CHECK(f.groupOf(vm, 0) != f.groupOf(vm, 1));
        CHECK(f.groupOf(vm, 1) == f.groupOf(vm, 2));
        CHECK(f.groupOf(vm, 2) == f.groupOf(vm, 3));
        CHECK(f.paths(kDomainPath, "Allocations").size() == 2);

        // Merged again: one group is removed, every thread in the other.
        f.update(vm1().cachetune("0-3", l3(0, 5_MiB)));
        CHECK(f.groups().size() == 1);
        const std::string merged = *f.groups().begin();
        CHECK(f.tasks(merged) == TidSet{vm.tid(0), vm.tid(1), vm.tid(2), vm.tid(3)});
        CHECK(f.paths(kDomainPath, "Allocations").size() == 1);
    }

    SECTION("vCPUs no longer tuned go back to the default group") {
        f.update(vm1().cachetune("0-1", l3(0, 5_MiB)));
        CHECK(f.groups() == std::set<std::string>{group});
        CHECK(f.tasks(group) == TidSet{vm.tid(0), vm.tid(1)});
        CHECK(f.inRoot(vm.tid(2)));
        CHECK(f.inRoot(vm.tid(3)));
    }
}

TEST_CASE("an UpdateDomain that does not fit answers NoSpace and changes nothing",
          "[e2e][sim][update]") {
    const std::string kernel = GENERATE("6.15", "6.1");
    INFO("kernel " << kernel);
    UpdateFixture f(kernel);
    FakeVm& vm = f.spawn(4);
    FakeVm& other = f.spawn(2);
    f.start(vm1().cachetune("0-1", l3(0, 5_MiB) + monitor("0")), vm.threadsOf({0, 1}));
    f.start(Domain("vm2").vcpus(2).cachetune("0-1", l3(0, 15_MiB)), other.threadsOf({0, 1}));
    const std::string before = f.snapshot();
    const auto monitors = f.paths(kDomainPath, "Monitors");

    const auto error = errorOf([&] {
        f.update(
            vm1().cachetune("0-1", l3(0, 5_MiB) + monitor("0")).cachetune("2-3", l3(0, 20_MiB)));
    });
    CHECK(error.getName() == "org.resctrld1.Error.NoSpace");
    CHECK(f.snapshot() == before);
    CHECK(f.paths(kDomainPath, "Monitors") == monitors);
    f.settle();
    CHECK(f.updated.empty());
}

TEST_CASE("UpdateDomain of a domain not started is NotFound; an equal definition changes nothing",
          "[e2e][sim][update]") {
    UpdateFixture f("6.15");
    FakeVm& vm = f.spawn(2);
    const std::string definition = vm1().vcpus(2).cachetune("0-1", l3(0, 5_MiB));
    CHECK(errorOf([&] { f.update(definition); }).getName() == "org.resctrld1.Error.NotFound");
    f.start(definition, vm.threadsOf({0, 1}));
    const std::string before = f.snapshot();
    CHECK(f.update(definition) == kDomainPath);
    CHECK(f.snapshot() == before);
    f.settle();
    CHECK(f.updated.empty());
    // Domain.Update refuses another domain's definition.
    auto domain = sdbus::createProxy(*f.connection, kService, kDomainPath);
    const auto error = errorOf([&] {
        domain->callMethod("Update").onInterface(kDomain).withArguments(
            std::string(Domain("vm2").vcpus(2).cachetune("0-1", l3(0, 5_MiB))));
    });
    CHECK(error.getName() == "org.resctrld1.Error.NotFound");
    domain->callMethod("Update").onInterface(kDomain).withArguments(
        std::string(vm1().vcpus(2).cachetune("0-1", l3(0, 10_MiB))));
    CHECK(std::popcount(maskOf(f.schemata("resctrld-vm1-vcpus_0-1"), "L3", 0)) == 4);
    // A definition without a uuid keeps the running one; one with another uuid is another VM.
    f.update(Domain("vm1").vcpus(2).cachetune("0-1", l3(0, 5_MiB)));
    const auto uuid = domain->getProperty("Uuid").onInterface(kDomain).get<std::string>();
    CHECK(uuid == kUuid);
    const std::string afterUpdate = f.snapshot();
    const auto otherVm = errorOf([&] {
        f.update(Domain("vm1")
                     .uuid("00000000-0000-0000-0000-000000000001")
                     .vcpus(2)
                     .cachetune("0-1", l3(0, 10_MiB)));
    });
    CHECK(otherVm.getName() == "org.resctrld1.Error.NotFound");
    CHECK_THAT(otherVm.getMessage(), Catch::Contains(kUuid));
    CHECK(f.snapshot() == afterUpdate);
}

TEST_CASE("monitors whose vCPUs stay keep their objects across an update", "[e2e][sim][update]") {
    const std::string kernel = GENERATE("6.15", "6.1");
    INFO("kernel " << kernel);
    UpdateFixture f(kernel);
    FakeVm& vm = f.spawn(4);
    f.start(vm1().cachetune("0-3", l3(0, 5_MiB) + monitor("0") + monitor("1")),
            vm.threadsOf({0, 1, 2, 3}));
    const auto monitors = f.paths(kDomainPath, "Monitors");
    REQUIRE(monitors.size() == 2);
    f.settle();
    f.removed.clear();
    f.added.clear();

    f.update(vm1().cachetune("0-3", l3(0, 10_MiB) + monitor("0") + monitor("2")));
    const auto after = f.paths(kDomainPath, "Monitors");
    REQUIRE(after.size() == 2);
    CHECK(after[0] == monitors[0]);
    CHECK(after[1] != monitors[1]);
    f.settle();
    CHECK(f.removed == std::vector<std::string>{monitors[1]});
    CHECK(contains(f.added, after[1]));
    CHECK_FALSE(contains(f.added, after[0]));
    CHECK(f.property<std::string>(after[1], kMonitor, "Name") == "vcpus_2");
    const std::string group = "resctrld-vm1-vcpus_0-3";
    CHECK(f.tasks(group + "/mon_groups/vcpus_2") == TidSet{vm.tid(2)});
    CHECK(f.tasks(group + "/mon_groups/vcpus_0") == TidSet{vm.tid(0)});
    CHECK(f.groups().count(group + "/mon_groups/vcpus_1") == 0);
}

TEST_CASE("a monitor whose vCPUs stay keeps its bandwidth totals across an update",
          "[e2e][sim][update]") {
    UpdateFixture f("6.15");
    FakeVm& vm = f.spawn(4);
    f.start(vm1().memorytune("0-3", node(0, 50) + memoryMonitor("0")), vm.threadsOf({0, 1, 2, 3}));
    const auto monitors = f.paths(kDomainPath, "Monitors");
    REQUIRE(monitors.size() == 1);
    f.sim.setControl("traffic", std::to_string(vm.tid(0)) + " 0 1000000000\n");
    auto total = [&] {
        auto proxy = sdbus::createProxy(*f.connection, kService, monitors[0]);
        proxy->callMethod("Sample").onInterface(kMonitor);
        const auto totals = proxy->getProperty("MemoryBytesTotal")
                                .onInterface(kMonitor)
                                .get<std::map<std::uint32_t, std::uint64_t>>();
        return totals.count(0) ? totals.at(0) : 0;
    };
    // Polled: the simulated counter grows with time, which no event announces. 50 ms of
    // traffic: more than a recreated group could count again during the update.
    std::uint64_t before = 0;
    REQUIRE(f.waitFor([&] { return (before = total()) > 50'000'000; }));

    f.update(vm1().memorytune("0-3", node(0, 70) + memoryMonitor("0")));
    CHECK(f.paths(kDomainPath, "Monitors") == monitors);
    CHECK(bandwidthOf(f.schemata("resctrld-vm1-vcpus_0-3"), 0) == 70);
    CHECK(total() >= before);
    f.sim.setControl("traffic", "");
}

TEST_CASE("at exactly full CLOSIDs, an update whose end state fits succeeds and one that needs "
          "another CLOSID answers NoSpace naming it",
          "[e2e][sim][update][budget]") {
    const std::string kernel = GENERATE("6.15", "6.1");
    INFO("kernel " << kernel);
    UpdateFixture f(kernel);
    FakeVm& vm = f.spawn(4);
    f.start(vm1().cachetune("0-1", l3(0, 5_MiB)).cachetune("2-3", l3(0, 5_MiB)),
            vm.threadsOf({0, 1, 2, 3}));
    REQUIRE(f.fillWithForeignGroups("foreign", "L3:0=400;1=400\n") > 0);

    // vCPU 1 moves: both groups are rewritten in place.
    f.update(vm1().cachetune("0", l3(0, 5_MiB)).cachetune("1-3", l3(0, 5_MiB)));
    CHECK(f.groupOf(vm, 0) != f.groupOf(vm, 1));
    CHECK(f.groupOf(vm, 1) == f.groupOf(vm, 3));

    const std::string before = f.snapshot();
    const auto error = errorOf([&] {
        f.update(vm1()
                     .cachetune("0", l3(0, 2560_KiB))
                     .cachetune("1", l3(0, 2560_KiB))
                     .cachetune("2-3", l3(0, 2560_KiB)));
    });
    CHECK(error.getName() == "org.resctrld1.Error.NoSpace");
    CHECK_THAT(error.getMessage(), Catch::Contains("CLOSID"));
    CHECK(f.snapshot() == before);
}

TEST_CASE("at exactly full RMIDs, a monitor moved to other vCPUs takes the RMID of the one that "
          "goes (Linux 6.2 on), and NoSpace names what is missing otherwise",
          "[e2e][sim][update][budget]") {
    const std::string kernel = GENERATE("6.15", "6.1");
    INFO("kernel " << kernel);
    UpdateFixture f(kernel);
    FakeVm& vm = f.spawn(4);
    const std::string a = "resctrld-vm1-vcpus_0-1";
    const std::string b = "resctrld-vm1-vcpus_2-3";
    f.start(vm1().cachetune("0-1", l3(0, 5_MiB) + monitor("1")).cachetune("2-3", l3(0, 5_MiB)),
            vm.threadsOf({0, 1, 2, 3}));
    REQUIRE(f.fillWithForeignGroups("mon_groups/foreign") > 0);
    const std::string before = f.snapshot();

    // The monitor of vCPU 1 becomes one of vCPU 3, in the other group: same RMID count.
    const std::string moved =
        vm1().cachetune("0-1", l3(0, 5_MiB)).cachetune("2-3", l3(0, 5_MiB) + monitor("3"));
    if (kernel == "6.1") {
        const auto error = errorOf([&] { f.update(moved); });
        CHECK(error.getName() == "org.resctrld1.Error.NoSpace");
        CHECK_THAT(error.getMessage(), Catch::Contains("RMID") && Catch::Contains("6.2"));
        CHECK(f.snapshot() == before);
    } else {
        f.update(moved);
        CHECK(f.groups().count(a + "/mon_groups/vcpus_1") == 0);
        CHECK(f.tasks(b + "/mon_groups/vcpus_3") == TidSet{vm.tid(3)});
        CHECK(f.tasks(a) == TidSet{vm.tid(0), vm.tid(1)});
        CHECK(f.tasks(b) == TidSet{vm.tid(2), vm.tid(3)});
        // And back, on the same budget.
        f.update(
            vm1().cachetune("0-1", l3(0, 5_MiB) + monitor("1")).cachetune("2-3", l3(0, 5_MiB)));
        CHECK(f.tasks(a + "/mon_groups/vcpus_1") == TidSet{vm.tid(1)});
        CHECK(f.groups().count(b + "/mon_groups/vcpus_3") == 0);
    }

    // An allocation group traded for a monitoring group: the end state holds as many RMIDs, but
    // the one the removed group frees stays in limbo, so no order of steps fits.
    const std::string now = f.snapshot();
    const auto error = errorOf(
        [&] { f.update(vm1().cachetune("0-1", l3(0, 5_MiB) + monitor("1") + monitor("0"))); });
    CHECK(error.getName() == "org.resctrld1.Error.NoSpace");
    CHECK_THAT(error.getMessage(), Catch::Contains("RMID") && Catch::Contains("limbo"));
    CHECK(f.snapshot() == now);
}

TEST_CASE("an RMID in limbo after a removal counts as busy: the update that needs it answers "
          "NoSpace naming limbo",
          "[e2e][sim][update][budget]") {
    UpdateFixture f("6.15");
    FakeVm& vm = f.spawn(4);
    f.start(vm1().cachetune("0-3", l3(0, 5_MiB) + monitor("1")), vm.threadsOf({0, 1, 2, 3}));
    REQUIRE(f.fillWithForeignGroups("mon_groups/foreign") > 0);
    // A threshold of 0 keeps every freed RMID in limbo until the next mount.
    REQUIRE(simtest::writeFile(f.sim.at("info/L3_MON/max_threshold_occupancy"), "0\n") == 0);
    f.update(vm1().cachetune("0-3", l3(0, 5_MiB)));
    // One RMID is free by the count of groups, and the kernel holds it in limbo.
    const std::string before = f.snapshot();
    const auto error =
        errorOf([&] { f.update(vm1().cachetune("0-3", l3(0, 5_MiB) + monitor("2"))); });
    CHECK(error.getName() == "org.resctrld1.Error.NoSpace");
    CHECK_THAT(error.getMessage(), Catch::Contains("limbo"));
    CHECK(f.snapshot() == before);
}

TEST_CASE("groups another program creates between two updates are honoured: their ways are left "
          "alone, and their RMIDs make an update that needs one answer NoSpace",
          "[e2e][sim][update][budget]") {
    UpdateFixture f("6.15");
    FakeVm& vm = f.spawn(4);
    const std::string group = "resctrld-vm1-vcpus_0-3";
    f.start(vm1().cachetune("0-3", l3(0, 5_MiB)), vm.threadsOf({0, 1, 2, 3}));
    f.update(vm1().cachetune("0-3", l3(0, 2560_KiB)));

    // The top three ways of cache 0, taken by a foreign group after the first update.
    const fs::path foreign = f.sim.at("foreign-ways");
    REQUIRE(::mkdir(foreign.c_str(), 0755) == 0);
    REQUIRE(simtest::writeFile(foreign / "schemata", "L3:0=700;1=7ff\n") == 0);
    f.update(vm1().cachetune("0-3", l3(0, 10_MiB)));
    const auto mask = maskOf(f.schemata(group), "L3", 0);
    CHECK(std::popcount(mask) == 4);
    CHECK((mask & 0x700) == 0);

    // Then every RMID left, by foreign monitoring groups.
    REQUIRE(f.fillWithForeignGroups("mon_groups/foreign") > 0);
    const std::string before = f.snapshot();
    const auto error =
        errorOf([&] { f.update(vm1().cachetune("0-3", l3(0, 10_MiB) + monitor("1"))); });
    CHECK(error.getName() == "org.resctrld1.Error.NoSpace");
    // Refused by the daemon's own count, before any mkdir (the kernel's refusal reads otherwise).
    CHECK_THAT(error.getMessage(), Catch::Contains("monitoring IDs"));
    CHECK(f.snapshot() == before);

    // An update that needs no RMID more than the domain holds still goes through.
    f.update(vm1().cachetune("0-3", l3(0, 5_MiB)));
    CHECK(std::popcount(maskOf(f.schemata(group), "L3", 0)) == 2);
    CHECK(f.tasks(group) == TidSet{vm.tid(0), vm.tid(1), vm.tid(2), vm.tid(3)});
}
