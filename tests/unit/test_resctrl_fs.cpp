// SPDX-License-Identifier: LGPL-2.1-or-later
// The I/O helpers on an ordinary directory: locking between processes and the error values.
// Kernel behaviour itself is tested against resctrlfs-sim, not here.
#include <algorithm>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "directory_watch.h"
#include "errors.h"
#include "resctrl_fs.h"

using namespace resctrld;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct TempDir {
    fs::path path;
    TempDir() {
        char templ[] = "/tmp/resctrld-fs-XXXXXX";
        path = mkdtemp(templ);
    }
    ~TempDir() { fs::remove_all(path); }
};

// A child process holding flock(LOCK_EX) on `dir` until told to let go through a pipe.
class LockHolder {
public:
    explicit LockHolder(const fs::path& dir) {
        int ready[2], release[2];
        REQUIRE(pipe(ready) == 0);
        REQUIRE(pipe(release) == 0);
        pid_ = fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            // Keep only our ends, so the parent closing its write end reaches us as EOF.
            close(ready[0]);
            close(release[1]);
            int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
            flock(fd, LOCK_EX);
            char byte = 1;
            (void)!::write(ready[1], &byte, 1);
            (void)!::read(release[0], &byte, 1);
            _exit(0);
        }
        close(ready[1]);
        close(release[0]);
        char byte;
        REQUIRE(::read(ready[0], &byte, 1) == 1);
        close(ready[0]);
        release_ = release[1];
    }
    void letGo() {
        if (pid_ > 0) {
            close(release_);
            waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
    }
    ~LockHolder() { letGo(); }

private:
    pid_t pid_ = -1;
    int release_ = -1;
};

} // namespace

TEST_CASE("the resctrl lock excludes other processes and gives up with Busy", "[resctrl-fs]") {
    TempDir root;
    LockHolder holder(root.path);
    try {
        ResctrlLock::acquire(root.path, 30ms);
        FAIL("the lock was taken while another process held it");
    } catch (const Busy& e) {
        CHECK_THAT(e.what(), Catch::Contains(root.path.string()));
    }
    holder.letGo();
    CHECK_NOTHROW(ResctrlLock::acquire(root.path, 30ms));
}

TEST_CASE("tryAcquire never waits: nothing while another process holds the lock", "[resctrl-fs]") {
    TempDir root;
    LockHolder holder(root.path);
    CHECK_FALSE(ResctrlLock::tryAcquire(root.path).has_value());
    holder.letGo();
    auto lock = ResctrlLock::tryAcquire(root.path);
    CHECK(lock.has_value());
    // A second open file of the same process is refused too: flock belongs to the open file.
    CHECK_FALSE(ResctrlLock::tryAcquire(root.path).has_value());
}

