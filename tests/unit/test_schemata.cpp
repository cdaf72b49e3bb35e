// SPDX-License-Identifier: LGPL-2.1-or-later
#include <catch2/catch.hpp>

#include "cbm_mask.h"
#include "errors.h"
#include "resource.h"
#include "schemata.h"

using namespace resctrld;

namespace {

std::string parseError(std::string_view text) {
    try {
        Schemata::parse(text);
    } catch (const ResctrlUnavailable& error) {
        return error.what();
    }
    return "no error";
}

} // namespace

TEST_CASE("resource names round-trip and say what they hold", "[schemata]") {
    for (Resource resource : kAllResources)
        CHECK(parseResourceName(resourceName(resource)) == resource);
    CHECK(resourceName(Resource::L3Code) == "L3CODE");
    CHECK(resourceName(Resource::L2Data) == "L2DATA");
    CHECK_FALSE(parseResourceName("l3"));
    CHECK_FALSE(parseResourceName("L3_MON"));
    CHECK(isCacheResource(Resource::L2Code));
    CHECK_FALSE(isCacheResource(Resource::MB));
    CHECK_FALSE(isCacheResource(Resource::SMBA));
    CHECK(cacheLevel(Resource::L3Data) == 3);
    CHECK(cacheLevel(Resource::L2) == 2);
    CHECK(cacheLevel(Resource::MB) == 0);
    CHECK(cacheType(Resource::L3Code) == CacheType::Code);
    CHECK(cacheType(Resource::L2Data) == CacheType::Data);
    CHECK(cacheType(Resource::L3) == CacheType::Both);
    CHECK(cacheResource(3, CacheType::Data) == Resource::L3Data);
    CHECK(cacheResource(2, CacheType::Both) == Resource::L2);
    CHECK_FALSE(cacheResource(1, CacheType::Both));
    CHECK(cdpPeer(Resource::L3Code) == Resource::L3Data);
    CHECK(cdpPeer(Resource::L2Data) == Resource::L2Code);
    CHECK(cdpPeer(Resource::L3) == Resource::L3);
}

TEST_CASE("CbmMask parses, formats and measures runs of ways", "[schemata][cbm]") {
    CHECK(CbmMask::parseHex("7ff") == CbmMask(0x7ff));
    CHECK(CbmMask::parseHex("0x7FF") == CbmMask(0x7ff));
    CHECK(CbmMask::parseHex("0000f") == CbmMask(0xf));
    CHECK(CbmMask::parseHex("0") == CbmMask());
    CHECK(CbmMask::parseHex("ffffffffffffffff") == CbmMask(~0ULL));
    CHECK(CbmMask::parseHex("000000000000000000ff") == CbmMask(0xff));
    CHECK_FALSE(CbmMask::parseHex(""));
    CHECK_FALSE(CbmMask::parseHex("0x"));
    CHECK_FALSE(CbmMask::parseHex("7fg"));
    CHECK_FALSE(CbmMask::parseHex("-1"));
    CHECK_FALSE(CbmMask::parseHex(" 7"));
    CHECK_FALSE(CbmMask::parseHex("1ffffffffffffffff")); // 65 bits

    CHECK(CbmMask(0x7ff).toHex() == "7ff");
    CHECK(CbmMask().toHex() == "0");
    CHECK(CbmMask(0xc0000).toHex() == "c0000");

    CHECK(CbmMask::fromRun(4, 3) == CbmMask(0x70));
    CHECK(CbmMask::fromRun(0, 64) == CbmMask(~0ULL));
    CHECK(CbmMask::fromRun(3, 0).empty());

    CHECK(CbmMask(0x70f).count() == 7);
    CHECK(CbmMask(0x0f0).isContiguous());
    CHECK(CbmMask().isContiguous());
    CHECK_FALSE(CbmMask(0xf7).isContiguous());
    CHECK(CbmMask(0x70f).runs() == std::vector<CbmMask::Run>{{0, 4}, {8, 3}});
    CHECK(CbmMask(0x70f).largestRun() == CbmMask::Run{0, 4});
    CHECK(CbmMask(0xe7).largestRun() == CbmMask::Run{0, 3}); // ties: the lowest
    CHECK(CbmMask().largestRun() == CbmMask::Run{0, 0});
    CHECK(CbmMask(0x70f).without(CbmMask(0x3)) == CbmMask(0x70c));
    CHECK(CbmMask(0x70f).overlaps(CbmMask(0x100)));
    CHECK_FALSE(CbmMask(0x70f).overlaps(CbmMask(0x0f0)));
    CHECK(CbmMask(0x70f).contains(CbmMask(0x300)));
    CHECK_FALSE(CbmMask(0x70f).contains(CbmMask(0x0f8)));
    CHECK(CbmMask(0x70f).test(8));
    CHECK_FALSE(CbmMask(0x70f).test(4));
    CHECK_FALSE(CbmMask(0x70f).test(200));
}

