// SPDX-License-Identifier: LGPL-2.1-or-later
// Unit tests of the daemon's pieces that need no bus: configuration files, command line,
// instance lock, state directory checks, mountinfo parsing, access decisions, the audit trail and
// the error mapping.
#include <filesystem>
#include <fstream>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "access_policy.h"
#include "audit_log.h"
#include "bus_errors.h"
#include "caller_cache.h"
#include "command_line.h"
#include "daemon_config.h"
#include "instance_lock.h"
#include "object_paths.h"
#include "process_table.h"
#include "resctrl_mount.h"
#include "state_directory.h"
#include "thread_owners.h"

using namespace resctrld;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

class TempDir {
public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "resctrld-unit-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr)
            throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

void writeFile(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
}

} // namespace

TEST_CASE("defaults are the documented ones", "[config]") {
    const Config config;
    CHECK(config.resctrlRoot == "/sys/fs/resctrl");
    CHECK(config.sysfsRoot == "/sys");
    CHECK(config.stateDirectory == "/run/resctrld");
    CHECK(config.sampleInterval == 1s);
    CHECK(config.checkInterval == 5s);
    CHECK(config.groupPrefix == "resctrld-");
    CHECK(config.manageDefaultGroup);
    CHECK(config.mount == MountMode::Auto);
    CHECK(config.mountOptions.empty());
    CHECK(config.allowedGroups.empty());
    CHECK(config.hypervisorUsers == std::vector<std::string>{"libvirt-qemu", "qemu"});
    CHECK(config.lockTimeout == 5s);
    CHECK(config.logLevel == "info");
}

TEST_CASE("every key of the [Daemon] section is read", "[config]") {
    Config config;
    const auto warnings = applyConfigText(config,
                                          "[Daemon]\n"
                                          "ResctrlRoot=/tmp/res\n"
                                          "SysfsRoot=/tmp/sys/\n"
                                          "StateDirectory=/tmp/state\n"
                                          "SampleIntervalSec=0.5\n"
                                          "CheckIntervalSec=2.5\n"
                                          "GroupPrefix=vm.\n"
                                          "ManageDefaultGroup=no\n"
                                          "SparseMasks=yes\n"
                                          "Mount=no\n"
                                          "MountOptions=cdp,mba_MBps\n"
                                          "AllowedGroups=kvm, libvirt qemu\n"
                                          "HypervisorUsers=qemu\n"
                                          "LockTimeoutSec=0.25\n"
                                          "LogLevel=debug\n",
                                          "test.conf");
    CHECK(warnings.empty());
    CHECK(config.resctrlRoot == "/tmp/res");
    CHECK(config.sysfsRoot == "/tmp/sys/");
    CHECK(config.stateDirectory == "/tmp/state");
    CHECK(config.sampleInterval == 500ms);
    CHECK(config.checkInterval == 2500ms);
    CHECK(config.groupPrefix == "vm.");
    CHECK_FALSE(config.manageDefaultGroup);
    CHECK(config.sparseMasks);
    CHECK(config.mount == MountMode::No);
    CHECK(config.mountOptions == "cdp,mba_MBps");
    CHECK(config.allowedGroups == std::vector<std::string>{"kvm", "libvirt", "qemu"});
    CHECK(config.hypervisorUsers == std::vector<std::string>{"qemu"});
    CHECK(config.lockTimeout == 250ms);
    CHECK(config.logLevel == "debug");
}

TEST_CASE("SparseMasks is off unless asked for", "[config]") {
    Config config;
    CHECK_FALSE(config.sparseMasks);
    CHECK_THROWS_WITH(applyConfigText(config, "[Daemon]\nSparseMasks=often\n", "a.conf"),
                      Catch::StartsWith("a.conf:2: SparseMasks=often is not a boolean"));
}

