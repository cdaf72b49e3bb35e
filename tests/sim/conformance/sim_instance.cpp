// SPDX-License-Identifier: LGPL-2.1-or-later
#include "sim_instance.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <sstream>
#include <stdexcept>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

#include "end_with_parent.h"

#ifndef RESCTRLFS_SIM_PATH
#define RESCTRLFS_SIM_PATH ""
#endif

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace resctrld::simtest {

namespace {

constexpr auto kReadyTimeout = std::chrono::seconds(10);
constexpr auto kStopTimeout = std::chrono::seconds(10);

class Fd {
public:
    explicit Fd(int fd = -1)
        : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0)
            ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }

private:
    int fd_;
};

int pidfdOpen(pid_t pid) {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

// Waits for the child to exit within timeout; returns true and stores the status if it did.
bool waitForExit(pid_t pid, std::chrono::milliseconds timeout, int& status) {
    Fd pidfd(pidfdOpen(pid));
    if (pidfd.get() >= 0) {
        pollfd p{pidfd.get(), POLLIN, 0};
        int r;
        do {
            r = ::poll(&p, 1, static_cast<int>(timeout.count()));
        } while (r < 0 && errno == EINTR);
        if (r == 0)
            return false;
    }
    return ::waitpid(pid, &status, 0) == pid;
}

bool isMounted(const fs::path& mountPoint) {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    const std::string needle = " " + mountPoint.string() + " ";
    while (std::getline(in, line))
        if (line.find(needle) != std::string::npos)
            return true;
    return false;
}

void runQuietly(const std::vector<std::string>& argv) {
    pid_t pid = ::fork();
    if (pid == 0) {
        int devnull = ::open("/dev/null", O_RDWR);
        ::dup2(devnull, 1);
        ::dup2(devnull, 2);
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    int status = 0;
    if (pid > 0)
        ::waitpid(pid, &status, 0);
}

} // namespace

std::string SimOptions::describe() const {
    std::string s = "profile=" + profile + " kernel=" + kernel;
    if (!mountOptions.empty())
        s += " -o " + mountOptions;
    return s;
}

fs::path simulatorPath() {
    if (const char* env = std::getenv("RESCTRLFS_SIM"); env && *env)
        return env;
    return RESCTRLFS_SIM_PATH;
}

SimInstance::SimInstance(SimOptions options)
    : options_(std::move(options)) {
    try {
        start();
    } catch (...) {
        cleanUp();
        throw;
    }
}

SimInstance::~SimInstance() {
    cleanUp();
}

void SimInstance::start() {
    // Loud failure, never a skip.
    if (::access("/dev/fuse", R_OK | W_OK) != 0)
        throw std::runtime_error("FUSE is missing: /dev/fuse is absent or inaccessible (" +
                                 std::string(std::strerror(errno)) +
                                 "); the simulator tests cannot run here");
    const fs::path binary = simulatorPath();
    if (binary.empty() || ::access(binary.c_str(), X_OK) != 0)
        throw std::runtime_error("resctrlfs-sim not found or not executable at '" +
                                 binary.string() + "' (set RESCTRLFS_SIM)");

    std::string tmpl = (fs::temp_directory_path() / "resctrlfs-sim-test.XXXXXX").string();
    if (!::mkdtemp(tmpl.data()))
        throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
    temp_ = tmpl;
    // Reachable by every user, as /sys/fs/resctrl is: unprivileged processes in the tests (a
    // caller, a holder of the resctrl lock) open the mount like any local user can.
    fs::permissions(temp_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);
    mount_ = temp_ / "mnt";
    control_ = temp_ / "control";
    sysfs_ = temp_ / "sysfs";
    if (options_.withSysfs && fs::is_directory("/dev/shm")) {
        // The simulator mounts its sysfs tree here; on tmpfs, beside the test's other files.
        std::string shm = "/dev/shm/resctrlfs-sim-sysfs.XXXXXX";
        if (::mkdtemp(shm.data()))
            sysfs_ = shm;
    }
    fs::create_directory(mount_);
    fs::create_directory(control_);

    std::vector<std::string> argv{binary.string(), "--profile", options_.profile, "--kernel",
                                  options_.kernel, "--control", control_.string()};
    if (!options_.mountOptions.empty()) {
        argv.push_back("--mount-options");
        argv.push_back(options_.mountOptions);
    }
    if (options_.withSysfs) {
        argv.push_back("--sysfs");
        argv.push_back(sysfs_.string());
    }
    argv.push_back(mount_.string());

    int pipeFds[2];
    if (::pipe2(pipeFds, O_CLOEXEC) != 0)
        throw std::runtime_error("pipe2 failed");
    Fd readEnd(pipeFds[0]), writeEnd(pipeFds[1]);
    const std::string logPath = (temp_ / "sim.log").string();

    const EndWithParent endWithParent;
    pid_ = ::fork();
    if (pid_ < 0)
        throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        if (!endWithParent.arm())
            ::_exit(125);
        ::dup2(writeEnd.get(), 1);
        int logFd = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (logFd >= 0)
            ::dup2(logFd, 2);
        std::vector<char*> args;
        for (auto& a : argv)
            args.push_back(a.data());
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(writeEnd.release());

    // Wait for exactly "resctrlfs-sim: ready <MOUNTPOINT>" with a deadline.
    const std::string expected = "resctrlfs-sim: ready " + mount_.string();
    const auto deadline = Clock::now() + kReadyTimeout;
    std::string buffer;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0)
            throw std::runtime_error("resctrlfs-sim (" + options_.describe() +
                                     ") printed no ready line within 10 s; stderr: " + log());
        pollfd p{readEnd.get(), POLLIN, 0};
        int r = ::poll(&p, 1, static_cast<int>(left.count()));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        char chunk[512];
        ssize_t n = ::read(readEnd.get(), chunk, sizeof chunk);
        if (n <= 0) {
            int status = 0;
            waitForExit(pid_, std::chrono::seconds(5), status);
            pid_ = -1;
            throw std::runtime_error("resctrlfs-sim (" + options_.describe() +
                                     ") exited before it was ready (status " +
                                     std::to_string(status) + "); stderr: " + log());
        }
        buffer.append(chunk, static_cast<size_t>(n));
        std::istringstream lines(buffer);
        std::string line;
        while (std::getline(lines, line))
            if (line == expected)
                return;
    }
}