TEST_CASE("schemata of every kernel read format compare equal", "[schemata]") {
    // >= 6.15: unpadded values; names right-aligned to 6 on CDP-capable hosts; reverse order.
    const Schemata modern = Schemata::parse("    MB:0=100;1=50\n    L3:0=7ff;1=00f\n");
    // <= 6.14: masks zero-padded, MB values space-padded to the widest data width (§4.6).
    const Schemata padded = Schemata::parse("    MB:0=100;1= 50\n    L3:0=7ff;1=00f\n");
    // <= 5.12: resource order, and what resctrld writes: no padding at all.
    const Schemata written = Schemata::parse("L3:0=7ff;1=f\nMB:0=100;1=50\n");
    CHECK(modern == padded);
    CHECK(modern == written);
    CHECK(modern.mask(Resource::L3, CacheId{1}) == CbmMask(0xf));
    CHECK(modern.bandwidth(Resource::MB, CacheId{1}) == 50U);
    CHECK_FALSE(modern.mask(Resource::L3, CacheId{2}));
    CHECK_FALSE(modern.bandwidth(Resource::SMBA, CacheId{0}));
    CHECK(modern != Schemata::parse("L3:0=7ff;1=1f\nMB:0=100;1=50\n"));
}

TEST_CASE("schemata parse AMD, CDP and L2 lines with gapped ids", "[schemata]") {
    // AMD EPYC, kernel <= 6.14: 16-bit masks padded to 4 digits, MB padded to 4 (§4.6).
    const Schemata amd = Schemata::parse("  SMBA:0=2048;16=2048\n    MB:0=  16;16=2048\n"
                                         "    L3:0=00ff;1=ffff;2=ffff;3=ffff;4=ffff;5=ffff;6=ffff;"
                                         "7=ffff;16=ff00;17=ffff;18=ffff;19=ffff;20=ffff;21=ffff;"
                                         "22=ffff;23=ffff\n");
    CHECK(amd.masks(Resource::L3).size() == 16);
    CHECK(amd.mask(Resource::L3, CacheId{16}) == CbmMask(0xff00));
    CHECK_FALSE(amd.mask(Resource::L3, CacheId{8}));
    CHECK(amd.bandwidth(Resource::MB, CacheId{0}) == 16U);
    CHECK(amd.bandwidth(Resource::SMBA, CacheId{16}) == 2048U);
    CHECK(amd.resources() == std::vector<Resource>{Resource::L3, Resource::MB, Resource::SMBA});

    const Schemata cdp = Schemata::parse("L2DATA:0=ff;1=ff\nL2CODE:0=f;1=f\nL3DATA:0=fffff\n"
                                         "L3CODE:0=00ffc\n");
    CHECK(cdp.mask(Resource::L3Code, CacheId{0}) == CbmMask(0xffc));
    CHECK(cdp.mask(Resource::L3Data, CacheId{0}) == CbmMask(0xfffff));
    CHECK(cdp.mask(Resource::L2Code, CacheId{1}) == CbmMask(0xf));
    CHECK(cdp.mask(Resource::L2Data, CacheId{1}) == CbmMask(0xff));
    CHECK_FALSE(cdp.has(Resource::L3));
    CHECK(cdp.format() == "L3CODE:0=ffc\nL3DATA:0=fffff\nL2CODE:0=f;1=f\nL2DATA:0=ff;1=ff\n");
}

TEST_CASE("schemata parsing tolerates what kernels and people write", "[schemata]") {
    const Schemata expected = Schemata::parse("L3:0=3;1=7ff\n");
    CHECK(Schemata::parse("L3:0=0x3;1=0x7ff\n") == expected); // "0x" is accepted (§4.1)
    CHECK(Schemata::parse("L3:0=3;1=7ff;\n") == expected);    // trailing ';'
    CHECK(Schemata::parse("L3:0=3;1=7ff") == expected);       // no final newline
    CHECK(Schemata::parse("\n L3 : 0 = 3 ; 1 = 7ff \r\n\n") == expected);
    CHECK(Schemata::parse("L3:0=3\nL3:1=7ff\n") == expected); // one line per domain
    // Resources this version does not know are skipped (newer kernels may add some).
    CHECK(Schemata::parse("L3:0=3;1=7ff\nIO_ALLOC:0=zz\n") == expected);
    // A foreign group in pseudo-locksetup holds nothing yet (§4.6).
    CHECK(Schemata::parse("L3:uninitialized\nMB:uninitialized\n").empty());
    CHECK(Schemata::parse("").empty());
}

