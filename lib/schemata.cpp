// SPDX-License-Identifier: LGPL-2.1-or-later
#include "schemata.h"

#include <algorithm>
#include <fmt/format.h>
#include <string>

#include "errors.h"
#include "text.h"

namespace resctrld {
namespace {

[[noreturn]] void fail(std::size_t lineNo, std::string_view line, std::string_view what) {
    throw ResctrlUnavailable(
        fmt::format("cannot parse schemata line {} '{}': {}", lineNo, line, what));
}

std::string padLeft(std::string text, unsigned width, char fill) {
    if (text.size() < width)
        text.insert(0, width - text.size(), fill);
    return text;
}

} // namespace

Schemata Schemata::parse(std::string_view text) {
    Schemata result;
    std::size_t lineNo = 0;
    for (const std::string_view rawLine : splitLines(text)) {
        ++lineNo;

        const std::string_view line = trim(rawLine);
        if (line.empty())
            continue;
        const auto colon = line.find(':');
        if (colon == std::string_view::npos)
            fail(lineNo, line, "no ':' after the resource name");
        const std::string_view name = trim(line.substr(0, colon));
        const auto resource = parseResourceName(name);
        if (!resource)
            continue; // a resource this version does not know (forward compatibility)
        std::string_view rest = trim(line.substr(colon + 1));
        if (rest == "uninitialized")
            continue; // pseudo-locksetup: the group holds nothing yet (§4.6)
        if (rest.empty())
            fail(lineNo, line, "no domains after the resource name");

        bool namesDomain = false;
        while (!rest.empty()) {
            const auto semicolon = rest.find(';');
            const std::string_view entry = trim(rest.substr(0, semicolon));
            rest = semicolon == std::string_view::npos ? std::string_view{}
                                                       : rest.substr(semicolon + 1);
            if (entry.empty()) {
                if (!trim(rest).empty())
                    fail(lineNo, line, "empty entry between ';'");
                // A trailing ';' is fine, but "L3:;" names no domain, like "L3:".
                if (!namesDomain)
                    fail(lineNo, line, "no domains after the resource name");
                break;
            }
            const auto equals = entry.find('=');
            if (equals == std::string_view::npos)
                fail(lineNo, line, "entry '" + std::string(entry) + "' has no '='");
            const std::string_view idText = trim(entry.substr(0, equals));
            const std::string_view valueText = trim(entry.substr(equals + 1));
            const auto id = parseUnsigned<unsigned>(idText);
            if (!id)
                fail(lineNo, line, "domain id '" + std::string(idText) + "' is not a number");
            const CacheId cacheId{*id};
            const bool duplicate = isCacheResource(*resource)
                                       ? result.mask(*resource, cacheId).has_value()
                                       : result.bandwidth(*resource, cacheId).has_value();
            if (duplicate)
                fail(lineNo, line, fmt::format("domain {} appears twice", *id));
            if (isCacheResource(*resource)) {
                const auto mask = CbmMask::parseHex(valueText);
                if (!mask)
                    fail(lineNo, line, fmt::format("'{}' is not a hex mask", valueText));
                result.setMask(*resource, cacheId, *mask);
            } else {
                const auto value = parseUnsigned<std::uint32_t>(valueText);
                if (!value)
                    fail(lineNo, line,
                         fmt::format("'{}' is not a decimal bandwidth value", valueText));
                result.setBandwidth(*resource, cacheId, *value);
            }
            namesDomain = true;
        }
    }
    return result;
}

std::optional<CbmMask> Schemata::mask(Resource resource, CacheId id) const {
    const auto& byId = masks(resource);
    const auto it = byId.find(id);
    if (it == byId.end())
        return std::nullopt;
    return it->second;
}

void Schemata::setMask(Resource resource, CacheId id, CbmMask mask) {
    masks_[resource][id] = mask;
}

std::optional<std::uint32_t> Schemata::bandwidth(Resource resource, CacheId id) const {
    const auto& byId = bandwidths(resource);
    const auto it = byId.find(id);
    if (it == byId.end())
        return std::nullopt;
    return it->second;
}

void Schemata::setBandwidth(Resource resource, CacheId id, std::uint32_t value) {
    bandwidths_[resource][id] = value;
}

const std::map<CacheId, CbmMask>& Schemata::masks(Resource resource) const {
    static const std::map<CacheId, CbmMask> kNone;
    const auto it = masks_.find(resource);
    return it == masks_.end() ? kNone : it->second;
}

const std::map<CacheId, std::uint32_t>& Schemata::bandwidths(Resource resource) const {
    static const std::map<CacheId, std::uint32_t> kNone;
    const auto it = bandwidths_.find(resource);
    return it == bandwidths_.end() ? kNone : it->second;
}

bool Schemata::has(Resource resource) const {
    return masks_.count(resource) != 0 || bandwidths_.count(resource) != 0;
}

std::vector<Resource> Schemata::resources() const {
    std::vector<Resource> result;
    for (Resource resource : kAllResources)
        if (has(resource))
            result.push_back(resource);
    return result;
}

void Schemata::merge(const Schemata& other) {
    for (const auto& [resource, byId] : other.masks_)
        for (const auto& [id, mask] : byId)
            setMask(resource, id, mask);
    for (const auto& [resource, byId] : other.bandwidths_)
        for (const auto& [id, value] : byId)
            setBandwidth(resource, id, value);
}

std::string Schemata::formatLine(Resource resource, const SchemataFormat& layout) const {
    if (!has(resource))
        return {};
    std::string line = padLeft(std::string(resourceName(resource)), layout.nameWidth, ' ') + ":";
    bool first = true;
    auto append = [&](CacheId id, std::string value) {
        if (!first)
            line += ';';
        first = false;
        line += fmt::format("{}={}", id.value, value);
    };
    if (isCacheResource(resource)) {
        for (const auto& [id, mask] : masks(resource))
            append(id, padLeft(mask.toHex(), layout.valueWidth, '0'));
    } else {
        for (const auto& [id, value] : bandwidths(resource))
            append(id, padLeft(std::to_string(value), layout.valueWidth, ' '));
    }
    return line + "\n";
}

std::string Schemata::format(const SchemataFormat& layout) const {
    std::vector<Resource> order = resources();
    if (layout.kernelLineOrder)
        std::reverse(order.begin(), order.end());
    std::string text;
    for (Resource resource : order)
        text += formatLine(resource, layout);
    return text;
}

} // namespace resctrld
