// SPDX-License-Identifier: LGPL-2.1-or-later
// Behaviours 14, 15, 18, 19 and 20 of "What a model of resctrl must get right" in docs/kernel.md:
// mode, last_cmd_status, file modes, mount-time configuration, concurrency.
#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "test_support.h"
#include "test_thread.h"

using namespace resctrld::simtest;
namespace fs = std::filesystem;

namespace {

struct Stat {
    int err = 0;
    struct stat st {};
};
Stat statOf(const fs::path& p) {
    Stat s;
    if (::lstat(p.c_str(), &s.st) != 0)
        s.err = errno;
    return s;
}

// Runs fn in a forked child and returns its exit code (fn's return value).
int inChild(const std::function<int()>& fn) {
    pid_t pid = ::fork();
    if (pid == 0)
        ::_exit(fn());
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

} // namespace

TEST_CASE("b14: mode transitions and refusals", "[sim][mode][b14]") {
    const SimOptions opt = GENERATE(values<SimOptions>({{"skx-2s-l3cat", "6.15", "", false},
                                                        {"milan-2s", "6.1", "", false},
                                                        {"bdx-2s", "6.15", "cdp", false},
                                                        {"skx-2s-no-l3cat", "6.15", "", false}}));
    INFO(opt.describe());
    SimInstance sim(opt);
    const auto& facts = profileFacts(opt.profile);
    REQUIRE(makeDir(sim.at("g1")) == 0);
    const auto mode = sim.at("g1/mode");
    CHECK(readFile(mode) == "shareable\n");
    CHECK(readFile(sim.at("mode")) == "shareable\n");

    provokeStatus(sim);
    CHECK(writeFile(mode, "shareable\n") == 0);
    CHECK_STATUS(sim, "ok\n");

    provokeStatus(sim);
    CHECK(writeFile(mode, "exclusive") == EINVAL); // newline required, no msg (<= 6.17)
    CHECK_STATUS(sim, kProvokedStatus);
    CHECK(writeFile(mode, "bogus\n") == EINVAL);
    CHECK_STATUS(sim, "Unknown or unsupported mode\n");
    CHECK(writeFile(mode, "ok\n") == EINVAL);
    CHECK_STATUS(sim, "Unknown or unsupported mode\n");
    CHECK(writeFile(mode, "pseudo-locked\n") == EINVAL);
    CHECK_STATUS(sim, "Unknown or unsupported mode\n");

    if (!facts.hasL3Cat) {
        CHECK(writeFile(mode, "exclusive\n") == EINVAL);
        CHECK_STATUS(sim, "Cannot be exclusive without CAT/CDP\n");
    } else {
        // The new group's default mask overlaps the root: refused.
        CHECK(writeFile(mode, "exclusive\n") == EINVAL);
        CHECK_STATUS(sim, "Schemata overlaps\n");
        CHECK(writeFile(sim.at("mode"), "exclusive\n") == EINVAL);
        CHECK_STATUS(sim, "Schemata overlaps\n");
        // Shrink the root away from the low ways and give them to g1: now it may.
        const std::string root = isCdp(opt) ? "L3CODE" : "L3";
        const uint32_t rootMask = facts.cbmMask & ~0xfu & ~facts.shareableBits;
        std::string rootLine = l3AllLine(facts, rootMask, root);
        std::string g1Line = l3AllLine(facts, 0x3, root);
        if (isCdp(opt)) {
            rootLine += l3AllLine(facts, rootMask, "L3DATA");
            g1Line += l3AllLine(facts, 0xc, "L3DATA");
        }
        REQUIRE(writeFile(sim.at("schemata"), rootLine) == 0);
        REQUIRE(writeFile(sim.at("g1/schemata"), g1Line) == 0);
        CHECK(writeFile(mode, "exclusive\n") == 0);
        CHECK_STATUS(sim, "ok\n");
        CHECK(readFile(mode) == "exclusive\n");
        CHECK(writeFile(mode, "exclusive\n") == 0);
        CHECK(writeFile(mode, "shareable\n") == 0);
        CHECK(readFile(mode) == "shareable\n");
    }

    // Pseudo-locking refusals in the kernel's order: the default group first, then CDP, or a CPU
    // that cannot pseudo-lock.
    CHECK(writeFile(sim.at("mode"), "pseudo-locksetup\n") == EINVAL);
    CHECK_STATUS(sim, "Cannot pseudo-lock default group\n");
    if (isCdp(opt)) {
        CHECK(writeFile(mode, "pseudo-locksetup\n") == EINVAL);
        CHECK_STATUS(sim, "CDP enabled\n");
    } else if (facts.amd) {
        CHECK(writeFile(mode, "pseudo-locksetup\n") == EINVAL);
        CHECK_STATUS(sim, "Pseudo-locking not supported\n");
    }
    CHECK(readFile(mode) == "shareable\n");
}

TEST_CASE("b15: last_cmd_status is global, cleared per command, untouched by early exits",
          "[sim][status][b15]") {
    const SimOptions opt = GENERATE(
        values<SimOptions>({{"skx-2s-l3cat", "6.15", "", false}, {"milan-2s", "6.1", "", false}}));
    INFO(opt.describe());
    SimInstance sim(opt);
    CHECK_STATUS(sim, "ok\n"); // a successful mount clears it

    // Commands clear it at their start.
    provokeStatus(sim);
    REQUIRE(makeDir(sim.at("g1")) == 0);
    CHECK_STATUS(sim, "ok\n");
    provokeStatus(sim);
    CHECK(writeFile(sim.at("g1/tasks"), std::to_string(::getpid())) == 0);
    CHECK_STATUS(sim, "ok\n");
    provokeStatus(sim);
    CHECK(writeFile(sim.at("g1/schemata"), "L3:0=3\n") == 0);
    CHECK_STATUS(sim, "ok\n");
    provokeStatus(sim);
    CHECK(writeFile(sim.at("g1/cpus_list"), "1\n") == 0);
    CHECK_STATUS(sim, "ok\n");

    // Global: a failure in one group's file shows in the one status file, whoever reads it.
    CHECK(writeFile(sim.at("g1/schemata"), "L3:0=zz\n") == EINVAL);
    std::string seenByOther;
    std::thread([&] { seenByOther = lastCmdStatus(sim); }).join();
    CHECK(seenByOther == "Non-hex character in the mask zz\n");

    // Reads and rmdir leave it alone (<= 6.17).
    provokeStatus(sim);
    (void)readFile(sim.at("g1/tasks"));
    (void)readFile(sim.at("g1/schemata"));
    (void)readFile(sim.at("g1/mode"));
    (void)readFile(sim.at("g1/size"));
    (void)readFile(sim.at("g1/cpus"));
    (void)readFile(sim.at("g1/mon_data/mon_L3_00/llc_occupancy"));
    CHECK_STATUS(sim, kProvokedStatus);
    REQUIRE(makeDir(sim.at("g2")) == 0);
    provokeStatus(sim);
    CHECK(removeDir(sim.at("g2")) == 0);
    CHECK_STATUS(sim, kProvokedStatus);

    // Early exits: E2BIG above 4096 bytes, a missing newline.
    const std::string big(4097, '1');
    CHECK(writeFile(sim.at("g1/tasks"), big) == E2BIG);
    CHECK(writeFile(sim.at("g1/schemata"), std::string(4096, ' ') + "L3:0=3\n") == E2BIG);
    CHECK(writeFile(sim.at("g1/schemata"), "L3:0=3") == EINVAL);
    CHECK_STATUS(sim, kProvokedStatus);
}

TEST_CASE("b18: file modes, st_size 0, EACCES on write-open of read-only files",
          "[sim][files][b18]") {
    const SimOptions opt = GENERATE(
        values<SimOptions>({{"skx-2s-l3cat", "6.15", "", false}, {"milan-2s", "6.1", "", false}}));
    INFO(opt.describe());
    SimInstance sim(opt);
    REQUIRE(makeDir(sim.at("g1"), 0750) == 0);
    REQUIRE(makeDir(sim.at("g1/mon_groups/m"), 0700) == 0);
    REQUIRE(makeDir(sim.at("zero"), 0) == 0);
    // A member thread, so that every tasks file below has content to read.
    TestThread member;
    REQUIRE(writeFile(sim.at("g1/tasks"), std::to_string(member.tid())) == 0);
    REQUIRE(writeFile(sim.at("g1/mon_groups/m/tasks"), std::to_string(member.tid())) == 0);

    struct Expect {
        const char* path;
        mode_t mode;
        bool dir;
    };
    const std::vector<Expect> expects = {
        {"", 0555, true},
        {"info", 0555, true},
        {"info/L3", 0555, true},
        {"info/MB", 0555, true},
        {"info/L3_MON", 0555, true},
        {"mon_groups", 0555, true},
        {"mon_data", 0555, true},
        {"mon_data/mon_L3_00", 0555, true},
        {"tasks", 0644, false},
        {"cpus", 0644, false},
        {"cpus_list", 0644, false},
        {"schemata", 0644, false},
        {"mode", 0644, false},
        {"size", 0444, false},
        {"info/last_cmd_status", 0444, false},
        {"info/L3/cbm_mask", 0444, false},
        {"info/L3/bit_usage", 0444, false},
        {"info/L3_MON/num_rmids", 0444, false},
        {"info/L3_MON/max_threshold_occupancy", 0644, false},
        {"mon_data/mon_L3_00/llc_occupancy", 0444, false},
        {"mon_data/mon_L3_00/mbm_total_bytes", 0444, false},
        {"g1", 0750, true},
        {"g1/mon_groups", 0750, true},
        {"g1/mon_data", 0750, true},
        {"g1/mon_data/mon_L3_00", 0750, true},
        {"g1/tasks", 0644, false},
        {"g1/schemata", 0644, false},
        {"g1/size", 0444, false},
        {"g1/mon_groups/m", 0700, true},
        {"g1/mon_groups/m/tasks", 0644, false},
        {"zero", 0, true},
    };
    for (const auto& e : expects) {
        INFO(e.path);
        const Stat s = statOf(sim.at(e.path));
        REQUIRE(s.err == 0);
        CHECK((s.st.st_mode & 07777) == e.mode);
        CHECK(S_ISDIR(s.st.st_mode) == e.dir);
        CHECK(s.st.st_uid == 0);
        CHECK(s.st.st_gid == 0);
        if (!e.dir) {
            CHECK(s.st.st_size == 0);
            std::string content;
            CHECK(readFile(sim.at(e.path), content) == 0);
            CHECK_FALSE(content.empty()); // direct I/O: content despite st_size 0
            if ((e.mode & 0222) == 0) {
                CHECK(openErrno(sim.at(e.path), O_WRONLY) == EACCES);
                CHECK(openErrno(sim.at(e.path), O_RDWR) == EACCES);
            }
        }
    }
    // MON groups have no schemata, size or mode.
    CHECK(statOf(sim.at("g1/mon_groups/m/schemata")).err == ENOENT);
    CHECK(statOf(sim.at("g1/mon_groups/m/size")).err == ENOENT);
    CHECK(statOf(sim.at("g1/mon_groups/m/mode")).err == ENOENT);
    CHECK(statOf(sim.at("g1/mon_groups/m/mon_groups")).err == ENOENT);
    CHECK(pathExists(sim.at("g1/mon_groups/m/mon_data/mon_L3_00/llc_occupancy")));
    // Files cannot be created by hand.
    CHECK(openErrno(sim.at("newfile"), O_WRONLY | O_CREAT) != 0);
    CHECK_FALSE(pathExists(sim.at("newfile")));
}

TEST_CASE("b19: info contents of each profile shape", "[sim][info][b19]") {
    const SimOptions opt = GENERATE(values<SimOptions>({{"skx-2s-l3cat", "6.15", "", false},
                                                        {"skx-2s-l3cat", "6.1", "", false},
                                                        {"skx-2s-no-l3cat", "6.15", "", false},
                                                        {"bdx-2s", "6.15", "", false},
                                                        {"bdx-2s", "6.1", "cdp", false},
                                                        {"milan-2s", "6.15", "", false}}));
    INFO(opt.describe());
    const auto started = std::chrono::steady_clock::now();
    SimInstance sim(opt);
    // The simulator must start in under a second.
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(1));
    const auto& facts = profileFacts(opt.profile);
    const bool cdp = isCdp(opt);
    CHECK_STATUS(sim, "ok\n");

