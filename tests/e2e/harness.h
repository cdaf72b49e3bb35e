// SPDX-License-Identifier: LGPL-2.1-or-later
// End-to-end harness: real processes, a private dbus-daemon, the real resctrld. Every wait here
// has a deadline and waits on the event itself (a pidfd, a pipe, inotify, the sd_notify socket).
// Tests that wait for state with no event of its own (a counter the simulator's model changes, a
// thread's state in /proc) poll it with simtest::waitUntil, every 10 ms, and say so where they do.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

#include <initializer_list>
#include <sdbus-c++/Types.h>

namespace sdbus {
class IConnection;
class IProxy;
} // namespace sdbus

namespace resctrld::e2e {

using Clock = std::chrono::steady_clock;
inline constexpr std::chrono::seconds kDeadline{10};

class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

// A child process with its stdout and stderr captured to files. Killed (SIGKILL) and reaped on
// destruction if still running.
class Process {
public:
    struct Options {
        std::map<std::string, std::string> env; // added to (or replacing in) our environment
        std::vector<std::string> unsetEnv;
        bool setWatchdogPid = false; // WATCHDOG_PID=<the child's own pid>
        bool pipeStdout = false;     // read it with readStdoutLine() instead of a file
        // Run as this user (uid, gid, supplementary groups) instead of root.
        struct User {
            uid_t uid = 0;
            gid_t gid = 0;
            std::vector<gid_t> groups;
        };
        std::optional<User> user;
    };

    Process(std::vector<std::string> argv, const std::filesystem::path& outputDir,
            const Options& options);
    Process(std::vector<std::string> argv, const std::filesystem::path& outputDir)
        : Process(std::move(argv), outputDir, Options{}) {}
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const { return pid_; }
    void signal(int sig) const;
    // The exit status (WEXITSTATUS, or 128+signal) once the process ends, nullopt at the deadline.
    std::optional<int> waitExit(std::chrono::milliseconds timeout = kDeadline);
    bool running();
    std::string stdoutText() const;
    // With pipeStdout: the next line of the child's stdout, nullopt at the deadline or EOF.
    std::optional<std::string> readStdoutLine(std::chrono::milliseconds timeout = kDeadline);
    std::string stderrText() const;
    // Waits until the stderr file holds `text` (woken by inotify on each write); false at the
    // deadline.
    bool waitForStderr(const std::string& text,
                       std::chrono::milliseconds timeout = kDeadline) const;

private:
    pid_t pid_ = -1;
    int pidfd_ = -1;
    int stdoutPipe_ = -1;
    std::string pending_;
    std::optional<int> status_;
    std::filesystem::path stdout_;
    std::filesystem::path stderr_;
};

// A private dbus-daemon with a session-like configuration that lets every user connect. Extra
// <busconfig> fragments (e.g. our policy file) can be included.
class PrivateBus {
public:
    explicit PrivateBus(const std::filesystem::path& dir,
                        const std::vector<std::filesystem::path>& includes = {});
    // A bus configured like a distribution's system bus (Debian's /usr/share/dbus-1/system.conf):
    // everyone may connect, but nobody may own a name or send a method call to a service unless
    // an included fragment (our policy file, an admin's group fragment) punches a hole.
    struct SystemLike {};
    PrivateBus(SystemLike, const std::filesystem::path& dir,
               const std::vector<std::filesystem::path>& includes = {});
    const std::string& address() const { return address_; }
    pid_t pid() const { return daemon_->pid(); }

private:
    void launch(const std::filesystem::path& config, const std::filesystem::path& dir);
    std::optional<Process> daemon_;
    std::string address_;
};

// A datagram socket a child reports to through NOTIFY_SOCKET (sd_notify(3)).
class NotifySocket {
public:
    explicit NotifySocket(const std::filesystem::path& path);
    ~NotifySocket();
    NotifySocket(const NotifySocket&) = delete;
    NotifySocket& operator=(const NotifySocket&) = delete;
    const std::filesystem::path& path() const { return path_; }
    // Waits for a datagram holding `assignment` (e.g. "READY=1"); false at the deadline.
    bool waitFor(const std::string& assignment, std::chrono::milliseconds timeout = kDeadline);

private:
    std::filesystem::path path_;
    int fd_ = -1;
};

// resctrld started on a PrivateBus, ready (READY=1 received) when the constructor returns.
class Daemon {
public:
    struct Options {
        std::vector<std::string> extraArgs;
        std::string configText;            // written to a file passed with --config
        std::filesystem::path resctrlRoot; // default: a path that does not exist
        std::filesystem::path stateDir;    // default: a fresh directory
        Process::Options process;
        bool waitReady = true;
    };

