// SPDX-License-Identifier: LGPL-2.1-or-later
#include "domain_definition.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <fmt/format.h>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include <libxml/tree.h>

#include "errors.h"
#include "text.h"
#include "xml_document.h"

namespace resctrld {

namespace {

// ---- small libxml2 helpers ------------------------------------------------------------------

std::string_view nameOf(const xmlNode* node) {
    return reinterpret_cast<const char*>(node->name);
}

bool hasNamespace(const xmlNode* node, std::string_view href) {
    return node->ns != nullptr && node->ns->href != nullptr &&
           reinterpret_cast<const char*>(node->ns->href) == href;
}

// Which namespace an element of a container must have to count.
enum class NsRule { None, NoneOrMetadata, Metadata };

bool namespaceMatches(const xmlNode* node, NsRule rule) {
    switch (rule) {
    case NsRule::None:
        return node->ns == nullptr;
    case NsRule::NoneOrMetadata:
        return node->ns == nullptr || hasNamespace(node, kMetadataNamespace);
    case NsRule::Metadata:
        return hasNamespace(node, kMetadataNamespace);
    }
    return false;
}

std::vector<const xmlNode*> childElements(const xmlNode* parent, std::string_view name,
                                          NsRule rule) {
    std::vector<const xmlNode*> out;
    for (const xmlNode* n = parent->children; n != nullptr; n = n->next)
        if (n->type == XML_ELEMENT_NODE && nameOf(n) == name && namespaceMatches(n, rule))
            out.push_back(n);
    return out;
}

struct XmlCharFree {
    void operator()(xmlChar* p) const noexcept { xmlFree(p); }
};

// The value of an attribute in no namespace, as xmlGetNoNsProp gives it, read in place when it
// is one text node (always, for a document without a DTD): a 1 MiB definition can hold a hundred
// thousand attributes, and the copy libxml2 makes of each, only to be copied again and freed,
// was a third of the time spent reading them.
std::optional<std::string> attribute(const xmlNode* node, const char* name) {
    const xmlAttr* attr = xmlHasNsProp(node, reinterpret_cast<const xmlChar*>(name), nullptr);
    if (attr == nullptr)
        return std::nullopt;
    const xmlNode* text = attr->children;
    if (attr->type == XML_ATTRIBUTE_NODE && text != nullptr && text->next == nullptr &&
        (text->type == XML_TEXT_NODE || text->type == XML_CDATA_SECTION_NODE))
        return std::string(text->content != nullptr ? reinterpret_cast<const char*>(text->content)
                                                    : "");
    std::unique_ptr<xmlChar, XmlCharFree> value(
        xmlGetNoNsProp(node, reinterpret_cast<const xmlChar*>(name)));
    if (!value)
        return std::nullopt;
    return std::string(reinterpret_cast<const char*>(value.get()));
}

std::string textOf(const xmlNode* node) {
    std::unique_ptr<xmlChar, XmlCharFree> value(xmlNodeGetContent(node));
    return value ? std::string(reinterpret_cast<const char*>(value.get())) : std::string();
}

std::string quoted(std::string_view attr, std::string_view value) {
    return std::string(attr) + "='" + std::string(value) + "'";
}

[[noreturn]] void invalid(const std::string& message) {
    throw InvalidDefinition(message);
}

// ---- the tuning parser ------------------------------------------------------------------------

// No entry or monitor (an index of the tables below).
constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

// A resctrl definition under construction, with the text the user wrote, for messages, and
// indexes that let each new element be checked against only the earlier ones it can clash with.
struct Entry {
    ResctrlDefinition def;
    std::string element; // "cachetune" or "memorytune": the element that created it
    std::string written; // its vcpus attribute as written
    std::vector<std::string> monitorsWritten;
    // (level, id) -> indexes into def.caches, in document order (two at most: code and data).
    std::map<std::pair<unsigned, unsigned>, std::vector<std::size_t>> cachesById;
    std::set<unsigned> nodes, slowNodes; // of <node>s in memorytunes, slowmemorytunes
    // Indexes into def.monitors of the monitors whose vCPUs equal the entry's (one per kind).
    std::vector<std::size_t> wholeSetMonitors;
    std::string label() const { return element + " " + quoted("vcpus", written); }
};

class TuningParser {
public:
    TuningParser(std::optional<unsigned> vcpuCount, NsRule rule, std::vector<std::string>& warnings)
        : vcpuCount_(vcpuCount)
        , rule_(rule)
        , warnings_(warnings) {}

