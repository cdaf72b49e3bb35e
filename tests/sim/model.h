// A pure in-memory model of the kernel's resctrl filesystem state (docs/kernel.md §1-§8). Every
// operation takes a path relative to the mount root and returns 0 or a positive errno,
// updating info/last_cmd_status as the kernel would. No FUSE here: the FUSE layer maps
// requests onto these calls and serialises them with one mutex (the kernel's
// rdtgroup_mutex, docs/kernel.md §8.2).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <unordered_map>
#include <variant>
#include <vector>

#include "counter_assign.h"
#include "mon_topology.h"
#include "profile.h"
#include "task_source.h"

namespace resctrlsim {

// Kernel flavours that change user-visible behaviour (docs/kernel.md §0.3).
struct KernelFlavour {
    bool paddedSchemata = false;   // <= 6.14: zero/space padded values (§4.6)
    bool multiPidTasks = true;     // >= 6.7: comma lists in tasks (§5.1)
    bool rmidBeforeClosid = false; // 6.1: RMID allocated before the CLOSID on mkdir (§3.2)
    bool renameSupported = true;   // >= 6.2 (§3.5)
    bool sncMonitoring = true;     // >= 6.11 per-node monitoring domains on SNC hosts
    bool sparseMasksFile = true;   // >= 6.7/6.8 info/<cache>/sparse_masks
    bool mbaMbpsEvent = true;      // >= 6.14 mba_MBps_event file
    bool oldMbMessage = false;     // <= 6.14 "Non-decimal digit in MB value"
    bool smba = true;              // >= 6.3 AMD slow-memory bandwidth allocation
    bool bmec = true;              // >= 6.3 mbm_{total,local}_bytes_config
    bool counterAssign = false;    // >= 6.18 mbm_assign_mode and assignable counters
    bool ioAlloc = false;          // >= 6.19 info/<cache>/io_alloc, io_alloc_cbm
    // After 6.19 (merged for 7.0/7.1): io_alloc_cbm names an unknown domain ("Invalid domain N")
    // and takes "*=mask" for every domain. No --kernel selects it yet.
    bool ioAllocCbmRevised = false;

    static std::optional<KernelFlavour> fromVersion(std::string_view version);
};

struct MountOptions {
    bool cdp = false;
    bool cdpl2 = false;
    bool mbaMbps = false;
};

// Thrown by the constructor when the mount itself would fail (EINVAL for an option the
// profile cannot honour, docs/kernel.md §1.2).
class MountError : public std::runtime_error {
public:
    MountError(int err, const std::string& what)
        : std::runtime_error(what)
        , err_(err) {}
    int err() const { return err_; }

private:
    int err_;
};

// Who issued an operation (FUSE passes the caller's tid/uid/gid/umask).
struct Caller {
    pid_t tid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    mode_t umask = 022;
};

struct NodeAttr {
    bool isDir = false;
    mode_t mode = 0; // permission bits only
    uid_t uid = 0;
    gid_t gid = 0;
    uint64_t serial = 0; // serial of the group the node belongs to (0 for info nodes)
};

struct DirEntry {
    std::string name;
    bool isDir = false;
};

enum class CounterState { Ok, Unavailable, Error, Unassigned };

// Monitoring inputs that tests control (interface: control dir footprint/traffic/counters).
// `domain` is an L3 domain id, or a NUMA node id when `byNode` (the node_* control files).
struct FootprintEntry {
    pid_t tid;
    unsigned domain;
    uint64_t bytes;
    bool byNode = false;
};
struct TrafficEntry {
    pid_t tid;
    unsigned domain;
    double totalPerSec;
    double localPerSec;
    bool byNode = false;
};
struct CounterStateEntry {
    unsigned domain;
    std::string event; // event name or "*"
    CounterState state;
    bool byNode = false;
};

// Hardware behaviours a test can switch on (control file `quirks`).
struct ModelQuirks {
    // An assigned counter (after assignment or a filter change) reads Unavailable once.
    bool unavailableAfterAssign = false;
};

using Path = std::vector<std::string>;
Path splitPath(std::string_view path);

class ResctrlModel {
public:
    // Monotonic clock in nanoseconds; injectable for tests.
    using Clock = std::function<uint64_t()>;

