// SPDX-License-Identifier: LGPL-2.1-or-later
#include "mbm_assignment.h"

#include <algorithm>
#include <cerrno>
#include <fmt/format.h>

#include "errors.h"
#include "text.h"

namespace resctrld {

namespace {

constexpr const char* kModeFile = "info/L3_MON/mbm_assign_mode";
constexpr const char* kTotalFile = "info/L3_MON/num_mbm_cntrs";
constexpr const char* kFreeFile = "info/L3_MON/available_mbm_cntrs";
constexpr const char* kEventConfigs = "info/L3_MON/event_configs";
constexpr const char* kAssignmentsFile = "mbm_L3_assignments";

std::filesystem::path assignmentsPath(const std::string& group) {
    return group.empty() ? std::filesystem::path(kAssignmentsFile)
                         : std::filesystem::path(group) / kAssignmentsFile;
}

std::string describeGroup(const std::string& group) {
    return group.empty() ? std::string("the default group") : "group " + group;
}

} // namespace

std::string_view toString(CounterMode mode) noexcept {
    return mode == CounterMode::MbmEvent ? "mbm_event" : "default";
}

std::optional<CounterMode> parseCounterMode(std::string_view word) noexcept {
    if (word == "default")
        return CounterMode::Default;
    if (word == "mbm_event")
        return CounterMode::MbmEvent;
    return std::nullopt;
}

std::optional<AssignModeFile> parseAssignMode(std::string_view text) {
    if (text.empty() || text.back() != '\n')
        return std::nullopt;
    AssignModeFile file;
    bool sawCurrent = false;
    for (std::string_view line : splitLines(text)) {
        const bool current = line.size() >= 2 && line.front() == '[' && line.back() == ']';
        auto mode = parseCounterMode(current ? line.substr(1, line.size() - 2) : line);
        if (!mode || (current && sawCurrent))
            return std::nullopt;
        if (current) {
            file.current = *mode;
            sawCurrent = true;
        }
        if (*mode == CounterMode::MbmEvent)
            file.assignable = true;
    }
    if (!sawCurrent)
        return std::nullopt;
    return file;
}

std::optional<std::map<unsigned, unsigned>> parseCountsPerDomain(std::string_view text) {
    if (text.empty() || text.back() != '\n')
        return std::nullopt;
    text.remove_suffix(1);
    if (text.empty() || text.back() == ';')
        return std::nullopt;
    std::map<unsigned, unsigned> counts;
    for (std::string_view item : split(text, ';')) {
        const auto equals = item.find('=');
        if (equals == std::string_view::npos)
            return std::nullopt;
        auto id = parseUnsigned<unsigned>(item.substr(0, equals));
        auto count = parseUnsigned<unsigned>(item.substr(equals + 1));
        if (!id || !count || !counts.emplace(*id, *count).second)
            return std::nullopt;
    }
    return counts;
}

std::optional<GroupAssignments> parseGroupAssignments(std::string_view text) {
    if (text.empty() || text.back() != '\n')
        return std::nullopt;
    GroupAssignments assignments;
    for (std::string_view line : splitLines(text)) {
        const auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0)
            return std::nullopt;
        auto& domains = assignments[std::string(line.substr(0, colon))];
        if (!domains.empty())
            return std::nullopt;
        for (std::string_view item : split(line.substr(colon + 1), ';')) {
            const auto equals = item.find('=');
            if (equals == std::string_view::npos || equals + 2 != item.size())
                return std::nullopt;
            auto id = parseUnsigned<unsigned>(item.substr(0, equals));
            const char state = item.back();
            if (!id || (state != 'e' && state != '_') || !domains.emplace(*id, state == 'e').second)
                return std::nullopt;
        }
    }
    return assignments;
}

std::string assignmentCommand(const std::vector<std::string>& events,
                              const std::vector<unsigned>& domains, bool assign) {
    std::string command;
    for (const std::string& event : events) {
        command += event + ':';
        for (std::size_t i = 0; i < domains.size(); ++i)
            command += fmt::format("{}{}={}", i == 0 ? "" : ";", domains[i], assign ? 'e' : '_');
        command += '\n';
    }
    return command;
}

MbmAssignment::MbmAssignment(const ResctrlFs& resctrl)
    : resctrl_(resctrl) {
}

std::optional<AssignModeFile> MbmAssignment::mode() const {
    auto text = resctrl_.read(kModeFile);
    if (!text)
        return std::nullopt;
    return parseAssignMode(*text);
}

bool MbmAssignment::hasModeFile() const {
    return resctrl_.exists(kModeFile) || errno != ENOENT;
}

