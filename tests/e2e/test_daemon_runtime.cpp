// SPDX-License-Identifier: LGPL-2.1-or-later
// resctrld's monitoring at run time, end to end: a real private bus and client, the real daemon,
// the real resctrlfs-sim and real fake-hypervisor processes. Occupancy, GetStats with virsh
// domstats' keys, counter states, memory bandwidth and sampling ticks (docs/api.md
// "org.resctrld1.Monitor", "Sampled"); the domain lifecycle at run time is in
// test_daemon_lifecycle.cpp.

#include "runtime_fixture.h"
#include "syscall_trace.h"

using namespace resctrld::e2e;
using namespace resctrld::e2e::runtime;

// --- 1. occupancy ----------------------------------------------------------------------------

TEST_CASE("cache occupancy flows from the simulator to properties, signals and Sample()",
          "[e2e][sim][monitor]") {
    Fixture f;
    auto& hv = f.hypervisor();
    const auto domainPath = f.startDomain(
        Domain("occ").vcpus(4).cachetune("0-1", l3(0, 5_MiB) + monitor("0-1")), hv.vcpuThreads());
    const auto monitors = f.children(domainPath, "Monitors");
    REQUIRE(monitors.size() == 1);
    const std::string monitor = monitors[0];
    CHECK(f.group(monitor, kMonitor) == "resctrld-occ-vcpus_0-1");

    // Cache 0: 3 + 4 MiB of footprint, capped at the group's 2 ways; cache 1: 1 MiB (the group
    // keeps a mask of the whole cache there, far more than 1 MiB).
    const std::size_t from = f.signals.mark();
    f.sim.setControl(
        "footprint",
        footprint({{hv.tid(0), 0, 3 * kMiB}, {hv.tid(1), 0, 4 * kMiB}, {hv.tid(0), 1, 1 * kMiB}}));
    const CounterMap expected{{0, 2 * kWay}, {1, 1 * kMiB}};
    REQUIRE(f.monValue("resctrld-occ-vcpus_0-1", 0, "llc_occupancy") == 2 * kWay);

    const auto changed = f.signals.waitFor(
        [&](const Recorded& r) {
            return r.path == monitor && r.member == "PropertiesChanged" &&
                   r.changedInterface == kMonitor && r.counterMaps.count("CacheOccupancy") &&
                   r.counterMaps.at("CacheOccupancy") == expected;
        },
        kDeadline, from);
    INFO(f.log());
    REQUIRE(changed);
    CHECK(changed->numbers.count("SampledAt"));
    CHECK((changed->numbers.count("SampledAt") && changed->numbers.at("SampledAt") > 0));

    const auto sampled = f.signals.waitFor(
        [&](const Recorded& r) {
            return r.member == "Sampled" && r.sampled.count(monitor) &&
                   r.sampled.at(monitor) == expected;
        },
        kDeadline, from);
    REQUIRE(sampled);
    CHECK(sampled->path == kRootPath);
    CHECK(sampled->timestamp > 0);
    // One tick, one time: the signal's and the monitor's SampledAt of that tick.
    CHECK((changed->numbers.count("SampledAt") &&
           sampled->timestamp == changed->numbers.at("SampledAt")));

    CHECK(f.counters(monitor, "CacheOccupancy") == expected);
    CHECK(f.sample(monitor) == expected);
    CHECK(f.property<StateMap>(monitor, kMonitor, "CounterStates") ==
          StateMap{{0, "ok"}, {1, "ok"}});

    // A change of footprint is seen by Sample() at once, without waiting for a tick.
    f.sim.setControl("footprint", footprint({{hv.tid(1), 1, 2 * kMiB}}));
    CHECK(f.sample(monitor) == CounterMap{{0, 0}, {1, 2 * kMiB}});
    CHECK(f.counters(monitor, "CacheOccupancy") == CounterMap{{0, 0}, {1, 2 * kMiB}});
}

