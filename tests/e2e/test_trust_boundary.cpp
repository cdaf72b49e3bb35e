// SPDX-License-Identifier: LGPL-2.1-or-later
// The trust boundary end to end: what a hostile local user tries against the real resctrld on
// resctrlfs-sim, with callers that are real users of this machine (made with useradd for the test
// and deleted after it). The bus is session-like (everyone may send to the daemon), so the
// daemon's own checks are the only ones:
// - a connection whose opener's pid was reused by a root process is still its user's;
// - a member of AllowedGroups= may only pass threads of its own processes or of HypervisorUsers=;
// - an internal failure answers org.resctrld1.Error.Failed without the daemon's paths;
// - a state directory another user could write, or a symbolic link, stops the daemon at start;
// - privileged calls and refusals leave an audit line with the caller's uid, rate-limited per
//   caller.
// It prints how many hostile cases of each kind it tried.
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <grp.h>
#include <iostream>
#include <map>
#include <memory>
#include <poll.h>
#include <set>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>
#include <sdbus-c++/sdbus-c++.h>
#include <systemd/sd-bus.h>

#include "../sim/conformance/sim_instance.h"
#include "daemon_fixture.h"
#include "dbus_names.h"
#include "domain_builder.h"
#include "harness.h"

using namespace resctrld::e2e;
using resctrld::simtest::SimInstance;
namespace fs = std::filesystem;
namespace simtest = resctrld::simtest;

namespace {

constexpr const char* kDenied = "org.resctrld1.Error.AccessDenied";
constexpr const char* kFailed = "org.resctrld1.Error.Failed";

// Hostile cases tried, by kind; printed when the program ends.
struct HostileTally {
    std::map<std::string, int> cases;
    ~HostileTally() {
        std::cout << "hostile cases:";
        const char* separator = " ";
        for (const auto& [kind, count] : cases) {
            std::cout << separator << kind << " " << count;
            separator = ", ";
        }
        std::cout << "\n";
    }
};
HostileTally hostile;

// Two vCPUs, 5 MiB of L3 on cache id 0.
std::string definition(const std::string& name) {
    return Domain(name).vcpus(2).cachetune("0-1", l3(0, 5_MiB));
}

// The fixture (daemon_fixture.h) with `extraConfig` added to the daemon's configuration.
struct Fixture : DaemonFixture {
    explicit Fixture(const std::string& extraConfig)
        : DaemonFixture({.config = "[Daemon]\nMount=no\nSampleIntervalSec=0\n" + extraConfig}) {}

    // Every group with its tasks and schemata, and the default group's schemata.
    std::string snapshot() const {
        std::ostringstream text;
        text << "schemata:\n" << simtest::readFile(sim.at("schemata"));
        for (const std::string& group : sim.groups()) {
            text << group << "/\n" << simtest::readFile(sim.at(group + "/tasks"));
            if (!simtest::pathExists(sim.at(group + "/schemata")))
                continue;
            text << simtest::readFile(sim.at(group + "/schemata"));
        }
        return text.str();
    }

    // Runs a Manager method as `caller` on a connection of its own.
    CallResult call(const Caller& caller, const std::function<void(sdbus::IProxy&)>& body) {
        return runAsUser(bus.address(), caller.uid, caller.gid, caller.groups,
                         [&](sdbus::IConnection& c) {
                             auto proxy = sdbus::createProxy(c, kService, kRootPath);
                             body(*proxy);
                         });
    }
};

std::string describe(const CallResult& result) {
    return result.ok ? std::string("ok") : result.errorName + ": " + result.errorMessage;
}

// ---- PID reuse ------------------------------------------------------------------------------

[[noreturn]] void fail(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), what);
}

std::string socketPathOf(const std::string& address) {
    const std::string prefix = "unix:path=";
    REQUIRE(address.starts_with(prefix));
    return address.substr(prefix.size(), address.find(',') - prefix.size());
}

// Reads what `fd` gives until EOF or the deadline.
std::string readAll(int fd) {
    std::string text;
    const auto deadline = Clock::now() + kDeadline;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        pollfd pfd{fd, POLLIN, 0};
        if (left.count() <= 0 || poll(&pfd, 1, static_cast<int>(left.count())) <= 0)
            return text;
        char buffer[1024];
        const ssize_t n = read(fd, buffer, sizeof buffer);
        if (n <= 0)
            return text;
        text.append(buffer, static_cast<std::size_t>(n));
    }
}

