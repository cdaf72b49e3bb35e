// SPDX-License-Identifier: LGPL-2.1-or-later
// The domain lifecycle under contention, end to end: another program holding the resctrl lock, a
// VM exiting meanwhile, the daemon losing its bus, a thread id reused between its check and its
// tasks write. The fixture and helpers are domains_fixture.h's, as in test_daemon_domains.cpp.

#define CATCH_CONFIG_ENABLE_TUPLE_STRINGMAKER
#define CATCH_CONFIG_ENABLE_PAIR_STRINGMAKER

#include "domains_fixture.h"

using namespace resctrld::e2e;
using namespace resctrld::e2e::domains;

TEST_CASE("StartDomain is Busy while another process holds the resctrl lock",
          "[e2e][sim][domains]") {
    Fixture f("skx-2s-l3cat", "", "6.15", "LockTimeoutSec=0.3\n");
    FakeVm& vm = f.spawn(2);
    const std::string definition =
        Domain("vm1").uuid(kUuid).vcpus(2).cachetune("0-1", l3(0, 5_MiB));
    const std::string before = f.snapshot();
    {
        // The kernel's recommended advisory lock: flock(2) on the resctrl root.
        struct Lock {
            int fd;
            ~Lock() { close(fd); }
        } lock{open(f.sim.root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
        REQUIRE(lock.fd >= 0);
        REQUIRE(flock(lock.fd, LOCK_EX) == 0);
        const auto e = errorOf([&] { f.start(definition, vm.threadsOf({0, 1})); });
        CHECK(e.getName() == "org.resctrld1.Error.Busy");
        CHECK(f.snapshot() == before);
    }
    f.settle();
    CHECK(f.started.empty());
    // The lock released, the same call succeeds.
    f.start(definition, vm.threadsOf({0, 1}));
    CHECK(f.tasks("resctrld-vm1-vcpus_0-1") == TidSet{vm.tid(0), vm.tid(1)});
}

namespace {

// How long a call open to everyone may wait behind a lock someone else holds: "a fraction of a
// second", with room for CI's sanitized build on two cores.
constexpr auto kPromptAnswer = std::chrono::milliseconds(500);

template <class Call> std::chrono::milliseconds timeOf(Call&& call) {
    const auto start = Clock::now();
    call();
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

} // namespace

TEST_CASE("While another user holds the resctrl lock, every other caller is answered at once",
          "[e2e][sim][domains][hostile]") {
    Fixture f("skx-2s-l3cat", "", "6.15", "LockTimeoutSec=3\n");
    FakeVm& vm = f.spawn(4);
    f.start(Domain("vm1").uuid(kUuid).vcpus(4).cachetune("0-1", l3(0, 5_MiB) + monitor("0-1")),
            vm.threadsOf({0, 1}));
    const std::string vm2 = Domain("vm2").uuid(kUuid).vcpus(4).cachetune("2-3", l3(0, 5_MiB));
    ResctrlLockHolder holder(f.sim.root(), kNobody, kNogroup);
    const std::string before = f.snapshot();

    // A mutating call that must wait for the lock, sent before the reads on the same connection:
    // the bus delivers them in this order, so the daemon has it when the reads come.
    std::optional<std::string> startedPath;
    std::optional<std::string> startError;
    f.manager->callMethodAsync("StartDomain")
        .onInterface(kManager)
        .withArguments(vm2, vm.threadsOf({2, 3}))
        .uponReplyInvoke([&](const sdbus::Error* error, const sdbus::ObjectPath& path) {
            if (error)
                startError = error->getName() + ": " + error->getMessage();
            else
                startedPath = path;
        });

    int cases = 0;
    auto prompt = [&](const char* what, const std::function<void()>& call) {
        const auto took = timeOf(call);
        INFO(what << " took " << took.count() << " ms");
        CHECK(took < kPromptAnswer);
        ++cases;
    };
    prompt("Get(Version)",
           [&] { f.manager->getProperty("Version").onInterface(kManager).get<std::string>(); });
    prompt("ListDomains", [&] { CHECK(f.listDomains().size() == 1); });
    prompt("GetStats", [&] {
        std::map<std::string, sdbus::Variant> stats;
        f.manager->callMethod("GetStats")
            .onInterface(kManager)
            .withArguments("vm1")
            .storeResultsTo(stats);
    });
    prompt("Get(ClosidsFree)", [&] { f.managerProperty("ClosidsFree"); });
    // ValidateDomain plans from a fresh read without the lock: never Busy, never waiting.
    prompt("ValidateDomain", [&] {
        std::vector<sdbus::Struct<std::string, std::string>> groups;
        f.manager->callMethod("ValidateDomain")
            .onInterface(kManager)
            .withArguments(vm2)
            .storeResultsTo(groups);
        CHECK(groups.size() == 1);
    });
    // The same calls from the lock holder's own user.
    const auto validate = callAsUser(f.bus.address(), kNobody, kNogroup, {}, "ValidateDomain", vm2);
    INFO(validate.errorName << ": " << validate.errorMessage);
    CHECK(validate.ok);
    ++cases;
    std::cout << "hostile cases: lock-holder " << cases << "\n";

    CHECK_FALSE(startedPath);
    CHECK_FALSE(startError);
    CHECK(f.snapshot() == before);
    // The lock released, the waiting call goes through.
    holder.release();
    REQUIRE(f.waitFor([&] { return startedPath || startError; }));
    INFO(startError.value_or(""));
    CHECK(startedPath == "/org/resctrld1/domain/vm2");
    CHECK(f.tasks("resctrld-vm2-vcpus_2-3") == TidSet{vm.tid(2), vm.tid(3)});
}

TEST_CASE("A VM that exits while another program holds the lock is stopping until its groups go",
          "[e2e][sim][domains][hostile]") {
    Fixture f("skx-2s-l3cat", "", "6.15", "LockTimeoutSec=0.3\n");
    const std::string before = f.snapshot();
    FakeVm& vm = f.spawn(2);
    const auto path = f.startForProcess(
        Domain("vm1").uuid(kUuid).vcpus(2).cachetune("0-1", l3(0, 5_MiB)), vm.pid());
    auto domain = sdbus::createProxy(*f.connection, kService, path);
    std::vector<std::string> states;
    domain->uponSignal("PropertiesChanged")
        .onInterface("org.freedesktop.DBus.Properties")
        .call([&](const std::string& interface,
                  const std::map<std::string, sdbus::Variant>& changed,
                  const std::vector<std::string>& invalidated) {
            if (interface == kDomain &&
                (changed.count("State") ||
                 std::find(invalidated.begin(), invalidated.end(), "State") != invalidated.end()))
                states.push_back(
                    domain->getProperty("State").onInterface(kDomain).get<std::string>());
        });
    domain->finishRegistration();

    ResctrlLockHolder holder(f.sim.root(), kNobody, kNogroup);
    vm.kill();
    REQUIRE(f.waitFor([&] { return !states.empty(); }));
    CHECK(states.back() == "stopping");
    // Well past LockTimeoutSec=: a cleanup is never given up, and nothing is forgotten meanwhile.
    CHECK_FALSE(f.waitFor([&] { return !f.stopped.empty(); }, std::chrono::milliseconds(1000)));
    CHECK(f.listDomains().size() == 1);
    CHECK(f.groups() == std::set<std::string>{"resctrld-vm1-vcpus_0-1"});

    holder.release();
    REQUIRE(f.waitFor([&] { return !f.stopped.empty(); }));
    CHECK(f.stopped.front().first == "vm1");
    CHECK(f.listDomains().empty());
    CHECK(f.groups().empty());
    CHECK(f.snapshot() == before);
}

TEST_CASE("A daemon that loses the bus exits with a failure status and keeps every group",
          "[e2e][sim][domains][lifecycle]") {
    Fixture f;
    FakeVm& vm = f.spawn(2);
    f.startForProcess(
        Domain("vm1").uuid(kUuid).vcpus(2).cachetune("0-1", l3(0, 5_MiB) + monitor("0-1")),
        vm.pid());
    const std::string before = f.snapshot();
    const auto stateFiles = [&] {
        std::set<std::string> names;
        for (const auto& entry : fs::directory_iterator(f.daemon->stateDir()))
            names.insert(entry.path().filename().string());
        return names;
    };
    const auto stateBefore = stateFiles();
    REQUIRE(stateBefore.size() >= 2); // the domain's record and the instance lock

    REQUIRE(kill(f.bus.pid(), SIGKILL) == 0);
    const auto status = f.daemon->process().waitExit();
    const std::string log = f.daemon->process().stderrText();
    INFO(log);
    REQUIRE(status);
    // EX_UNAVAILABLE, so that systemd's Restart=on-failure brings it back; never a signal.
    CHECK(*status == 69);
    CHECK_THAT(log, Catch::Contains("lost the connection"));
    CHECK(f.snapshot() == before);
    CHECK(stateFiles() == stateBefore);
}

TEST_CASE("A thread id reused between its check and its tasks write is moved back and refused",
          "[e2e][sim][domains][hostile]") {
    Fixture f;
    const auto path =
        f.start(Domain("vm1").uuid(kUuid).vcpus(2).cachetune("0-1", l3(0, 5_MiB)), {});
    const std::string group = "resctrld-vm1-vcpus_0-1";
    // The thread to attach: a process of its own, whose one thread's id is its pid.
    auto victim = std::make_unique<Process>(std::vector<std::string>{"sleep", "600"}, f.dir.path());
    const pid_t tid = victim->pid();
    f.sim.setControl("faults", "write " + group + "/tasks 1 stall 3000\n");
    std::optional<std::string> outcome;
    f.manager->callMethodAsync("SetVcpuThread")
        .onInterface(kManager)
        .withArguments(std::string("vm1"), std::uint32_t{0}, static_cast<std::uint32_t>(tid))
        .uponReplyInvoke([&](const sdbus::Error* e) { outcome = e ? e->getName() : "ok"; });
    // The daemon checked the thread and is in its stalled tasks write; /proc is the only place
    // that shows it, so this polls.
    REQUIRE(f.waitFor(
        [&] {
            for (const auto& blocked : blockedSyscalls(f.daemon->process().pid()))
                if (blocked.number == 1) // write(2)
                    return true;
            return false;
        },
        std::chrono::milliseconds(2500)));
    victim.reset(); // killed and reaped: its id is free
    const auto squatter = processWithPid(tid, f.dir.path());
    REQUIRE(squatter);
    REQUIRE(f.waitFor([&] { return outcome.has_value(); }));
    f.sim.setControl("faults", "");
    CHECK(*outcome == "org.resctrld1.Error.ProcessNotFound");
    CHECK(f.tasks(group).count(tid) == 0);
    CHECK(f.inRoot(tid));
    CHECK(f.vcpuThreads(path).empty());
    std::cout << "hostile cases: reused-thread-id 1\n";
}
