// SPDX-License-Identifier: LGPL-2.1-or-later
// Checks on D-Bus calls shared by the end-to-end test programs (Catch2; not for the benchmarks,
// which use harness.h alone).
#pragma once

#include <utility>

#include <catch2/catch.hpp>
#include <sdbus-c++/Error.h>

namespace resctrld::e2e {

// The D-Bus error `call` ends with; a failed check when it succeeds.
template <class Call> sdbus::Error errorOf(Call&& call) {
    try {
        std::forward<Call>(call)();
    } catch (const sdbus::Error& e) {
        return e;
    }
    FAIL("the call succeeded");
    return sdbus::Error("none", "none");
}

} // namespace resctrld::e2e
