// SPDX-License-Identifier: LGPL-2.1-or-later
// resctrld-exporter: resctrld's monitors for Prometheus, as an unprivileged D-Bus client.
//
//   resctrld-exporter [--bus system|session|ADDRESS] [--listen HOST:PORT]... [--textfile DIR]
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <malloc.h>
#include <memory>
#include <mutex>
#include <optional>
#include <signal.h>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include "follower.h"
#include "http_server.h"
#include "metrics.h"
#include "textfile.h"

using namespace resctrld::exporter;

namespace {

constexpr const char* kUsage =
    "usage: resctrld-exporter [--bus system|session|ADDRESS] [--listen HOST:PORT]...\n"
    "                         [--textfile DIR] [--verbose]\n"
    "Without --listen the sockets come from systemd (resctrld-exporter.socket), or else\n"
    "127.0.0.1:9878 and [::1]:9878. With --textfile DIR, writes DIR/resctrld.prom instead.\n";

struct CommandLine {
    std::string bus = "system";
    std::vector<std::string> listen;
    std::optional<std::filesystem::path> textfileDir;
    bool verbose = false;
};

CommandLine parse(int argc, char** argv) {
    CommandLine cl;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc)
                throw std::invalid_argument(arg + " needs a value");
            return argv[++i];
        };
        if (arg == "--bus")
            cl.bus = value();
        else if (arg == "--listen")
            cl.listen.push_back(value());
        else if (arg == "--textfile")
            cl.textfileDir = value();
        else if (arg == "--verbose")
            cl.verbose = true;
        else if (arg == "--help" || arg == "-h") {
            std::cout << kUsage;
            std::exit(0);
        } else
            throw std::invalid_argument("unknown argument " + arg);
    }
    if (cl.textfileDir && !cl.listen.empty())
        throw std::invalid_argument("--textfile writes a file and serves nothing: drop --listen");
    return cl;
}

std::vector<int> listeningSockets(const CommandLine& cl) {
    std::vector<int> fds;
    if (cl.listen.empty()) {
        int n = sd_listen_fds(1);
        for (int i = 0; i < n; ++i)
            fds.push_back(SD_LISTEN_FDS_START + i);
        if (!fds.empty())
            return fds;
        for (const char* address : {"127.0.0.1:9878", "[::1]:9878"}) {
            try {
                fds.push_back(listenOn(address));
            } catch (const std::exception& e) {
                // A host without IPv6 still gets the IPv4 address.
                spdlog::warn("not listening on {}: {}", address, e.what());
            }
        }
        if (fds.empty())
            throw std::runtime_error("no address to listen on");
        return fds;
    }
    for (const auto& address : cl.listen)
        fds.push_back(listenOn(address));
    return fds;
}

} // namespace

int main(int argc, char** argv) {
    CommandLine cl;
    try {
        cl = parse(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "resctrld-exporter: " << e.what() << "\n" << kUsage;
        return 2;
    }
    // One malloc arena for the follower and the HTTP thread: they allocate little and rarely
    // contend, and a second arena costs about 0.7 MiB of RSS with 256 monitors (measured with
    // resctrld-exporter-bench).
    mallopt(M_ARENA_MAX, 1);
    spdlog::set_pattern("%l: %v");
    spdlog::set_level(cl.verbose ? spdlog::level::debug : spdlog::level::info);

    // SIGTERM and SIGINT are taken by sigwait below; every thread inherits the mask.
    sigset_t stopSignals;
    sigemptyset(&stopSignals);
    sigaddset(&stopSignals, SIGTERM);
    sigaddset(&stopSignals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    // The daemon's part of a scrape, rendered in both formats once per change on the follower's
    // thread; a scrape adds the exporter's own counters.
    std::mutex pageLock;
    auto daemonPage = std::make_shared<const RenderedFamilies>(daemonFamilies({}));
    std::atomic<std::uint64_t> scrapes{0};
    std::atomic<std::uint64_t> localErrors{0};

    std::unique_ptr<Follower> follower;
    auto exporterPart = [&](Exposition format) {
        return serialize(
            exporterFamilies({scrapes.load(), follower->errors() + localErrors.load()}), format);
    };
    auto publish = [&](const HostSnapshot& host) {
        auto page = std::make_shared<const RenderedFamilies>(daemonFamilies(host));
        if (cl.textfileDir) {
            try {
                writeTextfileAtomically(*cl.textfileDir,
                                        page->text + exporterPart(Exposition::Text));
            } catch (const std::exception& e) {
                localErrors.fetch_add(1);
                spdlog::warn("{}", e.what());
            }
        }
        std::lock_guard lock(pageLock);
        daemonPage = std::move(page);
    };
    // Before any thread: an address reaches sd-bus through the environment (follower.cpp).
    if (cl.bus != "system" && cl.bus != "session")
        setenv("DBUS_SESSION_BUS_ADDRESS", cl.bus.c_str(), 1);
    follower = std::make_unique<Follower>(FollowerOptions{.bus = cl.bus}, publish);

    std::unique_ptr<HttpServer> server;
    if (!cl.textfileDir) {
        try {
            server = std::make_unique<HttpServer>(listeningSockets(cl), [&](Exposition format) {
                scrapes.fetch_add(1);
                std::shared_ptr<const RenderedFamilies> page;
                {
                    std::lock_guard lock(pageLock);
                    page = daemonPage;
                }
                std::string body = page->in(format) + exporterPart(format);
                body += endOfPage(format);
                return body;
            });
        } catch (const std::exception& e) {
            spdlog::error("{}", e.what());
            return 1;
        }
    }

    std::atomic<bool> stop{false};
    std::thread following([&] { follower->run(stop); });
    sd_notify(0, "READY=1");
    spdlog::info("following resctrld on the {} bus, {}", cl.bus,
                 cl.textfileDir ? "writing " + (*cl.textfileDir / "resctrld.prom").string()
                                : std::string("serving /metrics"));
    int sig = 0;
    sigwait(&stopSignals, &sig);
    stop = true;
    following.join();
    server.reset();
    return 0;
}
