// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "resctrl_fs.h"

namespace resctrld {

// The host-wide MBM counter mode of info/L3_MON/mbm_assign_mode: `default` (every RMID counts
// every bandwidth event, as far as the hardware can) or `mbm_event` (a few hardware counters per
// L3 domain, assigned to (group, event) pairs; an unassigned pair reads "Unassigned").
enum class CounterMode { Default, MbmEvent };

std::string_view toString(CounterMode mode) noexcept;
std::optional<CounterMode> parseCounterMode(std::string_view word) noexcept;

// What mbm_assign_mode says: the bracketed mode is the current one, the other lines the modes
// the host could switch to.
struct AssignModeFile {
    CounterMode current = CounterMode::Default;
    // The host has assignable counters (`mbm_event` is offered, or is the mode).
    bool assignable = false;
};
// "[mbm_event]\ndefault\n", "[default]\nmbm_event\n", "[default]\n". Empty on anything else.
std::optional<AssignModeFile> parseAssignMode(std::string_view text);

// num_mbm_cntrs and available_mbm_cntrs: "0=32;1=32\n", domain id -> count. Empty on anything
// else (a missing `=`, a number that is not decimal, a domain twice).
std::optional<std::map<unsigned, unsigned>> parseCountsPerDomain(std::string_view text);

// A group's mbm_L3_assignments: event name -> (domain id -> holds a counter), from lines
// "mbm_total_bytes:0=e;1=_". Empty on anything else.
using GroupAssignments = std::map<std::string, std::map<unsigned, bool>>;
std::optional<GroupAssignments> parseGroupAssignments(std::string_view text);

// The command that assigns (`e`) or releases (`_`) the counters of `events` in `domains`, one
// line per event naming every domain, newline-terminated: the kernel applies lines in order and
// stops at the first failure, so a failed write is followed by a read-back.
std::string assignmentCommand(const std::vector<std::string>& events,
                              const std::vector<unsigned>& domains, bool assign);

// The counter-assignment files of one resctrl mount: the mode, the counter budget per L3
// monitoring domain and each group's assignments. Reads take no lock; every change takes the
// held resctrl lock and is verified by reading the group's file back.
class MbmAssignment {
public:
    explicit MbmAssignment(const ResctrlFs& resctrl);

    // The mode file, or nullopt where the kernel has none (before Linux 6.18) or it does not
    // read as the kernel writes it.
    std::optional<AssignModeFile> mode() const;
    // False only when the mode file is certainly absent (ENOENT): the kernel builds info/ when
    // resctrl is mounted, so a file missing then stays missing until the next mount.
    bool hasModeFile() const;
    // Switches the host-wide mode. Every counter on the host is freed and every group's
    // bandwidth values restart. Throws KernelRejected with the kernel's reason.
    void setMode(const ResctrlLock& lock, CounterMode mode) const;

    // num_mbm_cntrs and available_mbm_cntrs; empty where the host cannot assign counters or
    // (available) is not in mbm_event mode.
    std::map<unsigned, unsigned> countersTotal() const;
    std::map<unsigned, unsigned> countersFree() const;
    // The events counters are assigned for: the event_configs/ subdirectories
    // (mbm_total_bytes, mbm_local_bytes), in that order.
    std::vector<std::string> events() const;

    // The group's assignments, nullopt when the file cannot be read (default mode, group gone).
    std::optional<GroupAssignments> assignments(const std::string& group) const;

    // Assigns counters for every one of `events` in every one of `domains` to `group`, all or
    // nothing: when the kernel has no free counter in a domain, what this call assigned is
    // released again and NoSpace names the cache id. Other failures throw KernelRejected.
    void assign(const ResctrlLock& lock, const std::string& group,
                const std::vector<std::string>& events, const std::vector<unsigned>& domains) const;
    // Releases them (a counter that is not assigned is no change). Throws KernelRejected.
    void release(const ResctrlLock& lock, const std::string& group,
                 const std::vector<std::string>& events,
                 const std::vector<unsigned>& domains) const;

private:
    std::map<unsigned, unsigned> readCounts(const char* file) const;

    const ResctrlFs& resctrl_;
};

} // namespace resctrld
