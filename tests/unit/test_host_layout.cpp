// SPDX-License-Identifier: LGPL-2.1-or-later
// readHostLayout (GetLayout's reader, docs/api.md) on fake resctrl trees written in the kernel's
// formats: who holds which ways and which bandwidth, with resctrld's, foreign and odd groups.
#include <catch2/catch.hpp>

#include "errors.h"
#include "host_fixture.h"
#include "host_layout.h"

using namespace resctrld;
using namespace resctrld::test;

namespace {

constexpr Bytes kSkxWay = 28160ULL * 1024 / 11; // 27.5 MiB of L3 in 11 ways

LayoutGroup defaultGroup() {
    return {"", LayoutOwner::Default, ""};
}

LayoutGroup foreign(const std::string& path) {
    return {path, LayoutOwner::Foreign, ""};
}

LayoutGroup ofDomain(const std::string& path, const std::string& domain) {
    return {path, LayoutOwner::Domain, domain};
}

HostLayout read(const HostTree& tree, const HostModel& host,
                const std::map<std::string, std::string>& domainGroups = {}) {
    return readHostLayout(host, ResctrlFs(tree.resctrlRoot()), domainGroups);
}

const CacheLayout& cacheEntry(const HostLayout& layout, Resource resource, unsigned id) {
    for (const CacheLayout& entry : layout.caches)
        if (entry.resource == resource && entry.id == CacheId{id})
            return entry;
    throw std::runtime_error("no cache entry");
}

} // namespace

TEST_CASE("the layout names the default group, a domain's groups and foreign groups", "[layout]") {
    const HostTree tree(skx2sL3cat());
    tree.write("schemata", "L3:0=7fc;1=7ff\nMB:0=100;1=100\n");
    tree.writeGroup("resctrld-vm1-vcpus_0-1", "MB:0=50;1=100\nL3:0=3;1=7ff\n");
    tree.writeGroup("pqos-1", "L3:0=600;1=1\nMB:0=70;1=100\n");
    // A prefixed group no started domain explains is no domain's; monitoring groups hold no
    // schemata and never appear.
    tree.writeGroup("resctrld-gone-vcpus_0", "L3:0=4;1=7ff\nMB:0=100;1=100\n");
    tree.write("mon_groups/m1/tasks", "");
    tree.write("pqos-1/mon_groups/m2/tasks", "");
    const HostModel host = tree.discover();

    const HostLayout layout = read(tree, host, {{"resctrld-vm1-vcpus_0-1", "vm1"}});

    REQUIRE(layout.caches.size() == 2);
    const CacheLayout& l3 = layout.caches[0];
    CHECK(l3.resource == Resource::L3);
    CHECK(l3.id == CacheId{0});
    CHECK(l3.ways == 11);
    CHECK(l3.bytesPerWay == kSkxWay);
    CHECK(l3.shareableBits == CbmMask(0x600));
    CHECK_FALSE(l3.ioAllocMask);
    CHECK(l3.holders == std::vector<CacheLayout::Holder>{
                            {defaultGroup(), CbmMask(0x7fc)},
                            {foreign("pqos-1"), CbmMask(0x600)},
                            {foreign("resctrld-gone-vcpus_0"), CbmMask(0x4)},
                            {ofDomain("resctrld-vm1-vcpus_0-1", "vm1"), CbmMask(0x3)},
                        });
    CHECK(layout.caches[1].id == CacheId{1});
    CHECK(layout.caches[1].holders[1] == CacheLayout::Holder{foreign("pqos-1"), CbmMask(0x1)});

    REQUIRE(layout.bandwidths.size() == 2);
    const BandwidthLayout& mb = layout.bandwidths[0];
    CHECK(mb.resource == Resource::MB);
    CHECK(mb.unit == BandwidthUnit::Percent);
    CHECK(mb.id == CacheId{0});
    CHECK(mb.holders == std::vector<BandwidthLayout::Holder>{
                            {defaultGroup(), 100},
                            {foreign("pqos-1"), 70},
                            {foreign("resctrld-gone-vcpus_0"), 100},
                            {ofDomain("resctrld-vm1-vcpus_0-1", "vm1"), 50},
                        });
    CHECK(layout.bandwidths[1].id == CacheId{1});
}

