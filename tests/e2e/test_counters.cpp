// SPDX-License-Identifier: LGPL-2.1-or-later
// Assignable bandwidth counters end to end (docs/counters.md): the daemon on resctrlfs-sim's
// turin-2s (32 counters per L3 id, mbm_event mode at boot, the root group holding 2 of them),
// real fake hypervisors, a real private bus. More monitors than counters under each policy,
// priorities, hand-over at stop, foreign assignments, a mode switch at start-up.
#include "runtime_fixture.h"
#include "stall_points.h"

using namespace resctrld::e2e;
using namespace resctrld::e2e::runtime;

namespace {

using Assigned = std::map<uint32_t, bool>;
using Budget = std::map<uint32_t, uint32_t>;

constexpr unsigned kCountersPerId = 32;
// The root group takes 2 per id when resctrl is mounted in mbm_event mode: 15 monitors fit.
constexpr unsigned kMonitorsThatFit = (kCountersPerId - 2) / 2;

std::string counterConfig(const std::string& extra = "") {
    return config() + extra;
}

FixtureOptions turin(const std::string& extra = "", const std::string& profile = "turin-2s") {
    return {.profile = profile, .configText = counterConfig(extra), .kernel = "6.19"};
}

// A monitor-only memorytune over `count` vCPUs, one bandwidth monitor per vCPU, the metadata
// form so that monitors can carry a priority.
std::string monitorsDomain(const std::string& name, unsigned count, unsigned priority = 0) {
    std::string monitors;
    for (unsigned v = 0; v < count; ++v)
        monitors += "<monitor vcpus='" + std::to_string(v) + "' priority='" +
                    std::to_string(priority) + "'/>";
    return Domain(name)
        .vcpus(count)
        .memorytune("0-" + std::to_string(count - 1), monitors)
        .inMetadata()
        .str();
}

bool holdsEverywhere(const Assigned& assigned) {
    return !assigned.empty() &&
           std::all_of(assigned.begin(), assigned.end(), [](const auto& e) { return e.second; });
}

bool holdsNowhere(const Assigned& assigned) {
    return !assigned.empty() &&
           std::none_of(assigned.begin(), assigned.end(), [](const auto& e) { return e.second; });
}

struct CounterFixture : Fixture {
    using Fixture::Fixture;

    Assigned assigned(const std::string& monitor) {
        return property<Assigned>(monitor, kMonitor, "CountersAssigned");
    }
    Budget free() { return property<Budget>(kRootPath, kManager, "CountersFree"); }
    std::string mode() { return property<std::string>(kRootPath, kManager, "CounterMode"); }

    // The monitors of a started domain, with their hypervisor.
    PathList start(const std::string& definition, Hypervisor& hv) {
        const auto path = startDomain(definition, hv.vcpuThreads());
        return children(path, "Monitors");
    }

    // How many of `monitors` hold counters on every id, once the daemon settled.
    std::size_t holding(const PathList& monitors) {
        std::size_t n = 0;
        for (const auto& m : monitors)
            n += holdsEverywhere(assigned(m)) ? 1 : 0;
        return n;
    }

    std::string assignments(const std::string& group) {
        return simtest::readFile(sim.at(group + "/mbm_L3_assignments"));
    }

    // A group made by another tool: the kernel gives it counters (mbm_assign_on_mkdir).
    void foreignGroup(const std::string& name) {
        REQUIRE(fs::create_directory(sim.at("mon_groups/" + name)));
    }

    std::string assignError(const std::string& monitor, bool assign) {
        try {
            proxy(monitor)
                ->callMethod("AssignCounters")
                .onInterface(kMonitor)
                .withArguments(assign)
                .storeResultsTo();
        } catch (const sdbus::Error& e) {
            return e.getName() + ": " + e.getMessage();
        }
        return "";
    }
};

} // namespace

