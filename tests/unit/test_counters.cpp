// SPDX-License-Identifier: LGPL-2.1-or-later
// mon_data counter texts (a number, Unavailable, Error, Unassigned) and the bandwidth arithmetic of
// org.resctrld1.Monitor, without a filesystem.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "counting_allocator.h"
#include "monitor_counters.h"

using namespace resctrld;

using resctrld::test::allocationsOf;

TEST_CASE("parseCounter reads the kernel's four outputs", "[counters]") {
    auto ok = parseCounter("12345\n");
    CHECK(ok.state == CounterState::Ok);
    CHECK(ok.value == 12345);

    CHECK(parseCounter("0\n").state == CounterState::Ok);
    CHECK(parseCounter("0\n").value == 0);
    auto max = parseCounter("18446744073709551615\n");
    CHECK(max.state == CounterState::Ok);
    CHECK(max.value == std::numeric_limits<std::uint64_t>::max());

    CHECK(parseCounter("Unavailable\n").state == CounterState::Unavailable);
    CHECK(parseCounter("Error\n").state == CounterState::Error);
    CHECK(parseCounter("Unassigned\n").state == CounterState::Unassigned);
    // A non-ok reading carries no value.
    CHECK(parseCounter("Unavailable\n").value == 0);
}

TEST_CASE("parseCounter tolerates blanks around one token", "[counters]") {
    CHECK(parseCounter("42").value == 42);
    CHECK(parseCounter("42").state == CounterState::Ok);
    CHECK(parseCounter("  42 \r\n").value == 42);
    CHECK(parseCounter("\t7\n\n").value == 7);
    CHECK(parseCounter("Unavailable").state == CounterState::Unavailable);
    CHECK(parseCounter(" Unassigned \n").state == CounterState::Unassigned);
}

TEST_CASE("parseCounter turns anything else into Error, never a value", "[counters]") {
    const std::string garbage = GENERATE(
        as<std::string>{}, "", "\n", "   ", "-1\n", "+5\n", "0x10\n", "12 34\n", "12a\n", "1.5\n",
        "123.375\n", "unavailable\n", "UNAVAILABLE\n", "Unavail\n", "ok\n", "Error: 5\n",
        "18446744073709551616\n", "99999999999999999999999\n", std::string("1\0002", 3));
    INFO('"' << garbage << '"');
    auto reading = parseCounter(garbage);
    CHECK(reading.state == CounterState::Error);
    CHECK(reading.value == 0);
}

TEST_CASE("toString gives the CounterStates texts of the D-Bus API", "[counters]") {
    CHECK(toString(CounterState::Ok) == "ok");
    CHECK(toString(CounterState::Unavailable) == "unavailable");
    CHECK(toString(CounterState::Error) == "error");
    CHECK(toString(CounterState::Unassigned) == "unassigned");
}

TEST_CASE("fileName gives the mon_data event files", "[counters]") {
    CHECK(fileName(CounterEvent::LlcOccupancy) == "llc_occupancy");
    CHECK(fileName(CounterEvent::MbmTotalBytes) == "mbm_total_bytes");
    CHECK(fileName(CounterEvent::MbmLocalBytes) == "mbm_local_bytes");
}

TEST_CASE("bandwidth is the byte delta over the monotonic time delta", "[counters]") {
    constexpr std::uint64_t kSecond = 1'000'000'000;
    CHECK(bandwidth(1000, 5 * kSecond, 3000, 7 * kSecond) == 1000u);
    CHECK(bandwidth(0, 0, 500, kSecond / 2) == 1000u);
    CHECK(bandwidth(100, kSecond, 100, 2 * kSecond) == 0u); // idle is a real 0
    // Truncated to whole bytes per second.
    CHECK(bandwidth(0, 0, 10, 3 * kSecond) == 3u);
    // A delta whose product with 10^9 overflows 64 bits still comes out right.
    constexpr std::uint64_t kBig = 100'000'000'000'000ull; // 100 TB in 100 s
    CHECK(bandwidth(0, 0, kBig, 100 * kSecond) == 1'000'000'000'000ull);
    // A rate beyond 64 bits saturates instead of wrapping.
    CHECK(bandwidth(0, 0, std::numeric_limits<std::uint64_t>::max(), 1) ==
          std::numeric_limits<std::uint64_t>::max());
}