// Authenticates on an already connected socket and calls StopDomain with plain sd-bus: the
// sdbus-c++ connection factories cannot take a socket. "OK" or "ERR\n<name>\n<message>".
std::string stopDomainOnSocket(int fd, const std::string& name) {
    sd_bus* bus = nullptr;
    if (sd_bus_new(&bus) < 0 || sd_bus_set_fd(bus, fd, fd) < 0 ||
        sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0)
        return "SETUP\nsd_bus_start failed";
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    const int rc = sd_bus_call_method(bus, kService, kRootPath, kManager, "StopDomain", &error,
                                      &reply, "s", name.c_str());
    std::string outcome = rc >= 0 ? std::string("OK\n")
                                  : "ERR\n" + std::string(error.name ? error.name : "?") + "\n" +
                                        std::string(error.message ? error.message : "");
    sd_bus_error_free(&error);
    sd_bus_message_unref(reply);
    sd_bus_flush_close_unref(bus);
    return outcome;
}

// The attack: the user's process P connects to the bus socket and forks a child that inherits
// it; P exits and a root process is given its pid; the child then authenticates on the socket
// (the bus's SO_PEERCRED still names P, whose /proc entry is now root's) and calls StopDomain.
CallResult stopDomainThroughReusedPid(const std::string& address, const Caller& caller,
                                      const std::string& name, const fs::path& dir) {
    const std::string socketPath = socketPathOf(address);
    int go[2], result[2], childPid[2];
    if (pipe2(go, O_CLOEXEC) != 0 || pipe2(result, O_CLOEXEC) != 0 ||
        pipe2(childPid, O_CLOEXEC) != 0)
        fail("pipe2");
    const pid_t opener = fork();
    if (opener < 0)
        fail("fork");
    if (opener == 0) {
        close(go[1]);
        close(result[0]);
        close(childPid[0]);
        if (setgroups(caller.groups.size(), caller.groups.data()) != 0 ||
            setresgid(caller.gid, caller.gid, caller.gid) != 0 ||
            setresuid(caller.uid, caller.uid, caller.uid) != 0)
            _exit(1);
        const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, socketPath.c_str(), sizeof addr.sun_path - 1);
        if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            _exit(2);
        const pid_t child = fork();
        if (child < 0)
            _exit(3);
        if (child == 0) {
            char byte = 0;
            if (read(go[0], &byte, 1) != 1)
                _exit(0);
            const std::string outcome = stopDomainOnSocket(fd, name);
            [[maybe_unused]] const auto n = write(result[1], outcome.data(), outcome.size());
            _exit(0);
        }
        [[maybe_unused]] const auto n = write(childPid[1], &child, sizeof child);
        _exit(0);
    }
    close(go[0]);
    close(result[1]);
    close(childPid[1]);
    pid_t child = 0;
    const bool childKnown = read(childPid[0], &child, sizeof child) == sizeof child;
    close(childPid[0]);
    int status = 0;
    waitpid(opener, &status, 0);
    // The child waits on `go`; a pidfd reaches it later without a pid that could be reused.
    const int childFd = childKnown ? static_cast<int>(syscall(SYS_pidfd_open, child, 0)) : -1;
    auto cleanUp = [&] {
        close(go[1]);
        close(result[0]);
        if (childFd >= 0) {
            syscall(SYS_pidfd_send_signal, childFd, SIGKILL, nullptr, 0);
            close(childFd);
        }
    };
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || childFd < 0) {
        cleanUp();
        FAIL("the user's process could not connect (status " << status << ")");
    }

    const auto squatter = processWithPid(opener, dir);
    if (!squatter) {
        cleanUp();
        FAIL("no root process got pid " << opener);
    }
    CHECK_THAT(readFile("/proc/" + std::to_string(opener) + "/status"),
               Catch::Contains("Uid:\t0\t0\t0\t0"));
    [[maybe_unused]] const auto n = write(go[1], "g", 1);
    const std::string text = readAll(result[0]);
    cleanUp();

    CallResult outcome;
    std::istringstream lines(text);
    std::string kind;
    std::getline(lines, kind);
    outcome.ok = kind == "OK";
    if (kind == "ERR") {
        std::getline(lines, outcome.errorName);
        std::getline(lines, outcome.errorMessage, '\0');
    } else if (!outcome.ok) {
        outcome.errorName = "harness:" + (kind.empty() ? std::string("TIMEOUT") : kind);
    }
    return outcome;
}

} // namespace

