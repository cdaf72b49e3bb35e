// SPDX-License-Identifier: LGPL-2.1-or-later
#include <filesystem>
#include <limits>

#include <catch2/catch.hpp>

#include "errors.h"
#include "host_fixture.h"
#include "host_model.h"
#include "schemata.h"

using namespace resctrld;
using namespace resctrld::test;

namespace {

std::vector<CacheId> cacheIds(std::initializer_list<unsigned> values) {
    std::vector<CacheId> ids;
    for (unsigned value : values)
        ids.push_back(CacheId{value});
    return ids;
}

std::vector<CacheId> domainIds(const CacheResource& cache) {
    std::vector<CacheId> ids;
    for (const auto& [id, size] : cache.domains)
        ids.push_back(id);
    return ids;
}

std::string discoverError(const HostPaths& paths) {
    try {
        HostModel::discover(paths);
    } catch (const ResctrlUnavailable& error) {
        return error.what();
    }
    return "no error";
}

constexpr Bytes kMiB = Bytes{1} << 20;
constexpr Bytes kKiB = Bytes{1} << 10;

} // namespace

TEST_CASE("skx-2s-l3cat: L3 CAT, MBA and monitoring of a Skylake-SP host", "[host]") {
    const HostTree tree(skx2sL3cat());
    const HostModel host = tree.discover();

    CHECK(host.resctrlRoot == tree.resctrlRoot());
    CHECK(host.mounted);
    CHECK(host.mountOptions.empty());
    REQUIRE(host.cacheResources.size() == 1);
    const CacheResource& l3 = host.cacheResources[0];
    CHECK(&l3 == host.cacheResource(Resource::L3));
    CHECK(&l3 == host.cacheResource(3, CacheType::Both));
    CHECK(l3.level() == 3);
    CHECK(l3.type() == CacheType::Both);
    CHECK(l3.numClosids == 16);
    CHECK(l3.cbmMask == CbmMask(0x7ff));
    CHECK(l3.ways() == 11);
    CHECK(l3.minCbmBits == 1);
    CHECK(l3.shareableBits == CbmMask(0x600));
    CHECK_FALSE(l3.sparseMasks);
    CHECK_FALSE(l3.ioAllocEnabled);
    CHECK(l3.bitUsage == "0=SSSSSSSSSSS;1=SSSSSSSSSSS");
    CHECK(domainIds(l3) == cacheIds({0, 1}));
    CHECK(l3.domains.at(CacheId{0}) == 28160 * kKiB);
    CHECK(l3.granularity(CacheId{0}) == 5 * kMiB / 2); // 27.5 MiB / 11 ways
    CHECK(l3.minimumAllocation(CacheId{1}) == 5 * kMiB / 2);
    CHECK(l3.granularity(CacheId{2}) == 0);
    CHECK_FALSE(host.cacheResource(Resource::L2));
    CHECK_FALSE(host.cacheResource(3, CacheType::Code));
    CHECK_FALSE(host.isCdpEnabled(3));

    const BandwidthResource* mb = host.bandwidthResource();
    REQUIRE(mb);
    CHECK(mb->numClosids == 8);
    CHECK(mb->minBandwidth == 10);
    CHECK(mb->bandwidthGran == 10);
    CHECK(mb->delayLinear);
    CHECK(mb->threadThrottleMode == "max");
    CHECK(mb->unit == BandwidthUnit::Percent);
    CHECK(mb->maxBandwidth == 100);
    CHECK(mb->domains == cacheIds({0, 1}));
    CHECK_FALSE(host.bandwidthResource(Resource::SMBA));

    REQUIRE(host.monitoring);
    CHECK(host.monitoring->numRmids == 160);
    CHECK(host.monitoring->features ==
          std::vector<std::string>{"llc_occupancy", "mbm_total_bytes", "mbm_local_bytes"});
    CHECK(host.monitoring->hasFeature("mbm_local_bytes"));
    CHECK_FALSE(host.monitoring->hasFeature("mbm_total_bytes_config"));
    CHECK(host.monitoring->maxThresholdOccupancy == 131072);
    CHECK(host.monitoring->domains == cacheIds({0, 1}));

    // The usable budget is MB's 8 CLOSIDs minus the root, although L3 has 16 (§3.2).
    CHECK(host.supportsAllocation());
    CHECK(host.closidBudget() == 7);
    CHECK(host.rmidBudget() == 159);
}

