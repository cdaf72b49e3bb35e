// SPDX-License-Identifier: LGPL-2.1-or-later
// resctrld's domain lifecycle end to end: a real client on a private bus, the real daemon, the
// real resctrlfs-sim and fake hypervisor processes (tests/tools/fake-hypervisor). Every outcome
// is checked where the kernel would show it: the simulator's group directories, schemata and
// tasks files; and on the bus: the returned paths, signals, objects and their properties
// (docs/api.md). Failed calls must leave the simulator's tree exactly as it was ("all or
// nothing", docs/api.md StartDomain).

#define CATCH_CONFIG_ENABLE_TUPLE_STRINGMAKER
#define CATCH_CONFIG_ENABLE_PAIR_STRINGMAKER

#include "domains_fixture.h"

using namespace resctrld::e2e;
using namespace resctrld::e2e::domains;

TEST_CASE("StartDomain creates groups and StopDomain removes them", "[e2e][sim][domains]") {
    // 6.1 pads schemata values and takes one id per tasks write (tests/sim/README.md).
    const std::string kernel = GENERATE("6.15", "6.1");
    // Stopped with Manager.StopDomain or with the domain object's Stop().
    const bool viaDomainObject = GENERATE(false, true);
    INFO("kernel " << kernel << (viaDomainObject ? ", Domain.Stop" : ", StopDomain"));
    Fixture f("skx-2s-l3cat", "", kernel);
    FakeVm& vm = f.spawn(2);
    const std::string before = f.snapshot();
    const std::string rootBefore = f.schemata();
    const std::string definition =
        Domain("vm1").uuid(kUuid).vcpus(2).cachetune("0-1", l3(0, 5_MiB) + monitor("1"));

    const auto path = f.start(definition, vm.threadsOf({0, 1}));
    CHECK(path == kDomainPath);

    // Groups (docs/api.md; daemon-behaviour: resctrld-<name>-vcpus_<list>).
    const std::string alloc = "resctrld-vm1-vcpus_0-1";
    const std::string mon = alloc + "/mon_groups/vcpus_1";
    CHECK(f.groups() == std::set<std::string>{alloc, mon});
    // 5 MiB = 2 ways of 2.5 MiB outside shareable_bits 600; cache 1 keeps the default mask.
    const std::string schemata = f.schemata(alloc);
    const auto mask = maskOf(schemata, "L3", 0);
    CHECK(std::popcount(mask) == 2);
    CHECK(isContiguous(mask));
    CHECK((mask & 0x600) == 0);
    CHECK(maskOf(schemata, "L3", 1) == 0x7ff);
    // The default group gave the two ways up and kept the rest.
    CHECK(maskOf(f.schemata(), "L3", 0) == (0x7ff & ~mask));
    CHECK(maskOf(f.schemata(), "L3", 1) == 0x7ff);
    CHECK(f.tasks(alloc) == TidSet{vm.tid(0), vm.tid(1)});
    CHECK(f.tasks(mon) == TidSet{vm.tid(1)});
    CHECK_FALSE(f.inRoot(vm.tid(0)));
    // The hypervisor's other threads stay where they were.
    for (pid_t tid : vm.taskIds())
        if (tid != vm.tid(0) && tid != vm.tid(1))
            CHECK(f.inRoot(tid));

    // Signals and objects.
    CHECK(f.waitFor([&] { return !f.started.empty(); }));
    CHECK(f.started == std::vector<std::pair<std::string, std::string>>{{"vm1", kDomainPath}});
    const std::string allocPath = kDomainPath + "/allocation/0";
    const std::string monPath = kDomainPath + "/monitor/0";
    CHECK(f.waitFor([&] {
        return contains(f.added, kDomainPath) && contains(f.added, allocPath) &&
               contains(f.added, monPath);
    }));
    CHECK(f.addedInterfaces[kDomainPath].count(kDomain) == 1);
    CHECK(f.addedInterfaces[allocPath].count(kAllocation) == 1);
    CHECK(f.addedInterfaces[monPath].count(kMonitor) == 1);

    CHECK(f.property<std::string>(path, kDomain, "Name") == "vm1");
    CHECK(f.property<std::string>(path, kDomain, "Uuid") == kUuid);
    CHECK(f.property<std::string>(path, kDomain, "State") == "active");
    const auto hypervisorPid = f.property<std::uint32_t>(path, kDomain, "HypervisorPid");
    CHECK((hypervisorPid == 0 || hypervisorPid == static_cast<std::uint32_t>(vm.pid())));
    CHECK(f.vcpuThreads(path) == vm.threadSet({0, 1}));
    CHECK(f.paths(path, "Allocations") == std::vector<std::string>{allocPath});
    CHECK(f.paths(path, "Monitors") == std::vector<std::string>{monPath});

    CHECK(f.property<std::vector<std::uint32_t>>(allocPath, kAllocation, "Vcpus") ==
          std::vector<std::uint32_t>{0, 1});
    CHECK(f.property<std::string>(allocPath, kAllocation, "Group") == alloc);
    std::ostringstream hex;
    hex << std::hex << mask;
    CHECK(f.caches(allocPath) == std::set<CacheTuple>{{3, 0, "both", 5 * kMiB, hex.str()}});
    CHECK(f.property<Threads>(allocPath, kAllocation, "MemoryBandwidth").empty());
    CHECK(f.property<std::string>(allocPath, kAllocation, "Schemata") == f.schemata(alloc));

    CHECK(f.property<std::string>(monPath, kMonitor, "Name") == "vcpus_1");
    CHECK(f.property<std::vector<std::uint32_t>>(monPath, kMonitor, "Vcpus") ==
          std::vector<std::uint32_t>{1});
    CHECK(f.property<std::uint32_t>(monPath, kMonitor, "Level") == 3);
    CHECK(f.property<std::string>(monPath, kMonitor, "Group") == mon);

    // One CLOSID for the allocation group; RMIDs for it and its monitor group.
    CHECK(f.managerProperty("ClosidsFree") == 6);
    CHECK(f.managerProperty("RmidsFree") == 157);

    CHECK(f.getDomain("vm1") == kDomainPath);
    CHECK(f.listDomains() == std::vector<std::tuple<std::string, std::string, std::string>>{
                                 {"vm1", kUuid, kDomainPath}});

    if (viaDomainObject) {
        auto domain = sdbus::createProxy(*f.connection, kService, kDomainPath);
        domain->callMethod("Stop").onInterface(kDomain);
    } else {
        f.stop("vm1");
    }

    CHECK(f.groups().empty());
    CHECK(f.inRoot(vm.tid(0)));
    CHECK(f.inRoot(vm.tid(1)));
    CHECK(f.schemata() == rootBefore);
    CHECK(f.managerProperty("ClosidsFree") == 7);
    CHECK(f.managerProperty("RmidsFree") == 159);
    CHECK(f.snapshot() == before);
    CHECK(f.waitFor([&] { return !f.stopped.empty(); }));
    CHECK(f.stopped == std::vector<std::pair<std::string, std::string>>{{"vm1", kDomainPath}});
    CHECK(f.waitFor([&] {
        return contains(f.removed, kDomainPath) && contains(f.removed, allocPath) &&
               contains(f.removed, monPath);
    }));
    CHECK(errorOf([&] { f.getDomain("vm1"); }).getName() == "org.resctrld1.Error.NotFound");
    CHECK(f.listDomains().empty());
    CHECK_THAT(errorOf([&] { f.property<std::string>(kDomainPath, kDomain, "Name"); }).getName(),
               Catch::StartsWith("org.freedesktop.DBus.Error.Unknown"));
    CHECK(errorOf([&] { f.stop("vm1"); }).getName() == "org.resctrld1.Error.NotFound");

    // With no domain left, nothing of the daemon's keeps resctrl from being unmounted: no file
    // under the root is open, the root itself (the lock's) included.
    auto heldUnderRoot = [&] {
        std::vector<std::string> held;
        const fs::path fds = "/proc/" + std::to_string(f.daemon->process().pid()) + "/fd";
        std::error_code ec;
        for (fs::directory_iterator it(fds, ec), end; !ec && it != end; it.increment(ec)) {
            std::error_code linkError;
            const std::string target = fs::read_symlink(it->path(), linkError).string();
            if (target == f.sim.root().string() || target.starts_with(f.sim.root().string() + "/"))
                held.push_back(target);
        }
        return held;
    };
    CHECK(f.waitFor([&] { return heldUnderRoot().empty(); }));
    INFO("held: " << Catch::Detail::stringify(heldUnderRoot()));
    CHECK(heldUnderRoot().empty());
}