TEST_CASE("more monitors than counters: the first started hold them, the rest read unassigned",
          "[e2e][sim][counters]") {
    CounterFixture f(turin());
    INFO(f.log());
    REQUIRE(f.mode() == "mbm_event");
    auto& hv = f.hypervisor(kMonitorsThatFit + 2);
    const auto monitors = f.start(monitorsDomain("many", kMonitorsThatFit + 2), hv);
    REQUIRE(monitors.size() == kMonitorsThatFit + 2);
    REQUIRE(simtest::waitUntil([&] { return f.holding(monitors) == kMonitorsThatFit; }, 20s));
    // In order of start (document order within one domain): the last two wait.
    for (std::size_t i = 0; i < kMonitorsThatFit; ++i)
        CHECK(holdsEverywhere(f.assigned(monitors[i])));
    for (std::size_t i = kMonitorsThatFit; i < monitors.size(); ++i) {
        CHECK(holdsNowhere(f.assigned(monitors[i])));
        REQUIRE(simtest::waitUntil(
            [&] {
                const auto states = f.property<StateMap>(monitors[i], kMonitor, "CounterStates");
                return !states.empty() && states.at(0) == "unassigned";
            },
            10s));
        // Never a value of 0 for a counter nobody counts.
        CHECK_FALSE(f.counters(monitors[i], "MemoryBytesTotal").count(0));
    }
    for (const auto& [id, free] : f.free())
        CHECK(free == 0);
}

TEST_CASE("a higher priority takes counters from the lowest ranked, and gets them back at stop",
          "[e2e][sim][counters]") {
    CounterFixture f(turin());
    INFO(f.log());
    auto& hvBig = f.hypervisor(kMonitorsThatFit);
    const auto big = f.start(monitorsDomain("big", kMonitorsThatFit), hvBig);
    REQUIRE(simtest::waitUntil([&] { return f.holding(big) == kMonitorsThatFit; }, 20s));

    auto& hvVip = f.hypervisor(1);
    const auto vip = f.start(monitorsDomain("vip", 1, 500), hvVip);
    REQUIRE(vip.size() == 1);
    REQUIRE(simtest::waitUntil([&] { return holdsEverywhere(f.assigned(vip[0])); }, 20s));
    // The last started of equal priority gave its counters up.
    CHECK(holdsNowhere(f.assigned(big.back())));
    CHECK(f.holding(big) == kMonitorsThatFit - 1);

    // Stopping the priority monitor hands its counters to the waiting one at once.
    f.stopDomain("vip");
    REQUIRE(simtest::waitUntil([&] { return holdsEverywhere(f.assigned(big.back())); }, 10s));
    CHECK(f.holding(big) == kMonitorsThatFit);
}

TEST_CASE("counters held by another tool are left alone and count as used",
          "[e2e][sim][counters]") {
    CounterFixture f(turin());
    INFO(f.log());
    // 14 foreign groups take 28 counters per id: room for one monitor.
    for (unsigned i = 0; i < kMonitorsThatFit - 1; ++i)
        f.foreignGroup("other" + std::to_string(i));
    const std::string foreignBefore = f.assignments("mon_groups/other0");
    auto& hv = f.hypervisor(2);
    const auto monitors = f.start(monitorsDomain("two", 2), hv);
    REQUIRE(simtest::waitUntil([&] { return f.holding(monitors) == 1; }, 20s));
    CHECK(holdsEverywhere(f.assigned(monitors[0])));
    CHECK(holdsNowhere(f.assigned(monitors[1])));
    CHECK(f.assignments("mon_groups/other0") == foreignBefore);
    CHECK_THAT(foreignBefore, !Catch::Contains("=_"));

    // The other tool lets one group go: its counters go to the waiting monitor.
    REQUIRE(fs::remove(f.sim.at("mon_groups/other0")));
    REQUIRE(simtest::waitUntil([&] { return f.holding(monitors) == 2; }, 20s));
}

