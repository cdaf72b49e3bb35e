// SPDX-License-Identifier: LGPL-2.1-or-later
// The floor of the D-Bus read benchmark: a trivial sdbus-c++ service on the same bus as the
// daemon. Its one method, Trivial(), returns a constant u; the daemon's read-only calls are
// measured against it.
//
//   bench-floor-dbus ADDRESS
//
// Owns org.resctrld1.BenchFloor, serves /org/resctrld1/BenchFloor, prints "ready" once it does,
// and runs until killed.
#include <cstdio>
#include <exception>

#include <sdbus-c++/sdbus-c++.h>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: bench-floor-dbus ADDRESS\n");
        return 2;
    }
    try {
        auto connection = sdbus::createSessionBusConnectionWithAddress(argv[1]);
        connection->requestName("org.resctrld1.BenchFloor");
        auto object = sdbus::createObject(*connection, "/org/resctrld1/BenchFloor");
        object->registerMethod("Trivial")
            .onInterface("org.resctrld1.BenchFloor")
            .implementedAs([]() -> uint32_t { return 1; });
        object->finishRegistration();
        std::printf("ready\n");
        std::fflush(stdout);
        connection->enterEventLoop();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench-floor-dbus: %s\n", e.what());
        return 1;
    }
    return 0;
}