TEST_CASE("StartDomain gives two cachetunes two groups with disjoint ways", "[e2e][sim][domains]") {
    Fixture f;
    FakeVm& vm = f.spawn(4);
    const std::string before = f.snapshot();
    const auto path = f.start(Domain("vm1")
                                  .uuid(kUuid)
                                  .vcpus(4)
                                  .cachetune("0-1", l3(0, 5_MiB))
                                  .cachetune("2-3", l3(0, 2560_KiB)),
                              vm.threadsOf({0, 1, 2, 3}));
    const std::string a = "resctrld-vm1-vcpus_0-1";
    const std::string b = "resctrld-vm1-vcpus_2-3";
    CHECK(f.groups() == std::set<std::string>{a, b});
    const auto maskA = maskOf(f.schemata(a), "L3", 0);
    const auto maskB = maskOf(f.schemata(b), "L3", 0);
    CHECK(std::popcount(maskA) == 2);
    CHECK(std::popcount(maskB) == 1);
    CHECK((maskA & maskB) == 0);
    CHECK(((maskA | maskB) & 0x600) == 0);
    CHECK(maskOf(f.schemata(a), "L3", 1) == 0x7ff);
    CHECK(maskOf(f.schemata(b), "L3", 1) == 0x7ff);
    const auto root = maskOf(f.schemata(), "L3", 0);
    CHECK((root & (maskA | maskB)) == 0);
    CHECK(isContiguous(root));
    CHECK(f.tasks(a) == TidSet{vm.tid(0), vm.tid(1)});
    CHECK(f.tasks(b) == TidSet{vm.tid(2), vm.tid(3)});

    REQUIRE(f.paths(path, "Allocations") ==
            std::vector<std::string>{kDomainPath + "/allocation/0", kDomainPath + "/allocation/1"});
    std::ostringstream hexB;
    hexB << std::hex << maskB;
    CHECK(f.caches(kDomainPath + "/allocation/1") ==
          std::set<CacheTuple>{{3, 0, "both", 2560 * 1024, hexB.str()}});
    CHECK(f.property<std::string>(kDomainPath + "/allocation/1", kAllocation, "Group") == b);
    CHECK(f.property<std::vector<std::uint32_t>>(kDomainPath + "/allocation/1", kAllocation,
                                                 "Vcpus") == std::vector<std::uint32_t>{2, 3});
    CHECK(f.paths(path, "Monitors").empty());

    f.stop("vm1");
    CHECK(f.snapshot() == before);
}

