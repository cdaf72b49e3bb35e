// SPDX-License-Identifier: LGPL-2.1-or-later
#include "textfile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace resctrld::exporter {

void writeTextfileAtomically(const std::filesystem::path& dir, const std::string& contents) {
    // A dot name: the collector reads only *.prom, so the partial file is never seen.
    const auto tmp = dir / ".resctrld.prom.tmp";
    const auto final = dir / "resctrld.prom";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        throw std::system_error(errno, std::generic_category(), "open " + tmp.string());
    std::size_t done = 0;
    while (done < contents.size()) {
        ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int err = errno;
            ::close(fd);
            throw std::system_error(err, std::generic_category(), "write " + tmp.string());
        }
        done += static_cast<std::size_t>(n);
    }
    // The umask of a dynamic user may be strict; the collector runs as another user.
    ::fchmod(fd, 0644);
    if (::close(fd) < 0)
        throw std::system_error(errno, std::generic_category(), "close " + tmp.string());
    if (::rename(tmp.c_str(), final.c_str()) < 0)
        throw std::system_error(errno, std::generic_category(), "rename to " + final.string());
}

} // namespace resctrld::exporter
