// SPDX-License-Identifier: LGPL-2.1-or-later
// Assignable bandwidth counters without a kernel: the texts of mbm_assign_mode, num_mbm_cntrs,
// available_mbm_cntrs and mbm_L3_assignments, the commands written, the refusals that change
// nothing (on a fixture tree of plain files), and the policy that ranks monitors.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "counter_assigner.h"
#include "counter_policy.h"
#include "errors.h"
#include "mbm_assignment.h"

using namespace resctrld;
namespace fs = std::filesystem;

namespace {

struct FixtureTree {
    fs::path root;
    FixtureTree() {
        char templ[] = "/tmp/resctrld-mbm-XXXXXX";
        root = mkdtemp(templ);
        fs::create_directories(root / "info/L3_MON/event_configs/mbm_total_bytes");
        fs::create_directories(root / "info/L3_MON/event_configs/mbm_local_bytes");
        fs::create_directories(root / "vm1");
    }
    ~FixtureTree() { fs::remove_all(root); }
    void put(const fs::path& file, const std::string& text) const {
        std::ofstream(root / file, std::ios::trunc) << text;
    }
    std::string get(const fs::path& file) const {
        std::ifstream in(root / file);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }
};

} // namespace

TEST_CASE("mbm_assign_mode reads as the kernel writes it", "[counters]") {
    auto event = parseAssignMode("[mbm_event]\ndefault\n");
    REQUIRE(event);
    CHECK(event->current == CounterMode::MbmEvent);
    CHECK(event->assignable);

    auto switchable = parseAssignMode("[default]\nmbm_event\n");
    REQUIRE(switchable);
    CHECK(switchable->current == CounterMode::Default);
    CHECK(switchable->assignable);

    auto intel = parseAssignMode("[default]\n");
    REQUIRE(intel);
    CHECK(intel->current == CounterMode::Default);
    CHECK_FALSE(intel->assignable);
}

TEST_CASE("a mode file the kernel would not write reads as nothing", "[counters]") {
    const std::string text =
        GENERATE(as<std::string>{}, "", "\n", "default\n", "[mbm_event]", "[abmc]\n",
                 "[default]\n[mbm_event]\n", "[ default ]\n", "[default]\nlegacy_mbm\n");
    INFO('"' << text << '"');
    CHECK_FALSE(parseAssignMode(text));
}

TEST_CASE("counter counts are read per L3 domain", "[counters]") {
    auto counts = parseCountsPerDomain("0=32;1=30\n");
    REQUIRE(counts);
    CHECK(*counts == std::map<unsigned, unsigned>{{0, 32}, {1, 30}});
    CHECK(parseCountsPerDomain("16=0\n") == std::map<unsigned, unsigned>{{16, 0}});
    const std::string bad = GENERATE(as<std::string>{}, "", "0=32", "0=32;\n", "0=\n", "=3\n",
                                     "0=32;0=30\n", "0:32\n", "0=-1\n", "a=1\n");
    INFO('"' << bad << '"');
    CHECK_FALSE(parseCountsPerDomain(bad));
}

TEST_CASE("a group's assignments are read per event and domain", "[counters]") {
    auto assignments = parseGroupAssignments("mbm_total_bytes:0=e;1=_\nmbm_local_bytes:0=e;1=e\n");
    REQUIRE(assignments);
    CHECK(assignments->at("mbm_total_bytes") == std::map<unsigned, bool>{{0, true}, {1, false}});
    CHECK(assignments->at("mbm_local_bytes") == std::map<unsigned, bool>{{0, true}, {1, true}});
    const std::string bad =
        GENERATE(as<std::string>{}, "", "mbm_total_bytes:0=e", "mbm_total_bytes:0=x\n",
                 "mbm_total_bytes:0e\n", ":0=e\n", "mbm_total_bytes 0=e\n",
                 "mbm_total_bytes:0=e\nmbm_total_bytes:0=_\n", "mbm_total_bytes:0=e;0=_\n");
    INFO('"' << bad << '"');
    CHECK_FALSE(parseGroupAssignments(bad));
}

