// resctrlfs-sim: a FUSE simulator of the kernel's resctrl filesystem. This file is
// the thin FUSE layer: it maps inodes to paths, serialises every request with one mutex
// (the kernel's rdtgroup_mutex) and forwards to ResctrlModel. Interface: tests/sim/README.md.
#define FUSE_USE_VERSION 312

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <getopt.h>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>

#include <fuse_lowlevel.h>

#include "control_dir.h"
#include "model.h"
#include "profile.h"
#include "sysfs_model.h"
#include "sysfs_mount.h"

namespace resctrlsim {
namespace {

constexpr size_t kMaxWrite = 4096;

struct Inode {
    std::string path; // relative to the mount root, no leading '/'
    uint64_t serial = 0;
    uint64_t nlookup = 0;
};

struct FileHandle {
    std::string path;
    uint64_t serial = 0;
    std::string content;
    bool haveContent = false;
    std::vector<DirEntry> entries; // directories
};

class SimFs {
public:
    SimFs(ResctrlModel& model, std::optional<ControlDir> control)
        : model_(model)
        , control_(std::move(control)) {
        inodes_[FUSE_ROOT_ID] = Inode{"", 1, 1};
        byPath_[{"", 1}] = FUSE_ROOT_ID;
        mountTime_ = std::time(nullptr);
    }

    static SimFs& of(fuse_req_t req) { return *static_cast<SimFs*>(fuse_req_userdata(req)); }

    static std::string join(const std::string& parent, const char* name) {
        return parent.empty() ? std::string(name) : parent + "/" + name;
    }

    // Call with the lock held: re-read control files and apply a matching fault.
    // Returns errno to fail with, or 0 (after stalling, if asked).
    int prologue(std::unique_lock<std::mutex>& lock, const char* op, const std::string& path) {
        if (!control_)
            return 0;
        control_->refresh(model_);
        if (!op)
            return 0;
        FaultAction f = control_->takeFault(op, path);
        if (f.err)
            return f.err;
        if (f.stallMs) {
            lock.unlock();
            std::this_thread::sleep_for(std::chrono::milliseconds(f.stallMs));
            lock.lock();
            control_->refresh(model_);
        }
        return 0;
    }

    // The path of a live inode; nullopt if unknown or its group was deleted/replaced.
    std::optional<std::string> pathOf(fuse_ino_t ino) {
        auto it = inodes_.find(ino);
        if (it == inodes_.end())
            return std::nullopt;
        NodeAttr attr;
        if (model_.stat(splitPath(it->second.path), attr) != 0 || attr.serial != it->second.serial)
            return std::nullopt;
        return it->second.path;
    }

    void fillStat(fuse_ino_t ino, const NodeAttr& a, struct stat& st) const {
        std::memset(&st, 0, sizeof st);
        st.st_ino = ino;
        st.st_mode = (a.isDir ? S_IFDIR : S_IFREG) | a.mode;
        st.st_nlink = a.isDir ? 2 : 1;
        st.st_uid = a.uid;
        st.st_gid = a.gid;
        st.st_size = 0; // every resctrl file reports size 0 (§2.2)
        st.st_blksize = 4096;
        st.st_atim.tv_sec = st.st_mtim.tv_sec = st.st_ctim.tv_sec = mountTime_;
    }

    // Looks a path up in the model and replies with an entry (incrementing nlookup).
    void replyEntry(fuse_req_t req, const std::string& path) {
        NodeAttr attr;
        if (int err = model_.stat(splitPath(path), attr)) {
            fuse_reply_err(req, err);
            return;
        }
        fuse_ino_t ino;
        auto key = std::make_pair(path, attr.serial);
        auto it = byPath_.find(key);
        if (it != byPath_.end()) {
            ino = it->second;
        } else {
            ino = nextIno_++;
            inodes_[ino] = Inode{path, attr.serial, 0};
            byPath_[key] = ino;
        }
        inodes_[ino].nlookup++;
        fuse_entry_param e{};
        e.ino = ino;
        e.generation = 1;
        fillStat(ino, attr, e.attr);
        // Other clients change the tree at any time: never cache (§8.2).
        e.attr_timeout = 0;
        e.entry_timeout = 0;
        fuse_reply_entry(req, &e);
    }

