// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "unique_fd.h"

namespace resctrld {

// What a mon_data counter file said: a number, "Unavailable", "Error" or "Unassigned". Every one is
// a successful read for the kernel; Error is also what we report when the read itself failed.
enum class CounterState { Ok, Unavailable, Error, Unassigned };

// "ok", "unavailable", "error", "unassigned": the values of Monitor.CounterStates.
std::string_view toString(CounterState state) noexcept;

struct CounterReading {
    CounterState state = CounterState::Ok;
    std::uint64_t value = 0; // meaningful only when state is Ok
};

// Parses a counter file's text: a decimal u64, "Unavailable", "Error" or "Unassigned", each
// with the kernel's trailing newline (blanks around it are tolerated). Anything else, including
// an empty text or a number that does not fit 64 bits, is Error: never a value.
CounterReading parseCounter(std::string_view text) noexcept;

enum class CounterEvent { LlcOccupancy, MbmTotalBytes, MbmLocalBytes };

// The event's file name in mon_L3_XX/: llc_occupancy, mbm_total_bytes, mbm_local_bytes.
std::string_view fileName(CounterEvent event) noexcept;

// CLOCK_REALTIME now, in microseconds: the time a sample carries (MonitorSample::sampledAtUsec).
std::uint64_t realtimeUsecNow() noexcept;

// Bytes per second between two readings of a cumulative MBM counter taken at CLOCK_MONOTONIC
// nanoseconds prevTimeNs and timeNs. Empty when the counter went down (a reset: the
// kernel folds hardware wrap-arounds in, so a decrease is never a wrap) or when no time passed.
std::optional<std::uint64_t> bandwidth(std::uint64_t prevValue, std::uint64_t prevTimeNs,
                                       std::uint64_t value, std::uint64_t timeNs) noexcept;

// One group's counters at one moment, in the shape of org.resctrld1.Monitor's properties.
// An id whose reading was not ok is absent from the value maps; states says why.
// The values of one scope (the L3 caches, or the SNC nodes), keyed by cache or node id.
struct CounterValues {
    std::map<unsigned, std::uint64_t> occupancy;                      // id -> bytes
    std::map<unsigned, std::uint64_t> bytesTotal, bytesLocal;         // cumulative bytes
    std::map<unsigned, std::uint64_t> bandwidthTotal, bandwidthLocal; // bytes per second
    // Ok, or the first non-ok state among the events read for that id.
    std::map<unsigned, CounterState> states;

    friend bool operator==(const CounterValues&, const CounterValues&) = default;
};

struct MonitorSample : CounterValues {
    // Sub-NUMA Clustering: the same per node (mon_sub_L3_<node>), keyed by NUMA node id; the
    // L3 values above are the kernel's sums over the nodes of each L3. Empty without SNC.
    CounterValues nodes;
    std::uint64_t sampledAtUsec = 0; // CLOCK_REALTIME microseconds of the read

    friend bool operator==(const MonitorSample&, const MonitorSample&) = default;
};

// Reads one monitoring group's counters, <root>/<group>/mon_data/mon_L3_XX/<event>, for every
// L3 monitoring domain of the group. The file descriptors stay open between samples, so a
// sampling tick costs one pread per counter and no path lookups.
//
// The caller passes only the events the host has (info/L3_MON/mon_features): a missing event
// file reads as Error, like a vanished group.
class MonitorCounters {
public:
    // `domains`, when not empty, are the host's L3 monitoring domains (the root's mon_data
    // lists them, and every group's mon_data has the same): the group's own mon_data is then not
    // listed, which saves a directory read per new monitor. Empty: listed on the first sample.
    // `nodes` (L3 id -> SNC node ids) adds the per-node files mon_L3_XX/mon_sub_L3_YY/<event>
    // of a Sub-NUMA Clustering host; with `domains` empty they are listed too.
    MonitorCounters(std::filesystem::path resctrlRoot, std::string group,
                    std::vector<CounterEvent> events, std::vector<unsigned> domains = {},
                    std::map<unsigned, std::vector<unsigned>> nodes = {});

