// SPDX-License-Identifier: LGPL-2.1-or-later
// The commands that send a definition or change the daemon's domains: validate, start, update,
// stop. Definitions are read (and refused when missing or too large) before the bus is touched.
#include "cli_error.h"
#include "context.h"
#include "definition_file.h"
#include "json_view.h"

namespace resctrld::cli {

namespace {

void report(Context& ctx, const std::string& verb, const std::string& path) {
    if (ctx.json())
        ctx.out << Json{{"path", path}}.dump() << "\n";
    else if (!ctx.invocation.global.quiet)
        ctx.out << verb << " " << path << "\n";
}

} // namespace

void runValidate(Context& ctx) {
    const std::string definition = readDefinition(ctx.invocation.operands.at(0));
    auto& bus = ctx.bus();
    const auto groups = bus.guarded([&] { return bus.manager().ValidateDomain(definition); });
    if (ctx.json()) {
        Json list = Json::array();
        for (const auto& g : groups)
            list.push_back({{"group", g.get<0>()}, {"schemata", g.get<1>()}});
        ctx.out << Json{{"groups", list}}.dump(2) << "\n";
        return;
    }
    if (!ctx.invocation.global.quiet)
        ctx.out << "valid: starting it now would create " << groups.size()
                << (groups.size() == 1 ? " group" : " groups") << "\n";
    for (const auto& g : groups) {
        const std::string& schemata = g.get<1>();
        ctx.out << "  " << ctx.style.bold(g.get<0>())
                << (schemata.empty() ? "  (monitoring group)" : "") << "\n";
        std::size_t start = 0;
        while (start < schemata.size()) {
            auto end = schemata.find('\n', start);
            if (end == std::string::npos)
                end = schemata.size();
            if (end > start)
                ctx.out << "    " << schemata.substr(start, end - start) << "\n";
            start = end + 1;
        }
    }
}

void runStart(Context& ctx) {
    const auto& inv = ctx.invocation;
    const std::string definition = readDefinition(inv.operands.at(0));
    auto& bus = ctx.bus();
    const std::string path = bus.guarded([&]() -> std::string {
        if (inv.pid)
            return bus.manager().StartDomainForProcess(definition, *inv.pid);
        // --status: an empty thread list tells the daemon to read them from <domstatus>.
        std::vector<sdbus::Struct<std::uint32_t, std::uint32_t>> threads;
        for (const auto& [vcpu, tid] : inv.threads)
            threads.emplace_back(vcpu, tid);
        return bus.manager().StartDomain(definition, threads);
    });
    report(ctx, "started", path);
}

void runUpdate(Context& ctx) {
    const auto& inv = ctx.invocation;
    const std::string definition = readDefinition(inv.operands.at(1));
    auto& bus = ctx.bus();
    auto domain = bus.domain(inv.operands.at(0));
    bus.guarded([&] { domain->Update(definition); });
    report(ctx, "updated", domain->getObjectPath());
}

void runStop(Context& ctx) {
    auto& bus = ctx.bus();
    const std::string& name = ctx.invocation.operands.at(0);
    bus.guarded([&] { bus.manager().StopDomain(name); });
    if (ctx.json())
        ctx.out << Json{{"stopped", name}}.dump() << "\n";
    else if (!ctx.invocation.global.quiet)
        ctx.out << "stopped " << name << "\n";
}

} // namespace resctrld::cli
