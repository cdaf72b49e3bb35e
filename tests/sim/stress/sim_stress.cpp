// SPDX-License-Identifier: LGPL-2.1-or-later
// Stress test of resctrlfs-sim: N processes (each with two parked
// threads) hammer one simulator with concurrent mkdir/rmdir/rename/schemata/tasks/cpus
// writes and reads for a given time, remove their own groups, and then the simulator must
// be alive, hold no group but the root, and hand out its whole CLOSID and RMID budgets again.
//
// Usage: sim-stress [--seconds N] [--procs N] [--profile P] [--kernel K]
// The simulator binary comes from $RESCTRLFS_SIM (or the path meson compiled in).
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "sim_instance.h"
#include "test_thread.h"

using namespace resctrld::simtest;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kMaxProcs = 64;
constexpr int kErrnoSlots = 160;

struct WorkerStats {
    std::atomic<unsigned long> ops;
    std::atomic<unsigned long> ok;
    std::atomic<unsigned long> unexpected;
    std::atomic<unsigned long> byErrno[kErrnoSlots];
    char firstUnexpected[256];
};

struct Options {
    int seconds = 20;
    int procs = 6;
    std::string profile = "skx-2s-l3cat";
    std::string kernel = "6.15";
};

// Errnos the kernel legitimately returns for the operations below under contention
// (budgets exhausted, races with our own rmdir, invalid random masks, ...).
bool isExpected(int err) {
    switch (err) {
    case 0:
    case ENOSPC:
    case EBUSY:
    case EEXIST:
    case ENOENT:
    case EINVAL:
    case EPERM:
    case ENODEV:
        return true;
    default:
        return false;
    }
}

class Worker {
public:
    Worker(const SimInstance& sim, int index, WorkerStats& stats, Clock::time_point deadline)
        : sim_(sim)
        , index_(index)
        , stats_(stats)
        , deadline_(deadline)
        , rng_(static_cast<unsigned>(index * 7919 + 17)) {}

    int run() {
        TestThread a, b;
        tids_ = {a.tid(), b.tid()};
        const uint32_t fullMask = readMask();
        while (Clock::now() < deadline_) {
            switch (pick(10)) {
            case 0:
            case 1:
                makeGroup();
                break;
            case 2:
                makeMonGroup();
                break;
            case 3:
                removeSomething();
                break;
            case 4:
                writeSchemata(fullMask);
                break;
            case 5:
            case 6:
                moveTask();
                break;
            case 7:
                writeCpus();
                break;
            case 8:
                renameMon();
                break;
            default:
                readSomething();
                break;
            }
        }
        // Clean up everything this worker made; the parent checks nothing leaked.
        for (const auto& g : ctrl_)
            record(removeDir(sim_.at(g)), "final rmdir " + g);
        for (const auto& m : rootMon_)
            record(removeDir(sim_.at("mon_groups/" + m)), "final rmdir mon_groups/" + m);
        return stats_.unexpected.load() == 0 ? 0 : 1;
    }

private:
    unsigned pick(unsigned n) { return std::uniform_int_distribution<unsigned>(0, n - 1)(rng_); }
    std::string name(const char* kind) {
        return "w" + std::to_string(index_) + "-" + kind + std::to_string(counter_++);
    }
    uint32_t readMask() {
        std::string s;
        if (readFile(sim_.at("info/L3/cbm_mask"), s) != 0)
            return 0;
        return static_cast<uint32_t>(std::stoul(s, nullptr, 16));
    }
    void record(int err, const std::string& what) {
        stats_.ops++;
        if (err == 0)
            stats_.ok++;
        if (err >= 0 && err < kErrnoSlots)
            stats_.byErrno[err]++;
        if (!isExpected(err) && stats_.unexpected++ == 0)
            std::snprintf(stats_.firstUnexpected, sizeof stats_.firstUnexpected, "%s: %s",
                          what.c_str(), std::strerror(err));
    }
    template <typename C> typename C::value_type any(const C& c) {
        auto it = c.begin();
        std::advance(it, pick(static_cast<unsigned>(c.size())));
        return *it;
    }

