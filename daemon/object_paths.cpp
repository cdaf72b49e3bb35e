// SPDX-License-Identifier: LGPL-2.1-or-later
#include "object_paths.h"

#include <cstdlib>
#include <fmt/format.h>
#include <memory>
#include <new>
#include <system_error>

#include <systemd/sd-bus.h>

// Every generated adaptor and proxy is included here so that a change to dbus/*.xml that breaks
// the generated code fails the build, even for interfaces whose objects are not served yet.
#include <allocation_adaptor.h>
#include <domain_adaptor.h>
#include <monitor_adaptor.h>

namespace resctrld {
namespace {

constexpr std::string_view kDomainPrefix = "/org/resctrld1/domain";

struct FreeDeleter {
    void operator()(char* p) const { std::free(p); }
};

} // namespace

std::string domainObjectPath(std::string_view domainName) {
    char* raw = nullptr;
    const int rc = sd_bus_path_encode(std::string(kDomainPrefix).c_str(),
                                      std::string(domainName).c_str(), &raw);
    if (rc < 0) {
        if (rc == -ENOMEM)
            throw std::bad_alloc();
        throw std::system_error(-rc, std::generic_category(), "sd_bus_path_encode");
    }
    const std::unique_ptr<char, FreeDeleter> owned(raw);
    return owned.get();
}

std::string allocationObjectPath(std::string_view domainName, std::size_t index) {
    return fmt::format("{}/allocation/{}", domainObjectPath(domainName), index);
}

std::string monitorObjectPath(std::string_view domainName, std::size_t index) {
    return fmt::format("{}/monitor/{}", domainObjectPath(domainName), index);
}

bool decodeDomainObjectPath(std::string_view path, std::string& domainName) {
    char* raw = nullptr;
    const int rc =
        sd_bus_path_decode(std::string(path).c_str(), std::string(kDomainPrefix).c_str(), &raw);
    if (rc <= 0)
        return false;
    const std::unique_ptr<char, FreeDeleter> owned(raw);
    domainName = owned.get();
    return true;
}

} // namespace resctrld
