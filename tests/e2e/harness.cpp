// SPDX-License-Identifier: LGPL-2.1-or-later
#include "harness.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <grp.h>
#include <iostream>
#include <poll.h>
#include <pwd.h>
#include <random>
#include <signal.h>
#include <sstream>
#include <stdexcept>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>

#include <sdbus-c++/sdbus-c++.h>

#include "../sim/conformance/end_with_parent.h"
#include "dbus_names.h"

extern char** environ;

namespace resctrld::e2e {
namespace fs = std::filesystem;

namespace {

int remainingMs(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// Waits until `fd` is readable or the deadline passes.
bool waitReadable(int fd, Clock::time_point deadline) {
    for (;;) {
        pollfd pfd{fd, POLLIN, 0};
        const int rc = poll(&pfd, 1, remainingMs(deadline));
        if (rc > 0)
            return true;
        if (rc == 0)
            return false;
        if (errno != EINTR)
            throw std::system_error(errno, std::generic_category(), "poll");
    }
}

[[noreturn]] void throwErrno(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), what);
}

} // namespace

std::string readFile(const fs::path& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void runCommand(const std::vector<std::string>& argv) {
    TempDir out;
    Process process(argv, out.path());
    const auto status = process.waitExit();
    if (!status || *status != 0)
        throw std::runtime_error(argv.at(0) + " " + argv.back() + " failed (status " +
                                 (status ? std::to_string(*status) : std::string("timeout")) +
                                 "): " + process.stderrText());
}

namespace {

std::string randomSuffix() {
    std::random_device random;
    std::ostringstream text;
    text << std::hex << (random() & 0xffffff);
    return text.str();
}

Caller lookUp(const std::string& label, const std::string& name) {
    const passwd* entry = getpwnam(name.c_str());
    if (entry == nullptr)
        throw std::runtime_error("useradd made no user " + name);
    Caller caller{label + " " + name, entry->pw_uid, entry->pw_gid, {}};
    int count = 64;
    std::vector<gid_t> groups(static_cast<std::size_t>(count));
    if (getgrouplist(name.c_str(), entry->pw_gid, groups.data(), &count) < 0)
        throw std::runtime_error("getgrouplist " + name);
    groups.resize(static_cast<std::size_t>(count));
    caller.groups = groups;
    return caller;
}

} // namespace

Accounts::Accounts()
    : suffix_(randomSuffix())
    , group_("rdadm" + suffix_)
    , adminName_("rdadmu" + suffix_)
    , outsiderName_("rdusr" + suffix_) {
    runCommand({"groupadd", "--system", group_});
    groupMade_ = true;
    runCommand({"useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                "--groups", group_, adminName_});
    adminMade_ = true;
    runCommand(
        {"useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", outsiderName_});
    outsiderMade_ = true;
    admin = lookUp("admin", adminName_);
    outsider = lookUp("outsider", outsiderName_);
    const struct group* entry = getgrnam(group_.c_str());
    if (entry == nullptr || admin.uid == 0 || outsider.uid == 0 ||
        std::count(admin.groups.begin(), admin.groups.end(), entry->gr_gid) != 1 ||
        std::count(outsider.groups.begin(), outsider.groups.end(), entry->gr_gid) != 0)
        throw std::runtime_error("useradd did not make the accounts as asked");
}

Accounts::~Accounts() {
    // Best effort, each on its own: a failure here must not hide the test's result.
    auto remove = [](bool made, const std::vector<std::string>& argv) {
        if (!made)
            return;
        try {
            runCommand(argv);
        } catch (const std::exception& e) {
            std::cerr << "cleanup: " << e.what() << "\n";
        }
    };
    remove(outsiderMade_, {"userdel", outsiderName_});
    remove(adminMade_, {"userdel", adminName_});
    remove(groupMade_, {"groupdel", group_});
}

TempDir::TempDir() {
    std::string pattern = (fs::temp_directory_path() / "resctrld-e2e-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr)
        throwErrno("mkdtemp");
    path_ = pattern;
    // Other users (the non-root caller) must reach the bus socket inside.
    chmod(path_.c_str(), 0755);
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

Process::Process(std::vector<std::string> argv, const fs::path& outputDir, const Options& options) {
    static int counter = 0;
    const std::string stem =
        fs::path(argv.at(0)).filename().string() + "." + std::to_string(++counter);
    stdout_ = outputDir / (stem + ".stdout");
    stderr_ = outputDir / (stem + ".stderr");

    // Everything the child needs is prepared before fork(): after it, only exec-safe calls.
    std::vector<std::string> envStrings;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string entry = *e;
        const auto name = entry.substr(0, entry.find('='));
        bool drop = options.env.count(name) > 0;
        for (const auto& unset : options.unsetEnv)
            drop = drop || unset == name;
        if (!drop)
            envStrings.push_back(entry);
    }
    for (const auto& [name, value] : options.env)
        envStrings.push_back(name + "=" + value);
    std::vector<char*> envp;
    for (auto& s : envStrings)
        envp.push_back(s.data());
    envp.push_back(nullptr);
    envp.push_back(nullptr); // room for WATCHDOG_PID
    std::vector<char*> args;
    for (auto& a : argv)
        args.push_back(a.data());
    args.push_back(nullptr);

    const int out = open(stdout_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int err = open(stderr_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0 || err < 0)
        throwErrno("open output files");
    int pipeFds[2] = {-1, -1};
    if (options.pipeStdout && pipe2(pipeFds, O_CLOEXEC) != 0)
        throwErrno("pipe2");

    char watchdogPid[64] = {};
    const simtest::EndWithParent endWithParent;
    pid_ = fork();
    if (pid_ < 0)
        throwErrno("fork");
    if (pid_ == 0) {
        dup2(options.pipeStdout ? pipeFds[1] : out, STDOUT_FILENO);
        dup2(err, STDERR_FILENO);
        if (options.setWatchdogPid) {
            snprintf(watchdogPid, sizeof(watchdogPid), "WATCHDOG_PID=%d", getpid());
            envp[envp.size() - 2] = watchdogPid;
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        if (options.user) {
            const auto& user = *options.user;
            if (setgroups(user.groups.size(), user.groups.data()) != 0 ||
                setresgid(user.gid, user.gid, user.gid) != 0 ||
                setresuid(user.uid, user.uid, user.uid) != 0)
                _exit(126);
        }
        if (!endWithParent.arm())
            _exit(125);
        execvpe(args[0], args.data(), envp.data());
        _exit(127);
    }
    close(out);
    close(err);
    if (options.pipeStdout) {
        close(pipeFds[1]);
        stdoutPipe_ = pipeFds[0];
    }
    pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd_ < 0)
        throwErrno("pidfd_open");
}

Process::~Process() {
    if (!status_ && pid_ > 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    if (pidfd_ >= 0)
        close(pidfd_);
    if (stdoutPipe_ >= 0)
        close(stdoutPipe_);
}

void Process::signal(int sig) const {
    if (!status_)
        kill(pid_, sig);
}

std::optional<int> Process::waitExit(std::chrono::milliseconds timeout) {
    if (status_)
        return status_;
    if (!waitReadable(pidfd_, Clock::now() + timeout))
        return std::nullopt;
    int st = 0;
    if (waitpid(pid_, &st, 0) != pid_)
        throwErrno("waitpid");
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return status_;
}

bool Process::running() {
    return !waitExit(std::chrono::milliseconds(0));
}

std::string Process::stdoutText() const {
    return readFile(stdout_);
}
std::string Process::stderrText() const {
    return readFile(stderr_);
}

bool Process::waitForStderr(const std::string& text, std::chrono::milliseconds timeout) const {
    const auto deadline = Clock::now() + timeout;
    const int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (fd < 0)
        throwErrno("inotify_init1");
    if (inotify_add_watch(fd, stderr_.c_str(), IN_MODIFY) < 0) {
        close(fd);
        throwErrno("inotify_add_watch " + stderr_.string());
    }
    // Watching first, reading second: a write between the two still wakes the wait.
    bool found = false;
    while (!(found = stderrText().find(text) != std::string::npos) && waitReadable(fd, deadline)) {
        char events[4096];
        while (read(fd, events, sizeof events) > 0) {
        }
    }
    close(fd);
    return found;
}

bool waitForChange(const fs::path& path, const std::function<bool()>& done,
                   std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    const int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (fd < 0)
        throwErrno("inotify_init1");
    if (inotify_add_watch(fd, path.c_str(),
                          IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_TO |
                              IN_MOVED_FROM | IN_DELETE_SELF) < 0) {
        close(fd);
        throwErrno("inotify_add_watch " + path.string());
    }
    // Watching first, checking second: a change between the two still wakes the wait.
    bool reached = false;
    while (!(reached = done()) && waitReadable(fd, deadline)) {
        char events[4096];
        while (read(fd, events, sizeof events) > 0) {
        }
    }
    close(fd);
    return reached;
}

std::optional<std::string> Process::readStdoutLine(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        if (const auto nl = pending_.find('\n'); nl != std::string::npos) {
            std::string line = pending_.substr(0, nl);
            pending_.erase(0, nl + 1);
            return line;
        }
        if (!waitReadable(stdoutPipe_, deadline))
            return std::nullopt;
        char buffer[512];
        const ssize_t n = read(stdoutPipe_, buffer, sizeof(buffer));
        if (n <= 0)
            return std::nullopt;
        pending_.append(buffer, static_cast<std::size_t>(n));
    }
}

PrivateBus::PrivateBus(const fs::path& dir, const std::vector<fs::path>& includes) {
    const auto config = dir / "bus.conf";
    std::ofstream out(config);
    out << "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
           " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
           "<busconfig>\n"
           "  <type>session</type>\n"
           "  <listen>unix:path="
        << (dir / "bus").string()
        << "</listen>\n"
           "  <auth>EXTERNAL</auth>\n"
           "  <policy context=\"default\">\n"
           "    <allow user=\"*\"/>\n"
           "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
           "    <allow eavesdrop=\"true\"/>\n"
           "    <allow own=\"*\"/>\n"
           "  </policy>\n";
    for (const auto& include : includes)
        out << "  <include>" << include.string() << "</include>\n";
    out << "</busconfig>\n";
    out.close();
    launch(config, dir);
}

PrivateBus::PrivateBus(SystemLike, const fs::path& dir, const std::vector<fs::path>& includes) {
    const auto config = dir / "system-bus.conf";
    std::ofstream out(config);
    // Debian 12's system.conf without what a private test bus cannot have (a user to switch to,
    // fork, a pid file, the activation helper, syslog, the host's system.d directories).
    out << "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
           " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
           "<busconfig>\n"
           "  <type>system</type>\n"
           "  <listen>unix:path="
        << (dir / "system_bus_socket").string()
        << "</listen>\n"
           "  <auth>EXTERNAL</auth>\n"
           "  <policy context=\"default\">\n"
           "    <allow user=\"*\"/>\n"
           "    <deny own=\"*\"/>\n"
           "    <deny send_type=\"method_call\"/>\n"
           "    <allow send_type=\"signal\"/>\n"
           "    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
           "    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
           "    <allow receive_type=\"method_call\"/>\n"
           "    <allow receive_type=\"method_return\"/>\n"
           "    <allow receive_type=\"error\"/>\n"
           "    <allow receive_type=\"signal\"/>\n"
           "    <allow send_destination=\"org.freedesktop.DBus\"\n"
           "           send_interface=\"org.freedesktop.DBus\"/>\n"
           "    <allow send_destination=\"org.freedesktop.DBus\"\n"
           "           send_interface=\"org.freedesktop.DBus.Introspectable\"/>\n"
           "    <allow send_destination=\"org.freedesktop.DBus\"\n"
           "           send_interface=\"org.freedesktop.DBus.Properties\"/>\n"
           "    <deny send_destination=\"org.freedesktop.DBus\"\n"
           "          send_interface=\"org.freedesktop.DBus\"\n"
           "          send_member=\"UpdateActivationEnvironment\"/>\n"
           "    <deny send_destination=\"org.freedesktop.DBus\"\n"
           "          send_interface=\"org.freedesktop.DBus.Debug.Stats\"/>\n"
           "  </policy>\n"
           "  <policy user=\"root\">\n"
           "    <allow send_destination=\"org.freedesktop.DBus\"\n"
           "           send_interface=\"org.freedesktop.DBus.Monitoring\"/>\n"
           "  </policy>\n";
    for (const auto& include : includes)
        out << "  <include>" << include.string() << "</include>\n";
    out << "</busconfig>\n";
    out.close();
    launch(config, dir);
}

void PrivateBus::launch(const fs::path& config, const fs::path& dir) {
    Process::Options options;
    options.pipeStdout = true;
    daemon_.emplace(std::vector<std::string>{"dbus-daemon", "--config-file=" + config.string(),
                                             "--nofork", "--print-address"},
                    dir, options);
    const auto line = daemon_->readStdoutLine();
    if (!line || line->empty())
        throw std::runtime_error("dbus-daemon printed no address: " + daemon_->stderrText());
    address_ = *line;
}

CallResult runAsUser(const std::string& address, uid_t uid, gid_t gid,
                     const std::vector<gid_t>& groups,
                     const std::function<void(sdbus::IConnection&)>& body) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        throwErrno("pipe2");
    const pid_t pid = fork();
    if (pid < 0)
        throwErrno("fork");
    if (pid == 0) {
        close(fds[0]);
        std::string report;
        if (setgroups(groups.size(), groups.data()) != 0 || setresgid(gid, gid, gid) != 0 ||
            setresuid(uid, uid, uid) != 0) {
            report = "SETUP\n" + std::string(std::strerror(errno));
        } else {
            try {
                auto connection = sdbus::createSessionBusConnectionWithAddress(address);
                body(*connection);
                report = "OK\n";
            } catch (const sdbus::Error& e) {
                report = "ERR\n" + e.getName() + "\n" + e.getMessage();
            } catch (const std::exception& e) {
                report = "EXC\n" + std::string(e.what());
            }
        }
        [[maybe_unused]] const auto n = write(fds[1], report.data(), report.size());
        _exit(0);
    }
    close(fds[1]);
    const auto deadline = Clock::now() + kDeadline;
    std::string text;
    char buffer[1024];
    while (waitReadable(fds[0], deadline)) {
        const ssize_t n = read(fds[0], buffer, sizeof(buffer));
        if (n <= 0)
            break;
        text.append(buffer, static_cast<std::size_t>(n));
    }
    close(fds[0]);
    kill(pid, SIGKILL); // no-op when it already exited; never leave it behind
    waitpid(pid, nullptr, 0);

    CallResult result;
    std::istringstream lines(text);
    std::string kind;
    std::getline(lines, kind);
    if (kind == "OK")
        result.ok = true;
    else if (kind == "ERR") {
        std::getline(lines, result.errorName);
        std::getline(lines, result.errorMessage, '\0');
    } else {
        result.errorName = "harness:" + (kind.empty() ? std::string("TIMEOUT") : kind);
        std::getline(lines, result.errorMessage, '\0');
    }
    return result;
}

ResctrlLockHolder::ResctrlLockHolder(const fs::path& root, uid_t uid, gid_t gid) {
    int ready[2], letGo[2];
    if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(letGo, O_CLOEXEC) != 0)
        throwErrno("pipe2");
    pid_ = fork();
    if (pid_ < 0)
        throwErrno("fork");
    if (pid_ == 0) {
        close(ready[0]);
        close(letGo[1]);
        char status = 'E';
        if (setgroups(0, nullptr) == 0 && setresgid(gid, gid, gid) == 0 &&
            setresuid(uid, uid, uid) == 0) {
            const int fd = open(root.c_str(), O_RDONLY | O_DIRECTORY);
            if (fd >= 0 && flock(fd, LOCK_EX) == 0)
                status = 'L';
        }
        [[maybe_unused]] auto n = write(ready[1], &status, 1);
        // Holds the lock until the parent closes its end (or dies).
        n = read(letGo[0], &status, 1);
        _exit(0);
    }
    close(ready[1]);
    close(letGo[0]);
    release_ = letGo[1];
    char status = 0;
    const bool answered =
        waitReadable(ready[0], Clock::now() + kDeadline) && read(ready[0], &status, 1) == 1;
    close(ready[0]);
    if (!answered || status != 'L') {
        release();
        throw std::runtime_error("the lock holder (uid " + std::to_string(uid) +
                                 ") could not take the lock on " + root.string());
    }
}

void ResctrlLockHolder::release() {
    if (pid_ <= 0)
        return;
    close(release_);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
}

NotifySocket::NotifySocket(const fs::path& path)
    : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
        throwErrno("socket");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const auto text = path.string();
    if (text.size() >= sizeof(addr.sun_path))
        throw std::runtime_error("notify socket path too long: " + text);
    std::memcpy(addr.sun_path, text.c_str(), text.size() + 1);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
        throwErrno("bind " + text);
}

NotifySocket::~NotifySocket() {
    if (fd_ >= 0)
        close(fd_);
}

bool NotifySocket::waitFor(const std::string& assignment, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (waitReadable(fd_, deadline)) {
        char buffer[4096];
        const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
        if (n <= 0)
            continue;
        std::istringstream lines(std::string(buffer, static_cast<std::size_t>(n)));
        std::string line;
        while (std::getline(lines, line)) {
            if (line == assignment)
                return true;
        }
    }
    return false;
}

Daemon::Daemon(const PrivateBus& bus, const fs::path& dir, Options options) {
    stateDir_ = options.stateDir.empty() ? dir / "state" : options.stateDir;
    resctrlRoot_ = options.resctrlRoot.empty() ? dir / "no-resctrl" : options.resctrlRoot;
    const auto config = dir / "resctrld.conf";
    std::ofstream(config) << (options.configText.empty() ? "[Daemon]\nMount=no\n"
                                                         : options.configText);
    static int counter = 0;
    notify_.emplace(dir / ("notify." + std::to_string(++counter)));

    std::vector<std::string> argv{RESCTRLD_BINARY,    "--address",      bus.address(),
                                  "--config",         config.string(),  "--state-dir",
                                  stateDir_.string(), "--resctrl-root", resctrlRoot_.string()};
    argv.insert(argv.end(), options.extraArgs.begin(), options.extraArgs.end());
    options.process.env["NOTIFY_SOCKET"] = notify_->path().string();
    options.process.unsetEnv.push_back("JOURNAL_STREAM");
    if (!options.process.env.count("WATCHDOG_USEC"))
        options.process.unsetEnv.push_back("WATCHDOG_USEC");
    process_.emplace(argv, dir, options.process);

    if (options.waitReady && !notify_->waitFor("READY=1")) {
        process_->waitExit(std::chrono::milliseconds(0));
        throw std::runtime_error("resctrld did not report READY=1 within the deadline; stderr:\n" +
                                 process_->stderrText());
    }
}

CallResult callAsUser(const std::string& address, uid_t uid, gid_t gid,
                      const std::vector<gid_t>& groups, const std::string& method,
                      const std::string& stringArg) {
    return runAsUser(address, uid, gid, groups, [&](sdbus::IConnection& connection) {
        auto proxy = sdbus::createProxy(connection, "org.resctrld1", "/org/resctrld1");
        const char* iface = "org.resctrld1.Manager";
        if (method == "StartDomain")
            proxy->callMethod(method).onInterface(iface).withArguments(
                stringArg, std::vector<sdbus::Struct<uint32_t, uint32_t>>{});
        else if (method == "StartDomainForProcess")
            proxy->callMethod(method).onInterface(iface).withArguments(stringArg, uint32_t{1});
        else if (method == "SetVcpuThread")
            proxy->callMethod(method).onInterface(iface).withArguments(stringArg, uint32_t{0},
                                                                       uint32_t{1});
        else if (method == "ListDomains" || method == "GetCapabilities")
            proxy->callMethod(method).onInterface(iface);
        else if (method.starts_with("Property:"))
            proxy->getProperty(method.substr(9)).onInterface(iface);
        else
            proxy->callMethod(method).onInterface(iface).withArguments(stringArg);
    });
}

namespace {

Process::Options pipedStdout(std::optional<Process::Options::User> user) {
    Process::Options options;
    options.pipeStdout = true;
    options.user = std::move(user);
    return options;
}

} // namespace

FakeHypervisor::FakeHypervisor(const std::filesystem::path& binary,
                               const std::filesystem::path& dir, unsigned vcpus,
                               std::optional<Process::Options::User> user)
    : process_({binary.string(), "--vcpus", std::to_string(vcpus)}, dir,
               pipedStdout(std::move(user))) {
    for (;;) {
        const auto line = process_.readStdoutLine();
        if (!line)
            throw std::runtime_error("fake-hypervisor did not get ready: " + process_.stderrText());
        if (line->starts_with("ready "))
            return;
        readVcpuLine(*line);
    }
}

sdbus::ObjectPath startDomain(sdbus::IProxy& manager, const std::string& definition,
                              const VcpuThreadList& threads, std::chrono::microseconds timeout) {
    sdbus::ObjectPath path;
    manager.callMethod("StartDomain")
        .onInterface(kManager)
        .withTimeout(timeout)
        .withArguments(definition, threads)
        .storeResultsTo(path);
    return path;
}

sdbus::ObjectPath startDomainForProcess(sdbus::IProxy& manager, const std::string& definition,
                                        pid_t hypervisorPid, std::chrono::microseconds timeout) {
    sdbus::ObjectPath path;
    manager.callMethod("StartDomainForProcess")
        .onInterface(kManager)
        .withTimeout(timeout)
        .withArguments(definition, static_cast<std::uint32_t>(hypervisorPid))
        .storeResultsTo(path);
    return path;
}

void stopDomain(sdbus::IProxy& manager, const std::string& name,
                std::chrono::microseconds timeout) {
    manager.callMethod("StopDomain").onInterface(kManager).withTimeout(timeout).withArguments(name);
}

sdbus::ObjectPath getDomain(sdbus::IProxy& manager, const std::string& name) {
    sdbus::ObjectPath path;
    manager.callMethod("GetDomain").onInterface(kManager).withArguments(name).storeResultsTo(path);
    return path;
}

VcpuThreadList FakeHypervisor::threadsOf(std::initializer_list<unsigned> vcpus) const {
    VcpuThreadList threads;
    for (unsigned vcpu : vcpus)
        threads.emplace_back(vcpu, static_cast<std::uint32_t>(tid(vcpu)));
    return threads;
}

VcpuThreadList FakeHypervisor::vcpuThreads() const {
    VcpuThreadList threads;
    for (const auto& [vcpu, tid] : vcpus_)
        threads.emplace_back(vcpu, static_cast<std::uint32_t>(tid));
    return threads;
}

std::set<pid_t> FakeHypervisor::taskIds() const {
    std::set<pid_t> tids;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc/" + std::to_string(pid()) + "/task", ec))
        tids.insert(std::stoi(entry.path().filename().string()));
    return tids;
}

std::unique_ptr<Process> processWithPid(pid_t pid, const fs::path& dir) {
    for (int attempt = 0; attempt < 200; ++attempt) {
        {
            std::ofstream lastPid("/proc/sys/kernel/ns_last_pid");
            lastPid << (pid - 1);
        }
        auto process = std::make_unique<Process>(std::vector<std::string>{"sleep", "600"}, dir);
        if (process->pid() == pid)
            return process;
    }
    return nullptr;
}

std::vector<BlockedSyscall> blockedSyscalls(pid_t pid) {
    std::vector<BlockedSyscall> blocked;
    std::error_code ec;
    for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        std::ifstream in(task.path() / "syscall");
        BlockedSyscall call{task.path()};
        std::string args[3];
        // "running" or "-1 <sp> <pc>" when not in a system call.
        if (!(in >> call.number >> args[0] >> args[1] >> args[2]) || call.number < 0)
            continue;
        for (int i = 0; i < 3; ++i)
            call.args[i] = std::stoul(args[i], nullptr, 16);
        blocked.push_back(std::move(call));
    }
    return blocked;
}

std::pair<unsigned, pid_t> FakeHypervisor::hotplug() {
    process_.signal(SIGUSR1);
    const auto line = process_.readStdoutLine();
    if (!line)
        throw std::runtime_error("fake-hypervisor printed no hot-plugged vCPU");
    return readVcpuLine(*line);
}

void FakeHypervisor::kill() {
    process_.signal(SIGKILL);
    if (!process_.waitExit())
        throw std::runtime_error("fake-hypervisor did not die");
}

std::pair<unsigned, pid_t> FakeHypervisor::readVcpuLine(const std::string& line) {
    std::istringstream in(line);
    std::string word;
    unsigned vcpu = 0;
    pid_t tid = 0;
    if (!(in >> word >> vcpu >> tid) || word != "vcpu")
        throw std::runtime_error("unexpected fake-hypervisor line: " + line);
    vcpus_[vcpu] = tid;
    return {vcpu, tid};
}

} // namespace resctrld::e2e