void MbmAssignment::setMode(const ResctrlLock&, CounterMode mode) const {
    if (auto failure = resctrl_.write(kModeFile, std::string(toString(mode)) + "\n"))
        throw KernelRejected(fmt::format("resctrl refused to switch {} to {}: {}", kModeFile,
                                         toString(mode), failure->describe()));
}

std::map<unsigned, unsigned> MbmAssignment::readCounts(const char* file) const {
    auto text = resctrl_.read(file);
    if (!text)
        return {};
    return parseCountsPerDomain(*text).value_or(std::map<unsigned, unsigned>{});
}

std::map<unsigned, unsigned> MbmAssignment::countersTotal() const {
    return readCounts(kTotalFile);
}

std::map<unsigned, unsigned> MbmAssignment::countersFree() const {
    return readCounts(kFreeFile);
}

std::vector<std::string> MbmAssignment::events() const {
    std::vector<std::string> events;
    const auto present = resctrl_.subdirectories(kEventConfigs);
    for (const char* event : {"mbm_total_bytes", "mbm_local_bytes"})
        if (std::find(present.begin(), present.end(), event) != present.end())
            events.emplace_back(event);
    return events;
}

std::optional<GroupAssignments> MbmAssignment::assignments(const std::string& group) const {
    auto text = resctrl_.read(assignmentsPath(group));
    if (!text)
        return std::nullopt;
    return parseGroupAssignments(*text);
}

void MbmAssignment::assign(const ResctrlLock&, const std::string& group,
                           const std::vector<std::string>& events,
                           const std::vector<unsigned>& domains) const {
    const auto before = assignments(group);
    if (!before)
        throw KernelRejected(fmt::format("cannot read the counter assignments of {} ({}): is the "
                                         "host in mbm_event mode and the group still there?",
                                         describeGroup(group), kAssignmentsFile));
    auto holds = [&](const GroupAssignments& a, const std::string& event, unsigned domain) {
        auto e = a.find(event);
        if (e == a.end())
            return false;
        auto d = e->second.find(domain);
        return d != e->second.end() && d->second;
    };
    // Check the budget first, so a refusal changes nothing.
    const auto available = countersFree();
    for (unsigned domain : domains) {
        unsigned missing = 0;
        for (const std::string& event : events)
            missing += holds(*before, event, domain) ? 0 : 1;
        auto free = available.find(domain);
        const unsigned have = free == available.end() ? 0 : free->second;
        if (missing > have)
            throw NoSpace(fmt::format("no free bandwidth counter on L3 cache id {}: {} needs {} "
                                      "and {} {} free (counters held by other groups, resctrld's "
                                      "or other tools', count as used); release another monitor's "
                                      "counters or stop a monitor",
                                      domain, describeGroup(group), missing, have,
                                      have == 1 ? "is" : "are"));
    }
    // One line per event with only the domains that still lack a counter.
    std::string command;
    for (const std::string& event : events) {
        std::vector<unsigned> lacking;
        for (unsigned domain : domains)
            if (!holds(*before, event, domain))
                lacking.push_back(domain);
        if (!lacking.empty())
            command += assignmentCommand({event}, lacking, true);
    }
    if (command.empty())
        return;
    auto failure = resctrl_.write(assignmentsPath(group), command);
    if (!failure)
        return;
    // Another tool took the counters between the check and the write. The kernel kept the
    // lines before the failing one: give back what this call took.
    const auto after = assignments(group);
    std::optional<unsigned> full;
    for (const std::string& event : events)
        for (unsigned domain : domains) {
            const bool had = holds(*before, event, domain);
            const bool has = after && holds(*after, event, domain);
            if (!had && has)
                resctrl_.write(assignmentsPath(group), assignmentCommand({event}, {domain}, false));
            if (!has && !full)
                full = domain;
        }
    if (failure->error == std::errc::no_space_on_device && full)
        throw NoSpace(fmt::format("no free bandwidth counter on L3 cache id {} for {} (another "
                                  "tool took the last ones meanwhile): {}",
                                  *full, describeGroup(group), failure->describe()));
    throw KernelRejected(fmt::format("resctrl refused to assign counters to {}: {}",
                                     describeGroup(group), failure->describe()));
}

void MbmAssignment::release(const ResctrlLock&, const std::string& group,
                            const std::vector<std::string>& events,
                            const std::vector<unsigned>& domains) const {
    if (events.empty() || domains.empty())
        return;
    if (auto failure =
            resctrl_.write(assignmentsPath(group), assignmentCommand(events, domains, false)))
        throw KernelRejected(fmt::format("resctrl refused to release the counters of {}: {}",
                                         describeGroup(group), failure->describe()));
}

} // namespace resctrld
