// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <exception>
#include <memory>
#include <string>
#include <utility>

#include <sdbus-c++/Error.h>
#include <sdbus-c++/MethodResult.h>
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
        if (e.getName().starts_with(kErrorPrefix)) {
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

// Emits from a destructor or a clean-up path, which must not throw: when the bus connection is
// gone every emit fails, and the daemon is on its way out (main() exits so that the service
// manager restarts it, keeping every group).
template <class Emit> void emitQuietly(const char* what, Emit&& emit) noexcept {
    try {
        std::forward<Emit>(emit)();
    } catch (const std::exception& e) {
        spdlog::debug("cannot emit {}: {}", what, e.what());
    }
}

// An asynchronous method's answer (methods marked Method.Async in dbus/), shared by the work
// that sends it and the failure handler that may send it instead; copyable, as std::function
// needs.
template <class... Results> using PendingReply = std::shared_ptr<sdbus::Result<Results...>>;

template <class... Results> PendingReply<Results...> pendingReply(sdbus::Result<Results...>&& r) {
    return std::make_shared<sdbus::Result<Results...>>(std::move(r));
}

// Sends an error reply, mapped as translateErrors() does. A reply that cannot be sent (the
// caller or the bus is gone) is logged: nothing may escape into the loop.
template <class... Results>
void replyError(const char* method, const sdbus::Result<Results...>& reply, const Error& error) {
    spdlog::debug("{}: {}: {}", method, error.dbusName(), error.what());
    try {
        reply.returnError(sdbus::Error(std::string(error.dbusName()), error.what()));
    } catch (const sdbus::Error& e) {
        spdlog::warn("{}: cannot send the error reply: {}", method, e.getMessage());
    }
}

// Runs the checks an asynchronous method makes before it queues its work (the caller's
// credentials can only be read while its call is being handled). Returns false after answering
// `reply` with the error they threw.
template <class... Results, class Body>
bool admitOrReply(const char* method, const sdbus::Result<Results...>& reply, Body&& body) {
    try {
        translateErrors(method, std::forward<Body>(body));
        return true;
    } catch (const sdbus::Error& e) {
        try {
            reply.returnError(e);
        } catch (const sdbus::Error& sendError) {
            spdlog::warn("{}: cannot send the reply: {}", method, sendError.getMessage());
        }
        return false;
    }
}

// Answers an asynchronous method with what `body` returns or the error it throws, mapped as
// translateErrors() does. Returns the error's name, empty when the call succeeded.
template <class... Results, class Body>
std::string replyFrom(const char* method, const sdbus::Result<Results...>& reply, Body&& body) {
    try {
        if constexpr (sizeof...(Results) == 0) {
            translateErrors(method, std::forward<Body>(body));
            reply.returnResults();
        } else {
            reply.returnResults(translateErrors(method, std::forward<Body>(body)));
        }
        return {};
    } catch (const sdbus::Error& e) {
        try {
            reply.returnError(e);
        } catch (const sdbus::Error& sendError) {
            spdlog::warn("{}: cannot send the reply: {}", method, sendError.getMessage());
        }
        return e.getName();
    }
}

} // namespace resctrld