TEST_CASE("SampleIntervalSec accepts 0 and fractions and refuses the rest", "[config]") {
    CHECK(parseSeconds("SampleIntervalSec", "0") == 0us);
    CHECK(parseSeconds("SampleIntervalSec", "2") == 2s);
    CHECK(parseSeconds("SampleIntervalSec", "0.001") == 1ms);
    for (const char* bad : {"", "-1", "1s", "abc", "nan", "inf", "1e9", " 1"}) {
        INFO(bad);
        CHECK_THROWS_WITH(parseSeconds("SampleIntervalSec", bad),
                          Catch::Contains("SampleIntervalSec=") &&
                              Catch::Contains("not a number of seconds"));
    }
}

TEST_CASE("CheckIntervalSec refuses 0: domains must be checked", "[config]") {
    CHECK(parsePositiveSeconds("CheckIntervalSec", "0.5") == 500ms);
    CHECK_THROWS_WITH(parsePositiveSeconds("CheckIntervalSec", "0"),
                      Catch::Contains("CheckIntervalSec=0") && Catch::Contains("more than 0"));
    CHECK_THROWS_WITH(parsePositiveSeconds("CheckIntervalSec", "-1"),
                      Catch::Contains("not a number of seconds"));
    Config config;
    CHECK_THROWS(applyConfigText(config, "[Daemon]\nCheckIntervalSec=0\n", "test.conf"));
    CHECK(config.checkInterval == 5s);
}

TEST_CASE("bad values are refused with file, line and key; the config stays as it was",
          "[config]") {
    Config config;
    config.groupPrefix = "before-";
    CHECK_THROWS_WITH(applyConfigText(config,
                                      "[Daemon]\nGroupPrefix=ok-\n\nManageDefaultGroup=maybe\n",
                                      "a.conf"),
                      Catch::StartsWith("a.conf:4: ManageDefaultGroup=maybe is not a boolean"));
    CHECK(config.groupPrefix == "before-");

    CHECK_THROWS_WITH(applyConfigText(config, "[Daemon]\nGroupPrefix=\n", "b.conf"),
                      Catch::Contains("b.conf:2: GroupPrefix= must not be empty"));
    CHECK_THROWS_WITH(applyConfigText(config, "[Daemon]\nGroupPrefix=a/b\n", "b.conf"),
                      Catch::Contains("may only contain"));
    CHECK_THROWS_WITH(applyConfigText(config, "[Daemon]\nGroupPrefix=.x\n", "b.conf"),
                      Catch::Contains("must not start with '.'"));
    CHECK_THROWS_WITH(applyConfigText(config, "[Daemon]\nResctrlRoot=relative/path\n", "c.conf"),
                      Catch::Contains("c.conf:2: ResctrlRoot=relative/path is not an absolute"));
    CHECK_THROWS_WITH(applyConfigText(config, "[Daemon]\nMount=yes\n", "d.conf"),
                      Catch::Contains("Mount=yes is not one of: auto, no"));
    CHECK_THROWS_WITH(applyConfigText(config, "[Daemon]\nLogLevel=loud\n", "e.conf"),
                      Catch::Contains("LogLevel=loud"));
    CHECK_THROWS_WITH(applyConfigText(config, "[Daemon]\nthis is not ini\n", "f.conf"),
                      Catch::StartsWith("f.conf:2: syntax error"));
    CHECK(config.groupPrefix == "before-");
}

TEST_CASE("unknown keys and sections warn instead of failing", "[config]") {
    Config config;
    const auto warnings = applyConfigText(
        config, "[Daemon]\nFrobnicate=1\nMount=no\n[Other]\nMount=auto\n", "x.conf");
    REQUIRE(warnings.size() == 2);
    CHECK_THAT(warnings[0], Catch::Contains("x.conf") && Catch::Contains("Frobnicate="));
    CHECK_THAT(warnings[1], Catch::Contains("[Other]"));
    CHECK(config.mount == MountMode::No); // [Other] did not apply
}

