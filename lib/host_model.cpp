// SPDX-License-Identifier: LGPL-2.1-or-later
#include "host_model.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <system_error>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "errors.h"
#include "schemata.h"
#include "text.h"
#include "unique_fd.h"
#include "vcpu_set.h"

namespace resctrld {
namespace fs = std::filesystem;

namespace {

// resctrl and sysfs files report st_size 0 and are generated on read: read until EOF
// (docs/kernel.md §2.2). Empty when the file does not exist.
std::optional<std::string> readFile(const fs::path& path) {
    const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.isValid()) {
        if (errno == ENOENT || errno == ENOTDIR)
            return std::nullopt;
        throw ResctrlUnavailable("cannot open " + path.string() + ": " + std::strerror(errno));
    }
    auto text = readAll(fd.get(), true); // attributes, each shown whole
    if (!text)
        throw ResctrlUnavailable("cannot read " + path.string() + ": " + std::strerror(errno));
    return text;
}

[[noreturn]] void unexpected(const fs::path& path, std::string_view content,
                             std::string_view expected) {
    throw ResctrlUnavailable(path.string() + " holds '" + std::string(content) + "', expected " +
                             std::string(expected));
}

// A file that defines a resource (its num_closids, cbm_mask, ...) is missing: discovery leaves
// that resource out and keeps the others.
struct MissingDefinition {
    fs::path file;
};

// Reads a required or optional info file holding one value. A missing required file throws
// MissingDefinition; a missing optional one reads as nullopt, and the caller applies the
// kernel's default for it.
class InfoDir {
public:
    explicit InfoDir(fs::path dir)
        : dir_(std::move(dir)) {}

    std::optional<std::string> text(const char* name) const {
        auto content = readFile(dir_ / name);
        if (content)
            *content = std::string(trim(*content));
        return content;
    }

    template <typename Unsigned> std::optional<Unsigned> number(const char* name) const {
        const auto content = text(name);
        if (!content)
            return std::nullopt;
        const auto value = parseUnsigned<Unsigned>(*content);
        if (!value)
            unexpected(dir_ / name, *content, "a decimal number");
        return value;
    }

    template <typename Unsigned> Unsigned requiredNumber(const char* name) const {
        const auto value = number<Unsigned>(name);
        if (!value)
            missing(name);
        return *value;
    }

    std::optional<CbmMask> mask(const char* name) const {
        const auto content = text(name);
        if (!content)
            return std::nullopt;
        const auto value = CbmMask::parseHex(*content);
        if (!value)
            unexpected(dir_ / name, *content, "a hex mask");
        return value;
    }

    CbmMask requiredMask(const char* name) const {
        const auto value = mask(name);
        if (!value)
            missing(name);
        return *value;
    }