    Tuning parse(const std::vector<const xmlNode*>& containers) {
        std::vector<const xmlNode*> cachetunes;
        std::vector<const xmlNode*> memorytunes;
        std::vector<const xmlNode*> slowmemorytunes;
        for (const xmlNode* container : containers) {
            for (const xmlNode* node : childElements(container, "cachetune", rule_))
                cachetunes.push_back(node);
            for (const xmlNode* node : childElements(container, "memorytune", rule_))
                memorytunes.push_back(node);
            // AMD's slow-memory (CXL) bandwidth caps: libvirt has no element for them, so
            // only the metadata form carries one.
            if (rule_ != NsRule::None)
                for (const xmlNode* node : childElements(container, "slowmemorytune", rule_))
                    slowmemorytunes.push_back(node);
        }
        checkCounts(cachetunes, memorytunes);
        checkCount(slowmemorytunes.size(), kMaxMemorytunes, "slowmemorytune");
        // libvirt parses every <cachetune> before any <memorytune> (docs/definitions.md appendix
        // §1).
        for (const xmlNode* node : cachetunes)
            parseCachetune(node);
        for (const xmlNode* node : memorytunes)
            parseMemorytune(node, Resource::MB);
        for (const xmlNode* node : slowmemorytunes)
            parseMemorytune(node, Resource::SMBA);
        Tuning tuning;
        for (auto& entry : entries_) {
            auto& caches = entry.def.caches;
            std::sort(caches.begin(), caches.end(), [](const auto& a, const auto& b) {
                return std::tuple(a.level, a.type, a.id) < std::tuple(b.level, b.type, b.id);
            });
            auto& nodes = entry.def.bandwidths;
            std::sort(nodes.begin(), nodes.end(), [](const auto& a, const auto& b) {
                return std::tuple(a.resource, a.node) < std::tuple(b.resource, b.node);
            });
            tuning.definitions.push_back(std::move(entry.def));
        }
        return tuning;
    }

private:
    static void checkCount(std::size_t found, unsigned limit, std::string_view element) {
        if (found > limit)
            invalid(fmt::format("the definition has {} <{}> elements; resctrld accepts at most {}",
                                found, element, limit));
    }

    // The element limits, before any element is looked at closely.
    void checkCounts(const std::vector<const xmlNode*>& cachetunes,
                     const std::vector<const xmlNode*>& memorytunes) const {
        checkCount(cachetunes.size(), kMaxCachetunes, "cachetune");
        checkCount(memorytunes.size(), kMaxMemorytunes, "memorytune");
        std::size_t monitors = 0;
        for (const auto* tunes : {&cachetunes, &memorytunes})
            for (const xmlNode* tune : *tunes)
                monitors += childElements(tune, "monitor", rule_).size();
        checkCount(monitors, kMaxMonitors, "monitor");
    }

    std::string describeLimit() const {
        return fmt::format("the domain's vCPU count {}", vcpuCount_.value_or(0));
    }

    // P1, P2 and the truncation of rule 1 / P3.
    std::pair<std::string, VcpuSet> readVcpus(const xmlNode* node, const std::string& element) {
        auto written = attribute(node, "vcpus");
        if (!written)
            invalid("<" + element + "> is missing the required attribute 'vcpus'");
        VcpuSet set;
        try {
            set = VcpuSet::parse(*written);
        } catch (const InvalidDefinition& e) {
            invalid("<" + element + "> attribute " + quoted("vcpus", *written) +
                    " is not a valid vCPU list: " + e.what());
        }
        if (vcpuCount_)
            set = set.truncated(*vcpuCount_);
        return {*written, set};
    }

