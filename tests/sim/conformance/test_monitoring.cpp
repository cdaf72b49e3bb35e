// SPDX-License-Identifier: LGPL-2.1-or-later
// docs/kernel.md §10 behaviour 16 (mon_data layout and values) and the simulator's control
// directory (footprint, traffic, counters, faults) as fixed in the simulator interface.
#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <sys/stat.h>

#include "test_support.h"
#include "test_thread.h"

using namespace resctrld::simtest;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string num(long long v) {
    return std::to_string(v);
}

// Reads a counter; the value must be a decimal number.
unsigned long long counter(const fs::path& p) {
    const std::string s = readFile(p);
    REQUIRE(!s.empty());
    REQUIRE(s.back() == '\n');
    REQUIRE(s.find_first_not_of("0123456789\n") == std::string::npos);
    return std::stoull(s);
}

std::string monDir(unsigned id) {
    char name[32];
    std::snprintf(name, sizeof name, "mon_L3_%02u", id);
    return name;
}

} // namespace

TEST_CASE("b16: llc_occupancy follows footprints, is capped by the CBM, sums MON children",
          "[sim][monitoring][b16]") {
    const SimOptions opt = GENERATE(
        values<SimOptions>({{"skx-2s-l3cat", "6.15", "", false}, {"milan-2s", "6.1", "", false}}));
    INFO(opt.describe());
    SimInstance sim(opt);
    const auto& facts = profileFacts(opt.profile);
    const unsigned d0 = facts.l3Ids.front();
    const unsigned d1 = facts.l3Ids.back();
    const uint64_t gran = facts.granularity();
    TestThread a, b;
    REQUIRE(makeDir(sim.at("g1")) == 0);
    REQUIRE(makeDir(sim.at("g1/mon_groups/m")) == 0);
    REQUIRE(writeFile(sim.at("g1/tasks"), num(a.tid())) == 0);
    REQUIRE(writeFile(sim.at("g1/tasks"), num(b.tid())) == 0);
    REQUIRE(writeFile(sim.at("g1/mon_groups/m/tasks"), num(b.tid())) == 0);

    const auto g1occ = sim.at("g1/mon_data/" + monDir(d0) + "/llc_occupancy");
    const auto m0 = sim.at("g1/mon_groups/m/mon_data/" + monDir(d0) + "/llc_occupancy");
    CHECK(counter(g1occ) == 0);

    // a: 1 granule on d0, b: 2 granules on d0 and 1 on d1.
    sim.setControl("footprint", "# tid domain bytes\n" + num(a.tid()) + " " + num(d0) + " " +
                                    num(gran) + "\n\n" + num(b.tid()) + " " + num(d0) + " " +
                                    num(2 * gran) + "\n" + num(b.tid()) + " " + num(d1) + " " +
                                    num(gran) + "\n");
    // CTRL_MON = own RMID + MON children (§7.2); MON = own only.
    CHECK(waitUntil([&] { return counter(g1occ) == 3 * gran; }));
    CHECK(counter(m0) == 2 * gran);
    CHECK(counter(sim.at("g1/mon_groups/m/mon_data/" + monDir(d1) + "/llc_occupancy")) == gran);
    CHECK(counter(sim.at("g1/mon_data/" + monDir(d1) + "/llc_occupancy")) == gran);
    CHECK(counter(sim.at("mon_data/" + monDir(d0) + "/llc_occupancy")) == 0);

    // Shrinking the CBM caps what the CLOSID's RMIDs hold together on that domain: 1 granule,
    // shared in proportion to the footprints (a: 1, b: 2 of 3), rounded down per RMID.
    REQUIRE(writeFile(sim.at("g1/schemata"), "L3:" + num(d0) + "=1\n") == 0);
    CHECK(counter(m0) == 2 * gran / 3);
    CHECK(counter(g1occ) == gran / 3 + 2 * gran / 3);
    CHECK(counter(g1occ) <= gran);
    CHECK(counter(sim.at("g1/mon_data/" + monDir(d1) + "/llc_occupancy")) == gran);
    REQUIRE(writeFile(sim.at("g1/schemata"), "L3:" + num(d0) + "=3\n") == 0);
    CHECK(counter(g1occ) == 2 * gran / 3 + 4 * gran / 3); // 2 granules of room for 3
    REQUIRE(writeFile(sim.at("g1/schemata"), "L3:" + num(d0) + "=7\n") == 0);
    CHECK(counter(g1occ) == 3 * gran); // room for all of it

    // A thread that leaves takes its footprint with it (the model counts live members).
    REQUIRE(writeFile(sim.at("tasks"), num(a.tid())) == 0);
    CHECK(counter(g1occ) == 2 * gran);
    CHECK(counter(sim.at("mon_data/" + monDir(d0) + "/llc_occupancy")) == gran);
    const pid_t bt = b.tid();
    b.stop();
    CHECK(waitUntil([&] { return counter(m0) == 0; }));
    CHECK_FALSE(readTasks(sim.at("g1/tasks")).count(bt));
}

