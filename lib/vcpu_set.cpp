// SPDX-License-Identifier: LGPL-2.1-or-later
#include "vcpu_set.h"

#include <charconv>
#include <fmt/format.h>

#include "errors.h"

namespace resctrld {

namespace {

bool isSpace(char c) {
    // libvirt's virSkipSpaces: space, tab, newline, carriage return, vertical tab, form feed.
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool isDigit(char c) {
    return c >= '0' && c <= '9';
}

[[noreturn]] void fail(std::string_view text, std::string_view why) {
    throw InvalidDefinition("invalid vCPU set '" + std::string(text) + "': " + std::string(why));
}

class Cursor {
public:
    explicit Cursor(std::string_view text)
        : text_(text) {}
    void skipSpaces() {
        while (pos_ < text_.size() && isSpace(text_[pos_]))
            ++pos_;
    }
    bool atEnd() const { return pos_ >= text_.size(); }
    char peek() const { return atEnd() ? '\0' : text_[pos_]; }
    void advance() { ++pos_; }
    unsigned number() {
        if (!isDigit(peek()))
            fail(text_, fmt::format("expected a number at offset {}", pos_));
        unsigned long long value = 0;
        auto first = text_.data() + pos_;
        auto end = first;
        while (end != text_.data() + text_.size() && isDigit(*end))
            ++end;
        auto [ptr, ec] = std::from_chars(first, end, value);
        if (ec != std::errc() || value >= VcpuSet::kMaxVcpus)
            fail(text_, fmt::format("vCPU {} is beyond the limit of {}",
                                    std::string_view(first, end), VcpuSet::kMaxVcpus));
        pos_ += static_cast<std::size_t>(ptr - first);
        return static_cast<unsigned>(value);
    }

private:
    std::string_view text_;
    std::size_t pos_ = 0;
};

} // namespace

VcpuSet VcpuSet::parse(std::string_view text) {
    // Mirrors libvirt's virBitmapParse (docs/definitions.md appendix §1.1): items are applied left
    // to right, so `^N` removes N from what came before it and a later item may add it back.
    VcpuSet set;
    Cursor cur(text);
    cur.skipSpaces();
    if (cur.atEnd())
        fail(text, "it is empty");
    while (true) {
        bool negate = false;
        if (cur.peek() == '^') {
            negate = true;
            cur.advance();
        }
        unsigned first = cur.number();
        cur.skipSpaces();
        if (cur.peek() == '-') {
            if (negate)
                fail(text, "a range cannot be excluded with '^'");
            cur.advance();
            cur.skipSpaces();
            unsigned last = cur.number();
            if (last < first)
                fail(text, fmt::format("range {}-{} ends before it starts", first, last));
            for (unsigned v = first; v <= last; ++v)
                set.bits_.set(v);
            cur.skipSpaces();
        } else if (negate) {
            set.bits_.reset(first);
        } else {
            set.bits_.set(first);
        }
        if (cur.atEnd())
            break;
        if (cur.peek() != ',')
            fail(text, std::string("unexpected character '") + cur.peek() + "'");
        cur.advance();
        cur.skipSpaces();
    }
    // docs/definitions.md "Grammar": empty sets are invalid.
    if (set.empty())
        fail(text, "it names no vCPU");
    return set;
}

VcpuSet VcpuSet::range(unsigned first, unsigned last) {
    if (last >= kMaxVcpus || first > last)
        throw InvalidDefinition(fmt::format("invalid vCPU range {}-{}", first, last));
    VcpuSet set;
    for (unsigned v = first; v <= last; ++v)
        set.bits_.set(v);
    return set;
}

void VcpuSet::insert(unsigned vcpu) {
    if (vcpu >= kMaxVcpus)
        throw InvalidDefinition(fmt::format("vCPU {} is beyond the limit of {}", vcpu, kMaxVcpus));
    bits_.set(vcpu);
}

void VcpuSet::erase(unsigned vcpu) {
    if (vcpu < kMaxVcpus)
        bits_.reset(vcpu);
}

bool VcpuSet::contains(unsigned vcpu) const noexcept {
    return vcpu < kMaxVcpus && bits_.test(vcpu);
}

// Members are found a machine word at a time with libstdc++'s _Find_first/_Find_next (a GNU
// extension of std::bitset): a bit-by-bit scan of kMaxVcpus bits per call made GetStats, which
// formats every monitor's set, spend most of its time here.
unsigned VcpuSet::first() const noexcept {
    return static_cast<unsigned>(bits_._Find_first());
}

unsigned VcpuSet::last() const noexcept {
    unsigned last = 0;
    for (std::size_t v = bits_._Find_first(); v < kMaxVcpus; v = bits_._Find_next(v))
        last = static_cast<unsigned>(v);
    return last;
}

std::vector<unsigned> VcpuSet::members() const {
    std::vector<unsigned> out;
    out.reserve(size());
    for (std::size_t v = bits_._Find_first(); v < kMaxVcpus; v = bits_._Find_next(v))
        out.push_back(static_cast<unsigned>(v));
    return out;
}

std::string VcpuSet::format() const {
    std::string out;
    std::size_t v = bits_._Find_first();
    while (v < kMaxVcpus) {
        const std::size_t first = v;
        std::size_t next = bits_._Find_next(v);
        while (next < kMaxVcpus && next == v + 1) {
            v = next;
            next = bits_._Find_next(v);
        }
        if (!out.empty())
            out += ',';
        out += std::to_string(first);
        if (v != first)
            out += fmt::format("-{}", v);
        v = next;
    }
    return out;
}

bool VcpuSet::isSubsetOf(const VcpuSet& other) const noexcept {
    return (bits_ & ~other.bits_).none();
}

bool VcpuSet::overlaps(const VcpuSet& other) const noexcept {
    return (bits_ & other.bits_).any();
}

VcpuSet VcpuSet::intersection(const VcpuSet& other) const noexcept {
    VcpuSet out;
    out.bits_ = bits_ & other.bits_;
    return out;
}

VcpuSet VcpuSet::truncated(unsigned count) const noexcept {
    if (count >= kMaxVcpus)
        return *this;
    std::bitset<kMaxVcpus> below;
    below.set();
    below >>= kMaxVcpus - count; // the `count` lowest bits
    VcpuSet out;
    out.bits_ = bits_ & below;
    return out;
}

} // namespace resctrld