TEST_CASE("malformed schemata are refused naming the line", "[schemata]") {
    CHECK_THAT(parseError("L3:0=3\nL3 0=3\n"),
               Catch::Contains("line 2 'L3 0=3'") && Catch::Contains("no ':'"));
    CHECK_THAT(parseError("L3:\n"), Catch::Contains("no domains"));
    // A ';' alone is no domain either (found by fuzz-schemata: "    MB:;" parsed as no MB line).
    CHECK_THAT(parseError("    MB:;\n"),
               Catch::Contains("line 1 'MB:;'") && Catch::Contains("no domains"));
    CHECK_THAT(parseError("L3:0=3\nL3DATA: ; \n"),
               Catch::Contains("line 2") && Catch::Contains("no domains"));
    CHECK_THAT(parseError("L3:0\n"), Catch::Contains("has no '='"));
    CHECK_THAT(parseError("L3:x=3\n"), Catch::Contains("domain id 'x' is not a number"));
    CHECK_THAT(parseError("L3:-1=3\n"), Catch::Contains("domain id '-1' is not a number"));
    CHECK_THAT(parseError("L3:0=3g\n"), Catch::Contains("'3g' is not a hex mask"));
    CHECK_THAT(parseError("L3:0=\n"), Catch::Contains("'' is not a hex mask"));
    CHECK_THAT(parseError("L3:0=1ffffffffffffffff\n"), Catch::Contains("is not a hex mask"));
    CHECK_THAT(parseError("MB:0=5a\n"), Catch::Contains("'5a' is not a decimal bandwidth"));
    CHECK_THAT(parseError("MB:0=4294967296\n"), Catch::Contains("is not a decimal bandwidth"));
    CHECK_THAT(parseError("MB:0=0x10\n"), Catch::Contains("is not a decimal bandwidth"));
    CHECK_THAT(parseError("L3:0=3;0=7\n"), Catch::Contains("domain 0 appears twice"));
    CHECK_THAT(parseError("L3:0=3\nL3:0=7\n"), Catch::Contains("domain 0 appears twice"));
    CHECK_THAT(parseError("L3:0=3;;1=7\n"), Catch::Contains("empty entry"));
    // The error type is the one the daemon reports for a resctrl it cannot use.
    CHECK_THROWS_AS(Schemata::parse("L3\n"), ResctrlUnavailable);
}

TEST_CASE("schemata format for writing and in the kernel's read layouts", "[schemata]") {
    Schemata schemata;
    schemata.setBandwidth(Resource::MB, CacheId{1}, 50);
    schemata.setMask(Resource::L3, CacheId{1}, CbmMask(0xf));
    schemata.setBandwidth(Resource::MB, CacheId{0}, 100);
    schemata.setMask(Resource::L3, CacheId{0}, CbmMask(0x7ff));
    CHECK(schemata.format() == "L3:0=7ff;1=f\nMB:0=100;1=50\n");
    CHECK(schemata.formatLine(Resource::MB) == "MB:0=100;1=50\n");
    CHECK(schemata.formatLine(Resource::L2).empty());

    const SchemataFormat kernel614{6, 3, true};
    const std::string text614 = "    MB:0=100;1= 50\n    L3:0=7ff;1=00f\n";
    CHECK(schemata.format(kernel614) == text614);
    CHECK(Schemata::parse(text614) == schemata);
    const SchemataFormat kernel615{6, 0, true};
    CHECK(schemata.format(kernel615) == "    MB:0=100;1=50\n    L3:0=7ff;1=f\n");
    CHECK(Schemata::parse(schemata.format(kernel615)) == schemata);
}

TEST_CASE("schemata accessors and merge", "[schemata]") {
    Schemata base = Schemata::parse("L3:0=7ff;1=7ff\nMB:0=100;1=100\n");
    CHECK(base.has(Resource::L3));
    CHECK_FALSE(base.has(Resource::L2));
    CHECK(base.masks(Resource::L2).empty());
    CHECK(base.bandwidths(Resource::SMBA).empty());
    CHECK(base.bandwidths(Resource::MB).size() == 2);
    CHECK_FALSE(base.empty());

    Schemata over;
    over.setMask(Resource::L3, CacheId{1}, CbmMask(0x3));
    over.setBandwidth(Resource::MB, CacheId{0}, 40);
    over.setMask(Resource::L2, CacheId{5}, CbmMask(0xf0));
    base.merge(over);
    CHECK(base.format() == "L3:0=7ff;1=3\nL2:5=f0\nMB:0=40;1=100\n");
    CHECK(base.resources() == std::vector<Resource>{Resource::L3, Resource::L2, Resource::MB});
}