TEST_CASE("bandwidth gives nothing for a reset or a zero interval", "[counters]") {
    constexpr std::uint64_t kSecond = 1'000'000'000;
    // The counter went down: a reset (group re-created, counter reassigned), never a wrap.
    CHECK_FALSE(bandwidth(5000, kSecond, 4999, 2 * kSecond).has_value());
    CHECK_FALSE(
        bandwidth(std::numeric_limits<std::uint64_t>::max(), kSecond, 0, 2 * kSecond).has_value());
    // No time passed (or the clock stepped back): no rate rather than a division by zero.
    CHECK_FALSE(bandwidth(0, kSecond, 100, kSecond).has_value());
    CHECK_FALSE(bandwidth(0, 2 * kSecond, 100, kSecond).has_value());
}

// MonitorCounters on a plain directory tree shaped like a group's mon_data: files rewritten in
// place keep their inode, so the held descriptors see each new value as on resctrl.
namespace {

class FakeGroup {
public:
    FakeGroup() {
        std::string pattern = (std::filesystem::temp_directory_path() / "counters-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        root_ = pattern;
    }
    ~FakeGroup() {
        std::error_code ignored;
        std::filesystem::remove_all(root_, ignored);
    }
    FakeGroup(const FakeGroup&) = delete;
    FakeGroup& operator=(const FakeGroup&) = delete;

    const std::filesystem::path& root() const { return root_; }
    void set(const std::string& domainDir, const std::string& event, const std::string& text) {
        const auto dir = root_ / "g" / "mon_data" / domainDir;
        std::filesystem::create_directories(dir);
        std::ofstream file(dir / event, std::ios::trunc);
        file << text;
        REQUIRE(file.good());
    }

private:
    std::filesystem::path root_;
};

} // namespace

TEST_CASE("MonitorCounters finds mon_L3_XX domains by number and ignores other entries",
          "[counters]") {
    FakeGroup fake;
    fake.set("mon_L3_00", "llc_occupancy", "64\n");
    fake.set("mon_L3_16", "llc_occupancy", "128\n");
    fake.set("mon_L3_100", "llc_occupancy", "192\n");
    fake.set("mon_PERF_PKG_00", "llc_occupancy", "1\n");
    fake.set("mon_L3_x", "llc_occupancy", "1\n");
    MonitorCounters counters(fake.root(), "g", {CounterEvent::LlcOccupancy});
    CHECK(counters.group() == "g");
    const auto& sample = counters.sample();
    CHECK(sample.occupancy == std::map<unsigned, std::uint64_t>{{0, 64}, {16, 128}, {100, 192}});
    CHECK(sample.states.size() == 3);
    CHECK(counters.readsInLastSample() == 3);
    CHECK(sample.sampledAtUsec > 0);
    CHECK(&counters.last() == &sample);
}

TEST_CASE("MonitorCounters given the host's domains opens their files without listing",
          "[counters]") {
    FakeGroup fake;
    fake.set("mon_L3_00", "llc_occupancy", "64\n");
    fake.set("mon_L3_100", "llc_occupancy", "192\n");
    // Not one of the host's domains: never read. A host domain without its directory: Error.
    fake.set("mon_L3_07", "llc_occupancy", "1\n");
    MonitorCounters counters(fake.root(), "g", {CounterEvent::LlcOccupancy}, {100, 0, 5});
    const auto& sample = counters.sample();
    CHECK(sample.occupancy == std::map<unsigned, std::uint64_t>{{0, 64}, {100, 192}});
    CHECK(sample.states == std::map<unsigned, CounterState>{{0, CounterState::Ok},
                                                            {5, CounterState::Error},
                                                            {100, CounterState::Ok}});
    CHECK(counters.readsInLastSample() == 2);
    CHECK(counters.opensInLastSample() == 3);
    // The missing one is opened again next time, and found once it is there.
    fake.set("mon_L3_05", "llc_occupancy", "320\n");
    CHECK(counters.sample().occupancy.at(5) == 320);
}

TEST_CASE("MonitorCounters computes bandwidth, restarts after a reset and after a gap",
          "[counters]") {
    FakeGroup fake;
    fake.set("mon_L3_00", "mbm_total_bytes", "1000\n");
    fake.set("mon_L3_00", "mbm_local_bytes", "10\n");
    MonitorCounters counters(fake.root(), "g",
                             {CounterEvent::MbmTotalBytes, CounterEvent::MbmLocalBytes});

    auto first = counters.sample();
    CHECK(first.bytesTotal == std::map<unsigned, std::uint64_t>{{0, 1000}});
    CHECK(first.bytesLocal == std::map<unsigned, std::uint64_t>{{0, 10}});
    CHECK(first.bandwidthTotal.empty()); // first reading: a baseline only
    CHECK(first.bandwidthLocal.empty());
    CHECK(first.states == std::map<unsigned, CounterState>{{0, CounterState::Ok}});
    CHECK(counters.opensInLastSample() == 2);

    fake.set("mon_L3_00", "mbm_total_bytes", "5000\n");
    fake.set("mon_L3_00", "mbm_local_bytes", "10\n");
    auto second = counters.sample();
    CHECK(counters.opensInLastSample() == 0);
    CHECK(counters.readsInLastSample() == 2);
    CHECK(second.bytesTotal.at(0) == 5000);
    REQUIRE(second.bandwidthTotal.count(0));
    CHECK(second.bandwidthTotal.at(0) > 0);
    CHECK(second.bandwidthLocal == std::map<unsigned, std::uint64_t>{{0, 0}}); // really idle

    // Total went down: a reset. No rate this time; the low value is the new baseline.
    fake.set("mon_L3_00", "mbm_total_bytes", "100\n");
    fake.set("mon_L3_00", "mbm_local_bytes", "20\n");
    auto reset = counters.sample();
    CHECK(reset.bytesTotal.at(0) == 100);
    CHECK(reset.bandwidthTotal.empty());
    CHECK(reset.bandwidthLocal.count(0));
    CHECK(reset.states.at(0) == CounterState::Ok);

    fake.set("mon_L3_00", "mbm_total_bytes", "200\n");
    auto afterReset = counters.sample();
    REQUIRE(afterReset.bandwidthTotal.count(0));
    CHECK(afterReset.bandwidthTotal.at(0) > 0);

    // A non-ok reading: no value, no rate, and it keeps no baseline.
    fake.set("mon_L3_00", "mbm_total_bytes", "Unavailable\n");
    auto gap = counters.sample();
    CHECK(gap.bytesTotal.empty());
    CHECK(gap.bandwidthTotal.empty());
    CHECK(gap.bytesLocal.at(0) == 20);
    CHECK(gap.states.at(0) == CounterState::Unavailable);

    fake.set("mon_L3_00", "mbm_total_bytes", "300\n");
    auto rebase = counters.sample();
    CHECK(rebase.bytesTotal.at(0) == 300);
    CHECK(rebase.bandwidthTotal.empty()); // a new baseline, not a rate over the gap
    CHECK(rebase.states.at(0) == CounterState::Ok);
}

TEST_CASE("readCounters reads each counter once; takeReadings makes the sample from those reads",
          "[counters]") {
    FakeGroup fake;
    fake.set("mon_L3_00", "llc_occupancy", "64\n");
    fake.set("mon_L3_00", "mbm_total_bytes", "0\n");
    MonitorCounters counters(fake.root(), "g",
                             {CounterEvent::LlcOccupancy, CounterEvent::MbmTotalBytes});
    counters.sample(); // the baseline
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    fake.set("mon_L3_00", "llc_occupancy", "128\n");
    fake.set("mon_L3_00", "mbm_total_bytes", "100000000\n");
    counters.readCounters();
    CHECK(counters.readsInLastSample() == 2);
    CHECK(counters.opensInLastSample() == 0);
    // What the files say after the reads, and how long the caller takes before it takes the
    // readings, do not count.
    fake.set("mon_L3_00", "llc_occupancy", "256\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    const MonitorSample& taken = counters.takeReadings();
    CHECK(counters.readsInLastSample() == 2);
    CHECK(&taken == &counters.last());
    CHECK(taken.occupancy == std::map<unsigned, std::uint64_t>{{0, 128}});
    CHECK(counters.previous().occupancy == std::map<unsigned, std::uint64_t>{{0, 64}});
    REQUIRE(taken.bandwidthTotal.count(0));
    // 100 MB over the time between the two reads (100 ms and a little): a rate over the time
    // until takeReadings (over 1.1 s) would be below 91 MB/s.
    CHECK(taken.bandwidthTotal.at(0) > 100000000ull * 10 / 11);
    CHECK(taken.bandwidthTotal.at(0) <= 1000000000ull);
    CHECK(counters.sample().occupancy == std::map<unsigned, std::uint64_t>{{0, 256}});
}

TEST_CASE("MonitorCounters reports the first non-ok state of a domain", "[counters]") {
    FakeGroup fake;
    fake.set("mon_L3_00", "llc_occupancy", "Unassigned\n");
    fake.set("mon_L3_00", "mbm_total_bytes", "Unavailable\n");
    fake.set("mon_L3_01", "llc_occupancy", "4096\n");
    fake.set("mon_L3_01", "mbm_total_bytes", "garbage\n");
    MonitorCounters counters(fake.root(), "g",
                             {CounterEvent::LlcOccupancy, CounterEvent::MbmTotalBytes});
    const auto& sample = counters.sample();
    CHECK(sample.states == std::map<unsigned, CounterState>{{0, CounterState::Unassigned},
                                                            {1, CounterState::Error}});
    CHECK(sample.occupancy == std::map<unsigned, std::uint64_t>{{1, 4096}});
    CHECK(sample.bytesTotal.empty());
}

TEST_CASE("MonitorCounters on a missing group or event file reads Error, not 0", "[counters]") {
    FakeGroup fake;
    MonitorCounters absent(fake.root(), "nosuch", {CounterEvent::LlcOccupancy});
    const MonitorSample empty = absent.sample();
    MonitorSample nothing;
    nothing.sampledAtUsec = empty.sampledAtUsec;
    CHECK(empty == nothing);
    CHECK(empty.sampledAtUsec > 0);
    CHECK(absent.readsInLastSample() == 0);

    // The host has no MBM but the caller asked for it: those counters are errors.
    fake.set("mon_L3_00", "llc_occupancy", "64\n");
    MonitorCounters noMbm(fake.root(), "g",
                          {CounterEvent::LlcOccupancy, CounterEvent::MbmLocalBytes});
    const auto& sample = noMbm.sample();
    CHECK(sample.occupancy.at(0) == 64);
    CHECK(sample.bytesLocal.empty());
    CHECK(sample.states.at(0) == CounterState::Error);
    CHECK(noMbm.readsInLastSample() == 1); // the missing file was not read
    CHECK(noMbm.opensInLastSample() == 2);
}

TEST_CASE("MonitorCounters rejects a counter text longer than any the kernel prints",
          "[counters]") {
    FakeGroup fake;
    fake.set("mon_L3_00", "llc_occupancy", "64" + std::string(100, ' ') + "\n");
    MonitorCounters counters(fake.root(), "g", {CounterEvent::LlcOccupancy});
    const auto& sample = counters.sample();
    CHECK(sample.states.at(0) == CounterState::Error);
    CHECK(sample.occupancy.empty());

    // The longest value the kernel prints (2^64 - 1) is read whole.
    fake.set("mon_L3_00", "llc_occupancy", "18446744073709551615\n");
    const auto& longest = counters.sample();
    CHECK(longest.states.at(0) == CounterState::Ok);
    CHECK(longest.occupancy.at(0) == 18446744073709551615u);
}

TEST_CASE("MonitorCounters lists the domains again when the group had none yet", "[counters]") {
    FakeGroup fake;
    MonitorCounters counters(fake.root(), "g", {CounterEvent::LlcOccupancy});
    CHECK(counters.sample().states.empty());
    fake.set("mon_L3_00", "llc_occupancy", "64\n");
    CHECK(counters.sample().occupancy == std::map<unsigned, std::uint64_t>{{0, 64}});
}

TEST_CASE("MonitorCounters keeps the sample before the last one, to tell what changed",
          "[counters]") {
    FakeGroup fake;
    fake.set("mon_L3_00", "llc_occupancy", "64\n");
    MonitorCounters counters(fake.root(), "g", {CounterEvent::LlcOccupancy});
    CHECK(counters.previous().occupancy.empty());
    counters.sample();
    CHECK(counters.previous().occupancy.empty());
    fake.set("mon_L3_00", "llc_occupancy", "128\n");
    counters.sample();
    CHECK(counters.previous().occupancy == std::map<unsigned, std::uint64_t>{{0, 64}});
    CHECK(counters.last().occupancy == std::map<unsigned, std::uint64_t>{{0, 128}});
}

TEST_CASE("each sample holds exactly its own readings as ids fail, come back and change",
          "[counters]") {
    // Samples are written over in place (the one before the last becomes the next): whatever
    // an older sample held must not show through.
    FakeGroup fake;
    fake.set("mon_L3_00", "llc_occupancy", "64\n");
    fake.set("mon_L3_00", "mbm_local_bytes", "1000\n");
    fake.set("mon_L3_01", "llc_occupancy", "Unavailable\n");
    fake.set("mon_L3_01", "mbm_local_bytes", "2000\n");
    fake.set("mon_L3_02", "llc_occupancy", "256\n");
    fake.set("mon_L3_02", "mbm_local_bytes", "Error\n");
    MonitorCounters counters(fake.root(), "g",
                             {CounterEvent::LlcOccupancy, CounterEvent::MbmLocalBytes});
    using Values = std::map<unsigned, std::uint64_t>;
    using States = std::map<unsigned, CounterState>;

    const MonitorSample first = counters.sample();
    CHECK(first.occupancy == Values{{0, 64}, {2, 256}});
    CHECK(first.bytesLocal == Values{{0, 1000}, {1, 2000}});
    CHECK(first.states ==
          States{{0, CounterState::Ok}, {1, CounterState::Unavailable}, {2, CounterState::Error}});

    fake.set("mon_L3_00", "llc_occupancy", "Unassigned\n");
    fake.set("mon_L3_01", "llc_occupancy", "32\n");
    fake.set("mon_L3_02", "mbm_local_bytes", "5000\n");
    const MonitorSample second = counters.sample();
    CHECK(second.occupancy == Values{{1, 32}, {2, 256}});
    CHECK(second.bytesLocal == Values{{0, 1000}, {1, 2000}, {2, 5000}});
    CHECK(second.states ==
          States{{0, CounterState::Unassigned}, {1, CounterState::Ok}, {2, CounterState::Ok}});
    CHECK(counters.previous() == first);

    // The third is written where the first was.
    fake.set("mon_L3_00", "llc_occupancy", "8\n");
    fake.set("mon_L3_01", "mbm_local_bytes", "Unavailable\n");
    fake.set("mon_L3_02", "llc_occupancy", "Error\n");
    const MonitorSample third = counters.sample();
    CHECK(third.occupancy == Values{{0, 8}, {1, 32}});
    CHECK(third.bytesLocal == Values{{0, 1000}, {2, 5000}});
    CHECK(third.states ==
          States{{0, CounterState::Ok}, {1, CounterState::Unavailable}, {2, CounterState::Error}});
    CHECK(counters.previous() == second);
    CHECK(counters.last() == third);
    CHECK(third.sampledAtUsec >= second.sampledAtUsec);
}

TEST_CASE("after a counter assignment the next sample takes a baseline, not a rate across it",
          "[counters]") {
    FakeGroup fake;
    fake.set("mon_L3_00", "mbm_total_bytes", "1000\n");
    MonitorCounters counters(fake.root(), "g", {CounterEvent::MbmTotalBytes});
    counters.sample();
    fake.set("mon_L3_00", "mbm_total_bytes", "2000\n");
    REQUIRE(counters.sample().bandwidthTotal.count(0));

    // Released and assigned again between two ticks: the counter restarted from 0 and has
    // already passed the old value, which a rate would take for traffic.
    counters.restartRates();
    fake.set("mon_L3_00", "mbm_total_bytes", "900000\n");
    const auto restarted = counters.sample();
    CHECK(restarted.bytesTotal.at(0) == 900000);
    CHECK(restarted.bandwidthTotal.empty());
    CHECK(restarted.states.at(0) == CounterState::Ok);

    fake.set("mon_L3_00", "mbm_total_bytes", "901000\n");
    CHECK(counters.sample().bandwidthTotal.count(0));
}

TEST_CASE("MonitorCounters on an SNC host reads each node beside the L3 sums", "[counters]") {
    FakeGroup fake;
    auto put = [&](const std::string& dir, const char* text) {
        fake.set(dir, "llc_occupancy", text);
    };
    put("mon_L3_00", "196608\n");
    put("mon_L3_00/mon_sub_L3_00", "65536\n");
    put("mon_L3_00/mon_sub_L3_01", "131072\n");
    put("mon_L3_01", "65536\n");
    put("mon_L3_01/mon_sub_L3_02", "Unavailable\n");
    put("mon_L3_01/mon_sub_L3_03", "65536\n");
    SECTION("with the nodes given") {
        MonitorCounters counters(fake.root(), "g", {CounterEvent::LlcOccupancy}, {0, 1},
                                 {{0, {0, 1}}, {1, {2, 3}}});
        const MonitorSample& sample = counters.sample();
        CHECK(sample.occupancy == std::map<unsigned, std::uint64_t>{{0, 196608}, {1, 65536}});
        CHECK(sample.nodes.occupancy ==
              std::map<unsigned, std::uint64_t>{{0, 65536}, {1, 131072}, {3, 65536}});
        CHECK(sample.nodes.states.at(2) == CounterState::Unavailable);
        CHECK(sample.nodes.states.at(3) == CounterState::Ok);
        CHECK(counters.readsInLastSample() == 6);
    }
    SECTION("listed from the group's mon_data") {
        MonitorCounters counters(fake.root(), "g", {CounterEvent::LlcOccupancy});
        const MonitorSample& sample = counters.sample();
        CHECK(sample.nodes.occupancy ==
              std::map<unsigned, std::uint64_t>{{0, 65536}, {1, 131072}, {3, 65536}});
        CHECK(sample.nodes.states.size() == 4);
    }
}

TEST_CASE("a sample in the steady state allocates nothing, as values change", "[counters]") {
    FakeGroup fake;
    auto write = [&](unsigned round) {
        for (const char* dir : {"mon_L3_00", "mon_L3_01", "mon_L3_00/mon_sub_L3_00",
                                "mon_L3_00/mon_sub_L3_01", "mon_L3_01/mon_sub_L3_02"}) {
            fake.set(dir, "llc_occupancy", std::to_string(4096 * (round + 1)) + "\n");
            fake.set(dir, "mbm_total_bytes", std::to_string(1000000 * round) + "\n");
            fake.set(dir, "mbm_local_bytes", std::to_string(500000 * round) + "\n");
        }
    };
    write(0);
    const std::vector<CounterEvent> events{CounterEvent::LlcOccupancy, CounterEvent::MbmTotalBytes,
                                           CounterEvent::MbmLocalBytes};
    MonitorCounters counters(fake.root(), "g", events, {0, 1}, {{0, {0, 1}}, {1, {2}}});
    // The first samples open the files and grow the maps and vectors of both samples kept (the
    // first has no rates yet): not the steady state.
    for (unsigned round = 0; round < 3; ++round) {
        write(round);
        counters.sample();
    }
    for (unsigned round = 3; round < 6; ++round) {
        write(round);
        const unsigned made = allocationsOf([&] {
            counters.readCounters(1000 + round);
            counters.takeReadings();
        });
        CHECK(made == 0);
        CHECK(counters.last().occupancy ==
              std::map<unsigned, std::uint64_t>{{0, 4096 * (round + 1)}, {1, 4096 * (round + 1)}});
        CHECK(counters.last().nodes.bytesTotal.size() == 3);
        CHECK(counters.last().sampledAtUsec == 1000 + round);
    }
    // The counting itself works: a sample of a new group opens its files and builds its maps.
    MonitorCounters fresh(fake.root(), "g", events);
    CHECK(allocationsOf([&] { fresh.sample(); }) > 0);
}

TEST_CASE("node states are by node id when node ids do not rise with the L3 ids", "[counters]") {
    FakeGroup fake;
    fake.set("mon_L3_00", "llc_occupancy", "64\n");
    fake.set("mon_L3_00", "mbm_total_bytes", "0\n");
    fake.set("mon_L3_01", "llc_occupancy", "64\n");
    fake.set("mon_L3_01", "mbm_total_bytes", "0\n");
    // Read in this order: node 1 (ok, Error), then node 0 (Unassigned, Unavailable).
    fake.set("mon_L3_00/mon_sub_L3_01", "llc_occupancy", "64\n");
    fake.set("mon_L3_00/mon_sub_L3_01", "mbm_total_bytes", "Error\n");
    fake.set("mon_L3_01/mon_sub_L3_00", "llc_occupancy", "Unassigned\n");
    fake.set("mon_L3_01/mon_sub_L3_00", "mbm_total_bytes", "Unavailable\n");
    MonitorCounters counters(fake.root(), "g",
                             {CounterEvent::LlcOccupancy, CounterEvent::MbmTotalBytes}, {0, 1},
                             {{0, {1}}, {1, {0}}});
    for (int round = 0; round < 2; ++round) {
        const MonitorSample& sample = counters.sample();
        // The first state that is not ok, in reading order, for each node.
        CHECK(sample.nodes.states == std::map<unsigned, CounterState>{{0, CounterState::Unassigned},
                                                                      {1, CounterState::Error}});
        CHECK(sample.nodes.occupancy == std::map<unsigned, std::uint64_t>{{1, 64}});
    }
}