    void forget(fuse_ino_t ino, uint64_t n) {
        auto it = inodes_.find(ino);
        if (it == inodes_.end() || ino == FUSE_ROOT_ID)
            return;
        it->second.nlookup = it->second.nlookup > n ? it->second.nlookup - n : 0;
        if (it->second.nlookup == 0) {
            byPath_.erase({it->second.path, it->second.serial});
            inodes_.erase(it);
        }
    }

    // After a successful rename the kernel keeps the inodes of the moved subtree.
    void renamePaths(const std::string& from, const std::string& to) {
        std::vector<std::pair<fuse_ino_t, Inode>> moved;
        for (auto& [ino, node] : inodes_) {
            if (node.path == from || node.path.starts_with(from + "/")) {
                byPath_.erase({node.path, node.serial});
                node.path = to + node.path.substr(from.size());
                moved.push_back({ino, node});
            }
        }
        for (const auto& [ino, node] : moved)
            byPath_[{node.path, node.serial}] = ino;
    }

    Caller callerOf(fuse_req_t req) const {
        const fuse_ctx* ctx = fuse_req_ctx(req);
        return Caller{ctx->pid, ctx->uid, ctx->gid, ctx->umask};
    }

    std::mutex mutex_;
    ResctrlModel& model_;
    std::optional<ControlDir> control_;
    std::unordered_map<fuse_ino_t, Inode> inodes_;
    std::map<std::pair<std::string, uint64_t>, fuse_ino_t> byPath_;
    fuse_ino_t nextIno_ = FUSE_ROOT_ID + 1;
    time_t mountTime_;

    // Open handles, owned here so that handles whose release never arrives (the kernel
    // sends RELEASE asynchronously; unmount may come first) are still freed.
    FileHandle* newHandle() {
        std::lock_guard lock(handleMutex_);
        auto h = std::make_shared<FileHandle>();
        FileHandle* raw = h.get();
        handles_[raw] = std::move(h);
        return raw;
    }
    void dropHandle(FileHandle* h) {
        std::lock_guard lock(handleMutex_);
        handles_.erase(h);
    }
    // The handle of an open file, kept alive for the request even if its RELEASE arrives
    // meanwhile (a killed reader's files are released while its read is being answered, and a
    // stall lets go of the lock); null once released.
    std::shared_ptr<FileHandle> handle(fuse_file_info* fi) {
        std::lock_guard lock(handleMutex_);
        auto it = handles_.find(reinterpret_cast<FileHandle*>(fi->fh));
        return it == handles_.end() ? nullptr : it->second;
    }

private:
    std::mutex handleMutex_;
    std::unordered_map<FileHandle*, std::shared_ptr<FileHandle>> handles_;
};

FileHandle* handleOf(fuse_file_info* fi) {
    return reinterpret_cast<FileHandle*>(fi->fh);
}

void opInit(void*, fuse_conn_info* conn) {
    // O_TRUNC arrives as an open flag (ignored, like kernfs) instead of a setattr.
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
        conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
    conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
    // No flock op: the kernel then handles flock(2) locally on the FUSE inode, which
    // excludes processes on this host as resctrl's flock does (§8.2).
    conn->want &= ~FUSE_CAP_FLOCK_LOCKS;
    conn->want &= ~FUSE_CAP_POSIX_LOCKS;
    if (conn->max_write > 128 * 1024)
        conn->max_write = 128 * 1024;
}

void opLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    SimFs& fs = SimFs::of(req);
    std::unique_lock lock(fs.mutex_);
    fs.prologue(lock, nullptr, "");
    auto p = fs.pathOf(parent);
    if (!p) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    fs.replyEntry(req, SimFs::join(*p, name));
}

void opForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
    SimFs& fs = SimFs::of(req);
    {
        std::lock_guard lock(fs.mutex_);
        fs.forget(ino, nlookup);
    }
    fuse_reply_none(req);
}

void opForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
    SimFs& fs = SimFs::of(req);
    {
        std::lock_guard lock(fs.mutex_);
        for (size_t i = 0; i < count; ++i)
            fs.forget(forgets[i].ino, forgets[i].nlookup);
    }
    fuse_reply_none(req);
}