    Daemon(const PrivateBus& bus, const std::filesystem::path& dir, Options options);
    Daemon(const PrivateBus& bus, const std::filesystem::path& dir)
        : Daemon(bus, dir, Options{}) {}

    Process& process() { return *process_; }
    NotifySocket& notify() { return *notify_; }
    const std::filesystem::path& stateDir() const { return stateDir_; }
    const std::filesystem::path& resctrlRoot() const { return resctrlRoot_; }

private:
    std::filesystem::path stateDir_;
    std::filesystem::path resctrlRoot_;
    std::optional<NotifySocket> notify_;
    std::optional<Process> process_;
};

// The outcome of a method call made by a separate process as another user.
struct CallResult {
    bool ok = false;
    std::string errorName;
    std::string errorMessage;
};

// Runs `body` on a fresh connection to the bus at `address` in a forked child that drops to
// uid/gid with `groups` as supplementary groups before it connects: any call callAsUser cannot
// express (other objects and interfaces, Properties.Set). An sdbus::Error from `body` becomes the
// result's error; any other exception the error "harness:EXC" with its what().
CallResult runAsUser(const std::string& address, uid_t uid, gid_t gid,
                     const std::vector<gid_t>& groups,
                     const std::function<void(sdbus::IConnection&)>& body);

// Calls `method` on org.resctrld1.Manager as uid/gid with `groups` as supplementary groups, in
// a forked child that drops privileges before it connects. `args` are strings or uint32s as the
// method wants them: "StopDomain" (s), "GetDomain" (s), "StartDomain" (s a(uu)),
// "StartDomainForProcess" (s u), "SetVcpuThread" (s u u), "ListDomains" (), ...
CallResult callAsUser(const std::string& address, uid_t uid, gid_t gid,
                      const std::vector<gid_t>& groups, const std::string& method,
                      const std::string& stringArg = "x");

// The kernel's advisory resctrl lock (flock(2) on the root directory) held by a child process
// running as uid/gid, as any local user can take it: read access to the root is enough. Held when
// the constructor returns; released by release() or the destructor.
class ResctrlLockHolder {
public:
    ResctrlLockHolder(const std::filesystem::path& root, uid_t uid, gid_t gid);
    ~ResctrlLockHolder() { release(); }
    ResctrlLockHolder(const ResctrlLockHolder&) = delete;
    ResctrlLockHolder& operator=(const ResctrlLockHolder&) = delete;
    // Lets go of the lock and waits until the child is gone (the lock with it).
    void release();

private:
    pid_t pid_ = -1;
    int release_ = -1;
};

std::string readFile(const std::filesystem::path& path);

// Waits until `done` holds: checked at once, then again after every inotify event on `path` (a
// write to the file, an entry made, removed or renamed in the directory); false at the deadline.
// For changes a process makes through the filesystem: FUSE reports the writes, mkdirs and rmdirs
// made through the simulator's mount too. Not for what a FUSE server changes on its own (the
// simulator's counters): that sends no event, and such waits poll (simtest::waitUntil).
bool waitForChange(const std::filesystem::path& path, const std::function<bool()>& done,
                   std::chrono::milliseconds timeout = kDeadline);

// Runs a command (no shell) to its end; throws with its stderr unless it exits 0.
void runCommand(const std::vector<std::string>& argv);

// A caller: a user as the user database has it (uid, primary gid, every group).
struct Caller {
    std::string label;
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;