TEST_CASE("manual assignment: nothing is assigned until AssignCounters, NoSpace names the id",
          "[e2e][sim][counters]") {
    CounterFixture f(turin("CounterAssignment=manual\n"));
    INFO(f.log());
    auto& hv = f.hypervisor(2);
    const auto monitors = f.start(monitorsDomain("manual", 2), hv);
    // The counters the kernel gave the new groups are given back.
    REQUIRE(simtest::waitUntil([&] { return holdsNowhere(f.assigned(monitors[0])); }, 20s));
    CHECK(holdsNowhere(f.assigned(monitors[1])));

    CHECK(f.assignError(monitors[0], true) == "");
    CHECK(holdsEverywhere(f.assigned(monitors[0])));
    CHECK_THAT(f.assignments(f.group(monitors[0], kMonitor)), !Catch::Contains("=_"));

    // Another tool takes every counter left: AssignCounters is NoSpace and changes nothing.
    for (unsigned i = 0; i < kMonitorsThatFit - 1; ++i)
        f.foreignGroup("other" + std::to_string(i));
    const std::string before = f.assignments(f.group(monitors[1], kMonitor));
    const std::string error = f.assignError(monitors[1], true);
    CHECK_THAT(error, Catch::StartsWith("org.resctrld1.Error.NoSpace") &&
                          Catch::Contains("L3 cache id 0"));
    CHECK(f.assignments(f.group(monitors[1], kMonitor)) == before);
    CHECK(holdsNowhere(f.assigned(monitors[1])));

    // Released on request: the first monitor reads unassigned again.
    CHECK(f.assignError(monitors[0], false) == "");
    CHECK(holdsNowhere(f.assigned(monitors[0])));
}

TEST_CASE("CounterMode=mbm_event switches a host in default mode once at start-up",
          "[e2e][sim][counters]") {
    CounterFixture f(turin("CounterMode=mbm_event\n", "turin-2s-default-mode"));
    INFO(f.log());
    REQUIRE(simtest::waitUntil([&] { return f.mode() == "mbm_event"; }, 10s));
    CHECK_THAT(f.log(), Catch::Contains("every bandwidth counter on this host is reset"));
    auto& hv = f.hypervisor(1);
    const auto monitors = f.start(monitorsDomain("switched", 1), hv);
    REQUIRE(simtest::waitUntil([&] { return holdsEverywhere(f.assigned(monitors[0])); }, 20s));
}

TEST_CASE("CounterMode=keep leaves a host in default mode alone", "[e2e][sim][counters]") {
    CounterFixture f(turin("", "turin-2s-default-mode"));
    INFO(f.log());
    CHECK(f.mode() == "default");
    CHECK(simtest::readFile(f.sim.at("info/L3_MON/mbm_assign_mode")) == "[default]\nmbm_event\n");
    auto& hv = f.hypervisor(1);
    const auto monitors = f.start(monitorsDomain("kept", 1), hv);
    // No assignment in default mode: every monitor counts, nothing to show.
    CHECK(f.assigned(monitors[0]).empty());
    CHECK(f.assignError(monitors[0], true).starts_with("org.resctrld1.Error.NotSupported"));
}

// --- faults and crashes ----------------------------------------------------------------------

namespace {

const std::vector<std::string> kWriteErrors{"EINVAL", "EIO", "EBUSY", "ENOSPC", "ENOENT"};

// 17 monitors of priority 0 then 2 of priority 9: the kernel gives the first 15 counters on
// mkdir, so the policy must take them from the last two of priority 0 for the last two:
// two release writes and two assignment writes.
std::string rankedDomain() {
    std::string monitors;
    for (unsigned v = 0; v < kMonitorsThatFit + 2; ++v)
        monitors += "<monitor vcpus='" + std::to_string(v) + "' priority='" +
                    (v >= kMonitorsThatFit ? "9" : "0") + "'/>";
    return Domain("ranked")
        .vcpus(kMonitorsThatFit + 2)
        .memorytune("0-" + std::to_string(kMonitorsThatFit + 1), monitors)
        .inMetadata()
        .str();
}

// Who should hold counters in rankedDomain(): everyone but monitors 13 and 14.
bool rankedAsPolicyWants(CounterFixture& f, const PathList& monitors) {
    for (std::size_t i = 0; i < monitors.size(); ++i) {
        const bool wanted = i < kMonitorsThatFit - 2 || i >= kMonitorsThatFit;
        const auto assigned = f.assigned(monitors[i]);
        if (wanted ? !holdsEverywhere(assigned) : !holdsNowhere(assigned))
            return false;
        // What the monitor says is what the kernel holds.
        const auto file = f.assignments(f.group(monitors[i], kMonitor));
        if (wanted ? file.find("=_") != std::string::npos : file.find("=e") != std::string::npos)
            return false;
    }
    return true;
}

} // namespace

