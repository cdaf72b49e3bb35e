// SPDX-License-Identifier: LGPL-2.1-or-later
// resctrld's benchmarks: every figure is a ratio against a floor measured in
// the same run on the same resctrlfs-sim mount, so it holds on a noisy shared machine.
//
//   resctrld-bench [--json FILE] [--runs N] [--quick]
//                  [--only startstop|sampling|sampling-snc|counters|idle|reads|lock|memory|
//                          validate|layout|cli]
//                  [--monitors N,N,..]
//                  [--soak SECONDS] [--strace DIR] [--daemon-env NAME=VALUE]
//
// --monitors: the monitor counts of the sampling benchmark (default 16,64,256). 1024 works but
// takes many minutes: resctrlfs-sim's cost per counter read grows with the threads it tracks.
// --l3: its hosts' L3 domain counts (default 2,8).
// --strace DIR also writes strace -c summaries and one -T trace of each daemon measurement to
// DIR (after the measurement: the figures stay unprofiled).
// --daemon-config KEY=VALUE (repeatable) adds a line to the daemon's [Daemon] section, e.g.
// ThreadEvents=no for the check's polling fallback.
// --daemon-env NAME=VALUE (repeatable) sets a variable in the daemon's environment, e.g.
// heaptrack's LD_PRELOAD and DUMP_HEAPTRACK_OUTPUT for a heap profile, or MALLOC_ARENA_MAX.
//
// 1. start/stop: StartDomain + StopDomain over D-Bus (call to reply) against bench-floor-startstop
//    doing the same mkdir / schemata / tasks / rmdir syscalls directly, medians of N runs.
// 2. sampling: the daemon's CPU time per tick (all its threads' schedstat run time, cross-checked
//    with utime+stime of /proc/<pid>/stat) with 16..1024 monitors over 2 and 8 L3 domains, against
//    bench-floor-sample preading the same counter files on held descriptors and sending one
//    signal of Sampled's type and size per loop on the same bus (what a tick must do by the API,
//    with nothing of resctrld's around it; the target, <= 1.3, is against this floor), and
//    against the same floor without the signal (the reads alone): windows of 10 ticks
//    (5 with --quick), each floor running beside the daemon half a period after its ticks, five
//    rounds of both (three with --quick), medians of the windows' ratios, after a whole check
//    period of warm-up; the slope per monitor x domain; the daemon's wake-ups over 10 s with no
//    domain.
//    sampling-snc: the same on gnr-2s-snc3 (Sub-NUMA Clustering), the floor preading the L3
//    sums and every mon_sub_L3_*.
// 3. reads per tick: strace -y of the daemon over a few ticks, every counter file read exactly
//    once per tick and never reopened.
// 4. D-Bus reads: GetStats and Get(CacheOccupancy) calls per second from 1 and 8 clients against
//    Trivial() of bench-floor-dbus, an sdbus-c++ service on the same bus, and GetStats against
//    Payload() of the same service, answering the same a{sv} from memory.
// 5. memory: peak RSS with 256 monitors, and RSS and fd growth over a soak (--soak, default
//    600 s, 20 s with --quick) of start/GetStats/stop cycles.
// 6. validate: ValidateDomain with hostile 1 MiB definitions against libxml2 alone parsing the
//    same bytes (bench_validate.cpp).
// 7. layout: GetLayout with every CLOSID of milan-2s in use against one bus round trip plus the
//    same reads made directly (bench_layout.cpp).
// 8. cli: resctrlctl list --json and show NAME --json as whole processes with a domain on every
//    CLOSID of milan-2s, against a minimal sd-bus program making the same calls (bench_cli.cpp).
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <poll.h>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <tuple>
#include <unistd.h>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "../tests/e2e/dbus_names.h"
#include "../tests/e2e/harness.h"
#include "../tests/e2e/syscall_trace.h"
#include "../tests/sim/conformance/sim_instance.h"
#include "bench_cli.h"
#include "bench_layout.h"
#include "bench_util.h"
#include "bench_validate.h"
#include "end_on_signal.h"

namespace fs = std::filesystem;
using resctrld::bench::fixed;
using resctrld::bench::medianOf;
using resctrld::e2e::Daemon;
using resctrld::e2e::FakeHypervisor;
using resctrld::e2e::kManager;
using resctrld::e2e::kRootPath;
using resctrld::e2e::kService;
using resctrld::e2e::PrivateBus;
using resctrld::e2e::Process;
using resctrld::e2e::Strace;
using resctrld::simtest::SimInstance;
using resctrld::simtest::SimOptions;
using Clock = std::chrono::steady_clock;

namespace {

using ThreadList = std::vector<sdbus::Struct<uint32_t, uint32_t>>;
using Planned = std::vector<sdbus::Struct<std::string, std::string>>;
using Occupancy = std::map<sdbus::ObjectPath, std::map<uint32_t, uint64_t>>;

std::int64_t nowNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
}

std::string slurp(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// Runs argv to completion and returns its stdout; throws on a non-zero exit.
std::string runProgram(const std::vector<std::string>& argv) {
    int fds[2];
    if (pipe(fds) != 0)
        throw std::runtime_error("pipe failed");
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    close(fds[1]);
    std::string out;
    char buffer[4096];
    for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;)
        out.append(buffer, static_cast<std::size_t>(n));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error(argv[0] + " failed (status " + std::to_string(status) + ")");
    return out;
}

// --- the daemon's CPU time -------------------------------------------------------------------

// Run time of all the process's threads in ns (schedstat: exact, unlike the 10 ms clock ticks
// of /proc/<pid>/stat).
std::int64_t schedstatNs(pid_t pid) {
    std::int64_t total = 0;
    std::error_code ec;
    for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        std::ifstream in(task.path() / "schedstat");
        std::int64_t run = 0;
        if (in >> run)
            total += run;
    }
    return total;
}

// utime + stime of /proc/<pid>/stat in ns.
std::int64_t statCpuNs(pid_t pid) {
    const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::vector<std::string> fields;
    for (std::string f; rest >> f;)
        fields.push_back(f);
    // fields[0] is field 3 (state); utime is field 14, stime 15.
    const long long ticks = std::stoll(fields.at(11)) + std::stoll(fields.at(12));
    return ticks * (1'000'000'000 / sysconf(_SC_CLK_TCK));
}

// Voluntary + involuntary context switches of all the process's threads.
long long contextSwitches(pid_t pid) {
    long long total = 0;
    std::error_code ec;
    for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        std::istringstream status(slurp(task.path() / "status"));
        for (std::string line; std::getline(status, line);)
            if (line.starts_with("voluntary_ctxt_switches:") ||
                line.starts_with("nonvoluntary_ctxt_switches:"))
                total += std::stoll(line.substr(line.find(':') + 1));
    }
    return total;
}

// --- the environment: simulator, bus, daemon -------------------------------------------------

struct Bench {
    fs::path dir;
    std::string floorStartStop;
    std::string floorSample;
    std::string fakeHypervisor;
    int runs = 30;
    int warmup = 3;
    bool quick = false;
    std::string only; // --only startstop|sampling|idle|reads|lock|memory|validate|layout|cli
    std::string floorDbus;
    int soakSeconds = 600; // --soak SECONDS: the memory benchmark's soak (--quick: 20)
    std::vector<unsigned> monitorCounts{16, 64, 256}; // --monitors 16,64,256,1024
    std::vector<unsigned> l3Counts{2, 8};             // --l3 2,8: the sampling shapes' L3s
    fs::path straceDir; // --strace DIR: also profile each daemon measurement with strace -c
    std::map<std::string, std::string> daemonEnv; // --daemon-env NAME=VALUE (e.g. a profiler)
    std::string daemonConfig; // --daemon-config KEY=VALUE lines, added to every [Daemon] section
    std::ostringstream json;
    bool firstJson = true;
    std::vector<std::string> table;

    void record(const std::string& object) {
        json << (firstJson ? "\n    " : ",\n    ") << object;
        firstJson = false;
    }
};

// A host profile with plenty of RMIDs (the kernel keeps a freed RMID busy while its cache lines
// still count against it, for a second or more; the sampling benchmark needs > 1024 monitor
// groups).
fs::path writeProfile(const fs::path& dir, unsigned l3Domains) {
    const fs::path path = dir / ("bench-" + std::to_string(l3Domains) + "l3.ini");
    const unsigned cores = 40;
    std::ofstream out(path);
    out << "[host]\nname = bench-" << l3Domains << "l3\ncpus = " << cores * 2
        << "\nthreads_per_core = 2\ncores_per_l3 = " << cores / l3Domains << "\nl3_ids = 0-"
        << l3Domains - 1
        << "\nl1d_kb = 32\nl1i_kb = 32\nl2_kb = 1024\nl3_kb = 28160\n"
           "[L3]\nnum_closids = 16\ncbm_mask = 7ff\nmin_cbm_bits = 1\nshareable_bits = 600\n"
           "cdp = false\nsparse_masks = false\n"
           "[MB]\nnum_closids = 8\nmin_bandwidth = 10\nbandwidth_gran = 10\ndelay_linear = true\n"
           "max_bandwidth = 100\nthread_throttle_mode = max\ndata_width = 3\n"
           "[L3_MON]\nnum_rmids = 4096\nllc_occupancy = true\nmbm_total_bytes = true\n"
           "mbm_local_bytes = true\noccupancy_scale = 64\n";
    return path;
}

struct Env {
    SimInstance sim;
    PrivateBus bus;
    std::optional<Daemon> daemon;
    std::unique_ptr<sdbus::IConnection> connection;
    std::unique_ptr<sdbus::IProxy> manager;

    Env(const fs::path& dir, const fs::path& profile, const std::string& configText,
        const std::map<std::string, std::string>& daemonEnv, const std::string& extraConfig = "")
        : sim(SimOptions{profile.string(), "6.1", "", true})
        , bus(dir) {
        Daemon::Options options;
        options.configText = configText + extraConfig;
        options.process.env = daemonEnv;
        options.resctrlRoot = sim.root();
        options.extraArgs = {"--sysfs-root", sim.sysfsDir().string()};
        daemon.emplace(bus, dir, options);
        connection = sdbus::createSessionBusConnectionWithAddress(bus.address());
        manager = sdbus::createProxy(*connection, kService, kRootPath);
    }
    pid_t pid() { return daemon->process().pid(); }

    sdbus::ObjectPath start(const std::string& xml, const ThreadList& threads) {
        return resctrld::e2e::startDomain(*manager, xml, threads, std::chrono::seconds(120));
    }
    void stop(const std::string& name) {
        resctrld::e2e::stopDomain(*manager, name, std::chrono::seconds(120));
    }
    Planned validate(const std::string& xml) {
        Planned planned;
        manager->callMethod("ValidateDomain")
            .onInterface(kManager)
            .withArguments(xml)
            .storeResultsTo(planned);
        return planned;
    }
};

std::string range(unsigned first, unsigned last) {
    return first == last ? std::to_string(first)
                         : std::to_string(first) + "-" + std::to_string(last);
}

// A domain of `vcpus` vCPUs: `cachetunes` equal cachetunes, each with one way (2560 KiB) of
// L3 cache 0 when `allocate`, and `monitorsPer` equal monitors (none the default monitor, so
// each makes a group).
struct Shape {
    unsigned vcpus, cachetunes, monitorsPer;
    bool allocate;
};