    [[noreturn]] void missing(const char* name) const { throw MissingDefinition{dir_ / name}; }
    fs::path path(const char* name) const { return dir_ / name; }

private:
    fs::path dir_;
};

// "28160K" (sysfs cache size), also "32M"; a bare number is bytes.
std::optional<Bytes> parseCacheSize(std::string_view text) {
    Bytes scale = 1;
    if (!text.empty()) {
        switch (text.back()) {
        case 'K':
            scale = Bytes{1} << 10;
            break;
        case 'M':
            scale = Bytes{1} << 20;
            break;
        case 'G':
            scale = Bytes{1} << 30;
            break;
        default:
            break;
        }
        if (scale != 1)
            text.remove_suffix(1);
    }
    const auto value = parseUnsigned<Bytes>(text);
    if (!value || *value > std::numeric_limits<Bytes>::max() / scale)
        return std::nullopt;
    return *value * scale;
}

bool isNumberedEntry(const std::string& name, std::string_view prefix) {
    return name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
           std::all_of(name.begin() + static_cast<std::ptrdiff_t>(prefix.size()), name.end(),
                       [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<fs::path> sortedEntries(const fs::path& dir) {
    std::vector<fs::path> entries;
    std::error_code error;
    for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error))
        entries.push_back(it->path());
    std::sort(entries.begin(), entries.end());
    return entries;
}

// Caches by level and id from <sysfs>/devices/system/cpu/cpuN/cache/indexM/. Every CPU lists
// the caches it uses, so a shared cache is seen once per CPU: the first sighting is kept.
std::map<unsigned, std::map<CacheId, CacheDomain>> discoverCaches(const fs::path& sysfsRoot) {
    std::map<unsigned, std::map<CacheId, CacheDomain>> caches;
    const fs::path cpuDir = sysfsRoot / "devices/system/cpu";
    for (const fs::path& cpu : sortedEntries(cpuDir)) {
        if (!isNumberedEntry(cpu.filename().string(), "cpu"))
            continue;
        for (const fs::path& indexDir : sortedEntries(cpu / "cache")) {
            if (!isNumberedEntry(indexDir.filename().string(), "index"))
                continue;
            const InfoDir index(indexDir);
            const auto type = index.text("type");
            if (!type || *type == "Instruction")
                continue; // resctrl controls unified (and, at L1, nothing) caches
            const auto level = index.number<unsigned>("level");
            const auto id = index.number<unsigned>("id");
            if (!level || !id) {
                // Kernels before 4.14 have no cache id: such a cache cannot be keyed.
                spdlog::debug("sysfs cache {} has no level or id, skipped", indexDir.string());
                continue;
            }
            auto& byId = caches[*level];
            if (byId.count(CacheId{*id}) != 0)
                continue;
            CacheDomain domain;
            if (const auto size = index.text("size")) {
                const auto bytes = parseCacheSize(*size);
                if (!bytes)
                    unexpected(indexDir / "size", *size, "a size such as 28160K");
                domain.size = *bytes;
            }
            domain.cpuList = index.text("shared_cpu_list").value_or("");
            byId.emplace(CacheId{*id}, std::move(domain));
        }
    }
    return caches;
}

// Undoes the octal escapes mountinfo uses for spaces and the like ("\040").
std::string unescapeMountField(std::string_view field) {
    std::string result;
    for (std::size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\\' && i + 3 < field.size() && field[i + 1] >= '0' &&
            field[i + 1] <= '3') {
            unsigned value = 0;
            const auto [end, error] = std::from_chars(&field[i + 1], &field[i + 4], value, 8);
            if (error == std::errc() && end == &field[i + 4]) {
                result += static_cast<char>(value);
                i += 3;
                continue;
            }
        }
        result += field[i];
    }
    return result;
}

struct MountEntry {
    bool found = false;
    std::vector<std::string> options;
};

// /proc/self/mountinfo: "36 35 98:0 / /sys/fs/resctrl rw,relatime shared:1 - resctrl resctrl
// rw,cdp". The resctrl options are among the super options (docs/kernel.md §1.2); the last
// mount at the path is the visible one.
MountEntry findMount(const fs::path& mountinfo, const fs::path& mountPoint) {
    MountEntry entry;
    const auto text = readFile(mountinfo);
    if (!text)
        return entry;
    std::error_code error;
    const fs::path wanted = fs::weakly_canonical(mountPoint, error).lexically_normal();
    for (const std::string_view line : splitLines(*text)) {
        auto fields = split(line, ' ');
        std::erase(fields, std::string_view{});
        const auto separator = std::find(fields.begin(), fields.end(), "-");
        if (fields.size() < 6 || separator == fields.end() || fields.end() - separator < 4)
            continue;
        const fs::path point = fs::path(unescapeMountField(fields[4])).lexically_normal();
        if (point != wanted && point != mountPoint.lexically_normal())
            continue;
        entry.found = true;
        entry.options.clear();
        for (const std::string_view options : {fields[5], separator[3]})
            for (const std::string_view option : split(options, ','))
                entry.options.emplace_back(option);
    }
    return entry;
}

std::vector<CacheId> idsOf(const std::map<CacheId, CacheDomain>* caches) {
    std::vector<CacheId> ids;
    if (caches)
        for (const auto& [id, domain] : *caches)
            ids.push_back(id);
    return ids;
}

// A resource discovery cannot use: named for operators, left out of the model.
void leaveOut(HostModel& host, const std::string& resource, const std::string& reason) {
    spdlog::warn("resctrl resource {} is left out: {}; the other resources stay in use", resource,
                 reason);
    host.unusableResources.push_back(resource + ": " + reason);
}

// With CDP each cache level shows a CODE and a DATA resource that the kernel programs together:
// one without the other (its partner left out) cannot be allocated either.
void leaveOutCdpHalvesAlone(HostModel& host) {
    std::erase_if(host.cacheResources, [&](const CacheResource& cache) {
        if (cache.type() == CacheType::Both)
            return false;
        if (host.cacheResource(cdpPeer(cache.resource)) != nullptr)
            return false;
        leaveOut(host, std::string(resourceName(cache.resource)),
                 "its CDP partner " + std::string(resourceName(cdpPeer(cache.resource))) +
                     " is left out");
        return true;
    });
}

using SysfsCaches = std::map<CacheId, CacheDomain>;

// The caches sysfs shows at `level`; null when it shows none.
const SysfsCaches* cachesAt(const HostModel& host, unsigned level) {
    const auto it = host.caches.find(level);
    return it == host.caches.end() ? nullptr : &it->second;
}

// info/L3_MON/mbm_{total,local}_bytes_config: "0=0x7f;1=0x7f", one event mask per L3 id. Absent
// where the host has no BMEC, and also while counter assignment runs in mbm_event mode.
std::map<CacheId, unsigned> readEventConfig(const InfoDir& files, const char* name) {
    std::map<CacheId, unsigned> config;
    const auto content = files.text(name);
    if (!content)
        return config;
    for (const std::string_view item : split(*content, ';')) {
        const auto equals = item.find('=');
        std::optional<unsigned> id, value;
        if (equals != std::string_view::npos) {
            id = parseUnsigned<unsigned>(trim(item.substr(0, equals)));
            auto hex = trim(item.substr(equals + 1));
            if (hex.starts_with("0x"))
                hex.remove_prefix(2);
            if (const auto mask = CbmMask::parseHex(hex))
                value = static_cast<unsigned>(mask->bits());
        }
        if (!id || !value)
            unexpected(files.path(name), *content, "<id>=0x<mask> items separated by ';'");
        config.emplace(CacheId{*id}, *value);
    }
    return config;
}

// info/L3_MON: the RMIDs, the events, and the L3 domains mon_data/ shows (sysfs's L3 caches when
// it shows none).
MonitorResource discoverMonitoring(const InfoDir& files, const fs::path& resctrlRoot,
                                   const SysfsCaches* l3Caches) {
    MonitorResource monitor;
    monitor.numRmids = files.requiredNumber<unsigned>("num_rmids");
    const auto featureText = files.text("mon_features");
    if (!featureText)
        files.missing("mon_features");
    for (const std::string_view line : splitLines(*featureText))
        if (const auto event = trim(line); !event.empty())
            monitor.features.emplace_back(event);
    monitor.maxThresholdOccupancy = files.number<Bytes>("max_threshold_occupancy").value_or(0);
    for (const fs::path& monDir : sortedEntries(resctrlRoot / "mon_data")) {
        const std::string monName = monDir.filename().string();
        if (!isNumberedEntry(monName, "mon_L3_"))
            continue;
        const CacheId id{*parseUnsigned<unsigned>(std::string_view(monName).substr(7))};
        monitor.domains.push_back(id);
        // Sub-NUMA Clustering: one mon_sub_L3_<node id> per node sharing this L3, beside the
        // L3's own files, which then hold the sums over those nodes.
        std::vector<unsigned> nodes;
        for (const fs::path& subDir : sortedEntries(monDir)) {
            const std::string subName = subDir.filename().string();
            if (isNumberedEntry(subName, "mon_sub_L3_"))
                nodes.push_back(*parseUnsigned<unsigned>(std::string_view(subName).substr(11)));
        }
        std::sort(nodes.begin(), nodes.end());
        if (!nodes.empty())
            monitor.sncNodes.emplace(id, std::move(nodes));
    }
    monitor.totalBytesConfig = readEventConfig(files, "mbm_total_bytes_config");
    monitor.localBytesConfig = readEventConfig(files, "mbm_local_bytes_config");
    std::sort(monitor.domains.begin(), monitor.domains.end());
    monitor.domainsListed = !monitor.domains.empty();
    if (monitor.domains.empty())
        monitor.domains = idsOf(l3Caches);
    return monitor;
}

// info/L3, L2 and their CDP halves: the mask limits, and the domains the root's schemata lists
// (sysfs's caches of the level when it lists none), each with its size from sysfs.
CacheResource discoverCache(Resource resource, const InfoDir& files, const Schemata& rootSchemata,
                            const SysfsCaches* sysfsCaches) {
    CacheResource cache;
    cache.resource = resource;
    cache.numClosids = files.requiredNumber<unsigned>("num_closids");
    cache.cbmMask = files.requiredMask("cbm_mask");
    cache.minCbmBits = files.requiredNumber<unsigned>("min_cbm_bits");
    cache.shareableBits = files.mask("shareable_bits").value_or(CbmMask());
    cache.sparseMasks = files.number<unsigned>("sparse_masks").value_or(0) != 0;
    cache.ioAllocEnabled = files.text("io_alloc").value_or("") == "enabled";
    cache.bitUsage = files.text("bit_usage").value_or("");
    std::vector<CacheId> ids;
    for (const auto& [id, mask] : rootSchemata.masks(resource))
        ids.push_back(id);
    if (ids.empty())
        ids = idsOf(sysfsCaches);
    for (CacheId id : ids) {
        Bytes size = 0;
        if (sysfsCaches && sysfsCaches->count(id))
            size = sysfsCaches->at(id).size;
        else
            spdlog::warn("{} domain {} has no L{} cache {} in sysfs: its size is unknown",
                         resourceName(resource), id.value, cache.level(), id.value);
        cache.domains.emplace(id, size);
    }
    return cache;
}

// info/MB and the like: the limits, and the domains the root's schemata lists (sysfs's L3 caches
// when it lists none). The unit is set once the mount options are known.
BandwidthResource discoverBandwidth(Resource resource, const InfoDir& files,
                                    const Schemata& rootSchemata, const SysfsCaches* l3Caches) {
    BandwidthResource bandwidth;
    bandwidth.resource = resource;
    bandwidth.numClosids = files.requiredNumber<unsigned>("num_closids");
    bandwidth.minBandwidth = files.requiredNumber<unsigned>("min_bandwidth");
    bandwidth.bandwidthGran = files.requiredNumber<unsigned>("bandwidth_gran");
    for (const auto& [id, value] : rootSchemata.bandwidths(resource))
        bandwidth.domains.push_back(id);
    // delay_linear and thread_throttle_mode only qualify the resource: without them, the kernel's
    // defaults (a linear scale throttled per core at the maximum), except that a root value above
    // 100 cannot be a percentage (AMD's scale is not linear).
    if (const auto linear = files.number<unsigned>("delay_linear")) {
        bandwidth.delayLinear = *linear != 0;
    } else {
        bandwidth.delayLinear = true;
        for (const auto& [id, value] : rootSchemata.bandwidths(resource))
            bandwidth.delayLinear = bandwidth.delayLinear && value <= 100;
    }
    bandwidth.threadThrottleMode =
        files.text("thread_throttle_mode").value_or(bandwidth.delayLinear ? "max" : "");
    if (bandwidth.domains.empty())
        bandwidth.domains = idsOf(l3Caches);
    return bandwidth;
}

// One info/<name> directory into `host`: monitoring, a cache or a bandwidth resource, or nothing
// (a resource resctrld does not use). A resource missing a file that defines it is left out, and
// its num_closids, if readable, still limits the CLOSID budget.
void discoverInfoDir(HostModel& host, const fs::path& dir, const Schemata& rootSchemata) {
    const std::string name = dir.filename().string();
    const InfoDir files(dir);
    try {
        if (name == "L3_MON") {
            host.monitoring = discoverMonitoring(files, host.resctrlRoot, cachesAt(host, 3));
            return;
        }
        const auto resource = parseResourceName(name);
        if (!resource) {
            spdlog::debug("resctrl info/{} is not a resource resctrld uses, ignored", name);
            return;
        }
        if (isCacheResource(*resource))
            host.cacheResources.push_back(discoverCache(*resource, files, rootSchemata,
                                                        cachesAt(host, cacheLevel(*resource))));
        else
            host.bandwidthResources.push_back(
                discoverBandwidth(*resource, files, rootSchemata, cachesAt(host, 3)));
    } catch (const MissingDefinition& missing) {
        leaveOut(host, name,
                 missing.file.string() +
                     " is missing, though the kernel always writes it: check the kernel and the "
                     "resctrl mount");
        if (name != "L3_MON")
            if (const auto closids = files.number<unsigned>("num_closids"))
                host.unusableNumClosids =
                    std::min(host.unusableNumClosids.value_or(*closids), *closids);
    }
}

// Kernels before 6.14 show mba_MBps nowhere in the tree. Where mountinfo does not list it either
// (a FUSE simulator), the root's MB values tell: on a host with a linear (percent) scale the
// kernel refuses values above 100 unless MB is in MiB/s, whose root default is 4294967295.
bool rootHoldsMbps(const HostModel& host, const Schemata& rootSchemata) {
    const BandwidthResource* mb = host.bandwidthResource(Resource::MB);
    if (mb == nullptr || !mb->delayLinear)
        return false;
    const auto& values = rootSchemata.bandwidths(Resource::MB);
    return std::any_of(values.begin(), values.end(),
                       [](const auto& entry) { return entry.second > 100; });
}

// Mount options: from mountinfo where the mount is listed, and from what the tree shows (§1.2,
// §1.3): CDP by its info directories, mba_MBps by the root's mba_MBps_event file (>= 6.14) or
// its MB values, debug by ctrl_hw_id. The simulator's FUSE mount lists no resctrl options.
void discoverMountOptions(HostModel& host, const HostPaths& paths, const Schemata& rootSchemata) {
    const MountEntry mount = findMount(paths.mountinfo, paths.resctrlRoot);
    host.mounted = mount.found;
    auto listed = [&](std::string_view option) {
        return std::find(mount.options.begin(), mount.options.end(), option) != mount.options.end();
    };
    std::error_code error;
    const fs::path info = paths.resctrlRoot / "info";
    const std::array<std::pair<const char*, bool>, 4> options{{
        {"cdp", listed("cdp") || fs::exists(info / "L3CODE", error)},
        {"cdpl2", listed("cdpl2") || fs::exists(info / "L2CODE", error)},
        {"mba_MBps", listed("mba_MBps") ||
                         fs::exists(paths.resctrlRoot / "mba_MBps_event", error) ||
                         rootHoldsMbps(host, rootSchemata)},
        {"debug", listed("debug") || fs::exists(paths.resctrlRoot / "ctrl_hw_id", error)},
    }};
    for (const auto& [option, active] : options)
        if (active)
            host.mountOptions.emplace_back(option);
}

// What an MB value means (§4.4): MiB/s when mounted with mba_MBps; percent where the delay is
// linear (Intel); otherwise AMD's 1/8 GB/s units, whose maximum ("unlimited", 2048 on every
// documented part) is what a fresh root group holds, so a larger root value wins.
void setBandwidthUnits(HostModel& host, const Schemata& rootSchemata) {
    for (BandwidthResource& bandwidth : host.bandwidthResources) {
        if (host.hasMountOption("mba_MBps") && bandwidth.resource == Resource::MB) {
            bandwidth.unit = BandwidthUnit::MiBps;
            bandwidth.maxBandwidth = std::numeric_limits<std::uint32_t>::max();
        } else if (bandwidth.delayLinear) {
            bandwidth.unit = BandwidthUnit::Percent;
            bandwidth.maxBandwidth = 100;
        } else {
            bandwidth.unit = BandwidthUnit::EighthGBps;
            bandwidth.maxBandwidth = 2048;
            for (const auto& [id, value] : rootSchemata.bandwidths(bandwidth.resource))
                bandwidth.maxBandwidth = std::max(bandwidth.maxBandwidth, value);
        }
    }
}

} // namespace