TEST_CASE("drop-ins apply after the main file in lexical order", "[config]") {
    TempDir dir;
    const auto main = dir.path() / "resctrld.conf";
    writeFile(main, "[Daemon]\nGroupPrefix=main-\nSampleIntervalSec=3\nMount=no\n");
    writeFile(dir.path() / "resctrld.conf.d" / "20-b.conf", "[Daemon]\nGroupPrefix=b-\n");
    writeFile(dir.path() / "resctrld.conf.d" / "10-a.conf",
              "[Daemon]\nGroupPrefix=a-\nSampleIntervalSec=0\n");
    writeFile(dir.path() / "resctrld.conf.d" / "30-c.conf.disabled", "[Daemon]\nGroupPrefix=c-\n");

    Config config;
    CHECK(applyConfigFiles(config, main, true).empty());
    CHECK(config.groupPrefix == "b-");
    CHECK(config.sampleInterval == 0us);
    CHECK(config.mount == MountMode::No);
}

TEST_CASE("a missing file is an error only when it was asked for", "[config]") {
    TempDir dir;
    Config config;
    CHECK_THROWS_WITH(applyConfigFiles(config, dir.path() / "nope.conf", true),
                      Catch::Contains("nope.conf: no such configuration file"));
    CHECK_NOTHROW(applyConfigFiles(config, dir.path() / "nope.conf", false));
    CHECK(config.groupPrefix == "resctrld-");

    // Drop-ins apply even without the main file, as for the packaged default path.
    writeFile(dir.path() / "nope.conf.d" / "a.conf", "[Daemon]\nLockTimeoutSec=1\n");
    applyConfigFiles(config, dir.path() / "nope.conf", false);
    CHECK(config.lockTimeout == 1s);
}

TEST_CASE("the command line overrides the files", "[config]") {
    TempDir dir;
    const auto main = dir.path() / "resctrld.conf";
    writeFile(main,
              "[Daemon]\nResctrlRoot=/from/file\nStateDirectory=/state/file\nLogLevel=warn\n");
    writeFile(dir.path() / "resctrld.conf.d" / "a.conf", "[Daemon]\nResctrlRoot=/from/dropin\n");

    const auto commandLine = parseCommandLine(
        {"--config", main.string(), "--resctrl-root=/from/cli", "--log-level", "debug"});
    Config config;
    applyConfigFiles(config, *commandLine.configFile, true);
    CHECK(config.resctrlRoot == "/from/dropin");
    applyCommandLine(config, commandLine);
    CHECK(config.resctrlRoot == "/from/cli");
    CHECK(config.stateDirectory == "/state/file"); // not given on the command line
    CHECK(config.logLevel == "debug");
}

TEST_CASE("command line options", "[config]") {
    auto cl = parseCommandLine({});
    CHECK(cl.bus == BusKind::System);
    CHECK_FALSE(cl.configFile);

    cl = parseCommandLine({"--session", "--state-dir", "/tmp/s", "--sysfs-root=/tmp/sys"});
    CHECK(cl.bus == BusKind::Session);
    CHECK(cl.stateDirectory == fs::path("/tmp/s"));
    CHECK(cl.sysfsRoot == fs::path("/tmp/sys"));

    cl = parseCommandLine({"--address", "unix:path=/tmp/bus"});
    CHECK(cl.bus == BusKind::Address);
    CHECK(cl.busAddress == "unix:path=/tmp/bus");

    CHECK(parseCommandLine({"--help"}).showHelp);
    CHECK(parseCommandLine({"-h"}).showHelp);
    CHECK(parseCommandLine({"--version"}).showVersion);

    CHECK_THROWS_WITH(parseCommandLine({"--frobnicate"}), Catch::Contains("unknown option"));
    CHECK_THROWS_WITH(parseCommandLine({"--system", "--session"}),
                      Catch::Contains("only one of --system, --session, --address"));
    CHECK_THROWS_WITH(parseCommandLine({"--config"}), Catch::Contains("--config needs a value"));
    CHECK_THROWS_WITH(parseCommandLine({"--state-dir", "rel"}), Catch::Contains("absolute"));
    CHECK_THROWS_WITH(parseCommandLine({"--log-level", "loud"}), Catch::Contains("loud"));
    CHECK_THROWS_WITH(parseCommandLine({"--help=yes"}), Catch::Contains("takes no value"));
    CHECK_THROWS_WITH(parseCommandLine({"--address="}), Catch::Contains("needs a D-Bus address"));
}

