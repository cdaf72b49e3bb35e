// SPDX-License-Identifier: LGPL-2.1-or-later
// resctrld on resctrlfs-sim through a real private bus: ValidateDomain and the CLOSID/RMID
// properties (docs/api.md "org.resctrld1.Manager") against real host profiles
// (docs/kernel.md §9). The daemon is given the simulator's mount point and sysfs tree
// as it would be given any resctrl root; nothing here tells it that it runs on a simulator.
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <sys/mount.h>
#include <vector>

#include <catch2/catch.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include "../sim/conformance/sim_instance.h"
#include "daemon_fixture.h"
#include "dbus_names.h"
#include "domain_builder.h"
#include "harness.h"
#include "schemata.h"

using namespace resctrld;
using namespace resctrld::e2e;
using resctrld::simtest::SimInstance;
namespace fs = std::filesystem;

namespace {

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;

using GroupList = std::vector<sdbus::Struct<std::string, std::string>>;

// One domain with one cachetune: 5 MiB of L3 on cache 0 for vCPUs 0-1.
std::string cachetuneDomain(const std::string& name) {
    return Domain(name).vcpus(4).cachetune("0-1", l3(0, 5_MiB));
}

// The fixture (daemon_fixture.h) on `profile`. `absentInfoFiles`: the simulator's `absent`
// control file ("info/MB/delay_linear\n"), in place before the daemon discovers the host;
// `rootSchemata`: written to the default group before the daemon starts.
struct Fixture : DaemonFixture {
    explicit Fixture(const std::string& profile, const std::string& absentInfoFiles = "",
                     const std::string& rootSchemata = "")
        : DaemonFixture({.profile = profile,
                         .absentInfoFiles = absentInfoFiles,
                         .rootSchemata = rootSchemata}) {}

    sdbus::Error validateError(const std::string& definition) {
        try {
            validate(definition);
        } catch (const sdbus::Error& e) {
            return e;
        }
        FAIL("ValidateDomain succeeded");
        return sdbus::Error("none", "none");
    }

    uint32_t property(const std::string& name) {
        return manager->getProperty(name).onInterface(kManager).get<uint32_t>();
    }

    // Group directories at the root and under its mon_groups/.
    std::set<std::string> groupsOnSim() const {
        std::set<std::string> names;
        for (const fs::path& parent : {sim.root(), sim.at("mon_groups")})
            for (const auto& entry : fs::directory_iterator(parent)) {
                const auto name = entry.path().filename().string();
                if (entry.is_directory() && name != "info" && name != "mon_groups" &&
                    name != "mon_data")
                    names.insert(fs::relative(entry.path(), sim.root()).string());
            }
        return names;
    }
};

// Two cachetunes of 15 MiB (6 ways each) on cache 0: each fits the 11 ways, together they do not.
std::string twoLargeCachetunes() {
    return Domain("big").vcpus(4).cachetune("0-1", l3(0, 15_MiB)).cachetune("2-3", l3(0, 15_MiB));
}

} // namespace

TEST_CASE("the daemon sees a resctrl root that is not a kernel mount as mounted", "[e2e][sim]") {
    Fixture f("skx-2s-l3cat");
    CHECK(f.manager->getProperty("Mounted").onInterface(kManager).get<bool>());
}

TEST_CASE("ValidateDomain plans groups and schemata and creates nothing", "[e2e][sim]") {
    Fixture f("skx-2s-l3cat");
    const auto groupsBefore = f.groupsOnSim();
    const auto rootBefore = simtest::readFile(f.sim.at("schemata"));

    const GroupList groups = f.validate(cachetuneDomain("vm1"));

    REQUIRE(groups.size() == 1);
    CHECK(groups[0].get<0>() == "resctrld-vm1-vcpus_0-1");
    // 5 MiB = 2 ways of 2.5 MiB, outside shareable_bits 600; cache 1 keeps the default group's
    // mask (hosts/README.md, skx-2s-l3cat).
    const Schemata schemata = Schemata::parse(groups[0].get<1>());
    CHECK(schemata.mask(Resource::L3, CacheId{0}) == CbmMask(0x3));
    CHECK(schemata.mask(Resource::L3, CacheId{1}) == CbmMask(0x7ff));

    CHECK(f.groupsOnSim() == groupsBefore);
    CHECK(simtest::readFile(f.sim.at("schemata")) == rootBefore);
}

