// SPDX-License-Identifier: LGPL-2.1-or-later
// The exporter's HTTP side on libmicrohttpd: GET /metrics and a short page at /, 404 for the
// rest. One internal thread serves every listening socket from memory; request sizes, the number
// of connections and idle time are bounded, so a slow or hostile client costs a slot, not the
// exporter.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "exposition.h"

struct MHD_Daemon;

namespace resctrld::exporter {

struct HttpLimits {
    // Connections served at once; beyond it a request is answered 503 at once. libmicrohttpd
    // accepts twice as many (so that the excess gets its quick 503) and leaves the rest in the
    // listen backlog.
    unsigned connections = 64;
    // Seconds a connection may stay idle (a slow client included) before it is closed.
    unsigned idleSeconds = 10;
    // Bytes of request (line and headers) per connection; beyond it the request is refused.
    std::size_t requestBytes = 16 * 1024;
};

class HttpServer {
public:
    // The body of GET /metrics in the format the request's Accept header asks for, made per
    // request.
    using MetricsBody = std::function<std::string(Exposition)>;

    // Serves on already listening sockets (socket activation, or listenOn()). Takes ownership.
    HttpServer(std::vector<int> listenFds, MetricsBody metrics, HttpLimits limits = {});
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    const MetricsBody& metrics() const { return metrics_; }
    // Whether a request now finds more connections open than the limit.
    bool isOverloaded() const { return open_.load(std::memory_order_relaxed) > limit_; }
    void countConnection(int delta) { open_.fetch_add(delta, std::memory_order_relaxed); }

private:
    MetricsBody metrics_;
    std::atomic<int> open_{0};
    int limit_;
    struct DaemonDeleter {
        void operator()(MHD_Daemon* d) const;
    };
    std::vector<std::unique_ptr<MHD_Daemon, DaemonDeleter>> daemons_;
};

// A listening TCP socket on "HOST:PORT" ("127.0.0.1:9878", "[::1]:9878", ":9878" for any).
int listenOn(const std::string& hostPort);

} // namespace resctrld::exporter