TEST_CASE("sysfs caches are keyed by level and id, once per shared cache", "[host]") {
    const HostTree tree(skx2sL3cat());
    const HostModel host = tree.discover();
    REQUIRE(host.caches.count(3));
    CHECK(host.caches.at(3).size() == 2);
    CHECK(host.caches.at(3).at(CacheId{0}).cpuList == "0-19,40-59");
    CHECK(host.caches.at(3).at(CacheId{1}).cpuList == "20-39,60-79");
    CHECK(host.caches.at(3).at(CacheId{1}).size == 28160 * kKiB);
    CHECK(host.caches.at(2).size() == 40);
    CHECK(host.caches.at(2).at(CacheId{7}).cpuList == "7,47");
    CHECK(host.caches.at(2).at(CacheId{7}).size == kMiB);
    // L1: the data cache only; instruction caches are no business of resctrl.
    CHECK(host.caches.at(1).size() == 40);
    CHECK(host.caches.at(1).at(CacheId{0}).size == 32 * kKiB);
}

TEST_CASE("skx-2s-no-l3cat: monitoring and MBA without L3 allocation", "[host]") {
    const HostTree tree(skx2sNoL3cat());
    const HostModel host = tree.discover();
    CHECK(host.cacheResources.empty());
    CHECK_FALSE(host.cacheResource(Resource::L3));
    REQUIRE(host.bandwidthResource());
    CHECK(host.supportsAllocation());
    CHECK(host.closidBudget() == 7);
    REQUIRE(host.monitoring);
    CHECK(host.rmidBudget() == 159);
    // sysfs still tells the caches: capabilities show them even where they cannot be tuned.
    CHECK(host.caches.at(3).size() == 2);
}

TEST_CASE("bdx-2s: 20-way L3 without MBA, with and without CDP", "[host]") {
    SECTION("default mount") {
        const HostTree tree(bdx2s());
        const HostModel host = tree.discover();
        const CacheResource* l3 = host.cacheResource(Resource::L3);
        REQUIRE(l3);
        CHECK(l3->cbmMask == CbmMask(0xfffff));
        CHECK(l3->shareableBits == CbmMask(0xc0000));
        CHECK(l3->granularity(CacheId{0}) == 2 * kMiB);
        CHECK(host.bandwidthResources.empty());
        CHECK(host.closidBudget() == 15);
        CHECK(host.rmidBudget() == 127);
    }
    SECTION("mounted with cdp: L3CODE and L3DATA with half the CLOSIDs") {
        const HostTree tree(bdx2s(), {.cdp = true});
        const HostModel host = tree.discover();
        CHECK_FALSE(host.cacheResource(Resource::L3));
        const CacheResource* code = host.cacheResource(3, CacheType::Code);
        const CacheResource* data = host.cacheResource(3, CacheType::Data);
        REQUIRE(code);
        REQUIRE(data);
        CHECK(code->resource == Resource::L3Code);
        CHECK(data->resource == Resource::L3Data);
        CHECK(host.cacheResources.size() == 2);
        CHECK(host.cacheResources[0].resource == Resource::L3Code); // resource order
        CHECK(code->numClosids == 8);
        CHECK(domainIds(*data) == cacheIds({0, 1}));
        CHECK(data->granularity(CacheId{1}) == 2 * kMiB);
        CHECK(host.isCdpEnabled(3));
        CHECK_FALSE(host.isCdpEnabled(2));
        CHECK(host.mountOptions == std::vector<std::string>{"cdp"});
        CHECK(host.hasMountOption("cdp"));
        CHECK(host.closidBudget() == 7);
    }
}

