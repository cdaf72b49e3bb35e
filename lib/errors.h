// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace resctrld {

// One exception type per error name of docs/api.md ("Errors"). lib/ throws these; the daemon maps
// them to D-Bus errors in one place using dbusName(). Messages are for an operator: what was
// asked, what the host has, what to change.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
    // Full D-Bus error name, e.g. "org.resctrld1.Error.NoSpace".
    virtual std::string_view dbusName() const noexcept = 0;
};

#define RESCTRLD_DEFINE_ERROR(Name)                                                                \
    class Name final : public Error {                                                              \
    public:                                                                                        \
        using Error::Error;                                                                        \
        std::string_view dbusName() const noexcept override {                                      \
            return "org.resctrld1.Error." #Name;                                                   \
        }                                                                                          \
    }

RESCTRLD_DEFINE_ERROR(InvalidDefinition);
RESCTRLD_DEFINE_ERROR(NotSupported);
RESCTRLD_DEFINE_ERROR(NoSpace);
RESCTRLD_DEFINE_ERROR(NotFound);
RESCTRLD_DEFINE_ERROR(AlreadyExists);
RESCTRLD_DEFINE_ERROR(ProcessNotFound);
RESCTRLD_DEFINE_ERROR(ResctrlUnavailable);
RESCTRLD_DEFINE_ERROR(KernelRejected);
RESCTRLD_DEFINE_ERROR(Busy);
RESCTRLD_DEFINE_ERROR(AccessDenied);
// An internal failure (the state directory could not be written, ...): the message says what
// failed and points to the daemon's log for the details, which are not every caller's to see.
RESCTRLD_DEFINE_ERROR(Failed);

#undef RESCTRLD_DEFINE_ERROR

} // namespace resctrld
