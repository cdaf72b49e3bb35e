// SPDX-License-Identifier: LGPL-2.1-or-later
// The floors of the D-Bus read benchmark: a trivial sdbus-c++ service on the same bus as the
// daemon. Trivial() returns a constant u; Payload() returns, from memory, the a{sv} the bench
// gave it with SetPayload() (a copy of a GetStats answer: same keys, types and size), written
// into the reply entry by entry as the daemon writes GetStats' answer. The daemon's read-only
// calls are measured against them: Trivial() is what any call costs, Payload() what moving
// GetStats' answer over the bus costs without anything resctrld does to make it.
//
//   bench-floor-dbus ADDRESS
//
// Owns org.resctrld1.BenchFloor, serves /org/resctrld1/BenchFloor, prints "ready" once it does,
// and runs until killed.
#include <cstdint>
#include <cstdio>
#include <exception>
#include <map>
#include <string>
#include <type_traits>
#include <variant>

#include <sdbus-c++/sdbus-c++.h>

namespace {

constexpr const char* kInterface = "org.resctrld1.BenchFloor";

// The value types of GetStats' answer (lib/domain_stats.h).
using Value = std::variant<std::uint32_t, std::uint64_t, std::string>;
std::map<std::string, Value> payload;

void setPayload(sdbus::MethodCall call) {
    std::map<std::string, sdbus::Variant> entries;
    call >> entries;
    payload.clear();
    for (const auto& [key, variant] : entries) {
        const std::string type = variant.peekValueType();
        if (type == "u")
            payload[key] = variant.get<std::uint32_t>();
        else if (type == "t")
            payload[key] = variant.get<std::uint64_t>();
        else if (type == "s")
            payload[key] = variant.get<std::string>();
        else
            throw sdbus::Error("org.resctrld1.BenchFloor.Unsupported",
                               "value type " + type + " of " + key);
    }
    call.createReply().send();
}

void answerPayload(sdbus::MethodCall call) {
    auto reply = call.createReply();
    reply.openContainer("{sv}");
    for (const auto& [key, value] : payload) {
        reply.openDictEntry("sv");
        reply << key;
        std::visit(
            [&reply](const auto& v) {
                reply.openVariant(sdbus::signature_of<std::decay_t<decltype(v)>>::str());
                reply << v;
                reply.closeVariant();
            },
            value);
        reply.closeDictEntry();
    }
    reply.closeContainer();
    reply.send();
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: bench-floor-dbus ADDRESS\n");
        return 2;
    }
    try {
        auto connection = sdbus::createSessionBusConnectionWithAddress(argv[1]);
        connection->requestName("org.resctrld1.BenchFloor");
        auto object = sdbus::createObject(*connection, "/org/resctrld1/BenchFloor");
        object->registerMethod("Trivial").onInterface(kInterface).implementedAs([]() -> uint32_t {
            return 1;
        });
        object->registerMethod(kInterface, "SetPayload", "a{sv}", {"payload"}, "", {}, &setPayload);
        object->registerMethod(kInterface, "Payload", "", {}, "a{sv}", {"payload"}, &answerPayload);
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