TEST_CASE("monitors of a monitor-only cachetune read their own groups under the root",
          "[e2e][sim][monitor]") {
    Fixture f;
    auto& hv = f.hypervisor();
    const auto domainPath = f.startDomain(
        Domain("mo").vcpus(4).cachetune("0-1", monitor("0") + monitor("1")), hv.vcpuThreads());
    const auto monitors = f.children(domainPath, "Monitors");
    REQUIRE(monitors.size() == 2);
    CHECK(f.children(domainPath, "Allocations").empty());
    CHECK(f.group(monitors[0], kMonitor) == "mon_groups/resctrld-mo-vcpus_0");
    CHECK(f.group(monitors[1], kMonitor) == "mon_groups/resctrld-mo-vcpus_1");
    CHECK(f.property<std::string>(monitors[1], kMonitor, "Name") == "vcpus_1");
    CHECK(f.property<std::vector<uint32_t>>(monitors[1], kMonitor, "Vcpus") ==
          std::vector<uint32_t>{1});
    CHECK(f.property<uint32_t>(monitors[1], kMonitor, "Level") == 3);

    // In the root's CLOSID the room is the whole cache, 27.5 MiB: 31 MiB of footprint on cache 0
    // is shared in proportion (tests/sim/README.md, "Occupancy and MBM model").
    f.sim.setControl(
        "footprint",
        footprint({{hv.tid(0), 0, 1 * kMiB}, {hv.tid(1), 0, 30 * kMiB}, {hv.tid(1), 1, 2 * kMiB}}));
    const uint64_t room = 11 * kWay;
    const CounterMap expected0{{0, 1 * kMiB * room / (31 * kMiB)}, {1, 0}};
    const CounterMap expected1{{0, 30 * kMiB * room / (31 * kMiB)}, {1, 2 * kMiB}};
    const std::size_t from = f.signals.mark();
    const auto sampled = f.signals.waitFor(
        [&](const Recorded& r) {
            return r.member == "Sampled" && r.sampled.count(monitors[0]) &&
                   r.sampled.count(monitors[1]) && r.sampled.at(monitors[0]) == expected0 &&
                   r.sampled.at(monitors[1]) == expected1;
        },
        kDeadline, from);
    INFO(f.log());
    CHECK(sampled);
    CHECK(f.counters(monitors[0], "CacheOccupancy") == expected0);
    CHECK(f.counters(monitors[1], "CacheOccupancy") == expected1);
}

// --- 2. GetStats -------------------------------------------------------------------------------