TEST_CASE("StartDomain makes per-vCPU monitor groups and a default monitor",
          "[e2e][sim][domains]") {
    Fixture f;
    FakeVm& vm = f.spawn(2);
    const std::string before = f.snapshot();
    const auto path =
        f.start(Domain("vm1").uuid(kUuid).vcpus(2).cachetune(
                    "0-1", l3(0, 5_MiB) + monitor("0") + monitor("1") + monitor("0-1")),
                vm.threadsOf({0, 1}));
    const std::string alloc = "resctrld-vm1-vcpus_0-1";
    CHECK(f.groups() == std::set<std::string>{alloc, alloc + "/mon_groups/vcpus_0",
                                              alloc + "/mon_groups/vcpus_1"});
    CHECK(f.tasks(alloc) == TidSet{vm.tid(0), vm.tid(1)});
    CHECK(f.tasks(alloc + "/mon_groups/vcpus_0") == TidSet{vm.tid(0)});
    CHECK(f.tasks(alloc + "/mon_groups/vcpus_1") == TidSet{vm.tid(1)});

    const auto monitors = f.paths(path, "Monitors");
    REQUIRE(monitors.size() == 3);
    const std::vector<std::pair<std::string, std::string>> expected{
        {"vcpus_0", alloc + "/mon_groups/vcpus_0"},
        {"vcpus_1", alloc + "/mon_groups/vcpus_1"},
        {"vcpus_0-1", alloc}}; // the default monitor reads the allocation group itself
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(monitors[i] == kDomainPath + "/monitor/" + std::to_string(i));
        CHECK(f.property<std::string>(monitors[i], kMonitor, "Name") == expected[i].first);
        CHECK(f.property<std::string>(monitors[i], kMonitor, "Group") == expected[i].second);
    }
    CHECK(f.property<std::vector<std::uint32_t>>(monitors[2], kMonitor, "Vcpus") ==
          std::vector<std::uint32_t>{0, 1});

    f.stop("vm1");
    CHECK(f.snapshot() == before);
}

TEST_CASE("StartDomain with CDP writes code and data masks of one cache", "[e2e][sim][domains]") {
    Fixture f("skx-2s-l3cat", "cdp");
    FakeVm& vm = f.spawn(2);
    const std::string before = f.snapshot();
    const auto path = f.start(Domain("vm1").uuid(kUuid).vcpus(2).cachetune(
                                  "0-1", l3(0, 5_MiB, "code") + l3(0, 7680_KiB, "data")),
                              vm.threadsOf({0, 1}));
    const std::string alloc = "resctrld-vm1-vcpus_0-1";
    CHECK(f.groups() == std::set<std::string>{alloc});
    const std::string schemata = f.schemata(alloc);
    const auto code = maskOf(schemata, "L3CODE", 0);
    const auto data = maskOf(schemata, "L3DATA", 0);
    CHECK(std::popcount(code) == 2);
    CHECK(std::popcount(data) == 3);
    CHECK(isContiguous(code));
    CHECK(isContiguous(data));
    CHECK(maskOf(schemata, "L3CODE", 1) == 0x7ff);
    CHECK(maskOf(schemata, "L3DATA", 1) == 0x7ff);
    CHECK((maskOf(f.schemata(), "L3CODE", 0) & code) == 0);
    CHECK((maskOf(f.schemata(), "L3DATA", 0) & data) == 0);
    CHECK(f.tasks(alloc) == TidSet{vm.tid(0), vm.tid(1)});
    std::ostringstream codeHex, dataHex;
    codeHex << std::hex << code;
    dataHex << std::hex << data;
    CHECK(f.caches(kDomainPath + "/allocation/0") ==
          std::set<CacheTuple>{{3, 0, "code", 5 * kMiB, codeHex.str()},
                               {3, 0, "data", 7680 * 1024, dataHex.str()}});
    CHECK(f.property<std::string>(kDomainPath + "/allocation/0", kAllocation, "Schemata") ==
          schemata);
    (void)path;

    // type='both' needs the un-split L3 resource (docs/definitions.md rule 9).
    const auto e = errorOf(
        [&] { f.start(Domain("vm2").uuid(kUuid).vcpus(2).cachetune("0-1", l3(0, 5_MiB)), {}); });
    CHECK(e.getName() == "org.resctrld1.Error.NotSupported");

    f.stop("vm1");
    CHECK(f.snapshot() == before);
}

TEST_CASE("StartDomain allocates ways of an L2 cache", "[e2e][sim][domains]") {
    Fixture f("modern-intel-l2");
    FakeVm& vm = f.spawn(2);
    const std::string before = f.snapshot();
    // L2: 2 MiB, 16 ways: 128 KiB a way.
    f.start(Domain("vm1").uuid(kUuid).vcpus(2).cachetune("0-1", l2(0, 256_KiB)),
            vm.threadsOf({0, 1}));
    const std::string alloc = "resctrld-vm1-vcpus_0-1";
    CHECK(f.groups() == std::set<std::string>{alloc});
    const std::string schemata = f.schemata(alloc);
    const auto mask = maskOf(schemata, "L2", 0);
    CHECK(std::popcount(mask) == 2);
    CHECK(isContiguous(mask));
    CHECK(maskOf(schemata, "L2", 1) == 0xffff);
    CHECK(maskOf(schemata, "L2", 47) == 0xffff);
    CHECK(maskOf(schemata, "L3", 0) == 0x7fff);
    CHECK((maskOf(f.schemata(), "L2", 0) & mask) == 0);
    CHECK(maskOf(f.schemata(), "L3", 0) == 0x7fff);
    CHECK(f.tasks(alloc) == TidSet{vm.tid(0), vm.tid(1)});
    std::ostringstream hex;
    hex << std::hex << mask;
    CHECK(f.caches(kDomainPath + "/allocation/0") ==
          std::set<CacheTuple>{{2, 0, "both", 256 * 1024, hex.str()}});

    f.stop("vm1");
    CHECK(f.snapshot() == before);
}

TEST_CASE("StartDomain applies a memorytune as an MBA cap", "[e2e][sim][domains]") {
    Fixture f;
    FakeVm& vm = f.spawn(2);
    const std::string before = f.snapshot();
    const std::string rootBefore = f.schemata();
    f.start(Domain("vm1").uuid(kUuid).vcpus(2).memorytune("0-1", node(0, 50)),
            vm.threadsOf({0, 1}));
    const std::string alloc = "resctrld-vm1-vcpus_0-1";
    CHECK(f.groups() == std::set<std::string>{alloc});
    CHECK(bandwidthOf(f.schemata(alloc), 0) == 50);
    CHECK(maskOf(f.schemata(alloc), "L3", 0) == 0x7ff);
    CHECK(f.schemata() == rootBefore); // no ways taken, nothing to give up
    CHECK(f.tasks(alloc) == TidSet{vm.tid(0), vm.tid(1)});
    const std::string allocPath = kDomainPath + "/allocation/0";
    Threads bandwidth = f.property<Threads>(allocPath, kAllocation, "MemoryBandwidth");
    REQUIRE(bandwidth.size() == 1);
    CHECK(bandwidth[0].get<0>() == 0);
    CHECK(bandwidth[0].get<1>() == 50);
    CHECK(f.caches(allocPath).empty());

    f.stop("vm1");
    CHECK(f.snapshot() == before);
}