    void makeGroup() {
        const std::string g = name("g");
        const int err = makeDir(sim_.at(g));
        record(err, "mkdir " + g);
        if (err == 0)
            ctrl_.insert(g);
    }
    void makeMonGroup() {
        std::string parent = "";
        if (!ctrl_.empty() && pick(3) != 0)
            parent = any(ctrl_) + "/";
        const std::string m = name("m");
        const int err = makeDir(sim_.at(parent + "mon_groups/" + m));
        record(err, "mkdir " + parent + "mon_groups/" + m);
        if (err == 0) {
            if (parent.empty())
                rootMon_.insert(m);
            else
                mon_[parent + "mon_groups/" + m] = parent;
        }
    }
    void removeSomething() {
        if (!mon_.empty() && pick(2) == 0) {
            const std::string m = any(mon_).first;
            record(removeDir(sim_.at(m)), "rmdir " + m);
            mon_.erase(m);
        } else if (!ctrl_.empty()) {
            const std::string g = any(ctrl_);
            record(removeDir(sim_.at(g)), "rmdir " + g);
            ctrl_.erase(g);
            for (auto it = mon_.begin(); it != mon_.end();)
                it = it->second == g + "/" ? mon_.erase(it) : std::next(it);
        } else if (!rootMon_.empty()) {
            const std::string m = any(rootMon_);
            record(removeDir(sim_.at("mon_groups/" + m)), "rmdir mon_groups/" + m);
            rootMon_.erase(m);
        }
    }
    void writeSchemata(uint32_t fullMask) {
        const std::string target = ctrl_.empty() || pick(4) == 0 ? "" : any(ctrl_) + "/";
        char line[128];
        if (fullMask && pick(2) == 0) {
            const unsigned bits = 1 + pick(4);
            const unsigned shift = pick(8);
            const uint32_t mask = (((1u << bits) - 1) << shift) & fullMask;
            std::snprintf(line, sizeof line, "L3:%u=%x\n", pick(2), mask ? mask : 1u);
        } else if (pick(2) == 0) {
            std::snprintf(line, sizeof line, "MB:%u=%u\n", pick(2), 10 * (1 + pick(10)));
        } else {
            std::snprintf(line, sizeof line, "L3:%u=%s\n", pick(3), pick(2) ? "zz" : "5");
        }
        record(writeFile(sim_.at(target + "schemata"), line), "write " + target + "schemata");
        (void)lastCmdStatus(sim_);
    }
    void moveTask() {
        const pid_t tid = tids_[pick(2)];
        std::string target;
        const unsigned r = pick(4);
        if (r == 0 || (ctrl_.empty() && mon_.empty()))
            target = "";
        else if (r == 1 && !mon_.empty())
            target = any(mon_).first + "/";
        else if (!ctrl_.empty())
            target = any(ctrl_) + "/";
        record(writeFile(sim_.at(target + "tasks"), std::to_string(tid) + "\n"),
               "write " + target + "tasks");
    }
    void writeCpus() {
        if (ctrl_.empty())
            return;
        const std::string g = any(ctrl_);
        const unsigned cpu = 8 * static_cast<unsigned>(index_ % 8) + pick(8);
        record(writeFile(sim_.at(g + "/cpus_list"), std::to_string(cpu) + "\n"),
               "write " + g + "/cpus_list");
        if (pick(2) == 0)
            record(writeFile(sim_.at(g + "/cpus_list"), "\n"), "clear " + g + "/cpus_list");
    }
    void renameMon() {
        if (mon_.empty() || ctrl_.empty())
            return;
        const std::string from = any(mon_).first;
        const std::string parent = any(ctrl_) + "/";
        const std::string to = parent + "mon_groups/" + name("r");
        const int err = renamePath(sim_.at(from), sim_.at(to));
        record(err, "rename " + from + " " + to);
        if (err == 0) {
            mon_.erase(from);
            mon_[to] = parent;
        }
    }
    void readSomething() {
        static const char* files[] = {"tasks",
                                      "schemata",
                                      "cpus",
                                      "info/last_cmd_status",
                                      "mon_data/mon_L3_00/llc_occupancy",
                                      "info/L3/bit_usage",
                                      "size"};
        std::string out;
        const std::string prefix = ctrl_.empty() || pick(2) ? "" : any(ctrl_) + "/";
        std::string f = files[pick(7)];
        if (!prefix.empty() && f.starts_with("info/"))
            f = "tasks";
        record(readFile(sim_.at(prefix + f), out), "read " + prefix + f);
    }