    // Rule 2 / P4: a new set must be disjoint from or equal to every earlier one. The entries are
    // disjoint, so the vCPU index names the only entry an equal set can match and, otherwise, the
    // earliest entry it overlaps: the one a comparison with every entry in order would report.
    Entry* findEqual(const std::string& element, const std::string& written, const VcpuSet& set) {
        if (!set.overlaps(claimed_))
            return nullptr;
        const VcpuSet shared = set.intersection(claimed_);
        Entry& candidate = entries_[entryOf_[shared.first()]];
        if (candidate.def.vcpus == set)
            return &candidate;
        std::uint32_t earliest = kNone;
        for (unsigned v : shared.members())
            earliest = std::min(earliest, entryOf_[v]);
        const Entry& entry = entries_[earliest];
        invalid(element + " " + quoted("vcpus", written) + " overlaps " + entry.label() +
                " on vcpu " + set.intersection(entry.def.vcpus).format() +
                " (the vCPUs of cachetunes and memorytunes must be disjoint or equal)");
    }

    void addEntry(Entry&& entry) {
        const auto index = static_cast<std::uint32_t>(entries_.size());
        for (unsigned v : entry.def.vcpus.members())
            entryOf_[v] = index;
        claimed_.insert(entry.def.vcpus);
        entries_.push_back(std::move(entry));
    }

    void parseCachetune(const xmlNode* node) {
        auto [written, vcpus] = readVcpus(node, "cachetune");
        std::string label = "cachetune " + quoted("vcpus", written);
        if (vcpus.empty()) {
            warnings_.push_back(label + " names only vCPUs at or beyond " + describeLimit() +
                                "; it is ignored");
            return;
        }
        if (Entry* same = findEqual("cachetune", written, vcpus))
            invalid(label + " has the same vCPUs as " + same->label() +
                    " (two cachetunes cannot share a vCPU set; put their caches in one)");
        Entry entry{ResctrlDefinition{vcpus, {}, {}, {}}, "cachetune", written, {}, {}, {}, {}, {}};
        for (const xmlNode* cache : childElements(node, "cache", rule_))
            parseCache(entry, cache, label);
        for (const xmlNode* monitor : childElements(node, "monitor", rule_))
            parseMonitor(entry, monitor, MonitorKind::Cache, label);
        if (!entry.def.hasAllocation() && entry.def.monitors.empty()) {
            warnings_.push_back(label + " has neither <cache> nor <monitor>; it is ignored");
            return;
        }
        addEntry(std::move(entry));
    }

    // <memorytune> (MB) and <rd:slowmemorytune> (SMBA) follow the same rules: equal vCPUs merge
    // into an earlier entry, one value per node and vCPU set.
    void parseMemorytune(const xmlNode* node, Resource resource) {
        const std::string element = resource == Resource::SMBA ? "slowmemorytune" : "memorytune";
        auto [written, vcpus] = readVcpus(node, element);
        std::string label = element + " " + quoted("vcpus", written);
        if (vcpus.empty()) {
            warnings_.push_back(label + " names only vCPUs at or beyond " + describeLimit() +
                                "; it is ignored");
            return;
        }
        // Rule 3: equal vcpus merge into the earlier definition (cachetune or memorytune).
        Entry* target = findEqual(element, written, vcpus);
        Entry fresh{ResctrlDefinition{vcpus, {}, {}, {}}, element, written, {}, {}, {}, {}, {}};
        Entry& entry = target != nullptr ? *target : fresh;
        for (const xmlNode* n : childElements(node, "node", rule_))
            parseNode(entry, n, label, resource);
        if (resource == Resource::MB)
            for (const xmlNode* monitor : childElements(node, "monitor", rule_))
                parseMonitor(entry, monitor, MonitorKind::MemoryBandwidth, label);
        if (target != nullptr)
            return;
        if (!fresh.def.hasAllocation() && fresh.def.monitors.empty()) {
            warnings_.push_back(label + " has neither <node> nor <monitor>; it is ignored");
            return;
        }
        addEntry(std::move(fresh));
    }

    template <typename T>
    T requiredNumber(const xmlNode* node, const char* attr, const std::string& where,
                     const char* element) {
        auto text = attribute(node, attr);
        if (!text)
            invalid(where + ": <" + element + "> is missing the required attribute '" + attr + "'");
        auto value = parseUnsigned<T>(*text);
        if (!value)
            invalid(where + ": <" + element + "> attribute " + quoted(attr, *text) +
                    " is not an unsigned integer" +
                    (parseUnsigned<std::uint64_t>(*text) ? " in range" : ""));
        return *value;
    }