TEST_CASE("milan-2s: gapped cache ids, sparse masks and AMD bandwidth units", "[host]") {
    const HostTree tree(milan2s());
    const HostModel host = tree.discover();
    const auto gapped = cacheIds({0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23});
    const CacheResource* l3 = host.cacheResource(Resource::L3);
    REQUIRE(l3);
    CHECK(domainIds(*l3) == gapped);
    CHECK(l3->hasDomain(CacheId{16}));
    CHECK_FALSE(l3->hasDomain(CacheId{8}));
    CHECK(l3->domains.at(CacheId{23}) == 32 * kMiB);
    CHECK(l3->granularity(CacheId{23}) == 2 * kMiB);
    CHECK(l3->minCbmBits == 0);
    CHECK(l3->minimumAllocation(CacheId{0}) == 0);
    CHECK(l3->sparseMasks);
    CHECK(l3->shareableBits.empty());
    CHECK(host.caches.at(3).at(CacheId{16}).cpuList == "64-71,192-199");

    const BandwidthResource* mb = host.bandwidthResource();
    REQUIRE(mb);
    CHECK(mb->unit == BandwidthUnit::EighthGBps);
    CHECK(mb->maxBandwidth == 2048);
    CHECK(mb->minBandwidth == 0);
    CHECK(mb->threadThrottleMode.empty());
    CHECK(mb->domains == gapped);
    CHECK(mb->hasDomain(CacheId{20}));
    CHECK_FALSE(mb->hasDomain(CacheId{8}));
    REQUIRE(host.monitoring);
    CHECK(host.monitoring->domains == gapped);
    CHECK(host.closidBudget() == 15);
    CHECK(host.rmidBudget() == 255);
}

TEST_CASE("modern-intel-l2: L2 CAT per core beside L3, and cdpl2", "[host]") {
    SECTION("default mount") {
        const HostTree tree(modernIntelL2());
        const HostModel host = tree.discover();
        const CacheResource* l2 = host.cacheResource(Resource::L2);
        const CacheResource* l3 = host.cacheResource(Resource::L3);
        REQUIRE(l2);
        REQUIRE(l3);
        CHECK(host.cacheResources.size() == 2);
        CHECK(host.cacheResources[0].resource == Resource::L3);
        CHECK(l2->domains.size() == 48);
        CHECK(l2->hasDomain(CacheId{47}));
        CHECK(l2->granularity(CacheId{47}) == 128 * kKiB);
        CHECK(l3->granularity(CacheId{0}) == 7 * kMiB);
        CHECK(l3->shareableBits == CbmMask(0x6000));
        // min(15 L3, 8 L2, 15 MB) - root
        CHECK(host.closidBudget() == 7);
    }
    SECTION("mounted with cdpl2") {
        const HostTree tree(modernIntelL2(), {.cdpl2 = true});
        const HostModel host = tree.discover();
        CHECK(host.cacheResource(Resource::L3));
        CHECK_FALSE(host.cacheResource(Resource::L2));
        REQUIRE(host.cacheResource(Resource::L2Code));
        CHECK(host.cacheResource(Resource::L2Data)->domains.size() == 48);
        CHECK(host.isCdpEnabled(2));
        CHECK_FALSE(host.isCdpEnabled(3));
        CHECK(host.mountOptions == std::vector<std::string>{"cdpl2"});
        CHECK(host.closidBudget() == 3); // L2CODE/L2DATA have 4 each
    }
}

