// SPDX-License-Identifier: LGPL-2.1-or-later
// What a command runs with: its invocation, where it writes, how text looks, and the bus, which
// is connected on first use (a command that refuses its input makes no bus call).
#pragma once

#include <iostream>
#include <memory>
#include <optional>

#include "bus_client.h"
#include "command_line.h"
#include "text_style.h"

namespace resctrld::cli {

class Context {
public:
    Context(const Invocation& invocation, std::ostream& out, TextStyle style)
        : invocation(invocation)
        , out(out)
        , style(style) {}

    BusClient& bus() {
        if (!bus_)
            bus_ = std::make_unique<BusClient>(invocation.global.bus);
        return *bus_;
    }
    bool json() const { return invocation.global.json; }

    const Invocation& invocation;
    std::ostream& out;
    TextStyle style;

private:
    std::unique_ptr<BusClient> bus_;
};

// One function per command; each returns normally on success and throws the errors of
// cli_error.h.
void runStatus(Context& ctx);
void runList(Context& ctx);
void runShow(Context& ctx);
void runLayout(Context& ctx);
void runCapabilities(Context& ctx);
void runValidate(Context& ctx);
void runStart(Context& ctx);
void runUpdate(Context& ctx);
void runStop(Context& ctx);
void runStats(Context& ctx);
void runCounters(Context& ctx);
void runTop(Context& ctx);
void runMonitor(Context& ctx);

} // namespace resctrld::cli
