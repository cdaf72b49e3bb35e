// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <exception>
#include <string>
#include <utility>

#include <sdbus-c++/Error.h>
#include <spdlog/spdlog.h>

#include "errors.h"

namespace resctrld {

inline constexpr const char* kFailedErrorName = "org.freedesktop.DBus.Error.Failed";

// The one place where exceptions become D-Bus errors (style.md, "daemon/ is a thin adaptor"):
// every method handler of every object runs its body through this. resctrld::Error keeps its
// name and message (dbus-api.md, "Errors"); anything else is a bug or an environment failure and
// is reported as org.freedesktop.DBus.Error.Failed and logged, never swallowed.
template <class Body> decltype(auto) translateErrors(const char* method, Body&& body) {
    try {
        return std::forward<Body>(body)();
    } catch (const Error& e) {
        spdlog::debug("{}: {}: {}", method, e.dbusName(), e.what());
        throw sdbus::Error(std::string(e.dbusName()), e.what());
    } catch (const sdbus::Error&) {
        throw;
    } catch (const std::exception& e) {
        spdlog::warn("{} failed unexpectedly: {}", method, e.what());
        throw sdbus::Error(kFailedErrorName, std::string(method) + " failed: " + e.what());
    }
}

} // namespace resctrld