TEST_CASE("every failing assignment write leaves the counters as the kernel has them, and the "
          "next check puts them right",
          "[e2e][sim][counters][fault]") {
    for (const std::string& errnoName : kWriteErrors) {
        INFO("every mbm_L3_assignments write fails with " << errnoName);
        CounterFixture f(turin());
        INFO(f.log());
        f.sim.setControl("faults", "write *resctrld-*/mbm_L3_assignments 1000 " + errnoName + "\n");
        auto& hv = f.hypervisor(kMonitorsThatFit + 2);
        const auto monitors = f.start(rankedDomain(), hv);
        // The kernel's own assignment at mkdir stands, and the monitors say so.
        REQUIRE(simtest::waitUntil([&] { return f.holding(monitors) == kMonitorsThatFit; }, 20s));
        for (std::size_t i = 0; i < kMonitorsThatFit; ++i)
            CHECK(holdsEverywhere(f.assigned(monitors[i])));
        CHECK(holdsNowhere(f.assigned(monitors.back())));
        f.sim.setControl("faults", "");
        REQUIRE(simtest::waitUntil([&] { return rankedAsPolicyWants(f, monitors); }, 20s));
    }
}

TEST_CASE("a failing AssignCounters write is an error and changes nothing",
          "[e2e][sim][counters][fault]") {
    CounterFixture f(turin("CounterAssignment=manual\n"));
    INFO(f.log());
    auto& hv = f.hypervisor(1);
    const auto monitors = f.start(monitorsDomain("manual", 1), hv);
    REQUIRE(simtest::waitUntil([&] { return holdsNowhere(f.assigned(monitors[0])); }, 20s));
    const std::string group = f.group(monitors[0], kMonitor);
    const std::string before = f.assignments(group);
    const auto freeBefore = f.free();
    for (const std::string& errnoName : kWriteErrors) {
        INFO("the assignment write fails with " << errnoName);
        f.sim.setControl("faults", "write " + group + "/mbm_L3_assignments 1 " + errnoName + "\n");
        const std::string error = f.assignError(monitors[0], true);
        f.sim.setControl("faults", "");
        CHECK_THAT(error,
                   Catch::StartsWith(errnoName == "ENOSPC" ? "org.resctrld1.Error.NoSpace"
                                                           : "org.resctrld1.Error.KernelRejected"));
        CHECK(f.assignments(group) == before);
        CHECK(holdsNowhere(f.assigned(monitors[0])));
        CHECK(f.free() == freeBefore);
    }
    // Without the fault it succeeds.
    CHECK(f.assignError(monitors[0], true) == "");
    CHECK(holdsEverywhere(f.assigned(monitors[0])));
}

TEST_CASE("a daemon killed at any stall point of an assignment re-assigns on the next start",
          "[e2e][sim][counters][crash]") {
    CounterFixture f(turin());
    INFO(f.log());
    auto& hv = f.hypervisor(kMonitorsThatFit + 2);
    // The groups the policy writes: two released (13, 14), two assigned (15, 16).
    const std::vector<std::string> points{"write", "open"};
    const auto monitors = f.start(rankedDomain(), hv);
    REQUIRE(simtest::waitUntil([&] { return rankedAsPolicyWants(f, monitors); }, 20s));
    std::vector<std::string> groups;
    for (std::size_t i = kMonitorsThatFit - 2; i < monitors.size(); ++i)
        groups.push_back(f.group(monitors[i], kMonitor));
    int killed = 0;
    std::vector<std::string> notReached;
    for (const std::string& group : groups)
        for (const std::string& op : points) {
            const std::string path = group + "/mbm_L3_assignments";
            INFO(op << " " << path);
            // Undo the policy's work behind the daemon's back (the kernel's state after a
            // remount): every monitor of the domain holds counters it should not, or none.
            f.killDaemon();
            for (const std::string& g : groups)
                simtest::writeFile(f.sim.at(g + "/mbm_L3_assignments"),
                                   "mbm_total_bytes:*=_\nmbm_local_bytes:*=_\n");
            // groups[0] and [1] are monitors 13 and 14.
            for (std::size_t i = 0; i < 2; ++i)
                simtest::writeFile(f.sim.at(groups[i] + "/mbm_L3_assignments"),
                                   "mbm_total_bytes:*=e\nmbm_local_bytes:*=e\n");
            f.sim.setControl("faults", op + " " + path + " 1 stall 700\n");
            // Recovery runs before the daemon says it is ready: do not wait for that.
            f.startDaemon(false);
            const pid_t pid = f.daemon->process().pid();
            if (!simtest::waitUntil([&] { return isStalledIn(pid, op, f.sim.at(path)); }, 10s)) {
                notReached.push_back(op + " " + path);
                f.sim.setControl("faults", "");
                continue;
            }
            f.killDaemon();
            ++killed;
            f.sim.setControl("faults", "");
            f.startDaemon();
            // Recovery re-assigns: the counters end where the policy wants them.
            INFO(f.log());
            REQUIRE(f.getDomainError("ranked") == "");
            const auto recovered = f.children(f.getDomain("ranked"), "Monitors");
            CHECK(simtest::waitUntil([&] { return rankedAsPolicyWants(f, recovered); }, 20s));
        }
    INFO(listNotReached(notReached));
    // Two points (open, write) on each of the four groups the policy writes.
    CHECK(killed == 8);
    std::printf("e2e-counters: daemon killed at %d assignment stall points\n", killed);
}

