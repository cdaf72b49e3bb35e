// SPDX-License-Identifier: LGPL-2.1-or-later
// resctrld-exporter end to end: the real daemon on resctrlfs-sim, the exporter on the same
// private bus, and a real Prometheus server scraping it every second; the values Prometheus
// stores are checked against the daemon's properties and the simulator's counters. Then the
// exporter's HTTP side against bad clients.

#include <poll.h>
#include <set>
#include <sys/wait.h>

#include "exporter_fixture.h"

using namespace resctrld::e2e;
using namespace resctrld::e2e::exporter;

namespace {

std::string lastValue(const std::optional<double>& v) {
    return v ? std::to_string(*v) : std::string("none");
}

// A domain with a cache and a bandwidth monitor over the same vCPUs and an allocation of each
// kind, once its bandwidth series are in a scrape.
std::string startDomainWithEverySeries(ExporterFixture& f, const std::string& name) {
    const auto path = f.startDomain(Domain(name)
                                        .vcpus(4)
                                        .cachetune("0-1", l3(0, 5_MiB) + monitor("0-1"))
                                        .memorytune("0-1", node(0, 50) + memoryMonitor("0-1")),
                                    f.hypervisor().vcpuThreads());
    REQUIRE(waitUntil([&] {
        return f.exporter.scrape().find("resctrld_memory_bandwidth_bytes_total{") !=
               std::string::npos;
    }));
    return path;
}

} // namespace

TEST_CASE("Prometheus stores a monitor's occupancy as the daemon's CacheOccupancy, and the "
          "domain's series leave with the domain",
          "[e2e][exporter]") {
    requirePrometheus();
    ExporterFixture f;
    Prometheus prometheus(f.exporter.port(), f.dir.path());
    auto& hv = f.hypervisor();
    const auto domainPath = f.startDomain(
        Domain("occ").vcpus(4).cachetune("0-1", l3(0, 5_MiB) + monitor("0-1")), hv.vcpuThreads());
    const std::string monitor = f.children(domainPath, "Monitors").at(0);
    f.sim.setControl("footprint", footprint({{hv.tid(0), 0, 3 * kMiB}, {hv.tid(0), 1, 1 * kMiB}}));
    REQUIRE(waitUntil([&] { return f.counters(monitor, "CacheOccupancy").at(0) == 3 * kMiB; }));
    const CounterMap occupancy = f.counters(monitor, "CacheOccupancy");

    std::optional<double> last;
    for (const auto& [id, bytes] : occupancy) {
        const std::string q = "resctrld_llc_occupancy_bytes{domain=\"occ\",monitor=\"vcpus_0-1\","
                              "cache_id=\"" +
                              std::to_string(id) + "\"}";
        INFO(q << " = " << lastValue(last) << ", CacheOccupancy " << describe(occupancy));
        CHECK(prometheus.waitForValue(
            q, [&](double v) { return v == static_cast<double>(bytes); }, last));
    }
    CHECK(prometheus.waitForValue(
        "resctrld_monitor_info{domain=\"occ\",vcpus=\"0-1\"}", [](double v) { return v == 1; },
        last));
    CHECK(prometheus.waitForValue(
        "resctrld_domain_info{domain=\"occ\",state=\"active\"}", [](double v) { return v == 1; },
        last));
    const auto caches = f.property<
        std::vector<sdbus::Struct<uint32_t, uint32_t, std::string, uint64_t, std::string>>>(
        f.children(domainPath, "Allocations").at(0), kAllocation, "Caches");
    REQUIRE(caches.size() == 1);
    CHECK(prometheus.waitForValue(
        "resctrld_allocation_cache_bytes{domain=\"occ\",allocation=\"0\",cache_id=\"0\","
        "level=\"3\",type=\"both\"}",
        [&](double v) { return v == static_cast<double>(caches[0].get<3>()); }, last));
    const auto closidsFree = f.property<uint32_t>(kRootPath, kManager, "ClosidsFree");
    CHECK(prometheus.waitForValue(
        "resctrld_closids{state=\"free\"}", [&](double v) { return v == closidsFree; }, last));

    f.stopDomain("occ");
    CHECK(prometheus.waitForNoSeries("resctrld_domain_info{domain=\"occ\"}"));
    CHECK(prometheus.waitForNoSeries("resctrld_llc_occupancy_bytes{domain=\"occ\"}"));
    CHECK(prometheus.waitForNoSeries("resctrld_monitor_info{domain=\"occ\"}"));
    INFO(prometheus.log());
}

