// SPDX-License-Identifier: LGPL-2.1-or-later
// GetCapabilities' text (docs/definitions.md appendix §6.0) on the machines of
// shared/hosts/README.md.
#include <catch2/catch.hpp>

#include "capabilities.h"
#include "host_fixture.h"

using namespace resctrld;
using namespace resctrld::test;

TEST_CASE("prettySize picks the largest unit that divides exactly", "[capabilities]") {
    CHECK(prettySize(0).value == 0);
    CHECK(std::string(prettySize(0).unit) == "B");
    CHECK(prettySize(1000).value == 1000);
    CHECK(std::string(prettySize(1000).unit) == "B");
    CHECK(prettySize(28160ull * 1024).value == 28160);
    CHECK(std::string(prettySize(28160ull * 1024).unit) == "KiB");
    CHECK(prettySize(15ull << 20).value == 15);
    CHECK(std::string(prettySize(15ull << 20).unit) == "MiB");
    CHECK(std::string(prettySize(2ull << 30).unit) == "GiB");
}

TEST_CASE("skx-2s-l3cat: L3 banks with controls, cache and bandwidth monitors, MB nodes",
          "[capabilities]") {
    const HostTree tree(skx2sL3cat());
    const HostModel host = tree.discover();
    REQUIRE(host.monitoring);
    const std::string threshold = std::to_string(host.monitoring->maxThresholdOccupancy);
    // Each core's 1 MiB L2 comes first (by level, then id), without controls: no L2 CAT here.
    std::string l2Banks;
    for (unsigned core = 0; core < 40; ++core)
        l2Banks += "  <bank id='" + std::to_string(core) +
                   "' level='2' type='both' size='1' unit='MiB' cpus='" + std::to_string(core) +
                   "," + std::to_string(core + 40) + "'/>\n";
    // 27.5 MiB banks print as KiB; 11 ways give 2.5 MiB = 2560 KiB; min_cbm_bits 1 prints no min.
    CHECK(formatCapabilities(host) ==
          "<cache>\n" + l2Banks +
              "  <bank id='0' level='3' type='both' size='28160' unit='KiB' cpus='0-19,40-59'>\n"
              "    <control granularity='2560' unit='KiB' type='both' maxAllocs='16'/>\n"
              "  </bank>\n"
              "  <bank id='1' level='3' type='both' size='28160' unit='KiB' cpus='20-39,60-79'>\n"
              "    <control granularity='2560' unit='KiB' type='both' maxAllocs='16'/>\n"
              "  </bank>\n"
              "  <monitor level='3' reuseThreshold='" +
              threshold +
              "' maxMonitors='160'>\n"
              "    <feature name='llc_occupancy'/>\n"
              "  </monitor>\n"
              "</cache>\n"
              "<memory_bandwidth>\n"
              "  <node id='0' cpus='0-19,40-59'>\n"
              "    <control granularity='10' min='10' maxAllocs='8'/>\n"
              "  </node>\n"
              "  <node id='1' cpus='20-39,60-79'>\n"
              "    <control granularity='10' min='10' maxAllocs='8'/>\n"
              "  </node>\n"
              "  <monitor maxMonitors='160'>\n"
              "    <feature name='mbm_total_bytes'/>\n"
              "    <feature name='mbm_local_bytes'/>\n"
              "  </monitor>\n"
              "</memory_bandwidth>\n");
}