TEST_CASE("a second instance lock on the same state directory is refused with the holder's pid",
          "[config]") {
    TempDir dir;
    const auto state = dir.path() / "state" / "nested";
    {
        InstanceLock first(state);
        CHECK(fs::is_directory(state));
        // flock locks belong to the open file description, so a second open in this process
        // conflicts exactly as a second daemon would.
        CHECK_THROWS_MATCHES(
            InstanceLock(state), AlreadyRunning,
            Catch::Matchers::Predicate<AlreadyRunning>([&](const AlreadyRunning& e) {
                const std::string what = e.what();
                return what.find(state.string()) != std::string::npos &&
                       what.find("(pid " + std::to_string(getpid()) + ")") != std::string::npos;
            }));
    }
    // Released with the object.
    CHECK_NOTHROW(InstanceLock(state));
}

TEST_CASE("resctrl mount options come from the last resctrl mount at the root", "[config]") {
    TempDir dir;
    const auto mountinfo = dir.path() / "mountinfo";
    writeFile(mountinfo,
              "22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw\n"
              "40 22 0:35 / /sys/fs/resctrl rw,relatime shared:9 - resctrl resctrl rw\n"
              "41 22 0:36 / /sys/fs/resctrl rw,relatime - resctrl resctrl rw,cdp,mba_MBps\n"
              "42 22 0:37 / /other\\040root rw - resctrl resctrl ro,cdpl2\n"
              "43 22 0:38 / /tmp/fuse rw - fuse.resctrlfs-sim sim rw,user_id=0\n");
    CHECK(resctrlMountOptions("/sys/fs/resctrl", mountinfo) ==
          std::vector<std::string>{"cdp", "mba_MBps"});
    CHECK(resctrlMountOptions("/other root", mountinfo) == std::vector<std::string>{"cdpl2"});
    CHECK(resctrlMountOptions("/tmp/fuse", mountinfo).empty());
    CHECK(resctrlMountOptions("/nowhere", mountinfo).empty());
}

TEST_CASE("resctrl counts as mounted when info/ and schemata are there", "[config]") {
    TempDir dir;
    CHECK_FALSE(probeResctrl(dir.path() / "missing").mounted);
    CHECK_FALSE(probeResctrl(dir.path()).mounted);
    fs::create_directories(dir.path() / "info");
    CHECK_FALSE(probeResctrl(dir.path()).mounted);
    writeFile(dir.path() / "schemata", "L3:0=fff\n");
    CHECK(probeResctrl(dir.path()).mounted);
}

TEST_CASE("a mount at the resctrl root is told from the next by its mountinfo entry", "[config]") {
    TempDir dir;
    const auto mountinfo = dir.path() / "mountinfo";
    writeFile(mountinfo, "22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw\n"
                         "40 22 0:35 / /sys/fs/resctrl rw - resctrl resctrl rw\n");
    const std::string first = mountinfoEntry("/sys/fs/resctrl", mountinfo);
    CHECK(first == "40 0:35 rw");
    // Unmounted and mounted again with cdp: the kernel may give back the id and the device, not
    // the options.
    writeFile(mountinfo, "22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw\n"
                         "40 22 0:35 / /sys/fs/resctrl rw - resctrl resctrl rw,cdp\n");
    CHECK(mountinfoEntry("/sys/fs/resctrl", mountinfo) != first);
    // Of several mounts on the path, the last one is the visible one, whatever its type.
    writeFile(mountinfo, "40 22 0:35 / /sys/fs/resctrl rw - resctrl resctrl rw\n"
                         "44 40 0:39 / /sys/fs/resctrl rw - fuse.resctrl sim rw,user_id=0\n");
    CHECK(mountinfoEntry("/sys/fs/resctrl", mountinfo) == "44 0:39 rw,user_id=0");
    CHECK(mountinfoEntry("/nowhere", mountinfo).empty());
}