TEST_CASE("the assignment command names every domain on one line per event", "[counters]") {
    CHECK(assignmentCommand({"mbm_total_bytes", "mbm_local_bytes"}, {0, 1}, true) ==
          "mbm_total_bytes:0=e;1=e\nmbm_local_bytes:0=e;1=e\n");
    CHECK(assignmentCommand({"mbm_total_bytes"}, {3}, false) == "mbm_total_bytes:3=_\n");
}

TEST_CASE("the counter files are read from the mount", "[counters]") {
    FixtureTree tree;
    tree.put("info/L3_MON/mbm_assign_mode", "[mbm_event]\ndefault\n");
    tree.put("info/L3_MON/num_mbm_cntrs", "0=32;1=32\n");
    tree.put("info/L3_MON/available_mbm_cntrs", "0=30;1=29\n");
    tree.put("vm1/mbm_L3_assignments", "mbm_total_bytes:0=e;1=_\nmbm_local_bytes:0=e;1=_\n");
    const ResctrlFs fs(tree.root);
    const MbmAssignment files(fs);
    REQUIRE(files.mode());
    CHECK(files.mode()->current == CounterMode::MbmEvent);
    CHECK(files.countersTotal() == std::map<unsigned, unsigned>{{0, 32}, {1, 32}});
    CHECK(files.countersFree() == std::map<unsigned, unsigned>{{0, 30}, {1, 29}});
    CHECK(files.events() == std::vector<std::string>{"mbm_total_bytes", "mbm_local_bytes"});
    auto vm1 = files.assignments("vm1");
    REQUIRE(vm1);
    CHECK(vm1->at("mbm_local_bytes").at(0));
    CHECK_FALSE(files.assignments("gone"));
}

TEST_CASE("a kernel before counter assignment has no mode and no counters", "[counters]") {
    FixtureTree tree;
    fs::remove_all(tree.root / "info/L3_MON/event_configs");
    const ResctrlFs fs(tree.root);
    const MbmAssignment files(fs);
    CHECK_FALSE(files.mode());
    CHECK(files.countersTotal().empty());
    CHECK(files.countersFree().empty());
    CHECK(files.events().empty());
}

TEST_CASE("a mount without the mode file is not asked for it again", "[counters]") {
    FixtureTree tree;
    const ResctrlFs fs(tree.root);
    CHECK_FALSE(MbmAssignment(fs).hasModeFile());
    CounterAssigner counters(fs, CounterAssignment::Auto);
    CHECK(counters.status().mode.empty());
    // info/ is built at mount time: a file that appears later is not the kernel's.
    tree.put("info/L3_MON/mbm_assign_mode", "[mbm_event]\ndefault\n");
    tree.put("info/L3_MON/num_mbm_cntrs", "0=32;1=32\n");
    CHECK(MbmAssignment(fs).hasModeFile());
    CHECK_FALSE(counters.refreshStatus());
    CHECK(counters.status().mode.empty());
    CHECK_FALSE(counters.active());
    CHECK(CounterAssigner(fs, CounterAssignment::Auto).status().mode == "mbm_event");
}

TEST_CASE("assigning without a free counter is NoSpace naming the cache id and writes nothing",
          "[counters]") {
    FixtureTree tree;
    tree.put("info/L3_MON/available_mbm_cntrs", "0=4;1=1\n");
    const std::string before = "mbm_total_bytes:0=_;1=_\nmbm_local_bytes:0=_;1=_\n";
    tree.put("vm1/mbm_L3_assignments", before);
    const ResctrlFs fs(tree.root);
    const MbmAssignment files(fs);
    auto lock = ResctrlLock::acquire(tree.root, std::chrono::seconds(1));
    try {
        files.assign(lock, "vm1", {"mbm_total_bytes", "mbm_local_bytes"}, {0, 1});
        FAIL("assign succeeded without free counters");
    } catch (const NoSpace& e) {
        CHECK_THAT(e.what(), Catch::Contains("L3 cache id 1"));
        CHECK_THAT(e.what(), Catch::Contains("needs 2 and 1 is free"));
    }
    CHECK(tree.get("vm1/mbm_L3_assignments") == before);
}