    Process::Options::User user() const { return {uid, gid, groups}; }
};

// System accounts made for one test and removed with it: a group standing for an admin group
// ("vmadmin" in resctrld(8)), a user in it, and a user in no group but its own.
class Accounts {
public:
    Accounts();
    ~Accounts();
    Accounts(const Accounts&) = delete;
    Accounts& operator=(const Accounts&) = delete;

    const std::string& group() const { return group_; }
    const std::string& adminName() const { return adminName_; }
    const std::string& outsiderName() const { return outsiderName_; }

    Caller admin;
    Caller outsider;
    const Caller root{"root", 0, 0, {}};

private:
    std::string suffix_;
    std::string group_;
    std::string adminName_;
    std::string outsiderName_;
    bool groupMade_ = false;
    bool adminMade_ = false;
    bool outsiderMade_ = false;
};

// What a thread of `pid` is blocked in now, from /proc/<pid>/task/<tid>/syscall: the x86-64
// system call number and its first three arguments. Threads running in user space are left out.
struct BlockedSyscall {
    std::filesystem::path task; // /proc/<pid>/task/<tid>
    long number = -1;
    unsigned long args[3] = {0, 0, 0};
};
std::vector<BlockedSyscall> blockedSyscalls(pid_t pid);

// `sleep 600` as a child process given `pid` (a pid or thread id that was freed): `pid - 1` goes
// to /proc/sys/kernel/ns_last_pid so that the next fork gets it; another process of the host may
// take it first, so it is tried again. nullptr when it never got it.
std::unique_ptr<Process> processWithPid(pid_t pid, const std::filesystem::path& dir);

// StartDomain's vCPU threads: (vcpu, tid) pairs.
using VcpuThreadList = std::vector<sdbus::Struct<std::uint32_t, std::uint32_t>>;

// The Manager calls most tests make, on a proxy of /org/resctrld1; a zero timeout is the bus's
// default. They throw sdbus::Error as the call does.
sdbus::ObjectPath startDomain(sdbus::IProxy& manager, const std::string& definition,
                              const VcpuThreadList& threads,
                              std::chrono::microseconds timeout = {});
sdbus::ObjectPath startDomainForProcess(sdbus::IProxy& manager, const std::string& definition,
                                        pid_t hypervisorPid,
                                        std::chrono::microseconds timeout = {});
void stopDomain(sdbus::IProxy& manager, const std::string& name,
                std::chrono::microseconds timeout = {});
sdbus::ObjectPath getDomain(sdbus::IProxy& manager, const std::string& name);

// tests/tools/fake-hypervisor as a child: vCPU threads named "CPU <n>/KVM" plus a few others.
// Ready (every vCPU thread known) when the constructor returns.
class FakeHypervisor {
public:
    // Runs as `user` when given, as root otherwise.
    FakeHypervisor(const std::filesystem::path& binary, const std::filesystem::path& dir,
                   unsigned vcpus, std::optional<Process::Options::User> user = std::nullopt);

    pid_t pid() const { return process_.pid(); }
    pid_t tid(unsigned vcpu) const { return vcpus_.at(vcpu); }
    // (vcpu, tid) of the given vCPUs, as StartDomain takes them.
    VcpuThreadList threadsOf(std::initializer_list<unsigned> vcpus) const;
    // (vcpu, tid) of every vCPU.
    VcpuThreadList vcpuThreads() const;
    // Every thread of the process now (/proc/<pid>/task).
    std::set<pid_t> taskIds() const;
    // vCPU number -> tid, as the process printed them.
    const std::map<unsigned, pid_t>& vcpus() const { return vcpus_; }

    // SIGUSR1: one more vCPU thread; returns (vcpu, tid) as it printed them.
    std::pair<unsigned, pid_t> hotplug();
    // SIGKILL, and waits until it is gone.
    void kill();

private:
    std::pair<unsigned, pid_t> readVcpuLine(const std::string& line);

    Process process_;
    std::map<unsigned, pid_t> vcpus_;
};

} // namespace resctrld::e2e
