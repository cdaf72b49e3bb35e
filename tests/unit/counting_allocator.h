// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <functional>

namespace resctrld::test {

// How many times `body` called operator new (any thread's calls meanwhile count too). A test
// program linking counting_allocator.cpp replaces the global operator new and delete with malloc
// and free that count while asked to; an address sanitizer build sees those as a matching pair.
unsigned allocationsOf(const std::function<void()>& body);

} // namespace resctrld::test