TEST_CASE("b16: MBM counters grow monotonically with traffic and start at 0",
          "[sim][monitoring][b16]") {
    const SimOptions opt = GENERATE(
        values<SimOptions>({{"skx-2s-l3cat", "6.1", "", false}, {"milan-2s", "6.15", "", false}}));
    INFO(opt.describe());
    SimInstance sim(opt);
    const auto& facts = profileFacts(opt.profile);
    const unsigned d = facts.l3Ids.back();
    TestThread a;
    REQUIRE(makeDir(sim.at("g1")) == 0);
    REQUIRE(makeDir(sim.at("g1/mon_groups/m")) == 0);
    REQUIRE(writeFile(sim.at("g1/mon_groups/m/tasks"), num(a.tid())) == EINVAL);
    REQUIRE(writeFile(sim.at("g1/tasks"), num(a.tid())) == 0);
    REQUIRE(writeFile(sim.at("g1/mon_groups/m/tasks"), num(a.tid())) == 0);
    const auto total = sim.at("g1/mon_groups/m/mon_data/" + monDir(d) + "/mbm_total_bytes");
    const auto local = sim.at("g1/mon_groups/m/mon_data/" + monDir(d) + "/mbm_local_bytes");
    const auto parentTotal = sim.at("g1/mon_data/" + monDir(d) + "/mbm_total_bytes");
    CHECK(counter(total) == 0);
    CHECK(counter(local) == 0);

    const unsigned long long rate = 1ull << 30; // 1 GiB/s total, 256 MiB/s local
    sim.setControl("traffic",
                   num(a.tid()) + " " + num(d) + " " + num(rate) + " " + num(rate / 4) + "\n");
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(waitUntil([&] { return counter(total) > 0; }));
    unsigned long long last = counter(total);
    unsigned long long lastLocal = counter(local);
    REQUIRE(waitUntil([&] {
        const unsigned long long now = counter(total);
        const unsigned long long nowLocal = counter(local);
        REQUIRE(now >= last); // never goes back while nothing resets it
        REQUIRE(nowLocal >= lastLocal);
        last = now;
        lastLocal = nowLocal;
        return std::chrono::steady_clock::now() - t0 > 300ms && now > lastLocal;
    }));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // Roughly the configured rate (generous bounds: scheduling noise, read granularity).
    CHECK(last <= static_cast<unsigned long long>(rate * (seconds + 0.5)));
    CHECK(last >= static_cast<unsigned long long>(rate * 0.1));
    CHECK(lastLocal < last);
    // CTRL_MON includes the MON child; other domains saw nothing.
    CHECK(counter(parentTotal) >= last);
    CHECK(counter(sim.at("g1/mon_data/" + monDir(facts.l3Ids.front()) + "/mbm_total_bytes")) == 0);
    // A new group starts from zero.
    REQUIRE(makeDir(sim.at("g2")) == 0);
    CHECK(counter(sim.at("g2/mon_data/" + monDir(d) + "/mbm_total_bytes")) == 0);
    // Without traffic the counter holds still.
    sim.setControl("traffic", "");
    unsigned long long stopped = 0;
    REQUIRE(waitUntil([&] {
        const unsigned long long a1 = counter(total);
        const unsigned long long a2 = counter(total);
        stopped = a2;
        return a1 == a2;
    }));
    CHECK(counter(total) == stopped);
}

