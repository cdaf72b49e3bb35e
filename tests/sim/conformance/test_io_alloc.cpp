// SPDX-License-Identifier: LGPL-2.1-or-later
// docs/kernel.md §10 behaviours 32-36: io_alloc (AMD SDCIAE) reserves the highest CLOSID
// for I/O and gives it an L3 mask, on the turin-2s host and on hosts described by profile
// files.
#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>

#include "test_support.h"

using namespace resctrld::simtest;
namespace fs = std::filesystem;

namespace {

const SimOptions kTurin{"turin-2s", "6.19", "", false};

// "0=v;1=v;...;31=v\n": 6.19 has no "*=" shorthand for every domain.
std::string sameEverywhere(const ProfileFacts& facts, const std::string& value) {
    std::string s;
    for (unsigned id : facts.l3Ids)
        s += (s.empty() ? "" : ";") + std::to_string(id) + "=" + value;
    return s + "\n";
}

// An AMD-like host with io_alloc whose MB has fewer CLOSIDs than its L3, and an L2 CAT.
const char* const kSmallMbHost = R"([host]
name = io-small-mb
cpus = 16
threads_per_core = 2
cores_per_l3 = 8
l3_ids = 0
[L3]
num_closids = 16
cbm_mask = ffff
min_cbm_bits = 0
shareable_bits = 0
sparse_masks = true
io_alloc = true
[L2]
num_closids = 16
cbm_mask = ff
[MB]
num_closids = 8
min_bandwidth = 0
bandwidth_gran = 1
delay_linear = false
max_bandwidth = 2048
thread_throttle_mode =
data_width = 4
[L3_MON]
num_rmids = 64
)";

mode_t modeOf(const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

} // namespace

TEST_CASE("b32: enabling io_alloc reserves the highest CLOSID, one group fewer",
          "[sim][ioalloc][b32]") {
    SECTION("without CDP: CLOSID 15, 14 groups") {
        SimInstance sim(kTurin);
        const auto io = sim.at("info/L3/io_alloc");
        REQUIRE(writeFile(io, "1") == 0);
        CHECK(readFile(io) == "enabled\n");
        for (int i = 1; i <= 14; ++i)
            REQUIRE(makeDir(sim.at("g" + std::to_string(i))) == 0);
        CHECK(makeDir(sim.at("g15")) == ENOSPC);
        CHECK_STATUS(sim, "Out of CLOSIDs\n");
        REQUIRE(writeFile(io, "0\n") == 0);
        CHECK(readFile(io) == "disabled\n");
        REQUIRE(makeDir(sim.at("g15")) == 0);
        CHECK(writeFile(io, "on\n") == ENOSPC);
        CHECK_STATUS(sim, "CLOSID (ctrl_hw_id) 15 for io_alloc is used by g15 group\n");
        CHECK(readFile(io) == "disabled\n");
    }
    SECTION("with CDP: CLOSID 7 of the halved range, 6 groups") {
        SimInstance sim({"turin-2s", "6.19", "cdp", false});
        REQUIRE(writeFile(sim.at("info/L3DATA/io_alloc"), "y\n") == 0);
        CHECK(readFile(sim.at("info/L3CODE/io_alloc")) == "enabled\n");
        for (int i = 1; i <= 6; ++i)
            REQUIRE(makeDir(sim.at("g" + std::to_string(i))) == 0);
        CHECK(makeDir(sim.at("g7")) == ENOSPC);
        REQUIRE(writeFile(sim.at("info/L3CODE/io_alloc"), "n\n") == 0);
        REQUIRE(makeDir(sim.at("g7")) == 0);
        CHECK(writeFile(sim.at("info/L3CODE/io_alloc"), "1\n") == ENOSPC);
        CHECK_STATUS(sim, "CLOSID (ctrl_hw_id) 7 for io_alloc is used by g7 group\n");
    }
    SECTION("refused when another resource has fewer CLOSIDs") {
        ProfileFile host(kSmallMbHost);
        SimInstance sim({host.path(), "6.19", "", false});
        CHECK(writeFile(sim.at("info/L3/io_alloc"), "1\n") == EINVAL);
        CHECK_STATUS(sim, "io_alloc CLOSID (ctrl_hw_id) 15 is not available\n");
        CHECK(readFile(sim.at("info/L3/io_alloc")) == "disabled\n");
    }
}