TEST_CASE("A connection whose opener's pid now names a root process is still its user's",
          "[e2e][trust]") {
    Accounts accounts;
    Fixture f("");
    FakeHypervisor vm(FAKE_HYPERVISOR_PATH, f.dir.path(), 2);
    startDomain(*f.manager, definition("vm1"), vm.vcpuThreads());
    const std::string before = f.snapshot();

    ++hostile.cases["pid-reuse"];
    const auto result =
        stopDomainThroughReusedPid(f.bus.address(), accounts.outsider, "vm1", f.dir.path());
    INFO("StopDomain through a reused pid -> " << describe(result));
    CHECK(result.errorName == kDenied);
    CHECK_THAT(result.errorMessage,
               Catch::Contains("uid " + std::to_string(accounts.outsider.uid)));
    CHECK(f.domainNames() == std::set<std::string>{"vm1"});
    CHECK(f.snapshot() == before);
}

TEST_CASE("A member of AllowedGroups= may pass only its own threads and HypervisorUsers= ones",
          "[e2e][trust]") {
    Accounts accounts;
    // The default HypervisorUsers= (libvirt-qemu qemu) never admits root's threads.
    Fixture f("AllowedGroups=" + accounts.group() + "\n");
    const Caller& admin = accounts.admin;
    FakeHypervisor rootVm(FAKE_HYPERVISOR_PATH, f.dir.path(), 2);
    FakeHypervisor ownVm(FAKE_HYPERVISOR_PATH, f.dir.path(), 2, admin.user());
    const std::string before = f.snapshot();
    // Refused, naming the thread (or process) and its owner, and nothing changed.
    auto refusedForRoot = [&](const std::string& what, const std::string& named,
                              const CallResult& result) {
        ++hostile.cases["foreign-thread"];
        INFO(what << " -> " << describe(result));
        CHECK(result.errorName == kDenied);
        CHECK_THAT(result.errorMessage, Catch::StartsWith(named + " belongs to uid 0"));
        CHECK(f.snapshot() == before);
        CHECK(f.domainNames().empty());
    };

    refusedForRoot("StartDomain with a root process's threads",
                   "thread " + std::to_string(rootVm.tid(0)) + " (vCPU 0)",
                   f.call(admin, [&](sdbus::IProxy& m) {
                       startDomain(m, definition("vm1"), rootVm.vcpuThreads());
                   }));
    // The refusal is in the audit trail with the caller's uid.
    CHECK(f.daemon->process().waitForStderr(
        "audit: StartDomain by uid " + std::to_string(admin.uid) + ": refused (AccessDenied)"));
    refusedForRoot("StartDomainForProcess of a root process",
                   "hypervisor process " + std::to_string(rootVm.pid()),
                   f.call(admin, [&](sdbus::IProxy& m) {
                       startDomainForProcess(m, definition("vm1"), rootVm.pid());
                   }));

    // A domain without threads yet (started by root): a root thread cannot join it either.
    startDomain(*f.manager, definition("vm2"), {});
    const std::string threadless = f.snapshot();
    const auto foreign = f.call(admin, [&](sdbus::IProxy& m) {
        m.callMethod("SetVcpuThread")
            .onInterface(kManager)
            .withArguments(std::string("vm2"), 1u, static_cast<std::uint32_t>(rootVm.tid(1)));
    });
    ++hostile.cases["foreign-thread"];
    INFO("SetVcpuThread with a root thread -> " << describe(foreign));
    CHECK(foreign.errorName == kDenied);
    CHECK_THAT(foreign.errorMessage, Catch::StartsWith("thread " + std::to_string(rootVm.tid(1)) +
                                                       " (vCPU 1) belongs to uid 0"));
    CHECK(f.snapshot() == threadless);
    stopDomain(*f.manager, "vm2");

    // Its own process's threads are its to pass.
    const auto own = f.call(
        admin, [&](sdbus::IProxy& m) { startDomain(m, definition("vm1"), ownVm.vcpuThreads()); });
    INFO("StartDomain with its own threads -> " << describe(own));
    REQUIRE(own.ok);
    CHECK(simtest::readTasks(f.sim.at("resctrld-vm1-vcpus_0-1/tasks")) ==
          std::set<pid_t>{ownVm.tid(0), ownVm.tid(1)});
    const auto stop = f.call(admin, [&](sdbus::IProxy& m) { stopDomain(m, "vm1"); });
    CHECK(stop.ok);
    CHECK(f.snapshot() == before);
}