TEST_CASE("A memorytune with the same vCPUs as a cachetune shares its group",
          "[e2e][sim][domains]") {
    Fixture f;
    FakeVm& vm = f.spawn(2);
    const std::string before = f.snapshot();
    const auto path = f.start(Domain("vm1")
                                  .uuid(kUuid)
                                  .vcpus(2)
                                  .cachetune("0-1", l3(0, 5_MiB))
                                  .memorytune("0-1", node(1, 30)),
                              vm.threadsOf({0, 1}));
    const std::string alloc = "resctrld-vm1-vcpus_0-1";
    CHECK(f.groups() == std::set<std::string>{alloc});
    CHECK(std::popcount(maskOf(f.schemata(alloc), "L3", 0)) == 2);
    CHECK(bandwidthOf(f.schemata(alloc), 1) == 30);
    CHECK(f.paths(path, "Allocations").size() == 1);
    f.stop("vm1");
    CHECK(f.snapshot() == before);
}

TEST_CASE("A monitor-only cachetune makes a group under the root's mon_groups/",
          "[e2e][sim][domains]") {
    Fixture f;
    FakeVm& vm = f.spawn(2);
    const std::string before = f.snapshot();
    const std::string rootBefore = f.schemata();
    const auto path = f.start(Domain("vm1").uuid(kUuid).vcpus(2).cachetune("0-1", monitor("0-1")),
                              vm.threadsOf({0, 1}));
    const std::string mon = "mon_groups/resctrld-vm1-vcpus_0-1";
    CHECK(f.groups() == std::set<std::string>{mon});
    CHECK(f.tasks(mon) == TidSet{vm.tid(0), vm.tid(1)});
    CHECK(f.schemata() == rootBefore);
    const auto monitors = f.paths(path, "Monitors");
    REQUIRE(monitors.size() == 1);
    CHECK(f.property<std::string>(monitors[0], kMonitor, "Name") == "vcpus_0-1");
    CHECK(f.property<std::string>(monitors[0], kMonitor, "Group") == mon);

    f.stop("vm1");
    CHECK(f.snapshot() == before);
    CHECK(f.inRoot(vm.tid(0)));
}

TEST_CASE("StartDomainForProcess finds the hypervisor's vCPU threads", "[e2e][sim][domains]") {
    Fixture f;
    FakeVm& vm = f.spawn(2);
    const std::string before = f.snapshot();

    SECTION("every tuned vCPU found") {
        const auto path = f.startForProcess(
            Domain("vm1").uuid(kUuid).vcpus(2).cachetune("0-1", l3(0, 5_MiB) + monitor("0")),
            vm.pid());
        CHECK(path == kDomainPath);
        const std::string alloc = "resctrld-vm1-vcpus_0-1";
        CHECK(f.tasks(alloc) == TidSet{vm.tid(0), vm.tid(1)});
        CHECK(f.tasks(alloc + "/mon_groups/vcpus_0") == TidSet{vm.tid(0)});
        CHECK(f.property<std::uint32_t>(path, kDomain, "HypervisorPid") ==
              static_cast<std::uint32_t>(vm.pid()));
        CHECK(f.vcpuThreads(path) == vm.threadSet({0, 1}));
        CHECK(f.waitFor([&] { return f.started.size() == 1; }));
        f.stop("vm1");
        CHECK(f.snapshot() == before);
    }

    SECTION("a tuned vCPU the hypervisor does not have") {
        const auto e = errorOf([&] {
            f.startForProcess(Domain("vm1")
                                  .uuid(kUuid)
                                  .vcpus(4)
                                  .cachetune("0-1", l3(0, 5_MiB))
                                  .cachetune("3", monitor("3")),
                              vm.pid());
        });
        CHECK(e.getName() == "org.resctrld1.Error.ProcessNotFound");
        INFO(e.getMessage());
        CHECK(containsWord(e.getMessage(), "3"));
        CHECK(f.snapshot() == before);
        f.settle();
        CHECK(f.started.empty());
        CHECK(errorOf([&] { f.getDomain("vm1"); }).getName() == "org.resctrld1.Error.NotFound");
    }

    SECTION("a process that does not exist or is a kernel thread") {
        for (pid_t pid : {simtest::unusedTid(), kernelThread()}) {
            INFO("pid " << pid);
            const auto e = errorOf([&] {
                f.startForProcess(Domain("vm1").uuid(kUuid).vcpus(2).cachetune("0-1", l3(0, 5_MiB)),
                                  pid);
            });
            CHECK(e.getName() == "org.resctrld1.Error.ProcessNotFound");
            CHECK(f.snapshot() == before);
        }
    }
}

TEST_CASE("StartDomain takes the threads of a <domstatus> definition", "[e2e][sim][domains]") {
    Fixture f;
    FakeVm& vm = f.spawn(2);
    const std::string before = f.snapshot();
    // As libvirt writes /run/libvirt/qemu/<name>.xml.
    const std::string status =
        "<domstatus state='running' reason='booted' pid='" + std::to_string(vm.pid()) +
        "'>\n  <taint flag='high-privileges'/>\n"
        "  <monitor path='/var/lib/libvirt/qemu/domain-1-vm1/monitor.sock' type='unix'/>\n"
        "  <vcpus>\n    <vcpu id='0' pid='" +
        std::to_string(vm.tid(0)) + "'/>\n    <vcpu id='1' pid='" + std::to_string(vm.tid(1)) +
        "'/>\n  </vcpus>\n" +
        Domain("vm1").uuid(kUuid).vcpus(2).cachetune("0-1", l3(0, 5_MiB) + monitor("1")).str() +
        "\n</domstatus>\n";

    const auto path = f.start(status, {});
    CHECK(path == kDomainPath);
    const std::string alloc = "resctrld-vm1-vcpus_0-1";
    CHECK(f.tasks(alloc) == TidSet{vm.tid(0), vm.tid(1)});
    CHECK(f.tasks(alloc + "/mon_groups/vcpus_1") == TidSet{vm.tid(1)});
    CHECK(f.property<std::uint32_t>(path, kDomain, "HypervisorPid") ==
          static_cast<std::uint32_t>(vm.pid()));
    CHECK(f.vcpuThreads(path) == vm.threadSet({0, 1}));
    f.stop("vm1");
    CHECK(f.snapshot() == before);
}

