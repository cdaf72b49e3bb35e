// SPDX-License-Identifier: LGPL-2.1-or-later
#include "counter_assigner.h"

#include <algorithm>
#include <fmt/format.h>

#include <spdlog/spdlog.h>

#include "errors.h"

namespace resctrld {

namespace {

// An explicit AssignCounters(true) ranks above every priority a definition can give.
constexpr unsigned kExplicitPriority = kMaxMonitorPriority + 1;

std::vector<unsigned> keysOf(const std::map<unsigned, unsigned>& map) {
    std::vector<unsigned> keys;
    for (const auto& [key, value] : map)
        keys.push_back(key);
    return keys;
}

} // namespace

CounterAssigner::CounterAssigner(const ResctrlFs& resctrl, CounterAssignment policy)
    : files_(resctrl)
    , policy_(policy)
    , modeFile_(files_.hasModeFile()) {
    refreshStatus();
}

bool CounterAssigner::refreshStatus() {
    CounterStatus next;
    const auto mode = modeFile_ ? files_.mode() : std::nullopt;
    bool active = false;
    if (mode && mode->assignable) {
        next.mode = std::string(toString(mode->current));
        next.total = files_.countersTotal();
        if (mode->current == CounterMode::MbmEvent) {
            next.free = files_.countersFree();
            active = !next.total.empty();
        }
        if (events_.empty())
            events_ = files_.events();
    }
    // A file that read before and fails now (an I/O error, a read the kernel refuses) is a
    // failed read, not a host that stopped assigning counters: what was read last stands and
    // the next check reads again. The files go for good only with the mount, and a new mount
    // gets a new assigner.
    const bool failedRead =
        !status_.mode.empty() && (!mode || next.total.empty() ||
                                  (mode->current == CounterMode::MbmEvent && next.free.empty()));
    if (failedRead) {
        if (!readFailed_)
            spdlog::warn("cannot read the host's bandwidth counter mode or counts (info/L3_MON): "
                         "keeping what was read last until they read again");
        readFailed_ = true;
        return false;
    }
    if (readFailed_)
        spdlog::info("the host's bandwidth counter mode and counts read again");
    readFailed_ = false;
    active_ = active && !events_.empty();
    const bool changed = next != status_;
    status_ = std::move(next);
    return changed;
}

bool CounterAssigner::reconcileDue() {
    const bool changed = refreshStatus();
    return changed || retry_ || readFailed_;
}

bool CounterAssigner::applyMode(const ResctrlLock& lock, std::optional<CounterMode> wanted) {
    const auto mode = modeFile_ ? files_.mode() : std::nullopt;
    if (!wanted || !mode || !mode->assignable || mode->current == *wanted) {
        refreshStatus();
        return false;
    }
    spdlog::warn("switching the host's bandwidth counter mode from {} to {} (CounterMode={}): "
                 "every bandwidth counter on this host is reset, other tools' included",
                 toString(mode->current), toString(*wanted), toString(*wanted));
    files_.setMode(lock, *wanted);
    refreshStatus();
    return true;
}

std::optional<std::map<unsigned, unsigned>>
CounterAssigner::readHeld(const std::string& group) const {
    std::map<unsigned, unsigned> held;
    const auto assignments = files_.assignments(group);
    if (!assignments)
        return std::nullopt;
    for (const std::string& event : events_) {
        auto it = assignments->find(event);
        if (it == assignments->end())
            continue;
        for (const auto& [domain, assigned] : it->second)
            held[domain] += assigned ? 1 : 0;
    }
    return held;
}

void CounterAssigner::collect(const std::map<std::string, ActiveDomain>& domains,
                              std::map<std::string, Claim>& claims, std::set<std::string>& others) {
    for (const auto& [name, domain] : domains) {
        if (domain.stopping || !domain.misfit.empty())
            continue;
        for (const std::string& group : domain.groups.createdGroups())
            others.insert(group);
        for (const PlannedMonitor& monitor : domain.groups.plan.monitors) {
            if (monitor.kind != MonitorKind::MemoryBandwidth || monitor.group.empty())
                continue;
            auto [order, fresh] = orders_.try_emplace(monitor.group, nextOrder_);
            if (fresh)
                ++nextOrder_;
            Claim& claim = claims[monitor.group];
            claim.priority = std::max(claim.priority, monitor.priority);
            claim.order = order->second;
        }
    }
    // Forget groups that are gone.
    std::erase_if(orders_, [&](const auto& entry) { return !claims.count(entry.first); });
    std::erase_if(explicit_, [&](const auto& entry) { return !claims.count(entry.first); });
    for (auto it = claims.begin(); it != claims.end();) {
        auto word = explicit_.find(it->first);
        const bool wanted =
            word != explicit_.end() ? word->second : policy_ == CounterAssignment::Auto;
        if (word != explicit_.end() && word->second)
            it->second.priority = kExplicitPriority;
        if (wanted) {
            others.erase(it->first);
            ++it;
        } else {
            others.insert(it->first);
            it = claims.erase(it);
        }
    }
}

void CounterAssigner::adopt(const std::map<std::string, ActiveDomain>& domains) {
    refreshStatus();
    if (!active_ || policy_ != CounterAssignment::Manual)
        return;
    const unsigned perGroup = static_cast<unsigned>(events_.size());
    for (const auto& [name, domain] : domains)
        for (const PlannedMonitor& monitor : domain.groups.plan.monitors) {
            if (monitor.kind != MonitorKind::MemoryBandwidth || monitor.group.empty())
                continue;
            const auto held = readHeld(monitor.group).value_or(std::map<unsigned, unsigned>{});
            const bool full = !held.empty() && std::all_of(held.begin(), held.end(), [&](auto& e) {
                return e.second >= perGroup;
            });
            if (full)
                explicit_[monitor.group] = true;
        }
}

bool CounterAssigner::releaseIn(const ResctrlLock& lock, const std::string& group,
                                const std::vector<unsigned>& domains) {
    try {
        files_.release(lock, group, events_, domains);
        return true;
    } catch (const Error& e) {
        spdlog::warn("{}", e.what());
        retry_ = true;
        return false;
    }
}

bool CounterAssigner::assignIn(const ResctrlLock& lock, const std::string& group,
                               const std::vector<unsigned>& domains) {
    try {
        files_.assign(lock, group, events_, domains);
        return true;
    } catch (const Error& e) {
        spdlog::warn("{}", e.what());
        retry_ = true;
        return false;
    }
}

std::set<std::string>
CounterAssigner::reconcile(const ResctrlLock& lock,
                           const std::map<std::string, ActiveDomain>& domains) {
    std::set<std::string> changed;
    retry_ = false;
    refreshStatus();
    if (!active_) {
        held_.clear();
        waiting_.clear();
        return changed;
    }
    std::map<std::string, Claim> claimed;
    std::set<std::string> others;
    collect(domains, claimed, others);

    // What each group holds, read once per call before anything is written; read again only
    // where this call wrote. A group whose assignments cannot be read (a failed read, not a
    // missing group: every group here was made by resctrld and still stands) makes the whole
    // plan unknowable: nothing is written, the monitors keep what they showed, and the next
    // check tries again.
    std::map<std::string, std::map<unsigned, unsigned>> seen;
    std::vector<std::string> unreadable;
    auto readAll = [&](const std::string& group) {
        if (auto held = readHeld(group))
            seen[group] = std::move(*held);
        else
            unreadable.push_back(group);
    };
    for (const std::string& group : others)
        readAll(group);
    for (const auto& [group, claim] : claimed)
        readAll(group);
    if (!unreadable.empty() || readFailed_) {
        spdlog::warn("cannot read the bandwidth counter assignments of {}: the counters stay as "
                     "they are until the next check",
                     unreadable.empty() ? std::string("the host (info/L3_MON)")
                                        : fmt::format("{}", fmt::join(unreadable, ", ")));
        retry_ = true;
        return changed;
    }

    // Counters on own groups no monitor wants (the kernel assigns some to every new group).
    for (const std::string& group : others) {
        std::vector<unsigned> holding;
        for (const auto& [domain, count] : seen[group])
            if (count > 0)
                holding.push_back(domain);
        if (!holding.empty() && releaseIn(lock, group, holding)) {
            spdlog::debug("released the bandwidth counters of {} (no monitor reads them)", group);
            changed.insert(group);
        }
    }

    std::vector<CounterClaim> claims;
    for (const auto& [group, claim] : claimed)
        claims.push_back({group, claim.priority, claim.order, seen[group]});
    const CounterPolicy policy(static_cast<unsigned>(events_.size()));
    // The free counts after the releases above: read again only when there were some.
    const CounterMoves moves =
        policy.plan(claims, changed.empty() ? status_.free : files_.countersFree());
    // Give back first, so the counters are free for the ones that take them.
    for (const auto& [group, domainList] : moves.release)
        if (releaseIn(lock, group, domainList)) {
            spdlog::info("monitor group {} gave its bandwidth counters on L3 {} to a monitor "
                         "ranked before it",
                         group, fmt::join(domainList, ","));
            changed.insert(group);
        }
    for (const auto& [group, domainList] : moves.assign)
        if (assignIn(lock, group, domainList)) {
            spdlog::info("monitor group {} holds bandwidth counters on L3 {} now", group,
                         fmt::join(domainList, ","));
            changed.insert(group);
        }
    waiting_ = moves.waiting;

    // Where this call wrote, what the kernel holds now; a read-back that fails keeps what the
    // write meant to leave unknown: the next check reads it again.
    for (const std::string& group : changed) {
        if (auto held = readHeld(group))
            seen[group] = std::move(*held);
        else
            retry_ = true;
    }
    auto previous = std::move(held_);
    held_.clear();
    for (const auto& [name, domain] : domains)
        for (const PlannedMonitor& monitor : domain.groups.plan.monitors)
            if (monitor.kind == MonitorKind::MemoryBandwidth && !monitor.group.empty()) {
                if (auto it = seen.find(monitor.group); it != seen.end())
                    held_[monitor.group] = it->second;
                else if (auto held = readHeld(monitor.group))
                    held_[monitor.group] = std::move(*held);
                else if (auto was = previous.find(monitor.group); was != previous.end())
                    held_[monitor.group] = was->second;
            }
    if (!changed.empty())
        refreshStatus();
    return changed;
}

bool CounterAssigner::assignGroup(const ResctrlLock& lock, const std::string& group, bool assign) {
    refreshStatus();
    if (!active_)
        throw NotSupported(
            status_.mode.empty()
                ? "this host has no assignable bandwidth counters (info/L3_MON/mbm_assign_mode "
                  "does not offer mbm_event): every monitor counts without assignment"
                : "the host's bandwidth counters are in default mode, where every monitor "
                  "counts without assignment; set CounterMode=mbm_event to assign them");
    const auto before = readHeld(group);
    const auto domains = keysOf(status_.total);
    // MbmAssignment::assign refuses a group whose assignments it cannot read.
    if (assign)
        files_.assign(lock, group, events_, domains);
    else
        files_.release(lock, group, events_, domains);
    explicit_[group] = assign;
    const auto after = readHeld(group);
    if (after)
        held_[group] = *after;
    else
        retry_ = true;
    refreshStatus();
    return after != before;
}

std::map<unsigned, bool> CounterAssigner::assignedTo(const std::string& group) const {
    std::map<unsigned, bool> assigned;
    if (!active_)
        return assigned;
    auto it = held_.find(group);
    for (const auto& [domain, total] : status_.total) {
        unsigned count = 0;
        if (it != held_.end())
            if (auto d = it->second.find(domain); d != it->second.end())
                count = d->second;
        assigned[domain] = !events_.empty() && count >= events_.size();
    }
    return assigned;
}

} // namespace resctrld
