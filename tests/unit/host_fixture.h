// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

// Host trees for unit tests: a resctrl root (info/, root schemata, mon_data/), a sysfs cache
// tree and a mountinfo file, written into a temporary directory from the real machines in
// shared/hosts/README.md. The files are written here by hand, in the kernel's own formats, so
// that discovery and the schemata parser are tested against text they did not produce.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "host_model.h"

namespace resctrld::test {

// A cache level as sysfs shows it: every CPU's indexN entry points at one of these banks.
struct CacheLevelSpec {
    unsigned level = 3;
    Bytes size = 0;
    // Cache id of each CPU's cache at this level (index = CPU number).
    std::vector<unsigned> idOfCpu;
};

// info/<L3|L2>: a cache allocation resource.
struct CatSpec {
    unsigned level = 3;
    unsigned numClosids = 16;
    unsigned bits = 11; // cbm_mask = bits ones
    unsigned minCbmBits = 1;
    std::string shareableBits = "0";
    bool sparseMasks = false;
};

struct MbSpec {
    unsigned numClosids = 8;
    unsigned minBandwidth = 10;
    unsigned bandwidthGran = 10;
    bool delayLinear = true;
    std::string threadThrottleMode = "max"; // empty: no file (AMD)
    unsigned defaultValue = 100;            // the root's value, 2048 on AMD
};

struct MonSpec {
    unsigned numRmids = 160;
    std::vector<std::string> features{"llc_occupancy", "mbm_total_bytes", "mbm_local_bytes"};
    // Sub-NUMA Clustering: L3 id -> NUMA node ids, each a mon_sub_L3_<node> in mon_L3_<id>.
    std::map<unsigned, std::vector<unsigned>> sncNodes = {};
};

struct HostProfile {
    std::string name;
    unsigned cpus = 0;
    std::vector<CacheLevelSpec> caches; // levels 1 (as L1d + L1i), 2, 3
    std::vector<CatSpec> cat;
    std::optional<MbSpec> mb;
    std::optional<MonSpec> mon;
};

// The five machines of shared/hosts/README.md.
HostProfile skx2sL3cat();
HostProfile skx2sNoL3cat();
HostProfile bdx2s();
HostProfile milan2s();
HostProfile modernIntelL2();
// A Granite Rapids-like host with Sub-NUMA Clustering (3 nodes per L3), cut down to 24 CPUs:
// two 480 MiB 15-way L3s, sparse masks allowed, num_rmids already divided by the nodes (170).
HostProfile gnr2sSnc3();

struct TreeOptions {
    bool cdp = false;
    bool cdpl2 = false;
    bool mbaMbps = false;
    // Kernel <= 6.14 read format: values zero/space padded (docs/kernel.md §4.6).
    bool padded = false;
    // List the mount in the mountinfo file (with its options).
    bool inMountinfo = true;
    // Name of the resctrl root directory inside the tree (a space exercises mountinfo escapes).
    std::string resctrlDir = "resctrl";
};

class HostTree {
public:
    explicit HostTree(const HostProfile& profile, const TreeOptions& options = {});
    ~HostTree();
    HostTree(const HostTree&) = delete;
    HostTree& operator=(const HostTree&) = delete;

    HostPaths paths() const;
    HostModel discover() const { return HostModel::discover(paths()); }
    const std::filesystem::path& resctrlRoot() const { return resctrl_; }
    const std::filesystem::path& sysfsRoot() const { return sysfs_; }
    // The root group's schemata as the tree holds it.
    std::string rootSchemata() const;

    // Writes a file (creating directories) relative to the resctrl root.
    void write(const std::filesystem::path& relative, const std::string& content) const;
    // Removes a file relative to the resctrl root, as a kernel or a fixture without it would
    // show the tree; throws when there is no such file.
    void remove(const std::filesystem::path& relative) const;
    // A control group directory with its schemata and mode.
    void writeGroup(const std::string& name, const std::string& schemata,
                    const std::string& mode = "shareable") const;

private:
    std::filesystem::path top_;
    std::filesystem::path resctrl_;
    std::filesystem::path sysfs_;
    std::filesystem::path mountinfo_;
};

void writeFile(const std::filesystem::path& path, const std::string& content);

} // namespace resctrld::test