TEST_CASE("HypervisorUsers= names the users whose processes an allowed group may pass",
          "[e2e][trust]") {
    Accounts accounts;
    Fixture f("AllowedGroups=" + accounts.group() + "\nHypervisorUsers=no-such-user-resctrld " +
              accounts.outsiderName() + "\n");
    FakeHypervisor qemu(FAKE_HYPERVISOR_PATH, f.dir.path(), 2, accounts.outsider.user());
    const auto result = f.call(accounts.admin, [&](sdbus::IProxy& m) {
        startDomainForProcess(m, definition("vm1"), qemu.pid());
    });
    INFO("StartDomainForProcess of a HypervisorUsers= process -> " << describe(result));
    REQUIRE(result.ok);
    CHECK(simtest::readTasks(f.sim.at("resctrld-vm1-vcpus_0-1/tasks")) ==
          std::set<pid_t>{qemu.tid(0), qemu.tid(1)});
    CHECK(f.daemon->process().waitForStderr("no-such-user-resctrld"));
    stopDomain(*f.manager, "vm1");
}

TEST_CASE("A state save that fails answers Failed without the daemon's paths", "[e2e][trust]") {
    Fixture f("");
    FakeHypervisor vm(FAKE_HYPERVISOR_PATH, f.dir.path(), 2);
    const std::string before = f.snapshot();
    // The record's file name taken by a directory: the save's rename fails, even for root.
    fs::create_directory(f.daemon->stateDir() / "vm1.domain");
    try {
        startDomain(*f.manager, definition("vm1"), vm.vcpuThreads());
        FAIL("StartDomain succeeded");
    } catch (const sdbus::Error& e) {
        INFO(e.getName() << ": " << e.getMessage());
        CHECK(e.getName() == kFailed);
        CHECK_THAT(e.getMessage(), Catch::Contains("see the daemon's log"));
        CHECK(e.getMessage().find(f.daemon->stateDir().string()) == std::string::npos);
        CHECK(e.getMessage().find('/') == std::string::npos);
    }
    CHECK(f.snapshot() == before);
    CHECK(f.domainNames().empty());
    // The operator finds the details in the log.
    CHECK(f.daemon->process().waitForStderr((f.daemon->stateDir() / "vm1.domain").string()));
}

TEST_CASE("The daemon refuses a state directory others could change", "[e2e][trust]") {
    TempDir dir;
    PrivateBus bus(dir.path());
    const fs::path state = dir.path() / "state";
    std::string expected;
    SECTION("owned by another user") {
        REQUIRE(mkdir(state.c_str(), 0700) == 0);
        REQUIRE(chown(state.c_str(), 65534, 65534) == 0);
        expected = "chown root";
    }
    SECTION("open to other users") {
        REQUIRE(mkdir(state.c_str(), 0755) == 0);
        REQUIRE(chmod(state.c_str(), 0755) == 0);
        expected = "chmod 0700";
    }
    SECTION("a symbolic link") {
        const fs::path target = dir.path() / "elsewhere";
        REQUIRE(mkdir(target.c_str(), 0700) == 0);
        fs::create_directory_symlink(target, state);
        expected = "symbolic link";
    }
    ++hostile.cases["state-directory"];
    struct stat beforeStat {};
    REQUIRE(lstat(state.c_str(), &beforeStat) == 0);

    Daemon::Options options;
    options.stateDir = state;
    options.waitReady = false;
    Daemon daemon(bus, dir.path(), options);
    const auto status = daemon.process().waitExit();
    const std::string log = daemon.process().stderrText();
    INFO(log);
    REQUIRE(status);
    CHECK(*status != 0);
    CHECK_THAT(log, Catch::Contains(state.string()) && Catch::Contains(expected));
    // Untouched: same owner and mode, and nothing written into it (nor where the link points).
    struct stat afterStat {};
    REQUIRE(lstat(state.c_str(), &afterStat) == 0);
    CHECK(afterStat.st_mode == beforeStat.st_mode);
    CHECK(afterStat.st_uid == beforeStat.st_uid);
    CHECK(fs::is_empty(state));
}