    // P6, P7, P8 / rules 4 and 8. `where` is the entry's label.
    void parseCache(Entry& entry, const xmlNode* node, const std::string& where) {
        CacheSpec request;
        request.id = CacheId{requiredNumber<unsigned>(node, "id", where, "cache")};
        request.level = requiredNumber<unsigned>(node, "level", where, "cache");
        auto type = attribute(node, "type");
        if (!type)
            invalid(where + ": <cache> is missing the required attribute 'type'");
        if (*type == "both")
            request.type = CacheType::Both;
        else if (*type == "code")
            request.type = CacheType::Code;
        else if (*type == "data")
            request.type = CacheType::Data;
        else
            invalid(where + ": <cache> attribute " + quoted("type", *type) +
                    " must be 'both', 'code' or 'data'");
        auto size = requiredNumber<std::uint64_t>(node, "size", where, "cache");
        auto unit = attribute(node, "unit");
        try {
            request.size = scaleSize(size, unit.value_or(""));
        } catch (const InvalidDefinition& e) {
            invalid(where + ": <cache> " + quoted("size", std::to_string(size)) +
                    (unit ? " " + quoted("unit", *unit) : "") + ": " + e.what());
        }
        auto& sameCache = entry.cachesById[{request.level, request.id.value}];
        for (std::size_t index : sameCache) {
            const CacheSpec& other = entry.def.caches[index];
            if (other.type == CacheType::Both || request.type == CacheType::Both ||
                other.type == request.type)
                invalid(fmt::format("{}: <cache level='{}' id='{}' type='{}'> collides with "
                                    "type='{}' on the same cache (one 'both', or at most one "
                                    "'code' and one 'data', per cache id)",
                                    where, request.level, request.id.value, toString(request.type),
                                    toString(other.type)));
        }
        sameCache.push_back(entry.def.caches.size());
        entry.def.caches.push_back(request);
    }

    // P16, P18 / rule 7 (the bandwidth maximum depends on the host's MB unit: checked when
    // planning).
    void parseNode(Entry& entry, const xmlNode* node, const std::string& where, Resource resource) {
        BandwidthSpec request;
        request.node = requiredNumber<unsigned>(node, "id", where, "node");
        request.bandwidth = requiredNumber<unsigned>(node, "bandwidth", where, "node");
        request.resource = resource;
        auto& seen = resource == Resource::SMBA ? entry.slowNodes : entry.nodes;
        if (!seen.insert(request.node).second)
            invalid(fmt::format("{}: <node id='{}'> is given twice for vCPUs {} (at most one "
                                "{}bandwidth per node and vCPU set)",
                                where, request.node, entry.def.vcpus.format(),
                                resource == Resource::SMBA ? "slow-memory " : ""));
        entry.def.bandwidths.push_back(request);
    }

