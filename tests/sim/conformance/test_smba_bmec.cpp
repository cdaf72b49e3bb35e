// SPDX-License-Identifier: LGPL-2.1-or-later
// docs/kernel.md §10 behaviours 37-39 (AMD SMBA, the slow-memory bandwidth schemata line)
// and 40-43 (AMD BMEC, the per-domain bandwidth event masks), on the turin-2s host.
#include <cerrno>
#include <fcntl.h>
#include <functional>
#include <sys/stat.h>

#include "test_support.h"
#include "test_thread.h"

using namespace resctrld::simtest;
namespace fs = std::filesystem;

namespace {

const std::vector<unsigned> kIds = range(0, 31);

std::string perDomain(const std::function<std::string(unsigned)>& value) {
    std::string s;
    for (unsigned id : kIds)
        s += (s.empty() ? "" : ";") + std::to_string(id) + "=" + value(id);
    return s + "\n";
}

std::string sameEverywhere(const std::string& value) {
    return perDomain([&](unsigned) { return value; });
}

std::set<std::string> listing(const fs::path& dir) {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(dir))
        names.insert(e.path().filename());
    return names;
}

std::string counterPath(const std::string& group, unsigned domain, const std::string& event) {
    char dir[32];
    std::snprintf(dir, sizeof dir, "mon_data/mon_L3_%02u/", domain);
    return group + (group.empty() ? "" : "/") + dir + event;
}

unsigned long long number(const std::string& s) {
    REQUIRE(!s.empty());
    REQUIRE(s.find_first_not_of("0123456789\n") == std::string::npos);
    return std::stoull(s);
}

} // namespace

TEST_CASE("b37: the SMBA line comes first, right-aligned, in 1/8 GB/s up to 2048 per L3 domain",
          "[sim][smba][b37]") {
    for (const std::string kernel : {"6.15", "6.19"}) {
        INFO("kernel " + kernel);
        SimInstance sim({"turin-2s", kernel, "", false});
        const std::string smba = "  SMBA:" + sameEverywhere("2048");
        const std::string mb = "    MB:" + sameEverywhere("2048");
        const std::string l3 = "    L3:" + sameEverywhere("ffff");
        CHECK(readFile(sim.at("schemata")) == smba + mb + l3);
        REQUIRE(makeDir(sim.at("g")) == 0);
        CHECK(readFile(sim.at("g/schemata")) == smba + mb + l3);
        REQUIRE(writeFile(sim.at("g/schemata"), "SMBA:0=64;31=3\n") == 0);
        const std::string changed = "  SMBA:" + perDomain([](unsigned d) {
                                        return d == 0 ? "64" : d == 31 ? "3" : "2048";
                                    });
        CHECK(readFile(sim.at("g/schemata")) == changed + mb + l3);
        // size shows the raw value, as for MB.
        CHECK(readFile(sim.at("g/size")).rfind(changed, 0) == 0);
        CHECK(readFile(sim.at("schemata")) == smba + mb + l3);
    }
    SECTION("before 6.3 there is no SMBA") {
        SimInstance sim({"turin-2s", "6.1", "", false});
        CHECK_FALSE(pathExists(sim.at("info/SMBA")));
        CHECK(readFile(sim.at("schemata")).find("SMBA") == std::string::npos);
        CHECK(writeFile(sim.at("schemata"), "SMBA:0=64\n") == EINVAL);
        CHECK_STATUS(sim, "Unknown or unsupported resource name 'SMBA'\n");
    }
}

TEST_CASE("b38: SMBA values are checked with the MB messages", "[sim][smba][b38]") {
    SimInstance sim({"turin-2s", "6.19", "", false});
    REQUIRE(makeDir(sim.at("g")) == 0);
    const auto file = sim.at("g/schemata");
    CHECK(writeFile(file, "SMBA:0=abc\n") == EINVAL);
    CHECK_STATUS(sim, "Invalid MB value abc\n");
    CHECK(writeFile(file, "SMBA:0=2049\n") == EINVAL);
    CHECK_STATUS(sim, "MB value 2049 out of range [0,2048]\n");
    CHECK(writeFile(file, "SMBA:0=1;0=2\n") == EINVAL);
    CHECK_STATUS(sim, "Duplicate domain 0\n");
    CHECK(writeFile(file, "SMBA:32=1\n") == EINVAL);
    CHECK_STATUS(sim, "ok\n");
    REQUIRE(writeFile(file, "SMBA:5=0\nMB:5=7\n") == 0);
    const std::string s = readFile(file);
    CHECK(s.find(";5=0;") != std::string::npos);
    CHECK(s.find("    MB:0=2048;1=2048;2=2048;3=2048;4=2048;5=7;") != std::string::npos);
}

