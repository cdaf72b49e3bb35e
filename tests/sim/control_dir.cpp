#include "control_dir.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fnmatch.h>
#include <fstream>
#include <sstream>

namespace resctrlsim {
namespace {

// Splits text into non-comment lines of whitespace-separated fields, with line numbers.
std::vector<std::pair<int, std::vector<std::string>>> fieldLines(std::string_view text) {
    std::vector<std::pair<int, std::vector<std::string>>> out;
    std::istringstream in{std::string(text)};
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        auto hash = line.find('#');
        if (hash != std::string::npos)
            line.erase(hash);
        std::istringstream words(line);
        std::vector<std::string> fields;
        std::string w;
        while (words >> w)
            fields.push_back(w);
        if (!fields.empty())
            out.push_back({number, std::move(fields)});
    }
    return out;
}

bool toU64(const std::string& s, uint64_t& out) {
    if (s.empty() || s[0] == '-')
        return false;
    errno = 0;
    char* end = nullptr;
    unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    if (errno || *end)
        return false;
    out = v;
    return true;
}

bool toDouble(const std::string& s, double& out) {
    errno = 0;
    char* end = nullptr;
    out = std::strtod(s.c_str(), &end);
    return !s.empty() && !errno && !*end && out >= 0;
}

std::string bad(int line, const std::string& what) {
    return "line " + std::to_string(line) + ": " + what;
}

} // namespace

int errnoFromName(std::string_view name) {
    static const std::pair<const char*, int> kNames[] = {
        {"EPERM", EPERM},
        {"ENOENT", ENOENT},
        {"ESRCH", ESRCH},
        {"EINTR", EINTR},
        {"EIO", EIO},
        {"ENXIO", ENXIO},
        {"E2BIG", E2BIG},
        {"EBADF", EBADF},
        {"EAGAIN", EAGAIN},
        {"ENOMEM", ENOMEM},
        {"EACCES", EACCES},
        {"EFAULT", EFAULT},
        {"EBUSY", EBUSY},
        {"EEXIST", EEXIST},
        {"ENODEV", ENODEV},
        {"ENOTDIR", ENOTDIR},
        {"EISDIR", EISDIR},
        {"EINVAL", EINVAL},
        {"ENFILE", ENFILE},
        {"EMFILE", EMFILE},
        {"ENOSPC", ENOSPC},
        {"EROFS", EROFS},
        {"ERANGE", ERANGE},
        {"ENOSYS", ENOSYS},
        {"ENOTEMPTY", ENOTEMPTY},
        {"ETIMEDOUT", ETIMEDOUT},
        {"EOVERFLOW", EOVERFLOW},
        {"ENOTCONN", ENOTCONN},
        {"EDEADLK", EDEADLK},
    };
    for (const auto& [n, v] : kNames)
        if (name == n)
            return v;
    uint64_t v = 0;
    if (toU64(std::string(name), v) && v > 0 && v < 4096)
        return static_cast<int>(v);
    return 0;
}

std::vector<FootprintEntry> parseFootprints(std::string_view text, std::vector<std::string>& errors,
                                            bool byNode) {
    std::vector<FootprintEntry> out;
    for (const auto& [n, f] : fieldLines(text)) {
        uint64_t tid, dom, bytes;
        if (f.size() != 3 || !toU64(f[0], tid) || !toU64(f[1], dom) || !toU64(f[2], bytes)) {
            errors.push_back(bad(n, byNode ? "expected 'TID NODE_ID BYTES'"
                                           : "expected 'TID L3_DOMAIN_ID BYTES'"));
            continue;
        }
        out.push_back({static_cast<pid_t>(tid), static_cast<unsigned>(dom), bytes, byNode});
    }
    return out;
}

std::vector<TrafficEntry> parseTraffic(std::string_view text, std::vector<std::string>& errors,
                                       bool byNode) {
    std::vector<TrafficEntry> out;
    for (const auto& [n, f] : fieldLines(text)) {
        uint64_t tid, dom;
        double total = 0, local = 0;
        if ((f.size() != 3 && f.size() != 4) || !toU64(f[0], tid) || !toU64(f[1], dom) ||
            !toDouble(f[2], total) || (f.size() == 4 && !toDouble(f[3], local))) {
            errors.push_back(bad(n, byNode ? "expected 'TID NODE_ID TOTAL_BPS [LOCAL_BPS]'"
                                           : "expected 'TID L3_DOMAIN_ID TOTAL_BPS [LOCAL_BPS]'"));
            continue;
        }
        if (f.size() == 3)
            local = total;
        out.push_back({static_cast<pid_t>(tid), static_cast<unsigned>(dom), total, local, byNode});
    }
    return out;
}

