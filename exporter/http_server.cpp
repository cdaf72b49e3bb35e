// SPDX-License-Identifier: LGPL-2.1-or-later
#include "http_server.h"

#include <cstring>
#include <microhttpd.h>
#include <netdb.h>
#include <stdexcept>
#include <sys/socket.h>
#include <system_error>
#include <unistd.h>

#include "exposition.h"

namespace resctrld::exporter {

namespace {

constexpr const char* kIndexPage =
    "<!DOCTYPE html>\n<html><head><title>resctrld exporter</title></head><body>\n"
    "<h1>resctrld exporter</h1>\n"
    "<p>Cache occupancy and memory bandwidth of the VMs resctrld manages.</p>\n"
    "<p><a href=\"/metrics\">Metrics</a></p>\n</body></html>\n";

MHD_Result reply(MHD_Connection* connection, unsigned status, const std::string& body,
                 const char* contentType) {
    MHD_Response* response = MHD_create_response_from_buffer(
        body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
    if (response == nullptr)
        return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, contentType);
    MHD_Result result = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return result;
}

MHD_Result handle(void* cls, MHD_Connection* connection, const char* url, const char* method,
                  const char* /*version*/, const char* /*upload*/, size_t* /*uploadSize*/,
                  void** /*state*/) {
    auto& server = *static_cast<HttpServer*>(cls);
    const bool get = std::strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
                     std::strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (server.isOverloaded())
        return reply(connection, MHD_HTTP_SERVICE_UNAVAILABLE, "Too many connections\n",
                     "text/plain; charset=utf-8");
    if (get && std::strcmp(url, "/metrics") == 0) {
        const char* accept =
            MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
        const Exposition format = negotiate(accept != nullptr ? accept : "");
        return reply(connection, MHD_HTTP_OK, server.metrics()(format), contentType(format));
    }
    if (get && std::strcmp(url, "/") == 0)
        return reply(connection, MHD_HTTP_OK, kIndexPage, "text/html; charset=utf-8");
    return reply(connection, MHD_HTTP_NOT_FOUND, "Not found: try /metrics\n",
                 "text/plain; charset=utf-8");
}

void notifyConnection(void* cls, MHD_Connection*, void**, MHD_ConnectionNotificationCode code) {
    static_cast<HttpServer*>(cls)->countConnection(code == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
}

} // namespace

void HttpServer::DaemonDeleter::operator()(MHD_Daemon* d) const {
    MHD_stop_daemon(d);
}

HttpServer::HttpServer(std::vector<int> listenFds, MetricsBody metrics, HttpLimits limits)
    : metrics_(std::move(metrics))
    , limit_(static_cast<int>(limits.connections)) {
    for (int fd : listenFds) {
        // MHD_USE_AUTO picks epoll; one internal thread answers every connection from memory.
        MHD_Daemon* d = MHD_start_daemon(
            MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, nullptr, nullptr, &handle, this,
            MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, 2 * limits.connections,
            MHD_OPTION_NOTIFY_CONNECTION, &notifyConnection, this, MHD_OPTION_CONNECTION_TIMEOUT,
            limits.idleSeconds, MHD_OPTION_CONNECTION_MEMORY_LIMIT, limits.requestBytes,
            MHD_OPTION_END);
        if (d == nullptr) {
            ::close(fd);
            throw std::runtime_error("libmicrohttpd could not serve listening socket " +
                                     std::to_string(fd));
        }
        daemons_.emplace_back(d);
    }
}

HttpServer::~HttpServer() = default;

int listenOn(const std::string& hostPort) {
    auto colon = hostPort.rfind(':');
    if (colon == std::string::npos)
        throw std::invalid_argument("--listen " + hostPort + ": expected HOST:PORT");
    std::string host = hostPort.substr(0, colon);
    std::string port = hostPort.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
        rc != 0)
        throw std::invalid_argument("--listen " + hostPort + ": " + gai_strerror(rc));
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(found, &freeaddrinfo);
    int fd = ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw std::system_error(errno, std::generic_category(), "socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (found->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(fd, found->ai_addr, found->ai_addrlen) < 0 || ::listen(fd, 64) < 0) {
        int err = errno;
        ::close(fd);
        throw std::system_error(err, std::generic_category(), "--listen " + hostPort);
    }
    return fd;
}

} // namespace resctrld::exporter