TEST_CASE("b39: info/SMBA has four files and its CLOSID count limits the groups",
          "[sim][smba][b39]") {
    SECTION("turin-2s") {
        SimInstance sim({"turin-2s", "6.19", "", false});
        CHECK(listing(sim.at("info/SMBA")) == std::set<std::string>{"bandwidth_gran",
                                                                    "delay_linear", "min_bandwidth",
                                                                    "num_closids"});
        CHECK(readFile(sim.at("info/SMBA/num_closids")) == "16\n");
        CHECK(readFile(sim.at("info/SMBA/min_bandwidth")) == "0\n");
        CHECK(readFile(sim.at("info/SMBA/bandwidth_gran")) == "1\n");
        CHECK(readFile(sim.at("info/SMBA/delay_linear")) == "0\n");
    }
    SECTION("a host whose SMBA has 4 CLOSIDs allows 3 groups") {
        ProfileFile host("[host]\ncpus = 16\ncores_per_l3 = 8\nl3_ids = 0\n"
                         "[L3]\nnum_closids = 16\ncbm_mask = ffff\nmin_cbm_bits = 0\n"
                         "[MB]\nnum_closids = 16\nmin_bandwidth = 0\nbandwidth_gran = 1\n"
                         "delay_linear = false\nmax_bandwidth = 2048\nthread_throttle_mode =\n"
                         "[SMBA]\nnum_closids = 4\nmax_bandwidth = 1024\n");
        SimInstance sim({host.path(), "6.15", "", false});
        for (int i = 1; i <= 3; ++i)
            REQUIRE(makeDir(sim.at("g" + std::to_string(i))) == 0);
        CHECK(makeDir(sim.at("g4")) == ENOSPC);
        CHECK_STATUS(sim, "Out of CLOSIDs\n");
        CHECK(readFile(sim.at("g1/schemata")).rfind("  SMBA:0=1024\n", 0) == 0);
    }
}

TEST_CASE("b40/b41: BMEC masks read per domain and are written item by item",
          "[sim][bmec][b40][b41]") {
    SimInstance sim({"turin-2s", "6.15", "", false});
    const auto total = sim.at("info/L3_MON/mbm_total_bytes_config");
    const auto local = sim.at("info/L3_MON/mbm_local_bytes_config");
    CHECK(readFile(total) == sameEverywhere("0x7f"));
    CHECK(readFile(local) == sameEverywhere("0x15"));

    REQUIRE(writeFile(total, "0=0x33;1=33\n") == 0);
    CHECK(readFile(total).rfind("0=0x33;1=0x33;2=0x7f;", 0) == 0);
    REQUIRE(writeFile(local, " 4=1 \n") == 0); // items are trimmed as a whole
    CHECK(readFile(local).rfind("0=0x15;1=0x15;2=0x15;3=0x15;4=0x01;5=0x15;", 0) == 0);

    provokeStatus(sim);
    CHECK(writeFile(total, "0=0x1") == EINVAL);
    CHECK_STATUS(sim, kProvokedStatus);
    CHECK(writeFile(total, "x=0x1\n") == EINVAL);
    CHECK_STATUS(sim, "Missing '=' or non-numeric domain id\n");
    CHECK(writeFile(total, "0\n") == EINVAL);
    CHECK_STATUS(sim, "Missing '=' or non-numeric domain id\n");
    CHECK(writeFile(total, "0=zz\n") == EINVAL);
    CHECK_STATUS(sim, "Non-numeric event configuration value\n");
    CHECK(writeFile(total, "0=0x80\n") == EINVAL);
    CHECK_STATUS(sim, "Invalid event configuration: max valid mask is 0x7f\n");
    // Earlier items stay applied; an unknown domain fails with status ok.
    CHECK(writeFile(total, "2=0x1;3=0xff\n") == EINVAL);
    CHECK(readFile(total).rfind("0=0x33;1=0x33;2=0x01;3=0x7f;", 0) == 0);
    CHECK(writeFile(total, "5=0x2;99=0x1;6=0x2\n") == EINVAL);
    CHECK_STATUS(sim, "ok\n");
    CHECK(readFile(total).rfind("0=0x33;1=0x33;2=0x01;3=0x7f;4=0x7f;5=0x02;6=0x7f;", 0) == 0);
}