    // P9-P15 / rules 5 and 6.
    void parseMonitor(Entry& entry, const xmlNode* node, MonitorKind kind,
                      const std::string& where) {
        if (kind == MonitorKind::Cache) {
            auto level = requiredNumber<unsigned>(node, "level", where, "monitor");
            if (level != 3)
                invalid(fmt::format("{}: <monitor level='{}'> is not supported: only level 3 "
                                    "caches can be monitored",
                                    where, level));
        }
        auto [written, vcpus] = readVcpus(node, "monitor");
        std::string label = "monitor " + quoted("vcpus", written);
        if (vcpus.empty())
            invalid(where + ": " + label + " names no vCPU below " + describeLimit());
        if (!vcpus.isSubsetOf(entry.def.vcpus)) {
            VcpuSet outside = vcpus;
            for (unsigned v : entry.def.vcpus.members())
                outside.erase(v);
            invalid(where + ": " + label + " is not within the vCPUs of its " + entry.element +
                    " (vcpu " + outside.format() + " outside " + entry.def.vcpus.format() + ")");
        }
        const bool allocated = entry.def.hasAllocation();
        for (std::size_t i : clashCandidates(entry, vcpus, allocated)) {
            const auto& other = entry.def.monitors[i];
            std::string otherLabel = "monitor " + quoted("vcpus", entry.monitorsWritten[i]);
            if (other.vcpus == vcpus) {
                if (other.kind == kind)
                    invalid(where + ": " + label + " has the same vCPUs as " + otherLabel +
                            " (two " + std::string(toString(kind)) +
                            " monitors cannot share a vCPU set)");
                continue; // a cache and a bandwidth monitor may share a group (P13)
            }
            // The default monitor reads the allocation group and may overlap others (rule 6).
            if (allocated && (vcpus == entry.def.vcpus || other.vcpus == entry.def.vcpus))
                continue;
            if (vcpus.overlaps(other.vcpus))
                invalid(where + ": " + label + " overlaps " + otherLabel + " on vcpu " +
                        vcpus.intersection(other.vcpus).format() +
                        (allocated ? " (only the default monitor, whose vCPUs equal the "
                                     "allocation's, may overlap other monitors)"
                                   : " (without an allocation no monitor may overlap another)"));
        }
        const auto index = static_cast<std::uint32_t>(entry.def.monitors.size());
        if (vcpus == entry.def.vcpus) {
            entry.wholeSetMonitors.push_back(index);
        } else {
            // Partial monitors are disjoint or equal, and equal ones differ in kind: a vCPU is in
            // two of them at most.
            for (unsigned v : vcpus.members())
                (monitorsOf_[v][0] == kNone ? monitorsOf_[v][0] : monitorsOf_[v][1]) = index;
            monitored_.insert(vcpus);
        }
        entry.def.monitors.push_back(MonitorDefinition{kind, vcpus, parsePriority(node, where)});
        entry.monitorsWritten.push_back(written);
    }

    // The counter-assignment priority: an extension of the metadata form, so libvirt's own
    // <cputune> (whose schema has no such attribute) keeps its meaning and only warns.
    unsigned parsePriority(const xmlNode* node, const std::string& where) {
        auto text = attribute(node, "priority");
        if (!text)
            return 0;
        if (rule_ == NsRule::None) {
            warnings_.push_back(where + ": <monitor> attribute " + quoted("priority", *text) +
                                " is ignored in libvirt's <cputune>; it belongs to the metadata "
                                "form");
            return 0;
        }
        auto value = parseUnsigned<unsigned>(*text);
        if (!value || *value > kMaxMonitorPriority)
            invalid(fmt::format("{}: <monitor> attribute {} must be an integer from 0 to {} "
                                "(higher gets a bandwidth counter first)",
                                where, quoted("priority", *text), kMaxMonitorPriority));
        return *value;
    }

    // The earlier monitors of `entry` that a monitor over `vcpus` can clash with, ascending: the
    // first of them that does is the first a comparison with every earlier monitor in document
    // order would find. Earlier monitors are of two sorts. Whole-set monitors (vCPUs equal to
    // the entry's, at most one per kind) clash with a new monitor unless the entry has an
    // allocation. Partial monitors are disjoint or equal to each other (what this check keeps
    // true), so the vCPU index finds the few a new one touches.
    std::vector<std::size_t> clashCandidates(const Entry& entry, const VcpuSet& vcpus,
                                             bool allocated) const {
        const auto& monitors = entry.def.monitors;
        if (vcpus == entry.def.vcpus) {
            if (allocated)
                return entry.wholeSetMonitors;
            // Every earlier monitor overlaps it: the first clashes unless it is a whole-set
            // monitor of the other kind, and then the second does, whatever it is.
            std::vector<std::size_t> firstTwo;
            for (std::size_t i = 0; i < std::min<std::size_t>(2, monitors.size()); ++i)
                firstTwo.push_back(i);
            return firstTwo;
        }
        std::vector<std::size_t> candidates;
        if (!allocated)
            candidates = entry.wholeSetMonitors;
        if (vcpus.overlaps(monitored_)) {
            const VcpuSet shared = vcpus.intersection(monitored_);
            const auto& first = monitorsOf_[shared.first()];
            const bool equalExists = std::any_of(first.begin(), first.end(), [&](auto i) {
                return i != kNone && monitors[i].vcpus == vcpus;
            });
            if (equalExists) {
                // Then every partial monitor it touches is one of these equal ones.
                for (std::uint32_t i : first)
                    if (i != kNone)
                        candidates.push_back(i);
            } else {
                // Every partial monitor it touches overlaps it without being equal: the
                // earliest one clashes.
                std::uint32_t earliest = kNone;
                for (unsigned v : shared.members())
                    for (std::uint32_t i : monitorsOf_[v])
                        earliest = std::min(earliest, i);
                candidates.push_back(earliest);
            }
        }
        std::sort(candidates.begin(), candidates.end());
        return candidates;
    }