TEST_CASE("StartDomain again is a reconnect or AlreadyExists", "[e2e][sim][domains]") {
    Fixture f;
    FakeVm& vm = f.spawn(2);
    const std::string definition =
        Domain("vm1").uuid(kUuid).vcpus(2).cachetune("0-1", l3(0, 5_MiB) + monitor("1"));
    const auto path = f.start(definition, vm.threadsOf({0, 1}));
    REQUIRE(f.waitFor([&] { return f.started.size() == 1; }));
    const std::string after = f.snapshot();

    SECTION("same definition, same threads") {
        CHECK(f.start(definition, vm.threadsOf({0, 1})) == path);
        f.settle();
        CHECK(f.started.size() == 1);
        CHECK(f.snapshot() == after);
        CHECK(f.listDomains().size() == 1);
    }

    SECTION("same definition: a thread moved away meanwhile is attached again") {
        // Someone (an administrator, a foreign tool) put vCPU 1's thread back into the root.
        REQUIRE(simtest::writeFile(f.sim.at("tasks"), std::to_string(vm.tid(1))) == 0);
        REQUIRE(f.inRoot(vm.tid(1)));
        CHECK(f.start(definition, vm.threadsOf({0, 1})) == path);
        CHECK(f.snapshot() == after);
        f.settle();
        CHECK(f.started.size() == 1);
    }

    SECTION("same definition, a restarted vCPU thread is attached") {
        const auto [vcpu, tid] = vm.hotplug();
        (void)vcpu;
        Threads threads{{0, static_cast<std::uint32_t>(vm.tid(0))},
                        {1, static_cast<std::uint32_t>(tid)}};
        CHECK(f.start(definition, threads) == path);
        CHECK(f.tasks("resctrld-vm1-vcpus_0-1").count(tid) == 1);
        CHECK(f.tasks("resctrld-vm1-vcpus_0-1/mon_groups/vcpus_1").count(tid) == 1);
        CHECK(f.vcpuThreads(path).count({1, static_cast<std::uint32_t>(tid)}) == 1);
        f.settle();
        CHECK(f.started.size() == 1);
    }

    SECTION("another definition under the same name") {
        const auto e = errorOf([&] {
            f.start(Domain("vm1").uuid(kUuid).vcpus(2).cachetune("0-1", l3(0, 7680_KiB)),
                    vm.threadsOf({0, 1}));
        });
        CHECK(e.getName() == "org.resctrld1.Error.AlreadyExists");
        CHECK_FALSE(e.getMessage().empty());
        CHECK(f.snapshot() == after);
        CHECK(f.getDomain("vm1") == path);
        f.settle();
        CHECK(f.started.size() == 1);
    }
}