TEST_CASE("root and members of the allowed groups are privileged, nobody else", "[config]") {
    const AccessPolicy policy(std::vector<gid_t>{1234});
    CHECK(policy.isPrivileged({0, 0, {}, true}));
    CHECK_FALSE(policy.isPrivileged({1000, 1000, {}, true}));
    CHECK_FALSE(policy.isPrivileged({1000, 1000, {5, 6}, true}));
    CHECK(policy.isPrivileged({1000, 1000, {5, 1234}, true}));
    CHECK(policy.isPrivileged({1000, 1234, {}, true}));
    CHECK_FALSE(policy.isPrivileged({})); // unknown caller: closed
    CHECK_FALSE(AccessPolicy(std::vector<gid_t>{}).isPrivileged({1000, 1234, {1234}, true}));
    // A group name that does not exist admits nobody.
    CHECK(
        AccessPolicy(std::vector<std::string>{"no-such-group-resctrld"}, {}).allowedGids().empty());
    CHECK(AccessPolicy(std::vector<std::string>{"root"}, {}).allowedGids() ==
          std::vector<gid_t>{0});
}

TEST_CASE("root may pass anyone's threads, others their own and HypervisorUsers= ones",
          "[config]") {
    // A user name that does not exist admits nobody.
    const AccessPolicy named(std::vector<std::string>{},
                             std::vector<std::string>{"no-such-user-resctrld", "root"});
    CHECK(named.hypervisorUids() == std::vector<uid_t>{0});
    const AccessPolicy policy(std::vector<gid_t>{1234}, {4000});
    CHECK(policy.threadOwnersFor({0, 0, {}, true}).admitsAnyone());
    CHECK_FALSE(policy.threadOwnersFor({1000, 1000, {1234}, true}).admitsAnyone());

    // A proc tree with one task per owner; every uid of the task must be admitted.
    TempDir proc;
    auto task = [&](pid_t tid, const std::string& uids) {
        writeFile(proc.path() / std::to_string(tid) / "status",
                  "Name:\tqemu\nTgid:\t" + std::to_string(tid) + "\nUid:\t" + uids + "\n");
    };
    task(10, "1000\t1000\t1000\t1000");
    task(11, "4000\t4000\t4000\t4000");
    task(12, "0\t0\t0\t0");
    task(13, "1000\t0\t0\t1000"); // setuid root, run by the caller
    const ProcessTable processes(proc.path());
    const ThreadOwners owners = policy.threadOwnersFor({1000, 1000, {1234}, true});
    CHECK_NOTHROW(owners.require(processes, 10, "thread 10"));
    CHECK_NOTHROW(owners.require(processes, 11, "thread 11"));
    CHECK_THROWS_MATCHES(owners.require(processes, 12, "thread 12 (vCPU 0)"), AccessDenied,
                         Catch::Matchers::Predicate<AccessDenied>([](const AccessDenied& e) {
                             const std::string what = e.what();
                             return what.starts_with("thread 12 (vCPU 0) belongs to uid 0") &&
                                    what.find("uid 1000") != std::string::npos &&
                                    what.find("HypervisorUsers=") != std::string::npos;
                         }));
    CHECK_THROWS_AS(owners.require(processes, 13, "thread 13"), AccessDenied);
    CHECK_THROWS_AS(owners.require(processes, 14, "thread 14"), ProcessNotFound);
    CHECK_NOTHROW(ThreadOwners::anyone().require(processes, 12, "thread 12"));
}