int SimInstance::stop() {
    if (pid_ <= 0)
        return exitStatus_;
    ::kill(pid_, SIGTERM);
    int status = 0;
    if (!waitForExit(pid_, kStopTimeout, status)) {
        ::kill(pid_, SIGKILL);
        waitForExit(pid_, kStopTimeout, status);
        status = -1;
    }
    pid_ = -1;
    exitStatus_ = status;
    return status;
}

void SimInstance::cleanUp() {
    if (pid_ > 0)
        stop();
    // A simulator that died without unmounting leaves its mounts (resctrl, and the sysfs
    // tree it serves): detach them lazily so the test run can go on.
    for (const fs::path& mount : {mount_, sysfs_}) {
        if (mount.empty() || !isMounted(mount))
            continue;
        runQuietly({"fusermount3", "-u", "-z", mount.string()});
        if (isMounted(mount))
            ::umount2(mount.c_str(), MNT_DETACH);
    }
    if (!sysfs_.empty() && sysfs_.parent_path() != temp_) {
        std::error_code ec;
        fs::remove_all(sysfs_, ec);
    }
    if (!temp_.empty()) {
        std::error_code ec;
        fs::remove_all(temp_, ec);
        temp_.clear();
    }
}

std::set<std::string> SimInstance::groups() const {
    std::set<std::string> names;
    auto monGroups = [&](const std::string& parent) {
        std::error_code ec;
        const std::filesystem::path under =
            parent.empty() ? at("mon_groups") : at(parent) / "mon_groups";
        for (const auto& entry : std::filesystem::directory_iterator(under, ec))
            if (entry.is_directory())
                names.insert((parent.empty() ? "" : parent + "/") + "mon_groups/" +
                             entry.path().filename().string());
    };
    monGroups("");
    for (const auto& entry : std::filesystem::directory_iterator(mount_)) {
        const auto name = entry.path().filename().string();
        if (!entry.is_directory() || name == "info" || name == "mon_groups" || name == "mon_data")
            continue;
        names.insert(name);
        monGroups(name);
    }
    return names;
}