    std::vector<std::string> caches;
    if (facts.hasL3Cat)
        caches =
            cdp ? std::vector<std::string>{"L3CODE", "L3DATA"} : std::vector<std::string>{"L3"};
    CHECK(pathExists(sim.at("info/L3")) == (facts.hasL3Cat && !cdp));
    CHECK_FALSE(pathExists(sim.at(cdp ? "info/L3" : "info/L3CODE")));
    for (const auto& c : caches) {
        INFO(c);
        const auto dir = sim.at("info/" + c);
        CHECK(readFile(dir / "num_closids") ==
              std::to_string(cdp ? facts.l3Closids / 2 : facts.l3Closids) + "\n");
        CHECK(readFile(dir / "cbm_mask") == hex(facts.cbmMask) + "\n");
        CHECK(readFile(dir / "min_cbm_bits") == std::to_string(facts.minCbmBits) + "\n");
        CHECK(readFile(dir / "shareable_bits") == hex(facts.shareableBits) + "\n");
        // sparse_masks appeared in 6.7/6.8: absent on 6.1.
        if (isOldKernel(opt))
            CHECK_FALSE(pathExists(dir / "sparse_masks"));
        else
            CHECK(readFile(dir / "sparse_masks") == (facts.sparseMasks ? "1\n" : "0\n"));
    }
    CHECK(pathExists(sim.at("info/MB")) == facts.hasMb);
    if (facts.hasMb) {
        CHECK(readFile(sim.at("info/MB/num_closids")) == std::to_string(facts.mbClosids) + "\n");
        CHECK(readFile(sim.at("info/MB/min_bandwidth")) == std::to_string(facts.mbMin) + "\n");
        CHECK(readFile(sim.at("info/MB/bandwidth_gran")) == std::to_string(facts.mbGran) + "\n");
        CHECK(readFile(sim.at("info/MB/delay_linear")) == (facts.amd ? "0\n" : "1\n"));
        CHECK(pathExists(sim.at("info/MB/thread_throttle_mode")) == !facts.amd);
    }
    CHECK(readFile(sim.at("info/L3_MON/num_rmids")) == std::to_string(facts.numRmids) + "\n");
    CHECK(readFile(sim.at("info/L3_MON/mon_features")) ==
          "llc_occupancy\nmbm_total_bytes\nmbm_local_bytes\n");
    // mon_data: one mon_L3_%02d per L3 domain, nothing else.
    std::set<std::string> monDirs, expectedDirs;
    for (const auto& e : fs::directory_iterator(sim.at("mon_data")))
        monDirs.insert(e.path().filename());
    for (unsigned id : facts.l3Ids) {
        char name[32];
        std::snprintf(name, sizeof name, "mon_L3_%02u", id);
        expectedDirs.insert(name);
    }
    CHECK(monDirs == expectedDirs);
    // The root owns every online CPU.
    CHECK(readFile(sim.at("cpus_list")) == "0-" + std::to_string(facts.cpus - 1) + "\n");
    CHECK_FALSE(pathExists(sim.at("mba_MBps_event")));