TEST_CASE("The daemon creates a missing state directory 0700", "[e2e][trust]") {
    TempDir dir;
    PrivateBus bus(dir.path());
    Daemon::Options options;
    options.stateDir = dir.path() / "new" / "state";
    Daemon daemon(bus, dir.path(), options);
    struct stat info {};
    REQUIRE(lstat(options.stateDir.c_str(), &info) == 0);
    CHECK((info.st_mode & 07777) == 0700);
    CHECK(info.st_uid == 0);
}

TEST_CASE("Privileged calls and refusals leave audit lines, a flood of them only a few",
          "[e2e][trust]") {
    Accounts accounts;
    Fixture f("AllowedGroups=" + accounts.group() + "\n");
    Process& daemon = f.daemon->process();
    const std::string adminUid = "uid " + std::to_string(accounts.admin.uid);
    const std::string outsiderUid = "uid " + std::to_string(accounts.outsider.uid);
    FakeHypervisor vm(FAKE_HYPERVISOR_PATH, f.dir.path(), 2);
    startDomain(*f.manager, definition("vm1"), vm.vcpuThreads());
    CHECK(daemon.waitForStderr("audit: StartDomain of domain 'vm1' by uid 0: done"));

    CHECK(f.call(accounts.admin, [](sdbus::IProxy& m) { stopDomain(m, "vm1"); }).ok);
    CHECK(daemon.waitForStderr("audit: StopDomain of domain 'vm1' by " + adminUid + ": done"));

    const auto floodStart = Clock::now();
    const auto refused = f.call(accounts.outsider, [](sdbus::IProxy& m) { stopDomain(m, "vm2"); });
    CHECK(refused.errorName == kDenied);
    const std::string refusal = "audit: StopDomain of domain 'vm2' by " + outsiderUid + ": refused";
    CHECK(daemon.waitForStderr(refusal));

    // One caller's flood: its lines stop at the limit; another caller's still appear.
    ++hostile.cases["audit-flood"];
    constexpr int kFlood = 50;
    const auto flood = f.call(accounts.outsider, [&](sdbus::IProxy& m) {
        int denied = 0;
        for (int i = 0; i < kFlood; ++i) {
            try {
                stopDomain(m, "vm2");
            } catch (const sdbus::Error& e) {
                denied += e.getName() == kDenied;
            }
        }
        if (denied != kFlood)
            throw std::runtime_error(std::to_string(denied) + " of the flood's calls refused");
    });
    INFO("the flood -> " << describe(flood));
    CHECK(flood.ok);
    CHECK(f.call(accounts.admin, [](sdbus::IProxy& m) { stopDomain(m, "vm3"); }).errorName ==
          "org.resctrld1.Error.NotFound");
    CHECK(daemon.waitForStderr("audit: StopDomain of domain 'vm3' by " + adminUid));
    auto count = [&](const std::string& needle) {
        const std::string log = daemon.stderrText();
        int n = 0;
        for (auto at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1))
            ++n;
        return n;
    };
    CHECK(count(refusal) == 20);

    // The next window starts with the count of what was left out. The limit is per 10 s of
    // the daemon's clock, so this waits for that time to pass.
    std::this_thread::sleep_until(floodStart + std::chrono::milliseconds(10500));
    CHECK(f.call(accounts.outsider, [](sdbus::IProxy& m) { stopDomain(m, "vm2"); }).errorName ==
          kDenied);
    CHECK(daemon.waitForStderr("audit: " + outsiderUid + ": " + std::to_string(1 + kFlood - 20) +
                               " more lines suppressed"));
    CHECK(count(refusal) == 21);
}
