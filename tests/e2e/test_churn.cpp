// SPDX-License-Identifier: LGPL-2.1-or-later
// Churn and soak: the real daemon on resctrlfs-sim while, at the same time,
// several clients start and stop domains of their own fake hypervisors (and sometimes kill the
// hypervisor instead, leaving the cleanup to the daemon), others read every property and stats
// of whatever exists, and a foreign tool creates, configures and removes its own groups directly
// on the mount. Afterwards: the daemon is alive and answers, every domain a client believes
// started is listed and complete and nothing else is, no group leaked, the budgets are back, and
// the daemon's fd count and RSS did not grow over the run.
//
// The run lasts 20 s after a 5 s warm-up (about 32 s with the checks), or RESCTRLD_SOAK_SECONDS
// when set (meson -Dlong_tests=true sets 600); the fd-limit case below adds about 10 s.

#include "churn_actors.h"

using namespace resctrld::e2e;
using namespace resctrld::e2e::churn;

namespace {

// The fixture (daemon_fixture.h) on kProfile. Sampling every 0.5 s: the ticks (sampling every
// monitor, checking every hypervisor) run between the calls of the churn. LogLevel=info: one line
// per start and stop (with RESCTRLD_E2E_LOG_DIR the fixture keeps the whole log; INFO shows only
// its end).
struct Fixture : DaemonFixture {
    Fixture()
        : DaemonFixture({.profile = kProfile,
                         .config = "[Daemon]\nMount=no\nSampleIntervalSec=0.5\nLogLevel=info\n"}) {}

    // resctrld's groups: top-level resctrld-* directories, their monitor groups, and monitor
    // groups of the root named resctrld-*.
    std::set<std::string> prefixedGroups() const {
        std::set<std::string> names;
        for (const std::string& group : sim.groups())
            if (group.starts_with("resctrld-") || group.starts_with("mon_groups/resctrld-"))
                names.insert(group);
        return names;
    }

    std::size_t stateFiles() const {
        std::size_t n = 0;
        for (const auto& entry : fs::directory_iterator(daemon->stateDir()))
            n += entry.path().extension() == ".domain" ? 1 : 0;
        return n;
    }

