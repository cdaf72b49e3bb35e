// SPDX-License-Identifier: LGPL-2.1-or-later
// docs/kernel.md §10 behaviours 1-6 (schemata writes, validation, read format, new-group defaults).
#include <cerrno>
#include <fcntl.h>
#include <fstream>
#include <unistd.h>

#include "test_support.h"

using namespace resctrld::simtest;

TEST_CASE("b01: one write is one command; newline required; blank lines rejected",
          "[sim][schemata][b01]") {
    const SimOptions opt = GENERATE(from_range(l3Flavours()));
    INFO(opt.describe());
    SimInstance sim(opt);
    const auto& facts = profileFacts(opt.profile);
    REQUIRE(makeDir(sim.at("g1")) == 0);
    const auto schemata = sim.at("g1/schemata");
    const std::string before = readFile(schemata);
    CHECK(before == SchemataText(facts, opt).schemata());

    // Missing final newline: EINVAL before the status is cleared (§2.3, §4.3).
    provokeStatus(sim);
    CHECK(writeFile(schemata, "L3:0=3") == EINVAL);
    CHECK_STATUS(sim, kProvokedStatus);

    // Blank line anywhere: "Missing ':'" (§4.1).
    CHECK(writeFile(schemata, "L3:0=3\n\n") == EINVAL);
    CHECK_STATUS(sim, "Missing ':'\n");
    provokeStatus(sim);
    CHECK(writeFile(schemata, "\nL3:0=3\n") == EINVAL);
    CHECK_STATUS(sim, "Missing ':'\n");

    // Two write(2)s on one descriptor are two commands, never concatenated.
    {
        int fd = ::open(schemata.c_str(), O_WRONLY);
        REQUIRE(fd >= 0);
        provokeStatus(sim);
        errno = 0;
        CHECK(::write(fd, "L3:0=", 5) == -1);
        CHECK(errno == EINVAL);
        CHECK_STATUS(sim, kProvokedStatus);
        errno = 0;
        CHECK(::write(fd, "3\n", 2) == -1);
        CHECK(errno == EINVAL);
        CHECK_STATUS(sim, "Missing ':'\n");
        ::close(fd);
    }
    CHECK(readFile(schemata) == before);

    // Several lines in one write are one command.
    const unsigned second = facts.l3Ids[1];
    CHECK(writeFile(schemata, "L3:0=3\nL3:" + std::to_string(second) + "=7\n") == 0);
    CHECK_STATUS(sim, "ok\n");
    CHECK(readFile(schemata) == SchemataText(facts, opt).l3(0, 0x3).l3(second, 0x7).schemata());
}

TEST_CASE("b02: schemata updates are partial and all-or-nothing", "[sim][schemata][b02]") {
    const SimOptions opt = GENERATE(from_range(l3Flavours()));
    INFO(opt.describe());
    SimInstance sim(opt);
    const auto& facts = profileFacts(opt.profile);
    const unsigned second = facts.l3Ids[1];
    const std::string sec = std::to_string(second);
    const unsigned mbValue = facts.amd ? 16 : 50;
    REQUIRE(makeDir(sim.at("g1")) == 0);
    const auto schemata = sim.at("g1/schemata");

    // Only the named domain changes; the other domains and MB keep their values (§4.2).
    CHECK(writeFile(schemata, "L3:" + sec + "=3\n") == 0);
    SchemataText expected(facts, opt);
    expected.l3(second, 0x3);
    CHECK(readFile(schemata) == expected.schemata());
    CHECK(writeFile(schemata, "MB:0=" + std::to_string(mbValue) + "\n") == 0);
    expected.mb(0, mbValue);
    CHECK(readFile(schemata) == expected.schemata());

    // A bad second line applies nothing, not even the valid first line.
    CHECK(writeFile(schemata, "L3:0=7\nL3:" + sec + "=zz\n") == EINVAL);
    CHECK_STATUS(sim, "Non-hex character in the mask zz\n");
    CHECK(writeFile(schemata, "MB:" + sec + "=" + std::to_string(mbValue) + "\nL3:0=zz\n") ==
          EINVAL);
    CHECK_STATUS(sim, "Non-hex character in the mask zz\n");
    CHECK(readFile(schemata) == expected.schemata());
    // The root and other groups are untouched by a group's write.
    CHECK(readFile(sim.at("schemata")) == SchemataText(facts, opt).schemata());
}