TEST_CASE("rate() of the bandwidth counter is the simulator's traffic within 15 %",
          "[e2e][exporter]") {
    requirePrometheus();
    ExporterFixture f;
    Prometheus prometheus(f.exporter.port(), f.dir.path());
    auto& hv = f.hypervisor();
    const auto domainPath =
        f.startDomain(Domain("mbm").vcpus(4).memorytune("0-1", node(0, 50) + memoryMonitor("0-1")),
                      hv.vcpuThreads());
    const std::string monitor = f.children(domainPath, "Monitors").at(0);
    constexpr double kRate = 100'000'000;
    f.sim.setControl("traffic", std::to_string(hv.tid(0)) + " 0 100000000 40000000\n");
    const std::string series =
        "resctrld_memory_bandwidth_bytes_total{domain=\"mbm\",cache_id=\"0\",scope=\"total\"}";
    // rate() divides by the whole window: it is read once the series is older than the window
    // (35 scrapes in the last 40 s), not before.
    std::optional<double> last;
    REQUIRE(prometheus.waitForValue(
        "count_over_time(" + series + "[40s])", [](double n) { return n >= 35; }, last, 90s));
    const auto rate = prometheus.value("rate(" + series + "[30s])");
    INFO("rate " << lastValue(rate) << "; the daemon's MemoryBandwidthTotal "
                 << describe(f.counters(monitor, "MemoryBandwidthTotal")) << "; samples "
                 << prometheus.raw(series + "[30s]"));
    REQUIRE(rate);
    CHECK(*rate > kRate * 0.85);
    CHECK(*rate < kRate * 1.15);
}

TEST_CASE("A counter made unavailable loses its value series and gains its state series",
          "[e2e][exporter]") {
    requirePrometheus();
    ExporterFixture f;
    Prometheus prometheus(f.exporter.port(), f.dir.path());
    auto& hv = f.hypervisor();
    f.startDomain(Domain("cnt").vcpus(4).cachetune("0-1", l3(0, 5_MiB) + monitor("0-1")),
                  hv.vcpuThreads());
    f.sim.setControl("footprint", footprint({{hv.tid(0), 0, 1 * kMiB}, {hv.tid(1), 1, 2 * kMiB}}));
    const std::string value = "resctrld_llc_occupancy_bytes{domain=\"cnt\",cache_id=\"1\"}";
    std::optional<double> last;
    REQUIRE(prometheus.waitForValue(
        value, [](double v) { return v == 2 * kMiB; }, last));

    f.sim.setControl("counters", "1 llc_occupancy Unavailable\n");
    CHECK(prometheus.waitForValue(
        "resctrld_counter_state{domain=\"cnt\",cache_id=\"1\",state=\"unavailable\"}",
        [](double v) { return v == 1; }, last));
    CHECK(prometheus.waitForNoSeries(value));
    CHECK(prometheus.waitForNoSeries(
        "resctrld_counter_state{domain=\"cnt\",cache_id=\"1\",state=\"ok\"}"));
    // Cache 0 is still read.
    CHECK(prometheus.value("resctrld_llc_occupancy_bytes{domain=\"cnt\",cache_id=\"0\"}") ==
          std::optional<double>(1 * kMiB));
}

