// SPDX-License-Identifier: LGPL-2.1-or-later
// The floor of the start/stop benchmark: exactly the mkdir / schemata / tasks / rmdir syscalls
// that resctrld's GroupManager makes for one domain, done directly on the resctrl mount.
//
//   bench-floor-startstop SCRIPT WARMUP RUNS
//
// SCRIPT has a "start" section and a "stop" section, one operation a line:
//   mkdir PATH | rmdir PATH | write PATH TEXT   (TEXT: the rest of the line; "\n" is appended)
//   save PATH SOURCE   (SOURCE's bytes, saved as lib/state_store.cpp saves a record)
// Each write is open(O_WRONLY) + write + close, as lib/resctrl_fs.cpp does; a save writes a
// temporary file, fsyncs it, renames it over PATH and fsyncs the directory. Prints, per measured
// run, "START_NS STOP_NS" (CLOCK_MONOTONIC from the first to the last syscall of the section).
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace {

struct Op {
    enum Kind { Mkdir, Rmdir, Write, Save } kind;
    std::string path;
    std::string text;
};

std::int64_t nowNs() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

[[noreturn]] void fail(const Op& op) {
    std::fprintf(stderr, "bench-floor-startstop: %s %s: %s\n",
                 op.kind == Op::Mkdir   ? "mkdir"
                 : op.kind == Op::Rmdir ? "rmdir"
                 : op.kind == Op::Save  ? "save"
                                        : "write",
                 op.path.c_str(), std::strerror(errno));
    std::exit(1);
}

void run(const std::vector<Op>& ops) {
    for (const Op& op : ops) {
        switch (op.kind) {
        case Op::Mkdir:
            if (::mkdir(op.path.c_str(), 0755) != 0)
                fail(op);
            break;
        case Op::Rmdir:
            if (::rmdir(op.path.c_str()) != 0)
                fail(op);
            break;
        case Op::Write: {
            int fd = ::open(op.path.c_str(), O_WRONLY | O_CLOEXEC);
            if (fd < 0 || ::write(fd, op.text.data(), op.text.size()) < 0)
                fail(op);
            ::close(fd);
            break;
        }
        case Op::Save: {
            const std::string temporary = op.path + ".tmp";
            int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd < 0 || ::write(fd, op.text.data(), op.text.size()) < 0 || ::fsync(fd) != 0)
                fail(op);
            ::close(fd);
            if (::rename(temporary.c_str(), op.path.c_str()) != 0)
                fail(op);
            const std::string directory = op.path.substr(0, op.path.rfind('/'));
            int dir = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dir < 0 || ::fsync(dir) != 0)
                fail(op);
            ::close(dir);
            break;
        }
        }
    }
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: bench-floor-startstop SCRIPT WARMUP RUNS\n");
        return 2;
    }
    std::vector<Op> start, stop;
    std::vector<Op>* section = nullptr;
    std::ifstream in(argv[1]);
    for (std::string line; std::getline(in, line);) {
        if (line == "start" || line == "stop") {
            section = line == "start" ? &start : &stop;
            continue;
        }
        const auto space = line.find(' ');
        if (line.empty() || !section || space == std::string::npos)
            continue;
        const std::string verb = line.substr(0, space);
        std::string rest = line.substr(space + 1);
        if (verb == "mkdir")
            section->push_back({Op::Mkdir, rest, {}});
        else if (verb == "rmdir")
            section->push_back({Op::Rmdir, rest, {}});
        else if (verb == "save") {
            const auto split = rest.find(' ');
            std::ifstream source(rest.substr(split + 1), std::ios::binary);
            std::string text((std::istreambuf_iterator<char>(source)),
                             std::istreambuf_iterator<char>());
            section->push_back({Op::Save, rest.substr(0, split), std::move(text)});
        } else if (verb == "write") {
            const auto split = rest.find(' ');
            section->push_back({Op::Write, rest.substr(0, split), rest.substr(split + 1) + "\n"});
        }
    }
    const int warmup = std::atoi(argv[2]);
    const int runs = std::atoi(argv[3]);
    for (int i = 0; i < warmup + runs; ++i) {
        const auto t0 = nowNs();
        run(start);
        const auto t1 = nowNs();
        run(stop);
        const auto t2 = nowNs();
        if (i >= warmup)
            std::printf("%lld %lld\n", static_cast<long long>(t1 - t0),
                        static_cast<long long>(t2 - t1));
    }
    return 0;
}