TEST_CASE("b03: CBM validation order and messages", "[sim][schemata][b03]") {
    const SimOptions opt = GENERATE(from_range(l3Flavours()));
    INFO(opt.describe());
    SimInstance sim(opt);
    const auto& facts = profileFacts(opt.profile);
    REQUIRE(makeDir(sim.at("g1")) == 0);
    const auto g1 = sim.at("g1/schemata");

    CHECK(writeFile(g1, "L3:0=xyz\n") == EINVAL);
    CHECK_STATUS(sim, "Non-hex character in the mask xyz\n");
    CHECK(writeFile(g1, "L3:0=" + hex(facts.cbmMask + 1) + "\n") == EINVAL);
    CHECK_STATUS(sim, "Mask out of range\n");
    // An optional 0x prefix is accepted (§4.1).
    CHECK(writeFile(g1, "L3:0=0x3\n") == 0);
    CHECK_STATUS(sim, "ok\n");

    if (facts.sparseMasks) {
        // AMD: any pattern, zero allowed (min_cbm_bits 0, sparse_masks 1; §4.4).
        CHECK(writeFile(g1, "L3:0=5\n") == 0);
        CHECK(writeFile(g1, "L3:0=0\n") == 0);
        CHECK_STATUS(sim, "ok\n");
    } else {
        CHECK(writeFile(g1, "L3:0=0\n") == EINVAL);
        CHECK_STATUS(sim, "Mask out of range\n");
        CHECK(writeFile(g1, "L3:0=5\n") == EINVAL);
        CHECK_STATUS(sim, "The mask 5 has non-consecutive 1-bits\n");
        // Range is checked before contiguity.
        CHECK(writeFile(g1, "L3:0=" + hex((facts.cbmMask + 1) | 5) + "\n") == EINVAL);
        CHECK_STATUS(sim, "Mask out of range\n");
    }

    // Exclusive groups: shrink the root off the low ways, give them to g1, make g1 exclusive.
    const uint32_t low = 0xf;
    const uint32_t rootMask = facts.cbmMask & ~low & ~facts.shareableBits;
    REQUIRE(writeFile(sim.at("schemata"), l3AllLine(facts, rootMask)) == 0);
    REQUIRE(writeFile(g1, l3AllLine(facts, low)) == 0);
    CHECK(writeFile(sim.at("g1/mode"), "exclusive\n") == 0);
    CHECK_STATUS(sim, "ok\n");
    CHECK(readFile(sim.at("g1/mode")) == "exclusive\n");

    // b06: a new group gets shareable + unused + shareable groups' bits, lowest run (§3.3).
    REQUIRE(makeDir(sim.at("g2")) == 0);
    CHECK(readFile(sim.at("g2/schemata")) ==
          SchemataText(facts, opt).l3All(facts.cbmMask & ~low).schemata());

    const auto g2 = sim.at("g2/schemata");
    CHECK(writeFile(g2, "L3:0=3\n") == EINVAL);
    CHECK_STATUS(sim, "Overlaps with exclusive group\n");
    if (!facts.sparseMasks) {
        // Contiguity is checked before any overlap.
        CHECK(writeFile(g2, "L3:0=5\n") == EINVAL);
        CHECK_STATUS(sim, "The mask 5 has non-consecutive 1-bits\n");
    }
    CHECK(writeFile(sim.at("g2/mode"), "exclusive\n") == EINVAL);
    CHECK_STATUS(sim, "Schemata overlaps\n");

    // The exclusive group itself may overlap no other group and no shareable_bits.
    CHECK(writeFile(g1, "L3:0=1f\n") == EINVAL);
    CHECK_STATUS(sim, "Overlaps with other group\n");
    if (facts.shareableBits) {
        CHECK(writeFile(g1, "L3:0=" + hex(facts.shareableBits) + "\n") == EINVAL);
        CHECK_STATUS(sim, "Overlaps with other group\n");
    }
    CHECK(writeFile(g1, "L3:0=3\n") == 0);

    // Once the exclusive group is gone its ways can be shared again.
    REQUIRE(removeDir(sim.at("g1")) == 0);
    CHECK(writeFile(g2, "L3:0=3\n") == 0);
    CHECK_STATUS(sim, "ok\n");
}