TEST_CASE("the audit trail logs at most its share per caller and counts the rest", "[config]") {
    std::vector<std::string> lines;
    AuditLog audit([&](const std::string& line) { lines.push_back(line); });
    const auto t0 = AuditLog::Clock::now();
    for (int i = 0; i < 30; ++i)
        audit.log(1000, "StopDomain by uid 1000: refused", t0);
    audit.log(0, "StopDomain by uid 0: done", t0 + 1s); // another caller's share is its own
    CHECK(lines.size() == AuditLog::kLinesPerWindow + 1);
    CHECK(lines.front() == "audit: StopDomain by uid 1000: refused");
    CHECK(lines.back() == "audit: StopDomain by uid 0: done");
    // Any line after the window says what the window left out, then is logged.
    lines.clear();
    audit.log(0, "StopDomain by uid 0: done", t0 + AuditLog::kWindow + 1s);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].starts_with("audit: uid 1000"));
    CHECK_THAT(lines[0], Catch::Contains(": 10 more lines suppressed since "));
    CHECK(lines[1] == "audit: StopDomain by uid 0: done");
    // A call's line waits for the error its handler ends with.
    lines.clear();
    holdAuditLine(audit, 1000, "StartDomain by uid 1000");
    releaseAuditLine("org.resctrld1.Error.AccessDenied");
    holdAuditLine(audit, 1000, "StartDomain by uid 1000");
    releaseAuditLine("org.resctrld1.Error.NoSpace");
    releaseAuditLine("org.resctrld1.Error.NoSpace"); // nothing held
    CHECK(lines ==
          std::vector<std::string>{"audit: StartDomain by uid 1000: refused (AccessDenied)",
                                   "audit: StartDomain by uid 1000: failed (NoSpace)"});
    CHECK(quoteForLog("vm1\n\\x") == "vm1\\x0a\\x5cx");
    CHECK(quoteForLog(std::string(200, 'a')) == std::string(128, 'a') + "...");
}