std::string domainXml(const std::string& name, const Shape& s) {
    std::ostringstream x;
    x << "<domain type='kvm'><name>" << name
      << "</name><uuid>6f1ac1c9-3b3c-4a57-9d35-0a4b3c1d2e5f</uuid>"
      << "<memory unit='GiB'>4</memory><vcpu placement='static'>" << s.vcpus << "</vcpu><cputune>";
    const unsigned per = s.vcpus / s.cachetunes;
    for (unsigned c = 0; c < s.cachetunes; ++c) {
        x << "<cachetune vcpus='" << range(c * per, c * per + per - 1) << "'>";
        if (s.allocate)
            x << "<cache id='0' level='3' type='both' size='2560' unit='KiB'/>";
        const unsigned mper = per / s.monitorsPer;
        for (unsigned m = 0; m < s.monitorsPer; ++m)
            x << "<monitor level='3' vcpus='"
              << range(c * per + m * mper, c * per + m * mper + mper - 1) << "'/>";
        x << "</cachetune>";
    }
    x << "</cputune><os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os></domain>";
    return x.str();
}

ThreadList threadsOf(const FakeHypervisor& vm, unsigned count) {
    ThreadList threads;
    for (unsigned v = 0; v < count; ++v)
        threads.emplace_back(v, static_cast<uint32_t>(vm.tid(v)));
    return threads;
}

// "L3:0=7ff;1=7ff" lines of a schemata file: resource -> id -> value (hex or decimal).
std::map<std::string, std::map<unsigned, unsigned long>> parseSchemata(const std::string& text) {
    std::map<std::string, std::map<unsigned, unsigned long>> result;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        line.erase(0, line.find_first_not_of(' '));
        const auto colon = line.find(':');
        if (colon == std::string::npos)
            continue;
        const std::string resource = line.substr(0, colon);
        std::istringstream items(line.substr(colon + 1));
        for (std::string item; std::getline(items, item, ';');) {
            const auto eq = item.find('=');
            result[resource][std::stoul(item.substr(0, eq))] =
                std::stoul(item.substr(eq + 1), nullptr, resource == "MB" ? 10 : 16);
        }
    }
    return result;
}

// The default group's lines GroupManager::writeDefaultGroup writes to go from `from` to `to`:
// cache resources only, only the ids that change, one line per resource.
std::vector<std::string> defaultGroupLines(const std::string& from, const std::string& to) {
    auto a = parseSchemata(from), b = parseSchemata(to);
    std::vector<std::string> lines;
    for (const auto& [resource, ids] : b) {
        if (resource == "MB")
            continue;
        std::string line;
        for (const auto& [id, value] : ids)
            if (a[resource][id] != value) {
                char item[64];
                std::snprintf(item, sizeof item, "%s%u=%lx", line.empty() ? "" : ";", id, value);
                line += item;
            }
        if (!line.empty())
            lines.push_back(resource + ":" + line);
    }
    return lines;
}

// --- 1. start/stop latency -------------------------------------------------------------------

void benchStartStop(Bench& b, const std::string& label, const Shape& shape, const fs::path& dir,
                    const fs::path& profile) {
    fs::create_directories(dir);
    Env env(dir, profile, "[Daemon]\nMount=no\nSampleIntervalSec=1\n", b.daemonEnv, b.daemonConfig);
    FakeHypervisor vm(b.fakeHypervisor, dir, shape.vcpus);
    const std::string xml = domainXml("bench", shape);
    const ThreadList threads = threadsOf(vm, shape.vcpus);
    const fs::path root = env.sim.root();

    // The groups and schemata the daemon writes, from ValidateDomain, and the default group's
    // lines, from the simulator before, during and after one started domain.
    const Planned planned = env.validate(xml);
    const std::string rootBefore = resctrld::simtest::readFile(root / "schemata");
    env.start(xml, threads);
    const std::string rootDuring = resctrld::simtest::readFile(root / "schemata");
    const unsigned allocations = shape.allocate ? shape.cachetunes : 0;
    const unsigned monitors = shape.cachetunes * shape.monitorsPer;
    // A monitor over all of its allocation's vCPUs is the default monitor: it reads the
    // allocation group and makes none.
    const bool defaultMonitor = shape.allocate && shape.monitorsPer == 1;
    const unsigned monitorGroups = defaultMonitor ? 0 : monitors;
    if (planned.size() != allocations + monitorGroups)
        throw std::runtime_error(label + ": ValidateDomain planned " +
                                 std::to_string(planned.size()) + " groups, expected " +
                                 std::to_string(allocations + monitorGroups));
    // vCPU -> groups, in GroupManager::groupsOfVcpu's order: allocations, then monitors.
    const unsigned per = shape.vcpus / shape.cachetunes;
    const unsigned mper = per / shape.monitorsPer;
    auto groupsOf = [&](unsigned vcpu) {
        std::vector<std::string> groups;
        if (shape.allocate)
            groups.push_back(planned[vcpu / per].get<0>());
        if (!defaultMonitor)
            groups.push_back(planned[allocations + vcpu / mper].get<0>());
        return groups;
    };
    // The simulator agrees with that: each group holds exactly the expected tids.
    std::map<std::string, std::set<std::string>> expected;
    for (unsigned v = 0; v < shape.vcpus; ++v)
        for (const auto& g : groupsOf(v))
            expected[g].insert(std::to_string(vm.tid(v)));
    for (const auto& [group, tids] : expected) {
        std::istringstream in(resctrld::simtest::readFile(root / group / "tasks"));
        std::set<std::string> seen;
        for (std::string t; std::getline(in, t);)
            seen.insert(t);
        if (seen != tids)
            throw std::runtime_error(label + ": the daemon put other tasks in " + group);
    }
    env.stop("bench");
    if (resctrld::simtest::readFile(root / "schemata") != rootBefore)
        throw std::runtime_error(label + ": the default group did not get its ways back");

    std::ofstream script(dir / "floor.script");
    script << "start\n";
    for (unsigned i = 0; i < planned.size(); ++i) {
        script << "mkdir " << (root / planned[i].get<0>()).string() << "\n";
        std::istringstream lines(planned[i].get<1>());
        for (std::string line; std::getline(lines, line);)
            if (!line.empty())
                script << "write " << (root / planned[i].get<0>() / "schemata").string() << " "
                       << line << "\n";
    }
    for (const auto& line : defaultGroupLines(rootBefore, rootDuring))
        script << "write " << (root / "schemata").string() << " " << line << "\n";
    for (unsigned v = 0; v < shape.vcpus; ++v)
        for (const auto& g : groupsOf(v))
            script << "write " << (root / g / "tasks").string() << " " << vm.tid(v) << "\n";
    script << "stop\n";
    for (unsigned i = 0; i < planned.size(); ++i) {
        const std::string& g = planned[i].get<0>();
        // topGroups(): allocation groups and the monitor groups under the root's mon_groups/.
        if (i < allocations || g.starts_with("mon_groups/"))
            script << "rmdir " << (root / g).string() << "\n";
    }
    for (const auto& line : defaultGroupLines(rootDuring, rootBefore))
        script << "write " << (root / "schemata").string() << " " << line << "\n";
    script.close();

    std::vector<double> dStart, dStop, dTotal, fStart, fStop, fTotal;
    // Floor and daemon alternate run by run, so that load from elsewhere on the machine falls
    // on both alike; each floor run has its own warm-up cycle.
    const int rounds = b.runs;
    const int perRound = 1;
    for (int r = 0; r < rounds; ++r) {
        std::istringstream floor(runProgram(
            {b.floorStartStop, (dir / "floor.script").string(), "1", std::to_string(perRound)}));
        for (double s, t; floor >> s >> t;) {
            fStart.push_back(s / 1e6);
            fStop.push_back(t / 1e6);
            fTotal.push_back((s + t) / 1e6);
        }
        for (int i = 0; i < perRound; ++i) {
            const auto t0 = nowNs();
            env.start(xml, threads);
            const auto t1 = nowNs();
            env.stop("bench");
            const auto t2 = nowNs();
            dStart.push_back((t1 - t0) / 1e6);
            dStop.push_back((t2 - t1) / 1e6);
            dTotal.push_back((t2 - t0) / 1e6);
        }
    }
    // Fixed costs of any privileged call, natively: the bus round trip (Peer.Ping, answered
    // by sd-bus itself) and a StopDomain of an unknown domain (the access check's credential
    // queries and the mount probe, then a NotStarted error).
    std::vector<double> ping, rejected;
    for (int i = 0; i < b.warmup + b.runs; ++i) {
        const auto t0 = nowNs();
        env.manager->callMethod("Ping").onInterface("org.freedesktop.DBus.Peer");
        const auto t1 = nowNs();
        try {
            env.stop("no-such-domain");
        } catch (const sdbus::Error&) {
        }
        const auto t2 = nowNs();
        if (i >= b.warmup) {
            ping.push_back((t1 - t0) / 1e6);
            rejected.push_back((t2 - t1) / 1e6);
        }
    }
    if (!b.straceDir.empty()) {
        // Profile (not measured): where the daemon's time goes, syscall by syscall.
        const std::string name = shape.vcpus == 2 ? "startstop-a" : "startstop-b";
        {
            Strace strace(env.pid(), {"-c", "-w"}, b.straceDir / (name + ".summary"));
            for (int i = 0; i < 10; ++i) {
                env.start(xml, threads);
                env.stop("bench");
            }
        }
        Strace strace(env.pid(), {"-tt", "-T", "-y"}, b.straceDir / (name + ".trace"));
        env.start(xml, threads);
        env.stop("bench");
    }
    const double ratio = medianOf(dTotal) / medianOf(fTotal);
    b.table.push_back("start/stop " + label + ": daemon " + fixed(medianOf(dStart)) + " + " +
                      fixed(medianOf(dStop)) + " = " + fixed(medianOf(dTotal)) + " ms, floor " +
                      fixed(medianOf(fStart)) + " + " + fixed(medianOf(fStop)) + " = " +
                      fixed(medianOf(fTotal)) + " ms, ratio start " +
                      fixed(medianOf(dStart) / medianOf(fStart)) + " stop " +
                      fixed(medianOf(dStop) / medianOf(fStop)) + " total " + fixed(ratio) +
                      " (n=" + std::to_string(dTotal.size()) + ")");
    std::cout << b.table.back() << std::endl;
    b.table.push_back("  fixed per call: bus round trip (Peer.Ping) " + fixed(medianOf(ping), 3) +
                      " ms, StopDomain of an unknown domain (access check + mount probe) " +
                      fixed(medianOf(rejected), 3) + " ms");
    std::cout << b.table.back() << std::endl;
    b.record("{\"bench\": \"startstop\", \"case\": \"" + label + "\", \"vcpus\": " +
             std::to_string(shape.vcpus) + ", \"cachetunes\": " + std::to_string(shape.cachetunes) +
             ", \"monitors\": " + std::to_string(monitors) +
             ", \"runs\": " + std::to_string(dTotal.size()) + ", \"daemon_start_ms\": " +
             fixed(medianOf(dStart), 3) + ", \"daemon_stop_ms\": " + fixed(medianOf(dStop), 3) +
             ", \"daemon_total_ms\": " + fixed(medianOf(dTotal), 3) + ", \"floor_start_ms\": " +
             fixed(medianOf(fStart), 3) + ", \"floor_stop_ms\": " + fixed(medianOf(fStop), 3) +
             ", \"floor_total_ms\": " + fixed(medianOf(fTotal), 3) +
             ", \"ratio\": " + fixed(ratio, 3) +
             ", \"start_ratio\": " + fixed(medianOf(dStart) / medianOf(fStart), 3) +
             ", \"stop_ratio\": " + fixed(medianOf(dStop) / medianOf(fStop), 3) +
             ", \"ping_ms\": " + fixed(medianOf(ping), 3) +
             ", \"rejected_call_ms\": " + fixed(medianOf(rejected), 3) + "}");
}

