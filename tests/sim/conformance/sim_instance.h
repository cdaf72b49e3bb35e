// SPDX-License-Identifier: LGPL-2.1-or-later
// Test-side view of one running resctrlfs-sim: an RAII process plus thin syscall helpers.
// The simulator's command line, readiness line and control directory are described in
// tests/sim/README.md.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace resctrld::simtest {

struct SimOptions {
    std::string profile = "skx-2s-l3cat";
    std::string kernel = "6.15";
    std::string mountOptions; // e.g. "cdp" or "mba_MBps"; empty = none
    bool withSysfs = false;

    std::string describe() const;
};

// Starts the simulator on a fresh temporary mount point and waits for its ready line.
// Missing FUSE or a simulator that does not come up is a hard failure (an exception),
// never a skip: without FUSE the tests fail loudly.
class SimInstance {
public:
    explicit SimInstance(SimOptions options = {});
    ~SimInstance();
    SimInstance(const SimInstance&) = delete;
    SimInstance& operator=(const SimInstance&) = delete;

    const SimOptions& options() const { return options_; }
    const std::filesystem::path& root() const { return mount_; }
    const std::filesystem::path& controlDir() const { return control_; }
    const std::filesystem::path& sysfsDir() const { return sysfs_; }
    std::filesystem::path at(std::string_view relative) const { return mount_ / relative; }
    pid_t pid() const { return pid_; }

    // Replaces a control file atomically (write to a temporary name, then rename), so the
    // simulator never sees half a file.
    void setControl(std::string_view name, std::string_view content) const;

    // Every control group (a top-level directory) and monitor group (under any mon_groups/),
    // as paths relative to the root: "g", "g/mon_groups/m", "mon_groups/m".
    std::set<std::string> groups() const;

    bool isAlive() const;
    // The simulator's stderr so far (for failure messages).
    std::string log() const;

    // Stops the simulator (SIGTERM, wait with a deadline) and returns its exit status
    // as from waitpid, or -1 if it had to be killed.
    int stop();

private:
    void start();
    void cleanUp();

    SimOptions options_;
    std::filesystem::path temp_;
    std::filesystem::path mount_;
    std::filesystem::path control_;
    std::filesystem::path sysfs_;
    pid_t pid_ = -1;
    int exitStatus_ = 0;
};

// Path of the simulator binary: $RESCTRLFS_SIM, else the path meson compiled in.
std::filesystem::path simulatorPath();

// --- syscall helpers: they return errno (0 on success) so tests can assert on it ---
int writeFile(const std::filesystem::path& path, std::string_view data);
int readFile(const std::filesystem::path& path, std::string& out);
std::string readFile(const std::filesystem::path& path); // throws on error
int makeDir(const std::filesystem::path& path, mode_t mode = 0755);
int removeDir(const std::filesystem::path& path);
int renamePath(const std::filesystem::path& from, const std::filesystem::path& to,
               unsigned flags = 0);
int openErrno(const std::filesystem::path& path, int flags);
// lstat(2) succeeds (no symlink following, unlike std::filesystem::exists).
bool pathExists(const std::filesystem::path& path);

std::string lastCmdStatus(const SimInstance& sim);
// Puts a known, non-"ok" text into info/last_cmd_status, so a test can tell "untouched"
// from "cleared" (docs/kernel.md §8.1).
void provokeStatus(const SimInstance& sim);
inline constexpr std::string_view kProvokedStatus = "Unknown or unsupported mode\n";

std::set<pid_t> readTasks(const std::filesystem::path& tasksFile);
pid_t currentTid();
// A TID that has no /proc entry right now.
pid_t unusedTid();

// Polls pred until it is true or the deadline passes; the event is observed, not timed.
bool waitUntil(const std::function<bool()>& pred,
               std::chrono::milliseconds timeout = std::chrono::seconds(5));

} // namespace resctrld::simtest