std::string_view toString(BandwidthUnit unit) noexcept {
    switch (unit) {
    case BandwidthUnit::Percent:
        return "percent";
    case BandwidthUnit::EighthGBps:
        return "1/8 GB/s";
    case BandwidthUnit::MiBps:
        return "MiB/s";
    }
    return "percent";
}

Bytes CacheResource::granularity(CacheId id) const {
    const auto it = domains.find(id);
    if (it == domains.end() || ways() == 0)
        return 0;
    return it->second / ways() / std::max(nodesPerCache, 1U);
}

std::optional<unsigned> CacheResource::waysFor(CacheId id, Bytes size) const {
    const auto it = domains.find(id);
    if (it == domains.end() || ways() == 0 || it->second < ways())
        return std::nullopt;
    const Bytes kernelWay = it->second / ways();
    const Bytes scaled = size * std::max(nodesPerCache, 1U);
    if (scaled / std::max(nodesPerCache, 1U) != size || scaled % kernelWay != 0)
        return std::nullopt;
    return static_cast<unsigned>(scaled / kernelWay);
}

Bytes CacheResource::bytesFor(CacheId id, unsigned count) const {
    const auto it = domains.find(id);
    if (it == domains.end() || ways() == 0)
        return 0;
    return it->second / ways() * count / std::max(nodesPerCache, 1U);
}