TEST_CASE("both kernel read formats give the same host", "[host]") {
    for (auto profile : {skx2sL3cat(), milan2s(), modernIntelL2()}) {
        const HostTree modern(profile);
        const HostTree old(profile, {.padded = true});
        INFO(profile.name);
        // Full masks and maximum bandwidths fill the width on some hosts: padding shows only
        // where a value is shorter than the widest (modern-intel-l2: MB " 100" beside 7fff).
        if (profile.name == "modern-intel-l2")
            CHECK(old.rootSchemata() != modern.rootSchemata());
        CHECK(Schemata::parse(old.rootSchemata()) == Schemata::parse(modern.rootSchemata()));
        const HostModel a = modern.discover();
        const HostModel b = old.discover();
        REQUIRE(a.cacheResources.size() == b.cacheResources.size());
        for (std::size_t i = 0; i < a.cacheResources.size(); ++i)
            CHECK(a.cacheResources[i].domains == b.cacheResources[i].domains);
        CHECK(a.bandwidthResources[0].domains == b.bandwidthResources[0].domains);
        CHECK(a.bandwidthResources[0].maxBandwidth == b.bandwidthResources[0].maxBandwidth);
    }
}

TEST_CASE("mount options come from mountinfo and from the tree", "[host]") {
    SECTION("mba_MBps listed in mountinfo: MB values are MiB/s") {
        const HostTree tree(skx2sL3cat(), {.mbaMbps = true});
        const HostModel host = tree.discover();
        CHECK(host.mountOptions == std::vector<std::string>{"mba_MBps"});
        CHECK(host.bandwidthResource()->unit == BandwidthUnit::MiBps);
        CHECK(host.bandwidthResource()->maxBandwidth == std::numeric_limits<std::uint32_t>::max());
    }
    SECTION("not in mountinfo (a plain directory, or a FUSE simulator)") {
        const HostTree tree(bdx2s(), {.cdp = true, .inMountinfo = false});
        const HostModel host = tree.discover();
        CHECK_FALSE(host.mounted);
        CHECK(host.mountOptions == std::vector<std::string>{"cdp"}); // from info/L3CODE
    }
    SECTION("mba_MBps seen from the root's mba_MBps_event file alone") {
        const HostTree tree(skx2sL3cat(), {.mbaMbps = true, .inMountinfo = false});
        const HostModel host = tree.discover();
        CHECK(host.mountOptions == std::vector<std::string>{"mba_MBps"});
        CHECK(host.bandwidthResource()->unit == BandwidthUnit::MiBps);
    }
    SECTION("mba_MBps seen from the root's MB values where kernels before 6.14 show no file") {
        const HostTree tree(skx2sL3cat(), {.mbaMbps = true, .inMountinfo = false});
        tree.remove("mba_MBps_event");
        const HostModel host = tree.discover();
        CHECK(host.mountOptions == std::vector<std::string>{"mba_MBps"});
        CHECK(host.bandwidthResource()->unit == BandwidthUnit::MiBps);
    }
    SECTION("percent values never say mba_MBps, nor do AMD's units") {
        CHECK(HostTree(skx2sL3cat(), {.inMountinfo = false}).discover().mountOptions.empty());
        const HostModel milan = HostTree(milan2s(), {.inMountinfo = false}).discover();
        CHECK(milan.mountOptions.empty());
        CHECK(milan.bandwidthResource()->unit == BandwidthUnit::EighthGBps);
    }
    SECTION("a mount point with a space is found through mountinfo's escapes") {
        const HostTree tree(skx2sL3cat(), {.mbaMbps = true, .resctrlDir = "res ctrl"});
        const HostModel host = tree.discover();
        CHECK(host.mounted);
        CHECK(host.hasMountOption("mba_MBps"));
    }
    SECTION("debug mount: ctrl_hw_id in the root") {
        const HostTree tree(skx2sL3cat(), {.inMountinfo = false});
        tree.write("ctrl_hw_id", "0\n");
        CHECK(tree.discover().mountOptions == std::vector<std::string>{"debug"});
    }
    SECTION("no mountinfo file at all") {
        const HostTree tree(skx2sL3cat());
        HostPaths paths = tree.paths();
        paths.mountinfo = tree.resctrlRoot() / "no-such-mountinfo";
        const HostModel host = HostModel::discover(paths);
        CHECK_FALSE(host.mounted);
        CHECK(host.cacheResource(Resource::L3));
    }
}

