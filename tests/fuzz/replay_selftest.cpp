// SPDX-License-Identifier: LGPL-2.1-or-later
// A fuzz entry point with a finding on every input, so that the unit suite checks that
// replay_corpus.cpp fails on one: it aborts (a broken invariant, as the real targets report it)
// when REPLAY_SELFTEST is "abort", and throws otherwise.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) {
    const char* mode = std::getenv("REPLAY_SELFTEST");
    if (mode != nullptr && std::string_view(mode) == "abort")
        std::abort();
    throw std::runtime_error("an exception no target may let out");
}
