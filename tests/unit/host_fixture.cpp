// SPDX-License-Identifier: LGPL-2.1-or-later
#include "host_fixture.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>

namespace resctrld::test {
namespace fs = std::filesystem;

void writeFile(const fs::path& path, const std::string& content) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out)
        throw std::runtime_error("cannot write " + path.string());
}

namespace {

std::string hexOnes(unsigned bits) {
    static const char* kDigits = "0123456789abcdef";
    std::string text;
    const std::uint64_t value = bits >= 64 ? ~0ULL : (1ULL << bits) - 1;
    for (std::uint64_t rest = value; rest != 0; rest >>= 4)
        text.insert(text.begin(), kDigits[rest & 0xf]);
    return text.empty() ? "0" : text;
}

std::string padded(std::string text, std::size_t width, char fill) {
    if (text.size() < width)
        text.insert(0, width - text.size(), fill);
    return text;
}

// "0-19,40-59" as the kernel prints CPU lists.
std::string cpuList(const std::vector<unsigned>& cpus) {
    std::string text;
    for (std::size_t i = 0; i < cpus.size();) {
        std::size_t j = i;
        while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1)
            ++j;
        if (!text.empty())
            text += ',';
        text += std::to_string(cpus[i]);
        if (j > i)
            text += "-" + std::to_string(cpus[j]);
        i = j + 1;
    }
    return text;
}

std::string sizeText(Bytes bytes) {
    return std::to_string(bytes / 1024) + "K";
}

std::set<unsigned> idsOf(const CacheLevelSpec& level) {
    return {level.idOfCpu.begin(), level.idOfCpu.end()};
}

const CacheLevelSpec& levelOf(const HostProfile& profile, unsigned level) {
    for (const CacheLevelSpec& spec : profile.caches)
        if (spec.level == level)
            return spec;
    throw std::logic_error("profile " + profile.name + " has no level " + std::to_string(level));
}

// Intel numbering: CPU c and c + cores are hyperthreads of core c % cores.
std::vector<unsigned> ids(unsigned cpus, unsigned threads, unsigned coresPerId,
                          unsigned (*map)(unsigned)) {
    const unsigned cores = cpus / threads;
    std::vector<unsigned> result(cpus);
    for (unsigned cpu = 0; cpu < cpus; ++cpu)
        result[cpu] = map((cpu % cores) / coresPerId);
    return result;
}

unsigned identity(unsigned n) {
    return n;
}

std::vector<CacheLevelSpec> intelCaches(unsigned cpus, unsigned coresPerSocket, Bytes l3,
                                        Bytes l2) {
    return {
        {1, 32 * 1024, ids(cpus, 2, 1, identity)},
        {2, l2, ids(cpus, 2, 1, identity)},
        {3, l3, ids(cpus, 2, coresPerSocket, identity)},
    };
}

} // namespace

HostProfile skx2sL3cat() {
    HostProfile profile;
    profile.name = "skx-2s-l3cat";
    profile.cpus = 80;
    profile.caches = intelCaches(80, 20, 28160ULL * 1024, 1ULL << 20);
    profile.cat = {{3, 16, 11, 1, "600", false}};
    profile.mb = MbSpec{8, 10, 10, true, "max", 100};
    profile.mon = MonSpec{160, {"llc_occupancy", "mbm_total_bytes", "mbm_local_bytes"}};
    return profile;
}

HostProfile skx2sNoL3cat() {
    HostProfile profile = skx2sL3cat();
    profile.name = "skx-2s-no-l3cat";
    profile.cat.clear();
    return profile;
}

HostProfile bdx2s() {
    HostProfile profile;
    profile.name = "bdx-2s";
    profile.cpus = 64;
    profile.caches = intelCaches(64, 16, 40ULL << 20, 256ULL * 1024);
    profile.cat = {{3, 16, 20, 1, "c0000", false}};
    profile.mon = MonSpec{128, {"llc_occupancy", "mbm_total_bytes", "mbm_local_bytes"}};
    return profile;
}

HostProfile gnr2sSnc3() {
    HostProfile profile;
    profile.name = "gnr-2s-snc3";
    profile.cpus = 24;
    profile.caches = intelCaches(24, 6, 491520ULL * 1024, 2ULL << 20);
    profile.cat = {{3, 15, 15, 1, "6000", true}};
    profile.mb = MbSpec{15, 10, 10, true, "per-thread", 100};
    profile.mon = MonSpec{170,
                          {"llc_occupancy", "mbm_total_bytes", "mbm_local_bytes"},
                          {{0, {0, 1, 2}}, {1, {3, 4, 5}}}};
    return profile;
}