TEST_CASE("AssignCounters is privileged: nobody is refused and nothing changes",
          "[e2e][sim][counters][access]") {
    CounterFixture f(turin("CounterAssignment=manual\n"));
    INFO(f.log());
    auto& hv = f.hypervisor(1);
    const auto monitors = f.start(monitorsDomain("guarded", 1), hv);
    REQUIRE(simtest::waitUntil([&] { return holdsNowhere(f.assigned(monitors[0])); }, 20s));
    const std::string group = f.group(monitors[0], kMonitor);
    const std::string before = f.assignments(group);
    const std::string monitor = monitors[0];
    const CallResult result =
        runAsUser(f.bus.address(), 65534, 65534, {}, [&](sdbus::IConnection& c) {
            sdbus::createProxy(c, kService, monitor)
                ->callMethod("AssignCounters")
                .onInterface(kMonitor)
                .withArguments(true);
        });
    CHECK_FALSE(result.ok);
    CHECK(result.errorName == "org.resctrld1.Error.AccessDenied");
    CHECK_THAT(result.errorMessage, Catch::Contains("uid 65534"));
    CHECK(f.assignments(group) == before);
    CHECK(holdsNowhere(f.assigned(monitors[0])));
}

namespace {

std::size_t occurrences(const std::string& text, const std::string& word) {
    std::size_t n = 0;
    for (auto at = text.find(word); at != std::string::npos; at = text.find(word, at + 1))
        ++n;
    return n;
}

} // namespace

TEST_CASE("failing reads of the assignment files change nothing, and the counters move on once "
          "they read again",
          "[e2e][sim][counters][fault]") {
    CounterFixture f(turin());
    INFO(f.log());
    // 14 foreign groups hold 28 counters per id: one monitor holds, the other waits.
    for (unsigned i = 0; i < kMonitorsThatFit - 1; ++i)
        f.foreignGroup("other" + std::to_string(i));
    auto& hv = f.hypervisor(2);
    const std::string definition = monitorsDomain("reads", 2);
    const std::vector<std::pair<std::string, std::string>> faults{
        {"read *resctrld-*/mbm_L3_assignments 100000 EIO\n", "assignments of"},
        {"read info/L3_MON/available_mbm_cntrs 100000 EIO\n", "counter mode or counts"},
        {"read info/L3_MON/num_mbm_cntrs 100000 EIO\n", "counter mode or counts"},
        {"read info/L3_MON/mbm_assign_mode 100000 EBUSY\n", "counter mode or counts"},
    };
    const std::string released = "mbm_total_bytes:*=_\nmbm_local_bytes:*=_\n";
    for (const auto& [fault, warning] : faults) {
        INFO(fault);
        const auto monitors = f.start(definition, hv);
        REQUIRE(simtest::waitUntil([&] { return f.holding(monitors) == 1; }, 20s));
        const Budget budget = f.free();

        f.sim.setControl("faults", fault);
        // The other tool gives back two counters per id, which the waiting monitor could take,
        // but the daemon cannot read what it needs to decide.
        const std::size_t warned = occurrences(f.log(), warning);
        simtest::writeFile(f.sim.at("mon_groups/other0/mbm_L3_assignments"), released);
        REQUIRE(simtest::waitUntil([&] { return occurrences(f.log(), warning) > warned; }, 10s));
        // Every domain stays, and what the monitors and the Manager show is what was last read,
        // which is what the kernel still has for the monitors (nothing wrote to them).
        CHECK(f.getDomainError("reads") == "");
        CHECK(holdsEverywhere(f.assigned(monitors[0])));
        CHECK(holdsNowhere(f.assigned(monitors[1])));
        CHECK(f.mode() == "mbm_event");
        CHECK(f.free().size() == budget.size());

        // Once the files read again the waiting monitor gets the counters.
        f.sim.setControl("faults", "");
        REQUIRE(simtest::waitUntil([&] { return f.holding(monitors) == 2; }, 20s));
        // The same start again: the other tool takes its counters back while none is free
        // (the domain stopped).
        f.stopDomain("reads");
        simtest::writeFile(f.sim.at("mon_groups/other0/mbm_L3_assignments"),
                           "mbm_total_bytes:*=e\nmbm_local_bytes:*=e\n");
    }
}