TEST_CASE("b33: io_alloc files are in every cache info directory of a capable host from 6.19",
          "[sim][ioalloc][b33]") {
    SECTION("turin-2s on 6.19") {
        SimInstance sim(kTurin);
        CHECK(modeOf(sim.at("info/L3/io_alloc")) == 0644);
        CHECK(modeOf(sim.at("info/L3/io_alloc_cbm")) == 0644);
        CHECK(readFile(sim.at("info/L3/io_alloc")) == "disabled\n");
        std::string out;
        CHECK(readFile(sim.at("info/L3/io_alloc_cbm"), out) == EINVAL);
        CHECK_STATUS(sim, "io_alloc is not enabled on L3\n");
        CHECK(writeFile(sim.at("info/L3/io_alloc_cbm"), "0=f\n") == EINVAL);
        CHECK_STATUS(sim, "io_alloc is not enabled on L3\n");
        // Reading io_alloc leaves the status alone; garbage is refused before it is cleared.
        provokeStatus(sim);
        CHECK(readFile(sim.at("info/L3/io_alloc")) == "disabled\n");
        CHECK(writeFile(sim.at("info/L3/io_alloc"), "maybe\n") == EINVAL);
        CHECK_STATUS(sim, kProvokedStatus);
        CHECK(writeFile(sim.at("info/L3/io_alloc"), "0\n") == 0);
        CHECK_STATUS(sim, "ok\n");
    }
    SECTION("L2 directories read not supported and refuse with ENODEV") {
        ProfileFile host(kSmallMbHost);
        SimInstance sim({host.path(), "6.19", "", false});
        CHECK(readFile(sim.at("info/L2/io_alloc")) == "not supported\n");
        CHECK(writeFile(sim.at("info/L2/io_alloc"), "1\n") == ENODEV);
        CHECK_STATUS(sim, "io_alloc is not supported on L2\n");
        std::string out;
        CHECK(readFile(sim.at("info/L2/io_alloc_cbm"), out) == ENODEV);
        CHECK_STATUS(sim, "io_alloc is not supported on L2\n");
    }
    SECTION("absent before 6.19 and on hosts without the capability") {
        for (const SimOptions& o :
             {SimOptions{"turin-2s", "6.18", "", false}, SimOptions{"turin-2s", "6.15", "", false},
              SimOptions{"milan-2s", "6.19", "", false}}) {
            INFO(o.describe());
            SimInstance sim(o);
            CHECK_FALSE(pathExists(sim.at("info/L3/io_alloc")));
            CHECK_FALSE(pathExists(sim.at("info/L3/io_alloc_cbm")));
        }
    }
}

TEST_CASE("b34: io_alloc_cbm writes are validated like a shareable group's masks, all or "
          "nothing",
          "[sim][ioalloc][b34]") {
    SECTION("without CDP") {
        SimInstance sim(kTurin);
        const auto& facts = profileFacts("turin-2s");
        const auto cbm = sim.at("info/L3/io_alloc_cbm");
        REQUIRE(writeFile(sim.at("info/L3/io_alloc"), "1\n") == 0);
        CHECK(readFile(cbm) == sameEverywhere(facts, "ffff"));

        REQUIRE(writeFile(cbm, sameEverywhere(facts, "ff")) == 0);
        CHECK(readFile(cbm) == sameEverywhere(facts, "ff"));
        REQUIRE(writeFile(cbm, "0=f0f;31= 3 \n") == 0); // sparse masks are fine on AMD
        CHECK(readFile(cbm).rfind("0=f0f;1=ff;", 0) == 0);
        CHECK(readFile(cbm).find(";31=3\n") != std::string::npos);

        provokeStatus(sim);
        CHECK(writeFile(cbm, "0=f") == EINVAL);
        CHECK_STATUS(sim, kProvokedStatus);
        // "*" for every domain came after 6.19: here it is not a domain number.
        CHECK(writeFile(cbm, "*=f\n") == EINVAL);
        CHECK_STATUS(sim, "Missing '=' or non-numeric domain\n");
        CHECK(writeFile(cbm, "L3:0=ff\n") == EINVAL);
        CHECK_STATUS(sim, "Missing '=' or non-numeric domain\n");
        CHECK(writeFile(cbm, "0ff\n") == EINVAL);
        CHECK_STATUS(sim, "Missing '=' or non-numeric domain\n");
        CHECK(writeFile(cbm, "0=f;0=f\n") == EINVAL);
        CHECK_STATUS(sim, "Duplicate domain 0\n");
        CHECK(writeFile(cbm, "0=g\n") == EINVAL);
        CHECK_STATUS(sim, "Non-hex character in the mask g\n");
        CHECK(writeFile(cbm, "0=1ffff\n") == EINVAL);
        CHECK_STATUS(sim, "Mask out of range\n");
        // An unknown domain fails without a message on 6.19.
        CHECK(writeFile(cbm, "99=f\n") == EINVAL);
        CHECK_STATUS(sim, "ok\n");
        // Nothing of a failed write is applied.
        CHECK(writeFile(cbm, "0=3;1=zz\n") == EINVAL);
        CHECK(readFile(cbm).rfind("0=f0f;1=ff;", 0) == 0);
        // Overlap with ordinary (shareable) groups is allowed.
        REQUIRE(makeDir(sim.at("g")) == 0);
        REQUIRE(writeFile(cbm, "1=ffff\n") == 0);
    }
    SECTION("with CDP both halves show the same mask") {
        SimInstance sim({"turin-2s", "6.19", "cdp", false});
        const auto& facts = profileFacts("turin-2s");
        REQUIRE(writeFile(sim.at("info/L3CODE/io_alloc"), "1\n") == 0);
        REQUIRE(writeFile(sim.at("info/L3CODE/io_alloc_cbm"), sameEverywhere(facts, "f0")) == 0);
        CHECK(readFile(sim.at("info/L3DATA/io_alloc_cbm")) == sameEverywhere(facts, "f0"));
        REQUIRE(writeFile(sim.at("info/L3DATA/io_alloc_cbm"), sameEverywhere(facts, "3c")) == 0);
        CHECK(readFile(sim.at("info/L3CODE/io_alloc_cbm")) == sameEverywhere(facts, "3c"));
    }
}

