#include "sysfs_model.h"

#include <array>
#include <charconv>

#include "sysfs_tree.h"

namespace resctrlsim {

namespace {

constexpr std::array<const char*, 3> kCpuAttrs{"online", "possible", "present"};
constexpr std::array<const char*, 5> kIndexAttrs{"level", "type", "id", "size", "shared_cpu_list"};
constexpr std::array<const char*, 2> kNodeAttrs{"online", "possible"};
constexpr unsigned kIndexes = 4; // index0 L1d, index1 L1i, index2 L2, index3 L3

// The number after `prefix` in `name` ("cpu12" -> 12), without leading zeros or signs, as
// the kernel names its entries; nullopt for anything else.
std::optional<unsigned> numberAfter(std::string_view prefix, std::string_view name) {
    if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix)
        return std::nullopt;
    const std::string_view digits = name.substr(prefix.size());
    if (digits.size() > 1 && digits[0] == '0')
        return std::nullopt;
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size())
        return std::nullopt;
    return value;
}

template <size_t N>
std::optional<unsigned> indexOf(const std::array<const char*, N>& names, std::string_view name) {
    for (unsigned i = 0; i < N; ++i)
        if (name == names[i])
            return i;
    return std::nullopt;
}

} // namespace

SysfsModel::SysfsModel(Profile profile)
    : profile_(std::move(profile)) {
}

// kind: bits 0-7, a: 8-39, b: 40-47, c: 48-55. Root packs to 1, FUSE's root inode.
SysfsModel::Ino SysfsModel::pack(Parts p) {
    return static_cast<Ino>(p.kind) | static_cast<Ino>(p.a) << 8 | static_cast<Ino>(p.b) << 40 |
           static_cast<Ino>(p.c) << 48;
}

SysfsModel::Parts SysfsModel::unpack(Ino ino) {
    return {static_cast<Kind>(ino & 0xff), static_cast<unsigned>(ino >> 8 & 0xffffffff),
            static_cast<unsigned>(ino >> 40 & 0xff), static_cast<unsigned>(ino >> 48 & 0xff)};
}

bool SysfsModel::valid(const Parts& p) const {
    const bool cpu = p.a < profile_.cpus;
    switch (p.kind) {
    case Kind::Root:
    case Kind::Devices:
    case Kind::System:
    case Kind::CpuDir:
        return p.a == 0 && p.b == 0 && p.c == 0;
    case Kind::CpuAttr:
        return p.a == 0 && p.b == 0 && p.c < kCpuAttrs.size();
    case Kind::Cpu:
    case Kind::Cache:
        return cpu && p.b == 0 && p.c == 0;
    case Kind::Index:
        return cpu && p.b < kIndexes && p.c == 0;
    case Kind::IndexAttr:
        return cpu && p.b < kIndexes && p.c < kIndexAttrs.size();
    case Kind::NodeDir:
        return hasNodes() && p.a == 0 && p.b == 0 && p.c == 0;
    case Kind::NodeAttr:
        return hasNodes() && p.a == 0 && p.b == 0 && p.c < kNodeAttrs.size();
    case Kind::Node:
    case Kind::NodeCpulist:
        return hasNodes() && p.a < profile_.numaNodes() && p.b == 0 && p.c == 0;
    }
    return false;
}

bool SysfsModel::exists(Ino ino) const {
    return (ino >> 56) == 0 && valid(unpack(ino));
}

bool SysfsModel::isDirectory(Ino ino) const {
    if (!exists(ino))
        return false;
    switch (unpack(ino).kind) {
    case Kind::CpuAttr:
    case Kind::IndexAttr:
    case Kind::NodeAttr:
    case Kind::NodeCpulist:
        return false;
    default:
        return true;
    }
}

std::optional<SysfsModel::Ino> SysfsModel::lookup(Ino parent, std::string_view name) const {
    if (!isDirectory(parent))
        return std::nullopt;
    const Parts p = unpack(parent);
    std::optional<Parts> child;
    switch (p.kind) {
    case Kind::Root:
        if (name == "devices")
            child = Parts{Kind::Devices};
        break;
    case Kind::Devices:
        if (name == "system")
            child = Parts{Kind::System};
        break;
    case Kind::System:
        if (name == "cpu")
            child = Parts{Kind::CpuDir};
        else if (name == "node")
            child = Parts{Kind::NodeDir};
        break;
    case Kind::CpuDir:
        if (const auto attr = indexOf(kCpuAttrs, name))
            child = Parts{Kind::CpuAttr, 0, 0, *attr};
        else if (const auto cpu = numberAfter("cpu", name))
            child = Parts{Kind::Cpu, *cpu};
        break;
    case Kind::Cpu:
        if (name == "cache")
            child = Parts{Kind::Cache, p.a};
        break;
    case Kind::Cache:
        if (const auto index = numberAfter("index", name))
            child = Parts{Kind::Index, p.a, *index};
        break;
    case Kind::Index:
        if (const auto attr = indexOf(kIndexAttrs, name))
            child = Parts{Kind::IndexAttr, p.a, p.b, *attr};
        break;
    case Kind::NodeDir:
        if (const auto attr = indexOf(kNodeAttrs, name))
            child = Parts{Kind::NodeAttr, 0, 0, *attr};
        else if (const auto node = numberAfter("node", name))
            child = Parts{Kind::Node, *node};
        break;
    case Kind::Node:
        if (name == "cpulist")
            child = Parts{Kind::NodeCpulist, p.a};
        break;
    default:
        break;
    }
    // Numbers beyond the host (cpu9999, index7) are not there; nor is node/ without NUMA.
    if (!child || !valid(*child))
        return std::nullopt;
    return pack(*child);
}

