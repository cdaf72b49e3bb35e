// SPDX-License-Identifier: LGPL-2.1-or-later
// Hostile sizes end to end: ValidateDomain is open to every local user, so a definition as large
// as the daemon accepts (1 MiB) and shaped to make the parser's and the planner's checks as
// expensive as possible must still be answered quickly, and must not hold up anyone else. The
// real resctrld on a private bus over resctrlfs-sim; the caller is a throw-away system user made
// for the test (useradd) and removed after it; while its call runs, root reads a property back to
// back and the longest of those reads is what a root caller waited.
//
// The shapes: many disjoint single-vCPU cachetunes, one cachetune with many single-vCPU monitors,
// many memorytunes over the same vCPUs, vCPU lists written element by element ("0,1,2,..."),
// many caches or nodes in one element, and a status document listing every vCPU thread. Each
// comes once beyond the element limits (refused by count) and, where a limit applies, once at
// them (checked in full).
#include <algorithm>
#include <chrono>
#include <future>
#include <iostream>
#include <pwd.h>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include "../sim/conformance/sim_instance.h"
#include "dbus_names.h"
#include "harness.h"

using namespace resctrld::e2e;
using resctrld::simtest::SimInstance;
namespace fs = std::filesystem;

namespace {

using Milliseconds = std::chrono::duration<double, std::milli>;

constexpr std::size_t kDocumentBytes = 1024 * 1024; // the largest definition the daemon takes
constexpr unsigned kVcpus = 16384;                  // the most vCPUs a definition may name
// Bounds with room for a sanitizer build on two busy cores: a linear check of 1 MiB takes tens
// of milliseconds there, the quadratic ones took tens of seconds.
constexpr Milliseconds kValidateBound{2000};
constexpr Milliseconds kRootReadBound{500};
constexpr std::chrono::seconds kRootReadTimeout{20};

constexpr const char* kInvalidDefinition = "org.resctrld1.Error.InvalidDefinition";

// Runs a command (no shell) to its end; throws with its stderr unless it exits 0.
void run(const std::vector<std::string>& argv) {
    TempDir out;
    Process process(argv, out.path());
    const auto status = process.waitExit();
    if (!status || *status != 0)
        throw std::runtime_error(argv.at(0) + " " + argv.back() +
                                 " failed: " + process.stderrText());
}

// A system user with no home and no groups but its own, made for one test and deleted after it.
class ThrowAwayUser {
public:
    ThrowAwayUser() {
        std::random_device random;
        std::ostringstream suffix;
        suffix << std::hex << (random() & 0xffffff);
        name_ = "rdsize" + suffix.str();
        run({"useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name_});
        const passwd* entry = getpwnam(name_.c_str());
        REQUIRE(entry != nullptr);
        uid = entry->pw_uid;
        gid = entry->pw_gid;
        REQUIRE(uid != 0);
    }
    ~ThrowAwayUser() {
        try {
            run({"userdel", name_});
        } catch (const std::exception& e) {
            std::cerr << "cleanup: " << e.what() << "\n";
        }
    }
    ThrowAwayUser(const ThrowAwayUser&) = delete;
    ThrowAwayUser& operator=(const ThrowAwayUser&) = delete;

    uid_t uid = 0;
    gid_t gid = 0;

private:
    std::string name_;
};

// "first,first+1,...": a vCPU list written element by element.
std::string listOf(unsigned first, unsigned count) {
    std::string text;
    for (unsigned v = first; v < first + count; ++v)
        text += (v == first ? "" : ",") + std::to_string(v);
    return text;
}

std::string cache(unsigned id) {
    return "<cache id='" + std::to_string(id) + "' level='3' type='both' size='2560' unit='KiB'/>";
}

std::string monitor(const std::string& vcpus) {
    return "<monitor level='3' vcpus='" + vcpus + "'/>";
}

std::string node(unsigned id) {
    return "<node id='" + std::to_string(id) + "' bandwidth='50'/>";
}

// A domain of 16384 vCPUs of exactly kDocumentBytes: `body` inside <cputune> (or, for a status
// document, `status` before the domain), then a comment as padding.
std::string document(const std::string& body, const std::string& status = "") {
    const std::string domain = "<domain type='kvm'><name>big</name><vcpu placement='static'>" +
                               std::to_string(kVcpus) + "</vcpu><cputune>" + body + "</cputune>";
    const std::string open = status.empty() ? "" : "<domstatus pid='1'>" + status;
    const std::string close = status.empty() ? "</domain>" : "</domain></domstatus>";
    const std::size_t bare = open.size() + domain.size() + close.size() + 7; // "<!---->"
    REQUIRE(bare <= kDocumentBytes);
    return open + domain + "<!--" + std::string(kDocumentBytes - bare, 'x') + "-->" + close;
}

// Appends `piece(i)` for i = 0, 1, ... while the whole stays within `room` bytes and i < limit.
template <typename F>
std::string repeated(std::size_t room, F piece, unsigned limit = ~0U, std::string text = {}) {
    for (unsigned i = 0; i < limit; ++i) {
        std::string next = piece(i);
        if (text.size() + next.size() > room)
            break;
        text += next;
    }
    return text;
}

// Room for the tuning in a document: the frame and a little slack for closing tags.
constexpr std::size_t kRoom = kDocumentBytes - 512;

struct Shape {
    std::string name;
    std::string xml;
    // Empty: any answer with a documented name will do; else the InvalidDefinition message's gist.
    std::string refusal;
};

std::vector<Shape> hostileShapes() {
    std::vector<Shape> shapes;
    shapes.push_back({"disjoint single-vCPU cachetunes filling 1 MiB",
                      document(repeated(kRoom,
                                        [](unsigned i) {
                                            return "<cachetune vcpus='" + std::to_string(i) + "'>" +
                                                   cache(0) + "</cachetune>";
                                        })),
                      "<cachetune> elements; resctrld accepts at most 256"});
    shapes.push_back({"256 cachetunes of 64 vCPUs written element by element, 4 monitors each",
                      document(repeated(
                          kRoom,
                          [](unsigned i) {
                              std::string tune =
                                  "<cachetune vcpus='" + listOf(i * 64, 64) + "'>" + cache(0);
                              for (unsigned m = 0; m < 4; ++m)
                                  tune += monitor(std::to_string(i * 64 + m));
                              return tune + "</cachetune>";
                          },
                          256)),
                      ""});
    shapes.push_back({"one cachetune with single-vCPU monitors filling 1 MiB",
                      document(repeated(
                                   kRoom, [](unsigned i) { return monitor(std::to_string(i)); },
                                   kVcpus, "<cachetune vcpus='0-16383'>" + cache(0)) +
                               "</cachetune>"),
                      "<monitor> elements; resctrld accepts at most 1024"});
    shapes.push_back(
        {"one cachetune over 16384 vCPUs written element by element, 1024 monitors "
         "of 16 vCPUs written element by element",
         document(repeated(
                      kRoom, [](unsigned i) { return monitor(listOf(i * 16, 16)); }, 1024,
                      "<cachetune vcpus='" + listOf(0, kVcpus) + "'>" + cache(0)) +
                  "</cachetune>"),
         ""});
    shapes.push_back({"memorytunes over the same vCPUs filling 1 MiB",
                      document(repeated(kRoom,
                                        [](unsigned i) {
                                            return "<memorytune vcpus='0-15'>" + node(i) +
                                                   "</memorytune>";
                                        })),
                      "<memorytune> elements; resctrld accepts at most 256"});
    shapes.push_back({"256 memorytunes over the same 512 vCPUs written element by element, 2 "
                      "monitors each",
                      document(repeated(
                          kRoom,
                          [](unsigned i) {
                              return "<memorytune vcpus='" + listOf(0, 512) + "'>" + node(i) +
                                     "<monitor vcpus='" + std::to_string(2 * i) +
                                     "'/><monitor vcpus='" + std::to_string(2 * i + 1) +
                                     "'/></memorytune>";
                          },
                          256)),
                      ""});
    shapes.push_back({"one cachetune over 16384 vCPUs written element by element with caches "
                      "filling 1 MiB",
                      document(repeated(
                                   kRoom, [](unsigned i) { return cache(i); }, ~0U,
                                   "<cachetune vcpus='" + listOf(0, kVcpus) + "'>") +
                               "</cachetune>"),
                      ""});
    shapes.push_back({"one memorytune with nodes filling 1 MiB",
                      document(repeated(
                                   kRoom, [](unsigned i) { return node(i); }, ~0U,
                                   "<memorytune vcpus='0-16383'>") +
                               "</memorytune>"),
                      ""});
    shapes.push_back({"a status document listing every vCPU thread",
                      document("", "<vcpus>" +
                                       repeated(
                                           kRoom,
                                           [](unsigned i) {
                                               return "<vcpu id='" + std::to_string(i) + "' pid='" +
                                                      std::to_string(i + 100) + "'/>";
                                           },
                                           kVcpus) +
                                       "</vcpus>"),
                      ""});
    return shapes;
}

// The simulator and resctrld serving it on a private bus that every user may reach, with a root
// client. A fresh daemon per case, so that a case that stalls it cannot slow down the next.
struct Fixture {
    Fixture()
        : sim({"skx-2s-l3cat", "6.15", "", true})
        , bus(dir.path())
        , daemon(bus, dir.path(), options(sim, dir.path()))
        , connection(sdbus::createSessionBusConnectionWithAddress(bus.address()))
        , manager(sdbus::createProxy(*connection, kService, kRootPath)) {}

    static Daemon::Options options(const SimInstance& sim, const fs::path& dir) {
        Daemon::Options options;
        options.configText = "[Daemon]\nMount=no\nSampleIntervalSec=0\n";
        options.resctrlRoot = sim.root();
        options.extraArgs = {"--sysfs-root", sim.sysfsDir().string()};
        options.stateDir = dir / "state";
        return options;
    }

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

    TempDir dir;
    SimInstance sim;
    PrivateBus bus;
    Daemon daemon;
    std::unique_ptr<sdbus::IConnection> connection;
    std::unique_ptr<sdbus::IProxy> manager;
};

} // namespace

TEST_CASE("A 1 MiB definition of any expensive shape is answered quickly and never holds up a "
          "root property read",
          "[e2e][sim][hostile][size]") {
    ThrowAwayUser user;
    unsigned tried = 0;
    for (const Shape& shape : hostileShapes()) {
        ++tried;
        INFO("shape: " << shape.name << " (" << shape.xml.size() << " bytes)");
        REQUIRE(shape.xml.size() <= kDocumentBytes);
        Fixture f;

        const auto start = Clock::now();
        auto answer = std::async(std::launch::async, [&] {
            CallResult result = callAsUser(f.bus.address(), user.uid, user.gid, {user.gid},
                                           "ValidateDomain", shape.xml);
            return std::pair(result, Milliseconds(Clock::now() - start));
        });
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
        CHECK(f.daemon.process().running());
    }
    std::cout << "hostile cases: size " << tried << "\n";
    CHECK(tried == 9);
}
