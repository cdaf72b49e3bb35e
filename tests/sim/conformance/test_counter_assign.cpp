// SPDX-License-Identifier: LGPL-2.1-or-later
// docs/kernel.md §10 behaviours 26-31: assignable MBM counters (mbm_assign_mode, the counter
// pool, mbm_L3_assignments, event_filter, auto-assignment on mkdir), on the turin-2s host.
#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <functional>
#include <sys/stat.h>

#include "test_support.h"
#include "test_thread.h"

using namespace resctrld::simtest;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const SimOptions kTurin{"turin-2s", "6.19", "", false};
const std::vector<unsigned> kTurinIds = range(0, 31);
constexpr unsigned kCounters = 32;
const char* const kNotEnabled = "mbm_event counter assignment mode is not enabled\n";
const char* const kAllTransactions =
    "local_reads,remote_reads,local_non_temporal_writes,remote_non_temporal_writes,"
    "local_reads_slow_memory,remote_reads_slow_memory,dirty_victim_writes_all\n";
const char* const kLocalTransactions =
    "local_reads,local_non_temporal_writes,local_reads_slow_memory\n";

// "0=v(0);1=v(1);...\n" over the turin L3 domains.
std::string perDomain(const std::function<std::string(unsigned)>& value) {
    std::string s;
    for (unsigned id : kTurinIds)
        s += (s.empty() ? "" : ";") + std::to_string(id) + "=" + value(id);
    return s + "\n";
}

std::string sameEverywhere(const std::string& value) {
    return perDomain([&](unsigned) { return value; });
}

// The expected mbm_L3_assignments text; `total`/`local` say which domains hold a counter.
std::string assignments(const std::function<bool(unsigned)>& total,
                        const std::function<bool(unsigned)>& local) {
    return "mbm_total_bytes:" + perDomain([&](unsigned d) { return total(d) ? "e" : "_"; }) +
           "mbm_local_bytes:" + perDomain([&](unsigned d) { return local(d) ? "e" : "_"; });
}

bool all(unsigned) {
    return true;
}
bool none(unsigned) {
    return false;
}

mode_t modeOf(const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

std::string mbm(const SimInstance& sim, const std::string& group, unsigned domain,
                const std::string& event) {
    char dir[32];
    std::snprintf(dir, sizeof dir, "mon_data/mon_L3_%02u/", domain);
    return readFile(sim.at(group + (group.empty() ? "" : "/") + dir + event));
}

unsigned long long number(const std::string& s) {
    REQUIRE(!s.empty());
    REQUIRE(s.find_first_not_of("0123456789\n") == std::string::npos);
    return std::stoull(s);
}

} // namespace

TEST_CASE("b26: the counter assignment files exist with their modes only where the kernel and "
          "the hardware have them",
          "[sim][assign][b26]") {
    SECTION("turin-2s on 6.19 has every file, in every kind of group") {
        SimInstance sim(kTurin);
        REQUIRE(makeDir(sim.at("g")) == 0);
        REQUIRE(makeDir(sim.at("g/mon_groups/m")) == 0);
        REQUIRE(makeDir(sim.at("mon_groups/r")) == 0);
        CHECK(modeOf(sim.at("info/L3_MON/mbm_assign_mode")) == 0644);
        CHECK(modeOf(sim.at("info/L3_MON/num_mbm_cntrs")) == 0444);
        CHECK(modeOf(sim.at("info/L3_MON/available_mbm_cntrs")) == 0444);
        CHECK(modeOf(sim.at("info/L3_MON/mbm_assign_on_mkdir")) == 0644);
        CHECK(modeOf(sim.at("info/L3_MON/event_configs")) == 0555);
        CHECK(modeOf(sim.at("info/L3_MON/event_configs/mbm_total_bytes/event_filter")) == 0644);
        CHECK(modeOf(sim.at("info/L3_MON/event_configs/mbm_local_bytes/event_filter")) == 0644);
        for (const char* g : {"", "g/", "g/mon_groups/m/", "mon_groups/r/"})
            CHECK(modeOf(sim.at(std::string(g) + "mbm_L3_assignments")) == 0644);
        CHECK(openErrno(sim.at("info/L3_MON/num_mbm_cntrs"), O_WRONLY) == EACCES);
        CHECK(openErrno(sim.at("info/L3_MON/available_mbm_cntrs"), O_WRONLY) == EACCES);
        CHECK(readFile(sim.at("info/L3_MON/mbm_assign_mode")) == "[mbm_event]\ndefault\n");
        CHECK(readFile(sim.at("info/L3_MON/num_mbm_cntrs")) == sameEverywhere("32"));
        std::set<std::string> events;
        for (const auto& e : fs::directory_iterator(sim.at("info/L3_MON/event_configs")))
            events.insert(e.path().filename());
        CHECK(events == std::set<std::string>{"mbm_local_bytes", "mbm_total_bytes"});
    }
    SECTION("an Intel host on 6.19 only has the mode file, reading [default]") {
        SimInstance sim({"skx-2s-l3cat", "6.19", "", false});
        CHECK(readFile(sim.at("info/L3_MON/mbm_assign_mode")) == "[default]\n");
        CHECK_FALSE(pathExists(sim.at("info/L3_MON/num_mbm_cntrs")));
        CHECK_FALSE(pathExists(sim.at("info/L3_MON/event_configs")));
        CHECK_FALSE(pathExists(sim.at("mbm_L3_assignments")));
        CHECK(writeFile(sim.at("info/L3_MON/mbm_assign_mode"), "mbm_event\n") == EINVAL);
        CHECK_STATUS(sim, "mbm_event mode is not supported\n");
        CHECK(writeFile(sim.at("info/L3_MON/mbm_assign_mode"), "default\n") == 0);
    }
    SECTION("turin-2s on 6.15 predates counter assignment") {
        SimInstance sim({"turin-2s", "6.15", "", false});
        CHECK_FALSE(pathExists(sim.at("info/L3_MON/mbm_assign_mode")));
        CHECK_FALSE(pathExists(sim.at("info/L3_MON/num_mbm_cntrs")));
        CHECK_FALSE(pathExists(sim.at("mbm_L3_assignments")));
        CHECK(number(mbm(sim, "", 0, "mbm_total_bytes")) == 0);
    }
}

