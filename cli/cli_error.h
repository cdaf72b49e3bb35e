// SPDX-License-Identifier: LGPL-2.1-or-later
// What can go wrong in resctrlctl, each with the exit status an operator's script tests for.
#pragma once

#include <stdexcept>
#include <string>

namespace resctrld::cli {

enum class ExitStatus : int {
    Ok = 0,
    Refused = 1,     // the daemon answered with an error
    Usage = 2,       // the command line or a definition file is wrong; no bus call was made
    Unreachable = 3, // no bus, or nobody owns org.resctrld1 on it
};

// A mistake on the command line or in a file the user named.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The daemon refused: its D-Bus error name and message, printed as they are.
class Refusal : public std::runtime_error {
public:
    Refusal(std::string name, const std::string& message)
        : std::runtime_error(message)
        , name_(std::move(name)) {}
    const std::string& name() const { return name_; }

private:
    std::string name_;
};

// The bus or the daemon cannot be reached.
class Unreachable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

} // namespace resctrld::cli
