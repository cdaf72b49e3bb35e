// SPDX-License-Identifier: LGPL-2.1-or-later
// Group names and recorded groups of DomainService and GroupManager, on a fixture tree: nothing
// here creates a group (a refused start is refused before it would).
#include <chrono>
#include <cstdlib>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "domain_service.h"
#include "errors.h"
#include "group_manager.h"
#include "host_fixture.h"
#include "state_store.h"

using namespace resctrld;
using namespace resctrld::test;
namespace fs = std::filesystem;

namespace {

// Two names that resctrld 0.1's 32-bit hash could not tell apart: the same first 40 bytes once
// mangled, and the same FNV-1a-32 (found by trying numbers in well under a second).
const std::string kCollidingA = "guest xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx 501871";
const std::string kCollidingB = "guest xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx 1052480";

std::string definition(const std::string& name) {
    return "<domain type='kvm'><name>" + name +
           "</name><vcpu>4</vcpu><cputune><cachetune vcpus='0-1'>"
           "<cache id='0' level='3' type='both' size='5' unit='MiB'/>"
           "<monitor level='3' vcpus='0'/></cachetune>"
           "<cachetune vcpus='2'><monitor level='3' vcpus='2'/></cachetune>"
           "</cputune></domain>";
}

struct TempDir {
    TempDir() {
        char pattern[] = "/tmp/resctrld-unit-service-XXXXXX";
        REQUIRE(::mkdtemp(pattern));
        path = pattern;
    }
    ~TempDir() { fs::remove_all(path); }
    fs::path path;
};

// A host, its GroupManager and a DomainService over a state directory.
struct Service {
    explicit Service(GroupManagerOptions options = {})
        : host(tree.discover())
        , groups(host, ResctrlFs(tree.resctrlRoot()), std::move(options))
        , store(state.path)
        , service(groups, ProcessTable(), store, ::getpid()) {}

    // The record a started domain of this definition has, as `groups` names its groups (the
    // hypervisor unknown: adoptRecords takes it without looking at processes).
    DomainRecord record(const std::string& name) const {
        DomainRecord record;
        record.name = name;
        record.definition = definition(name);
        record.groupStem = groups.groupStem(name);
        const std::string allocation = record.groupStem + "-vcpus_0-1";
        record.allocations = {{allocation, "L3:0=3;1=7ff\n", "L3:0=3\n", "vcpus_0-1"}};
        record.monitors = {{"vcpus_0-1", "vcpus_0", allocation + "/mon_groups/vcpus_0"},
                           {"", "vcpus_2", "mon_groups/" + record.groupStem + "-vcpus_2"}};
        return record;
    }

    HostTree tree{skx2sL3cat()};
    HostModel host;
    GroupManager groups;
    TempDir state;
    StateStore store;
    DomainService service;
};

} // namespace

TEST_CASE("two names that collided in resctrld 0.1's 32-bit hash get groups of their own",
          "[service]") {
    Service s;
    const std::string a = s.groups.groupStem(kCollidingA);
    const std::string b = s.groups.groupStem(kCollidingB);
    CHECK(a != b);
    CHECK(a.starts_with("resctrld-guest_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx~"));
    CHECK(a.size() == std::string("resctrld-").size() + 40 + 1 + 16);
}

TEST_CASE("a name whose groups are another domain's is refused with AlreadyExists naming both",
          "[service]") {
    // A hash that makes every mangled name with the same first 40 bytes collide.
    GroupManagerOptions options;
    options.nameHash = [](std::string_view) -> std::uint64_t {
        return 42;
    };
    Service s(options);
    REQUIRE(s.groups.groupStem(kCollidingA) == s.groups.groupStem(kCollidingB));
    s.store.save(s.record(kCollidingA));
    const Recovery recovery = s.service.adoptRecords();
    INFO(recovery.problems.size());
    REQUIRE(recovery.adopted == std::vector<std::string>{kCollidingA});

    const auto lock = ResctrlLock::acquire(s.tree.resctrlRoot(), std::chrono::seconds(5));
    try {
        s.service.start(lock, definition(kCollidingB), {});
        FAIL("the second name was started");
    } catch (const AlreadyExists& e) {
        CHECK_THAT(e.what(), Catch::Contains(kCollidingA) && Catch::Contains(kCollidingB));
    }
    CHECK(s.service.domains().size() == 1);
    // Nothing of the refused domain was saved; the first one's record is as it was.
    CHECK(s.store.loadAll().records == std::vector<DomainRecord>{s.record(kCollidingA)});
}

TEST_CASE("a restored domain keeps the groups its record names, whatever its name gives now",
          "[service]") {
    Service s;
    const DomainDefinition parsed = parseDomainDefinition(definition("web 01"));
    DomainRecord record = s.record("web 01");
    // Recorded under other names than this version would give them.
    record.groupStem = "resctrld-elsewhere";
    record.allocations[0].group = "resctrld-elsewhere-a";
    record.monitors[0].group = "resctrld-elsewhere-a/mon_groups/m";
    record.monitors[1].group = "mon_groups/resctrld-elsewhere-m";
    const DomainGroups groups = s.groups.restore(parsed, record);
    CHECK(groups.stem == "resctrld-elsewhere");
    CHECK(groups.allocationGroups() == std::vector<std::string>{"resctrld-elsewhere-a"});
    CHECK(groups.monitorGroups() == std::vector<std::string>{"resctrld-elsewhere-a/mon_groups/m",
                                                             "mon_groups/resctrld-elsewhere-m"});
    REQUIRE(groups.plan.allocations.size() == 1);
    CHECK(groups.plan.allocations[0].reserved.format() == "L3:0=3\n");

    SECTION("an allocation the record does not name is a mismatch") {
        record.allocations[0].name = "vcpus_0-2";
        CHECK_THROWS_AS(s.groups.restore(parsed, record), InvalidDefinition);
    }
    SECTION("a monitor the record does not name is a mismatch") {
        record.monitors.pop_back();
        CHECK_THROWS_AS(s.groups.restore(parsed, record), InvalidDefinition);
    }
}

TEST_CASE("a version 1 record's groups are found under that version's names", "[service]") {
    Service s;
    TempDir temp;
    fs::copy_file(fs::path(RESCTRLD_TEST_DATA) / "state" / "web_2001.domain",
                  temp.path / "web_2001.domain");
    StateStore store(temp.path);
    const auto loaded = store.loadAll();
    REQUIRE(loaded.records.size() == 1);
    const DomainRecord& record = loaded.records[0];
    const DomainGroups groups = s.groups.restore(parseDomainDefinition(record.definition), record);
    // The 32-bit hash of 0.1, not today's 64-bit one.
    CHECK(groups.stem == "resctrld-web_01~d7984988");
    CHECK(groups.stem != s.groups.groupStem("web 01"));
    CHECK(groups.allocationGroups() ==
          std::vector<std::string>{"resctrld-web_01~d7984988-vcpus_0-1"});
    CHECK(groups.monitorGroups() ==
          std::vector<std::string>{"resctrld-web_01~d7984988-vcpus_0-1/mon_groups/vcpus_0",
                                   "mon_groups/resctrld-web_01~d7984988-vcpus_2"});
    CHECK(groups.plan.allocations[0].schemata.format() == "L3:0=3;1=7ff\n");
}