TEST_CASE("the lock on a held root excludes others and is released while the root stays open",
          "[resctrl-fs]") {
    TempDir root;
    UniqueFd held(::open(root.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(held.isValid());
    {
        LockHolder holder(root.path);
        CHECK_FALSE(ResctrlLock::tryAcquire(held, root.path).has_value());
    }
    {
        auto lock = ResctrlLock::tryAcquire(held, root.path);
        REQUIRE(lock.has_value());
        CHECK_FALSE(ResctrlLock::tryAcquire(root.path).has_value());
        // Moved, it is still one lock, released once.
        auto moved = std::move(*lock);
        lock.reset();
        CHECK_FALSE(ResctrlLock::tryAcquire(root.path).has_value());
    }
    // Gone: unlocked, though the held descriptor (the same open file) is still open.
    CHECK(ResctrlLock::tryAcquire(root.path).has_value());
    CHECK(fcntl(held.get(), F_GETFD) != -1);
    CHECK(ResctrlLock::tryAcquire(held, root.path).has_value());
}

TEST_CASE("tryAcquire of a missing root is ResctrlUnavailable", "[resctrl-fs]") {
    CHECK_THROWS_AS(ResctrlLock::tryAcquire("/nonexistent/resctrl"), ResctrlUnavailable);
}

TEST_CASE("the resctrl lock is released when the object goes", "[resctrl-fs]") {
    TempDir root;
    { auto lock = ResctrlLock::acquire(root.path, 10ms); }
    int fd = open(root.path.c_str(), O_RDONLY | O_DIRECTORY);
    CHECK(flock(fd, LOCK_EX | LOCK_NB) == 0);
    close(fd);
}

TEST_CASE("a missing root is ResctrlUnavailable", "[resctrl-fs]") {
    CHECK_THROWS_AS(ResctrlLock::acquire("/nonexistent/resctrl", 10ms), ResctrlUnavailable);
}

TEST_CASE("ResctrlFs reports errno and last_cmd_status as values", "[resctrl-fs]") {
    TempDir root;
    fs::create_directories(root.path / "info");
    std::ofstream(root.path / "info" / "last_cmd_status") << "Out of CLOSIDs\n";
    ResctrlFs resctrl(root.path);

    CHECK(resctrl.lastCmdStatus() == "Out of CLOSIDs");
    CHECK_FALSE(resctrl.makeGroup("g1"));
    CHECK(resctrl.exists("g1"));
    auto again = resctrl.makeGroup("g1");
    REQUIRE(again);
    CHECK(again->error == std::errc::file_exists);
    CHECK(again->status == "Out of CLOSIDs");
    CHECK(again->describe() == "File exists (Out of CLOSIDs)");

    auto missing = resctrl.write("nope/tasks", "1\n");
    REQUIRE(missing);
    CHECK(missing->error == std::errc::no_such_file_or_directory);

    std::ofstream(root.path / "g1" / "schemata").flush();
    CHECK_FALSE(resctrl.write("g1/schemata", "L3:0=3\n"));
    CHECK(resctrl.read("g1/schemata") == "L3:0=3\n");
    CHECK_FALSE(resctrl.read("g2/schemata"));
    CHECK_FALSE(resctrl.removeGroup("g1/schemata") == std::nullopt);
}

TEST_CASE("KernelFailure leaves out a status of ok", "[resctrl-fs]") {
    KernelFailure failure{std::make_error_code(std::errc::invalid_argument), "ok"};
    CHECK(failure.describe() == "Invalid argument");
}

TEST_CASE("subdirectories lists directories only, and nothing for a missing one", "[resctrl-fs]") {
    TempDir dir;
    fs::create_directories(dir.path / "g1" / "mon_groups" / "m1");
    fs::create_directories(dir.path / "g2");
    std::ofstream(dir.path / "schemata") << "L3:0=ff\n";
    std::ofstream(dir.path / "g1" / "tasks") << "1\n";
    // More names than one getdents64 buffer holds: the listing goes on to the end.
    for (int i = 0; i < 600; ++i)
        fs::create_directories(dir.path / "many" / ("group-with-a-long-name-" + std::to_string(i)));
    ResctrlFs resctrl(dir.path);

    auto root = resctrl.subdirectories("");
    std::sort(root.begin(), root.end());
    CHECK(root == std::vector<std::string>{"g1", "g2", "many"});
    CHECK(resctrl.subdirectories("g1/mon_groups") == std::vector<std::string>{"m1"});
    CHECK(resctrl.subdirectories("g2").empty());
    CHECK(resctrl.subdirectories("missing").empty());
    CHECK(resctrl.subdirectories("schemata").empty());
    CHECK(resctrl.subdirectories("many").size() == 600);
}

TEST_CASE("readHeld reads through one descriptor and opens anew after a failure", "[resctrl-fs]") {
    TempDir dir;
    std::ofstream(dir.path / "schemata") << "L3:0=ff\n";
    ResctrlFs resctrl(dir.path);
    UniqueFd held;

    CHECK(resctrl.readHeld(held, "schemata") == "L3:0=ff\n");
    REQUIRE(held.isValid());
    const int fd = held.get();
    std::ofstream(dir.path / "schemata") << "L3:0=f0\n"; // truncated and written in place
    CHECK(resctrl.readHeld(held, "schemata") == "L3:0=f0\n");
    CHECK(held.get() == fd);

    // A descriptor that no longer reads (a removed group's file answers ENODEV; here one that
    // was opened for writing only) is closed, and the next call opens the path again.
    held.reset(::open((dir.path / "schemata").c_str(), O_WRONLY | O_CLOEXEC));
    REQUIRE(held.isValid());
    CHECK_FALSE(resctrl.readHeld(held, "schemata"));
    CHECK_FALSE(held.isValid());
    CHECK(resctrl.readHeld(held, "schemata") == "L3:0=f0\n");

    UniqueFd missing;
    CHECK_FALSE(resctrl.readHeld(missing, "nope/schemata"));
    CHECK_FALSE(missing.isValid());
}

TEST_CASE("WatchedSubdirectories lists once and follows mkdir, rmdir and rename", "[resctrl-fs]") {
    TempDir dir;
    fs::create_directories(dir.path / "root" / "g1");
    ResctrlFs resctrl(dir.path / "root");
    unsigned listings = 0;
    WatchedSubdirectories watched(dir.path / "root", [&] {
        ++listings;
        return resctrl.subdirectories("");
    });
    using Names = std::vector<std::string>;

    CHECK(watched.names() == Names{"g1"});
    CHECK(watched.names() == Names{"g1"});
    CHECK(listings == 1);

    // Files, deeper directories and other directories are no entries of it.
    std::ofstream(dir.path / "root" / "tasks") << "1\n";
    fs::create_directories(dir.path / "root" / "g1" / "mon_groups" / "m1");
    fs::create_directories(dir.path / "elsewhere");
    fs::create_directories(dir.path / "root" / "g2");
    fs::rename(dir.path / "root" / "g1", dir.path / "root" / "g3");
    fs::rename(dir.path / "elsewhere", dir.path / "root" / "g4");
    CHECK(watched.names() == Names{"g2", "g3", "g4"});
    fs::remove(dir.path / "root" / "g2");
    fs::create_directories(dir.path / "root" / "g5");
    fs::remove(dir.path / "root" / "g5");
    fs::create_directories(dir.path / "root" / "g2");
    CHECK(watched.names() == Names{"g3", "g4", "g2"});
    CHECK(listings == 1);
    auto sorted = resctrl.subdirectories("");
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == Names{"g2", "g3", "g4"});

    // The directory gone: nothing will be reported again, so every call lists.
    fs::remove_all(dir.path / "root");
    CHECK(watched.names().empty());
    CHECK(watched.names().empty());
    CHECK(listings == 3);

    CHECK_THROWS_AS(WatchedSubdirectories(dir.path / "missing", [] { return Names{}; }),
                    std::system_error);
}