// --- 1b. UpdateDomain latency ---------------------------------------------------------------

// What of the simulator's tree an update changes: each group's schemata lines by resource (control
// groups), and which of `ours` each group holds ("" is the default group).
struct Tree {
    std::map<std::string, std::map<std::string, std::string>> lines;
    std::map<std::string, std::set<pid_t>> tasks;
};

Tree readTree(const SimInstance& sim, const std::set<pid_t>& ours) {
    Tree tree;
    std::vector<std::string> groups{""};
    for (const auto& group : sim.groups())
        groups.push_back(group);
    for (const auto& group : groups) {
        const fs::path dir = group.empty() ? sim.root() : sim.at(group);
        if (group.find("mon_groups/") == std::string::npos) {
            std::istringstream in(resctrld::simtest::readFile(dir / "schemata"));
            for (std::string line; std::getline(in, line);) {
                const auto colon = line.find(':');
                if (colon != std::string::npos)
                    tree.lines[group][line.substr(0, colon)] = line;
            }
        }
        auto& held = tree.tasks[group];
        for (pid_t tid : resctrld::simtest::readTasks(dir / "tasks"))
            if (ours.count(tid))
                held.insert(tid);
    }
    return tree;
}

// The writes GroupManager::update makes to go from `from` to `to`, as floor script lines:
// changed lines of kept groups, new groups with their schemata, monitor groups, thread moves,
// removed groups, the default group's changed masks, then the record.
std::vector<std::string> updateOps(const fs::path& root, const Tree& from, const Tree& to,
                                   const fs::path& record, const fs::path& recordText) {
    std::vector<std::string> ops;
    auto isMonitor = [](const std::string& g) {
        return g.find("mon_groups/") != std::string::npos;
    };
    for (const auto& [group, lines] : to.lines) {
        if (group.empty())
            continue;
        const auto before = from.lines.find(group);
        if (before == from.lines.end())
            ops.push_back("mkdir " + (root / group).string());
        for (const auto& [resource, line] : lines)
            if (before == from.lines.end() || before->second.count(resource) == 0 ||
                before->second.at(resource) != line)
                ops.push_back("write " + (root / group / "schemata").string() + " " + line);
    }
    for (const auto& [group, held] : to.tasks)
        if (isMonitor(group) && !from.tasks.count(group))
            ops.push_back("mkdir " + (root / group).string());
    std::map<pid_t, std::vector<std::string>> before, after;
    for (const auto& [group, held] : from.tasks)
        for (pid_t tid : held)
            before[tid].push_back(group);
    for (const auto& [group, held] : to.tasks)
        for (pid_t tid : held)
            after[tid].push_back(group);
    for (auto& [tid, groups] : after) {
        if (before[tid] == groups)
            continue;
        // Control group first, then its monitor group.
        std::sort(groups.begin(), groups.end(), [&](const std::string& a, const std::string& b) {
            return isMonitor(a) < isMonitor(b);
        });
        for (const auto& group : groups)
            ops.push_back("write " + (root / group / "tasks").string() + " " + std::to_string(tid));
    }
    for (const auto& [group, held] : from.tasks) {
        if (to.tasks.count(group))
            continue;
        const auto parent = group.substr(0, group.find("/mon_groups/"));
        if (!isMonitor(group) || to.tasks.count(parent))
            ops.push_back("rmdir " + (root / group).string());
    }
    std::string fromRoot, toRoot;
    for (const auto& [resource, line] : from.lines.at(""))
        fromRoot += line + "\n";
    for (const auto& [resource, line] : to.lines.at(""))
        toRoot += line + "\n";
    for (const auto& line : defaultGroupLines(fromRoot, toRoot))
        ops.push_back("write " + (root / "schemata").string() + " " + line);
    ops.push_back("save " + record.string() + " " + recordText.string());
    return ops;
}

// UpdateDomain of a 64-vCPU, 4-cachetune domain to `next` and back, against a floor making the
// same filesystem writes (schemata, tasks, mkdir/rmdir, the record with its fsyncs) directly,
// plus one bus round trip.
void benchUpdate(Bench& b, const std::string& label, const std::string& next, const fs::path& dir,
                 const fs::path& profile) {
    fs::create_directories(dir);
    Env env(dir, profile, "[Daemon]\nMount=no\nSampleIntervalSec=1\n", b.daemonEnv);
    const Shape shape{64, 4, 2, true};
    FakeHypervisor vm(b.fakeHypervisor, dir, shape.vcpus);
    const std::string xml = domainXml("bench", shape);
    const ThreadList threads = threadsOf(vm, shape.vcpus);
    const fs::path root = env.sim.root();
    const auto taskIds = vm.taskIds();
    const std::set<pid_t> ours(taskIds.begin(), taskIds.end());
    auto update = [&](const std::string& definition) {
        env.manager->callMethod("UpdateDomain")
            .onInterface(kManager)
            .withTimeout(std::chrono::seconds(120))
            .withArguments(definition);
    };
    auto recordFile = [&] {
        for (const auto& entry : fs::directory_iterator(env.daemon->stateDir()))
            if (entry.path().extension() == ".domain")
                return entry.path();
        throw std::runtime_error(label + ": no state record");
    };

    env.start(xml, threads);
    const Tree a = readTree(env.sim, ours);
    const fs::path record = recordFile();
    fs::copy_file(record, dir / "record-a", fs::copy_options::overwrite_existing);
    update(next);
    const Tree c = readTree(env.sim, ours);
    fs::copy_file(record, dir / "record-b", fs::copy_options::overwrite_existing);
    update(xml);
    if (readTree(env.sim, ours).lines != a.lines || readTree(env.sim, ours).tasks != a.tasks)
        throw std::runtime_error(label + ": updating back did not restore the tree");
    env.stop("bench");

    // The floor runs on a copy of the tree as the daemon leaves it: a domain started by hand.
    const fs::path floorRecord = dir / "floor-record";
    std::ofstream script(dir / "update.script");
    script << "start\n";
    for (const auto& op : updateOps(root, a, c, floorRecord, dir / "record-b"))
        script << op << "\n";
    script << "stop\n";
    for (const auto& op : updateOps(root, c, a, floorRecord, dir / "record-a"))
        script << op << "\n";
    script.close();
    env.start(xml, threads);

    std::vector<double> ping;
    for (int i = 0; i < b.warmup + b.runs; ++i) {
        const auto t0 = nowNs();
        env.manager->callMethod("Ping").onInterface("org.freedesktop.DBus.Peer");
        if (i >= b.warmup)
            ping.push_back((nowNs() - t0) / 1e6);
    }
    std::vector<double> daemonForward, daemonBack, floorForward, floorBack;
    for (int r = 0; r < b.runs; ++r) {
        // The daemon's groups and the floor's are the same directories: the floor goes from the
        // state the daemon is in and back, then the daemon does the same.
        std::istringstream floor(
            runProgram({b.floorStartStop, (dir / "update.script").string(), "0", "1"}));
        for (double f, g; floor >> f >> g;) {
            floorForward.push_back(f / 1e6 + medianOf(ping));
            floorBack.push_back(g / 1e6 + medianOf(ping));
        }
        const auto t0 = nowNs();
        update(next);
        const auto t1 = nowNs();
        update(xml);
        const auto t2 = nowNs();
        daemonForward.push_back((t1 - t0) / 1e6);
        daemonBack.push_back((t2 - t1) / 1e6);
    }
    if (!b.straceDir.empty()) {
        // Profile (not measured): where the daemon's time goes in an update, syscall by syscall.
        const std::string name = "update-" + dir.filename().string();
        {
            Strace strace(env.pid(), {"-c", "-w"}, b.straceDir / (name + ".summary"));
            for (int i = 0; i < 10; ++i) {
                update(next);
                update(xml);
            }
        }
        Strace strace(env.pid(), {"-tt", "-T", "-y"}, b.straceDir / (name + ".trace"));
        update(next);
        update(xml);
    }
    env.stop("bench");
    const double ratio = medianOf(daemonForward) / medianOf(floorForward);
    const double ratioBack = medianOf(daemonBack) / medianOf(floorBack);
    b.table.push_back("update " + label + ": daemon " + fixed(medianOf(daemonForward)) +
                      " ms, back " + fixed(medianOf(daemonBack)) +
                      " ms; floor (same writes + one round trip " + fixed(medianOf(ping), 3) +
                      " ms) " + fixed(medianOf(floorForward)) + " ms, back " +
                      fixed(medianOf(floorBack)) + " ms; ratio " + fixed(ratio) + ", back " +
                      fixed(ratioBack) + " (n=" + std::to_string(daemonForward.size()) + ")");
    std::cout << b.table.back() << std::endl;
    b.record("{\"bench\": \"update\", \"case\": \"" + label +
             "\", \"runs\": " + std::to_string(daemonForward.size()) +
             ", \"daemon_ms\": " + fixed(medianOf(daemonForward), 3) +
             ", \"daemon_back_ms\": " + fixed(medianOf(daemonBack), 3) +
             ", \"floor_ms\": " + fixed(medianOf(floorForward), 3) +
             ", \"floor_back_ms\": " + fixed(medianOf(floorBack), 3) +
             ", \"ratio\": " + fixed(ratio, 3) + ", \"ratio_back\": " + fixed(ratioBack, 3) + "}");
}

// --- 2. sampling cost ------------------------------------------------------------------------

// Counts Sampled signals and records the daemon's CPU time as each arrives.
class TickWatch {
public:
    TickWatch(const std::string& address, pid_t daemon)
        : connection_(sdbus::createSessionBusConnectionWithAddress(address))
        , daemon_(daemon) {
        slot_ = connection_->addMatch(
            "type='signal',interface='org.resctrld1.Manager',member='Sampled'",
            [this](sdbus::Message&) {
                const auto run = schedstatNs(daemon_);
                const auto stat = statCpuNs(daemon_);
                std::lock_guard lock(mutex_);
                ticks_.push_back({run, stat});
                changed_.notify_all();
            });
        connection_->enterEventLoopAsync();
    }
    ~TickWatch() { connection_->leaveEventLoop(); }

