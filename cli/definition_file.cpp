// SPDX-License-Identifier: LGPL-2.1-or-later
#include "definition_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include "cli_error.h"

namespace resctrld::cli {

namespace {

// Closes the descriptor it owns (not standard input).
class InputFile {
public:
    explicit InputFile(const std::string& path)
        : fd_(path == "-" ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC))
        , owned_(path != "-") {}
    ~InputFile() {
        if (owned_ && fd_ >= 0)
            ::close(fd_);
    }
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;
    int fd() const { return fd_; }

private:
    int fd_;
    bool owned_;
};

} // namespace

std::string readDefinition(const std::string& path) {
    const std::string what = path == "-" ? std::string("standard input") : "'" + path + "'";
    InputFile file(path);
    if (file.fd() < 0)
        throw UsageError("cannot open the definition " + what + ": " + std::strerror(errno));
    std::string text;
    char buffer[65536];
    for (;;) {
        const ssize_t n = ::read(file.fd(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw UsageError("cannot read the definition " + what + ": " + std::strerror(errno));
        if (n == 0)
            break;
        text.append(buffer, static_cast<std::size_t>(n));
        // Stop reading at the limit: standard input may be endless.
        if (text.size() > kMaxDefinitionBytes)
            throw UsageError("the definition " + what +
                             " is larger than 1 MiB, the most resctrld accepts; a libvirt domain "
                             "document is a few KiB");
    }
    if (text.find_first_not_of(" \t\r\n") == std::string::npos)
        throw UsageError("the definition " + what + " is empty");
    return text;
}

} // namespace resctrld::cli
