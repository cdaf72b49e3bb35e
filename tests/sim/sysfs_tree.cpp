#include "sysfs_tree.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

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

// An open directory, so that the thousands of entries below are created relative to it
// (mkdirat/openat) instead of resolving a long path each time: the tree of a 384-CPU host
// is about 10000 entries.
class DirFd {
public:
    DirFd(int parent, const std::string& name, const std::string& shown)
        : shown_(shown) {
        if (::mkdirat(parent, name.c_str(), 0755) != 0 && errno != EEXIST)
            throw std::runtime_error("cannot create " + shown + ": " + std::strerror(errno));
        fd_ = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd_ < 0)
            throw std::runtime_error("cannot open " + shown + ": " + std::strerror(errno));
    }
    ~DirFd() { ::close(fd_); }
    DirFd(const DirFd&) = delete;
    DirFd& operator=(const DirFd&) = delete;
    int fd() const { return fd_; }
    const std::string& shown() const { return shown_; }

    void put(const char* name, const std::string& text) const {
        const std::string line = text + "\n";
        int fd = ::openat(fd_, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        bool ok =
            fd >= 0 && ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
        if (fd >= 0)
            ok = ::close(fd) == 0 && ok;
        if (!ok)
            throw std::runtime_error("cannot write " + shown_ + "/" + name + ": " +
                                     std::strerror(errno));
    }

private:
    std::string shown_;
    int fd_ = -1;
};

} // namespace

void writeSysfsTree(const Profile& p, const std::string& dir) {
    namespace fs = std::filesystem;
    const fs::path systemDir = fs::path(dir) / "devices/system";
    std::error_code ec;
    fs::create_directories(systemDir, ec);
    if (ec)
        throw std::runtime_error("cannot create " + systemDir.string() + ": " + ec.message());
    const DirFd system(AT_FDCWD, systemDir.string(), systemDir.string());
    const DirFd cpuDir(system.fd(), "cpu", system.shown() + "/cpu");
    const std::string all = "0-" + std::to_string(p.cpus - 1);
    cpuDir.put("online", all);
    cpuDir.put("possible", all);
    cpuDir.put("present", all);
    // The sibling lists of each core and the CPU lists of each L3, computed once.
    std::vector<std::vector<unsigned>> coreCpus(p.cores());
    std::vector<std::vector<unsigned>> l3Cpus(p.l3Ids.size());
    for (unsigned c = 0; c < p.cpus; ++c) {
        coreCpus[p.coreOf(c)].push_back(c);
        l3Cpus[p.coreOf(c) / p.coresPerL3].push_back(c);
    }
    std::vector<std::string> coreLists, l3Lists;
    for (const auto& cpus : coreCpus)
        coreLists.push_back(formatCpuList(cpus));
    for (const auto& cpus : l3Cpus)
        l3Lists.push_back(formatCpuList(cpus));
    for (unsigned cpu = 0; cpu < p.cpus; ++cpu) {
        const unsigned core = p.coreOf(cpu);
        const unsigned l3 = core / p.coresPerL3;
        struct Index {
            const char* level;
            const char* type;
            unsigned id;
            uint64_t bytes;
            const std::string* shared;
        };
        const Index indexes[] = {
            {"1", "Data", core, p.l1dBytes, &coreLists[core]},
            {"1", "Instruction", core, p.l1iBytes, &coreLists[core]},
            {"2", "Unified", core, p.l2Bytes, &coreLists[core]},
            {"3", "Unified", p.l3Ids[l3], p.l3Bytes, &l3Lists[l3]},
        };
        const std::string name = "cpu" + std::to_string(cpu);
        const DirFd cpuN(cpuDir.fd(), name, cpuDir.shown() + "/" + name);
        const DirFd cache(cpuN.fd(), "cache", cpuN.shown() + "/cache");
        for (unsigned i = 0; i < 4; ++i) {
            const std::string idxName = "index" + std::to_string(i);
            const DirFd idx(cache.fd(), idxName, cache.shown() + "/" + idxName);
            idx.put("level", indexes[i].level);
            idx.put("type", indexes[i].type);
            idx.put("id", std::to_string(indexes[i].id));
            idx.put("size", std::to_string(indexes[i].bytes / 1024) + "K");
            idx.put("shared_cpu_list", *indexes[i].shared);
        }
    }
    if (p.nodesPerL3 == 0)
        return;
    // The NUMA nodes, for profiles that describe them: with SNC several per L3.
    std::vector<std::vector<unsigned>> nodeCpus(p.numaNodes());
    for (unsigned cpu = 0; cpu < p.cpus; ++cpu)
        nodeCpus[p.nodeOf(cpu)].push_back(cpu);
    const std::string nodes = "0-" + std::to_string(p.numaNodes() - 1);
    const DirFd nodeDir(system.fd(), "node", system.shown() + "/node");
    nodeDir.put("online", nodes);
    nodeDir.put("possible", nodes);
    for (unsigned node = 0; node < p.numaNodes(); ++node) {
        const std::string name = "node" + std::to_string(node);
        const DirFd d(nodeDir.fd(), name, nodeDir.shown() + "/" + name);
        d.put("cpulist", formatCpuList(nodeCpus[node]));
    }
}

} // namespace resctrlsim