    std::optional<unsigned> vcpuCount_;
    NsRule rule_;
    std::vector<std::string>& warnings_;
    std::vector<Entry> entries_;
    // Rule 2 keeps the entries disjoint: the entry holding each vCPU, and all they hold.
    std::vector<std::uint32_t> entryOf_ = std::vector<std::uint32_t>(VcpuSet::kMaxVcpus, kNone);
    VcpuSet claimed_;
    // The partial monitors (vCPUs a proper subset of their entry's) holding each vCPU, and all
    // they hold. Monitors lie within their entry, so one table serves every entry.
    std::vector<std::array<std::uint32_t, 2>> monitorsOf_ =
        std::vector<std::array<std::uint32_t, 2>>(VcpuSet::kMaxVcpus, {kNone, kNone});
    VcpuSet monitored_;
};

// ---- domain-level fields ------------------------------------------------------------------------

void checkName(const std::string& name) {
    if (name.empty())
        invalid("<name> is empty");
    // The name ends up in resctrl directory names: no path separators, no control characters.
    for (char c : name) {
        if (c == '/')
            invalid("<name> '" + name + "' must not contain '/'");
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            invalid("<name> must not contain control characters");
    }
}

std::string canonicalUuid(std::string_view text) {
    std::string hex;
    for (char c : trim(text)) {
        if (c == '-')
            continue;
        bool isHex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!isHex)
            invalid("<uuid> '" + std::string(text) + "' is malformed: not a hexadecimal UUID");
        hex += static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
    }
    if (hex.size() != 32)
        invalid("<uuid> '" + std::string(text) + "' is malformed: expected 32 hex digits");
    return hex.substr(0, 8) + '-' + hex.substr(8, 4) + '-' + hex.substr(12, 4) + '-' +
           hex.substr(16, 4) + '-' + hex.substr(20);
}

void parseVcpuElement(const xmlNode* domain, DomainDefinition& out) {
    auto elements = childElements(domain, "vcpu", NsRule::None);
    if (elements.empty())
        return;
    std::string text(trim(textOf(elements.front())));
    auto max = parseUnsigned<unsigned>(text);
    if (!max || *max == 0 || *max > VcpuSet::kMaxVcpus)
        invalid(fmt::format("<vcpu>{}</vcpu> is not a vCPU count between 1 and {}", text,
                            VcpuSet::kMaxVcpus));
    out.maxVcpus = *max;
    out.vcpuCount = *max;
    if (auto current = attribute(elements.front(), "current")) {
        auto value = parseUnsigned<unsigned>(*current);
        if (!value || *value == 0)
            invalid("<vcpu> attribute " + quoted("current", *current) +
                    " is not a positive integer");
        if (*value > *max)
            invalid(fmt::format("<vcpu> attribute {} exceeds the maximum vCPU count {}",
                                quoted("current", *current), *max));
        out.vcpuCount = *value;
    }
}

void parseStatus(const xmlNode* status, DomainDefinition& out) {
    out.isStatus = true;
    if (auto pid = attribute(status, "pid")) {
        auto value = parseUnsigned<std::uint32_t>(*pid);
        if (!value || *value == 0)
            invalid("<domstatus> attribute " + quoted("pid", *pid) + " is not a process id");
        out.hypervisorPid = *value;
    }
    std::vector<bool> listed(VcpuSet::kMaxVcpus);
    for (const xmlNode* vcpus : childElements(status, "vcpus", NsRule::None)) {
        for (const xmlNode* vcpu : childElements(vcpus, "vcpu", NsRule::None)) {
            auto id = attribute(vcpu, "id");
            auto pid = attribute(vcpu, "pid");
            if (!id || !pid)
                invalid("<domstatus><vcpus><vcpu> needs both 'id' and 'pid' attributes");
            auto idValue = parseUnsigned<unsigned>(*id);
            auto pidValue = parseUnsigned<std::uint32_t>(*pid);
            if (!idValue || *idValue >= VcpuSet::kMaxVcpus)
                invalid("<domstatus><vcpus><vcpu> attribute " + quoted("id", *id) +
                        " is not a vCPU number");
            if (!pidValue || *pidValue == 0)
                invalid("<domstatus><vcpus><vcpu id='" + *id + "'> attribute " +
                        quoted("pid", *pid) + " is not a thread id");
            if (listed[*idValue])
                invalid("<domstatus><vcpus> lists vcpu id='" + *id + "' twice");
            listed[*idValue] = true;
            out.vcpuThreads.push_back(VcpuThread{*idValue, *pidValue});
        }
    }
    std::sort(out.vcpuThreads.begin(), out.vcpuThreads.end(),
              [](const auto& a, const auto& b) { return a.vcpu < b.vcpu; });
}

bool hasTuningElements(const std::vector<const xmlNode*>& containers, NsRule rule) {
    for (const xmlNode* c : containers)
        if (!childElements(c, "cachetune", rule).empty() ||
            !childElements(c, "memorytune", rule).empty())
            return true;
    return false;
}

} // namespace