TEST_CASE("GetStats answers virsh domstats' keys with the monitors' values",
          "[e2e][sim][monitor]") {
    Fixture f;
    auto& hv = f.hypervisor();
    const std::string definition =
        Domain("stats")
            .vcpus(4)
            .cachetune("0-1", l3(0, 5_MiB) + monitor("0") + monitor("0-1"))
            .memorytune("0-1", node(0, 50) + memoryMonitor("0-1"));
    const auto domainPath = f.startDomain(definition, hv.vcpuThreads());
    const auto monitors = f.children(domainPath, "Monitors");
    REQUIRE(monitors.size() == 3);
    const std::string alloc = "resctrld-stats-vcpus_0-1";
    CHECK(f.group(monitors[0], kMonitor) == alloc + "/mon_groups/vcpus_0");
    CHECK(f.group(monitors[1], kMonitor) == alloc);
    CHECK(f.group(monitors[2], kMonitor) == alloc);

    f.sim.setControl(
        "footprint",
        footprint({{hv.tid(0), 0, 1 * kMiB}, {hv.tid(1), 0, 2 * kMiB}, {hv.tid(0), 1, 3 * kMiB}}));
    // Let the MBM counters of cache 0 run, then stop them so that they hold still.
    f.sim.setControl("traffic", std::to_string(hv.tid(0)) + " 0 50000000 20000000\n");
    REQUIRE(waitUntil([&] { return f.monValue(alloc, 0, "mbm_local_bytes") > 0; }));
    f.sim.setControl("traffic", "");
    const uint64_t total0 = f.monValue(alloc, 0, "mbm_total_bytes");
    const uint64_t local0 = f.monValue(alloc, 0, "mbm_local_bytes");
    REQUIRE(total0 > local0);

    // The properties catch up with the files on the next ticks.
    INFO(f.log());
    REQUIRE(waitUntil([&] {
        return f.counters(monitors[2], "MemoryBytesTotal") == CounterMap{{0, total0}, {1, 0}} &&
               f.counters(monitors[0], "CacheOccupancy") ==
                   CounterMap{{0, 1 * kMiB}, {1, 3 * kMiB}} &&
               f.counters(monitors[1], "CacheOccupancy") ==
                   CounterMap{{0, 3 * kMiB}, {1, 3 * kMiB}};
    }));
    CHECK(f.counters(monitors[2], "MemoryBytesLocal") == CounterMap{{0, local0}, {1, 0}});
    // One Sampled for all monitors of the tick.
    const std::size_t from = f.signals.mark();
    auto sampled = f.signals.waitFor(isMember("Sampled"), kDeadline, from);
    REQUIRE(sampled);
    CHECK(sampled->sampled.count(monitors[0]));
    CHECK(sampled->sampled.count(monitors[1]));
    CHECK(sampled->sampled[monitors[0]] == CounterMap{{0, 1 * kMiB}, {1, 3 * kMiB}});
    CHECK(sampled->sampled[monitors[1]] == CounterMap{{0, 3 * kMiB}, {1, 3 * kMiB}});

    const Stats stats = f.getStats("stats");
    std::set<std::string> keys;
    for (const auto& [key, value] : stats)
        keys.insert(key);
    std::set<std::string> expectedKeys{"cpu.cache.monitor.count", "memory.bandwidth.monitor.count"};
    for (const std::string i : {"0", "1"}) {
        const std::string p = "cpu.cache.monitor." + i;
        for (const std::string k : {".name", ".vcpus", ".bank.count", ".bank.0.id", ".bank.0.bytes",
                                    ".bank.1.id", ".bank.1.bytes"})
            expectedKeys.insert(p + k);
    }
    for (const std::string k :
         {".name", ".vcpus", ".node.count", ".node.0.id", ".node.0.bytes.local",
          ".node.0.bytes.total", ".node.1.id", ".node.1.bytes.local", ".node.1.bytes.total"})
        expectedKeys.insert("memory.bandwidth.monitor.0" + k);
    CHECK(keys == expectedKeys);

    auto u = [&](const std::string& key) {
        INFO(key);
        REQUIRE(stats.count(key));
        REQUIRE(stats.at(key).containsValueOfType<uint32_t>());
        return stats.at(key).get<uint32_t>();
    };
    auto t = [&](const std::string& key) {
        INFO(key);
        REQUIRE(stats.count(key));
        REQUIRE(stats.at(key).containsValueOfType<uint64_t>());
        return stats.at(key).get<uint64_t>();
    };
    auto s = [&](const std::string& key) {
        INFO(key);
        REQUIRE(stats.count(key));
        REQUIRE(stats.at(key).containsValueOfType<std::string>());
        return stats.at(key).get<std::string>();
    };

    CHECK(u("cpu.cache.monitor.count") == 2);
    CHECK(s("cpu.cache.monitor.0.name") == "vcpus_0");
    CHECK(s("cpu.cache.monitor.0.vcpus") == "0");
    CHECK(s("cpu.cache.monitor.1.name") == "vcpus_0-1");
    CHECK(s("cpu.cache.monitor.1.vcpus") == "0-1");
    for (unsigned i = 0; i < 2; ++i) {
        const std::string p = "cpu.cache.monitor." + std::to_string(i);
        const CounterMap occupancy = f.counters(monitors[i], "CacheOccupancy");
        CHECK(f.property<std::string>(monitors[i], kMonitor, "Name") == s(p + ".name"));
        CHECK(u(p + ".bank.count") == 2);
        for (unsigned j = 0; j < 2; ++j) {
            const std::string bank = p + ".bank." + std::to_string(j);
            CHECK(u(bank + ".id") == j);
            CHECK(t(bank + ".bytes") == occupancy.at(j));
            CHECK(t(bank + ".bytes") ==
                  f.monValue(f.group(monitors[i], kMonitor), j, "llc_occupancy"));
        }
    }
    CHECK(u("memory.bandwidth.monitor.count") == 1);
    CHECK(s("memory.bandwidth.monitor.0.name") == "vcpus_0-1");
    CHECK(s("memory.bandwidth.monitor.0.vcpus") == "0-1");
    CHECK(u("memory.bandwidth.monitor.0.node.count") == 2);
    CHECK(u("memory.bandwidth.monitor.0.node.0.id") == 0);
    CHECK(u("memory.bandwidth.monitor.0.node.1.id") == 1);
    CHECK(t("memory.bandwidth.monitor.0.node.0.bytes.total") == total0);
    CHECK(t("memory.bandwidth.monitor.0.node.0.bytes.local") == local0);
    CHECK(t("memory.bandwidth.monitor.0.node.1.bytes.total") == 0);
    CHECK(t("memory.bandwidth.monitor.0.node.1.bytes.local") == 0);

    // Domain.GetStats() is the same call.
    Stats viaDomain;
    f.proxy(domainPath)->callMethod("GetStats").onInterface(kDomain).storeResultsTo(viaDomain);
    std::set<std::string> domainKeys;
    for (const auto& [key, value] : viaDomain)
        domainKeys.insert(key);
    CHECK(domainKeys == expectedKeys);
}

