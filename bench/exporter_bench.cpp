// SPDX-License-Identifier: LGPL-2.1-or-later
// resctrld-exporter's benchmarks, against a stand-in daemon on a private bus that publishes N
// monitors (default 256: more than the simulator's hosts have RMIDs for) with the daemon's
// objects, properties and signals, and changes every monitor's counters at every tick.
//
//   resctrld-exporter-bench [--monitors N] [--scrapes N] [--soak SECONDS] [--tick-ms MS]
//
// 1. Scrape: GET /metrics N times, one connection each, against bench-floor-exporter-http,
//    which serves the same bytes from memory with libmicrohttpd and the exporter's options.
// 2. Memory: the exporter's RSS after the first full read, and after the soak.
// 3. CPU per tick: the exporter's user+system time over the soak divided by the ticks.
#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <netinet/in.h>
#include <poll.h>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "../tests/e2e/harness.h"

using namespace resctrld::e2e;
using namespace std::chrono_literals;

namespace {

using CounterMap = std::map<uint32_t, uint64_t>;
constexpr const char* kManager = "org.resctrld1.Manager";
constexpr const char* kDomain = "org.resctrld1.Domain";
constexpr const char* kMonitor = "org.resctrld1.Monitor";

struct MonitorState {
    std::string name;
    CounterMap occupancy{{0, 0}, {1, 0}};
    CounterMap total{{0, 0}, {1, 0}};
    CounterMap local{{0, 0}, {1, 0}};
    std::unique_ptr<sdbus::IObject> object;
};

// The stand-in daemon: its own thread owns the connection and every object.
class FakeDaemon {
public:
    FakeDaemon(std::string address, unsigned monitors, std::chrono::milliseconds tick)
        : address_(std::move(address))
        , monitors_(monitors)
        , tick_(tick) {
        thread_ = std::thread([this] { run(); });
        while (!ready_.load())
            std::this_thread::sleep_for(10ms);
    }
    ~FakeDaemon() {
        stop_ = true;
        thread_.join();
    }
    uint64_t ticks() const { return ticks_.load(); }

private:
    void run() {
        auto connection = sdbus::createSessionBusConnectionWithAddress(address_);
        auto root = sdbus::createObject(*connection, "/org/resctrld1");
        root->addObjectManager();
        root->registerProperty("Version").onInterface(kManager).withGetter(
            [] { return std::string("bench"); });
        root->registerProperty("ResctrlRoot").onInterface(kManager).withGetter([] {
            return std::string("/sys/fs/resctrl");
        });
        root->registerProperty("MountOptions").onInterface(kManager).withGetter([] {
            return std::vector<std::string>{};
        });
        for (const char* name : {"ClosidsTotal", "ClosidsFree", "RmidsTotal", "RmidsFree"})
            root->registerProperty(name).onInterface(kManager).withGetter([] { return 15u; });
        root->registerSignal("Sampled")
            .onInterface(kManager)
            .withParameters<uint64_t, std::map<sdbus::ObjectPath, CounterMap>>();
        root->finishRegistration();

        std::vector<std::unique_ptr<sdbus::IObject>> domains;
        std::vector<std::unique_ptr<MonitorState>> monitors;
        const unsigned perDomain = 16;
        for (unsigned d = 0; d * perDomain < monitors_; ++d) {
            const std::string name = "vm" + std::to_string(d);
            const std::string path = "/org/resctrld1/domain/" + name;
            auto domain = sdbus::createObject(*connection, path);
            domain->registerProperty("Name").onInterface(kDomain).withGetter(
                [name] { return name; });
            domain->registerProperty("Uuid").onInterface(kDomain).withGetter(
                [] { return std::string("00000000-0000-0000-0000-000000000000"); });
            domain->registerProperty("State").onInterface(kDomain).withGetter(
                [] { return std::string("active"); });
            domain->finishRegistration();
            domain->emitInterfacesAddedSignal();
            domains.push_back(std::move(domain));
            for (unsigned m = 0; m < perDomain && monitors.size() < monitors_; ++m) {
                auto state = std::make_unique<MonitorState>();
                state->name = "vcpus_" + std::to_string(m);
                auto* s = state.get();
                s->object =
                    sdbus::createObject(*connection, path + "/monitor/" + std::to_string(m));
                auto& o = *s->object;
                o.registerProperty("Name").onInterface(kMonitor).withGetter(
                    [s] { return s->name; });
                o.registerProperty("Vcpus").onInterface(kMonitor).withGetter(
                    [m] { return std::vector<uint32_t>{m}; });
                o.registerProperty("CacheOccupancy").onInterface(kMonitor).withGetter([s] {
                    return s->occupancy;
                });
                o.registerProperty("MemoryBytesTotal").onInterface(kMonitor).withGetter([s] {
                    return s->total;
                });
                o.registerProperty("MemoryBytesLocal").onInterface(kMonitor).withGetter([s] {
                    return s->local;
                });
                o.registerProperty("CounterStates").onInterface(kMonitor).withGetter([] {
                    return std::map<uint32_t, std::string>{{0, "ok"}, {1, "ok"}};
                });
                o.finishRegistration();
                o.emitInterfacesAddedSignal();
                monitors.push_back(std::move(state));
            }
        }
        connection->requestName("org.resctrld1");
        ready_ = true;

        auto next = std::chrono::steady_clock::now() + tick_;
        while (!stop_.load()) {
            auto poll = connection->getEventLoopPollData();
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                next - std::chrono::steady_clock::now());
            pollfd fd{poll.fd, poll.events, 0};
            ::poll(&fd, 1, static_cast<int>(std::max<long>(0, std::min<long>(left.count(), 50))));
            while (connection->processPendingRequest()) {
            }
            if (std::chrono::steady_clock::now() < next)
                continue;
            next += tick_;
            std::map<sdbus::ObjectPath, CounterMap> sampled;
            for (auto& s : monitors) {
                for (auto& [id, v] : s->occupancy)
                    v = (v + 65536 * (id + 1)) % (32 << 20);
                for (auto& [id, v] : s->total)
                    v += 100'000'000;
                for (auto& [id, v] : s->local)
                    v += 40'000'000;
                s->object->emitPropertiesChangedSignal(
                    kMonitor, {"CacheOccupancy", "MemoryBytesTotal", "MemoryBytesLocal"});
                sampled[s->object->getObjectPath()] = s->occupancy;
            }
            root->emitSignal("Sampled").onInterface(kManager).withArguments(
                static_cast<uint64_t>(ticks_.load()), sampled);
            ++ticks_;
        }
    }