HostProfile milan2s() {
    HostProfile profile;
    profile.name = "milan-2s";
    profile.cpus = 256;
    // 128 cores, CPU c and c + 128 are siblings; one L3 per 8-core CCD, ids 0-7 and 16-23.
    profile.caches = {
        {1, 32 * 1024, ids(256, 2, 1, identity)},
        {2, 512 * 1024, ids(256, 2, 1, identity)},
        {3, 32ULL << 20, ids(256, 2, 8, [](unsigned ccd) { return ccd < 8 ? ccd : ccd + 8; })},
    };
    profile.cat = {{3, 16, 16, 0, "0", true}};
    profile.mb = MbSpec{16, 0, 1, false, "", 2048};
    profile.mon = MonSpec{256, {"llc_occupancy", "mbm_total_bytes", "mbm_local_bytes"}};
    return profile;
}

HostProfile modernIntelL2() {
    HostProfile profile;
    profile.name = "modern-intel-l2";
    profile.cpus = 96;
    profile.caches = intelCaches(96, 48, 105ULL << 20, 2ULL << 20);
    profile.cat = {{3, 15, 15, 1, "6000", false}, {2, 8, 16, 1, "0", false}};
    profile.mb = MbSpec{15, 10, 10, true, "max", 100};
    profile.mon = MonSpec{256, {"llc_occupancy", "mbm_total_bytes", "mbm_local_bytes"}};
    return profile;
}