TEST_CASE("Domains compete for ways and CLOSIDs and RMIDs until NoSpace", "[e2e][sim][domains]") {
    SECTION("ways") {
        Fixture f;
        FakeVm& a = f.spawn(2);
        FakeVm& b = f.spawn(2);
        // 6 ways of 2.5 MiB of the 9 outside shareable_bits.
        f.start(Domain("a").uuid(kUuid).vcpus(2).cachetune("0-1", l3(0, 15_MiB)),
                a.threadsOf({0, 1}));
        const std::string before = f.snapshot();
        const auto e = errorOf([&] {
            f.start(Domain("b").uuid(kUuid).vcpus(2).cachetune("0-1", l3(0, 15_MiB)),
                    b.threadsOf({0, 1}));
        });
        CHECK(e.getName() == "org.resctrld1.Error.NoSpace");
        INFO(e.getMessage());
        CHECK(std::regex_search(e.getMessage(), std::regex("cache[^0-9]*\\b0\\b")));
        CHECK(f.snapshot() == before);
        // Three ways still fit, beside the first domain's.
        f.start(Domain("b").uuid(kUuid).vcpus(2).cachetune("0-1", l3(0, 7680_KiB)),
                b.threadsOf({0, 1}));
        const auto maskA = maskOf(f.schemata("resctrld-a-vcpus_0-1"), "L3", 0);
        const auto maskB = maskOf(f.schemata("resctrld-b-vcpus_0-1"), "L3", 0);
        CHECK(std::popcount(maskA) == 6);
        CHECK(std::popcount(maskB) == 3);
        CHECK((maskA & maskB) == 0);
        CHECK((maskOf(f.schemata(), "L3", 0) & (maskA | maskB)) == 0);

        // Stopping one domain leaves the other exactly as it was and regrows the default group
        // around it.
        const std::string groupB = "resctrld-b-vcpus_0-1";
        const std::string schemataB = f.schemata(groupB);
        f.stop("a");
        CHECK(f.groups() == std::set<std::string>{groupB});
        CHECK(f.schemata(groupB) == schemataB);
        CHECK(f.tasks(groupB) == TidSet{b.tid(0), b.tid(1)});
        CHECK(f.inRoot(a.tid(0)));
        const auto root = maskOf(f.schemata(), "L3", 0);
        CHECK((root & maskB) == 0);
        CHECK((root & maskA) != 0);
        CHECK(f.getDomain("b") == "/org/resctrld1/domain/b");
    }

    SECTION("CLOSIDs") {
        Fixture f;
        FakeVm& vm = f.spawn(4);
        // skx: 7 usable CLOSIDs (MB's 8 minus the root); foreign groups hold 6. Each keeps
        // only the shareable way 10 (a new group gets every way, and a way any group uses is
        // not free), so ways are not what runs out.
        for (int i = 0; i < 6; ++i) {
            const auto group = f.sim.at("foreign-" + std::to_string(i));
            REQUIRE(simtest::makeDir(group) == 0);
            REQUIRE(simtest::writeFile(group / "schemata", "L3:0=400;1=400\n") == 0);
        }
        const std::string before = f.snapshot();
        const auto e = errorOf([&] {
            f.start(Domain("vm1")
                        .uuid(kUuid)
                        .vcpus(4)
                        .cachetune("0-1", l3(0, 2560_KiB))
                        .cachetune("2-3", l3(0, 2560_KiB)),
                    vm.threadsOf({0, 1, 2, 3}));
        });
        CHECK(e.getName() == "org.resctrld1.Error.NoSpace");
        CHECK_THAT(e.getMessage(), Catch::Contains("CLOSID", Catch::CaseSensitive::No));
        CHECK(f.snapshot() == before);
        // One group still fits.
        f.start(Domain("vm1").uuid(kUuid).vcpus(4).cachetune("0-1", l3(0, 2560_KiB)),
                vm.threadsOf({0, 1}));
        CHECK(f.managerProperty("ClosidsFree") == 0);
    }

    SECTION("RMIDs") {
        Fixture f;
        FakeVm& vm = f.spawn(2);
        // skx: 159 usable RMIDs; foreign monitor groups hold 158.
        for (int i = 0; i < 158; ++i)
            REQUIRE(simtest::makeDir(f.sim.at("mon_groups/foreign-" + std::to_string(i))) == 0);
        const std::string before = f.snapshot();
        // An allocation group and a monitor group: two RMIDs.
        const auto e = errorOf([&] {
            f.start(
                Domain("vm1").uuid(kUuid).vcpus(2).cachetune("0-1", l3(0, 2560_KiB) + monitor("1")),
                vm.threadsOf({0, 1}));
        });
        CHECK(e.getName() == "org.resctrld1.Error.NoSpace");
        CHECK_THAT(e.getMessage(), Catch::Contains("RMID", Catch::CaseSensitive::No));
        CHECK(f.snapshot() == before);
        // One monitor group still fits.
        f.start(Domain("vm1").uuid(kUuid).vcpus(2).cachetune("0-1", monitor("0-1")),
                vm.threadsOf({0, 1}));
        CHECK(f.tasks("mon_groups/resctrld-vm1-vcpus_0-1") == TidSet{vm.tid(0), vm.tid(1)});
    }
}

TEST_CASE("Foreign groups are never touched and keep their ways", "[e2e][sim][domains]") {
    Fixture f;
    FakeVm& vm = f.spawn(2);
    FakeVm& other = f.spawn(1);
    // A foreign tool (pqos, libvirt) holds ways 0-1 of cache 0 with a task and a monitor.
    REQUIRE(simtest::makeDir(f.sim.at("pqos-cos1")) == 0);
    REQUIRE(simtest::writeFile(f.sim.at("pqos-cos1/schemata"), "L3:0=3\n") == 0);
    REQUIRE(simtest::writeFile(f.sim.at("pqos-cos1/tasks"), std::to_string(other.tid(0))) == 0);
    REQUIRE(simtest::makeDir(f.sim.at("pqos-cos1/mon_groups/watch")) == 0);
    REQUIRE(simtest::writeFile(f.sim.at("pqos-cos1/mon_groups/watch/tasks"),
                               std::to_string(other.tid(0))) == 0);
    REQUIRE(simtest::makeDir(f.sim.at("mon_groups/foreign-mon")) == 0);
    const std::string before = f.snapshot();

    SECTION("a domain gets other ways; stopping it restores everything") {
        f.start(Domain("vm1").uuid(kUuid).vcpus(2).cachetune("0-1", l3(0, 10_MiB)),
                vm.threadsOf({0, 1}));
        const auto mask = maskOf(f.schemata("resctrld-vm1-vcpus_0-1"), "L3", 0);
        CHECK(std::popcount(mask) == 4);
        CHECK((mask & 0x3) == 0);
        CHECK(maskOf(f.schemata("pqos-cos1"), "L3", 0) == 0x3);
        CHECK(f.tasks("pqos-cos1") == TidSet{other.tid(0)});
        CHECK(f.tasks("pqos-cos1/mon_groups/watch") == TidSet{other.tid(0)});
        CHECK(simtest::pathExists(f.sim.at("mon_groups/foreign-mon")));
        f.stop("vm1");
        CHECK(f.snapshot() == before);
    }

    SECTION("the foreign ways are not given out") {
        // 10 of 11 ways would fit beside the root group's one, not beside the foreign two.
        const auto e = errorOf([&] {
            f.start(Domain("vm1").uuid(kUuid).vcpus(2).cachetune("0-1", l3(0, 25_MiB)),
                    vm.threadsOf({0, 1}));
        });
        CHECK(e.getName() == "org.resctrld1.Error.NoSpace");
        CHECK(f.snapshot() == before);
    }
}