    // The end of the daemon's log (the evidence of a failure; the whole of a soak is megabytes).
    std::string log() {
        const std::string text = daemon->process().stderrText();
        return text.size() > 20000 ? "..." + text.substr(text.size() - 20000) : text;
    }
};

std::set<std::string> namesOf(const std::vector<Listed>& list) {
    std::set<std::string> names;
    for (const auto& entry : list)
        names.insert(entry.name);
    return names;
}

std::string join(const std::set<std::string>& names) {
    std::string text;
    for (const auto& name : names)
        text += (text.empty() ? "" : " ") + name;
    return text;
}

// The complete state of one listed domain, checked against the simulator's tree: every group
// its objects name exists and holds exactly the threads of its vCPUs, every allocation's masks
// are in its group's schemata. Returns its groups.
std::set<std::string> checkDomain(Client& client, const Fixture& f, const OwnDomain& own,
                                  std::map<unsigned, std::vector<unsigned long>>& masksByCache) {
    INFO("domain " << own.name);
    std::set<std::string> groups;
    CHECK(client.get<std::string>(own.path, kDomain, "State") == "active");
    std::map<std::uint32_t, std::uint32_t> threads;
    for (const auto& t : client.get<Threads>(own.path, kDomain, "VcpuThreads"))
        threads.emplace(t.get<0>(), t.get<1>());
    std::map<std::uint32_t, std::uint32_t> expected;
    for (const auto& [vcpu, tid] : own.vm->vcpus())
        expected.emplace(vcpu, static_cast<std::uint32_t>(tid));
    CHECK(threads == expected);
    auto tidsOf = [&](const std::vector<std::uint32_t>& vcpus) {
        TidSet tids;
        for (std::uint32_t vcpu : vcpus)
            if (auto it = threads.find(vcpu); it != threads.end())
                tids.insert(static_cast<pid_t>(it->second));
        return tids;
    };
    auto checkGroup = [&](const std::string& group, const std::vector<std::uint32_t>& vcpus) {
        INFO("group " << group);
        groups.insert(group);
        REQUIRE(simtest::pathExists(f.sim.at(group)));
        CHECK(simtest::readTasks(f.sim.at(group) / "tasks") == tidsOf(vcpus));
    };
    for (const auto& a : client.get<PathList>(own.path, kDomain, "Allocations")) {
        const auto group = client.get<std::string>(a, kAllocation, "Group");
        checkGroup(group, client.get<std::vector<std::uint32_t>>(a, kAllocation, "Vcpus"));
        const std::string schemata = simtest::readFile(f.sim.at(group) / "schemata");
        for (const auto& c : client.get<Caches>(a, kAllocation, "Caches")) {
            const unsigned long mask = std::stoul(c.get<4>(), nullptr, 16);
            CHECK(l3Mask(schemata, c.get<1>()) == mask);
            masksByCache[c.get<1>()].push_back(mask);
        }
    }
    for (const auto& m : client.get<PathList>(own.path, kDomain, "Monitors"))
        checkGroup(client.get<std::string>(m, kMonitor, "Group"),
                   client.get<std::vector<std::uint32_t>>(m, kMonitor, "Vcpus"));
    return groups;
}

struct Budget {
    std::uint32_t closidsFree = 0;
    std::uint32_t rmidsFree = 0;
    bool operator==(const Budget&) const = default;
};

Budget budgetOf(Client& client) {
    return {client.get<std::uint32_t>(kRootPath, kManager, "ClosidsFree"),
            client.get<std::uint32_t>(kRootPath, kManager, "RmidsFree")};
}

std::ostream& operator<<(std::ostream& out, const Budget& budget) {
    return out << "ClosidsFree " << budget.closidsFree << ", RmidsFree " << budget.rmidsFree;
}

// One phase: every client and the foreign writer at once for `duration` (less if anything
// unexpected happens), then the checks of a stopped run, then everything stopped and the
// checks of an empty host.
struct PhaseResult {
    std::vector<Footprint> samples;  // the daemon's, once a second during the churn
    std::vector<long> cleanupLagsMs; // hypervisor reaped -> DomainStopped, for each one killed
};

PhaseResult runPhase(const char* label, std::chrono::seconds duration, Fixture& f,
                     std::vector<Starter>& starters, ForeignWriter& foreign, Counters& counters,
                     const StopWatcher& watcher, const Budget& budgetAtStart,
                     const std::string& rootSchemataAtStart) {
    INFO("phase " << label);
    PhaseResult result;
    auto& samples = result.samples;
    Failures failures;
    std::atomic<bool> stop{false};
    {
        std::vector<std::jthread> threads;
        for (auto& each : starters)
            threads.emplace_back([&, starter = &each] {
                try {
                    starter->run(f.bus.address(), stop, failures, counters);
                } catch (const std::exception& e) {
                    failures.add("starter " + std::to_string(starter->index) + ": " + e.what());
                }
            });
        for (unsigned i = 0; i < kReaders; ++i)
            threads.emplace_back([&, i] {
                try {
                    readerLoop(i, f.bus.address(), stop, failures, counters);
                } catch (const std::exception& e) {
                    failures.add("reader " + std::to_string(i) + ": " + e.what());
                }
            });
        threads.emplace_back([&] { foreign.run(stop, failures, counters); });
        // Once a second, until the end or the first failure: the daemon's footprint under load.
        const auto end = Clock::now() + duration;
        while (Clock::now() < end && !failures.any()) {
            failures.waitUntil(std::min(end, Clock::now() + 1s));
            samples.push_back(footprintOf(f.daemon->process().pid()));
        }
        stop = true;
    }
    const auto failed = failures.list();
    INFO(f.log());
    for (const auto& failure : failed)
        FAIL_CHECK(failure);
    REQUIRE(failed.empty());

    // Alive, and answering within a deadline: no deadlock.
    REQUIRE(f.daemon->process().running());
    Client client(f.bus.address());
    const auto asked = Clock::now();
    REQUIRE_NOTHROW(client.listDomains(5s));
    const auto answeredMs =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - asked).count();
    WARN(label << ": ListDomains answered in " << answeredMs << " ms after the churn");