HostTree::HostTree(const HostProfile& profile, const TreeOptions& options) {
    // Thousands of small sysfs files: on tmpfs where there is one (on a disk, writing them takes
    // minutes of a unit-test run).
    std::error_code ec;
    const fs::path base =
        fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string pattern = (base / "resctrld-host-XXXXXX").string();
    if (!::mkdtemp(pattern.data()))
        throw std::runtime_error("mkdtemp failed");
    top_ = pattern;
    resctrl_ = top_ / options.resctrlDir;
    sysfs_ = top_ / "sys";
    mountinfo_ = top_ / "mountinfo";

    // sysfs: cpuN/cache/index0 (L1d), index1 (L1i), index2 (L2), index3 (L3).
    for (unsigned cpu = 0; cpu < profile.cpus; ++cpu) {
        const fs::path cacheDir =
            sysfs_ / "devices/system/cpu" / ("cpu" + std::to_string(cpu)) / "cache";
        unsigned index = 0;
        for (const CacheLevelSpec& level : profile.caches) {
            const std::vector<std::string> types =
                level.level == 1 ? std::vector<std::string>{"Data", "Instruction"}
                                 : std::vector<std::string>{"Unified"};
            std::vector<unsigned> sharing;
            for (unsigned other = 0; other < profile.cpus; ++other)
                if (level.idOfCpu[other] == level.idOfCpu[cpu])
                    sharing.push_back(other);
            for (const std::string& type : types) {
                const fs::path dir = cacheDir / ("index" + std::to_string(index++));
                writeFile(dir / "level", std::to_string(level.level) + "\n");
                writeFile(dir / "type", type + "\n");
                writeFile(dir / "id", std::to_string(level.idOfCpu[cpu]) + "\n");
                writeFile(dir / "size", sizeText(level.size) + "\n");
                writeFile(dir / "shared_cpu_list", cpuList(sharing) + "\n");
            }
        }
    }
    writeFile(sysfs_ / "devices/system/cpu/online", "0-" + std::to_string(profile.cpus - 1) + "\n");

    // info/ and the root schemata.
    writeFile(resctrl_ / "info/last_cmd_status", "ok\n");
    // Every cache on these x86 hosts is CDP-capable, so names are right-aligned to 6 (§4.6).
    const unsigned nameWidth = 6;
    unsigned valueWidth = 0;
    for (const CatSpec& cat : profile.cat)
        valueWidth = std::max(valueWidth, (cat.bits + 3) / 4);
    if (profile.mb)
        valueWidth = std::max(valueWidth, profile.mb->delayLinear ? 3U : 4U);
    std::vector<std::string> lines; // in resource order; printed reversed (§4.6)
    for (unsigned level : {3U, 2U}) {
        for (const CatSpec& cat : profile.cat) {
            if (cat.level != level)
                continue;
            const bool split = (level == 3 && options.cdp) || (level == 2 && options.cdpl2);
            const std::string base = "L" + std::to_string(level);
            const std::vector<std::string> names =
                split ? std::vector<std::string>{base + "CODE", base + "DATA"}
                      : std::vector<std::string>{base};
            const std::string mask = hexOnes(cat.bits);
            for (const std::string& name : names) {
                const fs::path dir = resctrl_ / "info" / name;
                writeFile(dir / "num_closids",
                          std::to_string(split ? cat.numClosids / 2 : cat.numClosids) + "\n");
                writeFile(dir / "cbm_mask", mask + "\n");
                writeFile(dir / "min_cbm_bits", std::to_string(cat.minCbmBits) + "\n");
                writeFile(dir / "shareable_bits", cat.shareableBits + "\n");
                writeFile(dir / "sparse_masks", cat.sparseMasks ? "1\n" : "0\n");
                std::string usage;
                std::string line = padded(name, nameWidth, ' ') + ":";
                bool first = true;
                for (unsigned id : idsOf(levelOf(profile, level))) {
                    usage +=
                        (first ? "" : ";") + std::to_string(id) + "=" + std::string(cat.bits, 'S');
                    line += (first ? "" : ";") + std::to_string(id) + "=" +
                            (options.padded ? padded(mask, valueWidth, '0') : mask);
                    first = false;
                }
                writeFile(dir / "bit_usage", usage + "\n");
                lines.push_back(line);
            }
        }
    }
    if (profile.mb) {
        const fs::path dir = resctrl_ / "info/MB";
        writeFile(dir / "num_closids", std::to_string(profile.mb->numClosids) + "\n");
        writeFile(dir / "min_bandwidth", std::to_string(profile.mb->minBandwidth) + "\n");
        writeFile(dir / "bandwidth_gran", std::to_string(profile.mb->bandwidthGran) + "\n");
        writeFile(dir / "delay_linear", profile.mb->delayLinear ? "1\n" : "0\n");
        if (!profile.mb->threadThrottleMode.empty())
            writeFile(dir / "thread_throttle_mode", profile.mb->threadThrottleMode + "\n");
        const std::string value =
            options.mbaMbps ? "4294967295" : std::to_string(profile.mb->defaultValue);
        std::string line = padded("MB", nameWidth, ' ') + ":";
        bool first = true;
        for (unsigned id : idsOf(levelOf(profile, 3))) {
            line += (first ? "" : ";") + std::to_string(id) + "=" +
                    (options.padded ? padded(value, valueWidth, ' ') : value);
            first = false;
        }
        lines.push_back(line);
        if (options.mbaMbps)
            writeFile(resctrl_ / "mba_MBps_event", "mbm_local_bytes\n");
    }
    std::string schemata;
    for (auto it = lines.rbegin(); it != lines.rend(); ++it)
        schemata += *it + "\n";
    writeFile(resctrl_ / "schemata", schemata);
    writeFile(resctrl_ / "tasks", "1\n");
    writeFile(resctrl_ / "mode", "shareable\n");
    fs::create_directories(resctrl_ / "mon_groups");

    if (profile.mon) {
        const fs::path dir = resctrl_ / "info/L3_MON";
        writeFile(dir / "num_rmids", std::to_string(profile.mon->numRmids) + "\n");
        std::string features;
        for (const std::string& feature : profile.mon->features)
            features += feature + "\n";
        writeFile(dir / "mon_features", features);
        const Bytes l3 = levelOf(profile, 3).size;
        writeFile(dir / "max_threshold_occupancy",
                  std::to_string(l3 / profile.mon->numRmids / 65536 * 65536) + "\n");
        for (unsigned id : idsOf(levelOf(profile, 3))) {
            const std::string name = "mon_L3_" + padded(std::to_string(id), 2, '0');
            for (const std::string& feature : profile.mon->features)
                writeFile(resctrl_ / "mon_data" / name / feature, "0\n");
            if (const auto nodes = profile.mon->sncNodes.find(id);
                nodes != profile.mon->sncNodes.end())
                for (unsigned node : nodes->second)
                    for (const std::string& feature : profile.mon->features)
                        writeFile(resctrl_ / "mon_data" / name /
                                      ("mon_sub_L3_" + padded(std::to_string(node), 2, '0')) /
                                      feature,
                                  "0\n");
        }
    }

    // mountinfo, with the kernel's escapes for spaces and the resctrl options (§1.2).
    std::string point;
    for (char c : resctrl_.string())
        point += c == ' ' ? std::string("\\040") : std::string(1, c);
    std::string superOptions = "rw";
    if (options.cdp)
        superOptions += ",cdp";
    if (options.cdpl2)
        superOptions += ",cdpl2";
    if (options.mbaMbps)
        superOptions += ",mba_MBps";
    std::string mountinfo = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
                            "23 22 0:21 / /sys rw,nosuid,nodev,noexec shared:2 - sysfs sysfs rw\n";
    if (options.inMountinfo)
        mountinfo += "40 23 0:35 / " + point + " rw,relatime shared:17 - resctrl resctrl " +
                     superOptions + "\n";
    writeFile(mountinfo_, mountinfo);
}

HostTree::~HostTree() {
    std::error_code error;
    fs::remove_all(top_, error);
}

HostPaths HostTree::paths() const {
    HostPaths paths;
    paths.resctrlRoot = resctrl_;
    paths.sysfsRoot = sysfs_;
    paths.mountinfo = mountinfo_;
    return paths;
}

std::string HostTree::rootSchemata() const {
    std::ifstream in(resctrl_ / "schemata");
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void HostTree::write(const fs::path& relative, const std::string& content) const {
    writeFile(resctrl_ / relative, content);
}

void HostTree::remove(const fs::path& relative) const {
    if (!fs::remove(resctrl_ / relative))
        throw std::runtime_error("no " + (resctrl_ / relative).string() + " to remove");
}

void HostTree::writeGroup(const std::string& name, const std::string& schemata,
                          const std::string& mode) const {
    write(fs::path(name) / "schemata", schemata);
    write(fs::path(name) / "mode", mode + "\n");
    write(fs::path(name) / "tasks", "");
}

} // namespace resctrld::test
