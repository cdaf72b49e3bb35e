// Assignable MBM counters (AMD ABMC, kernel >= 6.18): the mbm_assign_mode switch, the
// per-domain counter pool, the auto-assignment on mkdir and the files that drive them
// (info/L3_MON/{mbm_assign_mode,num_mbm_cntrs,available_mbm_cntrs,mbm_assign_on_mkdir},
// info/L3_MON/event_configs/<event>/event_filter, <group>/mbm_L3_assignments).
//
// Counters belong to a group's RMID (a group keeps its RMID for life, and a renamed MON group
// keeps both). The model resets a counter's value through the reset hook whenever the kernel
// would reset the software state of an (RMID, event, domain).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace resctrlsim {

enum class MbmEvent { Total = 0, Local = 1 };

// The model's info/last_cmd_status buffer, as the kernel's clear/append helpers.
struct StatusOps {
    std::function<void()> clear;
    std::function<void(std::string_view)> add;
};

class CounterAssignment {
public:
    using ResetHook = std::function<void(unsigned rmid, MbmEvent event, size_t domainIndex)>;

    CounterAssignment(std::vector<unsigned> domainIds, unsigned countersPerDomain, bool total,
                      bool local, bool bootMbmEvent, StatusOps status, ResetHook reset);

    // mbm_event mode is on.
    bool isActive() const { return active_; }
    bool hasEvent(MbmEvent e) const { return e == MbmEvent::Total ? total_ : local_; }
    // The names of the enabled MBM events, mbm_total_bytes first.
    std::vector<std::string> eventNames() const;
    static std::optional<MbmEvent> eventByName(std::string_view name);

    std::string readMode() const;
    // `switched` is set when the mode changed; every MBM value must then restart.
    int writeMode(std::string_view data, bool& switched);
    std::string readNumCounters() const;
    int readAvailable(std::string& out);
    int readOnMkdir(std::string& out);
    int writeOnMkdir(std::string_view data);
    int readFilter(MbmEvent event, std::string& out);
    int writeFilter(MbmEvent event, std::string_view data);
    int readAssignments(unsigned rmid, std::string& out);
    int writeAssignments(unsigned rmid, std::string_view data);

    // Mount and mkdir: with mbm_assign_on_mkdir, total in every domain, then local in every
    // domain; a shortage only adds "Failed to allocate ..." lines to the status.
    void assignOnCreate(unsigned rmid);
    // rmdir: every counter of the RMID goes back to the pool.
    void release(unsigned rmid);
    bool isAssigned(unsigned rmid, MbmEvent event, size_t domainIndex) const;

private:
    struct Slot {
        unsigned rmid;
        MbmEvent event;
    };
    int requireActive(const char* message);
    std::optional<size_t> slotOf(unsigned rmid, MbmEvent event, size_t domainIndex) const;
    // Returns 0, ENOSPC (with its status line) or EINVAL for a bad state.
    int applyState(unsigned rmid, MbmEvent event, size_t domainIndex, std::string_view state);
    void freeAll();

    std::vector<unsigned> domainIds_;
    unsigned perDomain_;
    bool total_;
    bool local_;
    StatusOps status_;
    ResetHook reset_;
    bool active_;
    bool onMkdir_ = true;
    uint32_t filters_[2];
    std::vector<std::vector<std::optional<Slot>>> slots_; // [domain index][counter]
};

// The kernel's kstrtobool(): only the first one or two characters count. Every kernel with
// these files (>= 6.16) also takes e/E (enabled) and d/D (disabled) besides y/t/1/on, n/f/0/off.
std::optional<bool> parseKernelBool(std::string_view s);

} // namespace resctrlsim
