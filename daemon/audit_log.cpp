// SPDX-License-Identifier: LGPL-2.1-or-later
#include "audit_log.h"

#include <array>

#include <spdlog/spdlog.h>

#include "thread_owners.h"

namespace resctrld {

AuditLog::AuditLog(Sink sink)
    : sink_(std::move(sink)) {
    if (!sink_)
        sink_ = [](const std::string& line) {
            spdlog::info("{}", line);
        };
}

void AuditLog::log(uid_t uid, std::string_view text, Clock::time_point now) {
    closeWindows(now);
    auto [it, fresh] = windows_.try_emplace(uid);
    Window& window = it->second;
    if (fresh) {
        window.start = now;
        window.startedAt = std::time(nullptr);
    }
    if (window.logged == kLinesPerWindow) {
        ++window.suppressed;
        return;
    }
    ++window.logged;
    sink_("audit: " + std::string(text));
}

void AuditLog::closeWindows(Clock::time_point now) {
    for (auto it = windows_.begin(); it != windows_.end();) {
        const Window& window = it->second;
        if (now - window.start < kWindow) {
            ++it;
            continue;
        }
        if (window.suppressed > 0) {
            std::array<char, 16> time{};
            tm local{};
            localtime_r(&window.startedAt, &local);
            std::strftime(time.data(), time.size(), "%H:%M:%S", &local);
            sink_(fmt::format("audit: {}: {} more lines suppressed since {} (at most {} per {} s)",
                              describeCaller(it->first), window.suppressed, time.data(),
                              kLinesPerWindow, kWindow.count()));
        }
        it = windows_.erase(it);
    }
}

namespace {

struct HeldLine {
    AuditLog* audit;
    uid_t uid;
    std::string text;
};
thread_local std::optional<HeldLine> heldLine;

} // namespace

void holdAuditLine(AuditLog& audit, uid_t uid, std::string text) {
    releaseAuditLine("");
    heldLine = HeldLine{&audit, uid, std::move(text)};
}

void releaseAuditLine(std::string_view errorName) noexcept {
    if (!heldLine)
        return;
    const HeldLine line = std::move(*heldLine);
    heldLine.reset();
    constexpr std::string_view kPrefix = "org.resctrld1.Error.";
    const std::string_view shortName =
        errorName.starts_with(kPrefix) ? errorName.substr(kPrefix.size()) : errorName;
    try {
        line.audit->log(line.uid,
                        line.text + (shortName == "AccessDenied" ? ": refused (AccessDenied)"
                                     : shortName.empty()
                                         ? std::string(": failed")
                                         : ": failed (" + std::string(shortName) + ")"));
    } catch (...) {
        // Out of memory while logging: the call's own answer matters more.
    }
}

std::string describeCaller(uid_t uid) {
    if (uid == static_cast<uid_t>(-1))
        return "an unknown uid";
    return describeUser(uid);
}

std::string quoteForLog(std::string_view text) {
    constexpr std::size_t kShown = 128;
    constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (const unsigned char c : text.substr(0, kShown)) {
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out += static_cast<char>(c);
        } else {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 0xF];
        }
    }
    if (text.size() > kShown)
        out += "...";
    return out;
}

} // namespace resctrld