TEST_CASE("AMD's bandwidth maximum follows a root value above 2048", "[host]") {
    const HostTree tree(milan2s());
    tree.write("schemata", tree.rootSchemata() + "");
    std::string root = tree.rootSchemata();
    const auto at = root.find("MB:0=2048");
    REQUIRE(at != std::string::npos);
    root.replace(at, 9, "MB:0=4096");
    tree.write("schemata", root);
    CHECK(tree.discover().bandwidthResource()->maxBandwidth == 4096);
}

TEST_CASE("io_alloc takes one more CLOSID", "[host]") {
    const HostTree tree(milan2s());
    tree.write("info/L3/io_alloc", "enabled\n");
    const HostModel host = tree.discover();
    CHECK(host.cacheResource(Resource::L3)->ioAllocEnabled);
    CHECK(host.closidBudget() == 14);
    tree.write("info/L3/io_alloc", "disabled\n");
    CHECK(tree.discover().closidBudget() == 15);
}

TEST_CASE("free CLOSIDs and RMIDs never go below zero", "[host]") {
    const HostTree tree(skx2sL3cat());
    const HostModel host = tree.discover();
    CHECK(host.closidsFree(0) == 7);
    CHECK(host.closidsFree(5) == 2);
    CHECK(host.closidsFree(7) == 0);
    CHECK(host.closidsFree(9) == 0);
    CHECK(host.rmidsFree(0, 0) == 159);
    CHECK(host.rmidsFree(3, 6) == 150);
    CHECK(host.rmidsFree(100, 100) == 0);

    HostModel none; // neither allocation nor monitoring
    CHECK(none.closidBudget() == 0);
    CHECK(none.rmidBudget() == 0);
    CHECK(none.closidsFree(0) == 0);
    CHECK(none.rmidsFree(0, 0) == 0);
    CHECK_FALSE(none.supportsAllocation());
}

TEST_CASE("a monitoring-only host (CMT without CAT or MBA)", "[host]") {
    HostProfile profile = skx2sNoL3cat();
    profile.mb.reset();
    const HostTree tree(profile);
    const HostModel host = tree.discover();
    CHECK_FALSE(host.supportsAllocation());
    CHECK(host.closidBudget() == 0);
    REQUIRE(host.monitoring);
    CHECK(host.rmidBudget() == 159);
}

TEST_CASE("without sysfs cache information sizes are unknown, not invented", "[host]") {
    const HostTree tree(bdx2s());
    HostPaths paths = tree.paths();
    paths.sysfsRoot = tree.resctrlRoot() / "no-sysfs";
    const HostModel host = HostModel::discover(paths);
    const CacheResource* l3 = host.cacheResource(Resource::L3);
    REQUIRE(l3);
    CHECK(domainIds(*l3) == cacheIds({0, 1})); // the ids still come from the root schemata
    CHECK(l3->domains.at(CacheId{0}) == 0);
    CHECK(l3->granularity(CacheId{0}) == 0);
    CHECK(host.caches.empty());
}

TEST_CASE("domain ids fall back to sysfs when the root schemata does not list them", "[host]") {
    const HostTree tree(milan2s());
    tree.write("schemata", "");
    const HostModel host = tree.discover();
    CHECK(host.cacheResource(Resource::L3)->domains.size() == 16);
    CHECK(host.bandwidthResource()->domains.size() == 16);
}