    struct Tick {
        std::int64_t runNs, statNs;
    };
    // Waits for `count` more ticks after the next one; returns (first, last) of them.
    std::pair<Tick, Tick> measure(unsigned count, std::chrono::seconds deadline) {
        std::unique_lock lock(mutex_);
        const std::size_t base = ticks_.size();
        if (!changed_.wait_for(lock, deadline, [&] { return ticks_.size() >= base + 1 + count; }))
            throw std::runtime_error("the daemon did not tick " + std::to_string(count + 1) +
                                     " times within the deadline");
        return {ticks_[base], ticks_[base + count]};
    }

private:
    std::unique_ptr<sdbus::IConnection> connection_;
    pid_t daemon_;
    sdbus::Slot slot_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<Tick> ticks_;
};

struct SamplePoint {
    unsigned domains, monitors;
    double daemonUs, daemonStatUs, floorUs, floorWallUs;
    unsigned counters;
    // The floor that also sends one signal of Sampled's type and size per loop.
    double floorSignalUs = 0;
    // Medians of the ratios of the windows, each against the floor running beside it.
    double ratio = 0, signalRatio = 0;
    double healthUs = 0;
};

// Window by window, [[a0, b0, ..], [a1, b1, ..], ..] of series of equal length: the spread behind
// a median.
std::string roundsJson(const std::vector<std::vector<double>>& series) {
    std::string json = "[";
    for (std::size_t r = 0; r < series.front().size(); ++r) {
        json += r == 0 ? "[" : ", [";
        for (std::size_t s = 0; s < series.size(); ++s)
            json += (s == 0 ? "" : ", ") + fixed(series[s][r], 1);
        json += "]";
    }
    return json + "]";
}

// The daemon's ticks by strace (their counter reads, reopens and bus reads), and what they add
// up to: how many counter files were read, the fewest and most reads of one.
struct ReadCheck : resctrld::e2e::TickSyscalls {
    unsigned files = 0, minReads = 0, maxReads = 0;
    bool ok = false;
};

ReadCheck straceReads(pid_t pid, const fs::path& dir, unsigned expectedFiles,
                      std::chrono::milliseconds window) {
    ReadCheck check{resctrld::e2e::traceTicks(pid, dir / "strace.out", window)};
    if (check.ticks == 0)
        return check;
    check.files = static_cast<unsigned>(check.counterReads.size());
    check.minReads = ~0u;
    for (const auto& [path, n] : check.counterReads) {
        check.minReads = std::min(check.minReads, n);
        check.maxReads = std::max(check.maxReads, n);
    }
    check.ok = check.files == expectedFiles && check.minReads == check.ticks &&
               check.maxReads == check.ticks && check.counterOpens == 0;
    return check;
}

// `simProfile` names one of resctrlfs-sim's own profiles instead of the generated one (the SNC
// run: gnr-2s-snc3 on a kernel with per-node monitoring, where every monitor also reads its
// mon_sub_L3_* files and so does the floor).
void benchSampling(Bench& b, unsigned domains, const std::vector<unsigned>& monitorCounts,
                   std::vector<SamplePoint>& points, const fs::path& dir,
                   const std::string& simProfile = "") {
    fs::create_directories(dir);
    const fs::path profile = simProfile.empty() ? writeProfile(dir, domains) : fs::path(simProfile);
    SimOptions options{profile.string(), simProfile.empty() ? "6.1" : "6.15", "", true};
    SimInstance sim(options);
    for (unsigned monitors : monitorCounts) {
        const fs::path run = dir / ("m" + std::to_string(monitors));
        fs::create_directories(run);
        // A VM of exactly that many vCPUs: the daemon's health check walks all its threads.
        FakeHypervisor vm(b.fakeHypervisor, run, monitors);
        PrivateBus bus(run);
        Daemon::Options daemonOptions;
        // 1 s: the cadence of the health-check-only daemon below, and the floor's.
        daemonOptions.configText = "[Daemon]\nMount=no\nSampleIntervalSec=1\n" + b.daemonConfig;
        daemonOptions.resctrlRoot = sim.root();
        daemonOptions.extraArgs = {"--sysfs-root", sim.sysfsDir().string()};
        daemonOptions.process.env = b.daemonEnv;
        Daemon daemon(bus, run, daemonOptions);
        auto connection = sdbus::createSessionBusConnectionWithAddress(bus.address());
        auto manager = sdbus::createProxy(*connection, kService, kRootPath);
        const std::string xml = domainXml("sampled", Shape{monitors, 1, monitors, false});
        sdbus::ObjectPath path;
        manager->callMethod("StartDomain")
            .onInterface(kManager)
            .withTimeout(std::chrono::seconds(300))
            .withArguments(xml, threadsOf(vm, monitors))
            .storeResultsTo(path);

        // The floor's files: every counter of every monitor group the daemon made.
        std::vector<std::string> files;
        for (const auto& group : fs::directory_iterator(sim.root() / "mon_groups"))
            for (const auto& domain : fs::directory_iterator(group.path() / "mon_data")) {
                // <monitor level='3'> is a cache monitor: the daemon reads llc_occupancy, on an
                // SNC host in the L3's directory and in each of its nodes' mon_sub_L3_*.
                files.push_back((domain.path() / "llc_occupancy").string());
                for (const auto& sub : fs::directory_iterator(domain.path()))
                    if (sub.is_directory() &&
                        sub.path().filename().string().starts_with("mon_sub_L3_"))
                        files.push_back((sub.path() / "llc_occupancy").string());
            }
        std::sort(files.begin(), files.end());
        {
            std::ofstream list(run / "counters.list");
            for (const auto& f : files)
                list << f << "\n";
        }
        // Whole periods of the domain check (CheckIntervalSec=5): its cost is spread over them.
        const unsigned ticks = b.quick ? 5 : 10;
        TickWatch watch(bus.address(), daemon.process().pid());
        // Warm-up: the first sample opens the counter files, and the first check after a start
        // sets up what later checks follow (a watch on each group's tasks file, one read of
        // each): a domain's start costs, measured by the start/stop benchmark, not a tick's.
        // One whole check period (CheckIntervalSec=5) and a tick.
        watch.measure(6, std::chrono::seconds(120));
        SamplePoint point{domains, monitors, 0, 0, 0, 0, static_cast<unsigned>(files.size())};
        std::vector<double> daemonUs, daemonStatUs, floorUs, floorWallUs, floorSignalUs;
        // Window by window, the daemon beside each floor, and their ratios.
        std::vector<double> daemonBesideFloorUs, daemonBesideSignalUs, ratios, signalRatios;
        // Five rounds: the machine's speed drifts by 10-20 % over minutes.
        const int rounds = b.quick ? 3 : 5;
        // The floor's CPU and wall time per loop, in µs; with the signal as well when `signal`.
        auto runFloor = [&](bool signal) {
            std::vector<std::string> argv{b.floorSample};
            if (signal)
                argv.insert(argv.end(), {"--signal", bus.address(), path + "/monitor/"});
            argv.insert(argv.end(),
                        {(run / "counters.list").string(), std::to_string(ticks), "1000"});
            std::istringstream floor(runProgram(argv));
            double cpu = 0, wall = 0;
            floor >> cpu >> wall;
            return std::pair{cpu / 1e3, wall / 1e3};
        };
        // One window: the daemon's ticks measured while a floor runs beside them, started half a
        // period after a tick, so that both see the same machine (its speed moves by more than
        // the differences measured within seconds on a shared VM) and their reads never meet.
        auto besideTheDaemon = [&](bool signal) {
            watch.measure(0, std::chrono::seconds(120));
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
            auto floor = std::async(std::launch::async, runFloor, signal);
            const auto [from, to] = watch.measure(ticks, std::chrono::seconds(600));
            daemonUs.push_back((to.runNs - from.runNs) / 1e3 / ticks);
            daemonStatUs.push_back((to.statNs - from.statNs) / 1e3 / ticks);
            return floor.get();
        };
        for (int r = 0; r < rounds; ++r) {
            const auto [cpu, wall] = besideTheDaemon(false);
            floorUs.push_back(cpu);
            floorWallUs.push_back(wall);
            daemonBesideFloorUs.push_back(daemonUs.back());
            ratios.push_back(daemonUs.back() / cpu);
            floorSignalUs.push_back(besideTheDaemon(true).first);
            daemonBesideSignalUs.push_back(daemonUs.back());
            signalRatios.push_back(daemonUs.back() / floorSignalUs.back());
        }
        point.daemonUs = medianOf(daemonUs);
        point.daemonStatUs = medianOf(daemonStatUs);
        point.floorUs = medianOf(floorUs);
        point.floorWallUs = medianOf(floorWallUs);
        point.floorSignalUs = medianOf(floorSignalUs);
        point.ratio = medianOf(ratios);
        point.signalRatio = medianOf(signalRatios);
        points.push_back(point);
        const std::string line =
            "sampling " + (simProfile.empty() ? "" : simProfile + " ") + std::to_string(domains) +
            " L3 x " + std::to_string(monitors) + " monitors (" + std::to_string(point.counters) +
            " counter files): daemon " + fixed(point.daemonUs / 1e3, 3) +
            " ms CPU/tick (utime+stime " + fixed(point.daemonStatUs / 1e3, 1) +
            "), floor (the reads and the Sampled signal) " + fixed(point.floorSignalUs / 1e3, 3) +
            " ms CPU/loop, ratio " + fixed(point.signalRatio) +
            " (target <= 1.3); the reads alone " + fixed(point.floorUs / 1e3, 3) + " ms (" +
            fixed(point.floorWallUs / 1e3, 2) + " ms wall), ratio " + fixed(point.ratio);
        b.table.push_back(line);
        std::cout << line << std::endl;
        b.record("{\"bench\": \"" + std::string(simProfile.empty() ? "sampling" : "sampling_snc") +
                 "\", \"l3_domains\": " + std::to_string(domains) +
                 ", \"monitors\": " + std::to_string(monitors) +
                 ", \"counter_files\": " + std::to_string(point.counters) +
                 ", \"ticks_per_round\": " + std::to_string(ticks) +
                 ", \"daemon_cpu_us_per_tick\": " + fixed(point.daemonUs, 1) +
                 ", \"daemon_utime_stime_us_per_tick\": " + fixed(point.daemonStatUs, 1) +
                 ", \"floor_cpu_us_per_loop\": " + fixed(point.floorUs, 1) +
                 ", \"floor_wall_us_per_loop\": " + fixed(point.floorWallUs, 1) +
                 ", \"ratio\": " + fixed(point.ratio, 3) +
                 ", \"floor_with_signal_cpu_us_per_loop\": " + fixed(point.floorSignalUs, 1) +
                 ", \"ratio_to_floor_with_signal\": " + fixed(point.signalRatio, 3) +
                 ", \"windows_daemon_floor_us\": " + roundsJson({daemonBesideFloorUs, floorUs}) +
                 ", \"windows_daemon_floor_with_signal_us\": " +
                 roundsJson({daemonBesideSignalUs, floorSignalUs}) + "}");

        if (!b.straceDir.empty()) {
            const std::string name =
                "sampling-" + std::to_string(domains) + "l3-" + std::to_string(monitors);
            {
                Strace strace(daemon.process().pid(), {"-c"}, b.straceDir / (name + ".summary"));
                watch.measure(ticks, std::chrono::seconds(600));
            }
            Strace strace(daemon.process().pid(), {"-tt", "-T", "-y"},
                          b.straceDir / (name + ".trace"));
            watch.measure(1, std::chrono::seconds(600));
        }
        // 3. Reads per tick, on the smallest configuration (strace slows the daemon down).
        if (monitors == monitorCounts.front()) {
            const ReadCheck check = straceReads(daemon.process().pid(), run, point.counters,
                                                std::chrono::milliseconds(5500));
            const std::string readLine =
                "reads per tick (" + std::to_string(domains) + " L3 x " + std::to_string(monitors) +
                " monitors, strace over " + std::to_string(check.ticks) +
                " ticks): " + std::to_string(check.files) + "/" + std::to_string(point.counters) +
                " counter files read, " + std::to_string(check.minReads) + ".." +
                std::to_string(check.maxReads) + " preads each, " +
                std::to_string(check.counterOpens) + " reopens, " + std::to_string(check.busReads) +
                " bus socket reads: " + (check.ok ? "exactly once per tick" : "NOT once per tick");
            b.table.push_back(readLine);
            std::cout << readLine << std::endl;
            b.record("{\"bench\": \"reads_per_tick\", \"l3_domains\": " + std::to_string(domains) +
                     ", \"monitors\": " + std::to_string(monitors) +
                     ", \"ticks\": " + std::to_string(check.ticks) +
                     ", \"files_read\": " + std::to_string(check.files) +
                     ", \"counter_files\": " + std::to_string(point.counters) +
                     ", \"min_reads\": " + std::to_string(check.minReads) +
                     ", \"max_reads\": " + std::to_string(check.maxReads) +
                     ", \"reopens\": " + std::to_string(check.counterOpens) +
                     ", \"bus_socket_reads\": " + std::to_string(check.busReads) +
                     ", \"once_per_tick\": " + (check.ok ? "true" : "false") + "}");
        }
        // Where a tick's CPU goes, from perf's call graphs (when perf is installed): the domain
        // check (Supervisor::checkDomains, every CheckIntervalSec: threads, each group's tasks
        // file), the counters (MonitorCounters::readCounters, the reads: MonitorObject's
        // readCounters reaches it by a tail call, which leaves no frame of its own in the call
        // chains; and MonitorObject::takeSample) and the Sampled signal. Shares of the samples of
        // Supervisor::sampleMonitors plus checkDomains.
        if (!b.quick && access("/usr/bin/perf", X_OK) == 0) {
            const fs::path data = run / "perf.data";
            const double seconds = std::max(6.0, 3 * point.floorWallUs / 1e6 * 4);
            {
                std::ostringstream window;
                window << seconds;
                runProgram({"/usr/bin/perf", "record", "-q", "-e", "cpu-clock", "-F", "4999",
                            "--call-graph", "dwarf,16384", "-p",
                            std::to_string(daemon.process().pid()), "-o", data.string(), "--",
                            "/bin/sleep", window.str()});
            }
            const std::string report =
                runProgram({"/usr/bin/perf", "report", "-i", data.string(), "--children", "--sort",
                            "symbol", "--stdio", "-g", "none"});
            auto share = [&](const std::string& symbol) {
                std::istringstream lines(report);
                for (std::string line; std::getline(lines, line);)
                    if (line.find(symbol) != std::string::npos && line.find('%') != line.npos)
                        return std::stod(line.substr(line.find_first_not_of(' ')));
                return 0.0;
            };
            const double check = share("resctrld::Supervisor::checkDomains");
            const double tick = share("resctrld::Supervisor::sampleMonitors") + check;
            const double counters = share("resctrld::MonitorCounters::readCounters") +
                                    share("resctrld::MonitorObject::takeSample");
            const double signal = share("resctrld::ManagerObject::emitSampled");
            auto& p = points.back();
            if (tick <= 0) {
                b.table.push_back("  perf: no sample of the sampling or the check in the window");
                std::cout << b.table.back() << std::endl;
            } else {
                p.healthUs = p.daemonUs * check / tick;
                const double samplingUs = p.daemonUs * (tick - check) / tick;
                const std::string hline =
                    "  perf: of the tick's CPU " + fixed(check / tick * 100, 0) +
                    "% health check, " + fixed(counters / tick * 100, 0) + "% counter reads, " +
                    fixed(signal / tick * 100, 0) +
                    "% Sampled signal; sampling (tick minus health check) " +
                    fixed(samplingUs / 1e3, 3) + " ms, ratio to the floor " +
                    fixed(samplingUs / p.floorSignalUs) + " (the reads alone " +
                    fixed(samplingUs / p.floorUs) + ")";
                b.table.push_back(hline);
                std::cout << hline << std::endl;
                b.record("{\"bench\": \"tick_profile\", \"l3_domains\": " +
                         std::to_string(domains) + ", \"monitors\": " + std::to_string(monitors) +
                         ", \"health_check_share\": " + fixed(check / tick, 3) +
                         ", \"counter_reads_share\": " + fixed(counters / tick, 3) +
                         ", \"sampled_signal_share\": " + fixed(signal / tick, 3) +
                         ", \"sampling_us_per_tick\": " + fixed(samplingUs, 1) +
                         ", \"sampling_ratio\": " + fixed(samplingUs / p.floorUs, 3) +
                         ", \"sampling_ratio_to_floor_with_signal\": " +
                         fixed(samplingUs / p.floorSignalUs, 3) + "}");
            }
        }
        manager->callMethod("StopDomain")
            .onInterface(kManager)
            .withTimeout(std::chrono::seconds(300))
            .withArguments(std::string("sampled"));
    }
}