std::vector<CounterStateEntry> parseCounterStates(std::string_view text,
                                                  std::vector<std::string>& errors, bool byNode) {
    std::vector<CounterStateEntry> out;
    for (const auto& [n, f] : fieldLines(text)) {
        uint64_t dom;
        CounterState st = CounterState::Ok;
        bool ok = f.size() == 3 && toU64(f[0], dom);
        if (ok) {
            ok = f[1] == "*" || f[1] == "llc_occupancy" || f[1] == "mbm_total_bytes" ||
                 f[1] == "mbm_local_bytes";
        }
        if (ok) {
            if (f[2] == "Unavailable")
                st = CounterState::Unavailable;
            else if (f[2] == "Error")
                st = CounterState::Error;
            else if (f[2] == "Unassigned")
                st = CounterState::Unassigned;
            else if (f[2] != "ok")
                ok = false;
        }
        if (!ok) {
            errors.push_back(bad(n, byNode ? "expected 'NODE_ID EVENT|* Unavailable|Error|ok'"
                                           : "expected 'L3_DOMAIN_ID EVENT|* "
                                             "Unavailable|Error|Unassigned|ok'"));
            continue;
        }
        out.push_back({static_cast<unsigned>(dom), f[1], st, byNode});
    }
    return out;
}

std::vector<FaultRule> parseFaults(std::string_view text, std::vector<std::string>& errors) {
    std::vector<FaultRule> out;
    for (const auto& [n, f] : fieldLines(text)) {
        FaultRule r;
        uint64_t count = 0, ms = 0;
        bool ok = (f.size() == 4 || f.size() == 5) && toU64(f[2], count);
        if (ok)
            ok = f[0] == "mkdir" || f[0] == "rmdir" || f[0] == "rename" || f[0] == "write" ||
                 f[0] == "read" || f[0] == "open";
        if (ok && f.size() == 5)
            ok = f[3] == "stall" && toU64(f[4], ms);
        if (ok && f.size() == 4)
            ok = (r.err = errnoFromName(f[3])) != 0;
        if (!ok) {
            errors.push_back(bad(n, "expected 'OP GLOB COUNT ERRNO' or 'OP GLOB COUNT stall MS'"));
            continue;
        }
        r.op = f[0];
        r.glob = f[1];
        r.remaining = static_cast<long>(count);
        r.stallMs = static_cast<unsigned>(ms);
        out.push_back(std::move(r));
    }
    return out;
}

std::set<std::string> parseAbsentInfoFiles(std::string_view text,
                                           std::vector<std::string>& errors) {
    std::set<std::string> out;
    for (const auto& [n, f] : fieldLines(text)) {
        const Path path = f.size() == 1 ? splitPath(f[0]) : Path{};
        if (path.size() != 3 || path[0] != "info") {
            errors.push_back(bad(n, "expected 'info/RESOURCE/FILE'"));
            continue;
        }
        out.insert(path[1] + "/" + path[2]);
    }
    return out;
}

FaultAction takeFault(std::vector<FaultRule>& rules, std::string_view op, const std::string& path) {
    for (auto& r : rules) {
        if (r.remaining <= 0 || r.op != op || fnmatch(r.glob.c_str(), path.c_str(), 0) != 0)
            continue;
        --r.remaining;
        return {r.err, r.stallMs};
    }
    return {};
}

ControlDir::ControlDir(std::string dir)
    : dir_(std::move(dir)) {
}

bool ControlDir::changed(const std::string& name, Stamp& stamp, std::string& text) {
    struct stat st {};
    Stamp now;
    if (::stat((dir_ + "/" + name).c_str(), &st) == 0) {
        now.exists = true;
        now.mtime = st.st_mtim;
        now.size = st.st_size;
        now.ino = st.st_ino;
    }
    if (now == stamp)
        return false;
    stamp = now;
    text.clear();
    if (now.exists) {
        std::ifstream in(dir_ + "/" + name);
        std::ostringstream ss;
        ss << in.rdbuf();
        text = ss.str();
    }
    return true;
}

void ControlDir::refresh(ResctrlModel& model) {
    std::string text;
    std::vector<std::string> errors;
    auto report = [&](const char* file) {
        for (const auto& e : errors)
            std::fprintf(stderr, "resctrlfs-sim: %s/%s: %s (ignored)\n", dir_.c_str(), file,
                         e.c_str());
        errors.clear();
    };
    if (changed("footprint", footprint_, text)) {
        model.setFootprints(parseFootprints(text, errors));
        report("footprint");
    }
    if (changed("traffic", traffic_, text)) {
        model.setTraffic(parseTraffic(text, errors));
        report("traffic");
    }
    if (changed("counters", counters_, text)) {
        model.setCounterStates(parseCounterStates(text, errors));
        report("counters");
    }
    if (changed("node_footprint", nodeFootprint_, text)) {
        model.setNodeFootprints(parseFootprints(text, errors, true));
        report("node_footprint");
    }
    if (changed("node_traffic", nodeTraffic_, text)) {
        model.setNodeTraffic(parseTraffic(text, errors, true));
        report("node_traffic");
    }
    if (changed("node_counters", nodeCounters_, text)) {
        model.setNodeCounterStates(parseCounterStates(text, errors, true));
        report("node_counters");
    }
    if (changed("absent", absent_, text)) {
        model.setAbsentInfoFiles(parseAbsentInfoFiles(text, errors));
        report("absent");
    }
    if (changed("faults", faults_, text)) {
        rules_ = parseFaults(text, errors); // rewriting re-arms every line
        report("faults");
    }
}

FaultAction ControlDir::takeFault(std::string_view op, const std::string& path) {
    return resctrlsim::takeFault(rules_, op, path);
}

} // namespace resctrlsim