    const SimInstance& sim_;
    int index_;
    WorkerStats& stats_;
    Clock::time_point deadline_;
    std::mt19937 rng_;
    unsigned counter_ = 0;
    std::vector<pid_t> tids_;
    std::set<std::string> ctrl_;
    std::set<std::string> rootMon_;
    std::map<std::string, std::string> mon_; // path -> parent ("g/")
};

int fail(const std::string& what) {
    std::fprintf(stderr, "sim-stress: FAIL: %s\n", what.c_str());
    return 1;
}

unsigned readNumber(const SimInstance& sim, const char* path) {
    return static_cast<unsigned>(std::stoul(readFile(sim.at(path))));
}

} // namespace

int main(int argc, char** argv) {
    Options opt;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string key = argv[i], value = argv[i + 1];
        if (key == "--seconds")
            opt.seconds = std::stoi(value);
        else if (key == "--procs")
            opt.procs = std::min(std::stoi(value), kMaxProcs);
        else if (key == "--profile")
            opt.profile = value;
        else if (key == "--kernel")
            opt.kernel = value;
        else
            return fail("unknown option " + key);
    }

    try {
        SimInstance sim({opt.profile, opt.kernel, "", false});
        auto* stats = static_cast<WorkerStats*>(::mmap(nullptr, sizeof(WorkerStats) * kMaxProcs,
                                                       PROT_READ | PROT_WRITE,
                                                       MAP_SHARED | MAP_ANONYMOUS, -1, 0));
        if (stats == MAP_FAILED)
            return fail("mmap");
        std::memset(static_cast<void*>(stats), 0, sizeof(WorkerStats) * kMaxProcs);

        const auto started = Clock::now();
        const auto deadline = started + std::chrono::seconds(opt.seconds);
        std::vector<pid_t> children;
        for (int i = 0; i < opt.procs; ++i) {
            const pid_t pid = ::fork();
            if (pid < 0)
                return fail("fork");
            if (pid == 0)
                ::_exit(Worker(sim, i, stats[i], deadline).run());
            children.push_back(pid);
        }
        int failedWorkers = 0;
        for (pid_t pid : children) {
            int status = 0;
            ::waitpid(pid, &status, 0);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                ++failedWorkers;
        }
        const double took = std::chrono::duration<double>(Clock::now() - started).count();

        unsigned long ops = 0, ok = 0, unexpected = 0;
        std::map<int, unsigned long> errnos;
        for (int i = 0; i < opt.procs; ++i) {
            ops += stats[i].ops;
            ok += stats[i].ok;
            unexpected += stats[i].unexpected;
            for (int e = 1; e < kErrnoSlots; ++e)
                if (stats[i].byErrno[e])
                    errnos[e] += stats[i].byErrno[e];
            if (stats[i].unexpected)
                std::fprintf(stderr, "worker %d: %lu unexpected, first: %s\n", i,
                             stats[i].unexpected.load(), stats[i].firstUnexpected);
        }
        std::printf("sim-stress: %s kernel %s: %d processes, %.1f s, %lu operations "
                    "(%.0f/s), %lu ok",
                    opt.profile.c_str(), opt.kernel.c_str(), opt.procs, took, ops, ops / took, ok);
        for (auto [e, n] : errnos)
            std::printf(", %s %lu", strerrorname_np(e), n);
        std::printf("\n");

        int failures = 0;
        if (!sim.isAlive())
            return fail("the simulator died; its stderr: " + sim.log());
        if (unexpected || failedWorkers)
            failures += fail(std::to_string(unexpected) + " unexpected errnos, " +
                             std::to_string(failedWorkers) + " failed workers");

        // No leaked group: only the root's own entries remain, and no root MON group.
        static const std::set<std::string> rootEntries = {
            "cpus",     "cpus_list", "info",  "mode",           "mon_data",          "mon_groups",
            "schemata", "size",      "tasks", "mba_MBps_event", "mbm_L3_assignments"};
        for (const auto& e : fs::directory_iterator(sim.root()))
            if (!rootEntries.count(e.path().filename()))
                failures += fail("leaked group " + e.path().filename().string());
        for (const auto& e : fs::directory_iterator(sim.at("mon_groups")))
            failures += fail("leaked MON group mon_groups/" + e.path().filename().string());
        if (lastCmdStatus(sim).empty())
            failures += fail("empty last_cmd_status");
        // Where counters are assigned, every group's went back to the pool: only the root's
        // two per domain (total and local) are taken.
        if (pathExists(sim.at("info/L3_MON/available_mbm_cntrs"))) {
            auto values = [&](const char* file) {
                std::vector<long> out;
                std::string text = readFile(sim.at(file));
                for (size_t eq = text.find('='); eq != std::string::npos;
                     eq = text.find('=', eq + 1))
                    out.push_back(std::stol(text.substr(eq + 1)));
                return out;
            };
            auto total = values("info/L3_MON/num_mbm_cntrs");
            auto available = values("info/L3_MON/available_mbm_cntrs");
            for (size_t d = 0; d < total.size(); ++d) {
                if (d >= available.size() || available[d] != total[d] - 2) {
                    failures += fail("counters leaked: available_mbm_cntrs " +
                                     readFile(sim.at("info/L3_MON/available_mbm_cntrs")));
                    break;
                }
            }
        }

        // Freed RMIDs sit in limbo until the next check finds them clean (docs/kernel.md §7.4); no
        // footprint is configured, so that takes about a second. Raise the threshold to
        // the largest value the simulated L3 accepts (default x num_rmids <= L3 size).
        const unsigned numRmids = readNumber(sim, "info/L3_MON/num_rmids");
        const auto threshold = sim.at("info/L3_MON/max_threshold_occupancy");
        const unsigned long long raised =
            std::stoull(readFile(threshold)) * static_cast<unsigned long long>(numRmids);
        if (int err = writeFile(threshold, std::to_string(raised)); err != 0)
            failures += fail("cannot raise max_threshold_occupancy to " + std::to_string(raised) +
                             ": " + std::strerror(err));
        // mkdir that waits out limbo (EBUSY) with a deadline.
        auto makeDirPatiently = [&](const fs::path& path) {
            int err = 0;
            waitUntil(
                [&] {
                    err = makeDir(path);
                    return err != EBUSY;
                },
                std::chrono::seconds(10));
            return err;
        };

        // Every CLOSID is reusable: exactly the budget of CTRL_MON groups fits.
        unsigned closids = 0;
        for (;; ++closids) {
            const int err = makeDirPatiently(sim.at("budget" + std::to_string(closids)));
            if (err == 0)
                continue;
            if (err != ENOSPC || lastCmdStatus(sim) != "Out of CLOSIDs\n")
                failures += fail("mkdir after stress: " + std::string(std::strerror(err)) +
                                 ", status " + lastCmdStatus(sim));
            break;
        }
        unsigned expectedClosids = ~0u;
        for (const char* res : {"info/L3/num_closids", "info/MB/num_closids"})
            if (pathExists(sim.at(res)))
                expectedClosids = std::min(expectedClosids, readNumber(sim, res));
        --expectedClosids;
        if (closids != expectedClosids)
            failures += fail("CLOSID budget after stress: " + std::to_string(closids) +
                             " groups, expected " + std::to_string(expectedClosids));

        // Every RMID is reusable too.
        unsigned monGroups = 0;
        while (makeDirPatiently(sim.at("budget0/mon_groups/m" + std::to_string(monGroups))) == 0)
            ++monGroups;
        const unsigned expectedMon = numRmids - 1 - closids;
        if (monGroups != expectedMon)
            failures += fail("RMID budget after stress: " + std::to_string(monGroups) +
                             " MON groups, expected " + std::to_string(expectedMon) + " (status " +
                             lastCmdStatus(sim) + ")");
        for (unsigned i = 0; i < closids; ++i)
            removeDir(sim.at("budget" + std::to_string(i)));
        if (!sim.isAlive())
            return fail("the simulator died at the end");
        const int status = sim.stop();
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failures += fail("simulator exit status " + std::to_string(status));
        if (failures)
            return 1;
        std::printf("sim-stress: PASS (CLOSIDs %u, MON groups %u re-created)\n", closids,
                    monGroups);
        return 0;
    } catch (const std::exception& e) {
        return fail(e.what());
    }
}
