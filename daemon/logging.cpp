// SPDX-License-Identifier: LGPL-2.1-or-later
#include "logging.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/systemd_sink.h>
#include <spdlog/spdlog.h>

namespace resctrld {

bool isStderrJournal() {
    const char* stream = std::getenv("JOURNAL_STREAM");
    if (stream == nullptr)
        return false;
    unsigned long long device = 0, inode = 0;
    if (std::sscanf(stream, "%llu:%llu", &device, &inode) != 2)
        return false;
    struct stat st {};
    if (fstat(STDERR_FILENO, &st) != 0)
        return false;
    return st.st_dev == device && st.st_ino == inode;
}

void setupLogging(const std::string& level) {
    std::shared_ptr<spdlog::logger> logger;
    if (isStderrJournal()) {
        // The journal records time, level and unit itself; send only the message.
        logger = std::make_shared<spdlog::logger>(
            "resctrld", std::make_shared<spdlog::sinks::systemd_sink_st>("resctrld"));
    } else {
        logger = std::make_shared<spdlog::logger>(
            "resctrld", std::make_shared<spdlog::sinks::stderr_sink_st>());
        logger->set_pattern("%Y-%m-%d %H:%M:%S.%e resctrld[%P] %l: %v");
    }
    logger->set_level(spdlog::level::from_str(level));
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(std::move(logger));
}

} // namespace resctrld