TEST_CASE("b03: MB value validation, rounding and messages", "[sim][schemata][b03]") {
    const SimOptions opt = GENERATE(from_range(l3Flavours()));
    INFO(opt.describe());
    SimInstance sim(opt);
    const auto& facts = profileFacts(opt.profile);
    REQUIRE(makeDir(sim.at("g1")) == 0);
    const auto g1 = sim.at("g1/schemata");

    CHECK(writeFile(g1, "MB:0=abc\n") == EINVAL);
    CHECK_STATUS(sim, isOldKernel(opt) ? "Non-decimal digit in MB value abc\n"
                                       : "Invalid MB value abc\n");
    if (facts.amd) {
        CHECK(writeFile(g1, "MB:0=2049\n") == EINVAL);
        CHECK_STATUS(sim, "MB value 2049 out of range [0,2048]\n");
        CHECK(writeFile(g1, "MB:0=17\n") == 0);
        CHECK(readFile(g1) == SchemataText(facts, opt).mb(0, 17).schemata());
    } else {
        CHECK(writeFile(g1, "MB:0=5\n") == EINVAL);
        CHECK_STATUS(sim, "MB value 5 out of range [10,100]\n");
        CHECK(writeFile(g1, "MB:0=101\n") == EINVAL);
        CHECK_STATUS(sim, "MB value 101 out of range [10,100]\n");
        // Rounded up to bandwidth_gran (§4.4): 15 -> 20.
        CHECK(writeFile(g1, "MB:0=15\n") == 0);
        CHECK(readFile(g1) == SchemataText(facts, opt).mb(0, 20).schemata());
    }
}

TEST_CASE("b04: unknown domain id fails with status ok; duplicates are named",
          "[sim][schemata][b04]") {
    const SimOptions opt = GENERATE(from_range(l3Flavours()));
    INFO(opt.describe());
    SimInstance sim(opt);
    const auto& facts = profileFacts(opt.profile);
    REQUIRE(makeDir(sim.at("g1")) == 0);
    const auto g1 = sim.at("g1/schemata");
    // milan's ids have a gap at 8..15; skx has only 0 and 1.
    const std::string missing = facts.amd ? "8" : "2";

    provokeStatus(sim);
    CHECK(writeFile(g1, "L3:" + missing + "=3\n") == EINVAL);
    CHECK_STATUS(sim, "ok\n");
    provokeStatus(sim);
    CHECK(writeFile(g1, "MB:" + missing + "=50\n") == EINVAL);
    CHECK_STATUS(sim, "ok\n");

    CHECK(writeFile(g1, "L3:0=3;0=7\n") == EINVAL);
    CHECK_STATUS(sim, "Duplicate domain 0\n");
    CHECK(writeFile(g1, "L3:0=3\nL3:0=7\n") == EINVAL);
    CHECK_STATUS(sim, "Duplicate domain 0\n");
    CHECK(readFile(g1) == SchemataText(facts, opt).schemata());

    // Grammar details of §4.1.
    CHECK(writeFile(g1, "L3: 0=3\n") == EINVAL);
    CHECK_STATUS(sim, "Missing '=' or non-numeric domain\n");
    CHECK(writeFile(g1, "L3:0=3; 1=3\n") == EINVAL);
    CHECK_STATUS(sim, "Missing '=' or non-numeric domain\n");
    CHECK(writeFile(g1, "L3:\n") == EINVAL);
    CHECK_STATUS(sim, "Missing 'L3' value\n");
    CHECK(writeFile(g1, "L9:0=3\n") == EINVAL);
    CHECK_STATUS(sim, "Unknown or unsupported resource name 'L9'\n");
    CHECK(writeFile(g1, "L3CODE:0=3\n") == EINVAL);
    CHECK_STATUS(sim, "Unknown or unsupported resource name 'L3CODE'\n");
    // Names are trimmed (the kernel's own right-aligned output can be written back), values
    // are trimmed, a trailing ';' is fine, lines may come in any order.
    CHECK(writeFile(g1, "    L3:0= 3 ;\n") == 0);
    CHECK_STATUS(sim, "ok\n");
    const std::string read = readFile(g1);
    CHECK(writeFile(g1, read) == 0);
    CHECK(readFile(g1) == read);
    CHECK(read == SchemataText(facts, opt).l3(0, 3).schemata());
}