    // What the starters believe is what the daemon lists, once the killed ones are cleaned up.
    std::map<std::string, const OwnDomain*> believed;
    std::set<std::string> killed;
    for (const auto& starter : starters) {
        for (const auto& own : starter.live)
            believed.emplace(own.name, &own);
        for (const auto& [name, at] : starter.killed)
            killed.insert(name);
    }
    std::set<std::string> believedNames;
    for (const auto& [name, own] : believed)
        believedNames.insert(name);
    std::vector<Listed> listed;
    const auto settling = Clock::now();
    // Polls: the list converges as the daemon finishes the cleanups the churn left it, and no
    // one signal says that the last of them is done.
    const bool settled = simtest::waitUntil(
        [&] {
            listed = client.listDomains();
            return namesOf(listed) == believedNames;
        },
        15s);
    WARN(label
         << ": " << believedNames.size() << " domains live, the last of " << killed.size()
         << " killed ones gone "
         << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - settling).count()
         << " ms after the churn");
    INFO("killed, left to the daemon: " << join(killed));
    CHECK(settled);
    CHECK(namesOf(listed) == believedNames);
    for (const auto& entry : listed)
        if (auto it = believed.find(entry.name); it != believed.end())
            CHECK(entry.path == it->second->path);

    // Each killed one was announced with DomainStopped; how long after its hypervisor was reaped.
    CHECK(watcher.waitForAll(killed, 5s));
    for (const auto& starter : starters)
        for (const auto& [name, at] : starter.killed)
            if (const auto stoppedAt = watcher.stoppedAt(name))
                result.cleanupLagsMs.push_back(std::max<long>(
                    0, std::chrono::duration_cast<std::chrono::milliseconds>(*stoppedAt - at)
                           .count()));

    // Every resctrld group belongs to a listed domain, each listed domain's groups are complete,
    // and the allocations hold disjoint ways the default group gave up.
    std::set<std::string> ownedGroups;
    std::map<unsigned, std::vector<unsigned long>> masksByCache;
    for (const auto& [name, own] : believed)
        if (namesOf(listed).count(name))
            ownedGroups.merge(checkDomain(client, f, *own, masksByCache));
    CHECK(f.prefixedGroups() == ownedGroups);
    const std::string rootSchemata = simtest::readFile(f.sim.at("schemata"));
    for (const auto& [id, masks] : masksByCache) {
        INFO("cache " << id);
        unsigned long seen = 0;
        for (unsigned long mask : masks) {
            CHECK((seen & mask) == 0);
            seen |= mask;
        }
        CHECK((l3Mask(rootSchemata, id).value_or(0) & seen) == 0);
    }
    CHECK(f.stateFiles() == listed.size());

    // The foreign tool's groups are untouched: still there, with the masks it wrote.
    for (const auto& [group, line] : foreign.groups) {
        INFO("foreign group " << group);
        REQUIRE(simtest::pathExists(f.sim.at(group)));
        if (line.empty())
            continue;
        const unsigned id = static_cast<unsigned>(line[3] - '0');
        CHECK(l3Mask(simtest::readFile(f.sim.at(group) / "schemata"), id) ==
              std::stoul(line.substr(5), nullptr, 16));
    }

    // Everything stopped: nothing of resctrld left, the budgets and the default group as before.
    for (auto& starter : starters) {
        for (auto& own : starter.live) {
            INFO("StopDomain " << own.name);
            CHECK_NOTHROW(client.stopDomain(own.name));
        }
        starter.live.clear();
        starter.killed.clear();
    }
    CHECK(client.listDomains().empty());
    CHECK(f.prefixedGroups().empty());
    CHECK(f.stateFiles() == 0);
    for (const auto& [group, line] : foreign.groups)
        CHECK(simtest::removeDir(f.sim.at(group)) == 0);
    foreign.groups.clear();
    CHECK(budgetOf(client) == budgetAtStart);
    CHECK(simtest::readFile(f.sim.at("schemata")) == rootSchemataAtStart);
    return result;
}