TEST_CASE("GetStats of a domain without monitors has a cache monitor count of 0",
          "[e2e][sim][monitor]") {
    Fixture f;
    auto& hv = f.hypervisor();
    f.startDomain(Domain("plain").vcpus(4).cachetune("0-1", l3(0, 5_MiB)), hv.vcpuThreads());
    const Stats stats = f.getStats("plain");
    INFO(f.log());
    REQUIRE(stats.count("cpu.cache.monitor.count"));
    CHECK(stats.at("cpu.cache.monitor.count").get<uint32_t>() == 0);
    // libvirt emits nothing of memory.bandwidth.* without a bandwidth monitor.
    CHECK(stats.count("memory.bandwidth.monitor.count") == 0);
    CHECK(stats.size() == 1);
}

// --- 3. counter states -------------------------------------------------------------------------

TEST_CASE("Unavailable and Error counters are states, never a value of 0", "[e2e][sim][monitor]") {
    Fixture f;
    auto& hv = f.hypervisor();
    const auto domainPath = f.startDomain(
        Domain("cnt").vcpus(4).cachetune("0-1", l3(0, 5_MiB) + monitor("0-1")), hv.vcpuThreads());
    const std::string monitor = f.children(domainPath, "Monitors").at(0);
    f.sim.setControl("footprint", footprint({{hv.tid(0), 0, 1 * kMiB}, {hv.tid(1), 1, 2 * kMiB}}));

    auto waitStates = [&](const StateMap& states, const CounterMap& values) {
        const bool reached = waitUntil([&] {
            return f.property<StateMap>(monitor, kMonitor, "CounterStates") == states &&
                   f.counters(monitor, "CacheOccupancy") == values;
        });
        INFO("CounterStates " << describe(f.property<StateMap>(monitor, kMonitor, "CounterStates"))
                              << ", CacheOccupancy "
                              << describe(f.counters(monitor, "CacheOccupancy")));
        INFO(f.log());
        CHECK(reached);
    };

    waitStates({{0, "ok"}, {1, "ok"}}, {{0, 1 * kMiB}, {1, 2 * kMiB}});

    SECTION("Unavailable") {
        f.sim.setControl("counters", "1 llc_occupancy Unavailable\n");
        waitStates({{0, "ok"}, {1, "unavailable"}}, {{0, 1 * kMiB}});
        CHECK(f.sample(monitor) == CounterMap{{0, 1 * kMiB}});
    }
    SECTION("Error") {
        f.sim.setControl("counters", "0 * Error\n");
        waitStates({{0, "error"}, {1, "ok"}}, {{1, 2 * kMiB}});
        CHECK(f.sample(monitor) == CounterMap{{1, 2 * kMiB}});
    }
    SECTION("Unassigned") {
        f.sim.setControl("counters", "1 llc_occupancy Unassigned\n");
        waitStates({{0, "ok"}, {1, "unassigned"}}, {{0, 1 * kMiB}});
    }
    // Back to readable counters: the value returns.
    f.sim.setControl("counters", "0 * ok\n1 * ok\n");
    waitStates({{0, "ok"}, {1, "ok"}}, {{0, 1 * kMiB}, {1, 2 * kMiB}});
}

