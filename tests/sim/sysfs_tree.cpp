#include "sysfs_tree.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace resctrlsim {

std::string formatCpuList(const std::vector<unsigned>& cpus) {
    std::string out;
    for (size_t i = 0; i < cpus.size();) {
        size_t j = i;
        while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1)
            ++j;
        if (!out.empty())
            out += ',';
        out += std::to_string(cpus[i]);
        if (j > i)
            out += "-" + std::to_string(cpus[j]);
        i = j + 1;
    }
    return out;
}

namespace {

void put(const std::filesystem::path& file, const std::string& text) {
    std::ofstream out(file);
    out << text << "\n";
    if (!out)
        throw std::runtime_error("cannot write " + file.string());
}

} // namespace

void writeSysfsTree(const Profile& p, const std::string& dir) {
    namespace fs = std::filesystem;
    fs::path cpuDir = fs::path(dir) / "devices/system/cpu";
    std::error_code ec;
    fs::create_directories(cpuDir, ec);
    if (ec)
        throw std::runtime_error("cannot create " + cpuDir.string() + ": " + ec.message());
    std::string all = "0-" + std::to_string(p.cpus - 1);
    put(cpuDir / "online", all);
    put(cpuDir / "possible", all);
    put(cpuDir / "present", all);
    for (unsigned cpu = 0; cpu < p.cpus; ++cpu) {
        unsigned core = p.coreOf(cpu);
        std::vector<unsigned> coreCpus, l3Cpus;
        for (unsigned c = 0; c < p.cpus; ++c) {
            if (p.coreOf(c) == core)
                coreCpus.push_back(c);
            if (p.l3IdOf(c) == p.l3IdOf(cpu))
                l3Cpus.push_back(c);
        }
        struct Index {
            unsigned level;
            const char* type;
            unsigned id;
            uint64_t bytes;
            const std::vector<unsigned>* shared;
        };
        const Index indexes[] = {
            {1, "Data", core, p.l1dBytes, &coreCpus},
            {1, "Instruction", core, p.l1iBytes, &coreCpus},
            {2, "Unified", core, p.l2Bytes, &coreCpus},
            {3, "Unified", p.l3IdOf(cpu), p.l3Bytes, &l3Cpus},
        };
        for (unsigned i = 0; i < 4; ++i) {
            fs::path idx =
                cpuDir / ("cpu" + std::to_string(cpu)) / "cache" / ("index" + std::to_string(i));
            fs::create_directories(idx, ec);
            if (ec)
                throw std::runtime_error("cannot create " + idx.string() + ": " + ec.message());
            put(idx / "level", std::to_string(indexes[i].level));
            put(idx / "type", indexes[i].type);
            put(idx / "id", std::to_string(indexes[i].id));
            put(idx / "size", std::to_string(indexes[i].bytes / 1024) + "K");
            put(idx / "shared_cpu_list", formatCpuList(*indexes[i].shared));
        }
    }
    if (p.nodesPerL3 == 0)
        return;
    // The NUMA nodes, for profiles that describe them: with SNC several per L3.
    fs::path nodeDir = fs::path(dir) / "devices/system/node";
    std::vector<std::vector<unsigned>> nodeCpus(p.numaNodes());
    for (unsigned cpu = 0; cpu < p.cpus; ++cpu)
        nodeCpus[p.nodeOf(cpu)].push_back(cpu);
    const std::string nodes = "0-" + std::to_string(p.numaNodes() - 1);
    fs::create_directories(nodeDir, ec);
    put(nodeDir / "online", nodes);
    put(nodeDir / "possible", nodes);
    for (unsigned node = 0; node < p.numaNodes(); ++node) {
        fs::path d = nodeDir / ("node" + std::to_string(node));
        fs::create_directories(d, ec);
        if (ec)
            throw std::runtime_error("cannot create " + d.string() + ": " + ec.message());
        put(d / "cpulist", formatCpuList(nodeCpus[node]));
    }
}

} // namespace resctrlsim