// "median / 95th percentile / largest" of a list of milliseconds.
std::string spread(std::vector<long> values) {
    if (values.empty())
        return "none";
    std::sort(values.begin(), values.end());
    return std::to_string(values[values.size() / 2]) + " / " +
           std::to_string(values[values.size() * 95 / 100]) + " / " +
           std::to_string(values.back()) + " ms";
}

} // namespace

TEST_CASE("churn: concurrent starts, stops, kills, reads and a foreign writer leave no trace",
          "[e2e][sim][churn]") {
    const auto duration = runDuration();
    const auto warmUp = warmUpDuration(duration);
    Fixture f;
    Client client(f.bus.address());
    const Budget budgetAtStart = budgetOf(client);
    const std::string rootSchemataAtStart = simtest::readFile(f.sim.at("schemata"));
    INFO("at start: " << budgetAtStart);
    REQUIRE(budgetAtStart.closidsFree == 15);

    std::vector<Starter> starters(kStarters);
    for (unsigned i = 0; i < kStarters; ++i) {
        starters[i].index = i;
        starters[i].dir = f.dir.path() / ("starter-" + std::to_string(i));
        fs::create_directories(starters[i].dir);
    }
    ForeignWriter foreign;
    foreign.root = f.sim.root();
    Counters warmUpCounters;
    Counters counters;
    const pid_t daemonPid = f.daemon->process().pid();

    const StopWatcher watcher(f.bus.address());

    const Footprint atStart = footprintOf(daemonPid);
    const auto warmUpResult = runPhase("warm-up", warmUp, f, starters, foreign, warmUpCounters,
                                       watcher, budgetAtStart, rootSchemataAtStart);
    const Footprint before = footprintOf(daemonPid);

    const auto result = runPhase("run", duration, f, starters, foreign, counters, watcher,
                                 budgetAtStart, rootSchemataAtStart);
    const auto& samples = result.samples;
    const Footprint after = footprintOf(daemonPid);

    // RMID limbo (tests/sim/README.md): RmidsFree counts groups, the kernel also waits for the
    // freed RMIDs' occupancy to drop. Every RMID the daemon calls free must become usable.
    unsigned made = 0;
    const auto limboFrom = Clock::now();
    // Polls: the limbo drains as the simulator's model lets occupancy decay, which no file
    // event announces.
    const bool drained = simtest::waitUntil(
        [&] {
            while (made < budgetAtStart.rmidsFree &&
                   simtest::makeDir(f.sim.at("mon_groups/limbo-probe-" + std::to_string(made))) ==
                       0)
                ++made;
            return made == budgetAtStart.rmidsFree;
        },
        15s);
    const auto limboMs =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - limboFrom).count();
    for (unsigned i = 0; i < made; ++i)
        CHECK(simtest::removeDir(f.sim.at("mon_groups/limbo-probe-" + std::to_string(i))) == 0);
    INFO("RMIDs usable again: " << made << " of " << budgetAtStart.rmidsFree);
    CHECK(drained);

    // Under load: the most fds and RSS, and the largest RSS before and in the final quarter.
    std::size_t mostFds = 0;
    long mostRss = 0, earlyRss = 0, lateRss = 0;
    for (std::size_t i = 0; i < samples.size(); ++i) {
        mostFds = std::max(mostFds, samples[i].fds);
        mostRss = std::max(mostRss, samples[i].rssKiB);
        long& part = i < samples.size() * 3 / 4 ? earlyRss : lateRss;
        part = std::max(part, samples[i].rssKiB);
    }

    std::ostringstream report;
    report << "churn for " << duration.count() << " s (after a " << warmUp.count()
           << " s warm-up): " << counters.describe() << "; warm-up: " << warmUpCounters.describe()
           << "; daemon with no domain after warm-up -> after the run: fds " << before.fds << " -> "
           << after.fds << ", VmRSS " << before.rssKiB << " -> " << after.rssKiB
           << " KiB (at start " << atStart.rssKiB << " KiB, tolerance " << kRssToleranceKiB
           << " KiB); under load: up to " << mostFds << " fds, VmRSS up to " << mostRss
           << " KiB (largest in the first 3/4 " << earlyRss << ", in the last 1/4 " << lateRss
           << "); a killed hypervisor's domain stopped after (median / 95% / max) "
           << spread(result.cleanupLagsMs) << " (warm-up " << spread(warmUpResult.cleanupLagsMs)
           << "); daemon CPU " << after.cpuSeconds - before.cpuSeconds
           << " s in the run; all RMIDs usable " << limboMs << " ms after the last stop";
    std::cout << report.str() << std::endl;
    WARN(report.str());

    CHECK(f.daemon->process().running());
    CHECK(after.fds <= before.fds);
    if (RESCTRLD_SANITIZED) {
        // ASan keeps freed memory in its quarantine (up to 256 MiB): RSS only grows. Leaks are
        // LeakSanitizer's job in that build; the bench measures RSS on a plain build.
        WARN("RSS not compared: the daemon is built with sanitizers");
    } else {
        CHECK(after.rssKiB <= before.rssKiB + kRssToleranceKiB);
        if (duration >= kPlateauCheckFrom)
            CHECK(lateRss <= earlyRss + kPlateauToleranceKiB);
    }
    CHECK(counters.starts + counters.startsForProcess > 0);
    CHECK(counters.kills > 0);
    CHECK(counters.reads > 0);
    CHECK(counters.foreignOps > 0);
    // "A hypervisor's exit is seen at once through its pidfd": within 2 s even under the churn
    // (the event loop handles at most a batch of bus messages before it looks at its other fds;
    // when it drained the bus first, exits were handled up to 18 s late).
    const auto& lags = result.cleanupLagsMs;
    const long slowestCleanup = lags.empty() ? 0 : *std::max_element(lags.begin(), lags.end());
    INFO("slowest cleanup after a hypervisor's exit: " << slowestCleanup << " ms");
    CHECK(slowestCleanup <= 2000);
}

