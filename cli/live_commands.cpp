// SPDX-License-Identifier: LGPL-2.1-or-later
// The live commands. top: the domains sorted by occupancy or bandwidth, one frame per sampling
// tick (the Sampled signal, with PropertiesChanged keeping bandwidth and state current), full
// screen on a terminal or frames one after another with --batch. monitor: every signal of the
// daemon as a line.
#include <algorithm>
#include <ctime>
#include <sys/time.h>
#include <unistd.h>

#include "cli_error.h"
#include "context.h"
#include "json_view.h"
#include "live_loop.h"

namespace resctrld::cli {

namespace {

constexpr const char* kDomainInterface = "org.resctrld1.Domain";
constexpr const char* kMonitorInterface = "org.resctrld1.Monitor";

std::uint64_t realtimeUsec() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000 +
           static_cast<std::uint64_t>(ts.tv_nsec) / 1000;
}

// "12:00:01" or "12:00:01.234" in local time.
std::string clockText(std::uint64_t usec, bool millis) {
    const time_t seconds = static_cast<time_t>(usec / 1'000'000);
    tm local{};
    ::localtime_r(&seconds, &local);
    char text[32];
    std::strftime(text, sizeof text, "%H:%M:%S", &local);
    std::string out = text;
    if (millis) {
        char ms[8];
        std::snprintf(ms, sizeof ms, ".%03u", static_cast<unsigned>(usec / 1000 % 1000));
        out += ms;
    }
    return out;
}

std::uint64_t occupancyOf(const DomainState& d) {
    std::uint64_t sum = 0;
    for (const auto& [id, bytes] : d.occupancy())
        sum += bytes;
    return sum;
}

// The state a live command keeps current from the daemon's signals.
struct LiveState {
    ManagerState manager;
    HostModel host;
    bool daemonGone = false;
    bool resync = false;

    ManagerEvents events() {
        ManagerEvents e;
        e.added = [this](const std::string& path, const Interfaces& interfaces) {
            for (const auto& [interface, props] : interfaces)
                host.apply(path, interface, props);
        };
        e.removed = [this](const std::string& path, const std::vector<std::string>&) {
            host.remove(path);
        };
        e.changed = [this](const std::string& path, const std::string& interface,
                           const Properties& props) {
            if (path == kRootPath)
                manager.apply(props);
            else
                host.apply(path, interface, props);
        };
        e.daemonGone = [this] {
            daemonGone = true;
        };
        return e;
    }
};

class TopView {
public:
    TopView(Context& ctx, LiveState& live, bool fullScreen)
        : ctx_(ctx)
        , live_(live)
        , fullScreen_(fullScreen)
        , sort_(ctx.invocation.sort) {}

    void setSort(TopSort sort) { sort_ = sort; }

    void render(std::uint64_t sampledUsec) {
        auto domains = live_.host.domains();
        std::stable_sort(
            domains.begin(), domains.end(), [this](const DomainState& a, const DomainState& b) {
                return sort_ == TopSort::Bandwidth ? a.bandwidthTotal() > b.bandwidthTotal()
                                                   : occupancyOf(a) > occupancyOf(b);
            });
        auto& out = ctx_.out;
        if (ctx_.json()) {
            Json list = Json::array();
            for (const auto& d : domains)
                list.push_back({{"name", d.name},
                                {"state", d.state},
                                {"vcpus", d.vcpuThreads.size()},
                                {"occupancy", counterJson(d.occupancy())},
                                {"occupancy_bytes", occupancyOf(d)},
                                {"bandwidth_total_bytes_per_second", d.bandwidthTotal()},
                                {"bandwidth_local_bytes_per_second", d.bandwidthLocal()}});
            out << Json{{"timestamp_usec", sampledUsec}, {"domains", list}}.dump() << std::endl;
            return;
        }
        const auto& s = ctx_.style;
        const auto& m = live_.manager;
        if (fullScreen_)
            out << "\x1b[H\x1b[2J";
        else if (frames_ > 0)
            out << "\n";
        out << s.bold("resctrld " + m.version) << "  " << domains.size()
            << (domains.size() == 1 ? " domain" : " domains") << ", sampled "
            << clockText(sampledUsec, false) << ", CLOSIDs " << m.closidsFree << "/"
            << m.closidsTotal << " free, RMIDs " << m.rmidsFree << "/" << m.rmidsTotal
            << " free, sorted by " << (sort_ == TopSort::Bandwidth ? "bandwidth" : "occupancy")
            << "\n";
        Table table({"DOMAIN", "STATE", "VCPUS", "OCCUPANCY", "BW TOTAL", "BW LOCAL"});
        for (const auto& d : domains)
            table.add({d.name, s.state(d.state), std::to_string(d.vcpuThreads.size()),
                       s.size(occupancyOf(d)), s.rate(d.bandwidthTotal()),
                       s.rate(d.bandwidthLocal())});
        table.print(out, s);
        if (fullScreen_)
            out << s.dim("q quit, o sort by occupancy, b sort by bandwidth");
        out << std::flush;
        ++frames_;
    }

private:
    Context& ctx_;
    LiveState& live_;
    bool fullScreen_;
    TopSort sort_;
    unsigned frames_ = 0;
};

// The alternate screen with the cursor hidden while it lives.
class FullScreen {
public:
    explicit FullScreen(std::ostream& out)
        : out_(out) {
        out_ << "\x1b[?1049h\x1b[?25l" << std::flush;
    }
    ~FullScreen() { out_ << "\x1b[?25h\x1b[?1049l" << std::flush; }
    FullScreen(const FullScreen&) = delete;
    FullScreen& operator=(const FullScreen&) = delete;

private:
    std::ostream& out_;
};

} // namespace

