#include "counter_assign.h"

#include <cerrno>

namespace resctrlsim {

namespace {

constexpr const char* kNotEnabled = "mbm_event counter assignment mode is not enabled\n";

// The memory transactions a counter can count, in the order the kernel prints them.
constexpr const char* kFilterNames[] = {
    "local_reads",
    "remote_reads",
    "local_non_temporal_writes",
    "remote_non_temporal_writes",
    "local_reads_slow_memory",
    "remote_reads_slow_memory",
    "dirty_victim_writes_all",
};
constexpr uint32_t kAllTransactions = 0x7f;
// mbm_local_bytes counts the local-domain transactions only.
constexpr uint32_t kLocalTransactions = 0x15;

const char* eventName(MbmEvent e) {
    return e == MbmEvent::Total ? "mbm_total_bytes" : "mbm_local_bytes";
}

std::string_view trimSpace(std::string_view s) {
    auto isSpace = [](char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
    };
    while (!s.empty() && isSpace(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && isSpace(s.back()))
        s.remove_suffix(1);
    return s;
}

// kstrtoul(s, 10): digits only (an optional '+'), one trailing newline.
std::optional<unsigned long> parseDecimal(std::string_view s) {
    if (!s.empty() && s.front() == '+')
        s.remove_prefix(1);
    if (!s.empty() && s.back() == '\n')
        s.remove_suffix(1);
    if (s.empty() || s.size() > 18)
        return std::nullopt;
    unsigned long v = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            return std::nullopt;
        v = v * 10 + static_cast<unsigned long>(c - '0');
    }
    return v;
}

} // namespace

std::optional<bool> parseKernelBool(std::string_view s) {
    if (s.empty())
        return std::nullopt;
    switch (s[0]) {
    case 'y':
    case 'Y':
    case 't':
    case 'T':
    case 'e':
    case 'E':
    case '1':
        return true;
    case 'n':
    case 'N':
    case 'f':
    case 'F':
    case 'd':
    case 'D':
    case '0':
        return false;
    case 'o':
    case 'O':
        if (s.size() > 1 && (s[1] == 'n' || s[1] == 'N'))
            return true;
        if (s.size() > 1 && (s[1] == 'f' || s[1] == 'F'))
            return false;
        return std::nullopt;
    default:
        return std::nullopt;
    }
}

CounterAssignment::CounterAssignment(std::vector<unsigned> domainIds, unsigned countersPerDomain,
                                     bool total, bool local, bool bootMbmEvent, StatusOps status,
                                     ResetHook reset)
    : domainIds_(std::move(domainIds))
    , perDomain_(countersPerDomain)
    , total_(total)
    , local_(local)
    , status_(std::move(status))
    , reset_(std::move(reset))
    , active_(countersPerDomain > 0 && bootMbmEvent)
    , filters_{kAllTransactions, kLocalTransactions}
    , slots_(domainIds_.size(), std::vector<std::optional<Slot>>(countersPerDomain)) {
}

std::vector<std::string> CounterAssignment::eventNames() const {
    std::vector<std::string> out;
    if (total_)
        out.emplace_back(eventName(MbmEvent::Total));
    if (local_)
        out.emplace_back(eventName(MbmEvent::Local));
    return out;
}

std::optional<MbmEvent> CounterAssignment::eventByName(std::string_view name) {
    if (name == eventName(MbmEvent::Total))
        return MbmEvent::Total;
    if (name == eventName(MbmEvent::Local))
        return MbmEvent::Local;
    return std::nullopt;
}

std::string CounterAssignment::readMode() const {
    if (perDomain_ == 0)
        return "[default]\n";
    return active_ ? "[mbm_event]\ndefault\n" : "[default]\nmbm_event\n";
}

int CounterAssignment::writeMode(std::string_view data, bool& switched) {
    switched = false;
    if (data.empty() || data.back() != '\n')
        return EINVAL;
    std::string_view word = data.substr(0, data.size() - 1);
    status_.clear();
    bool wantEvent = false;
    if (word == "mbm_event") {
        if (perDomain_ == 0) {
            status_.add("mbm_event mode is not supported\n");
            return EINVAL;
        }
        wantEvent = true;
    } else if (word != "default") {
        status_.add("Unsupported assign mode\n");
        return EINVAL;
    }
    if (wantEvent == active_)
        return 0;
    // The switch frees every counter and puts the filters and the auto-assignment back to
    // their boot values; existing groups are left without counters.
    active_ = wantEvent;
    filters_[0] = kAllTransactions;
    filters_[1] = kLocalTransactions;
    if (active_)
        onMkdir_ = true;
    freeAll();
    switched = true;
    return 0;
}

std::string CounterAssignment::readNumCounters() const {
    std::string out;
    for (size_t d = 0; d < domainIds_.size(); ++d)
        out += (d ? ";" : "") + std::to_string(domainIds_[d]) + "=" + std::to_string(perDomain_);
    return out + "\n";
}

int CounterAssignment::requireActive(const char* message) {
    if (active_)
        return 0;
    status_.add(message);
    return EINVAL;
}

int CounterAssignment::readAvailable(std::string& out) {
    status_.clear();
    if (int err = requireActive(kNotEnabled))
        return err;
    out.clear();
    for (size_t d = 0; d < domainIds_.size(); ++d) {
        unsigned freeCount = 0;
        for (const auto& s : slots_[d])
            freeCount += s ? 0 : 1;
        out += (d ? ";" : "") + std::to_string(domainIds_[d]) + "=" + std::to_string(freeCount);
    }
    out += "\n";
    return 0;
}

int CounterAssignment::readOnMkdir(std::string& out) {
    status_.clear();
    if (int err = requireActive(kNotEnabled))
        return err;
    out = onMkdir_ ? "1\n" : "0\n";
    return 0;
}

int CounterAssignment::writeOnMkdir(std::string_view data) {
    // Parsed before the lock is taken and the status cleared: garbage leaves no message.
    auto value = parseKernelBool(data);
    if (!value)
        return EINVAL;
    status_.clear();
    if (int err = requireActive(kNotEnabled))
        return err;
    onMkdir_ = *value;
    return 0;
}

int CounterAssignment::readFilter(MbmEvent event, std::string& out) {
    status_.clear();
    if (int err = requireActive(kNotEnabled))
        return err;
    out.clear();
    const uint32_t f = filters_[static_cast<int>(event)];
    for (unsigned b = 0; b < 7; ++b) {
        if (!((f >> b) & 1))
            continue;
        if (!out.empty())
            out += ",";
        out += kFilterNames[b];
    }
    out += "\n";
    return 0;
}

int CounterAssignment::writeFilter(MbmEvent event, std::string_view data) {
    if (data.empty() || data.back() != '\n')
        return EINVAL;
    data.remove_suffix(1);
    status_.clear();
    if (int err = requireActive(kNotEnabled))
        return err;
    uint32_t mask = 0;
    size_t pos = 0;
    while (!data.empty()) {
        size_t comma = data.find(',', pos);
        std::string_view item = trimSpace(data.substr(pos, comma - pos));
        bool known = false;
        for (unsigned b = 0; b < 7; ++b) {
            if (item == kFilterNames[b]) {
                mask |= 1u << b;
                known = true;
            }
        }
        if (!known) {
            status_.add("Invalid memory transaction type " + std::string(item) + "\n");
            return EINVAL;
        }
        if (comma == std::string_view::npos)
            break;
        pos = comma + 1;
    }
    uint32_t& current = filters_[static_cast<int>(event)];
    if (mask == current)
        return 0;
    current = mask;
    // Every counter of this event is reprogrammed: those groups' values restart.
    for (size_t d = 0; d < slots_.size(); ++d)
        for (const auto& s : slots_[d])
            if (s && s->event == event)
                reset_(s->rmid, event, d);
    return 0;
}

int CounterAssignment::readAssignments(unsigned rmid, std::string& out) {
    status_.clear();
    if (int err = requireActive(kNotEnabled))
        return err;
    out.clear();
    for (MbmEvent e : {MbmEvent::Total, MbmEvent::Local}) {
        if (!hasEvent(e))
            continue;
        out += eventName(e);
        out += ":";
        for (size_t d = 0; d < domainIds_.size(); ++d)
            out += (d ? ";" : "") + std::to_string(domainIds_[d]) + "=" +
                   (slotOf(rmid, e, d) ? "e" : "_");
        out += "\n";
    }
    return 0;
}

std::optional<size_t> CounterAssignment::slotOf(unsigned rmid, MbmEvent event,
                                                size_t domainIndex) const {
    const auto& row = slots_[domainIndex];
    for (size_t i = 0; i < row.size(); ++i)
        if (row[i] && row[i]->rmid == rmid && row[i]->event == event)
            return i;
    return std::nullopt;
}

bool CounterAssignment::isAssigned(unsigned rmid, MbmEvent event, size_t domainIndex) const {
    return active_ && slotOf(rmid, event, domainIndex).has_value();
}

int CounterAssignment::applyState(unsigned rmid, MbmEvent event, size_t d, std::string_view state) {
    auto& row = slots_[d];
    if (state == "e") {
        if (slotOf(rmid, event, d))
            return 0; // already counting: no reset
        for (auto& s : row) {
            if (!s) {
                s = Slot{rmid, event};
                reset_(rmid, event, d);
                return 0;
            }
        }
        status_.add(std::string("Failed to allocate counter for ") + eventName(event) +
                    " in domain " + std::to_string(domainIds_[d]) + "\n");
        return ENOSPC;
    }
    if (state == "_") {
        if (auto i = slotOf(rmid, event, d)) {
            row[*i].reset();
            reset_(rmid, event, d);
        }
        return 0;
    }
    return EINVAL;
}

int CounterAssignment::writeAssignments(unsigned rmid, std::string_view data) {
    if (data.empty() || data.back() != '\n')
        return EINVAL;
    data.remove_suffix(1);
    status_.clear();
    if (int err = requireActive("mbm_event mode is not enabled\n"))
        return err;
    // Lines apply in order; the first error stops the write and earlier lines stay applied.
    size_t lineStart = 0;
    while (true) {
        size_t nl = data.find('\n', lineStart);
        std::string_view line = data.substr(lineStart, nl - lineStart);
        size_t colon = line.find(':');
        std::string_view name = line.substr(0, colon);
        auto event = eventByName(name);
        if (!event || !hasEvent(*event)) {
            status_.add("Invalid event " + std::string(name) + "\n");
            return ENOENT;
        }
        std::string_view rest =
            colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
        size_t pos = 0;
        while (pos < rest.size()) {
            size_t semi = rest.find(';', pos);
            std::string_view item = trimSpace(rest.substr(pos, semi - pos));
            const bool last = semi == std::string_view::npos;
            pos = last ? rest.size() : semi + 1;
            if (item.empty() && (last || trimSpace(rest.substr(pos)).empty()))
                break; // a trailing ';' ends the line
            size_t eq = item.find('=');
            std::string_view id = item.substr(0, eq);
            std::string state =
                eq == std::string_view::npos ? "(null)" : std::string(item.substr(eq + 1));
            auto failed = [&](const std::string& where) {
                status_.add("Assign operation '" + std::string(name) + ":" + where + "=" + state +
                            "' failed\n");
            };
            if (!id.empty() && id.front() == '*') {
                // Every domain is attempted; the last error is returned. The rest of the line
                // is ignored.
                int err = 0;
                for (size_t d = 0; d < domainIds_.size(); ++d)
                    if (int e = applyState(rmid, *event, d, state))
                        err = e;
                if (err) {
                    failed("*");
                    return err;
                }
                break;
            }
            auto number = parseDecimal(id);
            if (!number) {
                status_.add("Missing domain id\n");
                return EINVAL;
            }
            std::optional<size_t> d;
            for (size_t i = 0; i < domainIds_.size(); ++i)
                if (domainIds_[i] == *number)
                    d = i;
            if (!d) {
                status_.add("Invalid domain id " + std::to_string(*number) + "\n");
                return EINVAL;
            }
            if (int err = applyState(rmid, *event, *d, state)) {
                failed(std::to_string(*number));
                return err;
            }
        }
        if (nl == std::string_view::npos)
            break;
        lineStart = nl + 1;
    }
    return 0;
}

void CounterAssignment::assignOnCreate(unsigned rmid) {
    if (!active_ || !onMkdir_)
        return;
    for (MbmEvent e : {MbmEvent::Total, MbmEvent::Local})
        if (hasEvent(e))
            for (size_t d = 0; d < domainIds_.size(); ++d)
                applyState(rmid, e, d, "e");
}

void CounterAssignment::release(unsigned rmid) {
    for (auto& row : slots_)
        for (auto& s : row)
            if (s && s->rmid == rmid)
                s.reset();
}

void CounterAssignment::freeAll() {
    for (auto& row : slots_)
        for (auto& s : row)
            s.reset();
}

} // namespace resctrlsim