Bytes CacheResource::minimumAllocation(CacheId id) const {
    return granularity(id) * minCbmBits;
}

bool BandwidthResource::hasDomain(CacheId id) const {
    return std::find(domains.begin(), domains.end(), id) != domains.end();
}

bool MonitorResource::hasFeature(std::string_view event) const {
    return std::find(features.begin(), features.end(), event) != features.end();
}

unsigned MonitorResource::nodesPerL3() const noexcept {
    std::size_t most = 1;
    for (const auto& [id, nodes] : sncNodes)
        most = std::max(most, nodes.size());
    return static_cast<unsigned>(most);
}

std::vector<unsigned> MonitorResource::sncNodeIds() const {
    std::vector<unsigned> ids;
    for (const auto& [id, nodes] : sncNodes)
        ids.insert(ids.end(), nodes.begin(), nodes.end());
    return ids;
}

unsigned sncNodesPerL3(const fs::path& sysfsRoot) {
    auto cpusIn = [](const fs::path& file) -> std::size_t {
        const auto text = readFile(file);
        if (!text)
            return 0;
        try {
            return VcpuSet::parse(trim(*text)).size();
        } catch (const Error&) {
            return 0;
        }
    };
    auto holdsCpu0 = [](const fs::path& file) {
        const auto text = readFile(file);
        try {
            return text && VcpuSet::parse(trim(*text)).contains(0);
        } catch (const Error&) {
            return false;
        }
    };
    std::size_t l3Cpus = 0;
    std::size_t nodeCpus = 0;
    try {
        for (const fs::path& index : sortedEntries(sysfsRoot / "devices/system/cpu/cpu0/cache"))
            if (readFile(index / "level").value_or("") == "3\n")
                l3Cpus = cpusIn(index / "shared_cpu_list");
        for (const fs::path& node : sortedEntries(sysfsRoot / "devices/system/node"))
            if (isNumberedEntry(node.filename().string(), "node") && holdsCpu0(node / "cpulist"))
                nodeCpus = cpusIn(node / "cpulist");
    } catch (const Error&) {
        return 1; // unreadable sysfs: nothing known of SNC
    }
    if (l3Cpus == 0 || nodeCpus == 0 || l3Cpus <= nodeCpus)
        return 1;
    return static_cast<unsigned>(l3Cpus / nodeCpus);
}