TEST_CASE("b27: switching mbm_assign_mode frees every counter and resets filters and "
          "auto-assignment",
          "[sim][assign][b27]") {
    SimInstance sim(kTurin);
    const auto mode = sim.at("info/L3_MON/mbm_assign_mode");
    const auto onMkdir = sim.at("info/L3_MON/mbm_assign_on_mkdir");
    const auto totalFilter = sim.at("info/L3_MON/event_configs/mbm_total_bytes/event_filter");
    const auto available = sim.at("info/L3_MON/available_mbm_cntrs");
    REQUIRE(makeDir(sim.at("g")) == 0);
    CHECK(readFile(available) == sameEverywhere("28"));

    // Same mode: nothing happens.
    REQUIRE(writeFile(mode, "mbm_event\n") == 0);
    CHECK(readFile(available) == sameEverywhere("28"));
    CHECK(readFile(sim.at("g/mbm_L3_assignments")) == assignments(all, all));

    // Bad writes: no newline leaves the status alone; the word is not trimmed.
    provokeStatus(sim);
    CHECK(writeFile(mode, "default") == EINVAL);
    CHECK_STATUS(sim, kProvokedStatus);
    CHECK(writeFile(mode, "default \n") == EINVAL);
    CHECK_STATUS(sim, "Unsupported assign mode\n");
    CHECK(writeFile(mode, "abmc\n") == EINVAL);
    CHECK_STATUS(sim, "Unsupported assign mode\n");

    REQUIRE(writeFile(onMkdir, "0\n") == 0);
    REQUIRE(writeFile(totalFilter, "local_reads\n") == 0);

    REQUIRE(writeFile(mode, "default\n") == 0);
    CHECK(readFile(mode) == "[default]\nmbm_event\n");
    std::string out;
    for (const auto& f : {available, onMkdir, totalFilter, sim.at("g/mbm_L3_assignments")}) {
        provokeStatus(sim);
        CHECK(readFile(f, out) == EINVAL);
        CHECK_STATUS(sim, kNotEnabled);
    }
    CHECK(writeFile(onMkdir, "1\n") == EINVAL);
    CHECK_STATUS(sim, kNotEnabled);
    CHECK(writeFile(totalFilter, "local_reads\n") == EINVAL);
    CHECK_STATUS(sim, kNotEnabled);
    CHECK(writeFile(sim.at("g/mbm_L3_assignments"), "mbm_total_bytes:*=e\n") == EINVAL);
    CHECK_STATUS(sim, "mbm_event mode is not enabled\n");
    // In default mode every group counts without assignment.
    CHECK(number(mbm(sim, "g", 5, "mbm_total_bytes")) == 0);

    // Back to mbm_event: no group has a counter, the filter and auto-assignment are reset.
    REQUIRE(writeFile(mode, "mbm_event\n") == 0);
    CHECK(readFile(mode) == "[mbm_event]\ndefault\n");
    CHECK(readFile(available) == sameEverywhere(std::to_string(kCounters)));
    CHECK(readFile(sim.at("mbm_L3_assignments")) == assignments(none, none));
    CHECK(readFile(sim.at("g/mbm_L3_assignments")) == assignments(none, none));
    CHECK(mbm(sim, "", 0, "mbm_total_bytes") == "Unassigned\n");
    CHECK(mbm(sim, "g", 31, "mbm_local_bytes") == "Unassigned\n");
    CHECK(readFile(onMkdir) == "1\n");
    CHECK(readFile(totalFilter) == kAllTransactions);
    CHECK(readFile(sim.at("info/L3_MON/event_configs/mbm_local_bytes/event_filter")) ==
          kLocalTransactions);
}