// --- 4. memory bandwidth -----------------------------------------------------------------------

TEST_CASE("MBM traffic makes MemoryBytes grow and MemoryBandwidth follow the rate",
          "[e2e][sim][monitor]") {
    Fixture f;
    auto& hv = f.hypervisor();
    const auto domainPath =
        f.startDomain(Domain("mbm").vcpus(4).memorytune("0-1", node(0, 50) + memoryMonitor("0-1")),
                      hv.vcpuThreads());
    const auto monitors = f.children(domainPath, "Monitors");
    REQUIRE(monitors.size() == 1);
    const std::string monitor = monitors[0];

    constexpr uint64_t kTotalRate = 100'000'000;
    constexpr uint64_t kLocalRate = 40'000'000;
    f.sim.setControl("traffic", std::to_string(hv.tid(0)) + " 0 " + std::to_string(kTotalRate) +
                                    " " + std::to_string(kLocalRate) + "\n" +
                                    std::to_string(hv.tid(1)) + " 1 " + std::to_string(kTotalRate) +
                                    "\n");

    auto at = [](const CounterMap& map, uint32_t id) {
        const auto it = map.find(id);
        return it == map.end() ? uint64_t{0} : it->second;
    };
    INFO(f.log());
    REQUIRE(waitUntil([&] { return at(f.counters(monitor, "MemoryBytesTotal"), 0) > 0; }));
    const uint64_t first = at(f.counters(monitor, "MemoryBytesTotal"), 0);
    REQUIRE(waitUntil([&] { return at(f.counters(monitor, "MemoryBytesTotal"), 0) > first; }));

    // Rates over one interval of real reads: near the simulated rate (generous bounds for a
    // loaded machine; the daemon divides by the time between its reads, not by the interval).
    REQUIRE(waitUntil([&] { return at(f.counters(monitor, "MemoryBandwidthTotal"), 0) > 0; }));
    const CounterMap total = f.counters(monitor, "MemoryBandwidthTotal");
    const CounterMap local = f.counters(monitor, "MemoryBandwidthLocal");
    INFO("MemoryBandwidthTotal " << describe(total) << ", MemoryBandwidthLocal "
                                 << describe(local));
    CHECK(at(total, 0) > kTotalRate / 2);
    CHECK(at(total, 0) < kTotalRate * 3 / 2);
    CHECK(at(local, 0) > kLocalRate / 2);
    CHECK(at(local, 0) < kLocalRate * 3 / 2);
    // Cache 1: local defaults to total in the simulator.
    CHECK(at(total, 1) > kTotalRate / 2);
    CHECK(at(local, 1) > kTotalRate / 2);
    CHECK(f.counters(monitor, "MemoryBytesLocal").at(0) > 0);

    // Counters that change on every tick: one PropertiesChanged per tick for the monitor, with
    // all of its changed properties in it.
    const std::size_t from = f.signals.mark();
    REQUIRE(f.signals.waitForCount(isMember("Sampled"), 4, kDeadline, from));
    const auto recorded = f.signals.since(from);
    std::vector<std::size_t> perTick{0};
    for (const auto& r : recorded) {
        if (r.member == "Sampled")
            perTick.push_back(0);
        else if (r.path == monitor && r.member == "PropertiesChanged") {
            ++perTick.back();
            CHECK(r.changedInterface == kMonitor);
            CHECK(r.counterMaps.count("MemoryBytesTotal"));
            CHECK(r.counterMaps.count("MemoryBytesLocal"));
            CHECK(r.numbers.count("SampledAt"));
        }
    }
    for (std::size_t i = 1; i + 1 < perTick.size(); ++i) {
        INFO("tick " << i);
        CHECK(perTick[i] == 1);
    }
    CHECK(f.property<StateMap>(monitor, kMonitor, "CounterStates") ==
          StateMap{{0, "ok"}, {1, "ok"}});
}