TEST_CASE("the layout reads the padded values of kernels before 6.15", "[layout]") {
    const HostTree tree(skx2sL3cat(), {.padded = true});
    tree.writeGroup("g", "    MB:0= 50;1=100\n    L3:0=00c;1=7ff\n");
    const HostModel host = tree.discover();

    const HostLayout layout = read(tree, host);

    CHECK(cacheEntry(layout, Resource::L3, 0).holders.back() ==
          CacheLayout::Holder{foreign("g"), CbmMask(0xc)});
    CHECK(layout.bandwidths[0].holders.back() == BandwidthLayout::Holder{foreign("g"), 50});
}

TEST_CASE("with CDP the layout has code and data entries, code first", "[layout]") {
    const HostTree tree(bdx2s(), {.cdp = true});
    tree.writeGroup("g", "L3DATA:0=ff;1=fffff\nL3CODE:0=f00;1=fffff\n");
    const HostModel host = tree.discover();

    const HostLayout layout = read(tree, host);

    REQUIRE(layout.caches.size() == 4);
    CHECK(layout.caches[0].resource == Resource::L3Code);
    CHECK(layout.caches[0].id == CacheId{0});
    CHECK(layout.caches[1].resource == Resource::L3Code);
    CHECK(layout.caches[1].id == CacheId{1});
    CHECK(layout.caches[2].resource == Resource::L3Data);
    CHECK(layout.caches[3].resource == Resource::L3Data);
    CHECK(layout.caches[0].ways == 20);
    CHECK(layout.caches[0].bytesPerWay == (40ULL << 20) / 20);
    CHECK(layout.caches[0].shareableBits == CbmMask(0xc0000));
    CHECK(layout.caches[0].holders.back() == CacheLayout::Holder{foreign("g"), CbmMask(0xf00)});
    CHECK(layout.caches[2].holders.back() == CacheLayout::Holder{foreign("g"), CbmMask(0xff)});
    CHECK(layout.bandwidths.empty());
}

TEST_CASE("L2 entries follow the L3 ones, in id order", "[layout]") {
    const HostTree tree(modernIntelL2());
    const HostModel host = tree.discover();

    const HostLayout layout = read(tree, host);

    REQUIRE(layout.caches.size() == 1 + 48);
    CHECK(layout.caches[0].resource == Resource::L3);
    CHECK(layout.caches[0].ways == 15);
    for (unsigned i = 0; i < 48; ++i) {
        CHECK(layout.caches[1 + i].resource == Resource::L2);
        CHECK(layout.caches[1 + i].id == CacheId{i});
        CHECK(layout.caches[1 + i].ways == 16);
        CHECK(layout.caches[1 + i].holders ==
              std::vector<CacheLayout::Holder>{{defaultGroup(), CbmMask(0xffff)}});
    }
}

TEST_CASE("milan-2s: gapped ids and AMD's bandwidth unit", "[layout]") {
    const HostTree tree(milan2s());
    tree.writeGroup("g", "L3:0=f;1=ffff;2=ffff;3=ffff;4=ffff;5=ffff;6=ffff;7=ffff;16=ff00;17=ffff;"
                         "18=ffff;19=ffff;20=ffff;21=ffff;22=ffff;23=ffff\n"
                         "MB:0=2048;1=2048;2=2048;3=2048;4=2048;5=2048;6=2048;7=2048;16=64;"
                         "17=2048;18=2048;19=2048;20=2048;21=2048;22=2048;23=2048\n");
    const HostModel host = tree.discover();

    const HostLayout layout = read(tree, host);

    REQUIRE(layout.caches.size() == 16);
    CHECK(layout.caches[8].id == CacheId{16});
    CHECK(layout.caches[8].holders.back() == CacheLayout::Holder{foreign("g"), CbmMask(0xff00)});
    REQUIRE(layout.bandwidths.size() == 16);
    CHECK(layout.bandwidths[8].unit == BandwidthUnit::EighthGBps);
    CHECK(layout.bandwidths[8].id == CacheId{16});
    CHECK(layout.bandwidths[8].holders ==
          std::vector<BandwidthLayout::Holder>{{defaultGroup(), 2048}, {foreign("g"), 64}});
}

TEST_CASE("with mba_MBps the bandwidth values are MiB/s", "[layout]") {
    const HostTree tree(skx2sL3cat(), {.mbaMbps = true});
    tree.writeGroup("g", "L3:0=7ff;1=7ff\nMB:0=2000;1=4294967295\n");
    const HostModel host = tree.discover();

    const HostLayout layout = read(tree, host);

    REQUIRE(layout.bandwidths.size() == 2);
    CHECK(layout.bandwidths[0].unit == BandwidthUnit::MiBps);
    CHECK(layout.bandwidths[0].holders.back() == BandwidthLayout::Holder{foreign("g"), 2000});
    CHECK(layout.bandwidths[1].holders.back() ==
          BandwidthLayout::Holder{foreign("g"), 4294967295u});
}