// --- 2b. sampling with every bandwidth counter assigned ----------------------------------------

// turin-2s (32 L3 ids, 32 assignable counters each, mbm_event mode): 15 bandwidth monitors take
// every counter the default group leaves (2 each per id), so a tick reads 960 counter files that
// all count. The floor reads the same files at the same cadence; the daemon's tick also carries
// the counter reconciliation of its periodic check (every CheckIntervalSec=, 5 s), spread here
// over the ticks as it is in service.
void benchCounters(Bench& b, const fs::path& dir) {
    fs::create_directories(dir);
    constexpr unsigned kMonitors = 15;
    SimInstance sim(SimOptions{"turin-2s", "6.19", "", true});
    FakeHypervisor vm(b.fakeHypervisor, dir, kMonitors);
    PrivateBus bus(dir);
    Daemon::Options daemonOptions;
    daemonOptions.configText = "[Daemon]\nMount=no\nSampleIntervalSec=1\n" + b.daemonConfig;
    daemonOptions.resctrlRoot = sim.root();
    daemonOptions.extraArgs = {"--sysfs-root", sim.sysfsDir().string()};
    Daemon daemon(bus, dir, daemonOptions);
    auto connection = sdbus::createSessionBusConnectionWithAddress(bus.address());
    auto manager = sdbus::createProxy(*connection, kService, kRootPath);
    std::ostringstream xml;
    xml << "<domain type='kvm'><name>counted</name><vcpu>" << kMonitors
        << "</vcpu><cputune><memorytune vcpus='0-" << kMonitors - 1 << "'>";
    for (unsigned v = 0; v < kMonitors; ++v)
        xml << "<monitor vcpus='" << v << "'/>";
    xml << "</memorytune></cputune></domain>";
    sdbus::ObjectPath path;
    manager->callMethod("StartDomain")
        .onInterface(kManager)
        .withTimeout(std::chrono::seconds(300))
        .withArguments(xml.str(), threadsOf(vm, kMonitors))
        .storeResultsTo(path);

    // Every counter assigned before measuring: the daemon reconciles right after the start.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    for (;;) {
        std::map<uint32_t, uint32_t> free;
        manager->getProperty("CountersFree").onInterface(kManager).get<decltype(free)>().swap(free);
        if (!free.empty() &&
            std::all_of(free.begin(), free.end(), [](const auto& e) { return e.second == 0; }))
            break;
        if (std::chrono::steady_clock::now() > deadline)
            throw std::runtime_error("the daemon did not assign every counter within 120 s");
        std::this_thread::sleep_for(std::chrono::milliseconds(100)); // polling a property
    }

    std::vector<std::string> files;
    for (const auto& group : fs::directory_iterator(sim.root() / "mon_groups"))
        for (const auto& domain : fs::directory_iterator(group.path() / "mon_data"))
            for (const char* event : {"mbm_total_bytes", "mbm_local_bytes"})
                files.push_back((domain.path() / event).string());
    std::sort(files.begin(), files.end());
    {
        std::ofstream list(dir / "counters.list");
        for (const auto& f : files)
            list << f << "\n";
    }
    const unsigned ticks = b.quick ? 5 : 10;
    TickWatch watch(bus.address(), daemon.process().pid());
    watch.measure(1, std::chrono::seconds(120));
    std::vector<double> daemonUs, floorUs;
    for (int r = 0; r < 3; ++r) {
        const auto [from, to] = watch.measure(ticks, std::chrono::seconds(600));
        daemonUs.push_back((to.runNs - from.runNs) / 1e3 / ticks);
        std::istringstream floor(runProgram(
            {b.floorSample, (dir / "counters.list").string(), std::to_string(ticks), "1000"}));
        double cpu = 0, wall = 0;
        floor >> cpu >> wall;
        floorUs.push_back(cpu / 1e3);
    }
    const double daemonTick = medianOf(daemonUs), floorTick = medianOf(floorUs);
    const std::string line = "counters: 32 L3 x " + std::to_string(kMonitors) +
                             " bandwidth monitors, every counter assigned (" +
                             std::to_string(files.size()) + " counter files): daemon " +
                             fixed(daemonTick / 1e3, 3) + " ms CPU/tick, floor " +
                             fixed(floorTick / 1e3, 3) + " ms CPU/loop, ratio " +
                             fixed(daemonTick / floorTick) + " (target <= 1.3)";
    b.table.push_back(line);
    std::cout << line << std::endl;
    b.record("{\"bench\": \"counters\", \"l3_domains\": 32, \"monitors\": " +
             std::to_string(kMonitors) + ", \"counter_files\": " + std::to_string(files.size()) +
             ", \"daemon_cpu_us_per_tick\": " + fixed(daemonTick, 1) +
             ", \"floor_cpu_us_per_loop\": " + fixed(floorTick, 1) +
             ", \"ratio\": " + fixed(daemonTick / floorTick, 3) + "}");
}

// Least squares of y on x: (slope, intercept); nothing when x has fewer than two distinct values
// (one shape measured: no slope to tell).
std::optional<std::pair<double, double>> fit(const std::vector<double>& x,
                                             const std::vector<double>& y) {
    const double n = static_cast<double>(x.size());
    const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
    const double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
    double sxy = 0, sxx = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
    }
    if (!(sxx > 0))
        return std::nullopt;
    return std::pair{sxy / sxx, my - sxy / sxx * mx};
}

