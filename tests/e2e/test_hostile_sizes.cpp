// SPDX-License-Identifier: LGPL-2.1-or-later
// Hostile sizes end to end: ValidateDomain is open to every local user, so a definition as large
// as the daemon accepts and shaped to make the parser's and the planner's checks as expensive as
// possible (hostile_shapes.h) must still be answered quickly, and must not hold up anyone else.
// The real resctrld on a private bus over resctrlfs-sim; the caller is a throw-away system user
// made for the test (useradd) and removed after it; while its call runs, root reads a property
// back to back and the longest of those reads is what a root caller waited.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fcntl.h>
#include <functional>
#include <future>
#include <iostream>
#include <mutex>
#include <pwd.h>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include "../sim/conformance/sim_instance.h"
#include "daemon_fixture.h"
#include "dbus_names.h"
#include "harness.h"
#include "hostile_shapes.h"

using namespace resctrld::e2e;
using namespace resctrld::e2e::hostile;
using resctrld::simtest::SimInstance;
namespace fs = std::filesystem;

namespace {

using Milliseconds = std::chrono::duration<double, std::milli>;

// Bounds with room for a sanitizer build on two busy cores: a linear check of 1 MiB takes tens
// of milliseconds there, the quadratic ones took tens of seconds.
constexpr Milliseconds kValidateBound{2000};
constexpr Milliseconds kRootReadBound{500};
constexpr std::chrono::seconds kRootReadTimeout{20};

constexpr const char* kInvalidDefinition = "org.resctrld1.Error.InvalidDefinition";

// The fixture (daemon_fixture.h): its session-like bus lets every user in. A fresh daemon per case,
// so that a case that stalls it cannot slow down the next.
struct Fixture : DaemonFixture {
    Fixture()
        : DaemonFixture({.config = "[Daemon]\nMount=no\nSampleIntervalSec=0\n"}) {}

    // Get Version as root; a read that times out counts as the whole timeout.
    Milliseconds timedRootRead() {
        const auto start = Clock::now();
        try {
            auto call = manager->createMethodCall(kProperties, "Get");
            call << std::string(kManager) << std::string("Version");
            manager->callMethod(call, kRootReadTimeout);
        } catch (const sdbus::Error& e) {
            UNSCOPED_INFO("root read failed: " << e.getName() << ": " << e.getMessage());
            return kRootReadTimeout;
        }
        return Clock::now() - start;
    }
};

} // namespace