TEST_CASE("A kernel error at any step leaves resctrl exactly as it was", "[e2e][sim][domains]") {
    const std::string kernel = GENERATE("6.15", "6.1");
    INFO("kernel " << kernel);
    Fixture f("skx-2s-l3cat", "", kernel);
    FakeVm& vm = f.spawn(4);
    const std::string definition = Domain("vm1")
                                       .uuid(kUuid)
                                       .vcpus(4)
                                       .cachetune("0-1", l3(0, 5_MiB) + monitor("1"))
                                       .cachetune("2-3", monitor("2-3"));
    const std::string alloc = "resctrld-vm1-vcpus_0-1";
    struct Step {
        std::string op;
        std::string glob;
        unsigned skip; // matching operations that succeed before the failing one
    };
    const std::vector<Step> steps{
        {"mkdir", alloc, 0},
        {"write", alloc + "/schemata", 0},
        {"mkdir", alloc + "/mon_groups/vcpus_1", 0},
        {"mkdir", "mon_groups/resctrld-vm1-vcpus_2-3", 0},
        {"write", alloc + "/tasks", 0},
        {"write", alloc + "/tasks", 1}, // the second thread, after the first moved
        {"write", alloc + "/mon_groups/vcpus_1/tasks", 0},
        {"write", "mon_groups/resctrld-vm1-vcpus_2-3/tasks", 0},
        {"write", "mon_groups/resctrld-vm1-vcpus_2-3/tasks", 1},
        {"write", "schemata", 0}, // the default group gives up the ways
    };
    const std::vector<std::string> errnos{"EIO", "ENOSPC", "EINVAL", "ESRCH"};
    const std::string before = f.snapshot();
    unsigned tried = 0;
    for (const auto& step : steps) {
        for (const auto& errnoName : errnos) {
            // ESRCH (the thread exited) only where a thread is written.
            if (errnoName == "ESRCH" && !step.glob.ends_with("/tasks"))
                continue;
            const int errnoValue = errnoName == "EIO"      ? EIO
                                   : errnoName == "ENOSPC" ? ENOSPC
                                   : errnoName == "EINVAL" ? EINVAL
                                                           : ESRCH;
            INFO(step.op << " " << step.glob << " (after " << step.skip << ") " << errnoName);
            std::string faults;
            if (step.skip > 0)
                faults +=
                    step.op + " " + step.glob + " " + std::to_string(step.skip) + " stall 1\n";
            faults += step.op + " " + step.glob + " 1 " + errnoName + "\n";
            f.sim.setControl("faults", faults);
            std::optional<sdbus::Error> error;
            try {
                f.start(definition, vm.threadsOf({0, 1, 2, 3}));
            } catch (const sdbus::Error& e) {
                error = e;
            }
            f.sim.setControl("faults", "");
            ++tried;
            if (!error) {
                FAIL_CHECK("StartDomain succeeded despite the fault");
                f.stop("vm1");
                continue;
            }
            INFO(error->getName() << ": " << error->getMessage());
            if (errnoValue == ENOSPC)
                CHECK((error->getName() == "org.resctrld1.Error.KernelRejected" ||
                       error->getName() == "org.resctrld1.Error.NoSpace"));
            else if (errnoValue == ESRCH)
                CHECK((error->getName() == "org.resctrld1.Error.KernelRejected" ||
                       error->getName() == "org.resctrld1.Error.ProcessNotFound"));
            else
                CHECK(error->getName() == "org.resctrld1.Error.KernelRejected");
            if (error->getName() == "org.resctrld1.Error.KernelRejected")
                CHECK_THAT(error->getMessage(), Catch::Contains(std::strerror(errnoValue)));
            CHECK(f.snapshot() == before);
            CHECK(errorOf([&] { f.getDomain("vm1"); }).getName() == "org.resctrld1.Error.NotFound");
        }
    }
    std::cout << "e2e-daemon-domains: " << tried << " (operation, fault) pairs tried\n";
    WARN(tried << " (operation, fault) pairs tried");
    f.settle();
    CHECK(f.started.empty());

    // The daemon still works afterwards.
    f.start(definition, vm.threadsOf({0, 1, 2, 3}));
    CHECK(f.tasks(alloc) == TidSet{vm.tid(0), vm.tid(1)});
    f.stop("vm1");
    CHECK(f.snapshot() == before);
}

TEST_CASE("Threads that are not one hypervisor's are ProcessNotFound", "[e2e][sim][domains]") {
    Fixture f;
    FakeVm& vm = f.spawn(2);
    FakeVm& other = f.spawn(2);
    const std::string single = Domain("vm1").uuid(kUuid).vcpus(2).cachetune("0", l3(0, 2560_KiB));
    const std::string both = Domain("vm1").uuid(kUuid).vcpus(2).cachetune("0-1", l3(0, 2560_KiB));
    const std::string before = f.snapshot();
    const std::vector<std::pair<std::string, pid_t>> bad{
        {"PID 1", 1},
        {"the daemon", f.daemon->process().pid()},
        {"a kernel thread", kernelThread()},
        {"no such thread", simtest::unusedTid()},
    };
    for (const auto& [what, tid] : bad) {
        INFO(what << ": tid " << tid);
        const auto e = errorOf([&, tid = tid] {
            f.start(single, Threads{{0, static_cast<std::uint32_t>(tid)}});
        });
        CHECK(e.getName() == "org.resctrld1.Error.ProcessNotFound");
        INFO(e.getMessage());
        CHECK(containsWord(e.getMessage(), std::to_string(tid)));
        CHECK(f.snapshot() == before);
    }
    {
        INFO("threads of two processes");
        const auto e = errorOf([&] {
            f.start(both, Threads{{0, static_cast<std::uint32_t>(vm.tid(0))},
                                  {1, static_cast<std::uint32_t>(other.tid(1))}});
        });
        CHECK(e.getName() == "org.resctrld1.Error.ProcessNotFound");
        CHECK(f.snapshot() == before);
    }
    f.settle();
    CHECK(f.started.empty());
    CHECK(f.listDomains().empty());
}

