// SPDX-License-Identifier: LGPL-2.1-or-later
#include "resource.h"

namespace resctrld {

std::string_view resourceName(Resource resource) noexcept {
    switch (resource) {
    case Resource::L3:
        return "L3";
    case Resource::L3Code:
        return "L3CODE";
    case Resource::L3Data:
        return "L3DATA";
    case Resource::L2:
        return "L2";
    case Resource::L2Code:
        return "L2CODE";
    case Resource::L2Data:
        return "L2DATA";
    case Resource::MB:
        return "MB";
    case Resource::SMBA:
        return "SMBA";
    }
    return "L3";
}

std::optional<Resource> parseResourceName(std::string_view name) noexcept {
    for (Resource resource : kAllResources)
        if (resourceName(resource) == name)
            return resource;
    return std::nullopt;
}

bool isCacheResource(Resource resource) noexcept {
    return resource != Resource::MB && resource != Resource::SMBA;
}

unsigned cacheLevel(Resource resource) noexcept {
    switch (resource) {
    case Resource::L3:
    case Resource::L3Code:
    case Resource::L3Data:
        return 3;
    case Resource::L2:
    case Resource::L2Code:
    case Resource::L2Data:
        return 2;
    case Resource::MB:
    case Resource::SMBA:
        break;
    }
    return 0;
}

CacheType cacheType(Resource resource) noexcept {
    switch (resource) {
    case Resource::L3Code:
    case Resource::L2Code:
        return CacheType::Code;
    case Resource::L3Data:
    case Resource::L2Data:
        return CacheType::Data;
    default:
        return CacheType::Both;
    }
}

std::optional<Resource> cacheResource(unsigned level, CacheType type) noexcept {
    for (Resource resource : kAllResources)
        if (isCacheResource(resource) && cacheLevel(resource) == level &&
            cacheType(resource) == type)
            return resource;
    return std::nullopt;
}

Resource cdpPeer(Resource resource) noexcept {
    switch (resource) {
    case Resource::L3Code:
        return Resource::L3Data;
    case Resource::L3Data:
        return Resource::L3Code;
    case Resource::L2Code:
        return Resource::L2Data;
    case Resource::L2Data:
        return Resource::L2Code;
    default:
        return resource;
    }
}

} // namespace resctrld
