// SPDX-License-Identifier: LGPL-2.1-or-later
// MonitorCounters against the real simulator (docs/kernel.md §7, docs/api.md
// org.resctrld1.Monitor): values from the footprint and traffic controls, the four counter
// states, descriptors held across ticks, read errors and a removed group.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include <catch2/catch.hpp>

#include "../sim/conformance/profile_facts.h"
#include "../sim/conformance/sim_instance.h"
#include "../sim/conformance/test_thread.h"
#include "monitor_counters.h"

using namespace resctrld;
using namespace resctrld::simtest;
namespace fs = std::filesystem;

namespace {

const std::vector<CounterEvent> kAllEvents{CounterEvent::LlcOccupancy, CounterEvent::MbmTotalBytes,
                                           CounterEvent::MbmLocalBytes};

std::string num(std::uint64_t v) {
    return std::to_string(v);
}

std::size_t openFds() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator("/proc/self/fd"))
        ++n;
    return n;
}

std::uint64_t counterFile(const SimInstance& sim, const std::string& relative) {
    return std::stoull(readFile(sim.at(relative)));
}

using Values = std::map<unsigned, std::uint64_t>;
using States = std::map<unsigned, CounterState>;

} // namespace

TEST_CASE("occupancy follows the footprint control on descriptors held across samples",
          "[monitor-counters][sim]") {
    SimInstance sim({"skx-2s-l3cat", "6.15", "", false});
    const auto& facts = profileFacts("skx-2s-l3cat");
    const std::uint64_t gran = facts.granularity();
    TestThread a;
    REQUIRE(makeDir(sim.at("g1")) == 0);
    REQUIRE(writeFile(sim.at("g1/tasks"), num(a.tid())) == 0);

    const std::size_t fdsBefore = openFds();
    MonitorCounters counters(sim.root(), "g1", kAllEvents);
    CHECK(counters.group() == "g1");
    const MonitorSample first = counters.sample();
    CHECK(first.states == States{{0, CounterState::Ok}, {1, CounterState::Ok}});
    CHECK(first.occupancy == Values{{0, 0}, {1, 0}});
    CHECK(first.bytesTotal == Values{{0, 0}, {1, 0}});
    CHECK(first.bytesLocal == Values{{0, 0}, {1, 0}});
    CHECK(first.bandwidthTotal.empty()); // a first reading is only a baseline
    CHECK(first.bandwidthLocal.empty());
    CHECK(counters.readsInLastSample() == 2 * 3);
    CHECK(counters.opensInLastSample() == 2 * 3);
    // One descriptor per counter file, held open after the sample.
    const std::size_t fdsAfterFirst = openFds();
    CHECK(fdsAfterFirst == fdsBefore + 2 * 3);

    sim.setControl("footprint", num(a.tid()) + " 0 " + num(gran) + "\n" + num(a.tid()) + " 1 " +
                                    num(3 * gran) + "\n");
    REQUIRE(waitUntil([&] {
        return counters.sample().occupancy == Values{{0, gran}, {1, 3 * gran}};
    }));
    CHECK(counters.last().states == States{{0, CounterState::Ok}, {1, CounterState::Ok}});
    CHECK(counters.readsInLastSample() == 2 * 3);
    CHECK(counters.opensInLastSample() == 0);
    CHECK(openFds() == fdsAfterFirst);
    CHECK(counters.last().sampledAtUsec >= first.sampledAtUsec);

    // A smaller CBM caps what the group holds on cache 1 (the simulator's model): a change the
    // held descriptors must see too.
    REQUIRE(writeFile(sim.at("g1/schemata"), "L3:1=1\n") == 0);
    const MonitorSample& capped = counters.sample();
    CHECK(capped.occupancy == Values{{0, gran}, {1, gran}});
    CHECK(counters.readsInLastSample() == 2 * 3);
    CHECK(counters.opensInLastSample() == 0);
    CHECK(openFds() == fdsAfterFirst);
    CHECK(sim.isAlive());
}

