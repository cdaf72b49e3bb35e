// SPDX-License-Identifier: LGPL-2.1-or-later
#include "stats_reply.h"

#include <type_traits>
#include <variant>

#include "bus_errors.h"

namespace resctrld {

void appendStats(sdbus::Message& message, const DomainStats& stats) {
    message.openContainer("{sv}");
    for (const auto& [key, value] : stats) {
        message.openDictEntry("sv");
        message << key;
        std::visit(
            [&message](const auto& v) {
                message.openVariant(sdbus::signature_of<std::decay_t<decltype(v)>>::str());
                message << v;
                message.closeVariant();
            },
            value);
        message.closeDictEntry();
    }
    message.closeContainer();
}

void registerGetStats(sdbus::IObject& object, const char* interface, const char* method,
                      const std::vector<std::string>& inputNames, StatsSource stats) {
    const bool byName = !inputNames.empty();
    object.registerMethod(interface, "GetStats", byName ? "s" : "", inputNames, "a{sv}", {"stats"},
                          [method, byName, stats = std::move(stats)](sdbus::MethodCall call) {
                              std::string name;
                              if (byName)
                                  call >> name;
                              const DomainStats* answer =
                                  translateErrors(method, [&] { return &stats(name); });
                              sdbus::MethodReply reply = call.createReply();
                              appendStats(reply, *answer);
                              reply.send();
                          });
}

} // namespace resctrld