    ResctrlModel(Profile profile, KernelFlavour flavour, MountOptions options, TaskSource& tasks,
                 Clock clock);
    ~ResctrlModel();
    ResctrlModel(const ResctrlModel&) = delete;
    ResctrlModel& operator=(const ResctrlModel&) = delete;

    int stat(const Path& path, NodeAttr& attr);
    int list(const Path& path, std::vector<DirEntry>& entries);
    // Checks an open(2) of a file (§2.2: EACCES for write-open of a file without write bit,
    // even for root) and, for a non-root caller, the usual owner/group/other bits.
    int open(const Path& path, bool forWrite, const Caller& caller = Caller{});
    // VFS permission check for a non-root caller (root passes): `want` is a mask of
    // 4 (read), 2 (write), 1 (search). EACCES when denied.
    int access(const Path& path, int want, const Caller& caller);
    int read(const Path& path, std::string& out);
    int write(const Path& path, std::string_view data, const Caller& caller);
    int mkdir(const Path& path, mode_t mode, const Caller& caller);
    int rmdir(const Path& path);
    int rename(const Path& from, const Path& to, unsigned flags);

    void setFootprints(std::vector<FootprintEntry> entries);
    void setTraffic(std::vector<TrafficEntry> entries);
    void setCounterStates(std::vector<CounterStateEntry> entries);
    // The same inputs per NUMA node (node_footprint, node_traffic, node_counters).
    void setNodeFootprints(std::vector<FootprintEntry> entries);
    void setNodeTraffic(std::vector<TrafficEntry> entries);
    void setNodeCounterStates(std::vector<CounterStateEntry> entries);
    // info/ files ("RES/FILE") the simulator leaves out, as a kernel or a fixture tree that
    // lacks them would.
    void setAbsentInfoFiles(std::set<std::string> files);
    void setQuirks(ModelQuirks quirks) { quirks_ = quirks; }

    const std::string& lastCmdStatusBuffer() const { return status_; }
    const Profile& profile() const { return profile_; }
    size_t groupCount() const; // all groups incl. root, for leak checks
    unsigned usableClosids() const { return closidCount_; }

private:
    // The files of info/<res>/ as the profile and kernel flavour give them.
    int listInfoResource(const std::string& res, std::vector<DirEntry>& entries) const;

    enum class GroupType { Root, Ctrl, Mon };
    enum class Mode { Shareable, Exclusive, PseudoLockSetup, PseudoLocked };
    struct Group;
    struct Schema;
    struct Node;
    struct ThreadRec {
        uint64_t startTime;
        pid_t tgid;
        uint64_t ctrl; // serial of the CTRL_MON group (root = 1)
        uint64_t mon;  // serial of the MON group or 0
    };
    struct Mbm {
        long double total = 0;
        long double local = 0;
        // The next read of the event reads Unavailable once (hardware reset of a counter).
        bool totalUnavailable = false;
        bool localUnavailable = false;
    };
    struct LimboEntry {
        unsigned rmid;
        uint64_t freedAt;
        std::vector<uint64_t> occupancy; // per monitoring domain at the time of rmdir
    };
    // A live thread with a footprint, resolved once per operation.
    struct Occupant {
        uint64_t rmid;
        unsigned closid;
        const std::map<size_t, uint64_t>* bytes; // per monitoring domain
    };
    // Footprint bytes on one monitoring domain, summed per RMID and per CLOSID.
    struct OccupancyTotals {
        std::unordered_map<uint64_t, uint64_t> byRmid;
        std::unordered_map<unsigned, uint64_t> byClosid;
    };

