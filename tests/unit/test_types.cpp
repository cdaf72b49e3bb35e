// SPDX-License-Identifier: LGPL-2.1-or-later
#include <cstdio>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "errors.h"
#include "text.h"
#include "types.h"
#include "unique_fd.h"

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

TEST_CASE("split keeps empty pieces but starts none after a final separator", "[text]") {
    using Pieces = std::vector<std::string_view>;
    CHECK(split("a,,b,", ',') == Pieces{"a", "", "b"});
    CHECK(split("a,b", ',') == Pieces{"a", "b"});
    CHECK(split(",", ',') == Pieces{""});
    CHECK(split("", ',').empty());
    CHECK(splitLines("L3:0=7ff\n\nMB:0=100\n") == Pieces{"L3:0=7ff", "", "MB:0=100"});
    CHECK(splitLines("no final newline") == Pieces{"no final newline"});
}

TEST_CASE("readAll reads a file from its start to its end whatever the fd's offset", "[text]") {
    FILE* file = std::tmpfile();
    REQUIRE(file != nullptr);
    const UniqueFd fd(::dup(::fileno(file)));
    std::fclose(file);
    const std::string text(10000, 'x');
    REQUIRE(::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    CHECK(readAll(fd.get()) == text);
    CHECK_FALSE(readAll(-1).has_value());
}