    // Reads every (domain, event) counter once and returns the new sample (also last()).
    // Expected failures are values: a counter that cannot be opened or read (group removed:
    // ENOENT, ENODEV; EIO) reads as Error, and its descriptor is reopened on the next call.
    const MonitorSample& sample() {
        readCounters();
        return takeReadings();
    }
    // The two halves of sample(), for a caller that samples many groups at once: every group's
    // reads first, back to back, then each group's arithmetic. Each read of a FUSE or of a busy
    // kernel file can put the reader to sleep, and whatever the reader touches between two reads
    // is then cold; the reads alone touch little.
    // readCounters() does the reads and keeps each counter's reading; takeReadings(), once after
    // each readCounters(), makes them the new sample (also last()). `readAtUsec` is the sample's
    // CLOCK_REALTIME time (sampledAtUsec): a caller reading many groups takes it once for all.
    void readCounters();
    void readCounters(std::uint64_t readAtUsec);
    const MonitorSample& takeReadings();
    const MonitorSample& last() const noexcept { return samples_[latest_]; }
    // The sample before last() (empty before the second sample()), to tell what changed.
    const MonitorSample& previous() const noexcept { return samples_[latest_ ^ 1u]; }
    const std::string& group() const noexcept { return group_; }
    // The bandwidth counters were assigned or released (or otherwise restarted): the next
    // sample takes new baselines instead of a rate across the reset.
    void restartRates() noexcept;

    // Counter file reads (preads) and opens done by the last sample(): in a steady state one
    // read per counter and no open.
    unsigned readsInLastSample() const noexcept { return reads_; }
    unsigned opensInLastSample() const noexcept { return opens_; }

private:
    struct Baseline {
        std::uint64_t value;
        std::uint64_t timeNs;
    };
    struct Counter {
        bool node; // an SNC node's file: cacheId is then the node id
        unsigned cacheId;
        CounterEvent event;
        std::filesystem::path path;
        UniqueFd fd;
        std::optional<Baseline> baseline; // last ok reading of an MBM counter
        CounterReading reading;           // the last readCounters()' reading
        std::uint64_t readAtNs = 0;       // its CLOCK_MONOTONIC time (MBM counters only)
    };

    void discoverDomains();
    void addCounters(unsigned cacheId, const std::filesystem::path& dir,
                     const std::vector<unsigned>& nodes);
    // One counter read into counter.reading; an MBM counter's readAtNs too (an occupancy is
    // not a rate: its time is not needed).
    void read(Counter& counter);

    std::filesystem::path monData_;
    std::string group_;
    std::vector<unsigned> knownDomains_;
    std::map<unsigned, std::vector<unsigned>> knownNodes_;
    std::vector<CounterEvent> events_;
    std::vector<Counter> counters_; // by cache id, then in the order of events_
    // last() and previous(): a new sample is written over the one before the last, in place.
    MonitorSample samples_[2];
    unsigned latest_ = 0;
    // One sample's readings of one scope (the L3 caches, or the SNC nodes) as they come, before
    // they go into last()'s maps; kept between samples for their capacity.
    struct Readings {
        std::vector<std::pair<unsigned, std::uint64_t>> occupancy, bytesTotal, bytesLocal,
            bandwidthTotal, bandwidthLocal;
        std::vector<std::pair<unsigned, CounterState>> states; // one per counter read
        void clear() noexcept;
        // Makes `values` hold these readings, reusing the nodes of the ids it holds already.
        void storeIn(CounterValues& values);
    };
    Readings l3Readings_, nodeReadings_;
    std::uint64_t readAtUsec_ = 0; // CLOCK_REALTIME of the last readCounters()
    unsigned reads_ = 0;
    unsigned opens_ = 0;
};

} // namespace resctrld