// Found by the churn: the daemon holds an fd per counter file of every monitor (a cache
// monitor: one per L3 domain, 16 on milan-2s; up to 1688 fds under the churn's load), while
// systemd starts services with a soft RLIMIT_NOFILE of 1024 (DefaultLimitNOFILE=1024:524288).
// Past the limit the daemon took live hypervisors for dead and dropped their domains. It now
// raises its soft limit to the hard one at start-up, and never takes EMFILE for an exited
// process. The daemon starts here with systemd's soft limit of 1024, as under resctrld.service.
TEST_CASE("under systemd's default fd limit the daemon serves 30 monitored domains",
          "[e2e][sim][churn]") {
    constexpr unsigned kDomains = 30; // 60 monitors: 2880 counter files on milan-2s
    // Children inherit the limits: the daemon starts with systemd's default soft limit.
    rlimit ours{};
    REQUIRE(getrlimit(RLIMIT_NOFILE, &ours) == 0);
    REQUIRE(ours.rlim_max > 4096); // a hard limit with room, as systemd's 524288
    rlimit systemdDefault = ours;
    systemdDefault.rlim_cur = 1024;
    REQUIRE(setrlimit(RLIMIT_NOFILE, &systemdDefault) == 0);
    std::optional<Fixture> fixture;
    try {
        fixture.emplace();
    } catch (...) {
        setrlimit(RLIMIT_NOFILE, &ours);
        throw;
    }
    REQUIRE(setrlimit(RLIMIT_NOFILE, &ours) == 0);
    Fixture& f = *fixture;
    const pid_t daemonPid = f.daemon->process().pid();
    rlimit limit{};
    REQUIRE(prlimit(daemonPid, RLIMIT_NOFILE, nullptr, &limit) == 0);
    CHECK(limit.rlim_cur == limit.rlim_max); // raised at start-up

    Client client(f.bus.address());
    std::vector<std::unique_ptr<FakeVm>> vms;
    std::vector<std::string> monitors;
    unsigned started = 0;
    for (unsigned i = 0; i < kDomains; ++i) {
        const std::string name = "nofile-" + std::to_string(i);
        INFO(name);
        vms.push_back(spawnVm(f.dir.path(), 2));
        try {
            const auto path = client.startDomain(
                Domain(name).vcpus(2).cachetune("0-1", monitor("0") + monitor("1")),
                vms.back()->threads());
            ++started;
            const auto own = client.get<PathList>(path, kDomain, "Monitors");
            monitors.insert(monitors.end(), own.begin(), own.end());
            // A sampling tick has read them (and opened their counter files); a monitor that
            // vanished ends the wait (counted below). Polls: SampledAt emits no PropertiesChanged.
            CHECK(simtest::waitUntil(
                [&] {
                    return std::all_of(own.begin(), own.end(), [&](const std::string& m) {
                        try {
                            return client.get<std::uint64_t>(m, kMonitor, "SampledAt") != 0;
                        } catch (const sdbus::Error&) {
                            return true;
                        }
                    });
                },
                5s));
        } catch (const sdbus::Error& e) {
            FAIL_CHECK("StartDomain " << name << ": " << describe(e));
        }
    }
    CHECK(started == kDomains);
    // Every counter of every monitor reads on every L3 domain (no footprint or traffic: 0, ok).
    using Counts = std::map<std::uint32_t, std::uint64_t>;
    unsigned complete = 0;
    for (const auto& m : monitors) {
        INFO(m);
        try {
            const auto occupancy = client.get<Counts>(m, kMonitor, "CacheOccupancy");
            const auto states =
                client.get<std::map<std::uint32_t, std::string>>(m, kMonitor, "CounterStates");
            // Cache monitors read llc_occupancy only (MBM is memorytune's monitors').
            const bool allOk = occupancy.size() == 16 && states.size() == 16 &&
                               std::all_of(states.begin(), states.end(),
                                           [](const auto& entry) { return entry.second == "ok"; });
            complete += allOk ? 1 : 0;
            if (!allOk)
                FAIL_CHECK("counters read: occupancy " << occupancy.size() << ", states "
                                                       << states.size());
        } catch (const sdbus::Error& e) {
            FAIL_CHECK(describe(e));
        }
    }
    // Every hypervisor lives: every domain is still there.
    const std::size_t listedAlive = client.listDomains().size();
    CHECK(listedAlive == kDomains);
    const Footprint loaded = footprintOf(daemonPid);
    CHECK(complete == monitors.size());

    // Every hypervisor dies: the daemon removes every group on its own.
    for (auto& vm : vms)
        vm->kill();
    // Polls: each cleanup ends with DomainStopped, but a domain that failed to start half-way
    // sends none; the empty list is the one sign for all of them.
    const bool cleaned = simtest::waitUntil([&] { return client.listDomains().empty(); }, 15s);
    std::ostringstream report;
    report << "fd limit 1024: " << started << " of " << kDomains << " domains started, " << complete
           << " of " << monitors.size() << " monitors read every counter, daemon at " << loaded.fds
           << " fds, " << listedAlive << " domains listed while their hypervisors live"
           << "; after the hypervisors died: " << client.listDomains().size() << " domains and "
           << f.prefixedGroups().size() << " resctrld groups left";
    std::cout << report.str() << std::endl;
    WARN(report.str());
    INFO(f.log());
    CHECK(cleaned);
    CHECK(f.prefixedGroups().empty());
    CHECK(f.daemon->process().running());
}
