// SPDX-License-Identifier: LGPL-2.1-or-later
// libFuzzer target for the vCPU-list parser.
// Seeds: tests/fuzz/seeds/vcpuset (scripts/fuzz-short). A crash, a sanitizer report, an
// exception other than InvalidDefinition (the one vcpu_set.h documents), or a broken invariant
// below is a finding: the invariant is named on stderr and the target aborts.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "errors.h"
#include "vcpu_set.h"

using namespace resctrld;

namespace {

void require(bool condition, const char* invariant) {
    if (!condition) {
        std::fprintf(stderr, "fuzz-vcpuset: invariant broken: %s\n", invariant);
        std::abort();
    }
}

// libvirt's virSkipSpaces set.
bool isSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view trimSpaces(std::string_view text) {
    while (!text.empty() && isSpace(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && isSpace(text.back()))
        text.remove_suffix(1);
    return text;
}

// A decimal number below the bound, leading zeros allowed; nothing else.
std::optional<unsigned> boundedNumber(std::string_view text) {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos)
        return std::nullopt;
    while (text.size() > 1 && text.front() == '0')
        text.remove_prefix(1);
    if (text.size() > 5)
        return std::nullopt;
    const unsigned value = static_cast<unsigned>(std::stoul(std::string(text)));
    if (value >= VcpuSet::kMaxVcpus)
        return std::nullopt;
    return value;
}

// A second, deliberately different reading of vcpu_set.h's grammar: split at ',' first, then
// read each item. Items `N`, `N-M` (N <= M, blanks around '-') and `^N` (no blank after '^'),
// blanks around every item, numbers below kMaxVcpus, applied left to right; the result must
// not be empty. The members in ascending order; empty when the text is not a valid set.
std::optional<std::vector<unsigned>> referenceParse(std::string_view text) {
    std::vector<bool> set(VcpuSet::kMaxVcpus);
    unsigned end = 0; // above every vCPU ever added: keeps the final scan short
    while (true) {
        const auto comma = text.find(',');
        const std::string_view item = trimSpaces(text.substr(0, comma));
        if (item.empty())
            return std::nullopt;
        if (item.front() == '^') {
            const auto vcpu = boundedNumber(item.substr(1));
            if (!vcpu)
                return std::nullopt;
            set[*vcpu] = false;
        } else if (const auto dash = item.find('-'); dash != std::string_view::npos) {
            const auto first = boundedNumber(trimSpaces(item.substr(0, dash)));
            const auto last = boundedNumber(trimSpaces(item.substr(dash + 1)));
            if (!first || !last || *first > *last)
                return std::nullopt;
            for (unsigned vcpu = *first; vcpu <= *last; ++vcpu)
                set[vcpu] = true;
            end = std::max(end, *last + 1);
        } else {
            const auto vcpu = boundedNumber(item);
            if (!vcpu)
                return std::nullopt;
            set[*vcpu] = true;
            end = std::max(end, *vcpu + 1);
        }
        if (comma == std::string_view::npos)
            break;
        text.remove_prefix(comma + 1);
    }
    std::vector<unsigned> members;
    for (unsigned vcpu = 0; vcpu < end; ++vcpu)
        if (set[vcpu])
            members.push_back(vcpu);
    if (members.empty())
        return std::nullopt;
    return members;
}

// libvirt's bitmap format (vcpu_set.h): ascending, maximal ranges "a-b" (a < b) or single
// numbers, ',' between them, decimal without leading zeros or blanks.
void checkCanonicalText(const std::string& text, const std::vector<unsigned>& members) {
    std::vector<unsigned> listed;
    std::string_view rest = text;
    std::optional<unsigned> previousLast;
    while (true) {
        const auto comma = rest.find(',');
        const std::string_view item = rest.substr(0, comma);
        const auto dash = item.find('-');
        const std::string_view firstText = item.substr(0, dash);
        const std::string_view lastText =
            dash == std::string_view::npos ? firstText : item.substr(dash + 1);
        for (std::string_view number : {firstText, lastText})
            require(!number.empty() &&
                        number.find_first_not_of("0123456789") == std::string::npos &&
                        (number.size() == 1 || number.front() != '0'),
                    "format() prints plain decimal numbers");
        const auto first = boundedNumber(firstText);
        const auto last = boundedNumber(lastText);
        require(first && last, "format() prints members below the bound");
        require(dash == std::string_view::npos || *first < *last, "a printed range has two ends");
        require(!previousLast || *first > *previousLast + 1,
                "printed ranges ascend and are maximal");
        for (unsigned vcpu = *first; vcpu <= *last; ++vcpu)
            listed.push_back(vcpu);
        previousLast = last;
        if (comma == std::string_view::npos)
            break;
        rest.remove_prefix(comma + 1);
    }
    require(listed == members, "format() lists exactly the members");
}

void checkSet(const VcpuSet& set, const std::vector<unsigned>& expected) {
    const std::vector<unsigned> members = set.members();
    require(!set.empty() && !members.empty(), "a parsed set is not empty");
    require(expected == members, "members are those of the reference reading");
    require(set.size() == members.size(), "size() counts the members");
    // Each call of last(), format() and truncated() scans all kMaxVcpus bits: few of them here.
    const unsigned last = set.last();
    require(last == members.back(), "last() is the largest member");
    require(last < VcpuSet::kMaxVcpus, "members stay below libvirt's bound");
    for (unsigned vcpu : members)
        require(set.contains(vcpu), "contains() every member");
    require(!set.contains(VcpuSet::kMaxVcpus), "nothing at the bound");

    const std::string text = set.format();
    checkCanonicalText(text, members);
    require(VcpuSet::parse(text) == set, "parse(format()) == set");

    const VcpuSet withoutLast = set.truncated(last);
    require(!withoutLast.contains(last) && withoutLast.size() == members.size() - 1,
            "truncating at the last member drops just that one");
    require(set.isSubsetOf(set) && set.overlaps(set) && set.intersection(set) == set,
            "a set relates to itself");
    require(set.isSubsetOf(VcpuSet::range(members.front(), last)),
            "a set lies within its first..last range");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const std::optional<std::vector<unsigned>> expected = referenceParse(text);
    VcpuSet set;
    try {
        set = VcpuSet::parse(text);
    } catch (const InvalidDefinition& error) {
        require(!expected, "the parser refuses only what the reference reading refuses");
        require(std::string_view(error.what()).find("vCPU set") != std::string_view::npos,
                "a refusal says it is about a vCPU set");
        return 0;
    }
    require(expected.has_value(), "the parser accepts only what the reference reading accepts");
    checkSet(set, *expected);
    return 0;
}