TEST_CASE("b05: schemata and size read format", "[sim][schemata][b05]") {
    const SimOptions opt = GENERATE(from_range(l3Flavours()));
    INFO(opt.describe());
    SimInstance sim(opt);
    const auto& facts = profileFacts(opt.profile);
    const unsigned last = facts.l3Ids.back();
    const unsigned mbValue = facts.amd ? 16 : 50;

    CHECK(readFile(sim.at("schemata")) == SchemataText(facts, opt).schemata());
    REQUIRE(makeDir(sim.at("g1")) == 0);
    REQUIRE(writeFile(sim.at("g1/schemata"), "L3:" + std::to_string(last) + "=f\nMB:0=" +
                                                 std::to_string(mbValue) + "\n") == 0);
    SchemataText expected(facts, opt);
    expected.l3(last, 0xf).mb(0, mbValue);
    CHECK(readFile(sim.at("g1/schemata")) == expected.schemata());
    // size: same layout, decimal bytes / raw MB value, never padded (§6.4).
    CHECK(readFile(sim.at("g1/size")) == expected.size());
    CHECK(readFile(sim.at("size")) == SchemataText(facts, opt).size());
}

TEST_CASE("b05: read format of the other shapes (bdx, bdx cdp, no L3 CAT)",
          "[sim][schemata][b05][b19]") {
    const SimOptions opt = GENERATE(values<SimOptions>({{"bdx-2s", "6.15", "", false},
                                                        {"bdx-2s", "6.1", "", false},
                                                        {"bdx-2s", "6.15", "cdp", false},
                                                        {"bdx-2s", "6.1", "cdp", false},
                                                        {"skx-2s-no-l3cat", "6.15", "", false},
                                                        {"skx-2s-no-l3cat", "6.1", "", false}}));
    INFO(opt.describe());
    SimInstance sim(opt);
    const auto& facts = profileFacts(opt.profile);
    CHECK(readFile(sim.at("schemata")) == SchemataText(facts, opt).schemata());
    REQUIRE(makeDir(sim.at("g1")) == 0);
    const auto g1 = sim.at("g1/schemata");
    SchemataText expected(facts, opt);
    if (!facts.hasL3Cat) {
        CHECK(writeFile(g1, "L3:0=f\n") == EINVAL);
        CHECK_STATUS(sim, "Unknown or unsupported resource name 'L3'\n");
        CHECK(writeFile(g1, "MB:1=20\n") == 0);
        expected.mb(1, 20);
    } else if (isCdp(opt)) {
        CHECK(writeFile(g1, "L3:0=f\n") == EINVAL);
        CHECK_STATUS(sim, "Unknown or unsupported resource name 'L3'\n");
        // CODE and DATA are independent values (§1.3).
        CHECK(writeFile(g1, "L3CODE:0=f\nL3DATA:1=ff\n") == 0);
        expected.l3Code(0, 0xf).l3Data(1, 0xff);
    } else {
        CHECK(writeFile(g1, "L3DATA:0=f\n") == EINVAL);
        CHECK_STATUS(sim, "Unknown or unsupported resource name 'L3DATA'\n");
        CHECK(writeFile(g1, "L3:0=f\n") == 0);
        expected.l3(0, 0xf);
    }
    CHECK(readFile(g1) == expected.schemata());
    CHECK(readFile(sim.at("g1/size")) == expected.size());
}

