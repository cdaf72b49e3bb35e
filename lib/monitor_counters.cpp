// SPDX-License-Identifier: LGPL-2.1-or-later
#include "monitor_counters.h"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <fcntl.h>
#include <fmt/format.h>
#include <iterator>
#include <limits>
#include <system_error>
#include <unistd.h>

#include "text.h"

namespace resctrld {

namespace {

constexpr std::string_view kDomainPrefix = "mon_L3_";
constexpr std::string_view kNodePrefix = "mon_sub_L3_";

// GCC and Clang's 128-bit integer; __extension__ keeps -Wpedantic quiet about it.
__extension__ typedef unsigned __int128 Wide;

std::uint64_t nowNs(clockid_t clock) noexcept {
    timespec ts{};
    ::clock_gettime(clock, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

} // namespace

std::string_view toString(CounterState state) noexcept {
    switch (state) {
    case CounterState::Ok:
        return "ok";
    case CounterState::Unavailable:
        return "unavailable";
    case CounterState::Error:
        return "error";
    case CounterState::Unassigned:
        return "unassigned";
    }
    return "error";
}

CounterReading parseCounter(std::string_view text) noexcept {
    const auto word = trim(text);
    if (word == "Unavailable")
        return {CounterState::Unavailable, 0};
    if (word == "Unassigned")
        return {CounterState::Unassigned, 0};
    if (auto value = parseUnsigned<std::uint64_t>(word))
        return {CounterState::Ok, *value};
    // "Error" itself, and any text the kernel does not print.
    return {CounterState::Error, 0};
}

std::string_view fileName(CounterEvent event) noexcept {
    switch (event) {
    case CounterEvent::LlcOccupancy:
        return "llc_occupancy";
    case CounterEvent::MbmTotalBytes:
        return "mbm_total_bytes";
    case CounterEvent::MbmLocalBytes:
        return "mbm_local_bytes";
    }
    return "llc_occupancy";
}

std::optional<std::uint64_t> bandwidth(std::uint64_t prevValue, std::uint64_t prevTimeNs,
                                       std::uint64_t value, std::uint64_t timeNs) noexcept {
    if (value < prevValue || timeNs <= prevTimeNs)
        return std::nullopt;
    // 128 bits: a delta of more than ~18 GB times 10^9 would overflow 64.
    const auto rate = static_cast<Wide>(value - prevValue) * 1'000'000'000u / (timeNs - prevTimeNs);
    if (rate > std::numeric_limits<std::uint64_t>::max())
        return std::numeric_limits<std::uint64_t>::max();
    return static_cast<std::uint64_t>(rate);
}

MonitorCounters::MonitorCounters(std::filesystem::path resctrlRoot, std::string group,
                                 std::vector<CounterEvent> events, std::vector<unsigned> domains,
                                 std::map<unsigned, std::vector<unsigned>> nodes)
    : monData_(std::move(resctrlRoot) / group / "mon_data")
    , group_(std::move(group))
    , knownDomains_(std::move(domains))
    , knownNodes_(std::move(nodes))
    , events_(std::move(events)) {
    std::sort(knownDomains_.begin(), knownDomains_.end());
}

void MonitorCounters::addCounters(unsigned cacheId, const std::filesystem::path& dir,
                                  const std::vector<unsigned>& nodes) {
    for (CounterEvent event : events_)
        counters_.push_back(
            {false, cacheId, event, dir / fileName(event), UniqueFd(), std::nullopt, {}, 0});
    // mon_sub_L3_%02d with the NUMA node id, which does not restart at 00 on the next L3.
    for (unsigned node : nodes)
        for (CounterEvent event : events_)
            counters_.push_back({true,
                                 node,
                                 event,
                                 dir / fmt::format("{}{:02}", kNodePrefix, node) / fileName(event),
                                 UniqueFd(),
                                 std::nullopt,
                                 {},
                                 0});
}

// The domains are listed once: they only change with CPU hotplug of a whole L3 or, on an
// SNC host, of a whole node; a caller that must follow that makes a new MonitorCounters. A group
// that had no mon_L3_* yet (not created, or being removed) is listed again on the next sample.
void MonitorCounters::discoverDomains() {
    static const std::vector<unsigned> kNoNodes;
    if (!knownDomains_.empty()) {
        for (unsigned id : knownDomains_) {
            const auto nodes = knownNodes_.find(id);
            addCounters(id, monData_ / fmt::format("{}{:02}", kDomainPrefix, id),
                        nodes == knownNodes_.end() ? kNoNodes : nodes->second);
        }
        return;
    }
    // mon_L3_%02d: "mon_L3_00", "mon_L3_16", "mon_L3_100"; mon_PERF_PKG_XX is not ours.
    auto numbered = [](const std::filesystem::path& dir, std::string_view prefix) {
        std::map<unsigned, std::filesystem::path> found; // id -> directory, ordered by id
        std::error_code error;
        for (std::filesystem::directory_iterator it(dir, error), end; !error && it != end;
             it.increment(error)) {
            const std::string name = it->path().filename().string();
            if (!std::string_view(name).starts_with(prefix))
                continue;
            if (auto id = parseUnsigned<unsigned>(std::string_view(name).substr(prefix.size())))
                found.emplace(*id, it->path());
        }
        return found;
    };
    for (const auto& [id, dir] : numbered(monData_, kDomainPrefix)) {
        std::vector<unsigned> nodes;
        for (const auto& [node, subDir] : numbered(dir, kNodePrefix))
            nodes.push_back(node);
        addCounters(id, dir, nodes);
    }
}

void MonitorCounters::read(Counter& counter) {
    counter.reading = {CounterState::Error, 0};
    if (!counter.fd.isValid()) {
        counter.fd.reset(::open(counter.path.c_str(), O_RDONLY | O_CLOEXEC));
        ++opens_;
        if (!counter.fd.isValid())
            return;
    }
    // Longest valid text: "18446744073709551615\n" (21 bytes); anything that fills the buffer
    // is not a counter.
    char buffer[64];
    ssize_t n;
    const bool timed = counter.event != CounterEvent::LlcOccupancy;
    const std::uint64_t before = timed ? nowNs(CLOCK_MONOTONIC) : 0;
    ++reads_;
    do
        n = ::pread(counter.fd.get(), buffer, sizeof buffer, 0);
    while (n < 0 && errno == EINTR);
    if (timed)
        counter.readAtNs = before + (nowNs(CLOCK_MONOTONIC) - before) / 2;
    if (n < 0) {
        // The group is gone (ENODEV on a held fd) or the read failed: start afresh with
        // a new open next time, so a group recreated under the same name is found again.
        counter.fd.reset();
        return;
    }
    if (static_cast<std::size_t>(n) < sizeof buffer)
        counter.reading = parseCounter(std::string_view(buffer, static_cast<std::size_t>(n)));
}

void MonitorCounters::restartRates() noexcept {
    for (Counter& counter : counters_)
        counter.baseline.reset();
}

namespace {

// Sets `map` to the (id, value) pairs of `fresh` (sorted here by id, each id once), reusing the
// nodes of the ids it holds already: a sample that reads the ids of the one before allocates
// nothing, and a tick touches no allocator.
template <typename Value>
void assignInPlace(std::map<unsigned, Value>& map, std::vector<std::pair<unsigned, Value>>& fresh) {
    std::sort(fresh.begin(), fresh.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    auto it = map.begin();
    for (const auto& [id, value] : fresh) {
        while (it != map.end() && it->first < id)
            it = map.erase(it);
        if (it != map.end() && it->first == id) {
            it->second = value;
            ++it;
        } else {
            map.emplace_hint(it, id, value);
        }
    }
    map.erase(it, map.end());
}

} // namespace

void MonitorCounters::Readings::clear() noexcept {
    occupancy.clear();
    bytesTotal.clear();
    bytesLocal.clear();
    bandwidthTotal.clear();
    bandwidthLocal.clear();
    states.clear();
}

void MonitorCounters::Readings::storeIn(CounterValues& values) {
    assignInPlace(values.occupancy, occupancy);
    assignInPlace(values.bytesTotal, bytesTotal);
    assignInPlace(values.bytesLocal, bytesLocal);
    assignInPlace(values.bandwidthTotal, bandwidthTotal);
    assignInPlace(values.bandwidthLocal, bandwidthLocal);
    // An id's state is Ok, or the first non-ok state among its counters in reading order. The
    // counters are read by id already, except on an SNC host whose node ids do not rise with its
    // L3 ids: sorting only then keeps a tick free of std::stable_sort's temporary buffer, one
    // allocation per call.
    const auto byId = [](const auto& a, const auto& b) {
        return a.first < b.first;
    };
    if (!std::is_sorted(states.begin(), states.end(), byId))
        std::stable_sort(states.begin(), states.end(), byId);
    auto kept = states.begin();
    for (auto it = states.begin(); it != states.end(); ++it) {
        if (kept != states.begin() && std::prev(kept)->first == it->first) {
            if (std::prev(kept)->second == CounterState::Ok)
                std::prev(kept)->second = it->second;
            continue;
        }
        *kept++ = *it;
    }
    states.erase(kept, states.end());
    assignInPlace(values.states, states);
}

std::uint64_t realtimeUsecNow() noexcept {
    return nowNs(CLOCK_REALTIME) / 1000;
}

void MonitorCounters::readCounters() {
    readCounters(realtimeUsecNow());
}

void MonitorCounters::readCounters(std::uint64_t readAtUsec) {
    reads_ = 0;
    opens_ = 0;
    if (counters_.empty())
        discoverDomains();
    readAtUsec_ = readAtUsec;
    for (Counter& counter : counters_)
        read(counter);
}

const MonitorSample& MonitorCounters::takeReadings() {
    l3Readings_.clear();
    nodeReadings_.clear();
    for (Counter& counter : counters_) {
        const CounterReading& reading = counter.reading;
        Readings& readings = counter.node ? nodeReadings_ : l3Readings_;
        readings.states.emplace_back(counter.cacheId, reading.state);
        if (reading.state != CounterState::Ok) {
            // No baseline across a gap: the kernel may have reset the counter meanwhile.
            counter.baseline.reset();
            continue;
        }
        if (counter.event == CounterEvent::LlcOccupancy) {
            readings.occupancy.emplace_back(counter.cacheId, reading.value);
            continue;
        }
        const bool total = counter.event == CounterEvent::MbmTotalBytes;
        (total ? readings.bytesTotal : readings.bytesLocal)
            .emplace_back(counter.cacheId, reading.value);
        if (counter.baseline)
            if (auto rate = bandwidth(counter.baseline->value, counter.baseline->timeNs,
                                      reading.value, counter.readAtNs))
                (total ? readings.bandwidthTotal : readings.bandwidthLocal)
                    .emplace_back(counter.cacheId, *rate);
        // After a reset (the value went down) the new value is the baseline.
        counter.baseline = Baseline{reading.value, counter.readAtNs};
    }
    // The sample before the last becomes the new one, written over in place.
    latest_ ^= 1u;
    MonitorSample& sample = samples_[latest_];
    l3Readings_.storeIn(sample);
    // Every counter read leaves a state, and every value has one: without node counters (no
    // SNC) and none before, the node maps are empty and stay so.
    if (!nodeReadings_.states.empty() || !sample.nodes.states.empty())
        nodeReadings_.storeIn(sample.nodes);
    sample.sampledAtUsec = readAtUsec_;
    return sample;
}

} // namespace resctrld
