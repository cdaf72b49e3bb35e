#include "model.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>

namespace resctrlsim {

namespace {

constexpr uint64_t kRootSerial = 1;
constexpr uint64_t kNsPerSec = 1000000000ULL;
constexpr size_t kStatusBufferSize = 512; // the kernel's last_cmd_status seq_buf (§8.1)
constexpr size_t kMaxWrite = 4096;        // kernfs atomic_write_len = PAGE_SIZE (§2.3)

std::string_view trim(std::string_view s) {
    auto isSpace = [](char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
    };
    while (!s.empty() && isSpace(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && isSpace(s.back()))
        s.remove_suffix(1);
    return s;
}

std::string hex(uint64_t v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
    return buf;
}

int digitValue(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 99;
}

// The kernel's kstrto*() family: optional sign, base prefix rules for base 0 and 16,
// one optional trailing newline, nothing else. Returns 0, EINVAL or ERANGE.
int kstrto(std::string_view s, unsigned base, bool allowNegative, uint64_t maxMagnitude,
           long long& out) {
    bool negative = false;
    if (!s.empty() && s.front() == '+') {
        s.remove_prefix(1);
    } else if (!s.empty() && s.front() == '-') {
        if (!allowNegative)
            return EINVAL;
        negative = true;
        s.remove_prefix(1);
    }
    if (base == 0) {
        if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && s.size() > 2 &&
            digitValue(s[2]) < 16) {
            base = 16;
            s.remove_prefix(2);
        } else if (!s.empty() && s[0] == '0') {
            base = 8;
        } else {
            base = 10;
        }
    } else if (base == 16 && s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s.remove_prefix(2);
    }
    if (!s.empty() && s.back() == '\n')
        s.remove_suffix(1);
    if (s.empty())
        return EINVAL;
    unsigned long long v = 0;
    for (char c : s) {
        int d = digitValue(c);
        if (d >= static_cast<int>(base))
            return EINVAL;
        if (v > (ULLONG_MAX - static_cast<unsigned>(d)) / base)
            return ERANGE;
        v = v * base + static_cast<unsigned>(d);
    }
    if (v > maxMagnitude + (negative ? 1 : 0))
        return ERANGE;
    out = negative ? -static_cast<long long>(v) : static_cast<long long>(v);
    return 0;
}

unsigned popcount(uint64_t v) {
    return static_cast<unsigned>(std::popcount(v));
}

std::string monDomainName(unsigned id) {
    return MonTopology::l3DirName(id);
}

const char* counterText(CounterState s) {
    switch (s) {
    case CounterState::Unavailable:
        return "Unavailable\n";
    case CounterState::Error:
        return "Error\n";
    case CounterState::Unassigned:
        return "Unassigned\n";
    case CounterState::Ok:
        break;
    }
    return "";
}

} // namespace

Path splitPath(std::string_view path) {
    Path out;
    size_t pos = 0;
    while (pos < path.size()) {
        size_t slash = path.find('/', pos);
        if (slash == std::string_view::npos)
            slash = path.size();
        if (slash > pos)
            out.emplace_back(path.substr(pos, slash - pos));
        pos = slash + 1;
    }
    return out;
}

std::optional<KernelFlavour> KernelFlavour::fromVersion(std::string_view version) {
    KernelFlavour f;
    if (version == "6.15")
        return f;
    if (version == "6.1") {
        f.paddedSchemata = true;
        f.multiPidTasks = false;
        f.rmidBeforeClosid = true;
        f.renameSupported = false;
        f.sncMonitoring = false;
        f.sparseMasksFile = false;
        f.mbaMbpsEvent = false;
        f.oldMbMessage = true;
        return f;
    }
    return std::nullopt;
}

struct ResctrlModel::Group {
    uint64_t serial = 0;
    std::string name;
    GroupType type = GroupType::Root;
    Group* parent = nullptr; // CTRL_MON (or root) parent of a MON group
    unsigned closid = 0;
    std::optional<unsigned> rmid;
    Mode mode = Mode::Shareable;
    std::vector<bool> cpus;
    mode_t dirMode = 0555;
    uid_t uid = 0;
    gid_t gid = 0;
    std::map<std::string, std::unique_ptr<Group>> ctrlGroups; // root only
    std::map<std::string, std::unique_ptr<Group>> monGroups;  // root and CTRL_MON
    std::string mbaEvent = "mbm_local_bytes";
};

struct ResctrlModel::Schema {
    std::string name;
    bool isCache = true;
    int peer = -1; // index of the other CDP half
    unsigned numClosids = 0;
    CacheAllocSpec cache;
    unsigned cbmLen = 0;
    uint64_t domainBytes = 0;
    unsigned nameExtra = 0; // +4 for a CDP-capable resource while CDP is off (§4.6)
    std::vector<unsigned> domainIds;
    std::vector<std::vector<uint64_t>> ctrl; // [domain index][closid]
};

enum class NodeKind {
    GroupDir,
    GroupFile,
    MonGroupsDir,
    MonDataDir,
    MonDomainDir,
    MonSubDir,
    MonFile,
    InfoDir,
    InfoResDir,
    InfoFile
};

struct ResctrlModel::Node {
    NodeKind kind = NodeKind::GroupDir;
    Group* group = nullptr;
    std::string res;  // info resource dir
    std::string file; // file name
    unsigned domain = 0;
    std::optional<unsigned> subNode; // mon_sub_L3_<node> (SNC)
};

ResctrlModel::ResctrlModel(Profile profile, KernelFlavour flavour, MountOptions options,
                           TaskSource& tasks, Clock clock)
    : profile_(std::move(profile))
    , flavour_(flavour)
    , options_(options)
    , topo_(profile_, flavour_.sncMonitoring)
    , tasks_(tasks)
    , clock_(std::move(clock)) {
    validateProfile(profile_);
    // Mount-time checks (§1.2).
    if (options_.cdp && !(profile_.l3 && profile_.l3->cdpCapable))
        throw MountError(EINVAL, "cdp: L3 CDP not supported by this host");
    if (options_.cdpl2 && !(profile_.l2 && profile_.l2->cdpCapable))
        throw MountError(EINVAL, "cdpl2: L2 CDP not supported by this host");
    // The software controller needs MBA and MBM at the same scope; with SNC the MBM domains
    // are nodes while MBA stays per L3.
    if (options_.mbaMbps && topo_.snc())
        throw MountError(EINVAL, "mba_MBps requires MBM and linear scale MBA at L3 scope");
    if (options_.mbaMbps) {
        bool mbm = profile_.mon &&
                   (profile_.mon->mbmLocal || (!flavour_.oldMbMessage && profile_.mon->mbmTotal));
        if (!profile_.mb || !profile_.mb->delayLinear || !mbm)
            throw MountError(EINVAL, "mba_MBps requires MBM and linear scale MBA at L3 scope");
    }
    buildSchemas();

    root_ = std::make_unique<Group>();
    root_->serial = nextSerial_++;
    root_->cpus.assign(profile_.cpus, true);
    if (profile_.mon) {
        root_->rmid = 0;
        numRmids_ = topo_.visibleRmids(profile_.mon->numRmids);
        for (unsigned r = 1; r < numRmids_; ++r)
            freeRmids_.push_back(r);
        mbm_.assign(numRmids_, std::vector<Mbm>(topo_.size()));
        // The default is the whole L3 over the visible RMIDs, rounded down to the CPUID
        // occupancy scale (not the per-node unit SNC counts in).
        uint64_t scale = profile_.mon->occupancyScale;
        threshold_ = profile_.l3Bytes / numRmids_ / scale * scale;
        if (!profile_.mon->mbmLocal)
            root_->mbaEvent = "mbm_total_bytes";
    }
    groups_[root_->serial] = root_.get();
    closidUsed_.assign(std::max(closidCount_, 1u), false);
    closidUsed_[0] = true;
    lastAdvance_ = clock_();
}

ResctrlModel::~ResctrlModel() = default;

void ResctrlModel::buildSchemas() {
    auto addCache = [&](const std::string& base, const CacheAllocSpec& spec, bool cdp,
                        std::vector<unsigned> ids, uint64_t bytes) {
        unsigned len = static_cast<unsigned>(std::bit_width(spec.cbmMask));
        auto make = [&](const std::string& name, unsigned closids) {
            Schema s;
            s.name = name;
            s.isCache = true;
            s.numClosids = closids;
            s.cache = spec;
            s.cbmLen = len;
            s.domainBytes = bytes;
            s.nameExtra = (spec.cdpCapable && !cdp) ? 4 : 0;
            s.domainIds = ids;
            s.ctrl.assign(ids.size(), std::vector<uint64_t>(closids, spec.cbmMask));
            return s;
        };
        if (cdp) {
            schemas_.push_back(make(base + "CODE", spec.numClosids / 2));
            schemas_.push_back(make(base + "DATA", spec.numClosids / 2));
            schemas_[schemas_.size() - 2].peer = static_cast<int>(schemas_.size() - 1);
            schemas_.back().peer = static_cast<int>(schemas_.size() - 2);
        } else {
            schemas_.push_back(make(base, spec.numClosids));
        }
        dataWidth_ = std::max(dataWidth_, (len + 3) / 4);
    };
    if (profile_.l3)
        addCache("L3", *profile_.l3, options_.cdp, profile_.l3Ids, profile_.l3Bytes);
    if (profile_.l2) {
        std::vector<unsigned> ids(profile_.cores());
        for (unsigned i = 0; i < ids.size(); ++i)
            ids[i] = i;
        addCache("L2", *profile_.l2, options_.cdpl2, ids, profile_.l2Bytes);
    }
    if (profile_.mb) {
        Schema s;
        s.name = "MB";
        s.isCache = false;
        s.numClosids = profile_.mb->numClosids;
        s.domainIds = profile_.l3Ids;
        uint64_t def = options_.mbaMbps ? 4294967295ULL : profile_.mb->maxBandwidth;
        s.ctrl.assign(s.domainIds.size(), std::vector<uint64_t>(s.numClosids, def));
        schemas_.push_back(std::move(s));
        dataWidth_ = std::max(dataWidth_, profile_.mb->dataWidth);
    }
    closidCount_ = 0;
    for (const auto& s : schemas_) {
        nameWidth_ = std::max(nameWidth_, static_cast<unsigned>(s.name.size()) + s.nameExtra);
        closidCount_ = closidCount_ == 0 ? s.numClosids : std::min(closidCount_, s.numClosids);
    }
}

void ResctrlModel::addStatus(std::string_view text) {
    if (status_.size() >= kStatusBufferSize - 1)
        return;
    status_.append(text.substr(0, kStatusBufferSize - 1 - status_.size()));
}

ResctrlModel::Group* ResctrlModel::groupBySerial(uint64_t serial) const {
    auto it = groups_.find(serial);
    return it == groups_.end() ? nullptr : it->second;
}

size_t ResctrlModel::groupCount() const {
    return groups_.size();
}

// ---------------------------------------------------------------- path resolution

namespace {

struct FileSpec {
    const char* name;
    mode_t mode;
};

} // namespace

static std::vector<FileSpec> groupFiles(bool ctrl, bool mbaEvent) {
    std::vector<FileSpec> f{{"cpus", 0644}, {"cpus_list", 0644}, {"tasks", 0644}};
    if (ctrl) {
        f.push_back({"mode", 0644});
        f.push_back({"schemata", 0644});
        f.push_back({"size", 0444});
        if (mbaEvent)
            f.push_back({"mba_MBps_event", 0644});
    }
    return f;
}

bool ResctrlModel::resolve(const Path& path, Node& node) {
    node = Node{};
    if (path.empty()) {
        node.kind = NodeKind::GroupDir;
        node.group = root_.get();
        return true;
    }
    if (path[0] == "info") {
        if (path.size() == 1) {
            node.kind = NodeKind::InfoDir;
            return true;
        }
        if (path.size() == 2 && path[1] == "last_cmd_status") {
            node.kind = NodeKind::InfoFile;
            node.file = path[1];
            return true;
        }
        std::vector<DirEntry> entries;
        Path dir{"info", path[1]};
        bool isRes = false;
        for (const auto& s : schemas_)
            isRes |= s.name == path[1];
        isRes |= profile_.mon && path[1] == "L3_MON";
        if (!isRes || path.size() > 3)
            return false;
        node.res = path[1];
        if (path.size() == 2) {
            node.kind = NodeKind::InfoResDir;
            return true;
        }
        list(dir, entries);
        for (const auto& e : entries) {
            if (e.name == path[2]) {
                node.kind = NodeKind::InfoFile;
                node.file = path[2];
                return true;
            }
        }
        return false;
    }
    Group* g = root_.get();
    size_t i = 0;
    bool mbaEvent = options_.mbaMbps && flavour_.mbaMbpsEvent;
    while (true) {
        if (i == path.size()) {
            node.kind = NodeKind::GroupDir;
            node.group = g;
            return true;
        }
        const std::string& name = path[i];
        for (const auto& f : groupFiles(g->type != GroupType::Mon, mbaEvent)) {
            if (name == f.name) {
                if (i + 1 != path.size())
                    return false;
                node.kind = NodeKind::GroupFile;
                node.group = g;
                node.file = name;
                return true;
            }
        }
        if (profile_.mon && name == "mon_data") {
            node.group = g;
            if (i + 1 == path.size()) {
                node.kind = NodeKind::MonDataDir;
                return true;
            }
            std::optional<unsigned> dom;
            for (unsigned id : profile_.l3Ids)
                if (monDomainName(id) == path[i + 1])
                    dom = id;
            if (!dom)
                return false;
            node.domain = *dom;
            if (i + 2 == path.size()) {
                node.kind = NodeKind::MonDomainDir;
                return true;
            }
            size_t evAt = i + 2;
            if (topo_.snc()) {
                const size_t first = topo_.firstOfL3(*topo_.l3Index(*dom));
                for (size_t m = first; m < first + topo_.nodesPerL3(); ++m)
                    if (MonTopology::subDirName(topo_.nodeIdOf(m)) == path[evAt])
                        node.subNode = topo_.nodeIdOf(m);
                if (node.subNode) {
                    if (++evAt == path.size()) {
                        node.kind = NodeKind::MonSubDir;
                        return true;
                    }
                }
            }
            const std::string& ev = path[evAt];
            bool known = (ev == "llc_occupancy" && profile_.mon->llcOccupancy) ||
                         (ev == "mbm_total_bytes" && profile_.mon->mbmTotal) ||
                         (ev == "mbm_local_bytes" && profile_.mon->mbmLocal);
            if (!known || evAt + 1 != path.size())
                return false;
            node.kind = NodeKind::MonFile;
            node.file = ev;
            return true;
        }
        if (profile_.mon && g->type != GroupType::Mon && name == "mon_groups") {
            if (i + 1 == path.size()) {
                node.kind = NodeKind::MonGroupsDir;
                node.group = g;
                return true;
            }
            auto it = g->monGroups.find(path[i + 1]);
            if (it == g->monGroups.end())
                return false;
            g = it->second.get();
            i += 2;
            continue;
        }
        if (g->type == GroupType::Root) {
            auto it = g->ctrlGroups.find(name);
            if (it != g->ctrlGroups.end()) {
                g = it->second.get();
                ++i;
                continue;
            }
        }
        return false;
    }
}

int ResctrlModel::stat(const Path& path, NodeAttr& attr) {
    Node n;
    if (!resolve(path, n))
        return ENOENT;
    attr = NodeAttr{};
    switch (n.kind) {
    case NodeKind::InfoDir:
    case NodeKind::InfoResDir:
        attr.isDir = true;
        attr.mode = 0555;
        return 0;
    case NodeKind::InfoFile:
        attr.mode = n.file == "max_threshold_occupancy" ? 0644 : 0444;
        return 0;
    case NodeKind::GroupDir:
    case NodeKind::MonGroupsDir:
    case NodeKind::MonDataDir:
    case NodeKind::MonDomainDir:
    case NodeKind::MonSubDir:
        attr.isDir = true;
        attr.mode = n.group->dirMode;
        break;
    case NodeKind::GroupFile:
        attr.mode = n.file == "size" ? 0444 : 0644;
        break;
    case NodeKind::MonFile:
        attr.mode = 0444;
        break;
    }
    attr.uid = n.group->uid;
    attr.gid = n.group->gid;
    attr.serial = n.group->serial;
    return 0;
}

int ResctrlModel::listInfoResource(const std::string& res, std::vector<DirEntry>& entries) const {
    if (res == "L3_MON" && profile_.mon) {
        entries = {
            {"max_threshold_occupancy", false}, {"mon_features", false}, {"num_rmids", false}};
        return 0;
    }
    for (const auto& s : schemas_) {
        if (s.name != res)
            continue;
        if (s.isCache) {
            entries = {{"bit_usage", false},
                       {"cbm_mask", false},
                       {"min_cbm_bits", false},
                       {"num_closids", false},
                       {"shareable_bits", false}};
            if (flavour_.sparseMasksFile)
                entries.push_back({"sparse_masks", false});
        } else {
            entries = {{"bandwidth_gran", false},
                       {"delay_linear", false},
                       {"min_bandwidth", false},
                       {"num_closids", false}};
            if (!profile_.mb->throttleMode.empty())
                entries.push_back({"thread_throttle_mode", false});
        }
        return 0;
    }
    return ENOENT;
}

int ResctrlModel::list(const Path& path, std::vector<DirEntry>& entries) {
    entries.clear();
    Node n;
    if (path.size() == 2 && path[0] == "info") {
        // Called from resolve() too: build the listing directly, without the absent files.
        const int err = listInfoResource(path[1], entries);
        std::erase_if(entries, [&](const DirEntry& entry) {
            return absentInfoFiles_.count(path[1] + "/" + entry.name) != 0;
        });
        return err;
    }
    if (!resolve(path, n))
        return ENOENT;
    switch (n.kind) {
    case NodeKind::InfoDir:
        entries.push_back({"last_cmd_status", false});
        for (const auto& s : schemas_)
            entries.push_back({s.name, true});
        if (profile_.mon)
            entries.push_back({"L3_MON", true});
        return 0;
    case NodeKind::GroupDir: {
        Group& g = *n.group;
        for (const auto& f :
             groupFiles(g.type != GroupType::Mon, options_.mbaMbps && flavour_.mbaMbpsEvent))
            entries.push_back({f.name, false});
        if (profile_.mon) {
            entries.push_back({"mon_data", true});
            if (g.type != GroupType::Mon)
                entries.push_back({"mon_groups", true});
        }
        if (g.type == GroupType::Root) {
            entries.push_back({"info", true});
            for (const auto& [name, child] : g.ctrlGroups)
                entries.push_back({name, true});
        }
        return 0;
    }
    case NodeKind::MonGroupsDir:
        for (const auto& [name, child] : n.group->monGroups)
            entries.push_back({name, true});
        return 0;
    case NodeKind::MonDataDir:
        for (unsigned id : profile_.l3Ids)
            entries.push_back({monDomainName(id), true});
        return 0;
    case NodeKind::MonDomainDir:
    case NodeKind::MonSubDir:
        if (profile_.mon->llcOccupancy)
            entries.push_back({"llc_occupancy", false});
        if (profile_.mon->mbmLocal)
            entries.push_back({"mbm_local_bytes", false});
        if (profile_.mon->mbmTotal)
            entries.push_back({"mbm_total_bytes", false});
        if (n.kind == NodeKind::MonDomainDir && topo_.snc()) {
            // The L3's sum files sit beside one directory per SNC node.
            const size_t first = topo_.firstOfL3(*topo_.l3Index(n.domain));
            for (size_t m = first; m < first + topo_.nodesPerL3(); ++m)
                entries.push_back({MonTopology::subDirName(topo_.nodeIdOf(m)), true});
        }
        return 0;
    default:
        return ENOTDIR;
    }
}

int ResctrlModel::access(const Path& path, int want, const Caller& caller) {
    NodeAttr attr;
    if (int err = stat(path, attr))
        return err;
    if (caller.uid == 0)
        return 0;
    mode_t bits = attr.mode & 07;
    if (caller.uid == attr.uid)
        bits = (attr.mode >> 6) & 07;
    else if (caller.gid == attr.gid)
        bits = (attr.mode >> 3) & 07;
    return (bits & static_cast<mode_t>(want)) == static_cast<mode_t>(want) ? 0 : EACCES;
}

int ResctrlModel::open(const Path& path, bool forWrite, const Caller& caller) {
    NodeAttr attr;
    if (int err = stat(path, attr))
        return err;
    if (int err = access(path, forWrite ? 2 : 4, caller))
        return err;
    if (attr.isDir)
        return forWrite ? EISDIR : 0;
    // kernfs checks the mode bits at open even for root (§2.2).
    if (forWrite && (attr.mode & 0222) == 0)
        return EACCES;
    if (!forWrite && (attr.mode & 0444) == 0)
        return EACCES;
    return 0;
}

// ---------------------------------------------------------------- reads

int ResctrlModel::read(const Path& path, std::string& out) {
    Node n;
    if (!resolve(path, n))
        return ENOENT;
    switch (n.kind) {
    case NodeKind::GroupFile:
        out = readGroupFile(*n.group, n.file);
        return 0;
    case NodeKind::InfoFile:
        out = readInfoFile(n.res, n.file);
        return 0;
    case NodeKind::MonFile:
        out = readMonFile(*n.group, n.domain, n.subNode, n.file);
        return 0;
    default:
        return EISDIR;
    }
}

std::string ResctrlModel::formatCpus(const std::vector<bool>& cpus, bool asList) const {
    std::string out;
    const size_t n = cpus.size();
    if (asList) {
        for (size_t i = 0; i < n;) {
            if (!cpus[i]) {
                ++i;
                continue;
            }
            size_t j = i;
            while (j + 1 < n && cpus[j + 1])
                ++j;
            if (!out.empty())
                out += ',';
            out += std::to_string(i);
            if (j > i)
                out += "-" + std::to_string(j);
            i = j + 1;
        }
        return out + "\n";
    }
    // %*pb: 32-bit chunks, most significant first; the first chunk only as wide as needed.
    size_t chunks = (n + 31) / 32;
    for (size_t c = chunks; c-- > 0;) {
        uint32_t v = 0;
        for (size_t b = 0; b < 32 && c * 32 + b < n; ++b)
            if (cpus[c * 32 + b])
                v |= 1U << b;
        char buf[16];
        int width = 8;
        if (c == chunks - 1 && n % 32 != 0)
            width = static_cast<int>((n % 32 + 3) / 4);
        std::snprintf(buf, sizeof buf, "%0*x", width, v);
        if (c != chunks - 1)
            out += ',';
        out += buf;
    }
    return out + "\n";
}

std::string ResctrlModel::formatSchemata(Group& g, bool sizes) const {
    std::string out;
    // Since ~5.13 lines come in reverse resource order, DATA before CODE (§4.6).
    for (auto it = schemas_.rbegin(); it != schemas_.rend(); ++it) {
        const Schema& s = *it;
        if (g.closid >= s.numClosids)
            continue;
        char buf[64];
        std::snprintf(buf, sizeof buf, "%*s:", static_cast<int>(nameWidth_), s.name.c_str());
        out += buf;
        for (size_t d = 0; d < s.domainIds.size(); ++d) {
            uint64_t v = s.ctrl[d][g.closid];
            if (d)
                out += ';';
            if (sizes) {
                uint64_t value = s.isCache ? s.domainBytes / s.cbmLen * popcount(v) : v;
                std::snprintf(buf, sizeof buf, "%u=%llu", s.domainIds[d],
                              static_cast<unsigned long long>(value));
            } else if (flavour_.paddedSchemata) {
                int w = static_cast<int>(dataWidth_);
                if (s.isCache)
                    std::snprintf(buf, sizeof buf, "%u=%0*llx", s.domainIds[d], w,
                                  static_cast<unsigned long long>(v));
                else
                    std::snprintf(buf, sizeof buf, "%u=%*llu", s.domainIds[d], w,
                                  static_cast<unsigned long long>(v));
            } else if (s.isCache) {
                std::snprintf(buf, sizeof buf, "%u=%llx", s.domainIds[d],
                              static_cast<unsigned long long>(v));
            } else {
                std::snprintf(buf, sizeof buf, "%u=%llu", s.domainIds[d],
                              static_cast<unsigned long long>(v));
            }
            out += buf;
        }
        out += '\n';
    }
    return out;
}

std::string ResctrlModel::readGroupFile(Group& g, const std::string& file) {
    if (file == "tasks") {
        std::string out;
        for (pid_t t : tasksOf(g))
            out += std::to_string(t) + "\n";
        return out;
    }
    if (file == "cpus" || file == "cpus_list")
        return formatCpus(g.cpus, file == "cpus_list");
    if (file == "schemata")
        return formatSchemata(g, false);
    if (file == "size")
        return formatSchemata(g, true);
    if (file == "mode") {
        switch (g.mode) {
        case Mode::Shareable:
            return "shareable\n";
        case Mode::Exclusive:
            return "exclusive\n";
        case Mode::PseudoLockSetup:
            return "pseudo-locksetup\n";
        case Mode::PseudoLocked:
            return "pseudo-locked\n";
        }
    }
    if (file == "mba_MBps_event")
        return g.mbaEvent + "\n";
    return "";
}

std::string ResctrlModel::bitUsage(const Schema& s) const {
    std::string out;
    for (size_t d = 0; d < s.domainIds.size(); ++d) {
        uint64_t sw = 0, excl = 0;
        for (unsigned c = 0; c < closidCount_; ++c) {
            if (!closidUsed_[c])
                continue;
            Mode m = modeOfClosid(c);
            if (m == Mode::Shareable)
                sw |= s.ctrl[d][c];
            else if (m == Mode::Exclusive)
                excl |= s.ctrl[d][c];
        }
        if (d)
            out += ';';
        out += std::to_string(s.domainIds[d]) + "=";
        uint64_t hw = s.cache.shareableBits;
        for (unsigned b = s.cbmLen; b-- > 0;) {
            bool hwb = (hw >> b) & 1, swb = (sw >> b) & 1, eb = (excl >> b) & 1;
            out += hwb && swb ? 'X' : hwb ? 'H' : swb ? 'S' : eb ? 'E' : '0';
        }
    }
    return out + "\n";
}

std::string ResctrlModel::readInfoFile(const std::string& res, const std::string& file) {
    if (res.empty())
        return status_.empty() ? "ok\n" : status_;
    if (res == "L3_MON") {
        const MonSpec& m = *profile_.mon;
        if (file == "num_rmids")
            return std::to_string(numRmids_) + "\n";
        if (file == "max_threshold_occupancy")
            return std::to_string(threshold_) + "\n";
        if (file == "mon_features") {
            std::string out;
            if (m.llcOccupancy)
                out += "llc_occupancy\n";
            if (m.mbmTotal)
                out += "mbm_total_bytes\n";
            if (m.mbmLocal)
                out += "mbm_local_bytes\n";
            return out;
        }
        return "";
    }
    for (const auto& s : schemas_) {
        if (s.name != res)
            continue;
        if (file == "num_closids")
            return std::to_string(s.numClosids) + "\n";
        if (s.isCache) {
            if (file == "cbm_mask")
                return hex(s.cache.cbmMask) + "\n";
            if (file == "min_cbm_bits")
                return std::to_string(s.cache.minCbmBits) + "\n";
            if (file == "shareable_bits")
                return hex(s.cache.shareableBits) + "\n";
            if (file == "sparse_masks")
                return s.cache.sparseMasks ? "1\n" : "0\n";
            if (file == "bit_usage")
                return bitUsage(s);
        } else {
            const MbSpec& mb = *profile_.mb;
            if (file == "min_bandwidth")
                return std::to_string(mb.minBandwidth) + "\n";
            if (file == "bandwidth_gran")
                return std::to_string(mb.bandwidthGran) + "\n";
            if (file == "delay_linear")
                return mb.delayLinear ? "1\n" : "0\n";
            if (file == "thread_throttle_mode")
                return mb.throttleMode + "\n";
        }
    }
    return "";
}

// ---------------------------------------------------------------- monitoring

uint64_t ResctrlModel::rmidOfPlacement(std::pair<uint64_t, uint64_t> placement) const {
    Group* g = groupBySerial(placement.second ? placement.second : placement.first);
    if (!g)
        g = root_.get();
    return g->rmid.value_or(0);
}

void ResctrlModel::advanceCounters() {
    uint64_t now = clock_();
    uint64_t dt = now > lastAdvance_ ? now - lastAdvance_ : 0;
    lastAdvance_ = now;
    if (dt == 0 || traffic_.empty() || !profile_.mon)
        return;
    long double seconds = static_cast<long double>(dt) / kNsPerSec;
    // One liveness check per thread, not per (thread, domain) line.
    std::unordered_map<pid_t, std::optional<uint64_t>> rmidOfTid;
    for (const auto& t : traffic_) {
        auto [it, fresh] = rmidOfTid.try_emplace(t.tid);
        if (fresh)
            if (auto placement = livePlacement(t.tid))
                it->second = rmidOfPlacement(*placement);
        if (!it->second)
            continue;
        uint64_t rmid = *it->second;
        mbm_[rmid][t.domain].total += static_cast<long double>(t.totalPerSec) * seconds;
        mbm_[rmid][t.domain].local += static_cast<long double>(t.localPerSec) * seconds;
    }
}

uint64_t ResctrlModel::occupancyCap(const Group& g, size_t monDomain) const {
    // Occupancy cannot exceed what the CLOSID's L3 mask covers (interface: occupancy
    // model); with CDP the DATA mask. Without L3 CAT the whole cache. With SNC each node
    // holds its share of every way: the capacity per bit is divided by the nodes per L3.
    const size_t l3 = topo_.l3IndexOf(monDomain);
    for (const auto& s : schemas_) {
        if (s.name == "L3" || s.name == "L3DATA") {
            return s.domainBytes / s.cbmLen * popcount(s.ctrl[l3][g.closid]) / topo_.nodesPerL3();
        }
    }
    return profile_.l3Bytes / topo_.nodesPerL3();
}

std::vector<ResctrlModel::Occupant> ResctrlModel::occupants(std::optional<size_t> monDomain) {
    std::vector<Occupant> out;
    for (const auto& [tid, perDomain] : footprints_) {
        if (monDomain && !perDomain.count(*monDomain))
            continue;
        auto placement = livePlacement(tid);
        if (!placement)
            continue;
        Group* ctrl = groupBySerial(placement->first);
        if (!ctrl)
            ctrl = root_.get();
        out.push_back({rmidOfPlacement(*placement), ctrl->closid, &perDomain});
    }
    return out;
}

ResctrlModel::OccupancyTotals
ResctrlModel::occupancyTotals(size_t monDomain, const std::vector<Occupant>& occupants) const {
    OccupancyTotals totals;
    for (const Occupant& o : occupants) {
        auto it = o.bytes->find(monDomain);
        if (it == o.bytes->end())
            continue;
        totals.byRmid[o.rmid] += it->second;
        totals.byClosid[o.closid] += it->second;
    }
    return totals;
}

uint64_t ResctrlModel::occupancyOf(const Group& owner, size_t monDomain,
                                   const OccupancyTotals& totals) const {
    // The threads of one CLOSID share the ways its mask gives them: when their footprints
    // together exceed that, each RMID of the CLOSID gets its proportional share of the cap.
    auto sumIt = totals.byRmid.find(owner.rmid.value_or(0));
    auto closidIt = totals.byClosid.find(owner.closid);
    uint64_t sum = sumIt == totals.byRmid.end() ? 0 : sumIt->second;
    uint64_t closidSum = closidIt == totals.byClosid.end() ? 0 : closidIt->second;
    uint64_t cap = occupancyCap(owner, monDomain);
    uint64_t value = closidSum <= cap
                         ? sum
                         : static_cast<uint64_t>(static_cast<long double>(sum) * cap / closidSum);
    if (topo_.snc()) {
        // A node counts in units of the CPUID scale divided by the nodes per L3.
        const uint64_t unit = topo_.occupancyUnit(profile_.mon->occupancyScale);
        if (unit > 0)
            value = value / unit * unit;
    }
    return value;
}

std::optional<CounterState> ResctrlModel::failedState(size_t monDomain,
                                                      const std::string& event) const {
    auto lastMatch = [&](const std::vector<CounterStateEntry>& entries,
                         unsigned id) -> std::optional<CounterState> {
        for (auto it = entries.rbegin(); it != entries.rend(); ++it)
            if (it->domain == id && (it->event == "*" || it->event == event))
                return it->state;
        return std::nullopt;
    };
    // A node_counters line for the node wins over a counters line for its L3.
    std::optional<CounterState> st;
    if (topo_.snc())
        st = lastMatch(nodeCounterStates_, topo_.nodeIdOf(monDomain));
    if (!st)
        st = lastMatch(counterStates_, profile_.l3Ids[topo_.l3IndexOf(monDomain)]);
    if (!st || *st == CounterState::Ok)
        return std::nullopt;
    return st;
}

uint64_t ResctrlModel::monValue(Group& g, size_t monDomain, const std::string& event) {
    // A CTRL_MON group's value is its own RMID plus all its MON groups (§7.2).
    std::vector<const Group*> owners{&g};
    if (g.type != GroupType::Mon)
        for (const auto& [name, child] : g.monGroups)
            owners.push_back(child.get());
    unsigned long long sum = 0;
    if (event == "llc_occupancy") {
        // Only the threads with a footprint on this domain are looked at, each once.
        OccupancyTotals totals = occupancyTotals(monDomain, occupants(monDomain));
        for (const Group* o : owners)
            sum += occupancyOf(*o, monDomain, totals);
        return sum;
    }
    for (const Group* o : owners) {
        unsigned r = o->rmid.value_or(0);
        if (event == "mbm_total_bytes")
            sum += static_cast<unsigned long long>(mbm_[r][monDomain].total);
        else
            sum += static_cast<unsigned long long>(mbm_[r][monDomain].local);
    }
    return sum;
}

std::string ResctrlModel::readMonFile(Group& g, unsigned l3Id, std::optional<unsigned> node,
                                      const std::string& event) {
    const size_t first = topo_.firstOfL3(*topo_.l3Index(l3Id));
    if (node) {
        const size_t m = *topo_.domainOfNode(*node);
        if (auto st = failedState(m, event))
            return counterText(*st);
        advanceCounters();
        return std::to_string(monValue(g, m, event)) + "\n";
    }
    if (!topo_.snc()) {
        if (auto st = failedState(first, event))
            return counterText(*st);
        advanceCounters();
        return std::to_string(monValue(g, first, event)) + "\n";
    }
    // The L3 file sums its nodes: a number if any node could be read (failed nodes add
    // nothing), Unavailable only when every node failed.
    advanceCounters();
    bool any = false;
    unsigned long long sum = 0;
    for (size_t m = first; m < first + topo_.nodesPerL3(); ++m) {
        if (failedState(m, event))
            continue;
        any = true;
        sum += monValue(g, m, event);
    }
    return any ? std::to_string(sum) + "\n" : std::string(counterText(CounterState::Unavailable));
}

void ResctrlModel::applyFootprints() {
    // An L3 line is spread evenly over that L3's monitoring domains (all of it without SNC);
    // a node line lands on the node (on its L3 without SNC). Unknown ids are ignored.
    footprints_.clear();
    const unsigned n = topo_.nodesPerL3();
    for (const auto& e : l3Footprints_) {
        auto l3 = topo_.l3Index(e.domain);
        if (!l3)
            continue;
        for (unsigned k = 0; k < n; ++k)
            footprints_[e.tid][topo_.firstOfL3(*l3) + k] +=
                e.bytes / n + (k == 0 ? e.bytes % n : 0);
    }
    for (const auto& e : nodeFootprints_)
        if (auto m = topo_.domainOfNode(e.domain))
            footprints_[e.tid][*m] += e.bytes;
}

void ResctrlModel::applyTraffic() {
    advanceCounters(); // integrate the old rates up to now
    traffic_.clear();
    const unsigned n = topo_.nodesPerL3();
    for (const auto& e : l3Traffic_) {
        auto l3 = topo_.l3Index(e.domain);
        if (!l3)
            continue;
        for (unsigned k = 0; k < n; ++k)
            traffic_.push_back({e.tid, static_cast<unsigned>(topo_.firstOfL3(*l3) + k),
                                e.totalPerSec / n, e.localPerSec / n});
    }
    for (const auto& e : nodeTraffic_)
        if (auto m = topo_.domainOfNode(e.domain))
            traffic_.push_back({e.tid, static_cast<unsigned>(*m), e.totalPerSec, e.localPerSec});
}

void ResctrlModel::setFootprints(std::vector<FootprintEntry> entries) {
    l3Footprints_ = std::move(entries);
    applyFootprints();
}

void ResctrlModel::setNodeFootprints(std::vector<FootprintEntry> entries) {
    nodeFootprints_ = std::move(entries);
    applyFootprints();
}

void ResctrlModel::setTraffic(std::vector<TrafficEntry> entries) {
    l3Traffic_ = std::move(entries);
    applyTraffic();
}

void ResctrlModel::setNodeTraffic(std::vector<TrafficEntry> entries) {
    nodeTraffic_ = std::move(entries);
    applyTraffic();
}

void ResctrlModel::setCounterStates(std::vector<CounterStateEntry> entries) {
    counterStates_ = std::move(entries);
}

void ResctrlModel::setNodeCounterStates(std::vector<CounterStateEntry> entries) {
    nodeCounterStates_ = std::move(entries);
}

void ResctrlModel::setAbsentInfoFiles(std::set<std::string> files) {
    absentInfoFiles_ = std::move(files);
}

// ---------------------------------------------------------------- tasks

void ResctrlModel::indexRecord(pid_t tid, const ThreadRec& rec, bool add) {
    for (uint64_t serial : {rec.ctrl, rec.mon}) {
        if (serial == 0)
            continue;
        if (add) {
            members_[serial].insert(tid);
            continue;
        }
        auto it = members_.find(serial);
        if (it == members_.end())
            continue;
        it->second.erase(tid);
        if (it->second.empty())
            members_.erase(it);
    }
}

void ResctrlModel::setRecord(pid_t tid, const ThreadRec& rec) {
    auto it = threads_.find(tid);
    if (it != threads_.end()) {
        indexRecord(tid, it->second, false);
        it->second = rec;
    } else {
        threads_.emplace(tid, rec);
    }
    indexRecord(tid, rec, true);
}

ResctrlModel::ThreadMap::iterator ResctrlModel::eraseRecord(ThreadMap::iterator it) {
    indexRecord(it->first, it->second, false);
    return threads_.erase(it);
}

std::vector<pid_t> ResctrlModel::membersOf(uint64_t serial) const {
    auto it = members_.find(serial);
    if (it == members_.end())
        return {};
    return {it->second.begin(), it->second.end()};
}

bool ResctrlModel::recordAlive(ThreadMap::const_iterator it) {
    auto start = tasks_.startTimeOf(it->first);
    return start && *start == it->second.startTime;
}

bool ResctrlModel::liveRecord(pid_t tid, ThreadRec& rec) {
    auto it = threads_.find(tid);
    if (it == threads_.end())
        return false;
    if (!recordAlive(it)) {
        eraseRecord(it);
        return false;
    }
    rec = it->second;
    return true;
}

std::pair<uint64_t, uint64_t> ResctrlModel::placementOf(pid_t tid, const TaskInfo& info) {
    auto it = threads_.find(tid);
    if (it != threads_.end()) {
        if (it->second.startTime == info.startTime)
            return {it->second.ctrl, it->second.mon};
        eraseRecord(it); // pid reused
    }
    // Appendix C: a FUSE process cannot see clone(); an unknown thread is attributed to
    // its thread-group leader's group, otherwise to the root.
    if (info.tgid != tid) {
        ThreadRec leader;
        if (liveRecord(info.tgid, leader))
            return {leader.ctrl, leader.mon};
    }
    return {kRootSerial, 0};
}

std::optional<std::pair<uint64_t, uint64_t>> ResctrlModel::livePlacement(pid_t tid) {
    auto it = threads_.find(tid);
    if (it != threads_.end()) {
        auto start = tasks_.startTimeOf(tid);
        if (!start)
            return std::nullopt;
        if (*start == it->second.startTime)
            return std::make_pair(it->second.ctrl, it->second.mon);
        // A reused TID: the full lookup below forgets the old record.
    }
    auto info = tasks_.lookup(tid);
    if (!info)
        return std::nullopt;
    return placementOf(tid, *info);
}

std::vector<pid_t> ResctrlModel::tasksOf(const Group& g) {
    std::vector<ThreadId> found;
    if (g.type == GroupType::Root) {
        auto matches = [](std::pair<uint64_t, uint64_t> p) {
            return p.first == kRootSerial;
        };
        for (const ThreadId& t : tasks_.allThreads()) {
            if (!threads_.count(t.tid) && !threads_.count(t.tgid)) {
                found.push_back(t); // never placed: root
                continue;
            }
            auto placement = livePlacement(t.tid);
            if (placement && matches(*placement))
                found.push_back(t);
        }
    } else {
        // Only this group's remembered threads (members_) are checked for liveness; an exited
        // one is forgotten here, so it disappears from the listing at once (§5.2).
        std::set<pid_t> seen;
        auto add = [&](pid_t tid, pid_t tgid) {
            if (seen.insert(tid).second)
                found.push_back({tid, tgid});
        };
        for (pid_t tid : membersOf(g.serial)) {
            auto it = threads_.find(tid);
            if (it == threads_.end())
                continue; // forgotten below as a stale thread of a leader
            if (!recordAlive(it)) {
                eraseRecord(it);
                continue;
            }
            const ThreadRec rec = it->second;
            add(tid, rec.tgid);
            if (rec.tgid != tid)
                continue;
            // Unknown threads of this process inherit from their leader.
            for (pid_t t : tasks_.threadsOf(tid)) {
                if (t == tid)
                    continue;
                auto known = threads_.find(t);
                if (known != threads_.end()) {
                    if (recordAlive(known))
                        continue;
                    eraseRecord(known); // a reused TID is a new, unknown thread
                }
                add(t, tid);
            }
        }
        std::sort(found.begin(), found.end(), [](const ThreadId& a, const ThreadId& b) {
            if (a.tgid != b.tgid)
                return a.tgid < b.tgid;
            if ((a.tid == a.tgid) != (b.tid == b.tgid))
                return a.tid == a.tgid;
            return a.tid < b.tid;
        });
    }
    std::vector<pid_t> out;
    out.reserve(found.size());
    for (const auto& t : found)
        out.push_back(t.tid);
    return out;
}

int ResctrlModel::moveTask(Group& g, pid_t pid, const Caller& caller) {
    pid_t tid = pid == 0 ? caller.tid : pid;
    auto info = tasks_.lookup(tid);
    char msg[128];
    if (!info) {
        std::snprintf(msg, sizeof msg, "No task %d\n", pid);
        addStatus(msg);
        return ESRCH;
    }
    if (caller.uid != 0 && caller.uid != info->uid && caller.uid != info->suid) {
        std::snprintf(msg, sizeof msg, "No permission to move task %d\n", pid);
        addStatus(msg);
        return EPERM;
    }
    auto current = placementOf(tid, *info);
    std::pair<uint64_t, uint64_t> target{g.serial, 0};
    if (g.type == GroupType::Mon) {
        target = {g.parent->serial, g.serial};
        if (current == target)
            return 0;
        if (current.first != g.parent->serial) {
            addStatus("Can't move task to different control group\n");
            return EINVAL;
        }
    } else if (current == target) {
        return 0;
    }
    advanceCounters();
    if (info->tgid == tid) {
        // Threads that exist now keep their group when the leader moves; only threads
        // the simulator has never seen follow the leader (Appendix C approximation).
        for (pid_t t : tasks_.threadsOf(tid)) {
            if (t == tid || threads_.count(t))
                continue;
            if (auto ti = tasks_.lookup(t))
                setRecord(t, ThreadRec{ti->startTime, tid, current.first, current.second});
        }
    }
    setRecord(tid, ThreadRec{info->startTime, info->tgid, target.first, target.second});
    return 0;
}

int ResctrlModel::writeTasks(Group& g, std::string_view data, const Caller& caller) {
    if (!flavour_.multiPidTasks) {
        // Before 6.7: the whole buffer is one PID, parsed before the status is cleared.
        long long pid = 0;
        if (kstrto(trim(data), 0, true, INT_MAX, pid) != 0 || pid < 0)
            return EINVAL;
        clearStatus();
        if (g.mode == Mode::PseudoLockSetup || g.mode == Mode::PseudoLocked) {
            addStatus("Pseudo-locking in progress\n");
            return EINVAL;
        }
        return moveTask(g, static_cast<pid_t>(pid), caller);
    }
    clearStatus();
    if (g.mode == Mode::PseudoLockSetup || g.mode == Mode::PseudoLocked) {
        addStatus("Pseudo-locking in progress\n");
        return EINVAL;
    }
    // The kernel string ends at the first NUL.
    std::string buf(data.substr(0, data.find('\0')));
    size_t pos = 0;
    bool more = true;
    while (more && pos < buf.size() && buf[pos] != '\n') {
        size_t comma = buf.find(',', pos);
        std::string piece(trim(std::string_view(buf).substr(pos, comma - pos)));
        if (comma == std::string::npos)
            more = false;
        else
            pos = comma + 1;
        long long pid = 0;
        if (kstrto(piece, 0, true, INT_MAX, pid) != 0) {
            addStatus("Task list parsing error pid " + piece + "\n");
            return EINVAL;
        }
        if (pid < 0) {
            addStatus("Invalid pid " + std::to_string(pid) + "\n");
            return EINVAL;
        }
        if (int err = moveTask(g, static_cast<pid_t>(pid), caller)) {
            addStatus("Error while processing task " + std::to_string(pid) + "\n");
            return err;
        }
    }
    return 0;
}

// ---------------------------------------------------------------- cpus

namespace {

int parseCpuMask(std::string_view s, size_t nbits, std::vector<bool>& out) {
    s = trim(s);
    out.assign(nbits, false);
    if (s.empty())
        return 0;
    // The kernel's bitmap_parse() walks 32-bit chunks from the end and skips commas and blanks
    // between them (bitmap_find_region_reverse), so "20," and ",20" are valid masks: pqos
    // writes the former. Empty chunks are therefore skipped, not errors.
    std::vector<std::string_view> chunks;
    size_t pos = 0;
    while (true) {
        size_t comma = s.find(',', pos);
        std::string_view chunk = trim(s.substr(pos, comma - pos));
        if (!chunk.empty())
            chunks.push_back(chunk);
        if (comma == std::string_view::npos)
            break;
        pos = comma + 1;
    }
    size_t bit = 0;
    for (auto it = chunks.rbegin(); it != chunks.rend(); ++it, bit += 32) {
        if (it->size() > 8)
            return EOVERFLOW;
        uint32_t v = 0;
        for (char c : *it) {
            int d = digitValue(c);
            if (d > 15)
                return EINVAL;
            v = v << 4 | static_cast<uint32_t>(d);
        }
        for (unsigned b = 0; b < 32; ++b) {
            if (!((v >> b) & 1))
                continue;
            if (bit + b >= nbits)
                return EOVERFLOW;
            out[bit + b] = true;
        }
    }
    return 0;
}

int parseCpuList(std::string_view s, size_t nbits, std::vector<bool>& out) {
    s = trim(s);
    out.assign(nbits, false);
    if (s.empty())
        return 0;
    size_t pos = 0;
    while (true) {
        size_t comma = s.find(',', pos);
        std::string_view item = s.substr(pos, comma - pos);
        size_t dash = item.find('-');
        long long lo = 0, hi = 0;
        std::string_view a = item.substr(0, dash);
        if (a.empty() || a.front() == '+' || kstrto(a, 10, false, UINT_MAX, lo) != 0)
            return EINVAL;
        hi = lo;
        if (dash != std::string_view::npos) {
            std::string_view b = item.substr(dash + 1);
            if (b.empty() || b.front() == '+' || kstrto(b, 10, false, UINT_MAX, hi) != 0)
                return EINVAL;
        }
        if (lo > hi)
            return EINVAL;
        if (static_cast<size_t>(hi) >= nbits)
            return ERANGE;
        for (long long i = lo; i <= hi; ++i)
            out[static_cast<size_t>(i)] = true;
        if (comma == std::string_view::npos)
            break;
        pos = comma + 1;
    }
    return 0;
}

void andNot(std::vector<bool>& a, const std::vector<bool>& b) {
    for (size_t i = 0; i < a.size(); ++i)
        if (b[i])
            a[i] = false;
}

bool anySet(const std::vector<bool>& a) {
    return std::find(a.begin(), a.end(), true) != a.end();
}

std::vector<bool> minus(const std::vector<bool>& a, const std::vector<bool>& b) {
    std::vector<bool> r = a;
    andNot(r, b);
    return r;
}

} // namespace

int ResctrlModel::writeCpus(Group& g, std::string_view data, bool asList) {
    clearStatus();
    if (g.mode == Mode::PseudoLockSetup || g.mode == Mode::PseudoLocked) {
        addStatus("Pseudo-locking in progress\n");
        return EINVAL;
    }
    std::vector<bool> mask;
    std::string buf(data.substr(0, data.find('\0')));
    int err =
        asList ? parseCpuList(buf, profile_.cpus, mask) : parseCpuMask(buf, profile_.cpus, mask);
    if (err) {
        addStatus("Bad CPU list/mask\n");
        return err;
    }
    // Every simulated CPU is online, so "Can only assign online CPUs" cannot happen.
    if (g.type == GroupType::Mon) {
        Group& parent = *g.parent;
        if (anySet(minus(mask, parent.cpus))) {
            addStatus("Can only add CPUs to mongroup that belong to parent\n");
            return EINVAL;
        }
        auto added = minus(mask, g.cpus);
        if (anySet(added))
            for (auto& [name, sib] : parent.monGroups)
                if (sib.get() != &g)
                    andNot(sib->cpus, added);
        g.cpus = mask;
        return 0;
    }
    auto dropped = minus(g.cpus, mask);
    if (anySet(dropped)) {
        if (g.type == GroupType::Root) {
            addStatus("Can't drop CPUs from default group\n");
            return EINVAL;
        }
        for (size_t i = 0; i < dropped.size(); ++i)
            if (dropped[i])
                root_->cpus[i] = true;
    }
    auto added = minus(mask, g.cpus);
    if (anySet(added)) {
        for (auto& [serial, other] : groups_) {
            if (other == &g)
                continue;
            andNot(other->cpus, added);
        }
    }
    g.cpus = mask;
    // Every write to a CTRL_MON group's cpus clears its MON groups' sets (§5.3).
    for (auto& [name, child] : g.monGroups)
        child->cpus.assign(profile_.cpus, false);
    return 0;
}

// ---------------------------------------------------------------- schemata

ResctrlModel::Mode ResctrlModel::modeOfClosid(unsigned closid) const {
    if (closid == 0)
        return root_->mode;
    for (const auto& [name, g] : root_->ctrlGroups)
        if (g->closid == closid)
            return g->mode;
    return Mode::Shareable;
}

bool ResctrlModel::cbmOverlapsOne(const Schema& s, size_t dom, uint64_t cbm, unsigned closid,
                                  bool exclusive) const {
    if (!exclusive && (cbm & s.cache.shareableBits))
        return true;
    for (unsigned c = 0; c < closidCount_; ++c) {
        if (!closidUsed_[c] || c == closid)
            continue;
        Mode m = modeOfClosid(c);
        if (m == Mode::PseudoLockSetup)
            continue;
        if (cbm & s.ctrl[dom][c]) {
            if (exclusive) {
                if (m == Mode::Exclusive)
                    return true;
                continue;
            }
            return true;
        }
    }
    return false;
}

bool ResctrlModel::cbmOverlaps(const Schema& s, size_t dom, uint64_t cbm, unsigned closid,
                               bool exclusive) const {
    // With CDP both halves of the same hardware are checked (§4.4).
    if (cbmOverlapsOne(s, dom, cbm, closid, exclusive))
        return true;
    if (s.peer >= 0)
        return cbmOverlapsOne(schemas_[static_cast<size_t>(s.peer)], dom, cbm, closid, exclusive);
    return false;
}

int ResctrlModel::writeSchemata(Group& g, std::string_view data) {
    if (data.empty() || data.back() != '\n')
        return EINVAL; // before the status is cleared (§2.3)
    std::string buf(data.substr(0, data.size() - 1));
    buf = buf.substr(0, buf.find('\0'));
    clearStatus();
    if (g.mode == Mode::PseudoLocked) {
        addStatus("Resource group is pseudo-locked\n");
        return EINVAL;
    }
    struct Staged {
        size_t schema;
        size_t dom;
        uint64_t value;
    };
    std::vector<Staged> staged;
    auto isStaged = [&](size_t s, size_t d) {
        for (const auto& st : staged)
            if (st.schema == s && st.dom == d)
                return true;
        return false;
    };
    size_t pos = 0;
    while (true) {
        size_t nl = buf.find('\n', pos);
        std::string line = buf.substr(pos, nl - pos);
        size_t colon = line.find(':');
        std::string resname(trim(std::string_view(line).substr(0, colon)));
        if (colon == std::string::npos) {
            addStatus("Missing ':'\n");
            return EINVAL;
        }
        std::string rest = line.substr(colon + 1);
        if (rest.empty()) {
            addStatus("Missing '" + resname + "' value\n");
            return EINVAL;
        }
        std::optional<size_t> si;
        for (size_t i = 0; i < schemas_.size(); ++i)
            if (schemas_[i].name == resname && g.closid < schemas_[i].numClosids)
                si = i;
        if (!si) {
            addStatus("Unknown or unsupported resource name '" + resname + "'\n");
            return EINVAL;
        }
        const Schema& s = schemas_[*si];
        if (g.mode == Mode::PseudoLockSetup && !s.isCache) {
            addStatus("Cannot pseudo-lock MBA resource\n");
            return EINVAL;
        }
        size_t p = 0;
        while (p < rest.size()) {
            size_t semi = rest.find(';', p);
            std::string dom = rest.substr(p, semi - p);
            p = semi == std::string::npos ? rest.size() : semi + 1;
            size_t eq = dom.find('=');
            long long id = 0;
            if (eq == std::string::npos ||
                kstrto(std::string_view(dom).substr(0, eq), 10, false, ULONG_MAX >> 1, id) != 0) {
                addStatus("Missing '=' or non-numeric domain\n");
                return EINVAL;
            }
            std::string value(trim(std::string_view(dom).substr(eq + 1)));
            std::optional<size_t> di;
            for (size_t d = 0; d < s.domainIds.size(); ++d)
                if (s.domainIds[d] == static_cast<unsigned long long>(id))
                    di = d;
            if (!di)
                return EINVAL; // unknown domain: no message, status reads "ok" (§4.3)
            if (isStaged(*si, *di)) {
                addStatus("Duplicate domain " + std::to_string(id) + "\n");
                return EINVAL;
            }
            long long v = 0;
            if (s.isCache) {
                if (kstrto(value, 16, false, ULONG_MAX >> 1, v) != 0) {
                    addStatus("Non-hex character in the mask " + value + "\n");
                    return EINVAL;
                }
                uint64_t cbm = static_cast<uint64_t>(v);
                if ((s.cache.minCbmBits > 0 && cbm == 0) || cbm > s.cache.cbmMask) {
                    addStatus("Mask out of range\n");
                    return EINVAL;
                }
                unsigned first = cbm ? static_cast<unsigned>(std::countr_zero(cbm)) : s.cbmLen;
                unsigned zero = first;
                while (zero < s.cbmLen && ((cbm >> zero) & 1))
                    ++zero;
                if (!s.cache.sparseMasks && zero < s.cbmLen && (cbm >> zero) != 0) {
                    addStatus("The mask " + hex(cbm) + " has non-consecutive 1-bits\n");
                    return EINVAL;
                }
                if (zero - first < s.cache.minCbmBits) {
                    addStatus("Need at least " + std::to_string(s.cache.minCbmBits) +
                              " bits in the mask\n");
                    return EINVAL;
                }
                if (cbmOverlaps(s, *di, cbm, g.closid, true)) {
                    addStatus("Overlaps with exclusive group\n");
                    return EINVAL;
                }
                if (cbmOverlaps(s, *di, cbm, g.closid, false) &&
                    (g.mode == Mode::Exclusive || g.mode == Mode::PseudoLockSetup)) {
                    addStatus("Overlaps with other group\n");
                    return EINVAL;
                }
                staged.push_back({*si, *di, cbm});
            } else {
                const MbSpec& mb = *profile_.mb;
                int perr = kstrto(value, 10, false,
                                  flavour_.oldMbMessage ? ULONG_MAX >> 1 : UINT32_MAX, v);
                if (perr != 0 || (flavour_.oldMbMessage && v > UINT32_MAX)) {
                    addStatus((flavour_.oldMbMessage ? "Non-decimal digit in MB value "
                                                     : "Invalid MB value ") +
                              value + "\n");
                    return EINVAL;
                }
                uint64_t bw = static_cast<uint64_t>(v);
                if (options_.mbaMbps) {
                    // The software controller stores MiB/s at once, even if a later line
                    // fails (§4.2, code reading).
                    schemas_[*si].ctrl[*di][g.closid] = bw;
                    continue;
                }
                if (bw < mb.minBandwidth || bw > mb.maxBandwidth) {
                    addStatus("MB value " + std::to_string(bw) + " out of range [" +
                              std::to_string(mb.minBandwidth) + "," +
                              std::to_string(mb.maxBandwidth) + "]\n");
                    return EINVAL;
                }
                bw = (bw + mb.bandwidthGran - 1) / mb.bandwidthGran * mb.bandwidthGran;
                staged.push_back({*si, *di, bw});
            }
        }
        if (nl == std::string::npos)
            break;
        pos = nl + 1;
    }
    for (const auto& st : staged)
        schemas_[st.schema].ctrl[st.dom][g.closid] = st.value;
    return 0;
}

// ---------------------------------------------------------------- mode etc.

int ResctrlModel::writeMode(Group& g, std::string_view data) {
    if (data.empty() || data.back() != '\n')
        return EINVAL;
    std::string word(data.substr(0, data.size() - 1));
    word = word.substr(0, word.find('\0'));
    clearStatus();
    if (g.mode == Mode::PseudoLocked) {
        addStatus("Cannot change pseudo-locked group\n");
        return EINVAL;
    }
    if ((word == "shareable" && g.mode == Mode::Shareable) ||
        (word == "exclusive" && g.mode == Mode::Exclusive) ||
        (word == "pseudo-locksetup" && g.mode == Mode::PseudoLockSetup))
        return 0;
    if (word == "shareable") {
        g.mode = Mode::Shareable;
        return 0;
    }
    if (word == "exclusive") {
        bool hasCache = false;
        for (const auto& s : schemas_) {
            if (!s.isCache)
                continue;
            hasCache = true;
            for (size_t d = 0; d < s.domainIds.size(); ++d) {
                if (cbmOverlaps(s, d, s.ctrl[d][g.closid], g.closid, false)) {
                    addStatus("Schemata overlaps\n");
                    return EINVAL;
                }
            }
        }
        if (!hasCache) {
            addStatus("Cannot be exclusive without CAT/CDP\n");
            return EINVAL;
        }
        g.mode = Mode::Exclusive;
        return 0;
    }
    if (word == "pseudo-locksetup") {
        // Refusals in the kernel's order (§6.3). No simulated profile has the prefetcher
        // disable bits the happy path needs.
        if (g.type == GroupType::Root)
            addStatus("Cannot pseudo-lock default group\n");
        else if (options_.cdp || options_.cdpl2)
            addStatus("CDP enabled\n");
        else
            addStatus("Pseudo-locking not supported\n");
        return EINVAL;
    }
    addStatus("Unknown or unsupported mode\n");
    return EINVAL;
}

int ResctrlModel::writeMbaEvent(Group& g, std::string_view data) {
    if (data.empty() || data.back() != '\n')
        return EINVAL;
    std::string word(data.substr(0, data.size() - 1));
    clearStatus();
    if ((word == "mbm_local_bytes" && profile_.mon->mbmLocal) ||
        (word == "mbm_total_bytes" && profile_.mon->mbmTotal)) {
        g.mbaEvent = word;
        return 0;
    }
    addStatus("Unsupported event id '" + word + "'\n");
    return EINVAL;
}

int ResctrlModel::writeThreshold(std::string_view data) {
    long long v = 0;
    if (int err = kstrto(data, 0, false, UINT_MAX, v))
        return err;
    if (static_cast<uint64_t>(v) > profile_.l3Bytes)
        return EINVAL;
    uint64_t scale = profile_.mon->occupancyScale;
    threshold_ = static_cast<uint64_t>(v) / scale * scale;
    return 0;
}

int ResctrlModel::write(const Path& path, std::string_view data, const Caller& caller) {
    if (data.size() > kMaxWrite)
        return E2BIG;
    Node n;
    if (!resolve(path, n))
        return ENOENT;
    if (n.kind == NodeKind::InfoFile) {
        if (n.file == "max_threshold_occupancy")
            return writeThreshold(data);
        return EACCES;
    }
    if (n.kind != NodeKind::GroupFile)
        return n.kind == NodeKind::MonFile ? EACCES : EISDIR;
    Group& g = *n.group;
    if (n.file == "tasks")
        return writeTasks(g, data, caller);
    if (n.file == "cpus" || n.file == "cpus_list")
        return writeCpus(g, data, n.file == "cpus_list");
    if (n.file == "schemata")
        return writeSchemata(g, data);
    if (n.file == "mode")
        return writeMode(g, data);
    if (n.file == "mba_MBps_event")
        return writeMbaEvent(g, data);
    return EACCES;
}

// ---------------------------------------------------------------- groups

void ResctrlModel::processLimbo() {
    if (limbo_.empty())
        return;
    uint64_t now = clock_();
    // A worker re-checks limbo RMIDs every second (§7.4); occupancy of a freed RMID is
    // modelled as halving every second. It is released at the first check where every
    // domain is below the threshold; a threshold of 0 keeps it forever.
    std::vector<std::pair<uint64_t, unsigned>> released;
    for (auto it = limbo_.begin(); it != limbo_.end();) {
        bool done = false;
        if (threshold_ > 0) {
            uint64_t maxOcc = 0;
            for (uint64_t o : it->occupancy)
                maxOcc = std::max(maxOcc, o);
            unsigned k = 1;
            while (k < 64 && (maxOcc >> k) >= threshold_)
                ++k;
            uint64_t at = it->freedAt + k * kNsPerSec;
            if (at <= now) {
                released.push_back({at, it->rmid});
                done = true;
            }
        }
        it = done ? limbo_.erase(it) : it + 1;
    }
    std::sort(released.begin(), released.end());
    for (const auto& r : released)
        freeRmids_.push_back(r.second);
}

int ResctrlModel::allocRmid(unsigned& rmid) {
    processLimbo();
    if (freeRmids_.empty())
        return limbo_.empty() ? ENOSPC : EBUSY;
    rmid = freeRmids_.front();
    freeRmids_.pop_front();
    for (auto& m : mbm_[rmid])
        m = Mbm{}; // a new group counts from zero (§3.3)
    return 0;
}

void ResctrlModel::freeRmid(unsigned rmid, std::vector<uint64_t> occupancy) {
    if (!profile_.mon->llcOccupancy) {
        freeRmids_.push_back(rmid);
        return;
    }
    limbo_.push_back(LimboEntry{rmid, clock_(), std::move(occupancy)});
}

int ResctrlModel::initCtrlValues(unsigned closid) {
    struct Staged {
        size_t schema;
        size_t dom;
        uint64_t value;
    };
    std::vector<Staged> staged;
    for (size_t si = 0; si < schemas_.size(); ++si) {
        const Schema& s = schemas_[si];
        for (size_t d = 0; d < s.domainIds.size(); ++d) {
            if (!s.isCache) {
                staged.push_back(
                    {si, d, options_.mbaMbps ? 4294967295ULL : profile_.mb->maxBandwidth});
                continue;
            }
            // §3.3: shareable bits + masks of shareable groups + bits nobody uses.
            uint64_t candidate = s.cache.shareableBits;
            uint64_t used = s.cache.shareableBits;
            for (unsigned c = 0; c < closidCount_; ++c) {
                if (!closidUsed_[c] || c == closid)
                    continue;
                Mode m = modeOfClosid(c);
                if (m == Mode::PseudoLockSetup)
                    continue;
                uint64_t peer = s.peer >= 0 ? schemas_[static_cast<size_t>(s.peer)].ctrl[d][c] : 0;
                uint64_t v = s.ctrl[d][c];
                used |= v | peer;
                if (m == Mode::Shareable)
                    candidate |= v | peer;
            }
            candidate |= s.cache.cbmMask & ~used;
            if (popcount(candidate) < s.cache.minCbmBits) {
                addStatus("No space on " + s.name + ":" + std::to_string(s.domainIds[d]) + "\n");
                return ENOSPC;
            }
            if (!s.cache.sparseMasks && candidate) {
                // Keep only the lowest contiguous run of 1-bits.
                unsigned first = static_cast<unsigned>(std::countr_zero(candidate));
                uint64_t run = candidate >> first;
                unsigned len = static_cast<unsigned>(std::countr_one(run));
                candidate = (len >= 64 ? ~0ULL : ((1ULL << len) - 1)) << first;
            }
            staged.push_back({si, d, candidate});
        }
    }
    for (const auto& st : staged)
        schemas_[st.schema].ctrl[st.dom][closid] = st.value;
    return 0;
}

int ResctrlModel::mkdir(const Path& path, mode_t mode, const Caller& caller) {
    if (path.empty())
        return EEXIST;
    Path parentPath(path.begin(), path.end() - 1);
    const std::string& name = path.back();
    Node parent, existing;
    if (!resolve(parentPath, parent))
        return ENOENT;
    if (parent.kind == NodeKind::GroupFile || parent.kind == NodeKind::InfoFile ||
        parent.kind == NodeKind::MonFile)
        return ENOTDIR;
    if (resolve(path, existing))
        return EEXIST; // the VFS answers before resctrl runs: status untouched
    if (name.find('\n') != std::string::npos)
        return EINVAL;
    bool toCtrl = profile_.allocCapable() && parent.kind == NodeKind::GroupDir &&
                  parent.group->type == GroupType::Root;
    bool toMon = profile_.mon && parent.kind == NodeKind::MonGroupsDir && name != "mon_groups";
    if (!toCtrl && !toMon) {
        if (parent.kind == NodeKind::InfoDir || parent.kind == NodeKind::InfoResDir)
            return profile_.mon ? ENODEV : EPERM;
        return EPERM;
    }
    clearStatus();
    auto g = std::make_unique<Group>();
    g->name = name;
    g->dirMode = mode & ~caller.umask & 07777;
    g->uid = caller.uid;
    g->gid = caller.gid;
    g->cpus.assign(profile_.cpus, false);
    g->mbaEvent = root_->mbaEvent;
    if (toMon) {
        Group& p = *parent.group;
        if (p.mode == Mode::PseudoLockSetup || p.mode == Mode::PseudoLocked) {
            addStatus("Pseudo-locking in progress\n");
            return EINVAL;
        }
        unsigned rmid = 0;
        if (int err = allocRmid(rmid)) {
            addStatus("Out of RMIDs\n");
            return err;
        }
        g->type = GroupType::Mon;
        g->parent = &p;
        g->closid = p.closid;
        g->rmid = rmid;
        g->serial = nextSerial_++;
        groups_[g->serial] = g.get();
        p.monGroups[name] = std::move(g);
        return 0;
    }
    std::optional<unsigned> rmid;
    auto takeRmid = [&]() -> int {
        if (!profile_.mon)
            return 0;
        unsigned r = 0;
        if (int err = allocRmid(r)) {
            addStatus("Out of RMIDs\n");
            return err;
        }
        rmid = r;
        return 0;
    };
    auto giveBackRmid = [&]() {
        if (rmid)
            freeRmids_.push_front(*rmid); // a failed mkdir consumes nothing (§3.2)
    };
    // 6.1 allocates the RMID first, newer kernels the CLOSID first (§3.2).
    if (flavour_.rmidBeforeClosid)
        if (int err = takeRmid())
            return err;
    std::optional<unsigned> closid;
    for (unsigned c = 1; c < closidCount_; ++c) {
        if (!closidUsed_[c]) {
            closid = c;
            break;
        }
    }
    if (!closid) {
        giveBackRmid();
        addStatus("Out of CLOSIDs\n");
        return ENOSPC;
    }
    if (!flavour_.rmidBeforeClosid)
        if (int err = takeRmid())
            return err;
    if (int err = initCtrlValues(*closid)) {
        giveBackRmid();
        return err;
    }
    closidUsed_[*closid] = true;
    g->type = GroupType::Ctrl;
    g->closid = *closid;
    g->rmid = rmid;
    g->serial = nextSerial_++;
    groups_[g->serial] = g.get();
    root_->ctrlGroups[name] = std::move(g);
    return 0;
}

void ResctrlModel::removeGroup(Group& g) {
    advanceCounters();
    // The occupancy a freed RMID enters limbo with, with the threads already moved out; the
    // placements of the footprint threads are resolved once for all RMIDs this rmdir frees.
    std::vector<OccupancyTotals> totals;
    auto release = [&](const Group& owner) {
        if (!owner.rmid)
            return;
        std::vector<uint64_t> occupancy;
        if (profile_.mon->llcOccupancy) {
            if (totals.empty()) {
                auto live = occupants(std::nullopt);
                for (size_t m = 0; m < topo_.size(); ++m)
                    totals.push_back(occupancyTotals(m, live));
            }
            for (size_t m = 0; m < topo_.size(); ++m)
                occupancy.push_back(occupancyOf(owner, m, totals[m]));
        }
        freeRmid(*owner.rmid, std::move(occupancy));
    };
    if (g.type == GroupType::Mon) {
        for (pid_t tid : membersOf(g.serial)) {
            ThreadRec rec = threads_.at(tid);
            rec.mon = 0;
            setRecord(tid, rec);
        }
        release(g);
        groups_.erase(g.serial);
        g.parent->monGroups.erase(g.name); // destroys g
        return;
    }
    // CTRL_MON: tasks (incl. those in MON children) and CPUs go to the root (§3.4).
    for (pid_t tid : membersOf(g.serial)) {
        ThreadRec rec = threads_.at(tid);
        rec.ctrl = kRootSerial;
        rec.mon = 0;
        setRecord(tid, rec);
    }
    for (size_t i = 0; i < g.cpus.size(); ++i)
        if (g.cpus[i])
            root_->cpus[i] = true;
    for (auto& [name, child] : g.monGroups) {
        release(*child);
        groups_.erase(child->serial);
    }
    release(g);
    closidUsed_[g.closid] = false;
    groups_.erase(g.serial);
    root_->ctrlGroups.erase(g.name);
}

int ResctrlModel::rmdir(const Path& path) {
    if (path.empty())
        return EBUSY;
    Node n;
    if (!resolve(path, n))
        return ENOENT;
    if (n.kind == NodeKind::GroupFile || n.kind == NodeKind::InfoFile ||
        n.kind == NodeKind::MonFile)
        return ENOTDIR;
    if (n.kind != NodeKind::GroupDir || n.group->type == GroupType::Root)
        return EPERM;
    // ≤ 6.17 rmdir leaves last_cmd_status alone (§8.1).
    removeGroup(*n.group);
    return 0;
}

int ResctrlModel::rename(const Path& from, const Path& to, unsigned flags) {
    if (!flavour_.renameSupported)
        return EPERM;
    if (flags)
        return EINVAL;
    if (from.empty() || to.empty())
        return EBUSY;
    Node src, dstParent, dst;
    Path toParent(to.begin(), to.end() - 1);
    if (!resolve(from, src) || !resolve(toParent, dstParent))
        return ENOENT;
    auto isDir = [](const Node& n) {
        return n.kind != NodeKind::GroupFile && n.kind != NodeKind::InfoFile &&
               n.kind != NodeKind::MonFile;
    };
    if (!isDir(src) || !isDir(dstParent)) {
        clearStatus();
        addStatus("Source and destination must be directories");
        return EPERM;
    }
    auto isInfo = [](const Node& n) {
        return n.kind == NodeKind::InfoDir || n.kind == NodeKind::InfoResDir;
    };
    if (isInfo(src) || isInfo(dstParent))
        return ENOENT; // no rdtgroup behind info/
    clearStatus();
    if (src.kind != NodeKind::GroupDir || src.group->type != GroupType::Mon) {
        addStatus("Source must be a MON group\n");
        return EPERM;
    }
    const std::string& newName = to.back();
    if (dstParent.kind != NodeKind::MonGroupsDir || newName == "mon_groups") {
        addStatus("Destination must be a mon_groups subdirectory\n");
        return EPERM;
    }
    Group& m = *src.group;
    Group& newParent = *dstParent.group;
    if (anySet(m.cpus) && m.parent != &newParent) {
        addStatus("Cannot move a MON group that monitors CPUs\n");
        return EPERM;
    }
    if (m.parent == &newParent && m.name == newName)
        return 0;
    if (newParent.monGroups.count(newName))
        return EEXIST;
    advanceCounters();
    auto node = std::move(m.parent->monGroups[m.name]);
    m.parent->monGroups.erase(m.name);
    m.name = newName;
    m.parent = &newParent;
    m.closid = newParent.closid;
    for (pid_t tid : membersOf(m.serial)) {
        ThreadRec rec = threads_.at(tid);
        rec.ctrl = newParent.serial;
        setRecord(tid, rec);
    }
    newParent.monGroups[newName] = std::move(node);
    return 0;
}

} // namespace resctrlsim