TEST_CASE("assigning writes only the pairs that lack a counter", "[counters]") {
    FixtureTree tree;
    tree.put("info/L3_MON/available_mbm_cntrs", "0=1;1=2\n");
    tree.put("vm1/mbm_L3_assignments", "mbm_total_bytes:0=e;1=_\nmbm_local_bytes:0=_;1=_\n");
    const ResctrlFs fs(tree.root);
    const MbmAssignment files(fs);
    auto lock = ResctrlLock::acquire(tree.root, std::chrono::seconds(1));
    files.assign(lock, "vm1", {"mbm_total_bytes", "mbm_local_bytes"}, {0, 1});
    // A plain file keeps what was written at offset 0: the command itself.
    CHECK(tree.get("vm1/mbm_L3_assignments")
              .starts_with("mbm_total_bytes:1=e\n"
                           "mbm_local_bytes:0=e;1=e\n"));
}

TEST_CASE("a group that cannot be read is KernelRejected before anything is written",
          "[counters]") {
    FixtureTree tree;
    tree.put("info/L3_MON/available_mbm_cntrs", "0=4\n");
    const ResctrlFs fs(tree.root);
    const MbmAssignment files(fs);
    auto lock = ResctrlLock::acquire(tree.root, std::chrono::seconds(1));
    CHECK_THROWS_AS(files.assign(lock, "gone", {"mbm_total_bytes"}, {0}), KernelRejected);
    CHECK_FALSE(fs::exists(tree.root / "gone"));
}

namespace {

CounterClaim claim(std::string group, unsigned priority, std::uint64_t order,
                   std::map<unsigned, unsigned> held = {}) {
    return CounterClaim{std::move(group), priority, order, std::move(held)};
}

} // namespace

TEST_CASE("counters go by priority, then by order of start", "[counters][policy]") {
    const CounterPolicy policy(2);
    // Six counters free in domain 0: three monitors fit, the fourth waits.
    auto moves = policy.plan(
        {claim("a", 0, 0), claim("b", 5, 3), claim("c", 0, 1), claim("d", 0, 2)}, {{0, 6}});
    CHECK(moves.assign.count("b"));
    CHECK(moves.assign.count("a"));
    CHECK(moves.assign.count("c"));
    CHECK_FALSE(moves.assign.count("d"));
    CHECK(moves.release.empty());
    CHECK(moves.waiting.at(0) == std::vector<std::string>{"d"});
}

TEST_CASE("a monitor that holds its counters and is ranked in keeps them unchanged",
          "[counters][policy]") {
    const CounterPolicy policy(2);
    auto moves = policy.plan({claim("a", 0, 0, {{0, 2}}), claim("b", 0, 1)}, {{0, 0}});
    CHECK(moves.empty());
    CHECK(moves.waiting.at(0) == std::vector<std::string>{"b"});
}

TEST_CASE("counters given back by a stopped monitor go to the next waiting one",
          "[counters][policy]") {
    const CounterPolicy policy(2);
    // "a" stopped: its two counters are free again; "c" (priority 3) comes before "b".
    auto moves = policy.plan({claim("b", 0, 1), claim("c", 3, 2)}, {{0, 2}});
    CHECK(moves.assign.size() == 1);
    CHECK(moves.assign.count("c"));
    CHECK(moves.waiting.at(0) == std::vector<std::string>{"b"});
}

TEST_CASE("a higher priority newcomer takes the counters of the lowest ranked holder",
          "[counters][policy]") {
    const CounterPolicy policy(2);
    auto moves = policy.plan({claim("low", 0, 0, {{0, 2}}), claim("high", 9, 1)}, {{0, 0}});
    CHECK(moves.release.at("low") == std::vector<unsigned>{0});
    CHECK(moves.assign.at("high") == std::vector<unsigned>{0});
}

TEST_CASE("counters held by other tools stay used: only the free ones are handed out",
          "[counters][policy]") {
    const CounterPolicy policy(2);
    // 32 counters, 29 held by others: one free counter is not enough for a monitor.
    auto moves = policy.plan({claim("a", 0, 0)}, {{0, 1}});
    CHECK(moves.assign.empty());
    CHECK(moves.waiting.at(0) == std::vector<std::string>{"a"});
}