HostModel HostModel::discover(const HostPaths& paths) {
    HostModel host;
    host.resctrlRoot = paths.resctrlRoot;
    const fs::path info = paths.resctrlRoot / "info";
    std::error_code error;
    if (!fs::is_directory(info, error))
        throw ResctrlUnavailable("resctrl is not mounted at " + paths.resctrlRoot.string() +
                                 " (no info/ directory): check that the CPU supports RDT and "
                                 "mount it with 'mount -t resctrl resctrl " +
                                 paths.resctrlRoot.string() + "'");

    host.caches = discoverCaches(paths.sysfsRoot);
    if (host.caches.empty())
        spdlog::warn("no cache information under {}: cache sizes are unknown",
                     (paths.sysfsRoot / "devices/system/cpu").string());

    // The root group's schemata lists the domain ids of every allocation resource.
    Schemata rootSchemata;
    if (const auto text = readFile(paths.resctrlRoot / "schemata"))
        rootSchemata = Schemata::parse(*text);

    for (const fs::path& dir : sortedEntries(info))
        discoverInfoDir(host, dir, rootSchemata);
    leaveOutCdpHalvesAlone(host);
    auto byResourceOrder = [](const auto& a, const auto& b) {
        return a.resource < b.resource;
    };
    std::sort(host.cacheResources.begin(), host.cacheResources.end(), byResourceOrder);
    std::sort(host.bandwidthResources.begin(), host.bandwidthResources.end(), byResourceOrder);

    discoverMountOptions(host, paths, rootSchemata);
    setBandwidthUnits(host, rootSchemata);
    // The L3 (and its CDP halves) is shared by the SNC nodes: a way holds 1/nodes of it per node.
    if (host.monitoring && host.monitoring->hasSnc())
        for (CacheResource& cache : host.cacheResources)
            if (cache.level() == 3)
                cache.nodesPerCache = host.monitoring->nodesPerL3();

    spdlog::debug("resctrl at {}: {} cache and {} bandwidth resources, monitoring {}, options "
                  "'{}'",
                  paths.resctrlRoot.string(), host.cacheResources.size(),
                  host.bandwidthResources.size(), host.monitoring ? "yes" : "no",
                  fmt::join(host.mountOptions, ","));
    return host;
}

