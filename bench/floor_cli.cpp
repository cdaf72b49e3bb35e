// SPDX-License-Identifier: LGPL-2.1-or-later
// The floor of resctrlctl's read commands: a minimal sd-bus program making the same calls on the
// same bus and walking every value of the answer, nothing else.
//
//   bench-floor-cli ADDRESS list          ObjectManager.GetManagedObjects
//   bench-floor-cli ADDRESS show NAME     Manager.GetDomain, then GetManagedObjects
#include <cstdio>
#include <cstring>

#include <systemd/sd-bus.h>

namespace {

int fail(const char* what, int r) {
    std::fprintf(stderr, "bench-floor-cli: %s: %s\n", what, std::strerror(-r));
    return 1;
}

} // namespace

int main(int argc, char** argv) {
    const bool show = argc == 4 && std::strcmp(argv[2], "show") == 0;
    if (!show && !(argc == 3 && std::strcmp(argv[2], "list") == 0)) {
        std::fprintf(stderr, "usage: bench-floor-cli ADDRESS list | show NAME\n");
        return 2;
    }
    sd_bus* bus = nullptr;
    int r = sd_bus_new(&bus);
    if (r < 0)
        return fail("sd_bus_new", r);
    sd_bus_set_address(bus, argv[1]);
    sd_bus_set_bus_client(bus, 1);
    if ((r = sd_bus_start(bus)) < 0)
        return fail("connect", r);
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    if (show) {
        r = sd_bus_call_method(bus, "org.resctrld1", "/org/resctrld1", "org.resctrld1.Manager",
                               "GetDomain", &error, &reply, "s", argv[3]);
        if (r < 0)
            return fail("GetDomain", r);
        const char* path = nullptr;
        sd_bus_message_read(reply, "o", &path);
        reply = sd_bus_message_unref(reply);
    }
    r = sd_bus_call_method(bus, "org.resctrld1", "/org/resctrld1",
                           "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", &error,
                           &reply, "");
    if (r < 0)
        return fail("GetManagedObjects", r);
    unsigned objects = 0;
    sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}");
    while (sd_bus_message_skip(reply, "{oa{sa{sv}}}") > 0)
        ++objects;
    std::printf("%u\n", objects);
    sd_bus_message_unref(reply);
    sd_bus_flush_close_unref(bus);
    return 0;
}