    // setup
    void buildSchemas();
    // path resolution
    bool resolve(const Path& path, Node& node);
    Group* groupBySerial(uint64_t serial) const;
    // status buffer (§8.1)
    void clearStatus() { status_.clear(); }
    void addStatus(std::string_view text);
    // reads
    std::string readGroupFile(Group& g, const std::string& file);
    std::string readInfoFile(const std::string& res, const std::string& file);
    // The event file of mon_L3_<l3Id>, or of its mon_sub_L3_<node> with SNC.
    std::string readMonFile(Group& g, unsigned l3Id, std::optional<unsigned> node,
                            const std::string& event);
    // The state that makes every read of one monitoring domain fail (control file
    // `counters`/`node_counters`), if any.
    std::optional<CounterState> failedState(size_t monDomain, const std::string& event) const;
    // The value of one monitoring domain for `g` (with its MON groups for a CTRL_MON group),
    // or, for a bandwidth event none of whose RMIDs could be read, why not (Unassigned,
    // Unavailable once after a counter reset).
    std::variant<uint64_t, CounterState> monValue(Group& g, size_t monDomain,
                                                  const std::string& event);
    std::variant<uint64_t, CounterState> readMbm(const Group& g, size_t monDomain, MbmEvent event);
    // The info files whose read can fail (counter assignment, io_alloc); nullopt for others.
    std::optional<int> readInfoFileChecked(const std::string& res, const std::string& file,
                                           std::string& out);
    std::optional<int> writeInfoFile(const std::string& res, const std::string& file,
                                     std::string_view data);
    std::string formatSchemata(Group& g, bool sizes) const;
    std::string formatCpus(const std::vector<bool>& cpus, bool list) const;
    std::string bitUsage(const Schema& s) const;
    // writes
    int writeSchemata(Group& g, std::string_view data);
    // One cache mask of a schemata-style write, checked in the kernel's order with its
    // status texts; `mode` is the writer's mode.
    int validateCbm(const Schema& s, size_t dom, const std::string& value, unsigned closid,
                    Mode mode, uint64_t& cbm);
    // io_alloc (AMD SDCIAE): the highest CLOSID reserved for I/O, its L3 mask.
    bool ioAllocCapable() const;
    unsigned ioAllocClosid() const;
    bool isIoAllocDir(const std::string& res) const;
    std::string readIoAlloc(const std::string& res) const;
    int readIoAllocCbm(const std::string& res, std::string& out);
    int writeIoAlloc(const std::string& res, std::string_view data);
    int writeIoAllocCbm(const std::string& res, std::string_view data);
    // BMEC: per-domain transaction masks of mbm_total_bytes (0) and mbm_local_bytes (1).
    bool bmecVisible() const;
    std::string readBmec(int event) const;
    int writeBmec(int event, std::string_view data);
    int writeTasks(Group& g, std::string_view data, const Caller& caller);
    int moveTask(Group& g, pid_t pid, const Caller& caller);
    int writeCpus(Group& g, std::string_view data, bool list);
    int writeMode(Group& g, std::string_view data);
    int writeMbaEvent(Group& g, std::string_view data);
    int writeThreshold(std::string_view data);
    // groups
    int allocRmid(unsigned& rmid);
    void freeRmid(unsigned rmid, std::vector<uint64_t> occupancy);
    void processLimbo();
    int initCtrlValues(unsigned closid);
    void removeGroup(Group& g);
    bool cbmOverlaps(const Schema& s, size_t dom, uint64_t cbm, unsigned closid,
                     bool exclusive) const;
    bool cbmOverlapsOne(const Schema& s, size_t dom, uint64_t cbm, unsigned closid,
                        bool exclusive) const;
    Mode modeOfClosid(unsigned closid) const;
    // tasks: every change of threads_ goes through these, which keep members_ in step.
    using ThreadMap = std::map<pid_t, ThreadRec>;
    void setRecord(pid_t tid, const ThreadRec& rec);
    ThreadMap::iterator eraseRecord(ThreadMap::iterator it);
    void indexRecord(pid_t tid, const ThreadRec& rec, bool add);
    std::vector<pid_t> membersOf(uint64_t serial) const;
    // The remembered thread still runs (same start time): the liveness check of §5.2.
    bool recordAlive(ThreadMap::const_iterator it);
    bool liveRecord(pid_t tid, ThreadRec& rec);
    // Effective (ctrl, mon) placement of a live thread, with the inheritance approximation.
    std::pair<uint64_t, uint64_t> placementOf(pid_t tid, const TaskInfo& info);
    // The same for a TID; nullopt when no such thread runs. A remembered thread costs one
    // read of its own stat file.
    std::optional<std::pair<uint64_t, uint64_t>> livePlacement(pid_t tid);
    std::vector<pid_t> tasksOf(const Group& g);
    // monitoring
    void advanceCounters();
    uint64_t rmidOfPlacement(std::pair<uint64_t, uint64_t> placement) const;
    // The live threads with a footprint (on monitoring domain `monDomain` only, if given).
    std::vector<Occupant> occupants(std::optional<size_t> monDomain);
    OccupancyTotals occupancyTotals(size_t monDomain, const std::vector<Occupant>& occupants) const;
    uint64_t occupancyOf(const Group& owner, size_t monDomain, const OccupancyTotals& totals) const;
    uint64_t occupancyCap(const Group& ctrl, size_t monDomain) const;
    // Monitoring inputs by L3 id or node id, resolved to monitoring domains.
    void applyFootprints();
    void applyTraffic();
    uint64_t thresholdBytes() const { return threshold_; }