void replyAttr(fuse_req_t req, fuse_ino_t ino) {
    SimFs& fs = SimFs::of(req);
    std::unique_lock lock(fs.mutex_);
    fs.prologue(lock, nullptr, "");
    auto p = fs.pathOf(ino);
    NodeAttr attr;
    if (!p || fs.model_.stat(splitPath(*p), attr) != 0) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    struct stat st;
    fs.fillStat(ino, attr, st);
    fuse_reply_attr(req, &st, 0);
}

void opGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
    replyAttr(req, ino);
}

void opSetattr(fuse_req_t req, fuse_ino_t ino, struct stat*, int, fuse_file_info*) {
    // Truncation and time updates are accepted and ignored (files have no stored content).
    replyAttr(req, ino);
}

void opOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    SimFs& fs = SimFs::of(req);
    std::unique_lock lock(fs.mutex_);
    auto p = fs.pathOf(ino);
    if (!p) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    if (int err = fs.prologue(lock, "open", *p)) {
        fuse_reply_err(req, err);
        return;
    }
    if (!(p = fs.pathOf(ino))) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    bool forWrite = (fi->flags & O_ACCMODE) != O_RDONLY;
    if (int err = fs.model_.open(splitPath(*p), forWrite, fs.callerOf(req))) {
        fuse_reply_err(req, err);
        return;
    }
    FileHandle* h = fs.newHandle();
    h->path = *p;
    h->serial = fs.inodes_[ino].serial;
    fi->fh = reinterpret_cast<uint64_t>(h);
    fi->direct_io = 1; // size 0 files: bypass the page cache (§2.2)
    fi->keep_cache = 0;
    if (fuse_reply_open(req, fi) != 0)
        fs.dropHandle(h); // the open was interrupted: no release will come
}

void opRelease(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    SimFs::of(req).dropHandle(handleOf(fi));
    fuse_reply_err(req, 0);
}

// A handle whose group was removed (or replaced by a new one of the same name) is dead:
// kernfs fails such accesses with ENODEV (§3.4).
bool handleAlive(SimFs& fs, const FileHandle& h) {
    NodeAttr attr;
    return fs.model_.stat(splitPath(h.path), attr) == 0 && attr.serial == h.serial;
}

void opRead(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
    SimFs& fs = SimFs::of(req);
    const std::shared_ptr<FileHandle> handle = fs.handle(fi);
    if (!handle) {
        fuse_reply_err(req, EBADF);
        return;
    }
    FileHandle& h = *handle;
    std::unique_lock lock(fs.mutex_);
    if (int err = fs.prologue(lock, "read", h.path)) {
        fuse_reply_err(req, err);
        return;
    }
    if (!handleAlive(fs, h)) {
        fuse_reply_err(req, ENODEV);
        return;
    }
    // seq_file semantics: a read from offset 0 regenerates the content (§2.2).
    if (off == 0 || !h.haveContent) {
        if (int err = fs.model_.read(splitPath(h.path), h.content)) {
            fuse_reply_err(req, err);
            return;
        }
        h.haveContent = true;
    }
    if (static_cast<size_t>(off) >= h.content.size()) {
        fuse_reply_buf(req, nullptr, 0);
        return;
    }
    size_t n = std::min(size, h.content.size() - static_cast<size_t>(off));
    fuse_reply_buf(req, h.content.data() + off, n);
}

void opWrite(fuse_req_t req, fuse_ino_t, const char* buf, size_t size, off_t, fuse_file_info* fi) {
    SimFs& fs = SimFs::of(req);
    const std::shared_ptr<FileHandle> handle = fs.handle(fi);
    if (!handle) {
        fuse_reply_err(req, EBADF);
        return;
    }
    FileHandle& h = *handle;
    Caller caller = fs.callerOf(req);
    std::unique_lock lock(fs.mutex_);
    if (int err = fs.prologue(lock, "write", h.path)) {
        fuse_reply_err(req, err);
        return;
    }
    if (size > kMaxWrite) {
        fuse_reply_err(req, E2BIG); // kernfs, before the handler runs (§2.3)
        return;
    }
    if (!handleAlive(fs, h)) {
        fuse_reply_err(req, ENODEV);
        return;
    }
    if (int err = fs.model_.write(splitPath(h.path), std::string_view(buf, size), caller)) {
        fuse_reply_err(req, err);
        return;
    }
    fuse_reply_write(req, size);
}

void opOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    SimFs& fs = SimFs::of(req);
    std::unique_lock lock(fs.mutex_);
    fs.prologue(lock, nullptr, "");
    auto p = fs.pathOf(ino);
    if (!p) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    NodeAttr attr;
    fs.model_.stat(splitPath(*p), attr);
    if (!attr.isDir) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    FileHandle* h = fs.newHandle();
    h->path = *p;
    h->serial = attr.serial;
    fi->fh = reinterpret_cast<uint64_t>(h);
    if (fuse_reply_open(req, fi) != 0)
        fs.dropHandle(h);
}

void opReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
    SimFs& fs = SimFs::of(req);
    const std::shared_ptr<FileHandle> handle = fs.handle(fi);
    if (!handle) {
        fuse_reply_err(req, EBADF);
        return;
    }
    FileHandle& h = *handle;
    std::unique_lock lock(fs.mutex_);
    fs.prologue(lock, nullptr, "");
    if (off == 0 || !h.haveContent) {
        if (!handleAlive(fs, h)) {
            fuse_reply_err(req, ENOENT);
            return;
        }
        std::vector<DirEntry> entries;
        if (int err = fs.model_.list(splitPath(h.path), entries)) {
            fuse_reply_err(req, err);
            return;
        }
        h.entries = {{".", true}, {"..", true}};
        h.entries.insert(h.entries.end(), entries.begin(), entries.end());
        h.haveContent = true;
    }
    std::string buf(size, '\0');
    size_t used = 0;
    for (size_t i = static_cast<size_t>(off); i < h.entries.size(); ++i) {
        struct stat st {};
        const DirEntry& e = h.entries[i];
        // readdir does not count as a lookup: report a stable pseudo inode number.
        st.st_ino = i < 2 ? ino : (std::hash<std::string>{}(h.path + "/" + e.name) | (1ULL << 62));
        st.st_mode = e.isDir ? S_IFDIR : S_IFREG;
        size_t need = fuse_add_direntry(req, nullptr, 0, e.name.c_str(), nullptr, 0);
        if (used + need > size)
            break;
        fuse_add_direntry(req, buf.data() + used, size - used, e.name.c_str(), &st,
                          static_cast<off_t>(i + 1));
        used += need;
    }
    fuse_reply_buf(req, buf.data(), used);
}

void opReleasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    SimFs::of(req).dropHandle(handleOf(fi));
    fuse_reply_err(req, 0);
}

void opMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
    SimFs& fs = SimFs::of(req);
    Caller caller = fs.callerOf(req);
    std::unique_lock lock(fs.mutex_);
    auto p = fs.pathOf(parent);
    if (!p) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    std::string path = SimFs::join(*p, name);
    if (int err = fs.model_.access(splitPath(*p), 3, caller)) {
        fuse_reply_err(req, err);
        return;
    }
    if (int err = fs.prologue(lock, "mkdir", path)) {
        fuse_reply_err(req, err);
        return;
    }
    if (int err = fs.model_.mkdir(splitPath(path), mode, caller)) {
        fuse_reply_err(req, err);
        return;
    }
    fs.replyEntry(req, path);
}

void opRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
    SimFs& fs = SimFs::of(req);
    std::unique_lock lock(fs.mutex_);
    auto p = fs.pathOf(parent);
    if (!p) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    std::string path = SimFs::join(*p, name);
    if (int err = fs.model_.access(splitPath(*p), 3, fs.callerOf(req))) {
        fuse_reply_err(req, err);
        return;
    }
    if (int err = fs.prologue(lock, "rmdir", path)) {
        fuse_reply_err(req, err);
        return;
    }
    fuse_reply_err(req, fs.model_.rmdir(splitPath(path)));
}

void opRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
              const char* newname, unsigned flags) {
    SimFs& fs = SimFs::of(req);
    std::unique_lock lock(fs.mutex_);
    fs.prologue(lock, nullptr, "");
    auto p = fs.pathOf(parent);
    auto np = fs.pathOf(newparent);
    if (!p || !np) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    std::string from = SimFs::join(*p, name), to = SimFs::join(*np, newname);
    // A fault rule for rename matches the source path.
    if (int err = fs.prologue(lock, "rename", from)) {
        fuse_reply_err(req, err);
        return;
    }
    // The stall released the lock: the directories may be gone meanwhile.
    if (!fs.pathOf(parent) || !fs.pathOf(newparent)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    int err = fs.model_.access(splitPath(*p), 3, fs.callerOf(req));
    if (err == 0)
        err = fs.model_.access(splitPath(*np), 3, fs.callerOf(req));
    if (err == 0)
        err = fs.model_.rename(splitPath(from), splitPath(to), flags);
    if (err == 0 && from != to)
        fs.renamePaths(from, to);
    fuse_reply_err(req, err);
}

void opUnlink(fuse_req_t req, fuse_ino_t, const char*) {
    fuse_reply_err(req, EPERM);
}

void opCreate(fuse_req_t req, fuse_ino_t, const char*, mode_t, fuse_file_info*) {
    fuse_reply_err(req, EACCES); // kernfs directories have no create op
}

void opMknod(fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) {
    fuse_reply_err(req, EACCES);
}

void opSymlink(fuse_req_t req, const char*, fuse_ino_t, const char*) {
    fuse_reply_err(req, EPERM);
}

void opLink(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) {
    fuse_reply_err(req, EPERM);
}

void usage(FILE* out) {
    std::fprintf(out, "usage: resctrlfs-sim [--profile NAME|FILE] [--kernel 6.1|6.15|6.18|6.19]\n"
                      "                     [--mount-options cdp,cdpl2,mba_MBps] [--sysfs DIR]\n"
                      "                     [--control DIR] MOUNTPOINT\n"
                      "built-in profiles:");
    for (const auto& n : builtinProfileNames())
        std::fprintf(out, " %s", n.c_str());
    std::fprintf(out, "\n");
}

} // namespace
} // namespace resctrlsim