TEST_CASE("b28: mbm_L3_assignments follows the kernel's grammar, line by line",
          "[sim][assign][b28]") {
    SimInstance sim(kTurin);
    REQUIRE(makeDir(sim.at("g")) == 0);
    const auto file = sim.at("g/mbm_L3_assignments");
    auto is = [](unsigned id) {
        return [id](unsigned d) {
            return d == id;
        };
    };
    auto allBut = [](unsigned id) {
        return [id](unsigned d) {
            return d != id;
        };
    };

    REQUIRE(writeFile(file, "mbm_total_bytes:0=_\n") == 0);
    CHECK(readFile(file) == assignments(allBut(0), all));
    CHECK(readFile(sim.at("info/L3_MON/available_mbm_cntrs")) ==
          perDomain([](unsigned d) { return d == 0 ? "29" : "28"; }));
    REQUIRE(writeFile(file, "mbm_total_bytes:*=_\nmbm_local_bytes:1=_;2=_;\n") == 0);
    CHECK(readFile(file) == assignments(none, [](unsigned d) { return d != 1 && d != 2; }));
    REQUIRE(writeFile(file, "mbm_total_bytes: 7=e ; 9=e\n") == 0);
    CHECK(readFile(file) == assignments([](unsigned d) { return d == 7 || d == 9; },
                                        [](unsigned d) { return d != 1 && d != 2; }));
    REQUIRE(writeFile(file, "mbm_total_bytes:*=_\nmbm_local_bytes:*=_\n") == 0);
    CHECK(readFile(file) == assignments(none, none));

    provokeStatus(sim);
    CHECK(writeFile(file, "mbm_total_bytes:0=e") == EINVAL); // no newline
    CHECK_STATUS(sim, kProvokedStatus);
    CHECK(readFile(file) == assignments(none, none));

    // Lines before the failing one stay applied.
    CHECK(writeFile(file, "mbm_total_bytes:3=e\nbogus:0=e\nmbm_local_bytes:3=e\n") == ENOENT);
    CHECK_STATUS(sim, "Invalid event bogus\n");
    CHECK(readFile(file) == assignments(is(3), none));
    CHECK(writeFile(file, "\n") == ENOENT);
    CHECK_STATUS(sim, "Invalid event \n");
    CHECK(writeFile(file, "llc_occupancy:0=e\n") == ENOENT);
    CHECK_STATUS(sim, "Invalid event llc_occupancy\n");

    CHECK(writeFile(file, "mbm_total_bytes:x=e\n") == EINVAL);
    CHECK_STATUS(sim, "Missing domain id\n");
    CHECK(writeFile(file, "mbm_total_bytes:4=e;;5=e\n") == EINVAL);
    CHECK_STATUS(sim, "Missing domain id\n");
    CHECK(readFile(file) == assignments([](unsigned d) { return d == 3 || d == 4; }, none));
    CHECK(writeFile(file, "mbm_total_bytes:99=e\n") == EINVAL);
    CHECK_STATUS(sim, "Invalid domain id 99\n");
    CHECK(writeFile(file, "mbm_total_bytes:0=x\n") == EINVAL);
    CHECK_STATUS(sim, "Assign operation 'mbm_total_bytes:0=x' failed\n");
    CHECK(writeFile(file, "mbm_total_bytes:0=ee\n") == EINVAL);
    CHECK_STATUS(sim, "Assign operation 'mbm_total_bytes:0=ee' failed\n");

    // '*' ends the line; a line without ':' does nothing.
    REQUIRE(writeFile(file, "mbm_local_bytes:*=e;0=_\nmbm_total_bytes\n") == 0);
    CHECK(readFile(file) == assignments([](unsigned d) { return d == 3 || d == 4; }, all));
    CHECK_STATUS(sim, "ok\n");
}

