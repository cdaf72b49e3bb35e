// SPDX-License-Identifier: LGPL-2.1-or-later
// resctrlctl layout: Manager.GetLayout as a way map per cache id (one row per group, one column
// per way, the highest way on the left as masks are written) with a legend of owners, then the
// bandwidth caps.
#include <algorithm>
#include <map>

#include "context.h"
#include "json_view.h"

namespace resctrld::cli {

namespace {

std::uint64_t maskValue(const std::string& hex) {
    return hex.empty() ? 0 : std::stoull(hex, nullptr, 16);
}

std::string groupLabel(const std::string& group) {
    return group.empty() ? "(default group)" : group;
}

// A key per group, the same in every cache's grid: A-Z, a-z, then 0-9, then '*'.
class GroupKeys {
public:
    char keyOf(const std::string& group) {
        const auto [it, added] = keys_.try_emplace(group, next());
        if (added)
            ++count_;
        return it->second;
    }

private:
    char next() const {
        static const std::string kKeys =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        return count_ < kKeys.size() ? kKeys[count_] : '*';
    }
    std::map<std::string, char> keys_;
    std::size_t count_ = 0;
};

std::string gridRow(std::uint64_t mask, std::uint32_t ways, const std::string& mark,
                    const TextStyle& style, const char* colour) {
    std::string row;
    for (std::uint32_t w = ways; w-- > 0;) {
        const bool set = (mask >> w & 1) != 0;
        row +=
            set ? (style.colour() ? std::string("\x1b[") + colour + "m" + mark + "\x1b[0m" : mark)
                : std::string(".");
    }
    return row;
}

const char* ownerColour(const std::string& owner) {
    if (owner == "default")
        return "2";
    if (owner == "foreign")
        return "33";
    return "32";
}

} // namespace

void runLayout(Context& ctx) {
    auto& bus = ctx.bus();
    const auto [caches, bandwidth] = bus.guarded([&] { return bus.manager().GetLayout(); });
    if (ctx.json()) {
        Json cacheList = Json::array();
        for (const auto& c : caches) {
            Json groups = Json::array();
            for (const auto& g : c.get<6>())
                groups.push_back(
                    {{"group", g.get<0>()}, {"owner", g.get<1>()}, {"mask", g.get<2>()}});
            cacheList.push_back({{"resource", c.get<0>()},
                                 {"cache_id", c.get<1>()},
                                 {"ways", c.get<2>()},
                                 {"way_bytes", c.get<3>()},
                                 {"shareable_mask", c.get<4>()},
                                 {"io_mask", c.get<5>()},
                                 {"groups", groups}});
        }
        Json bandwidthList = Json::array();
        for (const auto& b : bandwidth) {
            Json groups = Json::array();
            for (const auto& g : b.get<3>())
                groups.push_back(
                    {{"group", g.get<0>()}, {"owner", g.get<1>()}, {"value", g.get<2>()}});
            bandwidthList.push_back({{"resource", b.get<0>()},
                                     {"unit", b.get<1>()},
                                     {"id", b.get<2>()},
                                     {"groups", groups}});
        }
        ctx.out << Json{{"caches", cacheList}, {"bandwidth", bandwidthList}}.dump(2) << "\n";
        return;
    }
    const auto& s = ctx.style;
    auto& out = ctx.out;
    GroupKeys keys;
    std::map<char, std::pair<std::string, std::string>> legend; // key -> (group, owner)
    for (const auto& c : caches) {
        const std::uint32_t ways = c.get<2>();
        out << s.bold(c.get<0>() + " cache " + std::to_string(c.get<1>())) << ": " << ways
            << " ways of " << s.size(c.get<3>()) << " ("
            << s.size(c.get<3>() * static_cast<std::uint64_t>(ways)) << ")\n";
        // Way numbers, highest first as masks are written: tens above units from way 10 on.
        std::string tens;
        std::string units;
        for (std::uint32_t w = ways; w-- > 0;) {
            tens += w >= 10 ? static_cast<char>('0' + w / 10 % 10) : ' ';
            units += static_cast<char>('0' + w % 10);
        }
        if (ways > 10)
            out << "  " << s.dim("     " + tens) << "\n";
        out << "  " << s.dim("way  " + units) << "\n";
        for (const auto& g : c.get<6>()) {
            const char key = keys.keyOf(g.get<0>());
            legend.try_emplace(key, g.get<0>(), g.get<1>());
            out << "  " << key << "    "
                << gridRow(maskValue(g.get<2>()), ways, std::string(1, key), s,
                           ownerColour(g.get<1>()))
                << "  " << g.get<2>() << "\n";
        }
        out << "  " << s.dim("sh   ") << gridRow(maskValue(c.get<4>()), ways, "s", s, "36") << "  "
            << (c.get<4>().empty() ? "-" : c.get<4>()) << "  shareable\n";
        if (!c.get<5>().empty())
            out << "  " << s.dim("io   ") << gridRow(maskValue(c.get<5>()), ways, "i", s, "36")
                << "  " << c.get<5>() << "  I/O allocation\n";
    }
    if (!legend.empty()) {
        out << s.bold("Groups") << "\n";
        Table table({"KEY", "GROUP", "OWNER"});
        for (const auto& [key, entry] : legend)
            table.add({std::string(1, key), groupLabel(entry.first), entry.second});
        table.print(out, s);
    }
    for (const auto& b : bandwidth) {
        out << s.bold(b.get<0>() + " " + std::to_string(b.get<2>())) << " (" << b.get<1>() << "):";
        for (const auto& g : b.get<3>())
            out << "  " << groupLabel(g.get<0>()) << "=" << g.get<2>();
        out << "\n";
    }
}

} // namespace resctrld::cli