TEST_CASE("the state directory must be the daemon user's, 0700 and no symbolic link", "[config]") {
    TempDir dir;
    const uid_t self = geteuid();
    auto refused = [&](const fs::path& path, uid_t owner, const std::string& fix) {
        try {
            prepareStateDirectory(path, owner);
            FAIL("accepted " << path);
        } catch (const UnsafeStateDirectory& e) {
            CHECK_THAT(e.what(), Catch::Contains(path.string()) && Catch::Contains(fix));
        }
    };
    // Made 0700 whatever the umask, parents included.
    const mode_t umaskBefore = umask(0);
    const fs::path made = dir.path() / "a" / "state";
    prepareStateDirectory(made, self);
    umask(umaskBefore);
    CHECK((fs::status(made).permissions() & fs::perms::all) == fs::perms::owner_all);
    CHECK_NOTHROW(prepareStateDirectory(made, self));

    refused(made, self + 1, "chown ");
    fs::permissions(made, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
    refused(made, self, "chmod 0700 " + made.string());
    CHECK((fs::status(made).permissions() & fs::perms::all) != fs::perms::owner_all); // untouched

    const fs::path link = dir.path() / "link";
    fs::create_directory(dir.path() / "target");
    fs::permissions(dir.path() / "target", fs::perms::owner_all);
    fs::create_directory_symlink(dir.path() / "target", link);
    refused(link, self, "symbolic link");
    writeFile(dir.path() / "file", "x");
    refused(dir.path() / "file", self, "not a directory");
}

TEST_CASE("translateErrors maps resctrld errors to their D-Bus names", "[config]") {
    try {
        translateErrors("GetDomain", []() -> int { throw NotFound("no domain named 'x'"); });
        FAIL("no exception");
    } catch (const sdbus::Error& e) {
        CHECK(e.getName() == "org.resctrld1.Error.NotFound");
        CHECK(e.getMessage() == "no domain named 'x'");
    }
    // Anything else is Failed, with the details for the log only.
    auto failed = [](auto body) {
        try {
            translateErrors("StartDomain", body);
        } catch (const sdbus::Error& e) {
            CHECK(e.getName() == "org.resctrld1.Error.Failed");
            return e.getMessage();
        }
        return std::string("no exception");
    };
    CHECK(failed([] { throw std::runtime_error("/run/resctrld/vm1.domain: disk on fire"); }) ==
          "StartDomain failed because of an internal error; see the daemon's log");
    CHECK(failed([] { throw sdbus::Error("org.example.E", "/internal"); }) ==
          "StartDomain failed because of an internal error; see the daemon's log");
    CHECK(failed([] { throw Failed("cannot save the state of domain 'x'"); }) ==
          "cannot save the state of domain 'x'");
    // An error a nested handler already translated is kept.
    CHECK_THROWS_MATCHES(
        translateErrors("X", [] { throw sdbus::Error("org.resctrld1.Error.Busy", "kept"); }),
        sdbus::Error, Catch::Matchers::Predicate<sdbus::Error>([](const sdbus::Error& e) {
            return e.getName() == "org.resctrld1.Error.Busy" && e.getMessage() == "kept";
        }));
    CHECK(translateErrors("X", [] { return 42; }) == 42);
}

TEST_CASE("object paths encode the domain name as sd_bus_path_encode does", "[config]") {
    CHECK(domainObjectPath("vm1") == "/org/resctrld1/domain/vm1");
    CHECK(domainObjectPath("") == "/org/resctrld1/domain/_");
    CHECK(domainObjectPath("web-01.prod") == "/org/resctrld1/domain/web_2d01_2eprod");
    CHECK(domainObjectPath("a_b c/\xff") == "/org/resctrld1/domain/a_5fb_20c_2f_ff");
    CHECK(allocationObjectPath("vm1", 0) == "/org/resctrld1/domain/vm1/allocation/0");
    CHECK(monitorObjectPath("vm-1", 2) == "/org/resctrld1/domain/vm_2d1/monitor/2");

    std::string name;
    REQUIRE(decodeDomainObjectPath("/org/resctrld1/domain/web_2d01_2eprod", name));
    CHECK(name == "web-01.prod");
    REQUIRE(decodeDomainObjectPath(domainObjectPath(""), name));
    CHECK(name.empty());
    CHECK_FALSE(decodeDomainObjectPath("/org/resctrld1/other/x", name));
}

TEST_CASE("a reload applies what can change at run time and names what needs a restart",
          "[config]") {
    Config running;
    Config reloaded;
    reloaded.allowedGroups = {"vmadmin"};
    reloaded.hypervisorUsers = {"qemu"};
    reloaded.sampleInterval = std::chrono::seconds(3);
    reloaded.checkInterval = std::chrono::seconds(7);
    reloaded.lockTimeout = std::chrono::seconds(2);
    reloaded.logLevel = "debug";
    reloaded.groupPrefix = "other-";
    reloaded.stateDirectory = "/run/elsewhere";
    const auto restartOnly = applyReload(running, reloaded);
    CHECK(restartOnly == std::vector<std::string>{"StateDirectory", "GroupPrefix"});
    CHECK(running.allowedGroups == reloaded.allowedGroups);
    CHECK(running.hypervisorUsers == reloaded.hypervisorUsers);
    CHECK(running.sampleInterval == reloaded.sampleInterval);
    CHECK(running.checkInterval == reloaded.checkInterval);
    CHECK(running.lockTimeout == reloaded.lockTimeout);
    CHECK(running.logLevel == "debug");
    // Kept until the next start.
    CHECK(running.groupPrefix == "resctrld-");
    CHECK(running.stateDirectory == "/run/resctrld");
}

TEST_CASE("the caller cache keeps what the bus said of unique names only, and forgets the oldest",
          "[access]") {
    resctrld::CallerCache cache(2);
    resctrld::CallerCredentials root;
    root.uid = 0;
    resctrld::CallerCredentials user;
    user.uid = 1000;
    user.supplementaryGids = {1000, 27};
    user.supplementaryGidsKnown = true;

    cache.remember(":1.1", root);
    cache.remember(":1.2", user);
    REQUIRE(cache.find(":1.1").value().uid == 0);
    REQUIRE(cache.find(":1.2").value().supplementaryGids == std::vector<gid_t>{1000, 27});

    // A well-known name can change owner; an unknown uid is asked again next time.
    cache.remember("org.example.Tool", root);
    cache.remember(":1.3", resctrld::CallerCredentials{});
    CHECK_FALSE(cache.find("org.example.Tool"));
    CHECK_FALSE(cache.find(":1.3"));
    CHECK(cache.size() == 2);

    // Past its capacity the oldest entry goes.
    cache.remember(":1.4", user);
    CHECK_FALSE(cache.find(":1.1"));
    CHECK(cache.find(":1.2"));
    CHECK(cache.find(":1.4").value().uid == 1000);
    CHECK(cache.size() == 2);
}