TEST_CASE("ValidateDomain plans the same groups from the metadata form", "[e2e][sim]") {
    Fixture f("skx-2s-l3cat");
    const Domain plain = Domain("vm1").vcpus(4).cachetune("0-1", l3(0, 5_MiB));
    const GroupList fromMetadata = f.validate(Domain(plain).inMetadata());
    REQUIRE(fromMetadata.size() == 1);
    CHECK(fromMetadata == f.validate(plain));
}

TEST_CASE("ValidateDomain with a monitor lists the monitor group without schemata", "[e2e][sim]") {
    Fixture f("skx-2s-l3cat");
    const GroupList groups = f.validate(Domain("vm2").vcpus(4).cachetune("2-3", monitor("2")));
    REQUIRE(groups.size() == 1);
    CHECK(groups[0].get<0>() == "mon_groups/resctrld-vm2-vcpus_2");
    CHECK(groups[0].get<1>().empty());
    CHECK_FALSE(simtest::pathExists(f.sim.at("mon_groups/resctrld-vm2-vcpus_2")));
}

TEST_CASE("ValidateDomain fails as StartDomain would", "[e2e][sim]") {
    SECTION("an invalid definition is InvalidDefinition with a message") {
        Fixture f("skx-2s-l3cat");
        const auto e = f.validateError(Domain("vm1").vcpus(4).cachetune(
            "0-1", "<cache id='0' level='3' type='both' size='5' unit='furlongs'/>"));
        CHECK(e.getName() == "org.resctrld1.Error.InvalidDefinition");
        CHECK_THAT(e.getMessage(), Catch::Contains("furlongs"));
    }
    SECTION("text that is not XML is InvalidDefinition") {
        Fixture f("skx-2s-l3cat");
        const auto e = f.validateError("<domain><name>vm1");
        CHECK(e.getName() == "org.resctrld1.Error.InvalidDefinition");
        CHECK_FALSE(e.getMessage().empty());
    }
    SECTION("more cache than the host has is NoSpace and creates nothing") {
        Fixture f("skx-2s-l3cat");
        const auto groupsBefore = f.groupsOnSim();
        const auto e = f.validateError(twoLargeCachetunes());
        CHECK(e.getName() == "org.resctrld1.Error.NoSpace");
        CHECK_FALSE(e.getMessage().empty());
        CHECK(f.groupsOnSim() == groupsBefore);
    }
    SECTION("a cachetune on a host without L3 allocation is NotSupported") {
        Fixture f("skx-2s-no-l3cat");
        const auto e = f.validateError(cachetuneDomain("vm1"));
        CHECK(e.getName() == "org.resctrld1.Error.NotSupported");
        CHECK_FALSE(e.getMessage().empty());
    }
}

TEST_CASE("ValidateDomain is read-only and open to every caller", "[e2e][sim]") {
    Fixture f("skx-2s-l3cat");
    const auto ok = callAsUser(f.bus.address(), kNobody, kNogroup, {}, "ValidateDomain",
                               cachetuneDomain("vm1"));
    INFO(ok.errorName << ": " << ok.errorMessage);
    CHECK(ok.ok);
    // Its errors are the planner's, not AccessDenied.
    const auto rejected =
        callAsUser(f.bus.address(), kNobody, kNogroup, {}, "ValidateDomain", twoLargeCachetunes());
    CHECK(rejected.errorName == "org.resctrld1.Error.NoSpace");
}

TEST_CASE("CLOSID and RMID budgets follow the host and every group on it", "[e2e][sim]") {
    Fixture f("skx-2s-l3cat");
    // MB's 8 CLOSIDs minus the root group; 160 RMIDs minus the root's (hosts/README.md).
    CHECK(f.property("ClosidsTotal") == 7);
    CHECK(f.property("RmidsTotal") == 159);
    CHECK(f.property("ClosidsFree") == 7);
    CHECK(f.property("RmidsFree") == 159);

    // A foreign control group holds a CLOSID and an RMID; a foreign monitor group an RMID.
    REQUIRE(simtest::makeDir(f.sim.at("foreign")) == 0);
    CHECK(f.property("ClosidsFree") == 6);
    CHECK(f.property("RmidsFree") == 158);
    REQUIRE(simtest::makeDir(f.sim.at("mon_groups/foreign-mon")) == 0);
    CHECK(f.property("ClosidsFree") == 6);
    CHECK(f.property("RmidsFree") == 157);
    CHECK(f.property("ClosidsTotal") == 7);

    REQUIRE(simtest::removeDir(f.sim.at("foreign")) == 0);
    CHECK(f.property("ClosidsFree") == 7);
}