bool SimInstance::isAlive() const {
    if (pid_ <= 0)
        return false;
    int status = 0;
    return ::waitpid(pid_, &status, WNOHANG) == 0;
}

std::string SimInstance::log() const {
    std::ifstream in(temp_ / "sim.log");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void SimInstance::setControl(std::string_view name, std::string_view content) const {
    const fs::path target = control_ / name;
    const fs::path tmp = control_ / ("." + std::string(name) + ".tmp");
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << content;
        if (!out)
            throw std::runtime_error("cannot write " + tmp.string());
    }
    fs::rename(tmp, target);
}

int writeFile(const fs::path& path, std::string_view data) {
    Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (fd.get() < 0)
        return errno;
    // The kernel takes one write(2) as one command: never split it.
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0)
        return errno;
    if (static_cast<size_t>(n) != data.size())
        return EIO; // a short write would be a simulator bug; surface it
    return 0;
}

int readFile(const fs::path& path, std::string& out) {
    out.clear();
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0)
        return errno;
    // The kernel reports st_size 0 for every resctrl file: read until EOF.
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0)
            return errno;
        if (n == 0)
            return 0;
        out.append(buf, static_cast<size_t>(n));
    }
}

std::string readFile(const fs::path& path) {
    std::string out;
    if (int err = readFile(path, out); err != 0)
        throw std::runtime_error("read " + path.string() + ": " + std::strerror(err));
    return out;
}

int makeDir(const fs::path& path, mode_t mode) {
    return ::mkdir(path.c_str(), mode) == 0 ? 0 : errno;
}

int removeDir(const fs::path& path) {
    return ::rmdir(path.c_str()) == 0 ? 0 : errno;
}

int renamePath(const fs::path& from, const fs::path& to, unsigned flags) {
    int r = flags ? ::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), flags)
                  : ::rename(from.c_str(), to.c_str());
    return r == 0 ? 0 : errno;
}

int openErrno(const fs::path& path, int flags) {
    Fd fd(::open(path.c_str(), flags | O_CLOEXEC));
    return fd.get() < 0 ? errno : 0;
}

bool pathExists(const fs::path& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
}

std::string lastCmdStatus(const SimInstance& sim) {
    return readFile(sim.at("info/last_cmd_status"));
}

void provokeStatus(const SimInstance& sim) {
    int err = writeFile(sim.at("mode"), "no-such-mode\n");
    if (err != EINVAL || lastCmdStatus(sim) != kProvokedStatus)
        throw std::runtime_error("cannot put a known message into last_cmd_status");
}

std::set<pid_t> readTasks(const fs::path& tasksFile) {
    std::set<pid_t> tids;
    std::istringstream in(readFile(tasksFile));
    std::string line;
    while (std::getline(in, line))
        if (!line.empty())
            tids.insert(static_cast<pid_t>(std::stol(line)));
    return tids;
}

pid_t currentTid() {
    return static_cast<pid_t>(::syscall(SYS_gettid));
}

pid_t unusedTid() {
    for (pid_t candidate = 3999999; candidate > 1000; --candidate)
        if (::access(("/proc/" + std::to_string(candidate)).c_str(), F_OK) != 0)
            return candidate;
    throw std::runtime_error("no unused pid found");
}

bool waitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        if (pred())
            return true;
        if (Clock::now() >= deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

} // namespace resctrld::simtest
