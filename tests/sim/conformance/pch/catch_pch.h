// SPDX-License-Identifier: LGPL-2.1-or-later
// Precompiled for the conformance tests: every one of their files includes Catch2.
#include <catch2/catch.hpp>