TEST_CASE("b29: counters run out per domain without failing mkdir; explicit assignment fails "
          "ENOSPC",
          "[sim][assign][b29]") {
    SimInstance sim(kTurin);
    const auto available = sim.at("info/L3_MON/available_mbm_cntrs");
    // The root and 15 groups hold both counters in every domain: 32 of 32.
    for (int i = 1; i <= 10; ++i)
        REQUIRE(makeDir(sim.at("g" + std::to_string(i))) == 0);
    for (int i = 1; i <= 5; ++i)
        REQUIRE(makeDir(sim.at("g1/mon_groups/m" + std::to_string(i))) == 0);
    CHECK_STATUS(sim, "ok\n");
    CHECK(readFile(available) == sameEverywhere("0"));

    // The 16th group is created without counters; the status names the first shortage.
    REQUIRE(makeDir(sim.at("g2/mon_groups/late")) == 0);
    CHECK(lastCmdStatus(sim).rfind("Failed to allocate counter for mbm_total_bytes in domain 0\n"
                                   "Failed to allocate counter for mbm_total_bytes in domain 1\n",
                                   0) == 0);
    CHECK(readFile(sim.at("g2/mon_groups/late/mbm_L3_assignments")) == assignments(none, none));
    CHECK(mbm(sim, "g2/mon_groups/late", 0, "mbm_total_bytes") == "Unassigned\n");

    const auto late = sim.at("g2/mon_groups/late/mbm_L3_assignments");
    CHECK(writeFile(late, "mbm_total_bytes:5=e\n") == ENOSPC);
    CHECK_STATUS(sim, "Failed to allocate counter for mbm_total_bytes in domain 5\n"
                      "Assign operation 'mbm_total_bytes:5=e' failed\n");

    // One free counter in domain 3: '*' still assigns it there and fails for the rest.
    REQUIRE(writeFile(sim.at("g3/mbm_L3_assignments"), "mbm_local_bytes:3=_\n") == 0);
    CHECK(writeFile(late, "mbm_local_bytes:*=e\n") == ENOSPC);
    CHECK(lastCmdStatus(sim).rfind("Failed to allocate counter for mbm_local_bytes in domain 0\n",
                                   0) == 0);
    CHECK(lastCmdStatus(sim).find("in domain 3\n") == std::string::npos);
    CHECK(readFile(late) == assignments(none, [](unsigned d) { return d == 3; }));

    // rmdir of a CTRL_MON group gives back its own and its MON groups' counters.
    REQUIRE(removeDir(sim.at("g1")) == 0);
    CHECK(readFile(available) == sameEverywhere("12"));
}