TEST_CASE("b06: new group defaults", "[sim][schemata][b06]") {
    const SimOptions opt = GENERATE(values<SimOptions>({{"skx-2s-l3cat", "6.15", "", false},
                                                        {"milan-2s", "6.1", "", false},
                                                        {"skx-2s-l3cat", "6.15", "mba_MBps", false},
                                                        {"bdx-2s", "6.15", "cdp", false}}));
    INFO(opt.describe());
    SimInstance sim(opt);
    const auto& facts = profileFacts(opt.profile);
    // Root's values do not leak into a new group: defaults are shareable + unused bits
    // and the MB maximum (U32_MAX with mba_MBps), §3.3.
    const std::string rootName = isCdp(opt) ? "L3CODE" : "L3";
    REQUIRE(writeFile(sim.at("schemata"), l3AllLine(facts, 0x3, rootName)) == 0);
    REQUIRE(makeDir(sim.at("g1")) == 0);
    CHECK(readFile(sim.at("g1/schemata")) == SchemataText(facts, opt).schemata());
    CHECK(readFile(sim.at("g1/mode")) == "shareable\n");
    CHECK_STATUS(sim, "ok\n");
}

TEST_CASE("b03/b06: min_cbm_bits and 'No space' on a host shape loaded from a profile file",
          "[sim][schemata][b03][b06]") {
    // A Haswell-like cache (min_cbm_bits 2, docs/kernel.md §1.6) without shareable bits, so that
    // exclusive groups can take every way of a domain (docs/kernel.md §3.3 step 4).
    const std::string kernel = GENERATE(as<std::string>{}, "6.15", "6.1");
    const auto dir = std::filesystem::temp_directory_path();
    const auto file = dir / ("resctrlfs-sim-profile-" + std::to_string(::getpid()) + ".ini");
    {
        std::ofstream out(file);
        out << "[host]\nname = minbits-2\ncpus = 8\nthreads_per_core = 2\ncores_per_l3 = 2\n"
               "l3_ids = 0,1\nl1d_kb = 32\nl1i_kb = 32\nl2_kb = 256\nl3_kb = 8192\n"
               "[L3]\nnum_closids = 4\ncbm_mask = ff\nmin_cbm_bits = 2\nshareable_bits = 0\n"
               "cdp = false\nsparse_masks = false\n"
               "[L3_MON]\nnum_rmids = 32\nllc_occupancy = true\nmbm_total_bytes = true\n"
               "mbm_local_bytes = true\n";
    }
    struct Remove {
        std::filesystem::path p;
        ~Remove() { std::filesystem::remove(p); }
    } remove{file};
    SimInstance sim({file.string(), kernel, "", false});
    INFO(sim.options().describe());
    REQUIRE(readFile(sim.at("info/L3/min_cbm_bits")) == "2\n");
    REQUIRE(makeDir(sim.at("g1")) == 0);
    const auto g1 = sim.at("g1/schemata");

    CHECK(writeFile(g1, "L3:0=1\n") == EINVAL);
    CHECK_STATUS(sim, "Need at least 2 bits in the mask\n");
    CHECK(writeFile(g1, "L3:0=0\n") == EINVAL);
    CHECK_STATUS(sim, "Mask out of range\n");
    // Contiguity is checked before the minimum.
    CHECK(writeFile(g1, "L3:0=5\n") == EINVAL);
    CHECK_STATUS(sim, "The mask 5 has non-consecutive 1-bits\n");
    CHECK(writeFile(g1, "L3:0=3\n") == 0);

    // Root and g1 exclusive; on domain 1 they hold every way, on domain 0 two stay unused.
    REQUIRE(writeFile(sim.at("schemata"), "L3:0=f;1=3\n") == 0);
    REQUIRE(writeFile(g1, "L3:0=30;1=fc\n") == 0);
    REQUIRE(writeFile(sim.at("mode"), "exclusive\n") == 0);
    REQUIRE(writeFile(sim.at("g1/mode"), "exclusive\n") == 0);
    CHECK(makeDir(sim.at("g2")) == ENOSPC);
    CHECK_STATUS(sim, "No space on L3:1\n");
    CHECK_FALSE(pathExists(sim.at("g2")));
    // Give domain 1 two ways back: the new group gets the lowest unused run per domain.
    REQUIRE(writeFile(g1, "L3:1=3c\n") == 0);
    REQUIRE(makeDir(sim.at("g2")) == 0);
    // Not CDP-capable, so the name is not padded (§4.6); two hex digits in both formats.
    CHECK(readFile(sim.at("g2/schemata")) == "L3:0=c0;1=c0\n");
}