TEST_CASE("a counter that reads Unassigned or Unavailable shows so, and counts again after",
          "[e2e][sim][counters][fault]") {
    CounterFixture f(turin());
    INFO(f.log());
    auto& hv = f.hypervisor(1);
    const auto monitors = f.start(monitorsDomain("states", 1), hv);
    REQUIRE(simtest::waitUntil([&] { return holdsEverywhere(f.assigned(monitors[0])); }, 20s));
    auto stateOn0 = [&] {
        const auto states = f.property<StateMap>(monitors[0], kMonitor, "CounterStates");
        return states.count(0) ? states.at(0) : std::string("(none)");
    };
    REQUIRE(simtest::waitUntil([&] { return stateOn0() == "ok"; }, 10s));
    for (const std::string state : {"Unassigned", "Unavailable"}) {
        INFO(state);
        f.sim.setControl("counters", "0 mbm_total_bytes " + state + "\n");
        std::string lower = state;
        lower[0] = static_cast<char>(std::tolower(lower[0]));
        REQUIRE(simtest::waitUntil([&] { return stateOn0() == lower; }, 10s));
        // No value for a counter that does not count, never 0; the domain and the assignment
        // stay as the kernel has them.
        CHECK_FALSE(f.counters(monitors[0], "MemoryBytesTotal").count(0));
        CHECK(f.getDomainError("states") == "");
        CHECK(holdsEverywhere(f.assigned(monitors[0])));
        f.sim.setControl("counters", "");
        REQUIRE(simtest::waitUntil([&] { return stateOn0() == "ok"; }, 10s));
    }
}

TEST_CASE("another tool that moves a monitor's counters to its own group moves no budget, and is "
          "noticed by the monitor's next sample",
          "[e2e][sim][counters]") {
    CounterFixture f(turin());
    INFO(f.log());
    // A foreign group without counters, then monitors that take every counter left.
    f.foreignGroup("other0");
    const std::string released = "mbm_total_bytes:*=_\nmbm_local_bytes:*=_\n";
    const std::string assigned = "mbm_total_bytes:*=e\nmbm_local_bytes:*=e\n";
    simtest::writeFile(f.sim.at("mon_groups/other0/mbm_L3_assignments"), released);
    auto& hv = f.hypervisor(kMonitorsThatFit);
    const auto monitors = f.start(monitorsDomain("moved", kMonitorsThatFit), hv);
    REQUIRE(simtest::waitUntil([&] { return f.holding(monitors) == kMonitorsThatFit; }, 20s));
    // The other tool takes the first monitor's counters for its own group: no count moves.
    simtest::writeFile(f.sim.at(f.group(monitors[0], kMonitor) + "/mbm_L3_assignments"), released);
    simtest::writeFile(f.sim.at("mon_groups/other0/mbm_L3_assignments"), assigned);
    // The first started outranks the last: it takes the last one's counters; the other tool's
    // stay its own.
    REQUIRE(simtest::waitUntil(
        [&] {
            return holdsEverywhere(f.assigned(monitors[0])) &&
                   holdsNowhere(f.assigned(monitors.back()));
        },
        20s));
    CHECK_THAT(f.assignments("mon_groups/other0"), !Catch::Contains("=_"));
    CHECK(f.holding(monitors) == kMonitorsThatFit - 1);
}
