// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace resctrld {

// Object paths of docs/api.md's table: the domain name is one path component encoded as
// sd_bus_path_encode() does ('_' and two lowercase hex digits for every byte outside
// [A-Za-z0-9]; the empty name is "_").
std::string domainObjectPath(std::string_view domainName);
std::string allocationObjectPath(std::string_view domainName, std::size_t index);
std::string monitorObjectPath(std::string_view domainName, std::size_t index);

// Stores the domain name of a domain object path in `domainName`; false when `path` is not one.
bool decodeDomainObjectPath(std::string_view path, std::string& domainName);

} // namespace resctrld
