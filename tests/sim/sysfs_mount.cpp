#include "sysfs_mount.h"

#define FUSE_USE_VERSION 312

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <pthread.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <fuse_lowlevel.h>

namespace resctrlsim {

namespace {

// The tree never changes while mounted: the kernel may cache names and attributes for long.
constexpr double kCacheSeconds = 3600;

struct Served {
    const SysfsModel& model;
    time_t mountTime;
    // Set at init when the kernel can open files and directories without asking us: reading
    // a file then costs one request (or none, from the page cache) instead of four.
    bool openWithoutRequests = false;
    bool opendirWithoutRequests = false;
};

Served& servedOf(void* userdata) {
    return *static_cast<Served*>(userdata);
}

const Served& servedOf(fuse_req_t req) {
    return *static_cast<const Served*>(fuse_req_userdata(req));
}

// Attributes as the tree of plain files this replaces had them under umask 022: directories
// 0755, files 0644 sized by their content, owned by the simulator's user.
struct stat attributesOf(const Served& s, SysfsModel::Ino ino) {
    struct stat st {};
    st.st_ino = ino;
    st.st_uid = ::getuid();
    st.st_gid = ::getgid();
    st.st_atime = st.st_mtime = st.st_ctime = s.mountTime;
    if (s.model.isDirectory(ino)) {
        st.st_mode = S_IFDIR | 0755;
        st.st_nlink = 2;
    } else {
        st.st_mode = S_IFREG | 0644;
        st.st_nlink = 1;
        st.st_size = static_cast<off_t>(s.model.read(ino).size());
    }
    return st;
}

void opInit(void* userdata, fuse_conn_info* conn) {
    Served& s = servedOf(userdata);
    s.openWithoutRequests = conn->capable & FUSE_CAP_NO_OPEN_SUPPORT;
    s.opendirWithoutRequests = conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT;
}

void opLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    const Served& s = servedOf(req);
    const auto ino = s.model.lookup(parent, name);
    if (!ino) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    fuse_entry_param e{};
    e.ino = *ino;
    e.attr = attributesOf(s, *ino);
    e.attr_timeout = kCacheSeconds;
    e.entry_timeout = kCacheSeconds;
    fuse_reply_entry(req, &e);
}

void opGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
    const Served& s = servedOf(req);
    if (!s.model.exists(ino)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    const struct stat st = attributesOf(s, ino);
    fuse_reply_attr(req, &st, kCacheSeconds);
}

void opOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    const Served& s = servedOf(req);
    if (s.model.isDirectory(ino)) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    if ((fi->flags & O_ACCMODE) != O_RDONLY) {
        fuse_reply_err(req, EROFS);
        return;
    }
    // ENOSYS here tells the kernel to open every later file itself, keeping their pages.
    if (s.openWithoutRequests) {
        fuse_reply_err(req, ENOSYS);
        return;
    }
    fi->keep_cache = 1;
    fuse_reply_open(req, fi);
}

void opRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
    const std::string content = servedOf(req).model.read(ino);
    const size_t from = std::min(content.size(), static_cast<size_t>(off));
    fuse_reply_buf(req, content.data() + from, std::min(size, content.size() - from));
}

void opOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    const Served& s = servedOf(req);
    if (!s.model.isDirectory(ino)) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    // As for files; the kernel then also caches the listings.
    if (s.opendirWithoutRequests) {
        fuse_reply_err(req, ENOSYS);
        return;
    }
    fi->cache_readdir = 1;
    fi->keep_cache = 1;
    fuse_reply_open(req, fi);
}

void opReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
    const SysfsModel& model = servedOf(req).model;
    std::vector<SysfsModel::Entry> entries{{".", ino}, {"..", ino}};
    for (auto& e : model.list(ino))
        entries.push_back(std::move(e));
    std::vector<char> buffer(size);
    size_t used = 0;
    for (size_t i = static_cast<size_t>(std::max<off_t>(off, 0)); i < entries.size(); ++i) {
        struct stat st {};
        st.st_ino = entries[i].ino;
        st.st_mode = model.isDirectory(entries[i].ino) || i < 2 ? S_IFDIR : S_IFREG;
        const size_t need =
            fuse_add_direntry(req, buffer.data() + used, size - used, entries[i].name.c_str(), &st,
                              static_cast<off_t>(i + 1));
        if (need > size - used)
            break;
        used += need;
    }
    fuse_reply_buf(req, buffer.data(), used);
}

} // namespace

SysfsMount::SysfsMount(const SysfsModel& model, const std::string& dir)
    : model_(model)
    , dir_(dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec)
        throw std::runtime_error("cannot create " + dir_ + ": " + ec.message());
    static const fuse_lowlevel_ops ops = [] {
        fuse_lowlevel_ops o{};
        o.init = opInit;
        o.lookup = opLookup;
        o.getattr = opGetattr;
        o.open = opOpen;
        o.read = opRead;
        o.opendir = opOpendir;
        o.readdir = opReaddir;
        return o;
    }();
    std::string options = "ro,fsname=resctrlfs-sim-sysfs,subtype=sysfs";
    if (::geteuid() == 0)
        options += ",allow_other"; // the daemon and the tools may run as other users
    const char* argv[] = {"resctrlfs-sim", "-o", options.c_str()};
    fuse_args args = FUSE_ARGS_INIT(3, const_cast<char**>(argv));
    auto served = std::make_unique<Served>(Served{model_, std::time(nullptr)});
    session_ = fuse_session_new(&args, &ops, sizeof ops, served.get());
    fuse_opt_free_args(&args);
    if (!session_)
        throw std::runtime_error("cannot create the FUSE session for " + dir_);
    if (fuse_session_mount(session_, dir_.c_str()) != 0) {
        fuse_session_destroy(session_);
        throw std::runtime_error("cannot mount the sysfs tree at " + dir_);
    }
    std::promise<void> done;
    served_ = done.get_future();
    // The thread takes no signals: SIGTERM must reach the main thread, whose wait for the
    // resctrl loop it interrupts (libfuse's own workers block them the same way).
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous);
    loop_ = std::thread([this, done = std::move(done), served = std::move(served)]() mutable {
        fuse_session_loop(session_);
        done.set_value();
    });
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

SysfsMount::~SysfsMount() {
    fuse_session_exit(session_);
    // Unmounting ends the connection once no process uses the tree, and with it the loop.
    fuse_session_unmount(session_);
    // A process with a file of the tree still open keeps it alive after the (lazy) unmount;
    // the simulator is exiting then, and its exit ends the loop instead of waiting for it.
    if (served_.wait_for(std::chrono::seconds(2)) != std::future_status::ready) {
        loop_.detach();
        return;
    }
    loop_.join();
    fuse_session_destroy(session_);
}

} // namespace resctrlsim