    std::string address_;
    unsigned monitors_;
    std::chrono::milliseconds tick_;
    std::atomic<bool> ready_{false};
    std::atomic<bool> stop_{false};
    std::atomic<uint64_t> ticks_{0};
    std::thread thread_;
};

unsigned freePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

// GET target over one connection; the body, empty when the answer was not 200.
std::string get(unsigned port, const std::string& target) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return {};
    }
    const std::string request = "GET " + target + " HTTP/1.0\r\n\r\n";
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string text;
    char buf[65536];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0)
        text.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    auto end = text.find("\r\n\r\n");
    if (text.rfind("HTTP/1.1 200", 0) != 0 || end == std::string::npos)
        return {};
    return text.substr(end + 4);
}

// Mean wall time of one scrape in microseconds over `count` sequential scrapes.
double scrapeMicros(unsigned port, unsigned count) {
    get(port, "/metrics");
    auto start = std::chrono::steady_clock::now();
    for (unsigned i = 0; i < count; ++i)
        if (get(port, "/metrics").empty())
            throw std::runtime_error("a scrape failed");
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
               .count() /
           count;
}

uint64_t rssKiB(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmRSS:", 0) == 0)
            return std::stoull(line.substr(6));
    return 0;
}

// utime + stime of a process, in nanoseconds.
uint64_t cpuNs(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), {});
    std::istringstream fields(text.substr(text.rfind(')') + 2));
    std::string field;
    uint64_t utime = 0, stime = 0;
    for (int i = 3; fields >> field; ++i) {
        if (i == 14)
            utime = std::stoull(field);
        if (i == 15) {
            stime = std::stoull(field);
            break;
        }
    }
    return (utime + stime) * 1'000'000'000ULL / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
}

} // namespace