TEST_CASE("ValidateDomain is NoSpace when foreign groups hold every CLOSID", "[e2e][sim]") {
    Fixture f("skx-2s-l3cat");
    // The foreign groups hold only the shareable way (400), so ways are free and the CLOSIDs are
    // what runs out.
    for (int i = 0; i < 7; ++i) {
        const std::string group = "foreign-" + std::to_string(i);
        REQUIRE(simtest::makeDir(f.sim.at(group)) == 0);
        REQUIRE(simtest::writeFile(f.sim.at(group + "/schemata"), "L3:0=400;1=400\n") == 0);
    }
    CHECK(f.property("ClosidsFree") == 0);
    const auto e = f.validateError(cachetuneDomain("vm1"));
    CHECK(e.getName() == "org.resctrld1.Error.NoSpace");
    CHECK_THAT(e.getMessage(), Catch::Contains("out of CLOSIDs"));
}

TEST_CASE("GetCapabilities describes the simulated host to every caller", "[e2e][sim]") {
    Fixture f("skx-2s-l3cat");
    std::string xml;
    f.manager->callMethod("GetCapabilities").onInterface(kManager).storeResultsTo(xml);
    // The exact text is lib's (tests/unit/test_capabilities.cpp); here: the host's facts arrive.
    CHECK_THAT(xml, Catch::StartsWith("<cache>\n"));
    CHECK_THAT(xml, Catch::Contains("<bank id='0' level='3' type='both' size='28160' unit='KiB' "
                                    "cpus='0-19,40-59'>"));
    CHECK_THAT(xml, Catch::Contains("<control granularity='2560' unit='KiB' type='both' "
                                    "maxAllocs='16'/>"));
    CHECK_THAT(xml, Catch::Contains("<control granularity='10' min='10' maxAllocs='8'/>"));
    CHECK_THAT(xml, Catch::Contains("<monitor maxMonitors='160'>"));

    const auto asNobody = callAsUser(f.bus.address(), kNobody, kNogroup, {}, "GetCapabilities");
    INFO(asNobody.errorName << ": " << asNobody.errorMessage);
    CHECK(asNobody.ok);
}

TEST_CASE("GetCapabilities on a host without L3 allocation lists banks without controls",
          "[e2e][sim]") {
    Fixture f("skx-2s-no-l3cat");
    std::string xml;
    f.manager->callMethod("GetCapabilities").onInterface(kManager).storeResultsTo(xml);
    CHECK_THAT(xml, Catch::Contains("cpus='0-19,40-59'/>"));
    CHECK_THAT(xml, !Catch::Contains("type='both' maxAllocs"));
}

TEST_CASE("GetCapabilities lists L2 banks with their controls before the L3 bank", "[e2e][sim]") {
    Fixture f("modern-intel-l2");
    std::string xml;
    f.manager->callMethod("GetCapabilities").onInterface(kManager).storeResultsTo(xml);
    CHECK_THAT(xml, Catch::StartsWith("<cache>\n  <bank id='0' level='2' type='both' "));
    CHECK_THAT(xml, Catch::Contains("<bank id='47' level='2' type='both' size='2' unit='MiB' "
                                    "cpus='47,95'>\n"
                                    "    <control granularity='128' unit='KiB' type='both' "
                                    "maxAllocs='8'/>\n"
                                    "  </bank>\n"
                                    "  <bank id='0' level='3' "));
    CHECK_THAT(xml, !Catch::Contains("level='1'"));
}

TEST_CASE("a host without info/MB/delay_linear answers every call", "[e2e][sim]") {
    Fixture f("skx-2s-l3cat", "info/MB/delay_linear\n");
    REQUIRE_FALSE(fs::exists(f.sim.at("info/MB/delay_linear")));
    CHECK(f.property("ClosidsTotal") == 7);
    // The kernel's default, a linear scale: 50 is a percentage.
    const GroupList groups = f.validate(
        Domain("vm1").vcpus(4).cachetune("0-1", l3(0, 5_MiB)).memorytune("0-1", node(0, 50)));
    REQUIRE(groups.size() == 1);
    CHECK_THAT(groups[0].get<1>(), Catch::Contains("MB:0=50"));
    CHECK_THAT(groups[0].get<1>(), Catch::Contains("L3:0="));
    CHECK_THAT(f.daemon->process().stderrText(), !Catch::Contains("delay_linear"));
}

