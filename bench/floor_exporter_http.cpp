// SPDX-License-Identifier: LGPL-2.1-or-later
// The floor of the exporter's scrape benchmark: libmicrohttpd with the exporter's options,
// answering GET /metrics with a file's bytes held in memory, and nothing else.
//
//   bench-floor-exporter-http FILE PORT
#include <cstdio>
#include <cstring>
#include <fstream>
#include <microhttpd.h>
#include <signal.h>
#include <string>

namespace {

std::string page;

MHD_Result handle(void*, MHD_Connection* connection, const char*, const char*, const char*,
                  const char*, size_t*, void**) {
    MHD_Response* response = MHD_create_response_from_buffer(
        page.size(), const_cast<char*>(page.data()), MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8");
    MHD_Result result = MHD_queue_response(connection, MHD_HTTP_OK, response);
    MHD_destroy_response(response);
    return result;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: bench-floor-exporter-http FILE PORT\n");
        return 2;
    }
    std::ifstream in(argv[1]);
    page.assign(std::istreambuf_iterator<char>(in), {});
    MHD_Daemon* d = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD, static_cast<uint16_t>(std::stoi(argv[2])), nullptr, nullptr,
        &handle, nullptr, MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<size_t>(16 * 1024), MHD_OPTION_END);
    if (d == nullptr)
        return 1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    int sig = 0;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    return 0;
}