const CacheResource* HostModel::cacheResource(Resource resource) const {
    for (const CacheResource& cache : cacheResources)
        if (cache.resource == resource)
            return &cache;
    return nullptr;
}

const CacheResource* HostModel::cacheResource(unsigned level, CacheType type) const {
    const auto resource = resctrld::cacheResource(level, type);
    return resource ? cacheResource(*resource) : nullptr;
}

const BandwidthResource* HostModel::bandwidthResource(Resource resource) const {
    for (const BandwidthResource& bandwidth : bandwidthResources)
        if (bandwidth.resource == resource)
            return &bandwidth;
    return nullptr;
}

std::optional<std::string> HostModel::whyUnusable(Resource resource) const {
    const std::string prefix = std::string(resourceName(resource)) + ": ";
    for (const std::string& entry : unusableResources)
        if (entry.starts_with(prefix))
            return entry.substr(prefix.size());
    return std::nullopt;
}

bool HostModel::hasMountOption(std::string_view option) const {
    return std::find(mountOptions.begin(), mountOptions.end(), option) != mountOptions.end();
}

bool HostModel::isCdpEnabled(unsigned level) const {
    return cacheResource(level, CacheType::Code) != nullptr;
}

unsigned HostModel::closidBudget() const {
    unsigned smallest = std::numeric_limits<unsigned>::max();
    bool ioAlloc = false;
    for (const CacheResource& cache : cacheResources) {
        smallest = std::min(smallest, cache.numClosids);
        ioAlloc = ioAlloc || cache.ioAllocEnabled;
    }
    for (const BandwidthResource& bandwidth : bandwidthResources)
        smallest = std::min(smallest, bandwidth.numClosids);
    if (smallest == std::numeric_limits<unsigned>::max())
        return 0;
    if (unusableNumClosids)
        smallest = std::min(smallest, *unusableNumClosids);
    const unsigned reserved = 1 + (ioAlloc ? 1 : 0); // the root group, and I/O's CLOSID
    return smallest > reserved ? smallest - reserved : 0;
}

unsigned HostModel::rmidBudget() const {
    return monitoring && monitoring->numRmids > 0 ? monitoring->numRmids - 1 : 0;
}

unsigned HostModel::closidsFree(unsigned ctrlMonGroups) const {
    const unsigned budget = closidBudget();
    return budget > ctrlMonGroups ? budget - ctrlMonGroups : 0;
}

unsigned HostModel::rmidsFree(unsigned ctrlMonGroups, unsigned monGroups) const {
    const unsigned budget = rmidBudget();
    const unsigned used = ctrlMonGroups + monGroups;
    return budget > used ? budget - used : 0;
}

} // namespace resctrld