TEST_CASE("b16: Unavailable, Error and Unassigned are successful reads", "[sim][monitoring][b16]") {
    const SimOptions opt = GENERATE(
        values<SimOptions>({{"skx-2s-l3cat", "6.15", "", false}, {"milan-2s", "6.1", "", false}}));
    INFO(opt.describe());
    SimInstance sim(opt);
    const auto& facts = profileFacts(opt.profile);
    const unsigned d0 = facts.l3Ids.front();
    const unsigned d1 = facts.l3Ids.back();
    REQUIRE(makeDir(sim.at("g1")) == 0);
    auto file = [&](unsigned d, const char* event) {
        return sim.at("g1/mon_data/" + monDir(d) + "/" + event);
    };
    sim.setControl("counters", num(d1) + " mbm_total_bytes Unavailable\n" + num(d0) +
                                   " llc_occupancy Error\n" + num(d0) +
                                   " mbm_local_bytes Unassigned\n");
    CHECK(waitUntil([&] { return readFile(file(d1, "mbm_total_bytes")) == "Unavailable\n"; }));
    std::string out;
    CHECK(readFile(file(d0, "llc_occupancy"), out) == 0);
    CHECK(out == "Error\n");
    CHECK(readFile(file(d0, "mbm_local_bytes"), out) == 0);
    CHECK(out == "Unassigned\n");
    // The same domain's other events and the other domains are unaffected.
    CHECK(readFile(file(d1, "mbm_local_bytes")) == "0\n");
    CHECK(readFile(file(d0, "mbm_total_bytes")) == "0\n");
    // Applies to every group that reads that counter, the root included.
    CHECK(readFile(sim.at("mon_data/" + monDir(d1) + "/mbm_total_bytes")) == "Unavailable\n");

    sim.setControl("counters", num(d0) + " * Unavailable\n");
    CHECK(waitUntil([&] { return readFile(file(d1, "mbm_total_bytes")) == "0\n"; }));
    CHECK(readFile(file(d0, "llc_occupancy")) == "Unavailable\n");
    CHECK(readFile(file(d0, "mbm_total_bytes")) == "Unavailable\n");
    CHECK(readFile(file(d0, "mbm_local_bytes")) == "Unavailable\n");
    sim.setControl("counters", num(d0) + " * ok\n");
    CHECK(waitUntil([&] { return readFile(file(d0, "llc_occupancy")) == "0\n"; }));
}