TEST_CASE("b30: MBM reads follow assignment: Unassigned, sums of assigned members, restart "
          "on (re)assignment and filter change",
          "[sim][assign][b30]") {
    SimInstance sim(kTurin);
    TestThread t;
    REQUIRE(makeDir(sim.at("g")) == 0);
    REQUIRE(makeDir(sim.at("g/mon_groups/m")) == 0);
    REQUIRE(writeFile(sim.at("g/tasks"), std::to_string(t.tid())) == 0);
    REQUIRE(writeFile(sim.at("g/mon_groups/m/tasks"), std::to_string(t.tid())) == 0);
    // 1 GB/s total, 0.5 GB/s local on domain 0 only.
    sim.setControl("traffic", std::to_string(t.tid()) + " 0 1000000000 500000000\n");
    const auto gFile = sim.at("g/mbm_L3_assignments");
    const auto mFile = sim.at("g/mon_groups/m/mbm_L3_assignments");

    CHECK(waitUntil([&] { return number(mbm(sim, "g/mon_groups/m", 0, "mbm_total_bytes")) > 0; }));
    // The CTRL_MON group reads a number while any member has a counter.
    REQUIRE(writeFile(gFile, "mbm_total_bytes:0=_\n") == 0);
    CHECK(number(mbm(sim, "g", 0, "mbm_total_bytes")) > 0);
    REQUIRE(writeFile(mFile, "mbm_total_bytes:0=_\n") == 0);
    CHECK(mbm(sim, "g", 0, "mbm_total_bytes") == "Unassigned\n");
    CHECK(mbm(sim, "g/mon_groups/m", 0, "mbm_total_bytes") == "Unassigned\n");
    // occupancy is not affected by assignment
    CHECK(number(mbm(sim, "g", 0, "llc_occupancy")) == 0);

    // Unassigned counters count nothing: the local counter assigned later starts at 0 and
    // stays below the total counter that ran all along.
    REQUIRE(writeFile(mFile, "mbm_local_bytes:0=_\n") == 0);
    REQUIRE(writeFile(mFile, "mbm_total_bytes:0=e\n") == 0);
    CHECK(waitUntil(
        [&] { return number(mbm(sim, "g/mon_groups/m", 0, "mbm_total_bytes")) > 400000000; }));
    REQUIRE(writeFile(mFile, "mbm_local_bytes:0=e\n") == 0);
    const auto local = number(mbm(sim, "g/mon_groups/m", 0, "mbm_local_bytes"));
    const auto total = number(mbm(sim, "g/mon_groups/m", 0, "mbm_total_bytes"));
    CHECK(local < 200000000);
    CHECK(total > 400000000);

    // Assigning what is assigned changes nothing; re-assigning restarts from 0.
    REQUIRE(writeFile(mFile, "mbm_total_bytes:0=e\n") == 0);
    CHECK(number(mbm(sim, "g/mon_groups/m", 0, "mbm_total_bytes")) >= total);
    REQUIRE(writeFile(mFile, "mbm_total_bytes:0=_\nmbm_total_bytes:0=e\n") == 0);
    CHECK(number(mbm(sim, "g/mon_groups/m", 0, "mbm_total_bytes")) < total);

    // A filter change restarts every counter of that event, and only of that event.
    CHECK(waitUntil(
        [&] { return number(mbm(sim, "g/mon_groups/m", 0, "mbm_total_bytes")) > 400000000; }));
    const auto beforeLocal = number(mbm(sim, "g/mon_groups/m", 0, "mbm_local_bytes"));
    REQUIRE(writeFile(sim.at("info/L3_MON/event_configs/mbm_total_bytes/event_filter"),
                      "local_reads,remote_reads\n") == 0);
    CHECK(number(mbm(sim, "g/mon_groups/m", 0, "mbm_total_bytes")) < 400000000);
    CHECK(number(mbm(sim, "g/mon_groups/m", 0, "mbm_local_bytes")) >= beforeLocal);
}

TEST_CASE("b30: event_filter reads in table order and validates every name", "[sim][assign][b30]") {
    SimInstance sim(kTurin);
    const auto total = sim.at("info/L3_MON/event_configs/mbm_total_bytes/event_filter");
    const auto local = sim.at("info/L3_MON/event_configs/mbm_local_bytes/event_filter");
    CHECK(readFile(total) == kAllTransactions);
    CHECK(readFile(local) == kLocalTransactions);
    REQUIRE(writeFile(total, " remote_reads , local_reads,remote_reads\n") == 0);
    CHECK(readFile(total) == "local_reads,remote_reads\n");
    CHECK(readFile(local) == kLocalTransactions);
    CHECK(writeFile(total, "local_reads,all_reads\n") == EINVAL);
    CHECK_STATUS(sim, "Invalid memory transaction type all_reads\n");
    CHECK(readFile(total) == "local_reads,remote_reads\n");
    provokeStatus(sim);
    CHECK(writeFile(total, "local_reads") == EINVAL);
    CHECK_STATUS(sim, kProvokedStatus);
    REQUIRE(writeFile(total, "\n") == 0);
    CHECK(readFile(total) == "\n");
}

