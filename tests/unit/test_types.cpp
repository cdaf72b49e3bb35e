// SPDX-License-Identifier: LGPL-2.1-or-later
#include <catch2/catch.hpp>

#include "errors.h"
#include "types.h"

using namespace resctrld;

TEST_CASE("formatBytes uses the largest exact binary unit", "[types]") {
    CHECK(formatBytes(0) == "0 B");
    CHECK(formatBytes(17) == "17 B");
    CHECK(formatBytes(768 * 1024) == "768 KiB");
    CHECK(formatBytes(6ull << 20) == "6 MiB");
    CHECK(formatBytes(5ull << 19) == "2.5 MiB");
    CHECK(formatBytes(28160ull * 1024) == "27.5 MiB");
}

TEST_CASE("every error type carries its D-Bus error name", "[types]") {
    CHECK(NoSpace("x").dbusName() == "org.resctrld1.Error.NoSpace");
    CHECK(InvalidDefinition("x").dbusName() == "org.resctrld1.Error.InvalidDefinition");
    CHECK(KernelRejected("x").dbusName() == "org.resctrld1.Error.KernelRejected");
    const Error& base = AccessDenied("nope");
    CHECK(base.dbusName() == "org.resctrld1.Error.AccessDenied");
    CHECK(std::string(base.what()) == "nope");
}