void runTop(Context& ctx) {
    const auto& inv = ctx.invocation;
    const bool fullScreen = !inv.batch && !ctx.json() && ::isatty(STDOUT_FILENO) == 1;
    auto& bus = ctx.bus();
    LiveState live;
    std::optional<std::uint64_t> sampled;
    ManagerEvents events = live.events();
    events.sampled = [&](std::uint64_t timestamp,
                         const std::map<sdbus::ObjectPath, CounterMap>& occupancy) {
        for (const auto& [path, counters] : occupancy)
            live.host.applyOccupancy(path, counters, timestamp);
        sampled = timestamp;
    };
    // Subscribed before the first read, so that nothing between the two is missed.
    bus.follow(std::move(events));
    bus.read(live.manager, live.host);

    std::optional<FullScreen> screen;
    std::optional<RawTerminal> terminal;
    if (fullScreen) {
        screen.emplace(ctx.out);
        if (::isatty(STDIN_FILENO) == 1)
            terminal.emplace(STDIN_FILENO);
    }
    LiveLoop loop(bus.connection(), terminal ? STDIN_FILENO : -1);
    TopView view(ctx, live, fullScreen);
    unsigned frames = 0;
    const auto wanted = inv.iterations;
    view.render(realtimeUsec());
    ++frames;
    // With sampling off (or slow), the view is read again when no tick came for a while.
    const std::chrono::milliseconds interval{
        std::max<std::uint64_t>(1000, 2 * live.manager.sampleIntervalUsec / 1000)};
    auto lastFrame = std::chrono::steady_clock::now();
    while (!wanted || frames < *wanted) {
        if (!loop.wait(std::chrono::milliseconds(200)))
            break;
        if (live.daemonGone)
            throw Unreachable("resctrld left the bus");
        if (const auto key = loop.key()) {
            if (*key == 'q' || *key == 'Q')
                break;
            if (*key == 'b' || *key == 'o') {
                view.setSort(*key == 'b' ? TopSort::Bandwidth : TopSort::Occupancy);
                view.render(realtimeUsec());
            }
            continue;
        }
        if (!sampled && std::chrono::steady_clock::now() - lastFrame >= interval) {
            bus.read(live.manager, live.host);
            sampled = realtimeUsec();
        }
        if (sampled) {
            view.render(*sampled);
            sampled.reset();
            ++frames;
            lastFrame = std::chrono::steady_clock::now();
        }
    }
}

void runMonitor(Context& ctx) {
    const auto& inv = ctx.invocation;
    auto& bus = ctx.bus();
    LiveState live;
    unsigned lines = 0;
    const auto wanted = inv.iterations;
    const auto& s = ctx.style;
    auto emit = [&](const std::string& event, const std::string& text, Json json) {
        if (wanted && lines >= *wanted)
            return;
        const auto now = realtimeUsec();
        if (ctx.json()) {
            Json line{{"time_usec", now}, {"event", event}};
            for (auto& [key, value] : json.items())
                line[key] = value;
            ctx.out << line.dump() << std::endl;
        } else {
            ctx.out << s.dim(clockText(now, true)) << " " << s.bold(event)
                    << (text.empty() ? "" : " " + text) << std::endl;
        }
        ++lines;
    };
    ManagerEvents events = live.events();
    events.domain = [&](const std::string& signal, const std::string& name,
                        const std::string& path) {
        emit(signal, name + " " + path, {{"name", name}, {"path", path}});
    };
    events.layoutChanged = [&] {
        emit("LayoutChanged", "", Json::object());
    };
    events.sampled = [&](std::uint64_t timestamp,
                         const std::map<sdbus::ObjectPath, CounterMap>& occupancy) {
        for (const auto& [path, counters] : occupancy) {
            live.host.applyOccupancy(path, counters, timestamp);
            const auto [domain, monitor] = live.host.monitorOwner(path);
            std::string text = (domain.empty() ? std::string(path) : domain + " " + monitor);
            for (const auto& [id, bytes] : counters)
                text += " " + std::to_string(id) + "=" + s.size(bytes);
            emit("Sampled", text,
                 {{"timestamp_usec", timestamp},
                  {"path", path},
                  {"domain", domain},
                  {"monitor", monitor},
                  {"occupancy", counterJson(counters)}});
        }
    };
    // State changes of domains and the Manager's properties; monitors' counters change every
    // tick and are what Sampled already shows.
    auto keepCurrent = events.changed;
    events.changed = [&, keepCurrent](const std::string& path, const std::string& interface,
                                      const Properties& props) {
        keepCurrent(path, interface, props);
        if (interface == kMonitorInterface)
            return;
        std::string text = path == kRootPath ? std::string("manager") : path;
        if (interface == kDomainInterface)
            text = live.host.domainName(path);
        Json names = Json::array();
        for (const auto& [name, value] : props) {
            names.push_back(name);
            std::string shown = "…";
            if (value.containsValueOfType<std::string>())
                shown = value.get<std::string>();
            else if (value.containsValueOfType<std::uint32_t>())
                shown = std::to_string(value.get<std::uint32_t>());
            else if (value.containsValueOfType<bool>())
                shown = value.get<bool>() ? "true" : "false";
            text += " " + name + "=" + shown;
        }
        emit("PropertiesChanged", text,
             {{"path", path}, {"interface", interface}, {"properties", names}});
    };
    bus.follow(std::move(events));
    bus.read(live.manager, live.host);
    LiveLoop loop(bus.connection(), -1);
    while (!wanted || lines < *wanted) {
        if (!loop.wait(std::chrono::seconds(1)))
            break;
        if (live.daemonGone) {
            emit("DaemonGone", "resctrld left the bus", Json::object());
            throw Unreachable("resctrld left the bus");
        }
    }
}

} // namespace resctrld::cli
