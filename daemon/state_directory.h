// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <filesystem>
#include <stdexcept>
#include <sys/types.h>

namespace resctrld {

// The state directory cannot be trusted as it is; the message says what to change.
class UnsafeStateDirectory : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The state directory says, after a restart, which groups are the daemon's and which threads
// belong in them: a user who could change it could make the daemon delete or fill any group. So
// it must be a real directory (never a symbolic link), owned by the daemon's user (`owner`: root)
// and mode 0700. A missing directory is created so (missing parents with default modes); one
// that exists is never changed. Throws UnsafeStateDirectory saying what to fix, or
// std::system_error when it cannot be looked at or created.
void prepareStateDirectory(const std::filesystem::path& directory, uid_t owner);

} // namespace resctrld