TEST_CASE("modern-intel-l2: L2 banks with their L2 CAT controls, before the L3 bank",
          "[capabilities]") {
    SECTION("default mount") {
        const HostTree tree(modernIntelL2());
        const std::string text = formatCapabilities(tree.discover());
        // 2 MiB per core over 16 ways: 128 KiB granules; L2 has 8 CLOSIDs.
        const std::string firstL2 = "  <bank id='0' level='2' type='both' size='2' unit='MiB' "
                                    "cpus='0,48'>\n"
                                    "    <control granularity='128' unit='KiB' type='both' "
                                    "maxAllocs='8'/>\n"
                                    "  </bank>\n";
        CHECK_THAT(text, Catch::StartsWith("<cache>\n" + firstL2));
        CHECK_THAT(text, Catch::Contains("  <bank id='47' level='2' type='both' size='2' "
                                         "unit='MiB' cpus='47,95'>\n"
                                         "    <control granularity='128' unit='KiB' "
                                         "type='both' maxAllocs='8'/>\n"));
        CHECK_THAT(text, Catch::Contains("  </bank>\n"
                                         "  <bank id='0' level='3' type='both' size='105' "
                                         "unit='MiB' cpus='0-95'>\n"
                                         "    <control granularity='7' unit='MiB' type='both' "
                                         "maxAllocs='15'/>\n"));
        CHECK_THAT(text, !Catch::Contains("level='1'"));
    }
    SECTION("mounted with cdpl2: a code and a data control per L2 bank") {
        const HostTree tree(modernIntelL2(), {.cdpl2 = true});
        CHECK_THAT(formatCapabilities(tree.discover()),
                   Catch::Contains("<bank id='5' level='2' type='both' size='2' unit='MiB' "
                                   "cpus='5,53'>\n"
                                   "    <control granularity='128' unit='KiB' type='code' "
                                   "maxAllocs='4'/>\n"
                                   "    <control granularity='128' unit='KiB' type='data' "
                                   "maxAllocs='4'/>\n"
                                   "  </bank>\n"));
    }
}

TEST_CASE("skx-2s-no-l3cat: banks without controls", "[capabilities]") {
    const HostTree tree(skx2sNoL3cat());
    const std::string text = formatCapabilities(tree.discover());
    CHECK_THAT(text, Catch::Contains("<bank id='0' level='3' type='both' size='28160' "
                                     "unit='KiB' cpus='0-19,40-59'/>\n"));
    CHECK_THAT(text, !Catch::Contains("<control granularity='2560'"));
    CHECK_THAT(text, Catch::Contains("<node id='1' cpus='20-39,60-79'>"));
}

TEST_CASE("min is printed when min_cbm_bits > 1, in granularity's smaller unit", "[capabilities]") {
    HostProfile profile = skx2sL3cat();
    profile.cat.at(0).minCbmBits = 2;
    const HostTree tree(profile);
    // 2 x 2.5 MiB = 5 MiB, printed in KiB like the granularity (libvirt's normalisation).
    CHECK_THAT(formatCapabilities(tree.discover()),
               Catch::Contains("<control granularity='2560' min='5120' unit='KiB' type='both' "
                               "maxAllocs='16'/>"));
}

TEST_CASE("monitor features are filtered by prefix; none means no monitor element",
          "[capabilities]") {
    HostProfile profile = skx2sL3cat();
    SECTION("unknown llc_/mbm_ names are listed, others dropped") {
        profile.mon->features = {"llc_occupancy", "llc_new_feature", "mbm_total_bytes",
                                 "ukn_feature"};
        const HostTree tree(profile);
        const std::string text = formatCapabilities(tree.discover());
        CHECK_THAT(text, Catch::Contains("<feature name='llc_new_feature'/>"));
        CHECK_THAT(text, Catch::Contains("<feature name='mbm_total_bytes'/>"));
        CHECK_THAT(text, !Catch::Contains("ukn_feature"));
    }
    SECTION("without monitoring there are no monitor elements") {
        profile.mon.reset();
        const HostTree tree(profile);
        CHECK_THAT(formatCapabilities(tree.discover()), !Catch::Contains("<monitor"));
    }
}

TEST_CASE("BMEC: the events each MBM feature counts are shown per L3 id", "[capabilities]") {
    const HostTree tree(milan2s());
    tree.write("info/L3_MON/mbm_total_bytes_config", "0=0x7f;1=0x33\n");
    tree.write("info/L3_MON/mbm_local_bytes_config", "0=0x15;1=0x15\n");
    const std::string text = formatCapabilities(tree.discover());
    CHECK_THAT(text, Catch::Contains("<feature name='mbm_total_bytes' events='0=0x7f;1=0x33'/>"));
    CHECK_THAT(text, Catch::Contains("<feature name='mbm_local_bytes' events='0=0x15;1=0x15'/>"));
}

TEST_CASE("SNC: the L3 granularity is what a way holds per node", "[capabilities]") {
    const HostTree tree(gnr2sSnc3());
    // 480 MiB / 15 ways / 3 nodes = 10.67 MiB: whole bytes, rounded down.
    CHECK_THAT(formatCapabilities(tree.discover()),
               Catch::Contains("<control granularity='11184810' unit='B' type='both'"));
}