TEST_CASE("b42: a changed BMEC mask resets both counters of every RMID on that domain only",
          "[sim][bmec][b42]") {
    SimInstance sim({"turin-2s", "6.15", "", false});
    TestThread t;
    REQUIRE(makeDir(sim.at("g")) == 0);
    REQUIRE(writeFile(sim.at("g/tasks"), std::to_string(t.tid())) == 0);
    sim.setControl("traffic", std::to_string(t.tid()) + " 0 1000000000\n" +
                                  std::to_string(t.tid()) + " 1 1000000000\n");
    auto read = [&](const std::string& g, unsigned d, const std::string& e) {
        return readFile(sim.at(counterPath(g, d, e)));
    };
    CHECK(waitUntil([&] { return number(read("g", 0, "mbm_total_bytes")) > 300000000; }));
    const auto d1Before = number(read("g", 1, "mbm_local_bytes"));

    // Writing the current value is no change.
    REQUIRE(writeFile(sim.at("info/L3_MON/mbm_total_bytes_config"), "0=0x7f\n") == 0);
    CHECK(number(read("g", 0, "mbm_total_bytes")) > 300000000);

    REQUIRE(writeFile(sim.at("info/L3_MON/mbm_total_bytes_config"), "0=0x33\n") == 0);
    CHECK(read("g", 0, "mbm_total_bytes") == "Unavailable\n");
    CHECK(read("g", 0, "mbm_local_bytes") == "Unavailable\n");
    CHECK(read("", 0, "mbm_total_bytes") == "Unavailable\n");
    CHECK(number(read("g", 0, "mbm_total_bytes")) < 300000000);
    CHECK(read("", 0, "mbm_local_bytes") == "Unavailable\n");
    CHECK(number(read("", 0, "mbm_local_bytes")) == 0);
    CHECK(number(read("g", 1, "mbm_local_bytes")) >= d1Before);
}

TEST_CASE("b43: the BMEC files exist only in default counter mode on hardware that has them",
          "[sim][bmec][b43]") {
    SimInstance sim({"turin-2s", "6.19", "", false});
    const auto total = sim.at("info/L3_MON/mbm_total_bytes_config");
    const std::string plain = "llc_occupancy\nmbm_total_bytes\nmbm_local_bytes\n";
    const std::string withConfig = "llc_occupancy\nmbm_total_bytes\nmbm_total_bytes_config\n"
                                   "mbm_local_bytes\nmbm_local_bytes_config\n";
    CHECK_FALSE(pathExists(total));
    CHECK(openErrno(total, O_RDONLY) == ENOENT);
    CHECK(listing(sim.at("info/L3_MON")).count("mbm_local_bytes_config") == 0);
    CHECK(readFile(sim.at("info/L3_MON/mon_features")) == plain);

    REQUIRE(writeFile(sim.at("info/L3_MON/mbm_assign_mode"), "default\n") == 0);
    CHECK(readFile(total) == sameEverywhere("0x7f"));
    CHECK(readFile(sim.at("info/L3_MON/mon_features")) == withConfig);
    struct stat st {};
    REQUIRE(::stat(total.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0644);

    REQUIRE(writeFile(sim.at("info/L3_MON/mbm_assign_mode"), "mbm_event\n") == 0);
    CHECK_FALSE(pathExists(total));
    CHECK(readFile(sim.at("info/L3_MON/mon_features")) == plain);

    for (const SimOptions& o :
         {SimOptions{"turin-2s", "6.1", "", false}, SimOptions{"milan-2s", "6.15", "", false}}) {
        INFO(o.describe());
        SimInstance other(o);
        CHECK_FALSE(pathExists(other.at("info/L3_MON/mbm_total_bytes_config")));
        CHECK_FALSE(pathExists(other.at("info/L3_MON/mbm_local_bytes_config")));
    }
}