TEST_CASE("b31: groups get counters on mkdir in the kernel's order, as mbm_assign_on_mkdir "
          "says",
          "[sim][assign][b31]") {
    SimInstance sim(kTurin);
    const auto onMkdir = sim.at("info/L3_MON/mbm_assign_on_mkdir");
    const auto available = sim.at("info/L3_MON/available_mbm_cntrs");
    CHECK(readFile(sim.at("mbm_L3_assignments")) == assignments(all, all));
    CHECK(readFile(onMkdir) == "1\n");

    // kstrtobool: only the first characters count, no newline needed; garbage: no message.
    REQUIRE(writeFile(onMkdir, "off") == 0);
    CHECK(readFile(onMkdir) == "0\n");
    REQUIRE(makeDir(sim.at("quiet")) == 0);
    CHECK(readFile(sim.at("quiet/mbm_L3_assignments")) == assignments(none, none));
    CHECK(readFile(available) == sameEverywhere("30"));
    REQUIRE(writeFile(onMkdir, "enabled\n") == 0);
    CHECK(readFile(onMkdir) == "1\n");
    REQUIRE(writeFile(onMkdir, "disabled") == 0);
    CHECK(readFile(onMkdir) == "0\n");
    REQUIRE(writeFile(onMkdir, "yes please\n") == 0);
    CHECK(readFile(onMkdir) == "1\n");
    provokeStatus(sim);
    CHECK(writeFile(onMkdir, "2\n") == EINVAL);
    CHECK_STATUS(sim, kProvokedStatus);

    // Order: mbm_total_bytes in every domain, then mbm_local_bytes in every domain. With one
    // free counter per domain a new group gets the total counters only.
    for (int i = 1; i <= 15; ++i)
        REQUIRE(makeDir(sim.at("quiet/mon_groups/m" + std::to_string(i))) == 0);
    CHECK(readFile(available) == sameEverywhere("0"));
    REQUIRE(writeFile(sim.at("quiet/mon_groups/m1/mbm_L3_assignments"), "mbm_local_bytes:*=_\n") ==
            0);
    REQUIRE(makeDir(sim.at("g")) == 0);
    // Read the status first: reading mbm_L3_assignments clears it.
    CHECK(lastCmdStatus(sim).substr(0, 59) ==
          "Failed to allocate counter for mbm_local_bytes in domain 0\n");
    CHECK(readFile(sim.at("g/mbm_L3_assignments")) == assignments(all, none));
    CHECK_STATUS(sim, "ok\n");
    CHECK(mbm(sim, "g", 0, "mbm_local_bytes") == "Unassigned\n");
    CHECK(number(mbm(sim, "g", 0, "mbm_total_bytes")) == 0);

    // A renamed MON group keeps its counters; rmdir gives them back.
    REQUIRE(renamePath(sim.at("quiet/mon_groups/m2"), sim.at("g/mon_groups/m2")) == 0);
    CHECK(readFile(sim.at("g/mon_groups/m2/mbm_L3_assignments")) == assignments(all, all));
    REQUIRE(removeDir(sim.at("g/mon_groups/m2")) == 0);
    CHECK(readFile(available) == sameEverywhere("2"));
}

TEST_CASE("b30: with the unavailable-after-assign quirk a new counter reads Unavailable once",
          "[sim][assign][b30]") {
    SimInstance sim(kTurin);
    sim.setControl("quirks", "# AMD may report a fresh counter as unavailable\n"
                             "unavailable-after-assign\n");
    REQUIRE(makeDir(sim.at("g")) == 0);
    CHECK(mbm(sim, "g", 0, "mbm_total_bytes") == "Unavailable\n");
    CHECK(number(mbm(sim, "g", 0, "mbm_total_bytes")) == 0);
    CHECK(mbm(sim, "g", 1, "mbm_local_bytes") == "Unavailable\n");
    CHECK(number(mbm(sim, "g", 1, "mbm_local_bytes")) == 0);
    REQUIRE(writeFile(sim.at("g/mbm_L3_assignments"), "mbm_total_bytes:0=_\n") == 0);
    CHECK(mbm(sim, "g", 0, "mbm_total_bytes") == "Unassigned\n");
    REQUIRE(writeFile(sim.at("g/mbm_L3_assignments"), "mbm_total_bytes:0=e\n") == 0);
    CHECK(mbm(sim, "g", 0, "mbm_total_bytes") == "Unavailable\n");
    CHECK(number(mbm(sim, "g", 0, "mbm_total_bytes")) == 0);
    // A filter change makes that event's counters unavailable once, not the other event's.
    CHECK(mbm(sim, "g", 2, "mbm_local_bytes") == "Unavailable\n");
    CHECK(mbm(sim, "g", 2, "mbm_total_bytes") == "Unavailable\n");
    REQUIRE(writeFile(sim.at("info/L3_MON/event_configs/mbm_local_bytes/event_filter"),
                      "local_reads\n") == 0);
    CHECK(mbm(sim, "g", 2, "mbm_local_bytes") == "Unavailable\n");
    CHECK(mbm(sim, "g", 2, "mbm_total_bytes") == "0\n");
    // Without the quirk a fresh counter reads a number at once.
    sim.setControl("quirks", "");
    REQUIRE(makeDir(sim.at("h")) == 0);
    CHECK(number(mbm(sim, "h", 0, "mbm_total_bytes")) == 0);
}
