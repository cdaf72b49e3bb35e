// The sysfs CPU topology of a profile (cpu/{online,possible,present},
// cpuN/cache/indexM/{level,type,id,size,shared_cpu_list}, node/{online,possible},
// nodeN/cpulist), generated entry by entry when it is looked up, listed or read. Nothing is
// stored per CPU, so a 512-CPU host starts as fast as an 80-CPU one; the simulator serves it
// over FUSE at --sysfs DIR.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "profile.h"

namespace resctrlsim {

class SysfsModel {
public:
    // An entry's inode number: what it is and which CPU, node, index and attribute it names,
    // packed so that a lookup needs no table. kRoot is FUSE's root inode.
    using Ino = uint64_t;
    static constexpr Ino kRoot = 1;

    struct Entry {
        std::string name;
        Ino ino;
    };

    explicit SysfsModel(Profile profile);

    // The child `name` of directory `parent`; nullopt when there is none.
    std::optional<Ino> lookup(Ino parent, std::string_view name) const;
    // Whether `ino` names an entry of this tree at all.
    bool exists(Ino ino) const;
    bool isDirectory(Ino ino) const;
    // The entries of a directory in a stable order (empty for a file or an unknown inode).
    std::vector<Entry> list(Ino dir) const;
    // A file's whole content, newline included, as the kernel's show callback renders it.
    std::string read(Ino file) const;

private:
    enum class Kind : uint8_t {
        Root = 1,
        Devices,
        System,
        CpuDir,
        CpuAttr,   // c: online, possible, present
        Cpu,       // a: CPU
        Cache,     // a: CPU
        Index,     // a: CPU, b: index
        IndexAttr, // a: CPU, b: index, c: level, type, id, size, shared_cpu_list
        NodeDir,
        NodeAttr, // c: online, possible
        Node,     // a: node
        NodeCpulist,
    };
    struct Parts {
        Kind kind;
        unsigned a = 0, b = 0, c = 0;
    };
    static Ino pack(Parts p);
    static Parts unpack(Ino ino);
    bool valid(const Parts& p) const;
    bool hasNodes() const { return profile_.nodesPerL3 != 0; }
    // The CPUs sharing CPU `cpu`'s core, its L3, and those of NUMA node `node`, as sysfs
    // lists them ("0,192", "0-95,192-287").
    std::string coreCpus(unsigned cpu) const;
    std::string l3Cpus(unsigned cpu) const;
    std::string nodeCpus(unsigned node) const;

    Profile profile_;
};

} // namespace resctrlsim