    // SIGTERM: clean unmount and exit 0.
    const auto root = sim.root();
    const int status = sim.stop();
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK_FALSE(pathExists(root / "info"));
}

TEST_CASE("b19: mba_MBps mount option", "[sim][info][b19]") {
    SimInstance sim({"skx-2s-l3cat", "6.15", "mba_MBps", false});
    const auto& facts = profileFacts("skx-2s-l3cat");
    const SimOptions opt = sim.options();
    CHECK(readFile(sim.at("schemata")) == SchemataText(facts, opt).schemata());
    REQUIRE(makeDir(sim.at("g1")) == 0);
    REQUIRE(makeDir(sim.at("g1/mon_groups/m")) == 0);
    CHECK(readFile(sim.at("mba_MBps_event")) == "mbm_local_bytes\n");
    CHECK(readFile(sim.at("g1/mba_MBps_event")) == "mbm_local_bytes\n");
    CHECK_FALSE(pathExists(sim.at("g1/mon_groups/m/mba_MBps_event")));
    CHECK(writeFile(sim.at("g1/mba_MBps_event"), "mbm_total_bytes\n") == 0);
    CHECK(readFile(sim.at("g1/mba_MBps_event")) == "mbm_total_bytes\n");
    CHECK(writeFile(sim.at("g1/mba_MBps_event"), "foo\n") == EINVAL);
    CHECK_STATUS(sim, "Unsupported event id 'foo'\n");
    // In MBps mode the kernel takes any MiB/s value: no range check, stored as given.
    CHECK(writeFile(sim.at("g1/schemata"), "MB:0=5000\nMB:1=5\n") == 0);
    CHECK(readFile(sim.at("g1/schemata")) ==
          SchemataText(facts, opt).mb(0, 5000).mb(1, 5).schemata());
    CHECK(readFile(sim.at("g1/size")) == SchemataText(facts, opt).mb(0, 5000).mb(1, 5).size());
}