int main(int argc, char** argv) {
    using namespace resctrlsim;
    std::string profileArg = "skx-2s-l3cat", kernelArg, mountOpts, sysfsDir, controlDir;
    static const option kLong[] = {
        {"profile", required_argument, nullptr, 'p'},
        {"kernel", required_argument, nullptr, 'k'},
        {"mount-options", required_argument, nullptr, 'o'},
        {"sysfs", required_argument, nullptr, 's'},
        {"control", required_argument, nullptr, 'c'},
        {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", kLong, nullptr)) != -1) {
        switch (c) {
        case 'p':
            profileArg = optarg;
            break;
        case 'k':
            kernelArg = optarg;
            break;
        case 'o':
            mountOpts = optarg;
            break;
        case 's':
            sysfsDir = optarg;
            break;
        case 'c':
            controlDir = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    std::string mountpoint = argv[optind];

    MountOptions options;
    for (const auto& o : splitPath([&] {
             std::string s = mountOpts;
             for (char& ch : s)
                 if (ch == ',')
                     ch = '/';
             return s;
         }())) {
        if (o == "cdp")
            options.cdp = true;
        else if (o == "cdpl2")
            options.cdpl2 = true;
        else if (o == "mba_MBps")
            options.mbaMbps = true;
        else {
            std::fprintf(stderr, "resctrlfs-sim: unknown mount option '%s'\n", o.c_str());
            return 2;
        }
    }
    Profile profile;
    if (auto builtin = builtinProfile(profileArg)) {
        profile = *builtin;
    } else if (profileArg.find('/') != std::string::npos || std::filesystem::exists(profileArg)) {
        try {
            profile = loadProfileFile(profileArg);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "resctrlfs-sim: %s\n", e.what());
            return 2;
        }
    } else {
        std::fprintf(stderr, "resctrlfs-sim: unknown profile '%s'\n", profileArg.c_str());
        usage(stderr);
        return 2;
    }

    // Without --kernel the host runs the kernel its profile is meant for.
    if (kernelArg.empty())
        kernelArg = profile.defaultKernel;
    auto flavour = KernelFlavour::fromVersion(kernelArg);
    if (!flavour) {
        std::fprintf(stderr, "resctrlfs-sim: unknown --kernel '%s' (6.1, 6.15, 6.18 or 6.19)\n",
                     kernelArg.c_str());
        return 2;
    }
    ProcTaskSource tasks;
    std::unique_ptr<ResctrlModel> model;
    std::optional<SysfsModel> sysfsModel;
    std::optional<SysfsMount> sysfsMount;
    try {
        model = std::make_unique<ResctrlModel>(profile, *flavour, options, tasks, [] {
            timespec ts{};
            clock_gettime(CLOCK_MONOTONIC, &ts);
            return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL +
                   static_cast<uint64_t>(ts.tv_nsec);
        });
        // The sysfs tree is served, not written: entries are generated as they are read, so
        // start-up does not grow with the host's CPU count.
        if (!sysfsDir.empty()) {
            sysfsModel.emplace(profile);
            sysfsMount.emplace(*sysfsModel, sysfsDir);
        }
    } catch (const MountError& e) {
        std::fprintf(stderr, "resctrlfs-sim: mount failed: %s: %s\n", strerror(e.err()), e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "resctrlfs-sim: %s\n", e.what());
        return 1;
    }
    std::optional<ControlDir> control;
    std::string readyFile;
    if (!controlDir.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(controlDir, ec);
        if (ec) {
            std::fprintf(stderr, "resctrlfs-sim: cannot create %s: %s\n", controlDir.c_str(),
                         ec.message().c_str());
            return 1;
        }
        readyFile = controlDir + "/ready";
        std::filesystem::remove(readyFile, ec);
        control.emplace(controlDir);
    }

    SimFs fs(*model, std::move(control));
    fuse_lowlevel_ops ops{};
    ops.init = opInit;
    ops.lookup = opLookup;
    ops.forget = opForget;
    ops.forget_multi = opForgetMulti;
    ops.getattr = opGetattr;
    ops.setattr = opSetattr;
    ops.open = opOpen;
    ops.release = opRelease;
    ops.read = opRead;
    ops.write = opWrite;
    ops.opendir = opOpendir;
    ops.readdir = opReaddir;
    ops.releasedir = opReleasedir;
    ops.mkdir = opMkdir;
    ops.rmdir = opRmdir;
    ops.rename = opRename;
    ops.unlink = opUnlink;
    ops.create = opCreate;
    ops.mknod = opMknod;
    ops.symlink = opSymlink;
    ops.link = opLink;

    std::string fuseOpts = "fsname=resctrl,subtype=resctrl";
    if (geteuid() == 0)
        fuseOpts += ",allow_other";
    const char* fuseArgv[] = {argv[0], "-o", fuseOpts.c_str()};
    fuse_args args = FUSE_ARGS_INIT(3, const_cast<char**>(fuseArgv));
    fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, &fs);
    if (!se) {
        fuse_opt_free_args(&args);
        std::fprintf(stderr, "resctrlfs-sim: cannot create FUSE session\n");
        return 1;
    }
    // libfuse only installs its handlers where the disposition is the default; a shell
    // starts background jobs with SIGINT ignored, and SIGINT must still unmount.
    for (int sig : {SIGINT, SIGTERM, SIGHUP})
        std::signal(sig, SIG_DFL);
    if (fuse_set_signal_handlers(se) != 0) {
        fuse_session_destroy(se);
        fuse_opt_free_args(&args);
        return 1;
    }
    if (fuse_session_mount(se, mountpoint.c_str()) != 0) {
        std::fprintf(stderr, "resctrlfs-sim: cannot mount at %s\n", mountpoint.c_str());
        fuse_remove_signal_handlers(se);
        fuse_session_destroy(se);
        fuse_opt_free_args(&args);
        return 1;
    }
    std::printf("resctrlfs-sim: ready %s\n", mountpoint.c_str());
    std::fflush(stdout);
    if (!readyFile.empty())
        std::ofstream(readyFile) << "ready " << mountpoint << "\n";

    fuse_loop_config* cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_clone_fd(cfg, 0);
    fuse_loop_cfg_set_max_threads(cfg, 16);
    int rc = fuse_session_loop_mt(se, cfg);
    fuse_loop_cfg_destroy(cfg);
    fuse_session_unmount(se);
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    fuse_opt_free_args(&args);
    if (!readyFile.empty()) {
        std::error_code ec;
        std::filesystem::remove(readyFile, ec);
    }
    return rc < 0 ? 1 : 0;
}