TEST_CASE("no more control groups are read than the host has CLOSIDs", "[layout]") {
    // skx-2s-l3cat: MB's 8 CLOSIDs leave 7 groups besides the root. Only a filesystem that is
    // not the kernel's lists more; their number must not make the answer grow.
    const HostTree tree(skx2sL3cat());
    for (unsigned i = 0; i < 20; ++i)
        tree.writeGroup("g" + std::to_string(i), "L3:0=1;1=1\nMB:0=10;1=10\n");
    const HostModel host = tree.discover();
    REQUIRE(controlGroupLimit(host) == 7);

    const HostLayout layout = read(tree, host);

    for (const CacheLayout& entry : layout.caches)
        CHECK(entry.holders.size() == 1 + 7);
    for (const BandwidthLayout& entry : layout.bandwidths)
        CHECK(entry.holders.size() == 1 + 7);
}

TEST_CASE("groups without a schemata or with nothing set up hold nothing", "[layout]") {
    const HostTree tree(skx2sL3cat());
    // Removed between the listing and the read: a directory without its files.
    tree.write("vanishing/tasks", "");
    // A foreign group in pseudo-locksetup mode prints every schema as uninitialized.
    tree.writeGroup("locking", "L3:uninitialized\nMB:uninitialized\n", "pseudo-locksetup");
    const HostModel host = tree.discover();

    const HostLayout layout = read(tree, host);

    for (const CacheLayout& entry : layout.caches)
        CHECK(entry.holders == std::vector<CacheLayout::Holder>{{defaultGroup(), CbmMask(0x7ff)}});
    for (const BandwidthLayout& entry : layout.bandwidths)
        CHECK(entry.holders.size() == 1);
}

TEST_CASE("the I/O mask is read where io_alloc is enabled", "[layout]") {
    const HostTree tree(milan2s());
    tree.write("info/L3/io_alloc", "enabled\n");
    tree.write("info/L3/io_alloc_cbm", "0=ffff;1=ff;2=ffff;3=ffff;4=ffff;5=ffff;6=ffff;7=ffff;"
                                       "16=ffff;17=ffff;18=ffff;19=ffff;20=ffff;21=ffff;22=ffff;"
                                       "23=ffff\n");
    const HostModel host = tree.discover();

    const HostLayout layout = read(tree, host);

    CHECK(layout.caches[0].ioAllocMask == CbmMask(0xffff));
    CHECK(layout.caches[1].ioAllocMask == CbmMask(0xff));
    CHECK(layout.caches[8].ioAllocMask == CbmMask(0xffff));

    SECTION("and none when io_alloc was disabled since") {
        tree.remove("info/L3/io_alloc_cbm");
        for (const CacheLayout& entry : read(tree, host).caches)
            CHECK_FALSE(entry.ioAllocMask);
    }
}

TEST_CASE("a root without a schemata is ResctrlUnavailable", "[layout]") {
    const HostTree tree(skx2sL3cat());
    const HostModel host = tree.discover();
    tree.remove("schemata");
    CHECK_THROWS_AS(read(tree, host), ResctrlUnavailable);
}

TEST_CASE("changes made through ResctrlFs are counted, reads and task moves are not", "[layout]") {
    const HostTree tree(skx2sL3cat());
    const ResctrlFs resctrl(tree.resctrlRoot());
    CHECK(resctrl.layoutChanges() == 0);
    REQUIRE_FALSE(resctrl.makeGroup("g"));
    CHECK(resctrl.layoutChanges() == 1);
    tree.write("g/schemata", "");
    tree.write("g/tasks", "");
    REQUIRE_FALSE(resctrl.write("g/schemata", "L3:0=1\n"));
    CHECK(resctrl.layoutChanges() == 2);
    REQUIRE_FALSE(resctrl.write("g/tasks", "1\n"));
    REQUIRE(resctrl.read("g/schemata"));
    CHECK(resctrl.layoutChanges() == 2);
    // A refused command changed nothing.
    CHECK(resctrl.removeGroup("g"));
    CHECK(resctrl.layoutChanges() == 2);
}
