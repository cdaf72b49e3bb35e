// SPDX-License-Identifier: LGPL-2.1-or-later
// What the exporter's end-to-end tests add to the run-time fixture: resctrld-exporter on the
// same private bus, a real Prometheus server scraping it every second, and a small HTTP/1.0
// client for both (written here: the tests need only GET of a short body, and a client library
// would be one more build dependency for the tests alone).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <regex>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime_fixture.h"

namespace resctrld::e2e::exporter {

using namespace resctrld::e2e::runtime;

// A TCP port free on 127.0.0.1 now (the kernel's choice for port 0); a test races nobody for it
// but other tests, which also ask the kernel.
inline unsigned freePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

inline int connectTo(unsigned port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    timeval timeout{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

struct HttpReply {
    int status = 0; // 0: no answer
    std::string headers;
    std::string body;
};

// Sends `request` as it is and reads the answer until the server closes.
inline HttpReply rawHttp(unsigned port, const std::string& request) {
    HttpReply reply;
    int fd = connectTo(port);
    if (fd < 0)
        return reply;
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string text;
    char buf[16384];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0)
        text.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    auto end = text.find("\r\n\r\n");
    if (text.rfind("HTTP/1.", 0) != 0 || end == std::string::npos)
        return reply;
    reply.status = std::stoi(text.substr(9, 3));
    reply.headers = text.substr(0, end);
    reply.body = text.substr(end + 4);
    return reply;
}

inline HttpReply httpGet(unsigned port, const std::string& target) {
    return rawHttp(port, "GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
}

inline std::string urlEncode(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            char hex[4];
            std::snprintf(hex, sizeof hex, "%%%02X", c);
            out += hex;
        }
    }
    return out;
}

// resctrld-exporter on the fixture's bus, serving on a port of its own; ready (READY=1) when the
// constructor returns.
class Exporter {
public:
    Exporter(const std::string& busAddress, const fs::path& dir)
        : port_(freePort())
        , notify_(dir / "exporter-notify") {
        Process::Options options;
        options.env["NOTIFY_SOCKET"] = notify_.path().string();
        process_.emplace(std::vector<std::string>{RESCTRLD_EXPORTER_BINARY, "--bus", busAddress,
                                                  "--listen", "127.0.0.1:" + std::to_string(port_),
                                                  "--verbose"},
                         dir, options);
        REQUIRE(notify_.waitFor("READY=1"));
    }
    unsigned port() const { return port_; }
    Process& process() { return *process_; }
    std::string scrape() {
        auto reply = httpGet(port_, "/metrics");
        REQUIRE(reply.status == 200);
        return reply.body;
    }
    // Resident set in KiB, from /proc/<pid>/status.
    uint64_t rssKiB() const {
        std::ifstream status("/proc/" + std::to_string(process_->pid()) + "/status");
        std::string line;
        while (std::getline(status, line))
            if (line.rfind("VmRSS:", 0) == 0)
                return std::stoull(line.substr(6));
        return 0;
    }

private:
    unsigned port_;
    NotifySocket notify_;
    std::optional<Process> process_;
};

// One sample of a Prometheus instant query: its labels (as the JSON has them) and value.
struct Sample {
    std::string metric;
    double value = 0;
};

// Debian's prometheus package is a test dependency (.ci/run installs it); without it a developer's
// run skips (77), before the fixture mounts anything.
inline void requirePrometheus() {
    if (std::string(PROMETHEUS_BINARY).empty() || std::string(PROMTOOL_BINARY).empty()) {
        std::fprintf(stderr, "prometheus and promtool not found (Debian: prometheus): skipped\n");
        std::exit(77);
    }
}

// A real Prometheus server scraping the exporter every second, its storage in the test's
// directory; ready when the constructor returns.
class Prometheus {
public:
    Prometheus(unsigned exporterPort, const fs::path& dir)
        : port_(freePort()) {
        const fs::path home = dir / "prometheus";
        fs::create_directories(home / "data");
        std::ofstream(home / "prometheus.yml")
            << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            << "scrape_configs:\n  - job_name: resctrld\n    static_configs:\n"
            << "      - targets: ['127.0.0.1:" << exporterPort << "']\n";
        process_.emplace(
            std::vector<std::string>{
                PROMETHEUS_BINARY, "--config.file=" + (home / "prometheus.yml").string(),
                "--storage.tsdb.path=" + (home / "data").string(),
                "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"},
            home);
        // Polls /-/ready (every 10 ms): Prometheus announces readiness to nobody else.
        INFO(process_->stderrText());
        REQUIRE(waitUntil([&] { return httpGet(port_, "/-/ready").status == 200; }, 60s));
    }

    // The samples of an instant query now; empty when the query failed.
    std::vector<Sample> query(const std::string& promql) {
        auto reply = httpGet(port_, "/api/v1/query?query=" + urlEncode(promql));
        std::vector<Sample> samples;
        if (reply.status != 200 || reply.body.find("\"status\":\"success\"") == std::string::npos)
            return samples;
        static const std::regex kSample(
            R"re(\{"metric":(\{[^}]*\}),"value":\[[0-9.e+]+,"([^"]+)"\]\})re");
        for (std::sregex_iterator it(reply.body.begin(), reply.body.end(), kSample), end; it != end;
             ++it)
            samples.push_back({(*it)[1].str(), std::stod((*it)[2].str())});
        return samples;
    }
    // The answer to a query as Prometheus gives it (JSON), for a test's message.
    std::string raw(const std::string& promql) {
        return httpGet(port_, "/api/v1/query?query=" + urlEncode(promql)).body;
    }
    // The single value of a query, or nullopt when it has none or several.
    std::optional<double> value(const std::string& promql) {
        auto samples = query(promql);
        if (samples.size() != 1)
            return std::nullopt;
        return samples[0].value;
    }
    // Waits (polling the query API, which announces nothing) until the query has one value that
    // `pred` accepts; the last value seen, for the test's message.
    bool waitForValue(const std::string& promql, const std::function<bool(double)>& pred,
                      std::optional<double>& last, std::chrono::milliseconds timeout = 30s) {
        return waitUntil(
            [&] {
                last = value(promql);
                return last && pred(*last);
            },
            timeout);
    }
    bool waitForNoSeries(const std::string& promql, std::chrono::milliseconds timeout = 30s) {
        return waitUntil([&] { return query(promql).empty(); }, timeout);
    }
    std::string log() const { return process_->stderrText(); }

private:
    unsigned port_;
    std::optional<Process> process_;
};

// The run-time fixture with the exporter; Prometheus is started by the tests that query it.
struct ExporterFixture : runtime::Fixture {
    ExporterFixture()
        : runtime::Fixture({.configText = config("0.2")})
        , exporter(bus.address(), dir.path()) {}
    Exporter exporter;
};

} // namespace resctrld::e2e::exporter