std::vector<SysfsModel::Entry> SysfsModel::list(Ino dir) const {
    std::vector<Entry> out;
    if (!isDirectory(dir))
        return out;
    const Parts p = unpack(dir);
    auto add = [&](std::string name, Parts child) {
        out.push_back({std::move(name), pack(child)});
    };
    switch (p.kind) {
    case Kind::Root:
        add("devices", {Kind::Devices});
        break;
    case Kind::Devices:
        add("system", {Kind::System});
        break;
    case Kind::System:
        add("cpu", {Kind::CpuDir});
        if (hasNodes())
            add("node", {Kind::NodeDir});
        break;
    case Kind::CpuDir:
        for (unsigned i = 0; i < kCpuAttrs.size(); ++i)
            add(kCpuAttrs[i], {Kind::CpuAttr, 0, 0, i});
        for (unsigned cpu = 0; cpu < profile_.cpus; ++cpu)
            add("cpu" + std::to_string(cpu), {Kind::Cpu, cpu});
        break;
    case Kind::Cpu:
        add("cache", {Kind::Cache, p.a});
        break;
    case Kind::Cache:
        for (unsigned i = 0; i < kIndexes; ++i)
            add("index" + std::to_string(i), {Kind::Index, p.a, i});
        break;
    case Kind::Index:
        for (unsigned i = 0; i < kIndexAttrs.size(); ++i)
            add(kIndexAttrs[i], {Kind::IndexAttr, p.a, p.b, i});
        break;
    case Kind::NodeDir:
        for (unsigned i = 0; i < kNodeAttrs.size(); ++i)
            add(kNodeAttrs[i], {Kind::NodeAttr, 0, 0, i});
        for (unsigned node = 0; node < profile_.numaNodes(); ++node)
            add("node" + std::to_string(node), {Kind::Node, node});
        break;
    case Kind::Node:
        add("cpulist", {Kind::NodeCpulist, p.a});
        break;
    default:
        break;
    }
    return out;
}

std::string SysfsModel::coreCpus(unsigned cpu) const {
    std::vector<unsigned> cpus;
    for (unsigned c = 0; c < profile_.cpus; ++c)
        if (profile_.coreOf(c) == profile_.coreOf(cpu))
            cpus.push_back(c);
    return formatCpuList(cpus);
}

std::string SysfsModel::l3Cpus(unsigned cpu) const {
    const unsigned l3 = profile_.coreOf(cpu) / profile_.coresPerL3;
    std::vector<unsigned> cpus;
    for (unsigned c = 0; c < profile_.cpus; ++c)
        if (profile_.coreOf(c) / profile_.coresPerL3 == l3)
            cpus.push_back(c);
    return formatCpuList(cpus);
}

std::string SysfsModel::nodeCpus(unsigned node) const {
    std::vector<unsigned> cpus;
    for (unsigned c = 0; c < profile_.cpus; ++c)
        if (profile_.nodeOf(c) == node)
            cpus.push_back(c);
    return formatCpuList(cpus);
}

std::string SysfsModel::read(Ino file) const {
    if (!exists(file) || isDirectory(file))
        return {};
    const Parts p = unpack(file);
    switch (p.kind) {
    case Kind::CpuAttr:
        return "0-" + std::to_string(profile_.cpus - 1) + "\n";
    case Kind::NodeAttr:
        return "0-" + std::to_string(profile_.numaNodes() - 1) + "\n";
    case Kind::NodeCpulist:
        return nodeCpus(p.a) + "\n";
    case Kind::IndexAttr:
        break;
    default:
        return {};
    }
    const unsigned core = profile_.coreOf(p.a);
    const bool l3 = p.b == 3;
    switch (p.c) {
    case 0: // level
        return std::to_string(p.b == 0 ? 1 : p.b) + "\n";
    case 1: // type
        return std::string(p.b == 0 ? "Data" : p.b == 1 ? "Instruction" : "Unified") + "\n";
    case 2: // id: a core's own caches carry its number, the L3 its domain's id
        return std::to_string(l3 ? profile_.l3IdOf(p.a) : core) + "\n";
    case 3: { // size in KiB, as the kernel prints it ("28160K")
        const uint64_t bytes = p.b == 0   ? profile_.l1dBytes
                               : p.b == 1 ? profile_.l1iBytes
                               : p.b == 2 ? profile_.l2Bytes
                                          : profile_.l3Bytes;
        return std::to_string(bytes / 1024) + "K\n";
    }
    default: // shared_cpu_list
        return (l3 ? l3Cpus(p.a) : coreCpus(p.a)) + "\n";
    }
}

} // namespace resctrlsim