TEST_CASE("bandwidth comes from the traffic control over the monotonic interval of the reads",
          "[monitor-counters][sim]") {
    SimInstance sim({"skx-2s-l3cat", "6.1", "", false});
    TestThread a;
    REQUIRE(makeDir(sim.at("g1")) == 0);
    REQUIRE(makeDir(sim.at("g1/mon_groups/m")) == 0);
    REQUIRE(writeFile(sim.at("g1/tasks"), num(a.tid())) == 0);
    REQUIRE(writeFile(sim.at("g1/mon_groups/m/tasks"), num(a.tid())) == 0);

    // A MON group is read like a CTRL_MON group.
    MonitorCounters counters(sim.root(), "g1/mon_groups/m",
                             {CounterEvent::MbmTotalBytes, CounterEvent::MbmLocalBytes});
    const std::uint64_t rate = 1ull << 30; // 1 GiB/s total, 256 MiB/s local, on cache 1
    sim.setControl("traffic", num(a.tid()) + " 1 " + num(rate) + " " + num(rate / 4) + "\n");
    const MonitorSample first = counters.sample();
    REQUIRE(first.bytesTotal.count(1));
    CHECK(first.bandwidthTotal.empty());

    // Let at least a quarter of a second of traffic accumulate, watching the counter itself.
    const std::string totalFile = "g1/mon_groups/m/mon_data/mon_L3_01/mbm_total_bytes";
    REQUIRE(waitUntil(
        [&] { return counterFile(sim, totalFile) >= first.bytesTotal.at(1) + rate / 4; }));
    const MonitorSample second = counters.sample();
    CHECK(second.states == States{{0, CounterState::Ok}, {1, CounterState::Ok}});
    REQUIRE(second.bandwidthTotal.count(1));
    REQUIRE(second.bandwidthLocal.count(1));
    INFO("total " << second.bandwidthTotal.at(1) << " B/s, local " << second.bandwidthLocal.at(1)
                  << " B/s");
    CHECK(second.bytesTotal.at(1) > first.bytesTotal.at(1));
    // Generous bounds: the simulator computes the counter at its own read time.
    CHECK(second.bandwidthTotal.at(1) >= rate / 2);
    CHECK(second.bandwidthTotal.at(1) <= rate * 2);
    CHECK(second.bandwidthLocal.at(1) >= rate / 8);
    CHECK(second.bandwidthLocal.at(1) <= rate / 2);
    // Cache 0 saw no traffic: a measured 0, not a missing value.
    CHECK(second.bytesTotal.at(0) == 0);
    CHECK(second.bandwidthTotal.at(0) == 0);
    CHECK(second.bandwidthLocal.at(0) == 0);
    CHECK(counters.opensInLastSample() == 0);
}

TEST_CASE("Unavailable, Error and Unassigned from the counters control carry no value",
          "[monitor-counters][sim]") {
    SimInstance sim({"skx-2s-l3cat", "6.15", "", false});
    REQUIRE(makeDir(sim.at("g1")) == 0);
    MonitorCounters counters(sim.root(), "g1", kAllEvents);
    REQUIRE(counters.sample().states == States{{0, CounterState::Ok}, {1, CounterState::Ok}});

    sim.setControl("counters", "0 mbm_total_bytes Unavailable\n1 llc_occupancy Error\n"
                               "1 mbm_local_bytes Unassigned\n");
    const MonitorSample& mixed = counters.sample();
    // Per id the first non-ok state in event order (llc_occupancy, total, local).
    CHECK(mixed.states == States{{0, CounterState::Unavailable}, {1, CounterState::Error}});
    CHECK(mixed.occupancy == Values{{0, 0}});
    CHECK(mixed.bytesTotal == Values{{1, 0}});
    CHECK(mixed.bytesLocal == Values{{0, 0}});
    CHECK(mixed.bandwidthTotal == Values{{1, 0}});
    CHECK(mixed.bandwidthLocal == Values{{0, 0}});
    // The kernel's texts are successful reads: the descriptors stay.
    CHECK(counters.opensInLastSample() == 0);

    sim.setControl("counters", "1 * Unassigned\n");
    const MonitorSample& unassigned = counters.sample();
    CHECK(unassigned.states == States{{0, CounterState::Ok}, {1, CounterState::Unassigned}});
    CHECK(toString(unassigned.states.at(1)) == "unassigned");
    CHECK(unassigned.occupancy == Values{{0, 0}});
    CHECK(unassigned.bytesTotal == Values{{0, 0}});
    CHECK(unassigned.bytesLocal == Values{{0, 0}});
    // Cache 0's total came back from Unavailable: a new baseline, so no rate yet.
    CHECK(unassigned.bandwidthTotal.empty());
    CHECK(unassigned.bandwidthLocal == Values{{0, 0}});

    sim.setControl("counters", "");
    const MonitorSample& clear = counters.sample();
    CHECK(clear.states == States{{0, CounterState::Ok}, {1, CounterState::Ok}});
    CHECK(clear.occupancy == Values{{0, 0}, {1, 0}});
    CHECK(clear.bandwidthTotal == Values{{0, 0}});
    CHECK(counters.opensInLastSample() == 0);
}

