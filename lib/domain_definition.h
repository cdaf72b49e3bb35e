// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "resource.h"
#include "types.h"
#include "vcpu_set.h"

namespace resctrld {

// One `<cache>` of a cachetune (docs/definitions.md "Grammar").
struct CacheSpec {
    unsigned level = 3;
    CacheId id;
    CacheType type = CacheType::Both;
    Bytes size = 0;
    friend bool operator==(const CacheSpec&, const CacheSpec&) = default;
};

// One `<node>` of a memorytune (resource MB) or of a metadata-form slowmemorytune (SMBA): the
// domain id (an L3 cache id) and the value in the host's unit for that resource.
struct BandwidthSpec {
    unsigned node = 0;
    unsigned bandwidth = 0;
    Resource resource = Resource::MB;
    friend bool operator==(const BandwidthSpec&, const BandwidthSpec&) = default;
};

enum class MonitorKind { Cache, MemoryBandwidth };

inline constexpr unsigned kMaxMonitorPriority = 1000;

std::string_view toString(MonitorKind kind) noexcept;

// A `<monitor>` of a cachetune (kind Cache, level 3) or of a memorytune (kind MemoryBandwidth).
struct MonitorDefinition {
    MonitorKind kind = MonitorKind::Cache;
    VcpuSet vcpus;
    // Who gets a hardware bandwidth counter first on hosts with fewer counters than monitors
    // (higher first, then in order of start): the `priority` attribute of the metadata form,
    // 0 to kMaxMonitorPriority.
    unsigned priority = 0;
    // libvirt's monitor name: `vcpus_<list>` (docs/definitions.md "Names and reporting").
    std::string name() const { return "vcpus_" + vcpus.format(); }
    friend bool operator==(const MonitorDefinition&, const MonitorDefinition&) = default;
};

// One libvirt "resctrl definition": a distinct vCPU set owning one allocation (cache sizes and
// bandwidths, possibly none) and its monitors. A memorytune whose vcpus equal an earlier
// cachetune's or memorytune's merges into that entry (docs/definitions.md rule 3).
struct ResctrlDefinition {
    VcpuSet vcpus;
    std::vector<CacheSpec> caches;           // sorted by level, type, id (libvirt's order)
    std::vector<BandwidthSpec> bandwidths;   // sorted by resource (MB, SMBA), then node
    std::vector<MonitorDefinition> monitors; // document order: cachetune's, then memorytune's
    bool hasAllocation() const noexcept { return !caches.empty() || !bandwidths.empty(); }
    // The default monitor reads the allocation group itself (docs/definitions.md rule 6).
    bool isDefaultMonitor(const MonitorDefinition& monitor) const noexcept {
        return hasAllocation() && monitor.vcpus == vcpus;
    }
    // libvirt's allocation id, `vcpus_<list>` (docs/definitions.md appendix §4.1).
    std::string name() const { return "vcpus_" + vcpus.format(); }
    friend bool operator==(const ResctrlDefinition&, const ResctrlDefinition&) = default;
};

// The parsed cache and bandwidth tuning of a domain. Two definitions with equal tuning create the
// same groups ("StartDomain twice with an equal definition", docs/api.md).
struct Tuning {
    std::vector<ResctrlDefinition> definitions;
    bool empty() const noexcept { return definitions.empty(); }
    friend bool operator==(const Tuning&, const Tuning&) = default;
};

enum class TuningSource { None, Cputune, Metadata };

struct VcpuThread {
    unsigned vcpu = 0;
    std::uint32_t tid = 0;
    friend bool operator==(const VcpuThread&, const VcpuThread&) = default;
};

// A `<domain>` or `<domstatus>` document reduced to what resctrld needs.
struct DomainDefinition {
    std::string name;
    std::string uuid;     // canonical lowercase 8-4-4-4-12, "" when the document has none
    std::string virtType; // `<domain type>`, "" when absent
    // vCPUs counted for truncation (docs/definitions.md rule 1): `<vcpu current>` if present, else
    // the element's value. Absent `<vcpu>` (minimal documents): nullopt, and no set is truncated.
    std::optional<unsigned> vcpuCount;
    std::optional<unsigned> maxVcpus;    // the `<vcpu>` element's value
    bool isStatus = false;               // parsed from `<domstatus>`
    std::uint32_t hypervisorPid = 0;     // `<domstatus pid>`, 0 when unknown
    std::vector<VcpuThread> vcpuThreads; // `<domstatus><vcpus><vcpu id pid/>`, by vcpu
    Tuning tuning;
    TuningSource tuningSource = TuningSource::None;
    // True when `<metadata>`'s resctrld element won over tuning present in `<cputune>`
    // (docs/api.md: "the metadata form wins ... (logged)"): the daemon logs it.
    bool cputuneTuningIgnored = false;
    // Things libvirt drops silently and resctrld reports (docs/definitions.md rule 1), one line
    // each.
    std::vector<std::string> warnings;

    // Same domain, same tuning: a second StartDomain with it is a reconnect, not a conflict.
    bool isEquivalentTo(const DomainDefinition& other) const {
        return name == other.name && uuid == other.uuid && tuning == other.tuning;
    }
};

// What differs between the tuning of a running domain and another definition of it, one phrase
// per resctrl definition (by vCPU set): "vcpus_0-1: caches L3 0 10 MiB running, L3 0 5 MiB
// given", "vcpus_2 only running". Empty when the tunings are equal.
std::vector<std::string> tuningDifferences(const Tuning& running, const Tuning& given);

// The most elements of each kind one definition may hold. A host has a few dozen CLOSIDs and a
// few hundred RMIDs at most, so no definition a host could start comes near these; they bound
// what anyone who may call ValidateDomain can make the daemon do with one document. Counted
// before any element is checked.
inline constexpr unsigned kMaxCachetunes = 256;
inline constexpr unsigned kMaxMemorytunes = 256;
inline constexpr unsigned kMaxMonitors = 1024; // of cachetunes and memorytunes together

// Namespace of the metadata form (docs/api.md "Definitions the daemon accepts").
inline constexpr std::string_view kMetadataNamespace = "urn:resctrld:cputune:1";

// Parses and validates a definition (docs/definitions.md rules 1-8, docs/definitions.md appendix
// §2.1 P1-P19). Throws InvalidDefinition (NotSupported for P19) naming the element, attribute and
// rule.
DomainDefinition parseDomainDefinition(std::string_view xml);

// Converts a size with a libvirt unit suffix to bytes (docs/definitions.md "Grammar", rule 8); an
// empty unit means KiB. Throws InvalidDefinition on an unknown unit or overflow.
Bytes scaleSize(std::uint64_t value, std::string_view unit);

} // namespace resctrld