int main(int argc, char** argv) {
    unsigned monitors = 256, scrapes = 2000, soakSeconds = 60;
    unsigned tickMs = 1000;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string arg = argv[i];
        unsigned value = static_cast<unsigned>(std::stoul(argv[i + 1]));
        if (arg == "--monitors")
            monitors = value;
        else if (arg == "--scrapes")
            scrapes = value;
        else if (arg == "--soak")
            soakSeconds = value;
        else if (arg == "--tick-ms")
            tickMs = value;
        else {
            std::fprintf(stderr, "unknown argument %s\n", arg.c_str());
            return 2;
        }
    }
    TempDir dir;
    PrivateBus bus(dir.path());
    FakeDaemon daemon(bus.address(), monitors, std::chrono::milliseconds(tickMs));

    const unsigned port = freePort();
    Process exporter({RESCTRLD_EXPORTER_BINARY, "--bus", bus.address(), "--listen",
                      "127.0.0.1:" + std::to_string(port)},
                     dir.path());
    // Polls the page (every 50 ms) until every monitor is in it: the exporter announces nothing.
    std::string page;
    for (int i = 0; i < 400; ++i) {
        page = get(port, "/metrics");
        if (page.find("vm" + std::to_string((monitors - 1) / 16) + "\",monitor") !=
            std::string::npos)
            break;
        std::this_thread::sleep_for(50ms);
    }
    std::size_t occupancySeries = 0;
    for (std::size_t at = 0;
         (at = page.find("\nresctrld_llc_occupancy_bytes{", at)) != std::string::npos; ++at)
        ++occupancySeries;
    std::printf("exporter: %u monitors, %zu occupancy series, page %zu bytes\n", monitors,
                occupancySeries, page.size());

    const std::filesystem::path body = dir.path() / "page.prom";
    std::ofstream(body) << page;
    const unsigned floorPort = freePort();
    Process floor({BENCH_FLOOR_EXPORTER_HTTP, body.string(), std::to_string(floorPort)},
                  dir.path());
    for (int i = 0; i < 200 && get(floorPort, "/metrics").empty(); ++i)
        std::this_thread::sleep_for(50ms);

    // Alternating rounds, medians: the machine's load moves both sides alike.
    const unsigned perRound = std::max(1u, scrapes / 10);
    std::vector<double> floorRounds, exporterRounds;
    for (int round = 0; round < 10; ++round) {
        floorRounds.push_back(scrapeMicros(floorPort, perRound));
        exporterRounds.push_back(scrapeMicros(port, perRound));
    }
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
    };
    const double floorUs = median(floorRounds);
    const double exporterUs = median(exporterRounds);
    std::printf("scrape: exporter %.1f us, floor %.1f us, ratio %.2f (target <= 1.5; medians of "
                "10 alternating rounds of %u scrapes)\n",
                exporterUs, floorUs, exporterUs / floorUs, perRound);

    const uint64_t rssStart = rssKiB(exporter.pid());
    const uint64_t cpuStart = cpuNs(exporter.pid());
    const uint64_t ticksStart = daemon.ticks();
    for (unsigned s = 0; s < soakSeconds; ++s) {
        std::this_thread::sleep_for(1s);
        get(port, "/metrics");
    }
    const uint64_t ticks = daemon.ticks() - ticksStart;
    const uint64_t cpu = cpuNs(exporter.pid()) - cpuStart;
    const uint64_t rssEnd = rssKiB(exporter.pid());
    std::printf("memory: exporter RSS %llu KiB after the first read, %llu KiB after %u s "
                "(target <= 12288 KiB, flat)\n",
                static_cast<unsigned long long>(rssStart), static_cast<unsigned long long>(rssEnd),
                soakSeconds);
    std::printf("cpu: %.2f ms per tick of %u monitors (%llu ticks, user+system)\n",
                ticks ? static_cast<double>(cpu) / 1e6 / static_cast<double>(ticks) : 0.0, monitors,
                static_cast<unsigned long long>(ticks));
    return 0;
}