void benchWakeups(Bench& b, const fs::path& dir, const fs::path& profile) {
    fs::create_directories(dir);
    Env env(dir, profile, "[Daemon]\nMount=no\nSampleIntervalSec=1\n", b.daemonEnv, b.daemonConfig);
    const auto window = std::chrono::seconds(b.quick ? 3 : 10);
    // Mount table changes anywhere on the host (other test runs mounting simulators) wake the
    // daemon on purpose (it watches /proc/self/mountinfo): count them in the same window.
    auto count = [&] {
        // What the daemon was still doing (start-up's NameAcquired, a stop's tail: the CLOSID/RMID
        // budgets are announced after the reply) ends before it answers the next call.
        const std::string version = env.manager->getProperty("Version").onInterface(kManager);
        const long long before = contextSwitches(env.pid());
        const auto cpuBefore = schedstatNs(env.pid());
        const auto end = Clock::now() + window;
        int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
        auto drain = [fd] {
            char buffer[4096];
            lseek(fd, 0, SEEK_SET);
            while (read(fd, buffer, sizeof buffer) > 0) {
            }
        };
        drain();
        long long mountChanges = 0;
        for (auto now = Clock::now(); now < end; now = Clock::now()) {
            pollfd p{fd, POLLPRI, 0};
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(end - now).count();
            if (poll(&p, 1, static_cast<int>(left) + 1) > 0 && (p.revents & (POLLPRI | POLLERR))) {
                ++mountChanges;
                drain();
            }
        }
        close(fd);
        return std::tuple{contextSwitches(env.pid()) - before, schedstatNs(env.pid()) - cpuBefore,
                          mountChanges};
    };
    const auto [fresh, freshCpu, freshMounts] = count();
    // After a domain came and went the ticker must be gone again.
    FakeHypervisor vm(b.fakeHypervisor, dir, 2);
    const std::string xml = domainXml("idle", Shape{2, 1, 1, true});
    env.start(xml, threadsOf(vm, 2));
    env.stop("idle");
    const auto [after, afterCpu, afterMounts] = count();
    if (!b.straceDir.empty()) {
        Strace strace(env.pid(), {"-tt", "-y"}, b.straceDir / "idle.trace");
        std::this_thread::sleep_for(window); // the traced window
    }
    const std::string secs = std::to_string(window.count());
    const std::string line =
        "idle wake-ups over " + secs + " s: " + std::to_string(fresh) + " fresh (" +
        fixed(freshCpu / 1e3, 0) + " us CPU; mount table changed " + std::to_string(freshMounts) +
        " times), " + std::to_string(after) + " after a start+stop (" + fixed(afterCpu / 1e3, 0) +
        " us CPU; mount table changed " + std::to_string(afterMounts) + " times)";
    b.table.push_back(line);
    std::cout << line << std::endl;
    b.record("{\"bench\": \"idle_wakeups\", \"window_s\": " + secs +
             ", \"context_switches_fresh\": " + std::to_string(fresh) +
             ", \"context_switches_after_stop\": " + std::to_string(after) +
             ", \"cpu_us_fresh\": " + fixed(freshCpu / 1e3, 0) +
             ", \"cpu_us_after_stop\": " + fixed(afterCpu / 1e3, 0) +
             ", \"mount_table_changes_fresh\": " + std::to_string(freshMounts) +
             ", \"mount_table_changes_after_stop\": " + std::to_string(afterMounts) + "}");
}

// --- 4. D-Bus read throughput ----------------------------------------------------------------

// Calls per second of `call` from `clients` threads, each on its own bus connection, for
// `seconds`: the total completed calls over the wall time of the slowest client.
struct Throughput {
    double callsPerSecond = 0;
    double serverUsPerCall = 0; // CPU time of the process answering, per call
    double busUsPerCall = 0;    // CPU time of dbus-daemon, per call
};

Throughput callsPerSecond(const std::string& address, unsigned clients, double seconds,
                          const std::function<void(sdbus::IConnection&)>& call, pid_t server,
                          pid_t bus) {
    std::atomic<unsigned> ready{0};
    std::atomic<bool> go{false};
    std::atomic<std::uint64_t> calls{0};
    std::vector<std::thread> threads;
    std::vector<std::string> errors(clients);
    const auto window = std::chrono::duration<double>(seconds);
    for (unsigned c = 0; c < clients; ++c)
        threads.emplace_back([&, c] {
            try {
                auto connection = sdbus::createSessionBusConnectionWithAddress(address);
                ++ready;
                while (!go)
                    std::this_thread::yield();
                const auto end = Clock::now() + window;
                std::uint64_t n = 0;
                while (Clock::now() < end) {
                    call(*connection);
                    ++n;
                }
                calls += n;
            } catch (const std::exception& e) {
                errors[c] = e.what();
                ++ready;
            }
        });
    while (ready < clients)
        std::this_thread::yield();
    const std::int64_t serverBefore = schedstatNs(server), busBefore = schedstatNs(bus);
    const auto start = Clock::now();
    go = true;
    for (auto& t : threads)
        t.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const std::int64_t serverNs = schedstatNs(server) - serverBefore;
    const std::int64_t busNs = schedstatNs(bus) - busBefore;
    for (const auto& e : errors)
        if (!e.empty())
            throw std::runtime_error("a D-Bus client failed: " + e);
    const double n = std::max<double>(1, double(calls));
    return {double(calls) / elapsed, serverNs / 1e3 / n, busNs / 1e3 / n};
}

// GetStats (fresh: counters older than 10 ms are read again) and Get(Monitor.CacheOccupancy)
// (the last sample) from 1 and 8 clients, against two floors of bench-floor-dbus, an sdbus-c++
// service on the same bus: Trivial() (any call) and Payload() (a copy of GetStats' answer, from
// memory: what the payload costs the bus and the client, without resctrld). GetStats and Payload()
// are measured twice: as a client would use them (the reply decoded into sdbus-c++ Variants, one
// message each, by the calling thread) and with the reply received but not decoded. Rounds
// alternate the six so a noisy neighbour hits them alike; medians of the rounds.
void benchReads(Bench& b, const fs::path& dir, const fs::path& profile) {
    fs::create_directories(dir);
    Env env(dir, profile, "[Daemon]\nMount=no\nSampleIntervalSec=1\n", b.daemonEnv, b.daemonConfig);
    FakeHypervisor vm(b.fakeHypervisor, dir, 2);
    // One cachetune with two monitors over 2 L3 domains: GetStats reads 4 counter files.
    const auto domain = env.start(domainXml("reads", Shape{2, 1, 2, true}), threadsOf(vm, 2));
    Process::Options floorOptions;
    floorOptions.pipeStdout = true;
    Process floor({b.floorDbus, env.bus.address()}, dir, floorOptions);
    if (floor.readStdoutLine() != std::optional<std::string>("ready"))
        throw std::runtime_error("bench-floor-dbus did not start: " + floor.stderrText());

    const std::string monitor = std::string(domain) + "/monitor/0";
    auto trivial = [](sdbus::IConnection& c) {
        uint32_t value = 0;
        sdbus::createProxy(c, "org.resctrld1.BenchFloor", "/org/resctrld1/BenchFloor")
            ->callMethod("Trivial")
            .onInterface("org.resctrld1.BenchFloor")
            .storeResultsTo(value);
    };
    auto getStats = [](sdbus::IConnection& c) {
        std::map<std::string, sdbus::Variant> stats;
        sdbus::createProxy(c, kService, kRootPath)
            ->callMethod("GetStats")
            .onInterface(kManager)
            .withArguments(std::string("reads"))
            .storeResultsTo(stats);
    };
    auto getStatsUndecoded = [](sdbus::IConnection& c) {
        sdbus::createProxy(c, kService, kRootPath)
            ->callMethod("GetStats")
            .onInterface(kManager)
            .withArguments(std::string("reads"));
    };
    {
        std::map<std::string, sdbus::Variant> stats;
        env.manager->callMethod("GetStats")
            .onInterface(kManager)
            .withArguments(std::string("reads"))
            .storeResultsTo(stats);
        auto count = [&stats](const std::string& key) {
            return stats.count(key) ? stats.at(key).get<uint32_t>() : 0u;
        };
        if (count("cpu.cache.monitor.count") + count("memory.bandwidth.monitor.count") != 2)
            throw std::runtime_error("GetStats did not answer the domain's two monitors");
        // The payload floor answers a copy of this answer from memory.
        sdbus::createProxy(*env.connection, "org.resctrld1.BenchFloor", "/org/resctrld1/BenchFloor")
            ->callMethod("SetPayload")
            .onInterface("org.resctrld1.BenchFloor")
            .withArguments(stats);
    }
    auto payload = [](sdbus::IConnection& c) {
        std::map<std::string, sdbus::Variant> stats;
        sdbus::createProxy(c, "org.resctrld1.BenchFloor", "/org/resctrld1/BenchFloor")
            ->callMethod("Payload")
            .onInterface("org.resctrld1.BenchFloor")
            .storeResultsTo(stats);
    };
    auto payloadUndecoded = [](sdbus::IConnection& c) {
        sdbus::createProxy(c, "org.resctrld1.BenchFloor", "/org/resctrld1/BenchFloor")
            ->callMethod("Payload")
            .onInterface("org.resctrld1.BenchFloor");
    };
    auto getOccupancy = [&monitor](sdbus::IConnection& c) {
        sdbus::Variant value;
        sdbus::createProxy(c, kService, monitor)
            ->callMethod("Get")
            .onInterface("org.freedesktop.DBus.Properties")
            .withArguments(std::string("org.resctrld1.Monitor"), std::string("CacheOccupancy"))
            .storeResultsTo(value);
    };
    const double seconds = b.quick ? 0.5 : 2.0;
    const int rounds = b.quick ? 3 : 5;
    const pid_t daemon = env.pid(), floorPid = floor.pid(), bus = env.bus.pid();
    for (unsigned clients : {1u, 8u}) {
        std::vector<Throughput> floorRuns, statsRuns, undecodedRuns, getRuns, payloadRuns,
            payloadUndecodedRuns;
        auto measure = [&](std::vector<Throughput>& runs, auto& call, pid_t server) {
            runs.push_back(callsPerSecond(env.bus.address(), clients, seconds, call, server, bus));
        };
        callsPerSecond(env.bus.address(), clients, 0.2, trivial, floorPid, bus); // warm-up
        callsPerSecond(env.bus.address(), clients, 0.2, getStats, daemon, bus);
        for (int r = 0; r < rounds; ++r) {
            measure(floorRuns, trivial, floorPid);
            measure(statsRuns, getStats, daemon);
            measure(undecodedRuns, getStatsUndecoded, daemon);
            measure(getRuns, getOccupancy, daemon);
            measure(payloadRuns, payload, floorPid);
            measure(payloadUndecodedRuns, payloadUndecoded, floorPid);
        }
        auto med = [](const std::vector<Throughput>& runs, double Throughput::*field) {
            std::vector<double> values;
            for (const Throughput& t : runs)
                values.push_back(t.*field);
            return medianOf(values);
        };
        const double f = med(floorRuns, &Throughput::callsPerSecond);
        const double st = med(statsRuns, &Throughput::callsPerSecond);
        const double su = med(undecodedRuns, &Throughput::callsPerSecond);
        const double g = med(getRuns, &Throughput::callsPerSecond);
        const double p = med(payloadRuns, &Throughput::callsPerSecond);
        const double pu = med(payloadUndecodedRuns, &Throughput::callsPerSecond);
        // Where a call's CPU goes: the answering process and dbus-daemon, per call.
        auto cpu = [&](const std::vector<Throughput>& runs) {
            return fixed(med(runs, &Throughput::serverUsPerCall), 1) + "+" +
                   fixed(med(runs, &Throughput::busUsPerCall), 1);
        };
        const std::string line =
            "D-Bus reads, " + std::to_string(clients) + " client" + (clients > 1 ? "s" : "") +
            ": GetStats " + fixed(st, 0) + "/s (ratio " + fixed(st / f) + "; reply not decoded " +
            fixed(su, 0) + "/s, ratio " + fixed(su / f) + "), Get(CacheOccupancy) " + fixed(g, 0) +
            "/s (ratio " + fixed(g / f) + "), floor Trivial() " + fixed(f, 0) +
            "/s; same payload from memory " + fixed(p, 0) + "/s (not decoded " + fixed(pu, 0) +
            "/s): GetStats / payload floor " + fixed(st / p) + " (not decoded " + fixed(su / pu) +
            "); CPU per call, server+bus µs: Trivial " + cpu(floorRuns) + ", payload " +
            cpu(payloadRuns) + ", GetStats " + cpu(statsRuns) + ", Get " + cpu(getRuns);
        b.table.push_back(line);
        std::cout << line << std::endl;
        b.record(
            "{\"bench\": \"dbus_reads\", \"clients\": " + std::to_string(clients) +
            ", \"floor_calls_per_s\": " + fixed(f, 0) + ", \"getstats_calls_per_s\": " +
            fixed(st, 0) + ", \"getstats_ratio\": " + fixed(st / f, 3) +
            ", \"getstats_undecoded_calls_per_s\": " + fixed(su, 0) +
            ", \"getstats_undecoded_ratio\": " + fixed(su / f, 3) +
            ", \"get_occupancy_calls_per_s\": " + fixed(g, 0) + ", \"get_occupancy_ratio\": " +
            fixed(g / f, 3) + ", \"payload_floor_calls_per_s\": " + fixed(p, 0) +
            ", \"payload_floor_undecoded_calls_per_s\": " + fixed(pu, 0) +
            ", \"getstats_payload_ratio\": " + fixed(st / p, 3) +
            ", \"getstats_undecoded_payload_ratio\": " + fixed(su / pu, 3) +
            ", \"payload_server_us\": " + fixed(med(payloadRuns, &Throughput::serverUsPerCall), 2) +
            ", \"payload_bus_us\": " + fixed(med(payloadRuns, &Throughput::busUsPerCall), 2) +
            ", \"floor_server_us\": " + fixed(med(floorRuns, &Throughput::serverUsPerCall), 2) +
            ", \"floor_bus_us\": " + fixed(med(floorRuns, &Throughput::busUsPerCall), 2) +
            ", \"getstats_server_us\": " + fixed(med(statsRuns, &Throughput::serverUsPerCall), 2) +
            ", \"getstats_bus_us\": " + fixed(med(statsRuns, &Throughput::busUsPerCall), 2) + "}");
    }
    env.stop("reads");
}

