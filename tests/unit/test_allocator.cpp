// SPDX-License-Identifier: LGPL-2.1-or-later
#include <fstream>
#include <functional>

#include <catch2/catch.hpp>

#include "allocator.h"
#include "errors.h"
#include "host_fixture.h"

using namespace resctrld;
using namespace resctrld::test;

namespace {

constexpr Bytes kMiB = Bytes{1} << 20;
constexpr Bytes kKiB = Bytes{1} << 10;

CacheRequest l3(unsigned id, Bytes size, CacheType type = CacheType::Both) {
    return {3, type, CacheId{id}, size};
}

CacheRequest l2(unsigned id, Bytes size, CacheType type = CacheType::Both) {
    return {2, type, CacheId{id}, size};
}

BandwidthRequest mb(unsigned node, std::uint32_t value) {
    return {CacheId{node}, value};
}

std::string readText(const std::filesystem::path& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// The groups of a fixture tree as the group manager will hand them over: the root, and every
// directory of the root with a schemata file (all foreign here).
std::vector<GroupHolding> holdingsOf(const HostTree& tree) {
    std::vector<GroupHolding> groups{
        {"", GroupOwner::Default, Schemata::parse(tree.rootSchemata()), false}};
    for (const auto& entry : std::filesystem::directory_iterator(tree.resctrlRoot())) {
        if (!std::filesystem::exists(entry.path() / "schemata"))
            continue;
        groups.push_back({entry.path().filename().string(), GroupOwner::Foreign,
                          Schemata::parse(readText(entry.path() / "schemata")),
                          readText(entry.path() / "mode") == "exclusive\n"});
    }
    return groups;
}

GroupHolding root(const std::string& schemata) {
    return {"", GroupOwner::Default, Schemata::parse(schemata), false};
}

// The mask placed for a single request in a new group.
CbmMask placeOne(Allocator& allocator, const CacheRequest& request) {
    const Schemata reserved = allocator.allocate(std::vector<CacheRequest>{request});
    const auto resource = cacheResource(request.level, request.type);
    REQUIRE(resource);
    const auto mask = reserved.mask(*resource, request.id);
    REQUIRE(mask);
    return *mask;
}

template <typename ErrorType> std::string errorOf(const std::function<void()>& call) {
    try {
        call();
    } catch (const ErrorType& error) {
        return error.what();
    }
    return "no error";
}

std::string allocateError(Allocator& allocator, std::vector<CacheRequest> caches,
                          std::vector<BandwidthRequest> bandwidths = {}) {
    try {
        allocator.allocate(caches, bandwidths);
    } catch (const Error& error) {
        return std::string(
                   error.dbusName().substr(std::string_view("org.resctrld1.Error.").size())) +
               ": " + error.what();
    }
    return "no error";
}

// A host assembled in memory: one L3 resource on the given domains.
HostModel memoryHost(unsigned bits, Bytes cacheSize, unsigned minCbmBits, std::vector<unsigned> ids,
                     CbmMask shareable = CbmMask()) {
    HostModel host;
    host.resctrlRoot = "/sys/fs/resctrl";
    CacheResource cache;
    cache.resource = Resource::L3;
    cache.numClosids = 16;
    cache.cbmMask = CbmMask::fromRun(0, bits);
    cache.minCbmBits = minCbmBits;
    cache.shareableBits = shareable;
    for (unsigned id : ids)
        cache.domains.emplace(CacheId{id}, cacheSize);
    host.cacheResources.push_back(cache);
    return host;
}

} // namespace

TEST_CASE("skx-2s-l3cat, fresh host: ways only the root holds are free", "[allocator]") {
    const HostTree tree(skx2sL3cat());
    const HostModel host = tree.discover();
    Allocator allocator(host, holdingsOf(tree));
    CHECK(allocator.freeWays(Resource::L3, CacheId{0}) == CbmMask(0x7ff));
    CHECK(allocator.closidsFree() == 7);

    const Schemata first = allocator.allocate(std::vector<CacheRequest>{l3(0, 5 * kMiB)});
    CHECK(first.format() == "L3:0=3\n");
    CHECK(placeOne(allocator, l3(0, 5 * kMiB / 2)) == CbmMask(0x4));
    CHECK(placeOne(allocator, l3(1, 5 * kMiB)) == CbmMask(0x3));
    CHECK(allocator.freeWays(Resource::L3, CacheId{0}) == CbmMask(0x7f8));
    CHECK(allocator.closidsFree() == 4);

    // The root keeps the ways none of resctrld's groups reserve; bandwidth is not managed.
    CHECK(allocator.defaultGroupSchemata().format() == "L3:0=7f8;1=7fc\nMB:0=100;1=100\n");
    // Rule 13: the ids a group does not name get the default group's mask.
    CHECK(allocator.completeSchemata(first).format() == "L3:0=3;1=7fc\nMB:0=100;1=100\n");
}

TEST_CASE("placement avoids shareable_bits until it cannot", "[allocator]") {
    const HostTree tree(skx2sL3cat()); // shareable_bits 600: ways 9 and 10
    const HostModel host = tree.discover();
    SECTION("9 ways fit below the shareable ways") {
        Allocator allocator(host, holdingsOf(tree));
        CHECK(placeOne(allocator, l3(0, 9 * 5 * kMiB / 2)) == CbmMask(0x1ff));
    }
    SECTION("10 ways take one shareable way, the fewest possible") {
        Allocator allocator(host, holdingsOf(tree));
        CHECK(placeOne(allocator, l3(0, 25 * kMiB)) == CbmMask(0x3ff));
        // One way is left, but it is the default group's last one.
        CHECK(allocateError(allocator, {l3(0, 5 * kMiB / 2)}) ==
              "NoSpace: not enough room for 2.5 MiB (1 way) on L3 cache 0: the largest free run "
              "is 1 way (2.5 MiB), and taking 1 way from it would leave the default group "
              "fewer than 1 way");
        CHECK(allocator.defaultGroupSchemata().mask(Resource::L3, CacheId{0}) == CbmMask(0x400));
    }
    SECTION("bdx-2s: 18 ways below c0000, 19 ways reach into it") {
        const HostTree bdx(bdx2s());
        const HostModel bdxHost = bdx.discover();
        Allocator allocator(bdxHost, holdingsOf(bdx));
        CHECK(placeOne(allocator, l3(0, 36 * kMiB)) == CbmMask(0x3ffff));
        CHECK(placeOne(allocator, l3(1, 38 * kMiB)) == CbmMask(0x7ffff));
    }
}

TEST_CASE("sizes must fit the host's granularity, minimum and cache size", "[allocator]") {
    const HostTree tree(skx2sL3cat());
    const HostModel host = tree.discover();
    Allocator allocator(host, holdingsOf(tree));
    CHECK(allocateError(allocator, {l3(0, 3 * kMiB)}) ==
          "InvalidDefinition: 3 MiB on L3 cache 0 is not a multiple of the granularity 2.5 MiB "
          "(27.5 MiB / 11 ways): use 2.5 MiB or 5 MiB");
    CHECK(allocateError(allocator, {l3(1, kMiB)}) ==
          "InvalidDefinition: 1 MiB on L3 cache 1 is not a multiple of the granularity 2.5 MiB "
          "(27.5 MiB / 11 ways): use 2.5 MiB");
    CHECK(allocateError(allocator, {l3(0, 28160 * kKiB)}) ==
          "InvalidDefinition: 27.5 MiB on L3 cache 0 is not possible: an allocation must be "
          "smaller than the whole cache (27.5 MiB)");
    CHECK_THAT(allocateError(allocator, {l3(0, 40 * kMiB)}),
               Catch::StartsWith("InvalidDefinition: 40 MiB on L3 cache 0 is not possible"));
    CHECK(allocateError(allocator, {l3(0, 0)}) ==
          "InvalidDefinition: 0 B on L3 cache 0 is less than the minimum allocation 2.5 MiB "
          "(1 way of 2.5 MiB)");
    // Nothing was placed by the failures.
    CHECK(allocator.closidsFree() == 7);
    CHECK(allocator.freeWays(Resource::L3, CacheId{0}) == CbmMask(0x7ff));
}

TEST_CASE("libvirt's worked examples, with ManageDefaultGroup=no", "[allocator]") {
    const AllocatorOptions libvirtRule{false};
    SECTION("resctrl-skx: free 70f, granularity 3 MiB: best fit, lowest way") {
        const HostModel host = memoryHost(11, 33 * kMiB, 1, {0});
        const std::vector<GroupHolding> groups{root("L3:0=0f0\n")};
        auto place = [&](Bytes size) {
            Allocator allocator(host, groups, libvirtRule);
            return placeOne(allocator, l3(0, size));
        };
        CHECK(place(3 * kMiB) == CbmMask(0x100)); // runs of 4 and 3: the smaller run wins
        CHECK(place(9 * kMiB) == CbmMask(0x700)); // exact fit at way 8
        CHECK(place(12 * kMiB) == CbmMask(0x00f));
        Allocator allocator(host, groups, libvirtRule);
        CHECK(allocateError(allocator, {l3(0, 15 * kMiB)}) ==
              "NoSpace: not enough room for 15 MiB (5 ways) on L3 cache 0: the largest free run "
              "is 4 ways (12 MiB)");
    }
    SECTION("resctrl: 20 ways of 768 KiB, min_cbm_bits 2") {
        const HostModel host = memoryHost(20, 15 * kMiB, 2, {0, 1});
        const std::vector<GroupHolding> groups{root("L3:0=fff00;1=fff0f\n")};
        Allocator allocator(host, groups, libvirtRule);
        CHECK(placeOne(allocator, l3(0, 1536 * kKiB)) == CbmMask(0x3));
        CHECK(placeOne(allocator, l3(1, 3 * kMiB)) == CbmMask(0xf0));
        CHECK(allocateError(allocator, {l3(0, 768 * kKiB)}) ==
              "InvalidDefinition: 768 KiB on L3 cache 0 is less than the minimum allocation "
              "1.5 MiB (2 ways of 768 KiB)");
        CHECK_THAT(allocateError(allocator, {l3(0, 1000 * kKiB)}),
                   Catch::Contains("is not a multiple of the granularity 768 KiB"));
        CHECK_THAT(allocateError(allocator, {l3(0, 15 * kMiB)}),
                   Catch::Contains("smaller than the whole cache (15 MiB)"));
        CHECK_THAT(allocateError(allocator, {l3(0, 7680 * kKiB)}),
                   Catch::StartsWith("NoSpace: not enough room for 7.5 MiB (10 ways) on L3 "
                                     "cache 0: the largest free run is 6 ways"));
    }
    SECTION("a fresh host has no free way: the root holds them all") {
        const HostTree tree(skx2sL3cat());
        const HostModel host = tree.discover();
        Allocator allocator(host, holdingsOf(tree), libvirtRule);
        CHECK(allocator.freeWays(Resource::L3, CacheId{0}).empty());
        CHECK(allocateError(allocator, {l3(0, 5 * kMiB / 2)}) ==
              "NoSpace: not enough room for 2.5 MiB (1 way) on L3 cache 0: the largest free run "
              "is 0 ways (0 B)");
        // ... and the root group is left as it is.
        CHECK(allocator.defaultGroupSchemata() == Schemata::parse(tree.rootSchemata()));
    }
    SECTION("after the administrator shrank the root, placements take the rest") {
        const HostTree tree(skx2sL3cat());
        tree.write("schemata", "    MB:0=100;1=100\n    L3:0=7f0;1=7ff\n");
        const HostModel host = tree.discover();
        Allocator allocator(host, holdingsOf(tree), libvirtRule);
        CHECK(placeOne(allocator, l3(0, 5 * kMiB)) == CbmMask(0x3));
        CHECK(allocator.defaultGroupSchemata().format() == "L3:0=7f0;1=7ff\nMB:0=100;1=100\n");
    }
}

TEST_CASE("foreign groups keep their ways", "[allocator]") {
    const HostTree tree(skx2sL3cat());
    tree.writeGroup("pqos-cos1", "    MB:0=100;1=100\n    L3:0=00f;1=7ff\n");
    const HostModel host = tree.discover();
    SECTION("ManageDefaultGroup=yes") {
        Allocator allocator(host, holdingsOf(tree));
        CHECK(allocator.freeWays(Resource::L3, CacheId{0}) == CbmMask(0x7f0));
        CHECK(allocator.closidsFree() == 6);
        CHECK(placeOne(allocator, l3(0, 5 * kMiB)) == CbmMask(0x30));
        CHECK(allocateError(allocator, {l3(1, 5 * kMiB)}) ==
              "NoSpace: not enough room for 5 MiB (2 ways) on L3 cache 1: the largest free run "
              "is 0 ways (0 B)");
        // The root may share the foreign group's ways; it gets the largest run resctrld left.
        CHECK(allocator.defaultGroupSchemata().format() == "L3:0=7c0;1=7ff\nMB:0=100;1=100\n");
    }
    SECTION("ManageDefaultGroup=no") {
        Allocator allocator(host, holdingsOf(tree), AllocatorOptions{false});
        CHECK(allocator.freeWays(Resource::L3, CacheId{0}).empty());
    }
    SECTION("an exclusive group's ways are kept out of the root's mask") {
        tree.writeGroup("pinned", "    MB:0=100;1=100\n    L3:0=00c;1=400\n", "exclusive");
        Allocator allocator(host, holdingsOf(tree));
        CHECK(allocator.defaultGroupSchemata().format() == "L3:0=7f0;1=3ff\nMB:0=100;1=100\n");
        CHECK(allocator.closidsFree() == 5);
    }
}

TEST_CASE("own groups: only what they reserved is held", "[allocator]") {
    const HostTree tree(skx2sL3cat());
    const HostModel host = tree.discover();
    std::vector<GroupHolding> groups = holdingsOf(tree);
    groups.push_back({"resctrld-vm1-vcpus_0-3", GroupOwner::Own, Schemata::parse("L3:0=0f0\n")});
    Allocator allocator(host, groups);
    CHECK(allocator.freeWays(Resource::L3, CacheId{0}) == CbmMask(0x70f));
    CHECK(allocator.freeWays(Resource::L3, CacheId{1}) == CbmMask(0x7ff));
    // Without sparse masks the root gets the largest run left: ways 0-3, not 8-10 too.
    CHECK(allocator.defaultGroupSchemata().mask(Resource::L3, CacheId{0}) == CbmMask(0x00f));
    // Of the free ways clear of shareable_bits (0-3 and 8) only the run 0-3 holds 2 ways.
    CHECK(placeOne(allocator, l3(0, 5 * kMiB)) == CbmMask(0x3));
}

TEST_CASE("CDP: code and data of other groups both hold a way", "[allocator]") {
    const HostTree tree(bdx2s(), {.cdp = true});
    const HostModel host = tree.discover();
    Allocator allocator(host, holdingsOf(tree));
    // One group's code and data are placed independently: they may share ways.
    const Schemata first = allocator.allocate(std::vector<CacheRequest>{
        l3(0, 4 * kMiB, CacheType::Code), l3(0, 6 * kMiB, CacheType::Data)});
    CHECK(first.format() == "L3CODE:0=3\nL3DATA:0=7\n");
    // The next group's data avoids the first group's code and data ways.
    CHECK(placeOne(allocator, l3(0, 2 * kMiB, CacheType::Data)) == CbmMask(0x8));
    CHECK(placeOne(allocator, l3(1, 2 * kMiB, CacheType::Code)) == CbmMask(0x1));
    CHECK(allocator.defaultGroupSchemata().format() ==
          "L3CODE:0=ffff0;1=ffffe\nL3DATA:0=ffff0;1=ffffe\n");
    CHECK(allocator.completeSchemata(first).format() == "L3CODE:0=3;1=ffffe\nL3DATA:0=7;1=ffffe\n");

    CHECK(allocateError(allocator, {l3(0, 2 * kMiB)}) ==
          "NotSupported: L3 is split into code and data on this host (resctrl is mounted with "
          "CDP): ask for type 'code' and 'data' instead of 'both'");

    SECTION("a foreign group's data ways are not free for our code") {
        tree.writeGroup("foreign", "L3DATA:0=3;1=fffff\nL3CODE:0=0;1=fffff\n");
        Allocator withForeign(host, holdingsOf(tree));
        CHECK(placeOne(withForeign, l3(0, 2 * kMiB, CacheType::Code)) == CbmMask(0x4));
    }
}

TEST_CASE("CDP types need CDP mounted", "[allocator]") {
    const HostTree tree(bdx2s());
    const HostModel host = tree.discover();
    Allocator allocator(host, holdingsOf(tree));
    CHECK(allocateError(allocator, {l3(0, 2 * kMiB, CacheType::Code)}) ==
          "NotSupported: type 'code' needs CDP on L3: mount resctrl with -o cdp, or ask for "
          "'both'");
    CHECK(allocateError(allocator, {l3(0, 2 * kMiB, CacheType::Data)}) ==
          "NotSupported: type 'data' needs CDP on L3: mount resctrl with -o cdp, or ask for "
          "'both'");
}

TEST_CASE("milan-2s: gapped ids, empty masks allowed, sparse default masks", "[allocator]") {
    const HostTree tree(milan2s());
    const HostModel host = tree.discover();
    Allocator allocator(host, holdingsOf(tree));
    CHECK(placeOne(allocator, l3(16, 2 * kMiB)) == CbmMask(0x1));
    CHECK(placeOne(allocator, l3(23, 30 * kMiB)) == CbmMask(0x7fff));
    CHECK(allocateError(allocator, {l3(23, 2 * kMiB)}) ==
          "NoSpace: not enough room for 2 MiB (1 way) on L3 cache 23: the largest free run is "
          "1 way (2 MiB), and taking 1 way from it would leave the default group fewer than "
          "1 way");
    CHECK(allocateError(allocator, {l3(8, 2 * kMiB)}) ==
          "NotSupported: L3 cache id 8 does not exist on this host (L3 ids: 0-7,16-23)");
    // min_cbm_bits 0: a VM may be kept out of a cache entirely.
    CHECK(placeOne(allocator, l3(0, 0)) == CbmMask());

    std::vector<GroupHolding> groups = holdingsOf(tree);
    groups.push_back({"resctrld-vm", GroupOwner::Own, Schemata::parse("L3:0=f0\n")});
    const Allocator sparse(host, groups);
    CHECK(sparse.defaultGroupSchemata().mask(Resource::L3, CacheId{0}) == CbmMask(0xff0f));
    CHECK(sparse.defaultGroupSchemata().mask(Resource::L3, CacheId{17}) == CbmMask(0xffff));
}

TEST_CASE("memory bandwidth values follow the host's unit and rules", "[allocator]") {
    SECTION("Intel percent: granularity 10, minimum 10, maximum 100") {
        const HostTree tree(skx2sNoL3cat());
        const HostModel host = tree.discover();
        Allocator allocator(host, holdingsOf(tree));
        const Schemata reserved = allocator.allocate({}, std::vector<BandwidthRequest>{mb(0, 60)});
        CHECK(reserved.format() == "MB:0=60\n");
        CHECK(allocator.completeSchemata(reserved).format() == "MB:0=60;1=100\n");
        CHECK(allocateError(allocator, {}, {mb(1, 55)}) ==
              "InvalidDefinition: bandwidth 55 on MB node 1 is not a multiple of the host's "
              "granularity 10 (unit: percent)");
        CHECK(allocateError(allocator, {}, {mb(1, 0)}) ==
              "InvalidDefinition: bandwidth 0 on MB node 1 is below the host's minimum 10 (unit: "
              "percent)");
        CHECK(allocateError(allocator, {}, {mb(1, 110)}) ==
              "InvalidDefinition: bandwidth 110 on MB node 1 is above the host's maximum 100 "
              "(unit: percent)");
        CHECK(allocateError(allocator, {}, {mb(2, 50)}) ==
              "NotSupported: MB node 2 does not exist on this host (nodes: 0-1)");
        // Values are caps, not reservations: they are not summed across groups (rule 14).
        for (int i = 0; i < 3; ++i)
            CHECK_NOTHROW(allocator.allocate({}, std::vector<BandwidthRequest>{mb(0, 100)}));
        // No L3 allocation on this host: the message says how to get it.
        CHECK_THAT(allocateError(allocator, {l3(0, 5 * kMiB / 2)}),
                   Catch::StartsWith("NotSupported: this host has no L3 cache allocation (no "
                                     "info/L3 under ") &&
                       Catch::EndsWith("booted with rdt=l3cat"));
    }
    SECTION("AMD units: 0 to 2048, granularity 1") {
        const HostTree tree(milan2s());
        const HostModel host = tree.discover();
        Allocator allocator(host, holdingsOf(tree));
        CHECK(allocator.allocate({}, std::vector<BandwidthRequest>{mb(16, 1024)}).format() ==
              "MB:16=1024\n");
        CHECK(allocateError(allocator, {}, {mb(0, 4096)}) ==
              "InvalidDefinition: bandwidth 4096 on MB node 0 is above the host's maximum 2048 "
              "(unit: 1/8 GB/s)");
        CHECK(allocateError(allocator, {}, {mb(8, 16)}) ==
              "NotSupported: MB node 8 does not exist on this host (nodes: 0-7,16-23)");
        CHECK_THAT(allocateError(allocator, {}, {{CacheId{0}, 16, Resource::SMBA}}),
                   Catch::StartsWith("NotSupported: this host has no memory bandwidth allocation "
                                     "(no info/SMBA"));
    }
    SECTION("mba_MBps: any MiB/s target") {
        const HostTree tree(skx2sL3cat(), {.mbaMbps = true});
        const HostModel host = tree.discover();
        Allocator allocator(host, holdingsOf(tree));
        CHECK(
            allocator.allocate({}, std::vector<BandwidthRequest>{mb(0, 5000), mb(1, 1)}).format() ==
            "MB:0=5000;1=1\n");
        CHECK(allocator.defaultGroupSchemata().bandwidth(Resource::MB, CacheId{1}) == 4294967295U);
    }
    SECTION("no MBA on the host") {
        const HostTree tree(bdx2s());
        const HostModel host = tree.discover();
        Allocator allocator(host, holdingsOf(tree));
        CHECK_THAT(allocateError(allocator, {}, {mb(0, 50)}),
                   Catch::StartsWith("NotSupported: this host has no memory bandwidth allocation "
                                     "(no info/MB under "));
    }
}

TEST_CASE("modern-intel-l2: L2 per core beside L3", "[allocator]") {
    SECTION("default mount") {
        const HostTree tree(modernIntelL2());
        const HostModel host = tree.discover();
        Allocator allocator(host, holdingsOf(tree));
        const Schemata reserved =
            allocator.allocate(std::vector<CacheRequest>{l2(47, 256 * kKiB), l3(0, 7 * kMiB)});
        CHECK(reserved.format() == "L3:0=1\nL2:47=3\n");
        const Schemata full = allocator.completeSchemata(reserved);
        CHECK(full.masks(Resource::L2).size() == 48);
        CHECK(full.mask(Resource::L2, CacheId{46}) == CbmMask(0xffff));
        CHECK(full.mask(Resource::L2, CacheId{47}) == CbmMask(0x3));
        CHECK(full.mask(Resource::L3, CacheId{0}) == CbmMask(0x1));
        CHECK(allocator.defaultGroupSchemata().mask(Resource::L2, CacheId{47}) == CbmMask(0xfffc));
        CHECK(allocateError(allocator, {l2(48, 256 * kKiB)}) ==
              "NotSupported: L2 cache id 48 does not exist on this host (L2 ids: 0-47)");
        CHECK(allocateError(allocator, {{1, CacheType::Both, CacheId{0}, 16 * kKiB}}) ==
              "NotSupported: cache level 1 cannot be tuned: resctrl allocates only L2 and L3");
        CHECK_THAT(allocateError(allocator, {l2(0, 256 * kKiB, CacheType::Code)}),
                   Catch::Contains("mount resctrl with -o cdpl2"));
    }
    SECTION("cdpl2") {
        const HostTree tree(modernIntelL2(), {.cdpl2 = true});
        const HostModel host = tree.discover();
        Allocator allocator(host, holdingsOf(tree));
        const Schemata reserved = allocator.allocate(
            std::vector<CacheRequest>{l2(5, 256 * kKiB, CacheType::Code),
                                      l2(5, 512 * kKiB, CacheType::Data), l3(0, 14 * kMiB)});
        CHECK(reserved.format() == "L3:0=3\nL2CODE:5=3\nL2DATA:5=f\n");
        CHECK(allocator.closidsFree() == 2);
    }
}

TEST_CASE("CLOSIDs run out", "[allocator]") {
    const HostTree tree(skx2sL3cat());
    SECTION("all taken by resctrld") {
        const HostModel host = tree.discover();
        Allocator allocator(host, holdingsOf(tree));
        for (int i = 0; i < 7; ++i)
            allocator.allocate({}, std::vector<BandwidthRequest>{mb(0, 50)});
        CHECK(allocator.closidsFree() == 0);
        CHECK(allocateError(allocator, {l3(0, 5 * kMiB / 2)}) ==
              "NoSpace: out of CLOSIDs: this host has 7 control groups besides the default "
              "group and all are taken (7 by resctrld, 0 by other tools)");
    }
    SECTION("some taken by other tools") {
        tree.writeGroup("runc-1", "    MB:0=100;1=100\n    L3:0=7ff;1=7ff\n");
        tree.writeGroup("runc-2", "    MB:0=100;1=100\n    L3:0=7ff;1=7ff\n");
        const HostModel host = tree.discover();
        Allocator allocator(host, holdingsOf(tree));
        for (int i = 0; i < 5; ++i)
            allocator.allocate({}, std::vector<BandwidthRequest>{mb(1, 20)});
        CHECK_THAT(allocateError(allocator, {}, {mb(0, 50)}),
                   Catch::EndsWith("(5 by resctrld, 2 by other tools)"));
    }
}

TEST_CASE("allocate is all or nothing and checks before it places", "[allocator]") {
    const HostTree tree(skx2sL3cat());
    tree.writeGroup("pqos-cos1", "    MB:0=100;1=100\n    L3:0=00f;1=7ff\n");
    const HostModel host = tree.discover();
    Allocator allocator(host, holdingsOf(tree));
    // The second request has no room: the first is not kept.
    CHECK_THAT(allocateError(allocator, {l3(0, 5 * kMiB), l3(1, 5 * kMiB)}),
               Catch::StartsWith("NoSpace: not enough room for 5 MiB (2 ways) on L3 cache 1"));
    CHECK(allocator.freeWays(Resource::L3, CacheId{0}) == CbmMask(0x7f0));
    CHECK(allocator.closidsFree() == 6);
    // Rule checks come first, bandwidth before caches (libvirt's order).
    CHECK_THAT(allocateError(allocator, {l3(0, 3 * kMiB)}, {mb(0, 55)}),
               Catch::Contains("bandwidth 55 on MB node 0"));
    CHECK_THAT(allocateError(allocator, {l3(1, 5 * kMiB), l3(0, 3 * kMiB)}),
               Catch::StartsWith("InvalidDefinition: 3 MiB on L3 cache 0"));
    CHECK(allocateError(allocator, {l3(0, 5 * kMiB), l3(0, 5 * kMiB / 2)}) ==
          "InvalidDefinition: two allocations for L3 cache 0 in one group");
    CHECK(allocateError(allocator, {}, {mb(0, 50), mb(0, 60)}) ==
          "InvalidDefinition: two bandwidth values for MB node 0 in one group");
    CHECK(allocator.closidsFree() == 6);
}

TEST_CASE("check() alone validates without placing", "[allocator]") {
    const HostTree tree(skx2sL3cat());
    const HostModel host = tree.discover();
    const Allocator allocator(host, holdingsOf(tree));
    CHECK_NOTHROW(allocator.check(l3(1, 5 * kMiB)));
    CHECK_NOTHROW(allocator.check(mb(1, 30)));
    CHECK_THROWS_AS(allocator.check(l3(2, 5 * kMiB)), NotSupported);
    CHECK_THROWS_AS(allocator.check(l3(0, 3 * kMiB)), InvalidDefinition);
    CHECK_THROWS_AS(allocator.check(mb(0, 35)), InvalidDefinition);
    CHECK(allocator.freeWays(Resource::L2, CacheId{0}).empty());
    CHECK(allocator.freeWays(Resource::L3, CacheId{9}).empty());
    CHECK(allocator.closidsFree() == 7);
}

TEST_CASE("a cache whose size sysfs does not give cannot be sized", "[allocator]") {
    const HostTree tree(bdx2s());
    HostPaths paths = tree.paths();
    paths.sysfsRoot = tree.resctrlRoot() / "no-sysfs";
    const HostModel host = HostModel::discover(paths);
    Allocator allocator(host, holdingsOf(tree));
    CHECK(errorOf<NotSupported>([&] {
              allocator.allocate(std::vector<CacheRequest>{l3(0, 2 * kMiB)});
          }) == "the size of L3 cache 0 is unknown (sysfs has no cache information for it)");
}

TEST_CASE("SparseMasks=yes places in non-contiguous free ways only when no run fits",
          "[allocator]") {
    const HostTree tree(gnr2sSnc3());
    const HostModel host = tree.discover();
    const CacheResource& l3 = *host.cacheResource(Resource::L3);
    // A foreign group holds ways 4-8: 0-3 and 9-14 are free, 9-12 outside shareable_bits 6000.
    std::vector<GroupHolding> groups{
        {"", GroupOwner::Default, Schemata::parse("L3:0=7fff;1=7fff\n"), false},
        {"other", GroupOwner::Foreign, Schemata::parse("L3:0=1f0;1=7fff\n"), false}};
    // With SNC-3 exact sizes come in threes of ways: 3 ways fit a run, 9 ways fit none.
    const std::vector<CacheRequest> fits{
        {3, CacheType::Both, CacheId{0}, l3.bytesFor(CacheId{0}, 3)}};
    const std::vector<CacheRequest> big{
        {3, CacheType::Both, CacheId{0}, l3.bytesFor(CacheId{0}, 9)}};
    SECTION("off (the default): contiguous only") {
        Allocator allocator(host, groups);
        CHECK_THROWS_AS(allocator.allocate(big), NoSpace);
    }
    SECTION("on: a run still wins where one fits") {
        Allocator allocator(host, groups, AllocatorOptions{true, true});
        CHECK(allocator.allocate(fits).mask(Resource::L3, CacheId{0})->isContiguous());
    }
    SECTION("on: the lowest free ways outside shareable_bits, the default group keeping one") {
        Allocator allocator(host, groups, AllocatorOptions{true, true});
        const CbmMask mask = *allocator.allocate(big).mask(Resource::L3, CacheId{0});
        CHECK(mask.count() == 9);
        CHECK_FALSE(mask.isContiguous());
        // Ways 0-3 and 9-12 outside shareable_bits 6000 first, then way 13.
        CHECK(mask == CbmMask(0x3e0f));
        CHECK_FALSE(mask.overlaps(CbmMask(0x1f0)));
        CHECK(allocator.defaultGroupSchemata().mask(Resource::L3, CacheId{0})->count() >= 1);
    }
    SECTION("on, but the cache allows only contiguous masks") {
        HostModel contiguous = host;
        contiguous.cacheResources.front().sparseMasks = false;
        Allocator allocator(contiguous, groups, AllocatorOptions{true, true});
        CHECK_THROWS_AS(allocator.allocate(big), NoSpace);
    }
}

TEST_CASE("the ways io_alloc reserves for I/O are taken, and its CLOSID is out of the budget",
          "[allocator]") {
    const HostTree tree(milan2s());
    HostModel host = tree.discover();
    host.cacheResources.front().ioAllocEnabled = true;
    const Bytes way = host.cacheResource(Resource::L3)->granularity(CacheId{0});
    std::vector<GroupHolding> groups{
        {"", GroupOwner::Default, Schemata::parse("L3:0=ffff;1=ffff\n"), false},
        {"info/io_alloc_cbm", GroupOwner::Io, Schemata::parse("L3:0=f\n"), false}};
    Allocator allocator(host, groups);
    CHECK(allocator.freeWays(Resource::L3, CacheId{0}) == CbmMask(0xfff0));
    const std::vector<CacheRequest> request{{3, CacheType::Both, CacheId{0}, 2 * way}};
    CHECK_FALSE(allocator.allocate(request).mask(Resource::L3, CacheId{0})->overlaps(CbmMask(0xf)));
    // 16 CLOSIDs: the root's, the I/O one, and 14 for groups, one of them taken now.
    CHECK(allocator.closidsFree() == 13);
}