    Profile profile_;
    KernelFlavour flavour_;
    MountOptions options_;
    MonTopology topo_;
    unsigned numRmids_ = 0; // info/L3_MON/num_rmids
    TaskSource& tasks_;
    Clock clock_;
    std::string status_;

    std::vector<Schema> schemas_;
    unsigned nameWidth_ = 0;
    unsigned dataWidth_ = 0;
    unsigned closidCount_ = 0;
    std::vector<bool> closidUsed_;

    std::unique_ptr<Group> root_;
    uint64_t nextSerial_ = 1;
    std::unordered_map<uint64_t, Group*> groups_;

    ThreadMap threads_;
    // Group serial -> TIDs whose record names it as ctrl or mon: a group's tasks read and
    // rmdir touch its own threads only, not every thread the simulator remembers.
    std::unordered_map<uint64_t, std::set<pid_t>> members_;

    // RMIDs (§3.2, §7.4)
    std::deque<unsigned> freeRmids_;
    std::vector<LimboEntry> limbo_;
    uint64_t threshold_ = 0;

    // monitoring inputs and state
    std::vector<FootprintEntry> l3Footprints_, nodeFootprints_;
    std::vector<TrafficEntry> l3Traffic_, nodeTraffic_;
    std::map<pid_t, std::map<size_t, uint64_t>> footprints_; // per monitoring domain
    std::vector<TrafficEntry> traffic_;                      // domain = monitoring domain index
    std::vector<CounterStateEntry> counterStates_, nodeCounterStates_;
    std::set<std::string> absentInfoFiles_;
    ModelQuirks quirks_;
    std::vector<std::vector<Mbm>> mbm_; // [rmid][monitoring domain]
    // mbm_assign_mode and the counter pool (kernels >= 6.18 with L3 monitoring), per L3
    // domain index.
    std::unique_ptr<CounterAssignment> counters_;
    bool assignable() const { return counters_ && profile_.mon->numMbmCntrs > 0; }
    uint64_t lastAdvance_ = 0;
    bool ioAllocEnabled_ = false;
    std::vector<uint32_t> bmec_[2]; // [event][domain index]
};

} // namespace resctrlsim