// --- 4b. reads while another user holds the resctrl lock --------------------------------------

// The latency of a root property read (Get(Manager.Version)) while an unprivileged user holds the
// resctrl lock and a StartDomain waits for it, against the same read with the lock free. Rounds
// alternate free and held; medians of the per-call latencies, and the slowest call while held.
void benchLockHeld(Bench& b, const fs::path& dir, const fs::path& profile) {
    fs::create_directories(dir);
    Env env(dir, profile, "[Daemon]\nMount=no\nSampleIntervalSec=0\nLockTimeoutSec=120\n",
            b.daemonEnv);
    FakeHypervisor vm(b.fakeHypervisor, dir, 4);
    env.start(domainXml("running", Shape{2, 1, 1, true}), threadsOf(vm, 2));
    const std::string waiting =
        "<domain type='kvm'><name>waiting</name><vcpu placement='static'>4</vcpu><cputune>"
        "<cachetune vcpus='2-3'><cache id='0' level='3' type='both' size='2560' "
        "unit='KiB'/></cachetune></cputune></domain>";
    const ThreadList waitingThreads{{2, static_cast<std::uint32_t>(vm.tid(2))},
                                    {3, static_cast<std::uint32_t>(vm.tid(3))}};
    const int calls = b.quick ? 200 : 1000;
    const int rounds = b.quick ? 3 : 5;
    constexpr uid_t kNobody = 65534;
    constexpr gid_t kNogroup = 65534;

    // Per-call latencies in µs of `calls` reads on the bench's own connection.
    auto readLatencies = [&] {
        std::vector<double> us;
        for (int i = 0; i < calls; ++i) {
            const auto start = Clock::now();
            env.manager->getProperty("Version").onInterface(kManager).get<std::string>();
            us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
        }
        return us;
    };
    std::vector<double> freeMedians, heldMedians;
    double heldWorst = 0;
    readLatencies(); // warm-up
    for (int r = 0; r < rounds; ++r) {
        freeMedians.push_back(medianOf(readLatencies()));
        resctrld::e2e::ResctrlLockHolder holder(env.sim.root(), kNobody, kNogroup);
        // Sent before the reads on the same connection, so the daemon holds it while they come.
        bool answered = false;
        std::string error;
        env.manager->callMethodAsync("StartDomain")
            .onInterface(kManager)
            .withArguments(waiting, waitingThreads)
            .uponReplyInvoke([&](const sdbus::Error* e, const sdbus::ObjectPath&) {
                answered = true;
                if (e)
                    error = e->getName() + ": " + e->getMessage();
            });
        const auto held = readLatencies();
        heldMedians.push_back(medianOf(held));
        heldWorst = std::max(heldWorst, *std::max_element(held.begin(), held.end()));
        if (answered)
            throw std::runtime_error("StartDomain was answered while the lock was held: " + error);
        holder.release();
        const auto deadline = Clock::now() + std::chrono::seconds(30);
        while (!answered && Clock::now() < deadline) {
            while (env.connection->processPendingRequest()) {
            }
            const auto data = env.connection->getEventLoopPollData();
            pollfd pfd{data.fd, data.events, 0};
            poll(&pfd, 1, 100);
        }
        if (!answered || !error.empty())
            throw std::runtime_error("the waiting StartDomain did not succeed: " + error);
        env.stop("waiting");
    }
    const double freeUs = medianOf(freeMedians), heldUs = medianOf(heldMedians);
    const std::string line = "root Get(Version) while another user holds the resctrl lock and a "
                             "StartDomain waits: " +
                             fixed(heldUs, 1) + " µs median (slowest " +
                             fixed(heldWorst / 1000, 1) + " ms), lock free " + fixed(freeUs, 1) +
                             " µs; ratio " + fixed(heldUs / freeUs) + " (target <= 2)";
    b.table.push_back(line);
    std::cout << line << std::endl;
    b.record("{\"bench\": \"read_while_lock_held\", \"free_us\": " + fixed(freeUs, 2) +
             ", \"held_us\": " + fixed(heldUs, 2) + ", \"held_worst_us\": " + fixed(heldWorst, 0) +
             ", \"ratio\": " + fixed(heldUs / freeUs, 3) + "}");
    env.stop("running");
}

// --- 5. memory ---------------------------------------------------------------------------------

// A field of /proc/<pid>/status in KiB ("VmRSS", "VmHWM").
long statusKiB(pid_t pid, const std::string& field) {
    std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/status"));
    for (std::string line; std::getline(in, line);)
        if (line.starts_with(field + ":"))
            return std::stol(line.substr(field.size() + 1));
    throw std::runtime_error("no " + field + " in /proc/" + std::to_string(pid) + "/status");
}