TEST_CASE("SetVcpuThread attaches a hot-plugged vCPU thread", "[e2e][sim][domains]") {
    Fixture f;
    FakeVm& vm = f.spawn(2);
    FakeVm& other = f.spawn(1);
    // vCPU 2 is tuned but has no thread yet: StartDomain accepts that.
    const auto path =
        f.start(Domain("vm1").uuid(kUuid).vcpus(3).cachetune("0-2", l3(0, 5_MiB) + monitor("2")),
                vm.threadsOf({0, 1}));
    const std::string alloc = "resctrld-vm1-vcpus_0-2";
    CHECK(f.tasks(alloc) == TidSet{vm.tid(0), vm.tid(1)});
    CHECK(f.tasks(alloc + "/mon_groups/vcpus_2").empty());

    const auto [vcpu, tid] = vm.hotplug();
    REQUIRE(vcpu == 2);
    f.setVcpuThread("vm1", 2, tid);
    CHECK(f.tasks(alloc) == TidSet{vm.tid(0), vm.tid(1), tid});
    CHECK(f.tasks(alloc + "/mon_groups/vcpus_2") == TidSet{tid});
    CHECK(f.vcpuThreads(path).count({2, static_cast<std::uint32_t>(tid)}) == 1);

    const std::string after = f.snapshot();
    CHECK(errorOf([&] { f.setVcpuThread("nosuchvm", 2, tid); }).getName() ==
          "org.resctrld1.Error.NotFound");
    CHECK(errorOf([&] { f.setVcpuThread("vm1", 2, simtest::unusedTid()); }).getName() ==
          "org.resctrld1.Error.ProcessNotFound");
    CHECK(errorOf([&] { f.setVcpuThread("vm1", 2, other.tid(0)); }).getName() ==
          "org.resctrld1.Error.ProcessNotFound");
    CHECK(f.snapshot() == after);
}

TEST_CASE("Only privileged callers start or stop domains or attach threads",
          "[e2e][sim][domains]") {
    Fixture f;
    FakeVm& vm = f.spawn(2);
    const std::string definition =
        Domain("vm1").uuid(kUuid).vcpus(2).cachetune("0-1", l3(0, 5_MiB));
    const std::string before = f.snapshot();

    const auto start =
        callAsUser(f.bus.address(), kNobody, kNogroup, {}, "StartDomain", definition);
    CHECK(start.errorName == "org.resctrld1.Error.AccessDenied");
    const auto forProcess =
        callAsUser(f.bus.address(), kNobody, kNogroup, {}, "StartDomainForProcess", definition);
    CHECK(forProcess.errorName == "org.resctrld1.Error.AccessDenied");
    CHECK(f.snapshot() == before);

    f.start(definition, vm.threadsOf({0, 1}));
    const std::string after = f.snapshot();
    CHECK(callAsUser(f.bus.address(), kNobody, kNogroup, {}, "StopDomain", "vm1").errorName ==
          "org.resctrld1.Error.AccessDenied");
    CHECK(callAsUser(f.bus.address(), kNobody, kNogroup, {}, "SetVcpuThread", "vm1").errorName ==
          "org.resctrld1.Error.AccessDenied");
    CHECK(f.snapshot() == after);
    // Reading is open to everyone.
    const auto get = callAsUser(f.bus.address(), kNobody, kNogroup, {}, "GetDomain", "vm1");
    INFO(get.errorName << ": " << get.errorMessage);
    CHECK(get.ok);
    CHECK(f.getDomain("vm1") == kDomainPath);
}

TEST_CASE("Threads of vCPUs no tuning names are accepted and left alone", "[e2e][sim][domains]") {
    Fixture f;
    FakeVm& vm = f.spawn(3);
    // vCPU 2 is in no cachetune or memorytune.
    const auto path = f.start(Domain("vm1").uuid(kUuid).vcpus(3).cachetune("0-1", l3(0, 5_MiB)),
                              vm.threadsOf({0, 1, 2}));
    CHECK(f.tasks("resctrld-vm1-vcpus_0-1") == TidSet{vm.tid(0), vm.tid(1)});
    CHECK(f.inRoot(vm.tid(2)));
    (void)path;
}

TEST_CASE("A domain name outside the safe characters gets a mangled group name and an encoded "
          "path",
          "[e2e][sim][domains]") {
    Fixture f;
    FakeVm& vm = f.spawn(2);
    const std::string before = f.snapshot();
    // libvirt refuses '/' in names; a space and '+' are allowed there, not in a group name.
    const std::string name = "my vm+1";
    const auto path = f.start(Domain(name).uuid(kUuid).vcpus(2).cachetune("0-1", l3(0, 5_MiB)),
                              vm.threadsOf({0, 1}));
    // sd_bus_path_encode: every byte outside [A-Za-z0-9] as _ and two lowercase hex digits.
    CHECK(path == "/org/resctrld1/domain/my_20vm_2b1");
    CHECK(f.getDomain(name) == path);
    CHECK(f.property<std::string>(path, kDomain, "Name") == name);
    const auto groups = f.groups();
    REQUIRE(groups.size() == 1);
    const std::string group = *groups.begin();
    INFO(group);
    CHECK(std::regex_match(group, std::regex("resctrld-my_vm_1~[0-9a-fA-F]{16}-vcpus_0-1")));
    CHECK(f.property<std::string>(path + "/allocation/0", kAllocation, "Group") == group);
    CHECK(f.tasks(group) == TidSet{vm.tid(0), vm.tid(1)});
    f.stop(name);
    CHECK(f.snapshot() == before);
}

TEST_CASE("A member of AllowedGroups starts and stops domains", "[e2e][sim][domains]") {
    // nogroup is nobody's primary group in the user database.
    Fixture f("skx-2s-l3cat", "", "6.15", "AllowedGroups=nogroup\n");
    const std::string before = f.snapshot();
    // No threads yet: the groups are made, the vCPUs attach later (SetVcpuThread).
    const auto start =
        callAsUser(f.bus.address(), kNobody, kNogroup, {}, "StartDomain",
                   Domain("vm1").uuid(kUuid).vcpus(2).cachetune("0-1", l3(0, 5_MiB)));
    INFO(start.errorName << ": " << start.errorMessage);
    CHECK(start.ok);
    CHECK(f.groups() == std::set<std::string>{"resctrld-vm1-vcpus_0-1"});
    CHECK(f.tasks("resctrld-vm1-vcpus_0-1").empty());
    const auto stop = callAsUser(f.bus.address(), kNobody, kNogroup, {}, "StopDomain", "vm1");
    INFO(stop.errorName << ": " << stop.errorMessage);
    CHECK(stop.ok);
    CHECK(f.snapshot() == before);
}
