// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

// The D-Bus names of resctrld's API (docs/api.md) and of the standard interfaces,
// as the end-to-end tests and the benchmarks call them.
namespace resctrld::e2e {

inline constexpr const char* kService = "org.resctrld1";
inline constexpr const char* kRootPath = "/org/resctrld1";
inline constexpr const char* kManager = "org.resctrld1.Manager";
inline constexpr const char* kDomain = "org.resctrld1.Domain";
inline constexpr const char* kAllocation = "org.resctrld1.Allocation";
inline constexpr const char* kMonitor = "org.resctrld1.Monitor";

inline constexpr const char* kProperties = "org.freedesktop.DBus.Properties";
inline constexpr const char* kObjectManager = "org.freedesktop.DBus.ObjectManager";
inline constexpr const char* kIntrospectable = "org.freedesktop.DBus.Introspectable";
inline constexpr const char* kPeer = "org.freedesktop.DBus.Peer";

} // namespace resctrld::e2e
