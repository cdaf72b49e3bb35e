// The control directory (described in tests/sim/README.md): plain-text files that tests
// write to drive monitoring values and inject faults. Parsing is pure and unit-tested;
// ControlDir re-reads a file whenever its mtime/size/inode changed.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <vector>

#include "model.h"

namespace resctrlsim {

struct FaultRule {
    std::string op;   // mkdir | rmdir | write | read | open
    std::string glob; // fnmatch(3) pattern, no FNM_PATHNAME, on the path without leading '/'
    long remaining = 0;
    int err = 0;          // errno to fail with, or 0 for a stall
    unsigned stallMs = 0; // stall before proceeding normally
};

struct FaultAction {
    int err = 0;
    unsigned stallMs = 0;
};

// Each parser skips blank lines and '#' comments and appends one message per bad line to
// `errors` (the line is then ignored). With `byNode` the second field is a NUMA node id
// (the node_* files) instead of an L3 domain id.
std::vector<FootprintEntry> parseFootprints(std::string_view text, std::vector<std::string>& errors,
                                            bool byNode = false);
std::vector<TrafficEntry> parseTraffic(std::string_view text, std::vector<std::string>& errors,
                                       bool byNode = false);
std::vector<CounterStateEntry>
parseCounterStates(std::string_view text, std::vector<std::string>& errors, bool byNode = false);
std::vector<FaultRule> parseFaults(std::string_view text, std::vector<std::string>& errors);
// `absent`: one info file per line, "info/RES/FILE" (e.g. info/MB/delay_linear); returns the
// "RES/FILE" names.
std::set<std::string> parseAbsentInfoFiles(std::string_view text, std::vector<std::string>& errors);
// `quirks`: one hardware quirk per line (unavailable-after-assign).
ModelQuirks parseQuirks(std::string_view text, std::vector<std::string>& errors);
// errno by name ("ENOSPC") or number ("28"); 0 if unknown.
int errnoFromName(std::string_view name);

// Consumes one matching rule (first with count left); empty action when none matches.
FaultAction takeFault(std::vector<FaultRule>& rules, std::string_view op, const std::string& path);

class ControlDir {
public:
    explicit ControlDir(std::string dir);
    // Re-reads changed files and pushes their contents into the model.
    void refresh(ResctrlModel& model);
    FaultAction takeFault(std::string_view op, const std::string& path);
    const std::string& dir() const { return dir_; }

private:
    struct Stamp {
        bool exists = false;
        struct timespec mtime {};
        off_t size = 0;
        ino_t ino = 0;
        bool operator==(const Stamp& o) const {
            return exists == o.exists && mtime.tv_sec == o.mtime.tv_sec &&
                   mtime.tv_nsec == o.mtime.tv_nsec && size == o.size && ino == o.ino;
        }
    };
    bool changed(const std::string& name, Stamp& stamp, std::string& text);

    std::string dir_;
    Stamp footprint_, traffic_, counters_, faults_, absent_, quirks_;
    Stamp nodeFootprint_, nodeTraffic_, nodeCounters_;
    std::vector<FaultRule> rules_;
};

} // namespace resctrlsim