TEST_CASE("Restarting the daemon sets resctrld_up to 0, drops its series, and back",
          "[e2e][exporter]") {
    requirePrometheus();
    ExporterFixture f;
    Prometheus prometheus(f.exporter.port(), f.dir.path());
    auto& hv = f.hypervisor();
    f.startDomain(Domain("rst").vcpus(4).cachetune("0-1", l3(0, 5_MiB) + monitor("0-1")),
                  hv.vcpuThreads());
    std::optional<double> last;
    REQUIRE(prometheus.waitForValue(
        "resctrld_up", [](double v) { return v == 1; }, last));
    REQUIRE(prometheus.waitForValue(
        "resctrld_domain_info{domain=\"rst\"}", [](double v) { return v == 1; }, last));

    f.killDaemon();
    CHECK(prometheus.waitForValue(
        "resctrld_up", [](double v) { return v == 0; }, last));
    const std::string down = f.exporter.scrape();
    CHECK(down.find("resctrld_up 0") != std::string::npos);
    CHECK(down.find("resctrld_domain_info") == std::string::npos);
    CHECK(down.find("resctrld_info") == std::string::npos);
    CHECK(prometheus.waitForNoSeries("resctrld_domain_info"));

    // The restarted daemon re-adopts the domain; the exporter reads it all again.
    f.startDaemon();
    CHECK(prometheus.waitForValue(
        "resctrld_up", [](double v) { return v == 1; }, last));
    CHECK(prometheus.waitForValue(
        "resctrld_domain_info{domain=\"rst\"}", [](double v) { return v == 1; }, last));
}

TEST_CASE("promtool check metrics finds nothing to say about a scrape", "[e2e][exporter]") {
    requirePrometheus();
    ExporterFixture f;
    startDomainWithEverySeries(f, "lint");
    const fs::path scrape = f.dir.path() / "scrape.prom";
    std::ofstream(scrape) << f.exporter.scrape();
    Process promtool(
        {"/bin/sh", "-c", std::string(PROMTOOL_BINARY) + " check metrics < " + scrape.string()},
        f.dir.path());
    const auto rc = promtool.waitExit();
    REQUIRE(rc);
    // The one finding promtool's linter has is the name resctrld_counter_state, which the API
    // reference fixes: its lint rejects "counter" in a gauge's name. Anything else fails.
    const std::string known = "resctrld_counter_state metric name should not include type "
                              "'counter'";
    std::istringstream output(promtool.stdoutText() + promtool.stderrText());
    std::string line;
    std::vector<std::string> findings;
    while (std::getline(output, line))
        if (!line.empty() && line != known)
            findings.push_back(line);
    INFO(promtool.stdoutText() << promtool.stderrText());
    CHECK(findings.empty());
    CHECK((*rc == 0 || *rc == 3));
    std::printf("e2e-exporter: promtool check metrics: exit %d, %zu finding(s) beyond the fixed "
                "name resctrld_counter_state\n",
                *rc, findings.size());
}

// Each sample of a page as "name{label="value",...} value", labels sorted, read by the Python
// client library's parser for `format` ("openmetrics" or "text"): an independent reader.
std::set<std::string> parsedSamples(const std::string& page, const std::string& format,
                                    const fs::path& dir) {
    const fs::path pageFile = dir / ("page." + format);
    const fs::path script = dir / ("parse-" + format + ".py");
    std::ofstream(pageFile) << page;
    std::ofstream(script)
        << "import sys\n"
        << (format == "openmetrics" ? "from prometheus_client.openmetrics.parser"
                                    : "from prometheus_client.parser")
        << " import text_string_to_metric_families\n"
           "for family in text_string_to_metric_families(sys.stdin.read()):\n"
           "    for s in family.samples:\n"
           "        labels = ','.join('%s=\"%s\"' % kv for kv in sorted(s.labels.items()))\n"
           "        print('%s{%s} %s' % (s.name, labels, repr(float(s.value))))\n";
    Process parser(
        {"/bin/sh", "-c", "/usr/bin/python3 " + script.string() + " < " + pageFile.string()}, dir);
    const auto rc = parser.waitExit();
    INFO(format << " parser: " << parser.stderrText() << "\non this page:\n" << page);
    REQUIRE(rc == 0);
    std::set<std::string> samples;
    std::istringstream lines(parser.stdoutText());
    for (std::string line; std::getline(lines, line);)
        if (line.rfind("resctrld_exporter_", 0) != 0) // the exporter's own count every scrape
            samples.insert(line);
    return samples;
}