TEST_CASE("b19: impossible mount configurations fail loudly", "[sim][info][b19]") {
    // No MBA on Broadwell: mba_MBps is refused; no L2 CDP on Skylake; unknown names.
    CHECK_THROWS(SimInstance({"bdx-2s", "6.15", "mba_MBps", false}));
    CHECK_THROWS(SimInstance({"skx-2s-l3cat", "6.15", "cdpl2", false}));
    CHECK_THROWS(SimInstance({"skx-2s-l3cat", "6.15", "bogus", false}));
    CHECK_THROWS(SimInstance({"no-such-profile", "6.15", "", false}));
    CHECK_THROWS(SimInstance({"skx-2s-l3cat", "5.0", "", false}));
}

TEST_CASE("b20: flock on the root between processes; foreign writers; one mutex",
          "[sim][concurrency][b20]") {
    const SimOptions opt = GENERATE(
        values<SimOptions>({{"skx-2s-l3cat", "6.15", "", false}, {"milan-2s", "6.1", "", false}}));
    INFO(opt.describe());
    SimInstance sim(opt);
    const auto& facts = profileFacts(opt.profile);
    const std::string root = sim.root().string();

    int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY);
    REQUIRE(fd >= 0);
    REQUIRE(::flock(fd, LOCK_EX) == 0);
    auto tryLock = [&](int how) {
        return inChild([&] {
            int cfd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY);
            if (cfd < 0)
                return 100;
            if (::flock(cfd, how | LOCK_NB) == 0)
                return 0;
            return errno == EWOULDBLOCK ? 1 : 101;
        });
    };
    CHECK(tryLock(LOCK_EX) == 1);
    CHECK(tryLock(LOCK_SH) == 1);
    REQUIRE(::flock(fd, LOCK_UN) == 0);
    CHECK(tryLock(LOCK_EX) == 0);
    REQUIRE(::flock(fd, LOCK_SH) == 0);
    CHECK(tryLock(LOCK_SH) == 0);
    CHECK(tryLock(LOCK_EX) == 1);
    ::close(fd);

    // A foreign process edits groups; this process sees the result at once.
    CHECK(inChild([&] {
              if (makeDir(sim.at("foreign")) != 0)
                  return 1;
              return writeFile(sim.at("foreign/schemata"), "L3:0=3\n") == 0 ? 0 : 2;
          }) == 0);
    CHECK(pathExists(sim.at("foreign")));
    CHECK(readFile(sim.at("foreign/schemata")) == SchemataText(facts, opt).l3(0, 3).schemata());
    REQUIRE(removeDir(sim.at("foreign")) == 0);

    // Racing mkdirs of one name: exactly one wins.
    {
        std::atomic<int> ok{0}, eexist{0}, other{0};
        std::vector<std::thread> threads;
        for (int i = 0; i < 8; ++i)
            threads.emplace_back([&] {
                int err = makeDir(sim.at("same"));
                (err == 0 ? ok : err == EEXIST ? eexist : other)++;
            });
        for (auto& t : threads)
            t.join();
        CHECK(ok == 1);
        CHECK(eexist == 7);
        CHECK(other == 0);
        REQUIRE(removeDir(sim.at("same")) == 0);
    }
    // Racing mkdirs of many names: exactly the CLOSID budget succeeds.
    {
        const unsigned budget = facts.closidBudget(false);
        std::atomic<unsigned> ok{0}, enospc{0}, other{0};
        std::vector<std::thread> threads;
        for (unsigned i = 0; i < budget * 3; ++i)
            threads.emplace_back([&, i] {
                int err = makeDir(sim.at("race" + std::to_string(i)));
                (err == 0 ? ok : err == ENOSPC ? enospc : other)++;
            });
        for (auto& t : threads)
            t.join();
        CHECK(ok == budget);
        CHECK(enospc == budget * 2);
        CHECK(other == 0);
        unsigned dirs = 0;
        for (const auto& e : fs::directory_iterator(sim.root()))
            dirs += e.path().filename().string().starts_with("race");
        CHECK(dirs == budget);
    }
    CHECK(sim.isAlive());
}