std::size_t openFds(pid_t pid) {
    return static_cast<std::size_t>(std::distance(
        fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd"), fs::directory_iterator{}));
}

// The daemon's peak RSS with 256 monitors (sampled every 0.2 s), then its RSS and open fds after
// a warm-up and after a soak of `soakSeconds` during which a client calls GetStats and
// Get(CacheOccupancy) and starts and stops a second domain over and over.
void benchMemory(Bench& b, const fs::path& dir, const fs::path& profile, int soakSeconds) {
    fs::create_directories(dir);
    Env env(dir, profile, "[Daemon]\nMount=no\nSampleIntervalSec=0.2\n", b.daemonEnv);
    const pid_t pid = env.pid();
    const long idleKiB = statusKiB(pid, "VmRSS");
    const unsigned monitors = 256;
    FakeHypervisor vm(b.fakeHypervisor, dir, monitors);
    env.manager->callMethod("StartDomain")
        .onInterface(kManager)
        .withTimeout(std::chrono::seconds(600))
        .withArguments(domainXml("memory", Shape{monitors, 1, monitors, false}),
                       threadsOf(vm, monitors));
    TickWatch watch(env.bus.address(), pid);
    watch.measure(b.quick ? 5 : 25, std::chrono::seconds(600));

    FakeHypervisor churnVm(b.fakeHypervisor, dir, 2);
    const std::string churnXml = domainXml("churn", Shape{2, 1, 1, true});
    auto churnFor = [&](std::chrono::seconds duration) {
        unsigned cycles = 0;
        for (const auto end = Clock::now() + duration; Clock::now() < end; ++cycles) {
            env.start(churnXml, threadsOf(churnVm, 2));
            std::map<std::string, sdbus::Variant> stats;
            env.manager->callMethod("GetStats")
                .onInterface(kManager)
                .withArguments(std::string("memory"))
                .storeResultsTo(stats);
            env.stop("churn");
            std::this_thread::sleep_for(std::chrono::milliseconds(100)); // a client's pace
        }
        return cycles;
    };
    // Between ticks, once the daemon answered a call (a stop's tail has ended).
    auto quiet = [&] {
        watch.measure(1, std::chrono::seconds(600));
        const std::string version = env.manager->getProperty("Version").onInterface(kManager);
        return std::pair{statusKiB(pid, "VmRSS"), openFds(pid)};
    };
    // The warm-up includes the soak's own work: the first cycles grow the heap once (sd-bus's
    // object tree, malloc's arenas), and that step is not growth over time.
    churnFor(std::chrono::seconds(std::max(10, soakSeconds / 10)));
    const auto [warmKiB, warmFds] = quiet();
    const unsigned cycles = churnFor(std::chrono::seconds(soakSeconds));
    const auto [endKiB, endFds] = quiet();
    const long peakKiB = statusKiB(pid, "VmHWM");
    env.stop("memory");

    const std::string line =
        "memory, " + std::to_string(monitors) + " monitors: peak RSS " +
        fixed(peakKiB / 1024.0, 1) + " MiB (idle " + fixed(idleKiB / 1024.0, 1) +
        " MiB); RSS after warm-up " + fixed(warmKiB / 1024.0, 2) + " MiB, after a " +
        std::to_string(soakSeconds) + " s soak (" + std::to_string(cycles) +
        " start/GetStats/stop cycles) " + fixed(endKiB / 1024.0, 2) + " MiB: growth " +
        std::to_string(endKiB - warmKiB) + " KiB; open fds " + std::to_string(warmFds) + " -> " +
        std::to_string(endFds);
    b.table.push_back(line);
    std::cout << line << std::endl;
    b.record("{\"bench\": \"memory\", \"monitors\": " + std::to_string(monitors) +
             ", \"idle_rss_kib\": " + std::to_string(idleKiB) + ", \"peak_rss_kib\": " +
             std::to_string(peakKiB) + ", \"warm_rss_kib\": " + std::to_string(warmKiB) +
             ", \"soak_seconds\": " + std::to_string(soakSeconds) + ", \"soak_cycles\": " +
             std::to_string(cycles) + ", \"end_rss_kib\": " + std::to_string(endKiB) +
             ", \"growth_kib\": " + std::to_string(endKiB - warmKiB) + ", \"warm_fds\": " +
             std::to_string(warmFds) + ", \"end_fds\": " + std::to_string(endFds) + "}");
}

} // namespace

int main(int argc, char** argv) {
    // Output piped into a reader that leaves early (`| head`, `grep -m1`) must not kill the bench
    // between its stacks' constructors and destructors: a signal death leaves the simulator, the
    // bus and the daemon of the running benchmark behind, ticking through every later run.
    std::signal(SIGPIPE, SIG_IGN);
    resctrld::bench::endWithChildrenOnSignal();
    Bench b;
    std::string jsonPath = "bench-results.json";
    int soakArg = -1;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--json" && i + 1 < argc)
            jsonPath = argv[++i];
        else if (arg == "--runs" && i + 1 < argc)
            b.runs = std::atoi(argv[++i]);
        else if (arg == "--quick")
            b.quick = true;
        else if ((arg == "--monitors" || arg == "--l3") && i + 1 < argc) {
            auto& counts = arg == "--l3" ? b.l3Counts : b.monitorCounts;
            counts.clear();
            std::istringstream list(argv[++i]);
            for (std::string n; std::getline(list, n, ',');)
                counts.push_back(static_cast<unsigned>(std::stoul(n)));
        } else if (arg == "--only" && i + 1 < argc)
            b.only = argv[++i];
        else if (arg == "--strace" && i + 1 < argc)
            b.straceDir = argv[++i];
        else if (arg == "--soak" && i + 1 < argc)
            soakArg = std::atoi(argv[++i]);
        else if (arg == "--daemon-config" && i + 1 < argc && std::strchr(argv[i + 1], '='))
            b.daemonConfig += std::string(argv[++i]) + "\n";
        else if (arg == "--daemon-env" && i + 1 < argc && std::strchr(argv[i + 1], '=')) {
            const std::string setting = argv[++i];
            const auto equals = setting.find('=');
            b.daemonEnv[setting.substr(0, equals)] = setting.substr(equals + 1);
        } else {
            std::cerr << "usage: resctrld-bench [--json FILE] [--runs N] [--quick] [--only "
                         "startstop|update|sampling|idle|reads|lock|memory|validate|layout|cli] "
                         "[--monitors N,N,..] [--l3 N,N,..] [--soak SECONDS] [--strace DIR] "
                         "[--daemon-env NAME=VALUE] [--daemon-config KEY=VALUE]\n";
            return 2;
        }
    }
    if (b.quick)
        b.runs = std::min(b.runs, 6);
    b.soakSeconds = soakArg >= 0 ? soakArg : b.quick ? 20 : 600;
    b.floorDbus = BENCH_FLOOR_DBUS;
    b.floorStartStop = BENCH_FLOOR_STARTSTOP;
    b.floorSample = BENCH_FLOOR_SAMPLE;
    b.fakeHypervisor = FAKE_HYPERVISOR_PATH;
    // tmpfs: the simulator's sysfs tree, the bus socket and the daemon's state directory (its
    // fsyncs would otherwise measure the shared disk).
    std::string pattern = "/dev/shm/resctrld-bench.XXXXXX";
    if (!mkdtemp(pattern.data())) {
        std::perror("mkdtemp");
        return 1;
    }
    b.dir = pattern;
    // Traversable by every user, as /sys/fs is: --only lock holds the resctrl lock as nobody.
    fs::permissions(b.dir, fs::perms::others_exec | fs::perms::group_exec, fs::perm_options::add);
    setenv("TMPDIR", b.dir.c_str(), 1);
    int rc = 0;
    try {
        const fs::path profile2 = writeProfile(b.dir, 2);
        auto wanted = [&](const char* name) {
            return b.only.empty() || b.only == name;
        };
        if (wanted("startstop")) {
            benchStartStop(b, "(a) 1 cachetune, 2 vCPUs, 1 monitor", Shape{2, 1, 1, true},
                           b.dir / "ss-a", profile2);
            benchStartStop(b, "(b) 4 cachetunes, 64 vCPUs, 8 monitors", Shape{64, 4, 2, true},
                           b.dir / "ss-b", profile2);
        }
        if (wanted("update")) {
            // The 4-cachetune domain of start/stop (b): its first allocation grown from one way
            // to two, and split into two allocations of 8 vCPUs (thread moves, a new group).
            const std::string resized = std::regex_replace(
                domainXml("bench", Shape{64, 4, 2, true}), std::regex("size='2560'"), "size='5120'",
                std::regex_constants::format_first_only);
            std::string split = domainXml("bench", Shape{64, 4, 2, true});
            split.replace(split.find("<cachetune vcpus='0-15'>"),
                          std::string("<cachetune vcpus='0-15'>").size(),
                          "<cachetune vcpus='0-7'><cache id='0' level='3' type='both' "
                          "size='2560' unit='KiB'/><monitor level='3' vcpus='0-7'/></cachetune>"
                          "<cachetune vcpus='8-15'>");
            // The first allocation's monitors stay 0-7 and 8-15; the 0-7 one becomes the default
            // monitor of its new allocation.
            split.replace(split.find("<monitor level='3' vcpus='0-7'/>",
                                     split.find("<cachetune vcpus='8-15'>")),
                          std::string("<monitor level='3' vcpus='0-7'/>").size(), "");
            benchUpdate(b, "(a) one allocation of 4 resized, 64 vCPUs", resized, b.dir / "update-a",
                        profile2);
            benchUpdate(b, "(b) one allocation of 4 split, 64 vCPUs", split, b.dir / "update-b",
                        profile2);
        }
        if (b.only == "counters") {
            benchCounters(b, b.dir / "counters");
        } else if (wanted("counters")) {
            // A full run goes on without it where the simulator has no counter assignment.
            try {
                benchCounters(b, b.dir / "counters");
            } catch (const std::exception& e) {
                const std::string line = std::string("counters: NOT MEASURED: ") + e.what();
                b.table.push_back(line);
                std::cout << line << std::endl;
            }
        }
        if (wanted("sampling")) {
            std::vector<SamplePoint> points;
            const std::vector<unsigned> counts =
                b.quick ? std::vector<unsigned>{16, 64} : b.monitorCounts;
            for (unsigned domains : b.l3Counts)
                benchSampling(b, domains, counts, points,
                              b.dir / ("sample-" + std::to_string(domains)));
            std::vector<double> x, yd, yf;
            for (const auto& p : points) {
                x.push_back(double(p.monitors) * p.domains);
                yd.push_back(p.daemonUs);
                yf.push_back(p.floorUs);
            }
            // The sampling part alone (the tick minus its health check, from perf), where measured.
            std::vector<double> xs, ys;
            for (const auto& p : points)
                if (p.healthUs > 0) {
                    xs.push_back(double(p.monitors) * p.domains);
                    ys.push_back(p.daemonUs - p.healthUs);
                }
            if (const auto part = fit(xs, ys)) {
                const auto [slopeS, interceptS] = *part;
                const std::string sline = "sampling part slope: " + fixed(slopeS, 2) +
                                          " us CPU per monitor x L3 domain per tick (+" +
                                          fixed(interceptS, 0) + " us)";
                b.table.push_back(sline);
                std::cout << sline << std::endl;
                b.record("{\"bench\": \"sampling_part_slope\", \"us_per_monitor_domain\": " +
                         fixed(slopeS, 3) + ", \"intercept_us\": " + fixed(interceptS, 1) + "}");
            }
            const auto daemonFit = fit(x, yd);
            const auto floorFit = fit(x, yf);
            if (daemonFit && floorFit) {
                const auto [slopeD, interceptD] = *daemonFit;
                const auto [slopeF, interceptF] = *floorFit;
                const std::string line = "sampling slope: daemon " + fixed(slopeD, 2) +
                                         " us CPU per monitor x L3 domain per tick (+" +
                                         fixed(interceptD, 0) + " us), floor " + fixed(slopeF, 2) +
                                         " us (+" + fixed(interceptF, 0) + " us), slope ratio " +
                                         fixed(slopeD / slopeF);
                b.table.push_back(line);
                std::cout << line << std::endl;
                b.record("{\"bench\": \"sampling_slope\", \"daemon_us_per_monitor_domain\": " +
                         fixed(slopeD, 3) + ", \"daemon_intercept_us\": " + fixed(interceptD, 1) +
                         ", \"floor_us_per_monitor_domain\": " + fixed(slopeF, 3) +
                         ", \"floor_intercept_us\": " + fixed(interceptF, 1) +
                         ", \"slope_ratio\": " + fixed(slopeD / slopeF, 3) + "}");
            }
        }
        if (wanted("sampling-snc")) {
            // Sub-NUMA Clustering (3 nodes per L3): 8 counter files per monitor, the two L3
            // sums and six nodes; target: at most 1.3 times the floor.
            std::vector<SamplePoint> points;
            benchSampling(b, 2, b.quick ? std::vector<unsigned>{16} : std::vector<unsigned>{16, 64},
                          points, b.dir / "sample-snc", "gnr-2s-snc3");
        }
        if (wanted("idle"))
            benchWakeups(b, b.dir / "idle", profile2);
        if (wanted("reads"))
            benchReads(b, b.dir / "reads", profile2);
        if (wanted("lock"))
            benchLockHeld(b, b.dir / "lock", profile2);
        if (wanted("memory"))
            benchMemory(b, b.dir / "memory", profile2, b.soakSeconds);
        if (wanted("validate"))
            for (const auto& row : resctrld::bench::benchValidate(b.dir / "validate", b.runs)) {
                b.table.push_back(row.line);
                b.record(row.json);
            }
        if (wanted("cli"))
            for (const auto& row : resctrld::bench::benchCli(
                     b.dir / "cli", b.runs, RESCTRLCTL_BINARY, BENCH_FLOOR_CLI, b.fakeHypervisor)) {
                b.table.push_back(row.line);
                b.record(row.json);
            }
        if (wanted("layout"))
            for (const auto& row : resctrld::bench::benchLayout(b.dir / "layout", b.runs,
                                                                b.floorDbus, b.fakeHypervisor)) {
                b.table.push_back(row.line);
                b.record(row.json);
            }
    } catch (const std::exception& e) {
        std::cerr << "resctrld-bench: " << e.what() << std::endl;
        rc = 1;
    }
    std::ofstream(jsonPath) << "{\n  \"results\": [" << b.json.str() << "\n  ]\n}\n";
    std::cout << "\n== resctrld benchmarks (every ratio against its floor, same run, same mount)\n";
    for (const auto& line : b.table)
        std::cout << "  " << line << "\n";
    std::cout << "JSON: " << jsonPath << std::endl;
    std::error_code ec;
    fs::remove_all(b.dir, ec);
    return rc;
}