namespace {

// Whether thread `tid` (once it has said which it is) of this process has forked a child, or is
// `done` already, within the harness's deadline; read with plain system calls, which take no
// allocator lock.
bool waitUntilChildOf(const std::atomic<pid_t>& tid, const std::function<bool()>& done) {
    const auto deadline = Clock::now() + kDeadline;
    while (Clock::now() < deadline) {
        if (done())
            return true;
        if (tid != 0) {
            const std::string path = "/proc/self/task/" + std::to_string(tid.load()) + "/children";
            char buffer[64] = {};
            const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
            const ssize_t n = fd >= 0 ? ::read(fd, buffer, sizeof buffer - 1) : -1;
            if (fd >= 0)
                ::close(fd);
            if (n > 0)
                return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
}

} // namespace

TEST_CASE("A 1 MiB definition of any expensive shape is answered quickly and never holds up a "
          "root property read",
          "[e2e][sim][hostile][size]") {
    Accounts accounts;
    const Caller& user = accounts.outsider;
    unsigned tried = 0;
    for (const HostileShape& shape : hostileShapes()) {
        ++tried;
        INFO("shape: " << shape.name << " (" << shape.xml.size() << " bytes)");
        REQUIRE(shape.xml.size() <= kDocumentBytes);
        Fixture f;

        const auto start = Clock::now();
        std::atomic<pid_t> callerTid{0};
        auto answer = std::async(std::launch::async, [&] {
            callerTid = gettid();
            CallResult result = callAsUser(f.bus.address(), user.uid, user.gid, {user.gid},
                                           "ValidateDomain", shape.xml);
            return std::pair(result, Milliseconds(Clock::now() - start));
        });
        // callAsUser forks in that thread: the reads start once its child exists, so that the
        // fork never copies an allocator lock this thread holds in the middle of a call. Only
        // /proc shows the child, so this polls.
        REQUIRE(waitUntilChildOf(callerTid, [&] {
            return answer.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
        }));
        // Root reads back to back until the user's call is answered (polling is the measurement:
        // the longest read is how long a root caller was held up by the call).
        Milliseconds longestRead{0};
        unsigned reads = 0;
        while (answer.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
            longestRead = std::max(longestRead, f.timedRootRead());
            ++reads;
        }
        const auto [result, elapsed] = answer.get();

        std::cout << "hostile size case: " << shape.name << ": " << shape.xml.size()
                  << " bytes, ValidateDomain " << elapsed.count() << " ms, longest of " << reads
                  << " root reads " << longestRead.count() << " ms, answer "
                  << (result.ok ? "ok"
                                : result.errorName + ": " + result.errorMessage.substr(0, 160))
                  << "\n";
        CHECK(elapsed < kValidateBound);
        CHECK(longestRead < kRootReadBound);
        if (shape.refusal.empty()) {
            // Any documented answer: the plan, or why this host cannot have it.
            CHECK((result.ok || result.errorName.starts_with("org.resctrld1.Error.")));
        } else {
            CHECK(result.errorName == kInvalidDefinition);
            CHECK_THAT(result.errorMessage, Catch::Contains(shape.refusal));
        }
        CHECK(f.daemon->process().running());
    }
    std::cout << "hostile cases: size " << tried << "\n";
    CHECK(tried == 9);
}

TEST_CASE("ValidateDomain calls beyond what wait for the parser are Busy, and every call is "
          "answered",
          "[e2e][sim][hostile][size]") {
    Fixture f;
    // A shape the daemon parses to the end (it accepts it): the slowest to answer.
    const std::vector<HostileShape> shapes = hostileShapes();
    const auto accepted = std::find_if(shapes.begin(), shapes.end(),
                                       [](const HostileShape& s) { return s.refusal.empty(); });
    REQUIRE(accepted != shapes.end());
    const HostileShape& shape = *accepted;
    // The daemon parses one definition while 16 wait (docs/api.md "ValidateDomain"); 64 large
    // ones sent at once arrive much faster than it parses them.
    constexpr int kCalls = 64;
    constexpr int kAdmittedAtLeast = 17;
    auto connection = sdbus::createSessionBusConnectionWithAddress(f.bus.address());
    auto proxy = sdbus::createProxy(*connection, kService, kRootPath);
    connection->enterEventLoopAsync();

    std::mutex mutex;
    std::condition_variable allAnswered;
    int answered = 0;
    int busy = 0;
    std::vector<std::string> undocumented;
    for (int i = 0; i < kCalls; ++i) {
        proxy->callMethodAsync("ValidateDomain")
            .onInterface(kManager)
            .withTimeout(std::chrono::seconds(120))
            .withArguments(shape.xml)
            .uponReplyInvoke([&](const sdbus::Error* error,
                                 const std::vector<sdbus::Struct<std::string, std::string>>&) {
                const std::lock_guard guard(mutex);
                if (error && error->getName() == "org.resctrld1.Error.Busy" &&
                    error->getMessage().find("waiting to be validated") != std::string::npos)
                    ++busy;
                else if (error && !error->getName().starts_with("org.resctrld1.Error."))
                    undocumented.push_back(error->getName() + ": " + error->getMessage());
                ++answered;
                allAnswered.notify_all();
            });
    }
    {
        std::unique_lock lock(mutex);
        CHECK(allAnswered.wait_for(lock, std::chrono::seconds(150),
                                   [&] { return answered == kCalls; }));
        std::cout << "hostile size case: " << kCalls << " ValidateDomain calls at once: " << busy
                  << " Busy\n";
        CHECK(busy >= 1);
        CHECK(busy <= kCalls - kAdmittedAtLeast);
        CHECK(undocumented.empty());
    }
    connection->leaveEventLoop();
    CHECK(f.timedRootRead() < kRootReadBound);
    CHECK(f.daemon->process().running());
}