TEST_CASE("a failed read is an Error for that id and the counter is reopened next time",
          "[monitor-counters][sim]") {
    SimInstance sim({"skx-2s-l3cat", "6.15", "", false});
    REQUIRE(makeDir(sim.at("g1")) == 0);
    MonitorCounters counters(sim.root(), "g1", kAllEvents);
    REQUIRE(counters.sample().states == States{{0, CounterState::Ok}, {1, CounterState::Ok}});
    const std::size_t fds = openFds();

    sim.setControl("faults", "read g1/mon_data/mon_L3_01/mbm_total_bytes 1 EIO\n");
    const MonitorSample& failed = counters.sample();
    CHECK(failed.states == States{{0, CounterState::Ok}, {1, CounterState::Error}});
    CHECK(failed.bytesTotal == Values{{0, 0}});
    CHECK(failed.bandwidthTotal == Values{{0, 0}});
    CHECK(failed.occupancy == Values{{0, 0}, {1, 0}});
    CHECK(counters.readsInLastSample() == 6);
    CHECK(openFds() == fds - 1); // the failed descriptor was closed

    const MonitorSample& recovered = counters.sample();
    CHECK(recovered.states == States{{0, CounterState::Ok}, {1, CounterState::Ok}});
    CHECK(recovered.bytesTotal == Values{{0, 0}, {1, 0}});
    CHECK(recovered.bandwidthTotal == Values{{0, 0}}); // cache 1 starts a new baseline
    CHECK(counters.opensInLastSample() == 1);
    CHECK(openFds() == fds);
}

TEST_CASE("a removed group reads as Error everywhere; a re-created one is read afresh",
          "[monitor-counters][sim]") {
    SimInstance sim({"skx-2s-l3cat", "6.15", "", false});
    const std::uint64_t gran = profileFacts("skx-2s-l3cat").granularity();
    TestThread a;
    REQUIRE(makeDir(sim.at("g1")) == 0);
    REQUIRE(writeFile(sim.at("g1/tasks"), num(a.tid())) == 0);
    sim.setControl("footprint", num(a.tid()) + " 0 " + num(gran) + "\n");
    MonitorCounters counters(sim.root(), "g1", kAllEvents);
    REQUIRE(counters.sample().occupancy == Values{{0, gran}, {1, 0}});
    REQUIRE(counters.sample().bandwidthTotal.size() == 2);

    REQUIRE(removeDir(sim.at("g1")) == 0);
    const MonitorSample gone = counters.sample(); // a copy: sample() reuses last()
    CHECK(gone.states == States{{0, CounterState::Error}, {1, CounterState::Error}});
    CHECK(gone.occupancy.empty());
    CHECK(gone.bytesTotal.empty());
    CHECK(gone.bytesLocal.empty());
    CHECK(gone.bandwidthTotal.empty());
    CHECK(gone.bandwidthLocal.empty());
    CHECK(counters.readsInLastSample() == 6); // held descriptors fail ENODEV
    CHECK(toString(gone.states.at(0)) == "error");
    // Still gone: the reopens fail too, nothing is read.
    const MonitorSample& stillGone = counters.sample();
    CHECK(stillGone.states == gone.states);
    CHECK(stillGone.occupancy.empty());
    CHECK(counters.opensInLastSample() == 6);
    CHECK(counters.readsInLastSample() == 0);

    // Same name, new group (new RMID: its counters start from 0, §7.2).
    REQUIRE(makeDir(sim.at("g1")) == 0);
    const MonitorSample& fresh = counters.sample();
    CHECK(fresh.states == States{{0, CounterState::Ok}, {1, CounterState::Ok}});
    CHECK(fresh.occupancy == Values{{0, 0}, {1, 0}});
    CHECK(fresh.bytesTotal == Values{{0, 0}, {1, 0}});
    CHECK(fresh.bandwidthTotal.empty());
    CHECK(counters.opensInLastSample() == 6);
    CHECK(sim.isAlive());
}

TEST_CASE("domain ids are the numbers after mon_L3_, beyond two digits' padding too",
          "[monitor-counters][sim]") {
    SimInstance sim({"milan-2s", "6.15", "", false});
    const auto& facts = profileFacts("milan-2s");
    TestThread a;
    REQUIRE(makeDir(sim.at("g1")) == 0);
    REQUIRE(writeFile(sim.at("g1/tasks"), num(a.tid())) == 0);
    sim.setControl("footprint", num(a.tid()) + " 23 4096\n" + num(a.tid()) + " 5 8192\n");
    MonitorCounters counters(sim.root(), "g1", kAllEvents);
    const MonitorSample& sample = counters.sample();
    REQUIRE(sample.states.size() == facts.l3Ids.size());
    Values expected;
    for (unsigned id : facts.l3Ids) {
        CHECK(sample.states.at(id) == CounterState::Ok);
        expected[id] = 0;
    }
    expected[23] = 4096;
    expected[5] = 8192;
    CHECK(sample.occupancy == expected);
    CHECK(counters.readsInLastSample() == facts.l3Ids.size() * 3);
}