TEST_CASE("discovery errors name the file and what to do", "[host]") {
    SECTION("resctrl not mounted") {
        HostPaths paths;
        paths.resctrlRoot = std::filesystem::temp_directory_path() / "resctrld-no-such-root";
        const std::string message = discoverError(paths);
        CHECK_THAT(message, Catch::Contains("resctrl is not mounted at") &&
                                Catch::Contains("mount -t resctrl resctrl"));
    }
    const HostTree tree(skx2sL3cat());
    SECTION("a malformed mask") {
        tree.write("info/L3/cbm_mask", "seven\n");
        CHECK_THAT(discoverError(tree.paths()),
                   Catch::Contains("info/L3/cbm_mask holds 'seven', expected a hex mask"));
    }
    SECTION("a malformed number") {
        tree.write("info/MB/min_bandwidth", "-10\n");
        CHECK_THAT(discoverError(tree.paths()),
                   Catch::Contains("info/MB/min_bandwidth holds '-10', expected a decimal"));
    }
    SECTION("a malformed root schemata") {
        tree.write("schemata", "    L3:0=zz;1=7ff\n");
        CHECK_THAT(discoverError(tree.paths()), Catch::Contains("'zz' is not a hex mask"));
    }
    SECTION("a malformed sysfs cache size") {
        writeFile(tree.sysfsRoot() / "devices/system/cpu/cpu0/cache/index3/size", "lots\n");
        CHECK_THAT(discoverError(tree.paths()),
                   Catch::Contains("index3/size holds 'lots', expected a size"));
    }
    SECTION("an unreadable info file") {
        std::filesystem::remove(tree.resctrlRoot() / "info/L3/num_closids");
        std::filesystem::create_directory(tree.resctrlRoot() / "info/L3/num_closids");
        CHECK_THAT(discoverError(tree.paths()), Catch::Contains("cannot read"));
    }
}

TEST_CASE("a missing info file that only qualifies a resource takes the kernel's default",
          "[host]") {
    SECTION("MB without delay_linear and thread_throttle_mode: linear, throttled at max") {
        const HostTree tree(skx2sL3cat());
        tree.remove("info/MB/delay_linear");
        tree.remove("info/MB/thread_throttle_mode");
        const HostModel host = tree.discover();
        const BandwidthResource* mb = host.bandwidthResource();
        REQUIRE(mb);
        CHECK(mb->delayLinear);
        CHECK(mb->threadThrottleMode == "max");
        CHECK(mb->unit == BandwidthUnit::Percent);
        CHECK(mb->maxBandwidth == 100);
        CHECK(host.unusableResources.empty());
        CHECK(host.closidBudget() == 7);
    }
    SECTION("AMD's MB without delay_linear: a root value of 2048 is no percentage") {
        const HostTree tree(milan2s());
        tree.remove("info/MB/delay_linear");
        const HostModel host = tree.discover();
        const BandwidthResource* mb = host.bandwidthResource();
        REQUIRE(mb);
        CHECK_FALSE(mb->delayLinear);
        CHECK(mb->threadThrottleMode.empty());
        CHECK(mb->unit == BandwidthUnit::EighthGBps);
        CHECK(mb->maxBandwidth == 2048);
    }
    SECTION("L3 without shareable_bits, sparse_masks and bit_usage") {
        const HostTree tree(skx2sL3cat());
        tree.remove("info/L3/shareable_bits");
        tree.remove("info/L3/sparse_masks");
        tree.remove("info/L3/bit_usage");
        const HostModel host = tree.discover();
        const CacheResource* l3 = host.cacheResource(Resource::L3);
        REQUIRE(l3);
        CHECK(l3->shareableBits.empty());
        CHECK_FALSE(l3->sparseMasks);
        CHECK(l3->bitUsage.empty());
        CHECK(l3->cbmMask == CbmMask(0x7ff));
        CHECK(host.unusableResources.empty());
    }
    SECTION("L3_MON without max_threshold_occupancy") {
        const HostTree tree(skx2sL3cat());
        tree.remove("info/L3_MON/max_threshold_occupancy");
        const HostModel host = tree.discover();
        REQUIRE(host.monitoring);
        CHECK(host.monitoring->maxThresholdOccupancy == 0);
        CHECK(host.rmidBudget() == 159);
    }
}

