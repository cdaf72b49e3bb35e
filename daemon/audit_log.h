// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <chrono>
#include <cstddef>
#include <ctime>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace resctrld {

// The audit trail: one info line per privileged call and per refusal, naming the caller's uid, so
// the journal says who changed what. Each caller gets at most kLinesPerWindow lines per kWindow;
// the rest are counted, and the count is logged with the first line after the window (of that
// caller or of anyone), so one user's flood of calls cannot flood the journal or hide another
// user's lines.
class AuditLog {
public:
    using Clock = std::chrono::steady_clock;
    using Sink = std::function<void(const std::string&)>;
    static constexpr std::size_t kLinesPerWindow = 20;
    static constexpr std::chrono::seconds kWindow{10};

    // Lines go to `sink`; spdlog's info level when it is empty.
    explicit AuditLog(Sink sink = {});

    // Logs "audit: <text>" for `uid` unless the uid has had its share of the current window.
    void log(uid_t uid, std::string_view text, Clock::time_point now = Clock::now());

private:
    struct Window {
        Clock::time_point start;
        std::time_t startedAt = 0; // wall clock, for the suppressed lines' count
        std::size_t logged = 0;
        std::size_t suppressed = 0;
    };

    // Ends every window older than kWindow, logging what each suppressed.
    void closeWindows(Clock::time_point now);

    Sink sink_;
    std::map<uid_t, Window> windows_;
};

// A privileged call's audit line waiting for its outcome: a handler's audit record goes (as the
// exception unwinds it) before translateErrors() learns which error the call ends with. Holding
// a line releases one still held (as "failed"); the event loop's thread is the only user.
void holdAuditLine(AuditLog& audit, uid_t uid, std::string text);
// Logs the held line, if any, as "<text>: refused (AccessDenied)" for that error and
// "<text>: failed (<error>)" for any other; `errorName` is the full D-Bus name.
void releaseAuditLine(std::string_view errorName) noexcept;

// "uid 1000", or "an unknown uid" when the bus gave none.
std::string describeCaller(uid_t uid);

// `text` as a log line may show it: printable ASCII kept, every other byte as \xNN, at most 128
// bytes shown. Domain names are any bytes a caller chose, newlines included.
std::string quoteForLog(std::string_view text);

} // namespace resctrld