std::string_view toString(MonitorKind kind) noexcept {
    return kind == MonitorKind::Cache ? "cache" : "memory-bandwidth";
}

Bytes scaleSize(std::uint64_t value, std::string_view unit) {
    // libvirt's virScaleInteger (docs/definitions.md appendix §1.1): case-insensitive; "b", "byte",
    // "bytes"; one letter or "XiB" = powers of 1024; "XB" = powers of 1000; absent = KiB.
    auto lower = [](char c) {
        return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    };
    std::string u;
    for (char c : unit)
        u += lower(c);
    std::uint64_t base = 1024;
    unsigned power = 1;
    if (u.empty()) {
        power = 1;
    } else if (u == "b" || u == "byte" || u == "bytes") {
        power = 0;
    } else {
        if (u.size() == 2 && u[1] == 'b')
            base = 1000;
        else if (!(u.size() == 1 || (u.size() == 3 && u[1] == 'i' && u[2] == 'b')))
            invalid("unknown unit '" + std::string(unit) +
                    "' (use B, KiB, MiB, GiB, TiB or KB, "
                    "MB, GB, TB)");
        static constexpr std::string_view kLetters = "kmgtpe";
        auto pos = kLetters.find(u[0]);
        if (pos == std::string_view::npos)
            invalid("unknown unit '" + std::string(unit) +
                    "' (use B, KiB, MiB, GiB, TiB or KB, "
                    "MB, GB, TB)");
        power = static_cast<unsigned>(pos) + 1;
    }
    std::uint64_t scale = 1;
    for (unsigned i = 0; i < power; ++i)
        scale *= base;
    if (value > std::numeric_limits<std::uint64_t>::max() / scale)
        invalid("the size overflows 64 bits of bytes");
    return value * scale;
}

