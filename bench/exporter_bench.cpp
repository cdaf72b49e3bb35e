// SPDX-License-Identifier: LGPL-2.1-or-later
// resctrld-exporter's benchmarks, against a stand-in daemon on a private bus (fake_daemon.h) that
// publishes N monitors (default 256: more than the simulator's hosts have RMIDs for) with the
// daemon's objects, properties and signals, and changes every monitor's counters at every tick.
//
//   resctrld-exporter-bench [--monitors N] [--scrapes N] [--soak SECONDS] [--tick-ms MS]
//
// 1. Scrape: GET /metrics N times, one connection each, against bench-floor-exporter-http,
//    which serves the same bytes from memory with libmicrohttpd and the exporter's options.
// 2. Memory: the exporter's RSS after the first full read, and after the soak.
// 3. CPU per tick: the exporter's user+system time over the soak divided by the ticks.
#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <netinet/in.h>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "../tests/e2e/harness.h"
#include "fake_daemon.h"

using namespace resctrld::e2e;
using resctrld::bench::FakeDaemon;
using resctrld::bench::FakeDaemonShape;
using namespace std::chrono_literals;

namespace {

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
    // 16 monitors per domain, each reading every counter: the shape of the earlier reports.
    FakeDaemon daemon(bus.address(), FakeDaemonShape{(monitors + 15) / 16, monitors,
                                                     FakeDaemonShape::Monitors::EveryCounter,
                                                     std::chrono::milliseconds(tickMs)});

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
