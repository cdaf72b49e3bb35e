// SPDX-License-Identifier: LGPL-2.1-or-later
#include "host_layout.h"

#include <algorithm>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "errors.h"
#include "schemata.h"
#include "text.h"

namespace resctrld {
namespace {

struct GroupSchemata {
    LayoutGroup group;
    Schemata schemata;
};

bool isControlGroupDirectory(const std::filesystem::directory_entry& entry) {
    const auto name = entry.path().filename().string();
    std::error_code ec;
    return entry.is_directory(ec) && name != "info" && name != "mon_groups" && name != "mon_data";
}

// The control groups under the root, by name, at most `limit` of them. The listing's d_type
// says which entries are directories: no stat per entry.
std::vector<std::string> listControlGroups(const std::filesystem::path& root, unsigned limit) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
        if (!isControlGroupDirectory(entry))
            continue;
        if (names.size() == limit) {
            // Only a filesystem that is not the kernel's shows more: said at debug, as any
            // local user can call for the layout.
            spdlog::debug("{} lists more control groups than the host's {} CLOSIDs allow; the "
                          "layout shows {} of them",
                          root.string(), limit, limit);
            break;
        }
        names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

} // namespace

std::map<CacheId, CbmMask> readIoAllocMasks(const ResctrlFs& resctrl, Resource resource) {
    std::map<CacheId, CbmMask> masks;
    const auto text = resctrl.read(std::filesystem::path("info") /
                                   std::string(resourceName(resource)) / "io_alloc_cbm");
    if (!text)
        return masks;
    for (std::string_view item : split(trim(*text), ';')) {
        const auto equals = item.find('=');
        if (equals == std::string_view::npos)
            return {};
        const auto id = parseUnsigned<unsigned>(trim(item.substr(0, equals)));
        const auto mask = CbmMask::parseHex(trim(item.substr(equals + 1)));
        if (!id || !mask)
            return {};
        masks[CacheId{*id}] = *mask;
    }
    return masks;
}

unsigned controlGroupLimit(const HostModel& host) {
    const bool ioAlloc =
        std::any_of(host.cacheResources.begin(), host.cacheResources.end(),
                    [](const CacheResource& cache) { return cache.ioAllocEnabled; });
    // closidBudget() leaves out the CLOSID io_alloc reserves, which a group may hold again once
    // io_alloc is disabled.
    return host.closidBudget() + (ioAlloc ? 1 : 0);
}

HostLayout readHostLayout(const HostModel& host, const ResctrlFs& resctrl,
                          const std::map<std::string, std::string>& domainGroups) {
    std::vector<GroupSchemata> groups;
    const auto rootSchemata = resctrl.read("schemata");
    if (!rootSchemata)
        throw ResctrlUnavailable("cannot read " + (resctrl.root() / "schemata").string());
    groups.push_back({{"", LayoutOwner::Default, {}}, Schemata::parse(*rootSchemata)});

    for (std::string& name : listControlGroups(resctrl.root(), controlGroupLimit(host))) {
        // A group removed by someone else between the listing and the read is simply gone.
        const auto text = resctrl.read(std::filesystem::path(name) / "schemata");
        if (!text)
            continue;
        LayoutGroup group{std::move(name), LayoutOwner::Foreign, {}};
        if (auto own = domainGroups.find(group.path); own != domainGroups.end()) {
            group.owner = LayoutOwner::Domain;
            group.domain = own->second;
        }
        groups.push_back({std::move(group), Schemata::parse(*text)});
    }

    HostLayout layout;
    std::vector<const CacheResource*> caches;
    for (const CacheResource& cache : host.cacheResources)
        caches.push_back(&cache);
    std::stable_sort(
        caches.begin(), caches.end(),
        [](const CacheResource* a, const CacheResource* b) { return a->resource < b->resource; });
    for (const CacheResource* cache : caches) {
        const auto ioAlloc = cache->ioAllocEnabled ? readIoAllocMasks(resctrl, cache->resource)
                                                   : std::map<CacheId, CbmMask>{};
        for (const auto& [id, size] : cache->domains) {
            CacheLayout entry;
            entry.resource = cache->resource;
            entry.id = id;
            entry.ways = cache->ways();
            entry.bytesPerWay = cache->granularity(id);
            entry.shareableBits = cache->shareableBits;
            if (auto io = ioAlloc.find(id); io != ioAlloc.end())
                entry.ioAllocMask = io->second;
            for (const GroupSchemata& group : groups)
                if (auto mask = group.schemata.mask(cache->resource, id))
                    entry.holders.push_back({group.group, *mask});
            layout.caches.push_back(std::move(entry));
        }
    }
    for (const BandwidthResource& bandwidth : host.bandwidthResources) {
        std::vector<CacheId> ids = bandwidth.domains;
        std::sort(ids.begin(), ids.end());
        for (CacheId id : ids) {
            BandwidthLayout entry;
            entry.resource = bandwidth.resource;
            entry.unit = bandwidth.unit;
            entry.id = id;
            for (const GroupSchemata& group : groups)
                if (auto value = group.schemata.bandwidth(bandwidth.resource, id))
                    entry.holders.push_back({group.group, *value});
            layout.bandwidths.push_back(std::move(entry));
        }
    }
    return layout;
}

} // namespace resctrld
