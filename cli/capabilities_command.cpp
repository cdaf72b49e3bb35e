// SPDX-License-Identifier: LGPL-2.1-or-later
// resctrlctl capabilities: Manager.GetCapabilities as libvirt's XML (--xml), or read with libxml2
// into a short summary (text or --json).
#include <cstring>

#include "cli_error.h"
#include "context.h"
#include "json_view.h"
#include "libxml_loader.h"

namespace resctrld::cli {

namespace {

bool named(xmlNode* node, const char* name) {
    return node->type == XML_ELEMENT_NODE &&
           std::strcmp(reinterpret_cast<const char*>(node->name), name) == 0;
}

std::vector<xmlNode*> children(xmlNode* node, const char* name) {
    std::vector<xmlNode*> list;
    for (xmlNode* child = node == nullptr ? nullptr : node->children; child != nullptr;
         child = child->next)
        if (named(child, name))
            list.push_back(child);
    return list;
}

xmlNode* child(xmlNode* node, const char* name) {
    const auto list = children(node, name);
    return list.empty() ? nullptr : list.front();
}

// size='2816' unit='KiB' → bytes.
std::uint64_t bytesOf(const std::string& value, const std::string& unit) {
    if (value.empty())
        return 0;
    std::uint64_t n = std::stoull(value);
    if (unit == "KiB")
        n *= 1024;
    else if (unit == "MiB")
        n *= 1024 * 1024;
    else if (unit == "GiB")
        n *= 1024ull * 1024 * 1024;
    return n;
}

std::uint64_t number(const std::string& value) {
    return value.empty() ? 0 : std::stoull(value);
}

std::vector<std::string> features(const XmlDocument& doc, xmlNode* monitor) {
    std::vector<std::string> names;
    for (xmlNode* f : children(monitor, "feature"))
        names.push_back(doc.attribute(f, "name"));
    return names;
}

std::string joined(const std::vector<std::string>& words) {
    std::string text;
    for (const auto& w : words)
        text += (text.empty() ? "" : " ") + w;
    return text;
}

} // namespace

void runCapabilities(Context& ctx) {
    auto& bus = ctx.bus();
    const std::string xml = bus.guarded([&] { return bus.manager().GetCapabilities(); });
    if (ctx.invocation.xml) {
        ctx.out << xml << (xml.ends_with('\n') ? "" : "\n");
        return;
    }
    // <cache> and <memory_bandwidth> are siblings, as in libvirt's <host>: give them a root.
    const std::string wrapped = "<capabilities>" + xml + "</capabilities>";
    const XmlDocument doc(wrapped, "the daemon's capabilities (see --xml)");
    xmlNode* root = doc.root();
    xmlNode* cache = child(root, "cache");
    xmlNode* bandwidth = child(root, "memory_bandwidth");

    Json banks = Json::array();
    for (xmlNode* bank : children(cache, "bank")) {
        Json controls = Json::array();
        for (xmlNode* control : children(bank, "control")) {
            const std::string unit = doc.attribute(control, "unit");
            controls.push_back(
                {{"type", doc.attribute(control, "type")},
                 {"granularity_bytes", bytesOf(doc.attribute(control, "granularity"), unit)},
                 {"min_bytes", bytesOf(doc.attribute(control, "min").empty()
                                           ? doc.attribute(control, "granularity")
                                           : doc.attribute(control, "min"),
                                       unit)},
                 {"max_allocations", number(doc.attribute(control, "maxAllocs"))}});
        }
        banks.push_back(
            {{"id", number(doc.attribute(bank, "id"))},
             {"level", number(doc.attribute(bank, "level"))},
             {"type", doc.attribute(bank, "type")},
             {"bytes", bytesOf(doc.attribute(bank, "size"), doc.attribute(bank, "unit"))},
             {"cpus", doc.attribute(bank, "cpus")},
             {"controls", controls}});
    }
    Json cacheMonitor = nullptr;
    if (xmlNode* monitor = child(cache, "monitor"))
        cacheMonitor = {{"level", number(doc.attribute(monitor, "level"))},
                        {"max_monitors", number(doc.attribute(monitor, "maxMonitors"))},
                        {"features", features(doc, monitor)}};
    Json nodes = Json::array();
    for (xmlNode* node : children(bandwidth, "node")) {
        xmlNode* control = child(node, "control");
        nodes.push_back({{"id", number(doc.attribute(node, "id"))},
                         {"cpus", doc.attribute(node, "cpus")},
                         {"granularity", number(doc.attribute(control, "granularity"))},
                         {"min", number(doc.attribute(control, "min"))},
                         {"max_allocations", number(doc.attribute(control, "maxAllocs"))}});
    }
    Json bandwidthMonitor = nullptr;
    if (xmlNode* monitor = child(bandwidth, "monitor"))
        bandwidthMonitor = {{"max_monitors", number(doc.attribute(monitor, "maxMonitors"))},
                            {"features", features(doc, monitor)}};
    if (ctx.json()) {
        ctx.out << Json{{"caches", banks},
                        {"cache_monitor", cacheMonitor},
                        {"memory_bandwidth", nodes},
                        {"memory_bandwidth_monitor", bandwidthMonitor}}
                       .dump(2)
                << "\n";
        return;
    }
    const auto& s = ctx.style;
    auto& out = ctx.out;
    if (banks.empty())
        out << "cache allocation and monitoring: none\n";
    // Banks alike (level, size, controls) on one line: a host has dozens of L2 ids.
    std::vector<std::pair<std::string, std::vector<std::uint32_t>>> alike;
    for (const auto& bank : banks) {
        std::string text = ": " + s.size(bank["bytes"]) + " each";
        for (const auto& c : bank["controls"])
            text += "\n  allocation " + c["type"].get<std::string>() + ": in steps of " +
                    s.size(c["granularity_bytes"]) + ", at least " + s.size(c["min_bytes"]) + ", " +
                    std::to_string(c["max_allocations"].get<std::uint64_t>()) + " groups";
        const std::string key =
            "L" + std::to_string(bank["level"].get<std::uint64_t>()) + " cache" + text;
        const auto id = static_cast<std::uint32_t>(bank["id"].get<std::uint64_t>());
        if (!alike.empty() && alike.back().first == key)
            alike.back().second.push_back(id);
        else
            alike.push_back({key, {id}});
    }
    for (const auto& [key, ids] : alike) {
        const auto split = key.find(':');
        out << s.bold(key.substr(0, split) + (ids.size() == 1 ? " id " : " ids ") + rangeList(ids))
            << key.substr(split) << "\n";
    }
    if (!cacheMonitor.is_null())
        out << s.bold("cache monitoring") << ": L" << cacheMonitor["level"].get<std::uint64_t>()
            << ", " << cacheMonitor["max_monitors"].get<std::uint64_t>() << " monitors, "
            << joined(cacheMonitor["features"]) << "\n";
    for (const auto& n : nodes)
        out << s.bold("memory bandwidth node " + std::to_string(n["id"].get<std::uint64_t>()))
            << ": CPUs " << n["cpus"].get<std::string>() << ", in steps of "
            << n["granularity"].get<std::uint64_t>() << ", at least "
            << n["min"].get<std::uint64_t>() << ", " << n["max_allocations"].get<std::uint64_t>()
            << " groups\n";
    if (!bandwidthMonitor.is_null())
        out << s.bold("memory bandwidth monitoring") << ": "
            << bandwidthMonitor["max_monitors"].get<std::uint64_t>() << " monitors, "
            << joined(bandwidthMonitor["features"]) << "\n";
}

} // namespace resctrld::cli
