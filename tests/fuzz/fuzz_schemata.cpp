// SPDX-License-Identifier: LGPL-2.1-or-later
// libFuzzer target for the schemata parser.
// Seeds: tests/fuzz/seeds/schemata (scripts/fuzz-short). A crash, a sanitizer report, an
// exception other than ResctrlUnavailable (the one schemata.h documents), or a broken invariant
// below is a finding: the invariant is named on stderr and the target aborts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cbm_mask.h"
#include "errors.h"
#include "resource.h"
#include "schemata.h"

using namespace resctrld;

namespace {

void require(bool condition, const char* invariant) {
    if (!condition) {
        std::fprintf(stderr, "fuzz-schemata: invariant broken: %s\n", invariant);
        std::abort();
    }
}

// The blanks schemata.h tolerates around names, ids and values (text.h's trim), written out
// again here so that the oracle below does not share the parser's helpers.
std::string_view trimBlanks(std::string_view text) {
    constexpr std::string_view kBlank = " \t\r\n";
    while (!text.empty() && kBlank.find(text.front()) != std::string_view::npos)
        text.remove_prefix(1);
    while (!text.empty() && kBlank.find(text.back()) != std::string_view::npos)
        text.remove_suffix(1);
    return text;
}

std::optional<Resource> resourceNamed(std::string_view name) {
    for (Resource resource : kAllResources)
        if (resourceName(resource) == name)
            return resource;
    return std::nullopt;
}

std::size_t domainCount(const Schemata& schemata, Resource resource) {
    return isCacheResource(resource) ? schemata.masks(resource).size()
                                     : schemata.bandwidths(resource).size();
}

// What the text says without interpreting values: per resource, how many domain entries its
// lines name. Every line of a known resource that parsed names at least one domain (schemata.h:
// "<name>:uninitialized" is the only line of a known resource that holds nothing, and a trailing
// ';' is tolerated, not an empty line), and every entry is one domain, since a domain named twice
// is refused.
void checkAgainstText(std::string_view text, const Schemata& schemata) {
    std::map<Resource, std::size_t> entries;
    while (!text.empty()) {
        const auto newline = text.find('\n');
        const std::string_view line = trimBlanks(text.substr(0, newline));
        text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
        if (line.empty())
            continue;
        const auto colon = line.find(':');
        require(colon != std::string_view::npos, "a parsed non-blank line has a ':'");
        const auto resource = resourceNamed(trimBlanks(line.substr(0, colon)));
        if (!resource)
            continue;
        std::string_view rest = trimBlanks(line.substr(colon + 1));
        if (rest == "uninitialized")
            continue;
        std::size_t count = 0;
        while (!rest.empty()) {
            const auto semicolon = rest.find(';');
            if (!trimBlanks(rest.substr(0, semicolon)).empty())
                ++count;
            rest.remove_prefix(semicolon == std::string_view::npos ? rest.size() : semicolon + 1);
        }
        require(count > 0, "a parsed line of a known resource names at least one domain");
        entries[*resource] += count;
    }
    for (Resource resource : kAllResources)
        require(domainCount(schemata, resource) == entries[resource],
                "one domain per entry of the resource's lines");
}

// The accessors describe one consistent value: cache resources hold masks only, MB and SMBA
// bandwidths only, resources() lists exactly the resources present, in resource order.
void checkShape(const Schemata& schemata) {
    std::vector<Resource> present;
    for (Resource resource : kAllResources) {
        const bool cache = isCacheResource(resource);
        require(cache || schemata.masks(resource).empty(), "no masks for MB/SMBA");
        require(!cache || schemata.bandwidths(resource).empty(), "no bandwidths for caches");
        require(schemata.has(resource) == (domainCount(schemata, resource) != 0),
                "has() means at least one domain");
        if (schemata.has(resource))
            present.push_back(resource);
        for (const auto& [id, mask] : schemata.masks(resource)) {
            require(schemata.mask(resource, id) == mask, "mask() agrees with masks()");
            require(!schemata.bandwidth(resource, id), "no bandwidth() for a cache domain");
            // A mask is at most 64 bits (cbm_mask.h): 1..16 lowercase hex digits that parse back.
            const std::string hex = mask.toHex();
            require(!hex.empty() && hex.size() <= 16, "a mask prints as 1..16 hex digits");
            require(hex.find_first_not_of("0123456789abcdef") == std::string::npos,
                    "a mask prints as lowercase hex");
            require(CbmMask::parseHex(hex) == mask, "a mask's hex parses back");
        }
        for (const auto& [id, value] : schemata.bandwidths(resource)) {
            require(schemata.bandwidth(resource, id) == value, "bandwidth() agrees");
            require(!schemata.mask(resource, id), "no mask() for a bandwidth domain");
        }
    }
    require(schemata.resources() == present, "resources() lists what has() says, in order");
    require(schemata.empty() == present.empty(), "empty() means no resource");
}

// format() prints the value back: in resctrld's layout and in every kernel read layout the text
// parses to an equal value (schemata.h: equal "however the text they came from was laid out").
void checkFormat(const Schemata& schemata) {
    const std::string text = schemata.format();
    require(Schemata::parse(text) == schemata, "parse(format()) == value");
    require(Schemata::parse(text).format() == text, "format() is canonical");

    std::string lines;
    std::string reversed;
    for (Resource resource : schemata.resources()) {
        const std::string line = schemata.formatLine(resource);
        require(line.size() > 1 && line.back() == '\n' && line.find('\n') == line.size() - 1,
                "formatLine() is one line ending in a newline");
        require(line.find(";\n") == std::string::npos && line.find(' ') == std::string::npos,
                "resctrld's layout has no padding and no trailing ';'");
        lines += line;
        reversed.insert(0, schemata.formatLine(resource, {0, 0, true}));
    }
    require(text == lines, "format() is the formatLine() of each resource, in resource order");
    require(schemata.format({0, 0, true}) == reversed, "kernel line order is reversed");
    require(schemata.formatLine(Resource::L3).empty() == !schemata.has(Resource::L3),
            "formatLine() is empty exactly for absent resources");

    // Kernels >= 6.15 (names right-aligned to 6), <= 6.14 (values padded to the widest data
    // width: 3 for Intel MB, 4 for AMD, 5 for 20-bit L3) and widths beyond any real host.
    for (const SchemataFormat layout :
         {SchemataFormat{6, 0, true}, SchemataFormat{6, 3, true}, SchemataFormat{4, 4, true},
          SchemataFormat{6, 5, false}, SchemataFormat{12, 24, true}})
        require(Schemata::parse(schemata.format(layout)) == schemata,
                "parse(format(kernel layout)) == value");
}

// Setting every entry into an empty value, or merging the value into an empty one or into
// itself, gives the value again.
void checkRebuild(const Schemata& schemata) {
    Schemata rebuilt;
    for (Resource resource : kAllResources) {
        for (const auto& [id, mask] : schemata.masks(resource))
            rebuilt.setMask(resource, id, mask);
        for (const auto& [id, value] : schemata.bandwidths(resource))
            rebuilt.setBandwidth(resource, id, value);
    }
    require(rebuilt == schemata, "setMask/setBandwidth of every entry rebuild the value");
    Schemata merged;
    merged.merge(schemata);
    require(merged == schemata, "merge into an empty value copies it");
    merged.merge(schemata);
    require(merged == schemata, "merge with itself changes nothing");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    Schemata schemata;
    try {
        schemata = Schemata::parse(text);
    } catch (const ResctrlUnavailable& error) {
        // Refusals are expected; schemata.h promises they name the line.
        require(std::string_view(error.what()).find("line ") != std::string_view::npos,
                "a refusal names the line");
        return 0;
    }
    checkAgainstText(text, schemata);
    checkShape(schemata);
    checkFormat(schemata);
    checkRebuild(schemata);
    return 0;
}