DomainDefinition parseDomainDefinition(std::string_view xml) {
    XmlDocument doc = XmlDocument::parse(xml);
    const xmlNode* root = doc.root();
    DomainDefinition out;
    const xmlNode* domain = root;
    if (root->ns == nullptr && nameOf(root) == "domstatus") {
        parseStatus(root, out);
        auto domains = childElements(root, "domain", NsRule::None);
        if (domains.size() != 1)
            invalid("<domstatus> must contain exactly one <domain>");
        domain = domains.front();
    } else if (root->ns != nullptr || nameOf(root) != "domain") {
        invalid("the root element is <" + std::string(nameOf(root)) +
                ">; expected <domain> or <domstatus>");
    }

    out.virtType = attribute(domain, "type").value_or("");
    auto names = childElements(domain, "name", NsRule::None);
    if (names.empty())
        invalid("<domain> is missing the required element <name>");
    out.name = textOf(names.front());
    checkName(out.name);
    if (auto uuids = childElements(domain, "uuid", NsRule::None); !uuids.empty())
        out.uuid = canonicalUuid(textOf(uuids.front()));
    parseVcpuElement(domain, out);

    // The metadata form wins over <cputune> (docs/api.md "Definitions the daemon accepts").
    std::vector<const xmlNode*> metadataTunes;
    for (const xmlNode* metadata : childElements(domain, "metadata", NsRule::None))
        for (const xmlNode* tune : childElements(metadata, "cputune", NsRule::Metadata))
            metadataTunes.push_back(tune);
    if (metadataTunes.size() > 1)
        invalid("<metadata> holds more than one <cputune xmlns='" +
                std::string(kMetadataNamespace) + "'>");
    auto cputunes = childElements(domain, "cputune", NsRule::None);

    std::vector<const xmlNode*> containers;
    NsRule rule = NsRule::None;
    if (!metadataTunes.empty()) {
        containers = metadataTunes;
        rule = NsRule::NoneOrMetadata;
        out.tuningSource = TuningSource::Metadata;
        out.cputuneTuningIgnored = hasTuningElements(cputunes, NsRule::None);
    } else if (hasTuningElements(cputunes, NsRule::None)) {
        containers = cputunes;
        out.tuningSource = TuningSource::Cputune;
        // P19: libvirt's qemu driver refuses cachetune/memorytune for non-KVM domains. The
        // metadata form exists precisely to carry tuning past that check, so it is exempt.
        if (!out.virtType.empty() && out.virtType != "kvm")
            throw NotSupported("<cputune> <cachetune>/<memorytune> is only supported for KVM "
                               "domains (<domain type='" +
                               out.virtType +
                               "'>); put the tuning in <metadata><rd:cputune xmlns:rd='" +
                               std::string(kMetadataNamespace) + "'> instead");
    }
    TuningParser parser(out.vcpuCount, rule, out.warnings);
    out.tuning = parser.parse(containers);
    if (out.tuning.empty())
        out.tuningSource = containers.empty() ? TuningSource::None : out.tuningSource;
    return out;
}

namespace {

std::string describeCaches(const std::vector<CacheSpec>& caches) {
    std::vector<std::string> parts;
    for (const CacheSpec& cache : caches)
        parts.push_back(fmt::format(
            "L{} {}{} {}", cache.level, cache.id.value,
            cache.type == CacheType::Both ? std::string() : " " + std::string(toString(cache.type)),
            formatBytes(cache.size)));
    return parts.empty() ? "none" : fmt::format("{}", fmt::join(parts, ", "));
}

std::string describeBandwidths(const std::vector<BandwidthSpec>& bandwidths) {
    std::vector<std::string> parts;
    for (const BandwidthSpec& node : bandwidths)
        parts.push_back(fmt::format("node {} {}", node.node, node.bandwidth));
    return parts.empty() ? "none" : fmt::format("{}", fmt::join(parts, ", "));
}

std::string describeMonitors(const std::vector<MonitorDefinition>& monitors) {
    std::vector<std::string> parts;
    for (const MonitorDefinition& monitor : monitors)
        parts.push_back(fmt::format("{} {}", toString(monitor.kind), monitor.name()));
    return parts.empty() ? "none" : fmt::format("{}", fmt::join(parts, ", "));
}

} // namespace

std::vector<std::string> tuningDifferences(const Tuning& running, const Tuning& given) {
    std::vector<std::string> differences;
    auto find = [](const Tuning& tuning, const VcpuSet& vcpus) -> const ResctrlDefinition* {
        for (const ResctrlDefinition& definition : tuning.definitions)
            if (definition.vcpus == vcpus)
                return &definition;
        return nullptr;
    };
    for (const ResctrlDefinition& mine : running.definitions) {
        const ResctrlDefinition* theirs = find(given, mine.vcpus);
        if (!theirs) {
            differences.push_back(mine.name() + " only running");
            continue;
        }
        auto compare = [&](const char* what, const std::string& a, const std::string& b) {
            if (a != b)
                differences.push_back(
                    fmt::format("{}: {} {} running, {} given", mine.name(), what, a, b));
        };
        compare("caches", describeCaches(mine.caches), describeCaches(theirs->caches));
        compare("bandwidths", describeBandwidths(mine.bandwidths),
                describeBandwidths(theirs->bandwidths));
        compare("monitors", describeMonitors(mine.monitors), describeMonitors(theirs->monitors));
    }
    for (const ResctrlDefinition& theirs : given.definitions)
        if (!find(running, theirs.vcpus))
            differences.push_back(theirs.name() + " only given");
    return differences;
}

} // namespace resctrld
