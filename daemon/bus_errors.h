// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <exception>
#include <string>
#include <utility>

#include <sdbus-c++/Error.h>
#include <spdlog/spdlog.h>

#include "audit_log.h"
#include "errors.h"

namespace resctrld {

inline constexpr const char* kErrorPrefix = "org.resctrld1.Error.";
inline constexpr const char* kFailedErrorName = "org.resctrld1.Error.Failed";

// The one place where exceptions become D-Bus errors: every method handler of every object runs
// its body through this, so every failure a caller sees has one of the documented
// org.resctrld1.Error.* names. resctrld::Error keeps its name and message. Anything else is a bug
// or an environment failure: it is logged with its details and answered with
// org.resctrld1.Error.Failed and a message that shows nothing of the daemon's insides (paths,
// errno texts of its own files), which are for the operator's eyes, not every caller's.
template <class Body> decltype(auto) translateErrors(const char* method, Body&& body) {
    try {
        return std::forward<Body>(body)();
    } catch (const Error& e) {
        releaseAuditLine(e.dbusName());
        spdlog::debug("{}: {}: {}", method, e.dbusName(), e.what());
        throw sdbus::Error(std::string(e.dbusName()), e.what());
    } catch (const sdbus::Error& e) {
        // Already translated (a nested handler's): kept.
        if (e.getName().rfind(kErrorPrefix, 0) == 0) {
            releaseAuditLine(e.getName());
            throw;
        }
        releaseAuditLine(kFailedErrorName);
        spdlog::error("{} failed on the bus: {}: {}", method, e.getName(), e.getMessage());
        throw sdbus::Error(kFailedErrorName, std::string(method) +
                                                 " failed because of an internal error; see the "
                                                 "daemon's log");
    } catch (const std::exception& e) {
        releaseAuditLine(kFailedErrorName);
        spdlog::error("{} failed unexpectedly: {}", method, e.what());
        throw sdbus::Error(kFailedErrorName, std::string(method) +
                                                 " failed because of an internal error; see the "
                                                 "daemon's log");
    }
}

} // namespace resctrld