TEST_CASE("b35/b36: the I/O mask starts as a new group's default, shows as H/X in bit_usage "
          "and never overlaps an exclusive group",
          "[sim][ioalloc][b35][b36]") {
    SimInstance sim(kTurin);
    const auto& facts = profileFacts("turin-2s");
    // The root gives up every way; g1 takes the low byte exclusively.
    REQUIRE(writeFile(sim.at("schemata"), l3AllLine(facts, 0)) == 0);
    REQUIRE(makeDir(sim.at("g1")) == 0);
    REQUIRE(writeFile(sim.at("g1/schemata"), l3AllLine(facts, 0xff)) == 0);
    REQUIRE(writeFile(sim.at("g1/mode"), "exclusive\n") == 0);

    // Default: shareable groups' masks (none) plus unused ways: the high byte.
    REQUIRE(writeFile(sim.at("info/L3/io_alloc"), "1\n") == 0);
    CHECK(readFile(sim.at("info/L3/io_alloc_cbm")) == sameEverywhere(facts, "ff00"));
    CHECK(readFile(sim.at("info/L3/bit_usage")) == sameEverywhere(facts, "HHHHHHHHEEEEEEEE"));

    CHECK(writeFile(sim.at("info/L3/io_alloc_cbm"), "0=1ff\n") == EINVAL);
    CHECK_STATUS(sim, "Overlaps with exclusive group\n");
    CHECK(writeFile(sim.at("g1/schemata"), "L3:0=1ff\n") == EINVAL);
    CHECK_STATUS(sim, "Overlaps with other group\n");

    // A new group is not offered the I/O ways; a shareable group may overlap them, but then
    // cannot become exclusive.
    REQUIRE(makeDir(sim.at("g2")) == 0);
    CHECK(readFile(sim.at("g2/schemata")).find("    L3:0=0;1=0;") != std::string::npos);
    REQUIRE(writeFile(sim.at("g2/schemata"), "L3:0=f00\n") == 0);
    CHECK(readFile(sim.at("info/L3/bit_usage")).rfind("0=HHHHXXXXEEEEEEEE;1=HHHHHHHHEEEEEEEE", 0) ==
          0);
    CHECK(writeFile(sim.at("g2/mode"), "exclusive\n") == EINVAL);
    CHECK_STATUS(sim, "Schemata overlaps\n");

    // Disabled, the ways are free again: a new group's default takes them.
    REQUIRE(writeFile(sim.at("info/L3/io_alloc"), "0\n") == 0);
    CHECK(readFile(sim.at("info/L3/bit_usage")).rfind("0=0000SSSSEEEEEEEE;1=00000000EEEEEEEE", 0) ==
          0);
    REQUIRE(makeDir(sim.at("g3")) == 0);
    CHECK(readFile(sim.at("g3/schemata")).find("    L3:0=ff00;1=ff00;") != std::string::npos);
}