TEST_CASE("a missing info file that defines a resource leaves that resource alone out", "[host]") {
    const HostTree tree(skx2sL3cat());
    SECTION("MB without min_bandwidth: L3 and monitoring stay, MB's CLOSIDs still count") {
        tree.remove("info/MB/min_bandwidth");
        const HostModel host = tree.discover();
        CHECK_FALSE(host.bandwidthResource());
        REQUIRE(host.cacheResource(Resource::L3));
        CHECK(host.cacheResource(Resource::L3)->numClosids == 16);
        CHECK(host.monitoring);
        REQUIRE(host.unusableResources.size() == 1);
        CHECK_THAT(host.unusableResources[0],
                   Catch::StartsWith("MB: ") &&
                       Catch::Contains("info/MB/min_bandwidth is missing"));
        CHECK(host.closidBudget() == 7);
        CHECK(host.whyUnusable(Resource::MB) == host.unusableResources[0].substr(4));
        CHECK_FALSE(host.whyUnusable(Resource::L3));
    }
    SECTION("MB without num_closids: the budget is L3's") {
        tree.remove("info/MB/num_closids");
        const HostModel host = tree.discover();
        CHECK_FALSE(host.bandwidthResource());
        CHECK(host.closidBudget() == 15);
    }
    SECTION("L3 without cbm_mask: MB and monitoring stay") {
        tree.remove("info/L3/cbm_mask");
        const HostModel host = tree.discover();
        CHECK_FALSE(host.cacheResource(Resource::L3));
        CHECK(host.bandwidthResource());
        CHECK(host.monitoring);
        REQUIRE(host.unusableResources.size() == 1);
        CHECK_THAT(host.unusableResources[0], Catch::Contains("info/L3/cbm_mask is missing"));
        CHECK(host.closidBudget() == 7);
    }
    SECTION("L3_MON without num_rmids: allocation stays, monitoring goes") {
        tree.remove("info/L3_MON/num_rmids");
        const HostModel host = tree.discover();
        CHECK_FALSE(host.monitoring);
        CHECK(host.rmidBudget() == 0);
        CHECK(host.cacheResource(Resource::L3));
        CHECK(host.bandwidthResource());
        CHECK_THAT(host.unusableResources.at(0),
                   Catch::Contains("info/L3_MON/num_rmids is missing"));
    }
    SECTION("L3_MON without mon_features") {
        tree.remove("info/L3_MON/mon_features");
        CHECK_FALSE(tree.discover().monitoring);
    }
}

TEST_CASE("a CDP half whose partner is left out is left out too", "[host]") {
    const HostTree tree(bdx2s(), {.cdp = true});
    tree.remove("info/L3CODE/cbm_mask");
    const HostModel host = tree.discover();
    CHECK(host.cacheResources.empty());
    REQUIRE(host.unusableResources.size() == 2);
    CHECK_THAT(host.unusableResources[0], Catch::Contains("info/L3CODE/cbm_mask is missing"));
    CHECK(host.unusableResources[1] == "L3DATA: its CDP partner L3CODE is left out");
    CHECK(host.monitoring);
}

TEST_CASE("unknown info directories and caches without ids are skipped", "[host]") {
    const HostTree tree(skx2sL3cat());
    tree.write("info/PERF_PKG_MON/num_rmids", "8\n");
    std::filesystem::remove(tree.sysfsRoot() / "devices/system/cpu/cpu0/cache/index3/id");
    const HostModel host = tree.discover();
    CHECK(host.cacheResources.size() == 1);
    CHECK(host.caches.at(3).size() == 2); // cpu1 onwards still name both L3s
}

TEST_CASE("bandwidth units have operator names", "[host]") {
    CHECK(toString(BandwidthUnit::Percent) == "percent");
    CHECK(toString(BandwidthUnit::EighthGBps) == "1/8 GB/s");
    CHECK(toString(BandwidthUnit::MiBps) == "MiB/s");
}