TEST_CASE("A scraper that asks for OpenMetrics gets it, with the same series as the text format",
          "[e2e][exporter]") {
    ExporterFixture f;
    const auto domainPath = startDomainWithEverySeries(f, "om");
    // Prometheus 2.42's Accept header.
    const std::string prometheusRequest =
        "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: application/openmetrics-text;"
        "version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;"
        "version=0.0.4;q=0.5,*/*;q=0.1\r\n\r\n";
    HttpReply om;
    HttpReply text;
    std::set<std::string> fromOpenMetrics;
    std::set<std::string> fromText;
    // The two scrapes match unless a sample lands between them; a few tries rule that out.
    for (int attempt = 0; attempt < 5; ++attempt) {
        om = rawHttp(f.exporter.port(), prometheusRequest);
        text = httpGet(f.exporter.port(), "/metrics");
        REQUIRE(om.status == 200);
        REQUIRE(text.status == 200);
        fromOpenMetrics = parsedSamples(om.body, "openmetrics", f.dir.path());
        fromText = parsedSamples(text.body, "text", f.dir.path());
        if (fromOpenMetrics == fromText)
            break;
    }
    CHECK(om.headers.find("Content-Type: application/openmetrics-text; version=1.0.0") !=
          std::string::npos);
    CHECK(text.headers.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
    CHECK(om.body.ends_with("\n# EOF\n"));
    CHECK(om.body.find("# TYPE resctrld_memory_bandwidth_bytes counter\n") != std::string::npos);
    CHECK(fromOpenMetrics.count("resctrld_domain_info{domain=\"om\",state=\"active\",uuid=\"" +
                                f.property<std::string>(domainPath, kDomain, "Uuid") + "\"} 1.0") ==
          1);
    CHECK(fromOpenMetrics.size() > 10);
    CHECK(fromOpenMetrics == fromText);
}

TEST_CASE("Wrong paths, huge headers, slow and many clients: the exporter keeps serving in "
          "bounded memory",
          "[e2e][exporter]") {
    ExporterFixture f;
    const unsigned port = f.exporter.port();
    CHECK(httpGet(port, "/").status == 200);
    CHECK(httpGet(port, "/").body.find("href=\"/metrics\"") != std::string::npos);
    CHECK(httpGet(port, "/metrics").headers.find("text/plain; version=0.0.4") != std::string::npos);
    for (const char* path : {"/metric", "/metrics/", "/../metrics", "/index.html", "//"})
        CHECK(httpGet(port, path).status == 404);
    CHECK(rawHttp(port, "POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc").status == 404);

    // 1 MiB of headers: refused (or the connection dropped), never buffered.
    const std::string huge =
        "GET /metrics HTTP/1.0\r\nX-Big: " + std::string(1 << 20, 'a') + "\r\n\r\n";
    const auto refused = rawHttp(port, huge);
    CHECK(refused.status != 200);

    // Slow clients hold a connection each, sending a byte now and then; the exporter still
    // answers others.
    std::vector<int> slow;
    for (int i = 0; i < 20; ++i) {
        int fd = connectTo(port);
        if (fd >= 0) {
            ::send(fd, "GET /met", 8, MSG_NOSIGNAL);
            slow.push_back(fd);
        }
    }
    CHECK(httpGet(port, "/metrics").status == 200);

    // 100 clients at once: at least the first 16 served, the rest served or refused, none hung.
    const uint64_t rssBefore = f.exporter.rssKiB();
    std::atomic<int> served{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < 100; ++i)
        clients.emplace_back([&] {
            for (int round = 0; round < 20; ++round)
                (httpGet(port, "/metrics").status == 200 ? served : failed)++;
        });
    for (auto& t : clients)
        t.join();
    for (int fd : slow)
        ::close(fd);
    INFO("served " << served << ", refused " << failed);
    CHECK(served >= 16 * 20);
    CHECK(httpGet(port, "/metrics").status == 200);
    const uint64_t rssAfter = f.exporter.rssKiB();
    INFO("exporter RSS " << rssBefore << " KiB before, " << rssAfter << " KiB after");
    // Under AddressSanitizer freed memory waits in its quarantine: RSS says nothing then.
    if (!RESCTRLD_SANITIZED)
        CHECK(rssAfter < rssBefore + 4096);
    CHECK(f.exporter.process().running());
    std::printf("e2e-exporter: 2000 scrapes by 100 clients: %d served, %d refused; RSS %llu -> "
                "%llu KiB\n",
                served.load(), failed.load(), static_cast<unsigned long long>(rssBefore),
                static_cast<unsigned long long>(rssAfter));
}

TEST_CASE("--textfile writes resctrld.prom whole at every tick for node_exporter",
          "[e2e][exporter]") {
    ExporterFixture f;
    auto& hv = f.hypervisor();
    f.startDomain(Domain("txt").vcpus(4).cachetune("0-1", l3(0, 5_MiB) + monitor("0-1")),
                  hv.vcpuThreads());
    const fs::path out = f.dir.path() / "textfile";
    fs::create_directories(out);
    Process writer({RESCTRLD_EXPORTER_BINARY, "--bus", f.bus.address(), "--textfile", out.string()},
                   f.dir.path());
    // Polls the file (every 10 ms): it is renamed into place, which no event of ours announces.
    auto contents = [&] {
        return simtest::readFile(out / "resctrld.prom");
    };
    INFO(writer.stderrText());
    REQUIRE(waitUntil([&] {
        return fs::exists(out / "resctrld.prom") &&
               contents().find("resctrld_domain_info{domain=\"txt\"") != std::string::npos;
    }));
    CHECK(contents().find("resctrld_up 1\n") != std::string::npos);
    // A new file at the next tick, each one whole: it always ends with the exporter's counters.
    const auto first = fs::last_write_time(out / "resctrld.prom");
    REQUIRE(waitUntil([&] { return fs::last_write_time(out / "resctrld.prom") != first; }));
    CHECK(contents().find("resctrld_exporter_errors_total") != std::string::npos);
    CHECK_FALSE(fs::exists(out / ".resctrld.prom.tmp"));

    f.stopDomain("txt");
    CHECK(waitUntil([&] { return contents().find("domain=\"txt\"") == std::string::npos; }));
}

namespace {

// A stand-in for resctrld on the bus, for what the real one never does: wrong types, too many
// entries, no answer at all. Its thread owns the connection; `serve` false owns the name and
// never reads a message.
class HostileDaemon {
public:
    HostileDaemon(const std::string& address, bool serve)
        : serve_(serve) {
        thread_ = std::thread([this, address] { run(address); });
        while (!ready_.load())
            std::this_thread::sleep_for(10ms);
    }
    ~HostileDaemon() {
        stop_ = true;
        thread_.join();
    }

private:
    void run(const std::string& address) {
        auto connection = sdbus::createSessionBusConnectionWithAddress(address);
        auto root = sdbus::createObject(*connection, kRootPath);
        root->addObjectManager();
        root->registerProperty("Version").onInterface(kManager).withGetter(
            [] { return std::string("hostile"); });
        // A budget of the wrong type: ignored, counted.
        root->registerProperty("ClosidsFree").onInterface(kManager).withGetter([] {
            return std::string("many");
        });
        root->finishRegistration();
        auto domain = sdbus::createObject(*connection, "/org/resctrld1/domain/bad");
        domain->registerProperty("Name").onInterface(kDomain).withGetter(
            [] { return std::string("bad"); });
        domain->finishRegistration();
        auto wrong = sdbus::createObject(*connection, "/org/resctrld1/domain/bad/monitor/0");
        wrong->registerProperty("Name").onInterface(kMonitor).withGetter(
            [] { return std::string("vcpus_0"); });
        wrong->registerProperty("CacheOccupancy").onInterface(kMonitor).withGetter([] {
            return std::map<uint32_t, std::string>{{0, "lots"}};
        });
        wrong->finishRegistration();
        auto huge = sdbus::createObject(*connection, "/org/resctrld1/domain/bad/monitor/1");
        huge->registerProperty("Name").onInterface(kMonitor).withGetter(
            [] { return std::string("vcpus_1"); });
        huge->registerProperty("CacheOccupancy").onInterface(kMonitor).withGetter([] {
            CounterMap map;
            for (uint32_t id = 0; id < 100'000; ++id)
                map[id] = id;
            return map;
        });
        huge->finishRegistration();
        connection->requestName(kService);
        ready_ = true;
        while (!stop_.load()) {
            if (!serve_) {
                std::this_thread::sleep_for(10ms);
                continue;
            }
            auto poll = connection->getEventLoopPollData();
            pollfd fd{poll.fd, poll.events, 0};
            ::poll(&fd, 1, 20);
            while (connection->processPendingRequest()) {
            }
        }
    }
    bool serve_;
    std::atomic<bool> ready_{false};
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

uint64_t errorsIn(const std::string& page) {
    const std::string key = "\nresctrld_exporter_errors_total ";
    const auto at = page.find(key);
    return at == std::string::npos ? 0 : std::stoull(page.substr(at + key.size()));
}

} // namespace

TEST_CASE("A daemon that never answers is down within the call timeout, and scrapes stay fast",
          "[e2e][exporter]") {
    TempDir dir;
    PrivateBus bus(dir.path());
    HostileDaemon silent(bus.address(), false);
    Exporter exporter(bus.address(), dir.path());
    // The exporter's read waits 2 s for an answer, then counts an error and tries again.
    REQUIRE(waitUntil([&] { return errorsIn(exporter.scrape()) >= 1; }, 10s));
    for (int i = 0; i < 20; ++i) {
        const auto start = std::chrono::steady_clock::now();
        const std::string page = exporter.scrape();
        const auto took = std::chrono::steady_clock::now() - start;
        CHECK(page.find("resctrld_up 0\n") != std::string::npos);
        CHECK(took < 200ms);
    }
}

TEST_CASE("Wrong types and oversized maps from the daemon are dropped and counted, never "
          "served",
          "[e2e][exporter]") {
    TempDir dir;
    PrivateBus bus(dir.path());
    HostileDaemon hostile(bus.address(), true);
    Exporter exporter(bus.address(), dir.path());
    std::string page;
    REQUIRE(waitUntil([&] {
        page = exporter.scrape();
        return page.find("resctrld_up 1\n") != std::string::npos;
    }));
    INFO(page.substr(0, 4000));
    CHECK(errorsIn(page) >= 2);
    CHECK(page.find("lots") == std::string::npos);
    // 100000 cache ids offered, at most 256 kept.
    std::size_t series = 0;
    for (std::size_t at = 0;
         (at = page.find("\nresctrld_llc_occupancy_bytes{", at)) != std::string::npos; ++at)
        ++series;
    CHECK(series <= 256);
    if (!RESCTRLD_SANITIZED)
        CHECK(exporter.rssKiB() < 32 * 1024);
}

TEST_CASE("Beyond 64 connections new ones are answered 503 at once, and the exporter recovers",
          "[e2e][exporter]") {
    TempDir dir;
    PrivateBus bus(dir.path());
    Exporter exporter(bus.address(), dir.path());
    std::vector<int> idle;
    for (int i = 0; i < 64; ++i) {
        int fd = connectTo(exporter.port());
        REQUIRE(fd >= 0);
        idle.push_back(fd);
    }
    // Polls (every 10 ms) until the exporter has accepted all 64: accept(2) announces nothing.
    const auto start = std::chrono::steady_clock::now();
    HttpReply refused;
    CHECK(waitUntil([&] {
        refused = httpGet(exporter.port(), "/metrics");
        return refused.status == 503;
    }));
    CHECK(std::chrono::steady_clock::now() - start < 5s);
    for (int fd : idle)
        ::close(fd);
    CHECK(waitUntil([&] { return httpGet(exporter.port(), "/metrics").status == 200; }));
    CHECK(exporter.process().running());
}

TEST_CASE("Counter budgets and the monitors waiting for counters are series on turin-2s",
          "[e2e][exporter][counters]") {
    runtime::Fixture f({.profile = "turin-2s", .configText = config("0.2"), .kernel = "6.19"});
    Exporter exporter(f.bus.address(), f.dir.path());
    // 16 bandwidth monitors: 15 fit in the 30 counters the default group leaves per cache id.
    constexpr unsigned kVcpus = 16;
    std::string monitors;
    for (unsigned v = 0; v < kVcpus; ++v)
        monitors += memoryMonitor(std::to_string(v));
    f.startDomain(Domain("ex").vcpus(kVcpus).memorytune("0-15", monitors),
                  f.hypervisor(kVcpus).vcpuThreads());
    const std::vector<std::string> expected{
        "resctrld_counters{cache_id=\"0\",state=\"total\"} 32\n",
        "resctrld_counters{cache_id=\"31\",state=\"free\"} 0\n",
        "resctrld_monitor_counters_assigned{cache_id=\"0\",domain=\"ex\",monitor=\"vcpus_0\"} 1\n",
        "resctrld_monitor_counters_assigned{cache_id=\"0\",domain=\"ex\",monitor=\"vcpus_15\"} 0\n",
        "resctrld_counter_state{cache_id=\"0\",domain=\"ex\",monitor=\"vcpus_15\","
        "state=\"unassigned\"} 1\n",
    };
    std::string scrape;
    const bool all = waitUntil(
        [&] {
            scrape = exporter.scrape();
            return std::all_of(expected.begin(), expected.end(), [&](const std::string& line) {
                return scrape.find(line) != std::string::npos;
            });
        },
        20s);
    INFO(scrape);
    CHECK(all);
    // The waiting monitor has no bandwidth value, never a 0.
    CHECK(scrape.find("resctrld_memory_bandwidth_bytes_total{cache_id=\"0\",domain=\"ex\","
                      "monitor=\"vcpus_15\"") == std::string::npos);
}

TEST_CASE("SMBA caps are series on turin-2s, for the nodes the definition names",
          "[e2e][exporter][smba]") {
    runtime::Fixture f({.profile = "turin-2s", .configText = config("0.2"), .kernel = "6.19"});
    Exporter exporter(f.bus.address(), f.dir.path());
    f.startDomain(Domain("slow").vcpus(2).inMetadata().tuning("<slowmemorytune vcpus='0-1'>" +
                                                              node(0, 64) + node(3, 128) +
                                                              "</slowmemorytune>"),
                  f.hypervisor(2).vcpuThreads());
    const std::string prefix = "resctrld_allocation_slow_memory_bandwidth{allocation=\"0\","
                               "domain=\"slow\",";
    const std::vector<std::string> expected{
        prefix + "node=\"0\",unit=\"1/8 GB/s\"} 64\n",
        prefix + "node=\"3\",unit=\"1/8 GB/s\"} 128\n",
    };
    std::string scrape;
    const bool all = waitUntil(
        [&] {
            scrape = exporter.scrape();
            return std::all_of(expected.begin(), expected.end(), [&](const std::string& line) {
                return scrape.find(line) != std::string::npos;
            });
        },
        20s);
    INFO(scrape);
    CHECK(all);
    // A node the definition leaves alone keeps the default group's value: no series of its own.
    CHECK(scrape.find(prefix + "node=\"1\"") == std::string::npos);
}
