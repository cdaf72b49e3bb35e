// SPDX-License-Identifier: LGPL-2.1-or-later
#include "layout_reply.h"

#include <fmt/format.h>

namespace resctrld {
namespace {

// The length of the valid UTF-8 sequence at the start of `text` (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF, no NUL, which D-Bus refuses too), 0 when there is none.
std::size_t utf8SequenceLength(std::string_view text) {
    const auto byte = [&](std::size_t i) {
        return static_cast<unsigned char>(text[i]);
    };
    const auto continuation = [&](std::size_t i) {
        return i < text.size() && (byte(i) & 0xc0) == 0x80;
    };
    const unsigned char first = byte(0);
    if (first >= 0x01 && first <= 0x7f)
        return 1;
    if (first >= 0xc2 && first <= 0xdf)
        return continuation(1) ? 2 : 0;
    if (first >= 0xe0 && first <= 0xef) {
        if (!continuation(1) || !continuation(2))
            return 0;
        const unsigned char second = byte(1);
        if ((first == 0xe0 && second < 0xa0) || (first == 0xed && second >= 0xa0))
            return 0;
        return 3;
    }
    if (first >= 0xf0 && first <= 0xf4) {
        if (!continuation(1) || !continuation(2) || !continuation(3))
            return 0;
        const unsigned char second = byte(1);
        if ((first == 0xf0 && second < 0x90) || (first == 0xf4 && second >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

LayoutHolders::value_type holder(const LayoutGroup& group, std::string value) {
    return {validUtf8(group.path), layoutOwnerName(group), std::move(value)};
}

std::string unitName(const BandwidthLayout& entry) {
    // The API's name for mba_MBps; the host model's own name for the others.
    return entry.unit == BandwidthUnit::MiBps ? "MBps" : std::string(toString(entry.unit));
}

} // namespace

std::string validUtf8(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    while (!text.empty()) {
        if (const std::size_t length = utf8SequenceLength(text); length > 0) {
            out.append(text.substr(0, length));
            text.remove_prefix(length);
            continue;
        }
        out += fmt::format("\\x{:02x}", static_cast<unsigned char>(text.front()));
        text.remove_prefix(1);
    }
    return out;
}

std::string layoutOwnerName(const LayoutGroup& group) {
    switch (group.owner) {
    case LayoutOwner::Default:
        return "default";
    case LayoutOwner::Domain:
        return "domain:" + validUtf8(group.domain);
    case LayoutOwner::Foreign:
        break;
    }
    return "foreign";
}

LayoutReply encodeLayout(const HostLayout& layout) {
    LayoutReply reply;
    auto& [caches, bandwidths] = reply;
    caches.reserve(layout.caches.size());
    for (const CacheLayout& entry : layout.caches) {
        LayoutHolders holders;
        holders.reserve(entry.holders.size());
        for (const CacheLayout::Holder& h : entry.holders)
            holders.push_back(holder(h.group, h.mask.toHex()));
        caches.emplace_back(std::string(resourceName(entry.resource)), entry.id.value, entry.ways,
                            entry.bytesPerWay, entry.shareableBits.toHex(),
                            entry.ioAllocMask ? entry.ioAllocMask->toHex() : std::string(),
                            std::move(holders));
    }
    bandwidths.reserve(layout.bandwidths.size());
    for (const BandwidthLayout& entry : layout.bandwidths) {
        LayoutHolders holders;
        holders.reserve(entry.holders.size());
        for (const BandwidthLayout::Holder& h : entry.holders)
            holders.push_back(holder(h.group, std::to_string(h.value)));
        bandwidths.emplace_back(std::string(resourceName(entry.resource)), unitName(entry),
                                entry.id.value, std::move(holders));
    }
    return reply;
}

} // namespace resctrld