TEST_CASE("control: injected faults fail with the errno, then stop; stalls delay",
          "[sim][monitoring][faults]") {
    SimInstance sim({"skx-2s-l3cat", "6.15", "", false});
    TestThread t;
    sim.setControl("faults", "mkdir resctrld-* 2 ENOSPC\nwrite */tasks 1 EIO\n"
                             "read info/L3/cbm_mask 1 5\nrmdir victim 1 EBUSY\n"
                             "open */schemata 1 EACCES\n");
    provokeStatus(sim);
    CHECK(makeDir(sim.at("resctrld-a")) == ENOSPC);
    CHECK_STATUS(sim, kProvokedStatus);   // an injected failure leaves the status alone
    CHECK(makeDir(sim.at("other")) == 0); // does not match the pattern
    CHECK(makeDir(sim.at("resctrld-b")) == ENOSPC);
    CHECK(makeDir(sim.at("resctrld-c")) == 0); // count used up
    CHECK(writeFile(sim.at("other/tasks"), num(t.tid())) == EIO);
    CHECK_FALSE(readTasks(sim.at("other/tasks")).count(t.tid()));
    CHECK(writeFile(sim.at("other/tasks"), num(t.tid())) == 0);
    std::string out;
    CHECK(readFile(sim.at("info/L3/cbm_mask"), out) == EIO);
    CHECK(readFile(sim.at("info/L3/cbm_mask")) == "7ff\n");
    CHECK(openErrno(sim.at("other/schemata"), O_RDONLY) == EACCES);
    CHECK(openErrno(sim.at("other/schemata"), O_RDONLY) == 0);
    REQUIRE(makeDir(sim.at("victim")) == 0);
    CHECK(removeDir(sim.at("victim")) == EBUSY);
    CHECK(removeDir(sim.at("victim")) == 0);

    // Rewriting the file re-arms every line.
    sim.setControl("faults", "mkdir resctrld-* 1 ENOSPC\n# a comment\n\n");
    CHECK(makeDir(sim.at("resctrld-d")) == ENOSPC);
    CHECK(makeDir(sim.at("resctrld-d")) == 0);

    // Stalls: the operation waits, then proceeds normally.
    sim.setControl("faults", "mkdir slow 1 stall 400\nwrite slow/schemata 1 stall 300\n");
    auto t0 = std::chrono::steady_clock::now();
    CHECK(makeDir(sim.at("slow")) == 0);
    CHECK(std::chrono::steady_clock::now() - t0 >= 400ms);
    t0 = std::chrono::steady_clock::now();
    CHECK(writeFile(sim.at("slow/schemata"), "L3:0=3\n") == 0);
    CHECK(std::chrono::steady_clock::now() - t0 >= 300ms);
    t0 = std::chrono::steady_clock::now();
    CHECK(makeDir(sim.at("fast")) == 0);
    CHECK(std::chrono::steady_clock::now() - t0 < 300ms);
    CHECK(sim.isAlive());
}

TEST_CASE("control: --sysfs serves the profile's cache tree", "[sim][sysfs]") {
    const SimOptions opt = GENERATE(
        values<SimOptions>({{"skx-2s-l3cat", "6.15", "", true}, {"milan-2s", "6.15", "", true}}));
    INFO(opt.describe());
    SimInstance sim(opt);
    const auto& facts = profileFacts(opt.profile);
    const fs::path cpu = sim.sysfsDir() / "devices/system/cpu";
    CHECK(readFile(cpu / "online") == "0-" + num(facts.cpus - 1) + "\n");
    std::set<unsigned> ids;
    for (unsigned c = 0; c < facts.cpus; ++c) {
        const fs::path cache = cpu / ("cpu" + num(c)) / "cache";
        bool sawL3 = false;
        for (const auto& idx : fs::directory_iterator(cache)) {
            if (readFile(idx.path() / "level") != "3\n")
                continue;
            sawL3 = true;
            CHECK(readFile(idx.path() / "type") == "Unified\n");
            CHECK(readFile(idx.path() / "size") == num(facts.l3Bytes / 1024) + "K\n");
            ids.insert(static_cast<unsigned>(std::stoul(readFile(idx.path() / "id"))));
        }
        CHECK(sawL3);
    }
    CHECK(ids == std::set<unsigned>(facts.l3Ids.begin(), facts.l3Ids.end()));
    // skx: socket 0 = CPUs 0-19,40-59 (hosts README).
    if (opt.profile == "skx-2s-l3cat") {
        CHECK(readFile(cpu / "cpu0/cache/index3/shared_cpu_list") == "0-19,40-59\n");
        CHECK(readFile(cpu / "cpu20/cache/index3/id") == "1\n");
    }
}
