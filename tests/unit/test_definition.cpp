// SPDX-License-Identifier: LGPL-2.1-or-later
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "domain_definition.h"
#include "errors.h"
#include "xml_document.h"

using namespace resctrld;
namespace fs = std::filesystem;

namespace {

const fs::path kCorpus = fs::path(RESCTRLD_TEST_DATA) / "domains";

std::string readFile(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

DomainDefinition parseFile(const std::string& relative) {
    return parseDomainDefinition(readFile(kCorpus / relative));
}

// The error name and message a call throws, or "" when it does not throw.
std::pair<std::string, std::string> errorOf(std::string_view xml) {
    try {
        parseDomainDefinition(xml);
    } catch (const Error& e) {
        return {std::string(e.dbusName()), e.what()};
    }
    return {};
}

std::string domainWith(const std::string& cputune, const std::string& vcpu = "<vcpu>4</vcpu>") {
    return "<domain type='kvm'><name>vm</name>" + vcpu + "<cputune>" + cputune +
           "</cputune></domain>";
}

Bytes mib(Bytes n) {
    return n * 1024 * 1024;
}

} // namespace

TEST_CASE("every invalid corpus document fails with its expected error", "[xml][corpus]") {
    // Each file starts with <!-- expect: <D-Bus error name> | <gist of the message> -->.
    const std::regex expectation(R"(<!-- expect: (\S+) \| (.*?) -->)");
    unsigned checked = 0;
    for (const auto& file : fs::directory_iterator(kCorpus / "invalid")) {
        if (file.path().extension() != ".xml")
            continue;
        std::string text = readFile(file.path());
        std::smatch m;
        INFO("file " << file.path().filename().string());
        REQUIRE(std::regex_search(text, m, expectation));
        auto [name, message] = errorOf(text);
        CHECK(name == m[1].str());
        CHECK_THAT(message, Catch::Contains(m[2].str()));
        ++checked;
    }
    CHECK(checked >= 60);
}

TEST_CASE("every valid corpus document parses", "[xml][corpus]") {
    unsigned checked = 0;
    for (const auto& file : fs::directory_iterator(kCorpus / "valid")) {
        INFO("file " << file.path().filename().string());
        CHECK_NOTHROW(parseDomainDefinition(readFile(file.path())));
        ++checked;
    }
    CHECK(checked >= 8);
}

TEST_CASE("a full libvirt domain: the spec's example", "[xml]") {
    auto d = parseFile("valid/full-domain.xml");
    CHECK(d.name == "vm1");
    CHECK(d.uuid == "c7a5fdbd-edaf-9455-926a-d65c16db1809");
    CHECK(d.virtType == "kvm");
    CHECK(d.vcpuCount == 8u);
    CHECK_FALSE(d.isStatus);
    CHECK(d.tuningSource == TuningSource::Cputune);
    CHECK_FALSE(d.cputuneTuningIgnored);
    REQUIRE(d.tuning.definitions.size() == 2);

    const auto& first = d.tuning.definitions[0];
    CHECK(first.vcpus.format() == "0-3");
    CHECK(first.name() == "vcpus_0-3");
    REQUIRE(first.caches.size() == 2);
    CHECK(first.caches[0] == CacheSpec{3, CacheId{0}, CacheType::Both, mib(3)});
    CHECK(first.caches[1] == CacheSpec{3, CacheId{1}, CacheType::Both, mib(3)});
    // Rule 3: the memorytune with equal vcpus merged into the cachetune's group.
    REQUIRE(first.bandwidths.size() == 1);
    CHECK(first.bandwidths[0] == BandwidthSpec{0, 60});
    REQUIRE(first.monitors.size() == 2);
    CHECK(first.monitors[0].name() == "vcpus_1");
    CHECK_FALSE(first.isDefaultMonitor(first.monitors[0]));
    CHECK(first.isDefaultMonitor(first.monitors[1]));

    const auto& second = d.tuning.definitions[1];
    CHECK(second.vcpus.format() == "4-7");
    CHECK_FALSE(second.hasAllocation());
    REQUIRE(second.monitors.size() == 1);
    CHECK(second.monitors[0].kind == MonitorKind::Cache);
    CHECK(second.monitors[0].vcpus.format() == "4-6");
}

TEST_CASE("a libvirt status document gives the hypervisor pid and vCPU threads", "[xml]") {
    auto d = parseFile("valid/domstatus.xml");
    CHECK(d.isStatus);
    CHECK(d.name == "vm2");
    CHECK(d.virtType == "qemu");
    CHECK(d.hypervisorPid == 4242);
    CHECK(d.vcpuThreads == std::vector<VcpuThread>{{0, 4250}, {1, 4251}, {2, 4252}, {3, 4253}});
    // Metadata form with the prefix on every element; type='qemu' is fine there (P19 exempt).
    CHECK(d.tuningSource == TuningSource::Metadata);
    REQUIRE(d.tuning.definitions.size() == 2);
    CHECK(d.tuning.definitions[0].caches ==
          std::vector<CacheSpec>{{3, CacheId{0}, CacheType::Both, mib(2)}});
    CHECK(d.tuning.definitions[1].bandwidths == std::vector<BandwidthSpec>{{0, 50}});
    REQUIRE(d.tuning.definitions[1].monitors.size() == 1);
    CHECK(d.tuning.definitions[1].monitors[0].kind == MonitorKind::MemoryBandwidth);
}

TEST_CASE("metadata tuning wins over cputune, which is recorded as ignored", "[xml]") {
    auto d = parseFile("valid/metadata-wins.xml");
    CHECK(d.tuningSource == TuningSource::Metadata);
    CHECK(d.cputuneTuningIgnored);
    CHECK(d.vcpuCount == 2u); // current='2' respected
    CHECK(d.maxVcpus == 4u);
    REQUIRE(d.tuning.definitions.size() == 1);
    // Default-namespace children; code + data on one id is fine (rule 4).
    CHECK(d.tuning.definitions[0].caches ==
          std::vector<CacheSpec>{{3, CacheId{0}, CacheType::Code, 7680 * 1024},
                                 {3, CacheId{0}, CacheType::Data, 3840 * 1024}});
}

TEST_CASE("a minimal domain without <vcpu> truncates nothing", "[xml]") {
    auto d = parseFile("valid/minimal.xml");
    CHECK(d.name == "tiny");
    CHECK(d.uuid.empty());
    CHECK_FALSE(d.vcpuCount.has_value());
    REQUIRE(d.tuning.definitions.size() == 2);
    // Absent unit = KiB (libvirt's parser, docs/definitions.md "Grammar").
    CHECK(d.tuning.definitions[0].caches[0].size == 1536 * 1024);
    CHECK(d.tuning.definitions[1].vcpus.format() == "20");
    CHECK(d.warnings.empty());
}

TEST_CASE("rule 1: vCPUs beyond the count are dropped, empty tunes dropped with a warning",
          "[xml]") {
    auto d = parseFile("valid/extra-tunes.xml");
    REQUIRE(d.tuning.definitions.size() == 1);
    CHECK(d.tuning.definitions[0].vcpus.format() == "0-1");
    REQUIRE(d.warnings.size() == 1);
    CHECK_THAT(d.warnings[0],
               Catch::Contains("cachetune vcpus='100'") && Catch::Contains("ignored"));

    // A cachetune without children is dropped (libvirt does so silently).
    auto childless = parseDomainDefinition(domainWith("<cachetune vcpus='1'/>"));
    CHECK(childless.tuning.empty());
    REQUIRE(childless.warnings.size() == 1);
    CHECK_THAT(childless.warnings[0], Catch::Contains("cachetune vcpus='1' has neither"));

    // current counts, not the maximum (docs/definitions.md "Grammar": current if present).
    auto dropped = parseDomainDefinition(
        domainWith("<memorytune vcpus='2-3'><node id='0' bandwidth='10'/></memorytune>",
                   "<vcpu current='2'>4</vcpu>"));
    CHECK(dropped.tuning.empty());
    REQUIRE(dropped.warnings.size() == 1);
    CHECK_THAT(dropped.warnings[0], Catch::Contains("memorytune vcpus='2-3' names only vCPUs") &&
                                        Catch::Contains("vCPU count 2"));

    // A monitor partly beyond the count keeps the rest.
    auto partial = parseDomainDefinition(
        domainWith("<cachetune vcpus='0-7'><monitor level='3' vcpus='2-7'/></cachetune>"));
    REQUIRE(partial.tuning.definitions.size() == 1);
    CHECK(partial.tuning.definitions[0].vcpus.format() == "0-3");
    CHECK(partial.tuning.definitions[0].monitors[0].vcpus.format() == "2-3");
}

TEST_CASE("rule 3: memorytunes merge into the definition with equal vcpus", "[xml]") {
    auto d = parseFile("valid/memorytune-merge.xml");
    // libvirt order: all cachetunes first, then memorytunes (docs/definitions.md appendix §1).
    REQUIRE(d.tuning.definitions.size() == 3);
    const auto& merged = d.tuning.definitions[0];
    CHECK(merged.vcpus.format() == "0-1");
    CHECK(merged.caches.size() == 2);
    CHECK(merged.bandwidths == std::vector<BandwidthSpec>{{0, 20}, {1, 30}});
    REQUIRE(merged.monitors.size() == 2);
    CHECK(merged.monitors[0].kind == MonitorKind::MemoryBandwidth);
    CHECK(merged.isDefaultMonitor(merged.monitors[0]));
    CHECK(d.tuning.definitions[1].vcpus.format() == "3");
    CHECK(d.tuning.definitions[2].vcpus.format() == "2");
    CHECK_FALSE(d.tuning.definitions[2].hasAllocation());

    // Two memorytunes with equal vcpus merge too.
    auto twice = parseDomainDefinition(
        domainWith("<memorytune vcpus='0-1'><node id='0' bandwidth='10'/></memorytune>"
                   "<memorytune vcpus='0,1'><node id='1' bandwidth='20'/></memorytune>"));
    REQUIRE(twice.tuning.definitions.size() == 1);
    CHECK(twice.tuning.definitions[0].bandwidths.size() == 2);
}

TEST_CASE("rule 5/6: the default monitor may overlap, equal sets of two kinds may coexist",
          "[xml]") {
    auto small = parseFile("valid/cachetune-small.xml");
    REQUIRE(small.tuning.definitions.size() == 2);
    CHECK(small.tuning.definitions[0].monitors.size() == 3);
    CHECK(small.tuning.definitions[1].monitors.size() == 2);

    // Default monitor first, then overlapping ones.
    CHECK_NOTHROW(parseDomainDefinition(
        domainWith("<cachetune vcpus='0-3'><cache id='0' level='3' type='both' size='3' "
                   "unit='MiB'/><monitor level='3' vcpus='0-3'/><monitor level='3' vcpus='1'/>"
                   "<monitor level='3' vcpus='2-3'/></cachetune>")));
    // A cache monitor and a bandwidth monitor with equal vcpus share a group (P13).
    auto shared = parseDomainDefinition(domainWith(
        "<cachetune vcpus='0-3'><cache id='0' level='3' type='both' size='3' unit='MiB'/>"
        "<monitor level='3' vcpus='1'/></cachetune>"
        "<memorytune vcpus='0-3'><monitor vcpus='1'/></memorytune>"));
    CHECK(shared.tuning.definitions[0].monitors.size() == 2);
    // Without an allocation an equal-set monitor is not special: overlapping it is refused.
    auto [name, message] =
        errorOf(domainWith("<cachetune vcpus='0-3'><monitor level='3' vcpus='1'/>"
                           "<monitor level='3' vcpus='0-3'/></cachetune>"));
    CHECK(name == "org.resctrld1.Error.InvalidDefinition");
    CHECK_THAT(message,
               Catch::Contains("monitor vcpus='0-3' overlaps monitor vcpus='1' on vcpu 1"));
}

TEST_CASE("rule 8: units are libvirt's, absent unit is KiB", "[xml]") {
    auto d = parseFile("valid/units.xml");
    REQUIRE(d.tuning.definitions.size() == 14);
    std::vector<Bytes> sizes;
    for (const auto& def : d.tuning.definitions)
        sizes.push_back(def.caches.at(0).size);
    const Bytes kTiB = 1ull << 40;
    CHECK(sizes == std::vector<Bytes>{mib(3), mib(3), mib(3), mib(3), 1ull << 30, kTiB, 3000000,
                                      2000, 1000000000, 1000000000000ull, 3072, kTiB, mib(16),
                                      16777215 * kTiB});
    CHECK(d.tuning.definitions[0].vcpus.format() == "0");

    CHECK(scaleSize(5, "") == 5 * 1024);
    CHECK(scaleSize(5, "b") == 5);
    CHECK(scaleSize(5, "BYTE") == 5);
    CHECK(scaleSize(1, "PiB") == 1ull << 50);
    CHECK(scaleSize(1, "e") == 1ull << 60);
    CHECK(scaleSize(15, "EiB") == 15ull << 60);
    CHECK_THROWS_AS(scaleSize(16, "EiB"), InvalidDefinition);
    CHECK_THROWS_AS(scaleSize(1, "x"), InvalidDefinition);
    CHECK_THROWS_AS(scaleSize(1, "KiBB"), InvalidDefinition);
    CHECK_THROWS_AS(scaleSize(1, "bits"), InvalidDefinition);
    CHECK_THROWS_AS(scaleSize(1, "kb "), InvalidDefinition);
}

TEST_CASE("tuning equality tells a reconnect from a conflicting definition", "[xml]") {
    auto a = parseFile("valid/full-domain.xml");
    // Same tuning written differently: other order of caches, other units, other set syntax,
    // no devices.
    auto b = parseDomainDefinition(R"(<domain type='kvm'>
      <name>vm1</name><uuid>C7A5FDBDEDAF9455926AD65C16DB1809</uuid><vcpu>8</vcpu>
      <cputune>
        <memorytune vcpus='0,1,2,3'><node id='0' bandwidth='60'/></memorytune>
        <cachetune vcpus='0-3'>
          <cache id='1' level='3' type='both' size='3072'/>
          <cache id='0' level='3' type='both' size='3145728' unit='B'/>
          <monitor level='3' vcpus='1'/><monitor level='3' vcpus='0-3'/>
        </cachetune>
        <cachetune vcpus='4-7'><monitor level='3' vcpus='4-6'/></cachetune>
      </cputune></domain>)");
    CHECK(a.tuning == b.tuning);
    CHECK(a.isEquivalentTo(b));
    auto c = parseDomainDefinition(R"(<domain type='kvm'>
      <name>vm1</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid><vcpu>8</vcpu>
      <cputune><cachetune vcpus='0-3'><cache id='0' level='3' type='both' size='2' unit='MiB'/>
      </cachetune></cputune></domain>)");
    CHECK_FALSE(a.tuning == c.tuning);
    CHECK_FALSE(a.isEquivalentTo(c));
}

TEST_CASE("hostile documents are refused", "[xml][security]") {
    for (const char* file : {"invalid/billion-laughs.xml", "invalid/external-entity-shadow.xml",
                             "invalid/deeply-nested.xml", "invalid/nested-beyond-64.xml",
                             "invalid/xinclude.xml", "invalid/external-dtd.xml"}) {
        INFO(file);
        CHECK_THROWS_AS(parseFile(file), InvalidDefinition);
    }
    // The external entity's target never reaches the result or the message.
    auto [name, message] = errorOf(readFile(kCorpus / "invalid/external-entity-shadow.xml"));
    CHECK(name == "org.resctrld1.Error.InvalidDefinition");
    CHECK_THAT(message, !Catch::Contains("root:"));

    // Size is checked before parsing: a document one byte over 1 MiB is refused as such.
    std::string big = "<domain><name>vm</name><!--" +
                      std::string(XmlDocument::kMaxInputBytes, 'x') + "--></domain>";
    CHECK_THROWS_WITH(parseDomainDefinition(big),
                      Catch::Contains("more than the limit of 1048576"));
    // 64 levels are fine, 65 are not (domain itself is level 1).
    auto nested = [](unsigned levels) {
        std::string open, close;
        for (unsigned i = 2; i <= levels; ++i) {
            open += "<a>";
            close += "</a>";
        }
        return "<domain><name>vm</name>" + open + close + "</domain>";
    };
    CHECK_NOTHROW(parseDomainDefinition(nested(64)));
    CHECK_THROWS_WITH(parseDomainDefinition(nested(65)), Catch::Contains("deeper than 64"));
    // Predefined entities and character references are ordinary text.
    CHECK(parseDomainDefinition("<domain><name>a&amp;b&#x41;</name></domain>").name == "a&bA");
    // An empty document.
    CHECK_THROWS_WITH(parseDomainDefinition(""), Catch::Contains("empty"));
}

TEST_CASE("XmlDocument keeps libxml2's message and prints nothing", "[xml][security]") {
    try {
        XmlDocument::parse("<domain><name>x</domain>");
        FAIL("no exception");
    } catch (const InvalidDefinition& e) {
        CHECK_THAT(e.what(), Catch::Contains("XML is not well-formed: line 1") &&
                                 Catch::Contains("mismatch"));
    }
}

TEST_CASE("refused documents print nothing to stderr", "[xml][security]") {
    // libxml2's default handlers print to stderr; a daemon's journal should get our message once.
    std::FILE* capture = std::tmpfile();
    REQUIRE(capture != nullptr);
    std::fflush(stderr);
    int saved = dup(STDERR_FILENO);
    REQUIRE(saved >= 0);
    REQUIRE(dup2(fileno(capture), STDERR_FILENO) >= 0);
    for (const char* bad : {"<domain><name>x</domain>", "<domain>&bogus;</domain>",
                            "<?xml version='1.0'?><!DOCTYPE d [<!ENTITY e 'x'>]><d>&e;</d>",
                            "<a:b xmlns:a='urn:x'><a:c></a:b>", "\xff\xfe<"}) {
        CHECK_THROWS_AS(parseDomainDefinition(bad), InvalidDefinition);
    }
    std::fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    CHECK(std::ftell(capture) == 0);
    std::fclose(capture);
}

namespace {

std::string repeat(unsigned count, const std::function<std::string(unsigned)>& piece) {
    std::string text;
    for (unsigned i = 0; i < count; ++i)
        text += piece(i);
    return text;
}

std::string singleVcpuCachetune(unsigned vcpu) {
    return "<cachetune vcpus='" + std::to_string(vcpu) +
           "'><cache id='0' level='3' type='both' size='3' unit='MiB'/></cachetune>";
}

std::string singleVcpuMemorytune(unsigned vcpu) {
    return "<memorytune vcpus='" + std::to_string(vcpu) +
           "'><node id='0' bandwidth='50'/></memorytune>";
}

std::string cacheMonitor(unsigned vcpu) {
    return "<monitor level='3' vcpus='" + std::to_string(vcpu) + "'/>";
}

const std::string kManyVcpus = "<vcpu>2048</vcpu>";

} // namespace

TEST_CASE("a definition may hold 256 cachetunes, 256 memorytunes and 1024 monitors",
          "[xml][limits]") {
    auto d = parseDomainDefinition(domainWith(
        repeat(kMaxCachetunes - 1, singleVcpuCachetune) +
            repeat(kMaxMemorytunes - 1, [](unsigned i) { return singleVcpuMemorytune(256 + i); }) +
            "<cachetune vcpus='1024-2047'>" +
            repeat(kMaxMonitors - 1, [](unsigned i) { return cacheMonitor(1024 + i); }) +
            "</cachetune>" + "<memorytune vcpus='512-513'><monitor vcpus='512'/></memorytune>",
        kManyVcpus));
    CHECK(d.tuning.definitions.size() == 2 * 256);
    std::size_t monitors = 0;
    for (const auto& def : d.tuning.definitions)
        monitors += def.monitors.size();
    CHECK(monitors == 1024);
}

TEST_CASE("more cachetunes, memorytunes or monitors than the limits are refused, saying how many",
          "[xml][limits]") {
    auto [name, message] = errorOf(domainWith(repeat(300, singleVcpuCachetune), kManyVcpus));
    CHECK(name == "org.resctrld1.Error.InvalidDefinition");
    CHECK(message == "the definition has 300 <cachetune> elements; resctrld accepts at most 256");

    std::tie(name, message) = errorOf(domainWith(repeat(257, singleVcpuMemorytune), kManyVcpus));
    CHECK(name == "org.resctrld1.Error.InvalidDefinition");
    CHECK(message == "the definition has 257 <memorytune> elements; resctrld accepts at most 256");

    // Monitors of cachetunes and memorytunes count together.
    std::tie(name, message) = errorOf(
        domainWith("<cachetune vcpus='0-1023'>" + repeat(1000, cacheMonitor) + "</cachetune>" +
                       "<memorytune vcpus='1024-1100'>" +
                       repeat(25,
                              [](unsigned i) {
                                  return "<monitor vcpus='" + std::to_string(1024 + i) + "'/>";
                              }) +
                       "</memorytune>",
                   kManyVcpus));
    CHECK(name == "org.resctrld1.Error.InvalidDefinition");
    CHECK(message == "the definition has 1025 <monitor> elements; resctrld accepts at most 1024");
}

TEST_CASE("the element limits are checked before the elements themselves", "[xml][limits]") {
    // The first two cachetunes overlap and the last is malformed, but the count is reported.
    auto [name, message] = errorOf(domainWith(
        "<cachetune vcpus='0-1'/>" + repeat(256, singleVcpuCachetune) + "<cachetune vcpus='x'/>",
        kManyVcpus));
    CHECK(name == "org.resctrld1.Error.InvalidDefinition");
    CHECK_THAT(message, Catch::StartsWith("the definition has 258 <cachetune> elements"));
}

TEST_CASE("a document of exactly 1 MiB is not refused for its size", "[xml][limits][security]") {
    const std::string bare = domainWith(singleVcpuCachetune(0)) + "<!---->";
    std::string exact = domainWith(singleVcpuCachetune(0));
    exact.insert(exact.size() - std::string("</domain>").size(),
                 "<!--" + std::string(XmlDocument::kMaxInputBytes - bare.size(), 'x') + "-->");
    REQUIRE(exact.size() == XmlDocument::kMaxInputBytes);
    CHECK(parseDomainDefinition(exact).tuning.definitions.size() == 1);
    exact.insert(exact.size() - std::string("</domain>").size(), " ");
    CHECK_THROWS_WITH(parseDomainDefinition(exact),
                      Catch::Contains("more than the limit of 1048576"));
}

TEST_CASE("an overlap is reported against the earliest element in document order",
          "[xml][overlap]") {
    // The entry holding vCPU 5 comes before the one holding vCPU 1.
    auto [name, message] =
        errorOf(domainWith(singleVcpuCachetune(5) + singleVcpuCachetune(3) +
                               singleVcpuCachetune(1) + "<memorytune vcpus='1,5'/>",
                           "<vcpu>8</vcpu>"));
    CHECK(name == "org.resctrld1.Error.InvalidDefinition");
    CHECK(message == "memorytune vcpus='1,5' overlaps cachetune vcpus='5' on vcpu 5 (the vCPUs "
                     "of cachetunes and memorytunes must be disjoint or equal)");

    // A set that contains an earlier one is an overlap, not an equal set.
    std::tie(name, message) = errorOf(domainWith(singleVcpuCachetune(2) +
                                                 "<cachetune vcpus='0-3'><cache id='0' level='3' "
                                                 "type='both' size='3' unit='MiB'/></cachetune>"));
    CHECK(message == "cachetune vcpus='0-3' overlaps cachetune vcpus='2' on vcpu 2 (the vCPUs "
                     "of cachetunes and memorytunes must be disjoint or equal)");

    // An equal set among many is found whichever vCPU it starts with.
    auto merged = parseDomainDefinition(
        domainWith(repeat(200, singleVcpuCachetune) +
                       "<memorytune vcpus='199'><node id='0' bandwidth='50'/></memorytune>",
                   kManyVcpus));
    CHECK(merged.tuning.definitions.size() == 200);
    CHECK(merged.tuning.definitions[199].bandwidths.size() == 1);
    std::tie(name, message) = errorOf(
        domainWith(repeat(200, singleVcpuCachetune) + singleVcpuCachetune(150), kManyVcpus));
    CHECK(message == "cachetune vcpus='150' has the same vCPUs as cachetune vcpus='150' (two "
                     "cachetunes cannot share a vCPU set; put their caches in one)");
}

TEST_CASE("a monitor clash is reported against the earliest monitor in document order",
          "[xml][overlap]") {
    const std::string cache = "<cache id='0' level='3' type='both' size='3' unit='MiB'/>";
    // Partial monitors 3 then 1: a monitor over 1-3 meets monitor 3 first.
    auto [name, message] =
        errorOf(domainWith("<cachetune vcpus='0-3'>" + cache + cacheMonitor(3) + cacheMonitor(1) +
                           "<monitor level='3' vcpus='1-3'/></cachetune>"));
    CHECK(name == "org.resctrld1.Error.InvalidDefinition");
    CHECK(message == "cachetune vcpus='0-3': monitor vcpus='1-3' overlaps monitor vcpus='3' on "
                     "vcpu 3 (only the default monitor, whose vCPUs equal the allocation's, may "
                     "overlap other monitors)");

    // Equal sets: the cache monitor of vCPU 1 is passed over, the bandwidth one is the clash.
    std::tie(name, message) =
        errorOf(domainWith("<cachetune vcpus='0-3'>" + cache + cacheMonitor(1) + "</cachetune>" +
                           "<memorytune vcpus='0-3'><monitor vcpus='1'/></memorytune>" +
                           "<memorytune vcpus='0-3'><monitor vcpus='1'/></memorytune>"));
    CHECK(message == "memorytune vcpus='0-3': monitor vcpus='1' has the same vCPUs as monitor "
                     "vcpus='1' (two memory-bandwidth monitors cannot share a vCPU set)");

    // Without an allocation a monitor over all the vCPUs overlaps the first earlier one, unless
    // that one is the other kind's over the same vCPUs: then the second.
    std::tie(name, message) =
        errorOf(domainWith("<cachetune vcpus='0-3'><monitor level='3' vcpus='0-3'/>"
                           "</cachetune><memorytune vcpus='0-3'><monitor vcpus='0-3'/>"
                           "<monitor vcpus='2'/></memorytune>"));
    CHECK(message == "memorytune vcpus='0-3': monitor vcpus='2' overlaps monitor vcpus='0-3' on "
                     "vcpu 2 (without an allocation no monitor may overlap another)");
    std::tie(name, message) =
        errorOf(domainWith("<cachetune vcpus='0-3'><monitor level='3' vcpus='2'/></cachetune>"
                           "<memorytune vcpus='0-3'><monitor vcpus='2'/><monitor vcpus='0-3'/>"
                           "</memorytune>"));
    CHECK(message == "memorytune vcpus='0-3': monitor vcpus='0-3' overlaps monitor vcpus='2' on "
                     "vcpu 2 (without an allocation no monitor may overlap another)");

    // An allocation merged in later lets a whole-set monitor join partial ones (rule 6).
    auto d = parseDomainDefinition(
        domainWith("<cachetune vcpus='0-3'>" + cacheMonitor(1) + cacheMonitor(2) + "</cachetune>" +
                   "<memorytune vcpus='0-3'><node id='0' bandwidth='50'/><monitor vcpus='0-3'/>"
                   "<monitor vcpus='2'/></memorytune>"));
    REQUIRE(d.tuning.definitions.size() == 1);
    CHECK(d.tuning.definitions[0].monitors.size() == 4);

    // Monitors of different entries never meet.
    CHECK_NOTHROW(parseDomainDefinition(domainWith(
        "<cachetune vcpus='0-1'>" + cache + cacheMonitor(1) + "</cachetune>" +
        "<cachetune vcpus='2-3'>" + "<cache id='1' level='3' type='both' size='3' unit='MiB'/>" +
        cacheMonitor(3) + "</cachetune>")));
}

TEST_CASE("a cache collision is reported against the first colliding cache of the element",
          "[xml][overlap]") {
    auto [name, message] = errorOf(
        domainWith("<cachetune vcpus='0'><cache id='0' level='3' type='code' size='3' unit='MiB'/>"
                   "<cache id='1' level='3' type='both' size='3' unit='MiB'/>"
                   "<cache id='0' level='3' type='data' size='3' unit='MiB'/>"
                   "<cache id='0' level='3' type='both' size='3' unit='MiB'/></cachetune>"));
    CHECK(name == "org.resctrld1.Error.InvalidDefinition");
    CHECK(message == "cachetune vcpus='0': <cache level='3' id='0' type='both'> collides with "
                     "type='code' on the same cache (one 'both', or at most one 'code' and one "
                     "'data', per cache id)");
    // The same id at another level is another cache.
    CHECK_NOTHROW(parseDomainDefinition(
        domainWith("<cachetune vcpus='0'><cache id='0' level='3' type='both' size='3' unit='MiB'/>"
                   "<cache id='0' level='2' type='both' size='3' unit='MiB'/></cachetune>")));
}

TEST_CASE("tuningDifferences names each vCPU set whose caches, bandwidths or monitors differ",
          "[xml]") {
    const auto running = parseDomainDefinition(
        domainWith("<cachetune vcpus='0-1'><cache id='0' level='3' type='both' size='10' "
                   "unit='MiB'/><monitor level='3' vcpus='0'/></cachetune>"
                   "<memorytune vcpus='2'><node id='0' bandwidth='50'/></memorytune>"));
    const auto given = parseDomainDefinition(
        domainWith("<cachetune vcpus='0-1'><cache id='0' level='3' type='both' size='5' "
                   "unit='MiB'/><monitor level='3' vcpus='0'/></cachetune>"
                   "<memorytune vcpus='3'><node id='0' bandwidth='50'/></memorytune>"));
    CHECK(tuningDifferences(running.tuning, given.tuning) ==
          std::vector<std::string>{"vcpus_0-1: caches L3 0 10 MiB running, L3 0 5 MiB given",
                                   "vcpus_2 only running", "vcpus_3 only given"});
    CHECK(tuningDifferences(running.tuning, running.tuning).empty());
}

namespace {

std::string metadataWith(const std::string& cputune) {
    return "<domain type='kvm'><name>vm</name><vcpu>4</vcpu><metadata>"
           "<rd:cputune xmlns:rd='urn:resctrld:cputune:1'>" +
           cputune + "</rd:cputune></metadata></domain>";
}

} // namespace

TEST_CASE("a monitor's priority in the metadata form orders counter assignment", "[xml]") {
    auto d = parseDomainDefinition(
        metadataWith("<rd:memorytune vcpus='0-3'><rd:monitor vcpus='0-1' priority='700'/>"
                     "<rd:monitor vcpus='2-3'/></rd:memorytune>"));
    REQUIRE(d.tuning.definitions.size() == 1);
    REQUIRE(d.tuning.definitions[0].monitors.size() == 2);
    CHECK(d.tuning.definitions[0].monitors[0].priority == 700);
    CHECK(d.tuning.definitions[0].monitors[1].priority == 0);
}

TEST_CASE("a priority outside 0 to 1000 is InvalidDefinition naming it", "[xml]") {
    const std::string value = GENERATE(as<std::string>{}, "1001", "-1", "high", "", "4294967296");
    auto [name, message] =
        errorOf(metadataWith("<rd:memorytune vcpus='0-1'><rd:monitor vcpus='0-1' priority='" +
                             value + "'/></rd:memorytune>"));
    CHECK(name == "org.resctrld1.Error.InvalidDefinition");
    CHECK_THAT(message,
               Catch::Contains("priority='" + value + "'") && Catch::Contains("from 0 to 1000"));
}

TEST_CASE("a priority in libvirt's own cputune is ignored with a warning", "[xml]") {
    auto d = parseDomainDefinition(
        domainWith("<memorytune vcpus='0-1'><monitor vcpus='0-1' priority='5'/></memorytune>"));
    REQUIRE(d.tuning.definitions.size() == 1);
    CHECK(d.tuning.definitions[0].monitors[0].priority == 0);
    REQUIRE(d.warnings.size() == 1);
    CHECK_THAT(d.warnings[0], Catch::Contains("priority='5'") && Catch::Contains("ignored"));
}

TEST_CASE("slowmemorytune sets SMBA caps and merges into the allocation of the same vCPUs",
          "[xml]") {
    const auto d = parseFile("valid/slowmemorytune.xml");
    REQUIRE(d.tuning.definitions.size() == 2);
    const auto& merged = d.tuning.definitions[0];
    CHECK(merged.vcpus.format() == "0-1");
    CHECK(merged.bandwidths == std::vector<BandwidthSpec>{{0, 512, Resource::MB},
                                                          {0, 128, Resource::SMBA},
                                                          {1, 64, Resource::SMBA}});
    const auto& alone = d.tuning.definitions[1];
    CHECK(alone.bandwidths == std::vector<BandwidthSpec>{{16, 8, Resource::SMBA}});
    CHECK(alone.hasAllocation());
}

TEST_CASE("slowmemorytune follows memorytune's rules and lives only in the metadata form",
          "[xml]") {
    auto wrap = [](const std::string& tunes) {
        return "<domain type='kvm'><name>v</name><vcpu>4</vcpu><metadata><rd:cputune "
               "xmlns:rd='urn:resctrld:cputune:1'>" +
               tunes + "</rd:cputune></metadata></domain>";
    };
    SECTION("one value per node") {
        const auto [name, message] =
            errorOf(wrap("<rd:slowmemorytune vcpus='0'><rd:node id='0' bandwidth='1'/>"
                         "<rd:node id='0' bandwidth='2'/></rd:slowmemorytune>"));
        CHECK(name == "org.resctrld1.Error.InvalidDefinition");
        CHECK_THAT(message, Catch::Contains("slowmemorytune vcpus='0'") &&
                                Catch::Contains("<node id='0'> is given twice"));
    }
    SECTION("a node without bandwidth") {
        const auto [name, message] =
            errorOf(wrap("<rd:slowmemorytune vcpus='0'><rd:node id='0'/></rd:slowmemorytune>"));
        CHECK(name == "org.resctrld1.Error.InvalidDefinition");
        CHECK_THAT(message, Catch::Contains("'bandwidth'"));
    }
    SECTION("the same node in memorytune and slowmemorytune is two resources, not a clash") {
        CHECK(errorOf(wrap("<rd:memorytune vcpus='0'><rd:node id='0' bandwidth='50'/>"
                           "</rd:memorytune><rd:slowmemorytune vcpus='0'><rd:node id='0' "
                           "bandwidth='5'/></rd:slowmemorytune>"))
                  .first.empty());
    }
    SECTION("in <cputune> it is not libvirt's and not read") {
        const auto d = parseDomainDefinition(
            "<domain type='kvm'><name>v</name><vcpu>4</vcpu><cputune><slowmemorytune vcpus='0'>"
            "<node id='0' bandwidth='5'/></slowmemorytune></cputune></domain>");
        CHECK(d.tuning.definitions.empty());
    }
}