TEST_CASE("gnr-2s-snc3: SNC nodes from mon_sub_L3 and the capacity a way holds per node",
          "[host]") {
    const HostTree tree(gnr2sSnc3());
    const HostModel host = tree.discover();
    REQUIRE(host.monitoring);
    CHECK(host.monitoring->hasSnc());
    CHECK(host.monitoring->nodesPerL3() == 3);
    CHECK(host.monitoring->sncNodes.at(CacheId{1}) == std::vector<unsigned>{3, 4, 5});
    CHECK(host.monitoring->sncNodeIds() == std::vector<unsigned>{0, 1, 2, 3, 4, 5});
    // num_rmids is taken as read: the kernel already divided it by the nodes.
    CHECK(host.rmidBudget() == 169);
    const CacheResource* l3 = host.cacheResource(Resource::L3);
    REQUIRE(l3);
    CHECK(l3->nodesPerCache == 3);
    // 480 MiB / 15 ways = 32 MiB per way for the kernel's size file; a third of it per node.
    CHECK(l3->granularity(CacheId{0}) == (480ULL << 20) / 15 / 3);
    CHECK(l3->sparseMasks);
}

TEST_CASE("a host without SNC has one node per L3 and the whole way", "[host]") {
    const HostTree tree(skx2sL3cat());
    const HostModel host = tree.discover();
    CHECK_FALSE(host.monitoring->hasSnc());
    CHECK(host.monitoring->nodesPerL3() == 1);
    CHECK(host.cacheResource(Resource::L3)->nodesPerCache == 1);
    CHECK(host.cacheResource(Resource::L3)->granularity(CacheId{0}) == 28160ULL * 1024 / 11);
}

TEST_CASE("BMEC event configurations are read per L3 id, and absent where hidden", "[host]") {
    const HostTree tree(milan2s());
    SECTION("read") {
        tree.write("info/L3_MON/mbm_total_bytes_config", "0=0x7f;1=0x33\n");
        tree.write("info/L3_MON/mbm_local_bytes_config", "0=0x15;1=15\n");
        const HostModel host = tree.discover();
        CHECK(host.monitoring->totalBytesConfig ==
              std::map<CacheId, unsigned>{{CacheId{0}, 0x7f}, {CacheId{1}, 0x33}});
        CHECK(host.monitoring->localBytesConfig ==
              std::map<CacheId, unsigned>{{CacheId{0}, 0x15}, {CacheId{1}, 0x15}});
    }
    SECTION("hidden (counter assignment in mbm_event mode)") {
        const HostModel host = tree.discover();
        CHECK(host.monitoring->totalBytesConfig.empty());
        CHECK(host.monitoring->localBytesConfig.empty());
    }
    SECTION("garbage names the file") {
        tree.write("info/L3_MON/mbm_total_bytes_config", "0=zz\n");
        CHECK_THROWS_WITH(tree.discover(), Catch::Contains("mbm_total_bytes_config"));
    }
}

TEST_CASE("SNC is seen in sysfs before mounting: CPUs of CPU 0's L3 over its node's", "[host]") {
    const HostTree tree(gnr2sSnc3()); // 24 CPUs, 12 per L3 (6 cores, 2 threads)
    SECTION("no NUMA nodes in sysfs") {
        CHECK(sncNodesPerL3(tree.sysfsRoot()) == 1);
    }
    SECTION("three nodes per L3") {
        writeFile(tree.sysfsRoot() / "devices/system/node/node0/cpulist", "0-1,12-13\n");
        writeFile(tree.sysfsRoot() / "devices/system/node/node1/cpulist", "2-3,14-15\n");
        writeFile(tree.sysfsRoot() / "devices/system/node/possible", "0-5\n");
        CHECK(sncNodesPerL3(tree.sysfsRoot()) == 3);
    }
    SECTION("one node per socket") {
        writeFile(tree.sysfsRoot() / "devices/system/node/node0/cpulist", "0-5,12-17\n");
        CHECK(sncNodesPerL3(tree.sysfsRoot()) == 1);
    }
}