TEST_CASE("a host whose MB lacks a defining file still allocates L3", "[e2e][sim]") {
    Fixture f("skx-2s-l3cat", "info/MB/min_bandwidth\n");
    // MB's 8 CLOSIDs still bound the budget: the kernel counts them whatever resctrld uses.
    CHECK(f.property("ClosidsTotal") == 7);
    FakeHypervisor hv(FAKE_HYPERVISOR_PATH, f.dir.path(), 2);
    const auto path = startDomain(*f.manager, cachetuneDomain("vm1"), hv.vcpuThreads());
    CHECK_FALSE(path.empty());
    CHECK(f.groupsOnSim().count("resctrld-vm1-vcpus_0-1") == 1);
    // Two ways of cache 0; MB keeps the kernel's default for a new group.
    CHECK_THAT(simtest::readFile(f.sim.at("resctrld-vm1-vcpus_0-1/schemata")),
               Catch::Contains("L3:0=3;1=7ff") && Catch::Contains("MB:0=100;1=100"));

    const auto refused = f.validateError(Domain("vm2").vcpus(2).memorytune("0-1", node(0, 50)));
    CHECK(refused.getName() == "org.resctrld1.Error.NotSupported");
    CHECK_THAT(refused.getMessage(), Catch::Contains("info/MB/min_bandwidth is missing"));
    CHECK_THAT(f.daemon->process().stderrText(),
               Catch::Contains("info/MB/min_bandwidth is missing") &&
                   Catch::Contains("resource MB is left out"));
}

TEST_CASE("start-up logs the default group's schemata it rewrites, old and new", "[e2e][sim]") {
    Fixture f("skx-2s-l3cat", "", "L3:0=0ff;1=7ff\n");
    CHECK_THAT(simtest::readFile(f.sim.at("schemata")), Catch::Contains("L3:0=7ff;1=7ff"));
    CHECK_THAT(f.daemon->process().stderrText(),
               Catch::Contains("start-up rewrote the default group's schemata: L3:0 ff -> 7ff"));
}

TEST_CASE("mounting and unmounting resctrl under a running daemon is announced", "[e2e][sim]") {
    // The daemon starts on an empty mount point; the simulator's tree is then bind-mounted there
    // and unmounted again, as an administrator's mount/umount would.
    SimInstance sim({"skx-2s-l3cat", "6.15", "cdp", true});
    TempDir dir;
    const fs::path mountPoint = dir.path() / "resctrl";
    fs::create_directories(mountPoint);
    PrivateBus bus(dir.path());
    Daemon::Options options;
    options.configText = "[Daemon]\nMount=no\n";
    options.resctrlRoot = mountPoint;
    options.extraArgs = {"--sysfs-root", sim.sysfsDir().string()};
    Daemon daemon(bus, dir.path(), options);

    auto connection = sdbus::createSessionBusConnectionWithAddress(bus.address());
    auto manager = sdbus::createProxy(*connection, "org.resctrld1", "/org/resctrld1");
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<bool> announced; // Mounted, as each PropertiesChanged carried it
    manager->uponSignal("PropertiesChanged")
        .onInterface("org.freedesktop.DBus.Properties")
        .call([&](const std::string& interface, const std::map<std::string, sdbus::Variant>& values,
                  const std::vector<std::string>&) {
            if (interface != kManager || !values.count("Mounted"))
                return;
            std::lock_guard lock(mutex);
            announced.push_back(values.at("Mounted").get<bool>());
            changed.notify_all();
        });
    manager->finishRegistration();
    connection->enterEventLoopAsync();
    auto waitForAnnouncements = [&](std::size_t count) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, kDeadline, [&] { return announced.size() >= count; });
    };

    CHECK_FALSE(manager->getProperty("Mounted").onInterface(kManager).get<bool>());
    REQUIRE(mount(sim.root().c_str(), mountPoint.c_str(), nullptr, MS_BIND, nullptr) == 0);
    REQUIRE(waitForAnnouncements(1));
    CHECK(announced[0] == true);
    CHECK(manager->getProperty("Mounted").onInterface(kManager).get<bool>());
    // CDP shows in the tree (info/L3CODE), so the option is reported though mountinfo lists the
    // simulator's FUSE mount without it.
    const auto mountOptions =
        manager->getProperty("MountOptions").onInterface(kManager).get<std::vector<std::string>>();
    CHECK(mountOptions == std::vector<std::string>{"cdp"});
    CHECK(manager->getProperty("ClosidsTotal").onInterface(kManager).get<uint32_t>() > 0);

    REQUIRE(umount2(mountPoint.c_str(), MNT_DETACH) == 0);
    REQUIRE(waitForAnnouncements(2));
    CHECK(announced[1] == false);
    CHECK_FALSE(manager->getProperty("Mounted").onInterface(kManager).get<bool>());
    connection->leaveEventLoop();
}