// --- 5. and 6. when there are no ticks ----------------------------------------------------------

TEST_CASE("SampleIntervalSec=0 samples only on request", "[e2e][sim][monitor]") {
    Fixture f({.configText = config("0")});
    CHECK(f.property<uint64_t>(kRootPath, kManager, "SampleIntervalUSec") == 0);
    auto& hv = f.hypervisor();
    const auto domainPath = f.startDomain(
        Domain("quiet").vcpus(4).cachetune("0-1", l3(0, 5_MiB) + monitor("0-1")), hv.vcpuThreads());
    const std::string monitor = f.children(domainPath, "Monitors").at(0);
    f.sim.setControl("footprint", footprint({{hv.tid(0), 0, 1 * kMiB}}));

    // An absence can only be observed over a time: 1.5 s is 7 ticks of the usual 0.2 s.
    const std::size_t from = f.signals.mark();
    CHECK_FALSE(f.signals.waitFor(isMember("Sampled"), 1500ms, from));
    CHECK(f.signals.count([&](const Recorded& r) { return r.path == monitor; }, from) == 0);

    CHECK(f.sample(monitor) == CounterMap{{0, 1 * kMiB}, {1, 0}});
    CHECK(f.counters(monitor, "CacheOccupancy") == CounterMap{{0, 1 * kMiB}, {1, 0}});
    CHECK(f.property<uint64_t>(monitor, kMonitor, "SampledAt") > 0);
    // The properties Sample() changed are announced (EmitsChangedSignal=true), but no Sampled.
    CHECK(f.signals.waitFor(
        [&](const Recorded& r) {
            return r.path == monitor && r.member == "PropertiesChanged" &&
                   r.counterMaps.count("CacheOccupancy") &&
                   r.counterMaps.at("CacheOccupancy") == CounterMap{{0, 1 * kMiB}, {1, 0}};
        },
        kDeadline, from));
    CHECK(f.signals.count(isMember("Sampled"), from) == 0);
}

TEST_CASE("monitor properties hold values and states as soon as the domain is started",
          "[e2e][sim][monitor]") {
    // No sampling tick ever runs: what the properties hold comes from the monitor's creation.
    Fixture f({.configText = config("0")});
    auto& hv = f.hypervisor();
    f.sim.setControl("footprint", footprint({{hv.tid(0), 1, 1 * kMiB}}));
    f.sim.setControl("counters", "0 mbm_total_bytes Unavailable\n");
    const auto domainPath =
        f.startDomain(Domain("early")
                          .vcpus(4)
                          .cachetune("0-1", l3(0, 5_MiB) + monitor("0-1"))
                          .memorytune("0-1", node(0, 50) + memoryMonitor("0-1")),
                      hv.vcpuThreads());
    const auto monitors = f.children(domainPath, "Monitors");
    REQUIRE(monitors.size() == 2);
    auto checkFromTheStart = [&](const CounterMap& occupancy) {
        CHECK(f.counters(monitors[0], "CacheOccupancy") == occupancy);
        CHECK(f.property<StateMap>(monitors[0], kMonitor, "CounterStates") ==
              StateMap{{0, "ok"}, {1, "ok"}});
        CHECK(f.property<uint64_t>(monitors[0], kMonitor, "SampledAt") > 0);
        // The bandwidth monitor: cache 0's total counter is Unavailable, a state and no value.
        CHECK(f.counters(monitors[1], "MemoryBytesTotal") == CounterMap{{1, 0}});
        CHECK(f.counters(monitors[1], "MemoryBytesLocal") == CounterMap{{0, 0}, {1, 0}});
        CHECK(f.property<StateMap>(monitors[1], kMonitor, "CounterStates") ==
              StateMap{{0, "unavailable"}, {1, "ok"}});
    };
    checkFromTheStart(CounterMap{{0, 0}, {1, 1 * kMiB}});

    SECTION("and after a restart adopts the domain") {
        f.killDaemon();
        f.sim.setControl("footprint", footprint({{hv.tid(1), 1, 2 * kMiB}}));
        f.startDaemon();
        INFO(f.log());
        REQUIRE(f.children(domainPath, "Monitors") == monitors);
        checkFromTheStart(CounterMap{{0, 0}, {1, 2 * kMiB}});
    }
}