TEST_CASE("each L3 domain is decided on its own", "[counters][policy]") {
    const CounterPolicy policy(2);
    auto moves = policy.plan({claim("a", 0, 0), claim("b", 0, 1)}, {{0, 4}, {1, 2}});
    CHECK(moves.assign.at("a") == std::vector<unsigned>{0, 1});
    CHECK(moves.assign.at("b") == std::vector<unsigned>{0});
    CHECK(moves.waiting.at(1) == std::vector<std::string>{"b"});
    CHECK_FALSE(moves.waiting.count(0));
}

TEST_CASE("a monitor holding one of its two counters gets the other when it is ranked in",
          "[counters][policy]") {
    const CounterPolicy policy(2);
    auto moves = policy.plan({claim("a", 0, 0, {{0, 1}})}, {{0, 1}});
    CHECK(moves.assign.at("a") == std::vector<unsigned>{0});
    // Ranked out while holding one: it gives that one back.
    auto out = policy.plan({claim("x", 1, 0, {{0, 2}}), claim("a", 0, 1, {{0, 1}})}, {{0, 0}});
    CHECK(out.release.at("a") == std::vector<unsigned>{0});
}

TEST_CASE("the configuration words of CounterAssignment", "[counters][policy]") {
    CHECK(toString(CounterAssignment::Auto) == "auto");
    CHECK(toString(CounterAssignment::Manual) == "manual");
    CHECK(toString(CounterMode::MbmEvent) == "mbm_event");
    CHECK(parseCounterMode("default") == CounterMode::Default);
    CHECK_FALSE(parseCounterMode("keep"));
}

TEST_CASE("a check asks for a reconcile only when the mode or a budget moved", "[counters]") {
    FixtureTree tree;
    tree.put("info/L3_MON/mbm_assign_mode", "[mbm_event]\ndefault\n");
    tree.put("info/L3_MON/num_mbm_cntrs", "0=32;1=32\n");
    tree.put("info/L3_MON/available_mbm_cntrs", "0=30;1=30\n");
    const ResctrlFs resctrl(tree.root);
    CounterAssigner counters(resctrl, CounterAssignment::Auto);
    REQUIRE(counters.active());
    CHECK_FALSE(counters.reconcileDue());
    // Another tool took a counter on id 1.
    tree.put("info/L3_MON/available_mbm_cntrs", "0=30;1=29\n");
    CHECK(counters.reconcileDue());
    CHECK(counters.status().free == std::map<unsigned, unsigned>{{0, 30}, {1, 29}});
    CHECK_FALSE(counters.reconcileDue());
    tree.put("info/L3_MON/mbm_assign_mode", "[default]\nmbm_event\n");
    CHECK(counters.reconcileDue());
    CHECK_FALSE(counters.active());
}

TEST_CASE("mode and counts that fail to read keep what was read last, and a check asks again "
          "until they read",
          "[counters]") {
    FixtureTree tree;
    tree.put("info/L3_MON/mbm_assign_mode", "[mbm_event]\ndefault\n");
    tree.put("info/L3_MON/num_mbm_cntrs", "0=32;1=32\n");
    tree.put("info/L3_MON/available_mbm_cntrs", "0=30;1=30\n");
    const ResctrlFs resctrl(tree.root);
    CounterAssigner counters(resctrl, CounterAssignment::Auto);
    const CounterStatus before = counters.status();
    for (const char* file : {"info/L3_MON/mbm_assign_mode", "info/L3_MON/num_mbm_cntrs",
                             "info/L3_MON/available_mbm_cntrs"}) {
        INFO(file);
        const std::string text = tree.get(file);
        // A file that cannot be opened stands for one whose read fails.
        fs::remove(tree.root / file);
        CHECK(counters.reconcileDue());
        CHECK(counters.reconcileDue());
        CHECK(counters.status() == before);
        CHECK(counters.active());
        tree.put(file, text);
        CHECK_FALSE(counters.reconcileDue());
        CHECK(counters.status() == before);
    }
}
