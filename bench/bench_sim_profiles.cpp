// SPDX-License-Identifier: LGPL-2.1-or-later
// resctrlfs-sim's cost per host profile: start-up (spawn to the ready line, with and without
// the --sysfs tree) and the operations a client repeats (mkdir+rmdir of a group, a schemata
// write, a tasks write, an L3 counter read, a walk of mon_data), each as a ratio against the
// same measurement on the baseline profile in the same run. Target: every ratio <= --limit.
// The mon_data walk does work that the host's size dictates, as the kernel's would: it visits
// every entry the layout shows (SNC adds three node directories per L3), so its limit applies
// per entry, the raw ratio printed beside it. Start-up with --sysfs is held to the raw limit:
// the simulator generates that tree as it is read, so its start-up does not grow with the CPUs.
//
//   bench-sim-profiles [--runs N] [--iterations N] [--limit X] [--json FILE] [PROFILE...]
//
// The first profile is the baseline (default skx-2s-l3cat); the default list is kProfiles.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

#include "bench_util.h"
#include "sim_instance.h"

namespace fs = std::filesystem;
using resctrld::bench::fixed;
using resctrld::bench::medianOf;
using namespace resctrld::simtest;

namespace {

// Baseline first; a new profile is one more line.
const std::vector<std::string> kProfiles{
    "skx-2s-l3cat",
    "gnr-2s-snc3",
    "gnr-2s-nosnc",
    "turin-2s",
};

using Clock = std::chrono::steady_clock;

double microsSince(Clock::time_point start) {
    return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

struct Options {
    int runs = 7;
    int iterations = 200;
    double limit = 2.0;
    std::string json;
    std::vector<std::string> profiles;
};

struct Measure {
    std::string name;
    std::function<double(const std::string& profile, const Options&)> run; // median, us
    // For measures that scale with the host: the units one run covers.
    std::function<double(const std::string& profile)> units = nullptr;
};

void check(bool ok, const std::string& what) {
    if (!ok)
        throw std::runtime_error(what);
}

double startup(const std::string& profile, const Options& o, bool sysfs) {
    std::vector<double> samples;
    for (int r = 0; r < o.runs; ++r) {
        const auto start = Clock::now();
        SimInstance sim({profile, "6.15", "", sysfs});
        samples.push_back(microsSince(start));
    }
    return medianOf(samples);
}

// The median over `runs` of the mean cost of `op` over `iterations` calls, each run on a
// fresh mount (a freed RMID stays in limbo for a second, so mkdir+rmdir would run out).
double perOperation(const std::string& profile, const Options& o,
                    const std::function<void(SimInstance&, int)>& setup,
                    const std::function<void(SimInstance&, int)>& op) {
    std::vector<double> samples;
    for (int r = 0; r < o.runs; ++r) {
        SimInstance sim({profile, "6.15", "", false});
        setup(sim, 0);
        const auto start = Clock::now();
        for (int i = 0; i < o.iterations; ++i)
            op(sim, i);
        samples.push_back(microsSince(start) / o.iterations);
    }
    return medianOf(samples);
}

void noSetup(SimInstance&, int) {
}

std::vector<unsigned> l3IdsOf(SimInstance& sim) {
    std::vector<unsigned> ids;
    for (const auto& e : fs::directory_iterator(sim.at("mon_data"))) {
        const std::string n = e.path().filename().string();
        ids.push_back(static_cast<unsigned>(std::stoul(n.substr(n.rfind('_') + 1))));
    }
    return ids;
}

double monDataEntries(const std::string& profile) {
    SimInstance sim({profile, "6.15", "", false});
    double n = 0;
    for (const auto& e : fs::recursive_directory_iterator(sim.at("mon_data"))) {
        (void)e;
        ++n;
    }
    return n;
}

const std::vector<Measure> kMeasures{
    {"startup",
     [](const std::string& p, const Options& o) {
         return startup(p, o, false);
     }},
    {"startup --sysfs",
     [](const std::string& p, const Options& o) {
         return startup(p, o, true);
     }},
    {"mkdir+rmdir",
     [](const std::string& p, const Options& o) {
         // Fewer than the smallest RMID budget per mount.
         Options within = o;
         within.iterations = std::min(o.iterations, 100);
         return perOperation(p, within, noSetup, [](SimInstance& sim, int) {
             check(makeDir(sim.at("g")) == 0 && removeDir(sim.at("g")) == 0, "mkdir/rmdir");
         });
     }},
    {"schemata write",
     [](const std::string& p, const Options& o) {
         return perOperation(
             p, o, [](SimInstance& sim, int) { check(makeDir(sim.at("g")) == 0, "mkdir g"); },
             [](SimInstance& sim, int i) {
                 check(writeFile(sim.at("g/schemata"), i % 2 ? "L3:0=3\n" : "L3:0=f\n") == 0,
                       "schemata");
             });
     }},
    {"tasks write",
     [](const std::string& p, const Options& o) {
         return perOperation(
             p, o, [](SimInstance& sim, int) { check(makeDir(sim.at("g")) == 0, "mkdir g"); },
             [](SimInstance& sim, int i) {
                 const std::string tid = std::to_string(::syscall(SYS_gettid));
                 check(writeFile(sim.at(i % 2 ? "g/tasks" : "tasks"), tid) == 0, "tasks");
             });
     }},
    {"llc_occupancy read",
     [](const std::string& p, const Options& o) {
         return perOperation(
             p, o,
             [](SimInstance& sim, int) {
                 // This thread has a footprint on every L3 domain (spread over the nodes of an
                 // SNC host), so the read sums real values.
                 const std::string tid = std::to_string(::syscall(SYS_gettid));
                 std::string lines;
                 for (unsigned id : l3IdsOf(sim))
                     lines += tid + " " + std::to_string(id) + " 4194304\n";
                 sim.setControl("footprint", lines);
                 check(writeFile(sim.at("tasks"), tid) == 0, "tasks");
             },
             [](SimInstance& sim, int) {
                 std::string out;
                 check(readFile(sim.at("mon_data/mon_L3_00/llc_occupancy"), out) == 0 &&
                           out != "0\n",
                       "llc_occupancy");
             });
     }},
    {"mon_data walk",
     [](const std::string& p, const Options& o) {
         Options fewer = o;
         fewer.iterations = std::max(1, o.iterations / 20);
         return perOperation(p, fewer, noSetup, [](SimInstance& sim, int) {
             size_t n = 0;
             for (const auto& e : fs::recursive_directory_iterator(sim.at("mon_data"))) {
                 (void)e;
                 ++n;
             }
             check(n > 0, "mon_data walk");
         });
     },
     monDataEntries},
};

int usage() {
    std::fprintf(stderr, "usage: bench-sim-profiles [--runs N] [--iterations N] [--limit X] "
                         "[--json FILE] [PROFILE...]\n");
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool hasValue = i + 1 < argc;
        if (a == "--runs" && hasValue)
            o.runs = std::stoi(argv[++i]);
        else if (a == "--iterations" && hasValue)
            o.iterations = std::stoi(argv[++i]);
        else if (a == "--limit" && hasValue)
            o.limit = std::stod(argv[++i]);
        else if (a == "--json" && hasValue)
            o.json = argv[++i];
        else if (!a.empty() && a[0] == '-')
            return usage();
        else
            o.profiles.push_back(a);
    }
    if (o.profiles.empty())
        o.profiles = kProfiles;
    if (o.runs < 1 || o.iterations < 1)
        return usage();

    bool ok = true;
    std::string json = "{\"benchmark\":\"sim-profiles\",\"baseline\":\"" + o.profiles[0] +
                       "\",\"limit\":" + fixed(o.limit) + ",\"results\":[";
    // One start before measuring: the first spawn pays for cold caches.
    try {
        SimInstance warm({o.profiles[0], "6.15", "", true});
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench-sim-profiles: %s\n", e.what());
        return 1;
    }
    std::printf("%-20s %-14s %11s %11s %6s %6s %11s\n", "measure", "profile", "us", "baseline us",
                "units", "base", "ratio");
    bool firstJson = true;
    try {
        for (const auto& m : kMeasures) {
            const double base = m.run(o.profiles[0], o);
            const double baseUnits = m.units ? m.units(o.profiles[0]) : 0;
            for (size_t i = 1; i < o.profiles.size(); ++i) {
                const double v = m.run(o.profiles[i], o);
                const double units = m.units ? m.units(o.profiles[i]) : 0;
                const double ratio = base > 0 ? v / base : 0;
                // Per unit where the measure scales with the host (see the top of the file).
                const bool perUnit = units > 0 && baseUnits > 0;
                const double judged = perUnit ? ratio * baseUnits / units : ratio;
                const bool pass = judged <= o.limit;
                ok &= pass;
                std::printf("%-20s %-14s %11s %11s %6s %6s %11s%s\n", m.name.c_str(),
                            o.profiles[i].c_str(), fixed(v, 1).c_str(), fixed(base, 1).c_str(),
                            perUnit ? fixed(units, 0).c_str() : "-",
                            perUnit ? fixed(baseUnits, 0).c_str() : "-",
                            (fixed(ratio) + (perUnit ? " /u " + fixed(judged) : "")).c_str(),
                            pass ? "" : "  > limit");
                json += std::string(firstJson ? "" : ",") + "{\"measure\":\"" + m.name +
                        "\",\"profile\":\"" + o.profiles[i] + "\",\"us\":" + fixed(v, 1) +
                        ",\"baseline_us\":" + fixed(base, 1) + ",\"units\":" + fixed(units, 0) +
                        ",\"baseline_units\":" + fixed(baseUnits, 0) +
                        ",\"ratio\":" + fixed(ratio, 3) + ",\"ratio_judged\":" + fixed(judged, 3) +
                        "}";
                firstJson = false;
            }
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench-sim-profiles: %s\n", e.what());
        return 1;
    }
    json += "],\"pass\":" + std::string(ok ? "true" : "false") + "}\n";
    if (!o.json.empty())
        std::ofstream(o.json) << json;
    std::printf("%s: every ratio %s %s\n", ok ? "PASS" : "FAIL",
                ok ? "<=" : "not <=", fixed(o.limit).c_str());
    return ok ? 0 : 1;
}