TEST_CASE("without a monitor there are no sampling ticks", "[e2e][sim][monitor]") {
    Fixture f;
    CHECK(f.property<uint64_t>(kRootPath, kManager, "SampleIntervalUSec") == 200'000);
    auto& hv = f.hypervisor();
    f.startDomain(Domain("idle").vcpus(4).cachetune("0-1", l3(0, 5_MiB)), hv.vcpuThreads());
    std::size_t from = f.signals.mark();
    CHECK_FALSE(f.signals.waitFor(isMember("Sampled"), 1500ms, from));
    for (const auto& r : f.signals.since(from)) {
        std::string keys;
        for (const auto& k : r.changedKeys)
            keys += " " + k;
        INFO(r.path << " " << r.member << " " << r.changedInterface << keys);
        // (The Manager's free CLOSID/RMID counts change with the start: fine.)
        CHECK_FALSE((r.member == "PropertiesChanged" && r.changedInterface != kManager));
    }

    // A monitor starts the ticks; when the last monitor goes, they stop again.
    auto& busyHv = f.hypervisor();
    const auto busy =
        f.startDomain(Domain("busy").vcpus(4).cachetune("0-1", l3(0, 5_MiB) + monitor("0-1")),
                      busyHv.vcpuThreads());
    const std::string monitor = f.children(busy, "Monitors").at(0);
    INFO(f.log());
    REQUIRE(f.signals.waitFor(isMember("Sampled"), kDeadline, from));
    f.stopDomain("busy");
    from = f.signals.mark();
    CHECK_FALSE(f.signals.waitFor(
        [&](const Recorded& r) { return r.member == "Sampled" && !r.sampled.count(monitor); },
        1500ms, from));
    // One tick may have been on its way when StopDomain answered (another connection), no more.
    CHECK(f.signals.count(isMember("Sampled"), from) <= 1);
}

TEST_CASE("a tick reads each counter file once and nothing from the bus", "[e2e][sim][monitor]") {
    Fixture f;
    auto& hv = f.hypervisor();
    f.startDomain(Domain("ticks").vcpus(4).cachetune("0-1", l3(0, 5_MiB) + monitor("0-1")),
                  hv.vcpuThreads());
    REQUIRE(f.signals.waitFor(isMember("Sampled"), kDeadline, f.signals.mark()));
    INFO(f.log());
    // Nobody calls the daemon in the window: a tick is its timer, the counter reads on the
    // descriptors it holds and the Sampled it sends. Reading the bus socket on a timer's wake-up
    // would only find it empty.
    const auto traced =
        traceTicks(f.daemon->process().pid(), f.dir.path() / "ticks.strace", 1500ms);
    INFO(readFile(f.dir.path() / "ticks.strace"));
    REQUIRE(traced.ticks >= 3);
    CHECK(traced.busReads == 0);
    CHECK(traced.counterOpens == 0);
    // skx-2s-l3cat has two L3 caches: one llc_occupancy of the monitor's group for each.
    CHECK(traced.counterReads.size() == 2);
    for (const auto& [file, reads] : traced.counterReads) {
        INFO(file);
        CHECK(reads == traced.ticks);
    }
}
