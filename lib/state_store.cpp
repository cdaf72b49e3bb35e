// SPDX-License-Identifier: LGPL-2.1-or-later
#include "state_store.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <utility>

#include <spdlog/fmt/fmt.h>

#include "text.h"
#include "unique_fd.h"

// File format, version 2. The format is hand-written because the payloads are binary-safe blobs
// (a domain name or definition may hold any byte but NUL, newlines included) and none of the
// libraries we depend on fits: libxml2 cannot carry arbitrary bytes, and an INI or JSON library
// would add a dependency for a file only we read. A strict line format with length-prefixed blobs
// is a few dozen lines and easy to check completely:
//
//   resctrld-domain 2
//   name <bytes>\n<raw bytes>\n
//   definition <bytes>\n<raw bytes>\n
//   hypervisor <pid> <start time>
//   thread <vcpu> <tid> <start time>                          (any number)
//   groups <bytes>\n<group name stem>\n
//   allocation <bytes> <bytes> <bytes> <bytes>\n<id>\n<group>\n<schemata>\n<reserved>\n
//                                                             (any number)
//   monitor <bytes> <bytes> <bytes>\n<allocation id>\n<name>\n<group>\n   (any number)
//   end <CRC-32 of every byte before this line>
//
// Keys come in exactly this order and fields are separated by one space. Blob contents are never
// interpreted, so a definition holding "end" lines cannot end the record early. The checksum on
// the last line makes truncation and bit rot detectable (CRC-32 catches every single-bit error).
//
// Version 1 (resctrld 0.1) had no "groups" and no "monitor" lines, and its allocation lines held
// three blobs: group, schemata and reserved. It is read still; what it lacks is derived from the
// names that version gave its groups (GroupManager::restore).

namespace resctrld {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kMagic = "resctrld-domain";
constexpr std::string_view kRecordSuffix = ".domain";
constexpr std::string_view kCorruptSuffix = ".corrupt";
constexpr std::string_view kTempSuffix = ".tmp";

constexpr auto kCrcTable = [] {
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t i = 0; i < table.size(); ++i) {
        std::uint32_t crc = i;
        for (int bit = 0; bit < 8; ++bit)
            crc = (crc & 1u) ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
        table[i] = crc;
    }
    return table;
}();

std::system_error systemError(int error, const std::string& what) {
    return std::system_error(error, std::generic_category(), what);
}

std::string errnoText(int error) {
    return std::generic_category().message(error);
}

// ---- serialization -------------------------------------------------------------------------

void appendBlob(std::string& out, std::string_view blob) {
    out += blob;
    out += '\n';
}

// ---- parsing -------------------------------------------------------------------------------

struct ParseError {
    std::string message;
};

// What parse() learnt of the version before it failed, if anything.
struct FormatVersion {
    unsigned version = 0;
};

class Parser {
public:
    explicit Parser(std::string_view text)
        : text_(text) {}

    bool atEnd() const noexcept { return pos_ == text_.size(); }

    // The next line split at single spaces; every field non-empty.
    std::vector<std::string_view> fields(std::string_view expected) {
        lineStart_ = pos_;
        const auto newline = text_.find('\n', pos_);
        if (newline == std::string_view::npos)
            fail("truncated: expected " + std::string(expected));
        const std::string_view line = text_.substr(pos_, newline - pos_);
        std::vector<std::string_view> result;
        std::size_t start = 0;
        while (true) {
            const auto space = line.find(' ', start);
            const auto field = line.substr(
                start, space == std::string_view::npos ? std::string_view::npos : space - start);
            if (field.empty())
                fail("malformed line, expected " + std::string(expected));
            result.push_back(field);
            if (space == std::string_view::npos)
                break;
            start = space + 1;
        }
        pos_ = newline + 1;
        return result;
    }

    // The next line, which must be `key` and `count` values.
    std::vector<std::string_view> keyed(std::string_view key, std::size_t count,
                                        std::string_view expected) {
        auto line = fields(expected);
        if (line[0] != key || line.size() != count + 1) {
            pos_ = lineStart_;
            fail("expected " + std::string(expected));
        }
        line.erase(line.begin());
        return line;
    }

    // The first field of the next line without consuming it; empty if there is no full line.
    std::string_view peekKey() const {
        const auto newline = text_.find('\n', pos_);
        if (newline == std::string_view::npos)
            return {};
        const auto line = text_.substr(pos_, newline - pos_);
        return line.substr(0, line.find(' '));
    }

    template <typename Unsigned> Unsigned number(std::string_view field, std::string_view what) {
        // Leading zeros are refused too, so that exactly one text stands for each record.
        const auto value = parseUnsigned<Unsigned>(field);
        if (!value || (field.size() > 1 && field[0] == '0'))
            failAtLine("bad " + std::string(what) + " '" + printable(field) + "'");
        return *value;
    }

    // A blob length: a number no bigger than what is left of the file.
    std::size_t length(std::string_view field, std::string_view what) {
        const auto value = number<std::size_t>(field, what);
        if (value > text_.size() - pos_)
            failAtLine(fmt::format("truncated: {} of {} bytes but only {} left", what, value,
                                   text_.size() - pos_));
        return value;
    }

    std::string blob(std::size_t size, std::string_view what) {
        if (size >= text_.size() - pos_)
            fail("truncated inside " + std::string(what));
        if (text_[pos_ + size] != '\n') {
            pos_ += size;
            fail("no newline after " + std::string(what) + " (wrong length?)");
        }
        std::string result(text_.substr(pos_, size));
        pos_ += size + 1;
        return result;
    }

    std::size_t lineStart() const noexcept { return lineStart_; }

    [[noreturn]] void fail(const std::string& message) const {
        throw ParseError{fmt::format("at byte {}: {}", pos_, message)};
    }
    [[noreturn]] void failAtLine(const std::string& message) const {
        throw ParseError{fmt::format("at byte {}: {}", lineStart_, message)};
    }

private:
    // A field quoted in an error message, bounded and without control bytes.
    static std::string printable(std::string_view field) {
        std::string result;
        for (const unsigned char c : field.substr(0, 32))
            result += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
        if (field.size() > 32)
            result += "...";
        return result;
    }

    std::string_view text_;
    std::size_t pos_ = 0;
    std::size_t lineStart_ = 0;
};

// The blobs of a line `key <length>...` (one length per name in `what`) and the lines after it.
std::vector<std::string> keyedBlobs(Parser& parser, std::string_view key,
                                    std::initializer_list<std::string_view> what) {
    std::string expected = "'" + std::string(key);
    for (std::size_t i = 0; i < what.size(); ++i)
        expected += " <length>";
    expected += "'";
    const auto field = parser.keyed(key, what.size(), expected);
    std::vector<std::size_t> sizes;
    std::size_t i = 0;
    for (std::string_view name : what)
        sizes.push_back(parser.length(field[i++], std::string(name) + " length"));
    std::vector<std::string> blobs;
    i = 0;
    for (std::string_view name : what)
        blobs.push_back(parser.blob(sizes[i++], name));
    return blobs;
}

DomainRecord parse(std::string_view text, FormatVersion& format) {
    if (text.empty())
        throw ParseError{"empty file"};
    // Say "not ours" rather than "truncated" for a file of other text without a newline.
    const std::string magicLine = std::string(kMagic) + " ";
    if (!text.starts_with(magicLine) && !std::string_view(magicLine).starts_with(text))
        throw ParseError{"at byte 0: not a resctrld domain record (bad magic)"};
    Parser parser(text);

    const auto magic = parser.fields("'resctrld-domain <version>'");
    if (magic[0] != kMagic)
        parser.failAtLine("not a resctrld domain record (bad magic)");
    const auto version = magic.size() == 2 ? parseUnsigned<unsigned>(magic[1]) : std::nullopt;
    if (version && *version > kStateFormatCurrent && magic[1][0] != '0') {
        format.version = *version;
        parser.failAtLine(fmt::format("format version {} is newer than this resctrld reads ({} "
                                      "to {}): written by a later resctrld",
                                      *version, kStateFormatOldest, kStateFormatCurrent));
    }
    if (!version || *version < kStateFormatOldest || magic[1][0] == '0')
        parser.failAtLine(fmt::format("unsupported format version (this resctrld reads versions "
                                      "{} to {})",
                                      kStateFormatOldest, kStateFormatCurrent));
    format.version = *version;
    const bool current = *version == kStateFormatCurrent;

    DomainRecord record;
    auto field = parser.keyed("name", 1, "'name <length>'");
    record.name = parser.blob(parser.length(field[0], "name length"), "name");
    field = parser.keyed("definition", 1, "'definition <length>'");
    record.definition = parser.blob(parser.length(field[0], "definition length"), "definition");
    field = parser.keyed("hypervisor", 2, "'hypervisor <pid> <start time>'");
    record.hypervisorPid = parser.number<std::uint32_t>(field[0], "hypervisor pid");
    record.hypervisorStartTime = parser.number<std::uint64_t>(field[1], "hypervisor start time");

    while (parser.peekKey() == "thread") {
        field = parser.keyed("thread", 3, "'thread <vcpu> <tid> <start time>'");
        ThreadRecord thread;
        thread.vcpu = parser.number<unsigned>(field[0], "vcpu");
        thread.tid = parser.number<std::uint32_t>(field[1], "tid");
        thread.startTime = parser.number<std::uint64_t>(field[2], "thread start time");
        record.threads.push_back(thread);
    }
    if (current)
        record.groupStem = std::move(keyedBlobs(parser, "groups", {"group stem"})[0]);
    while (parser.peekKey() == "allocation") {
        AllocationRecord allocation;
        if (current) {
            auto blobs = keyedBlobs(parser, "allocation", {"id", "group", "schemata", "reserved"});
            allocation.name = std::move(blobs[0]);
            blobs.erase(blobs.begin());
            allocation.group = std::move(blobs[0]);
            allocation.schemata = std::move(blobs[1]);
            allocation.reserved = std::move(blobs[2]);
        } else {
            auto blobs = keyedBlobs(parser, "allocation", {"group", "schemata", "reserved"});
            allocation.group = std::move(blobs[0]);
            allocation.schemata = std::move(blobs[1]);
            allocation.reserved = std::move(blobs[2]);
        }
        record.allocations.push_back(std::move(allocation));
    }
    while (current && parser.peekKey() == "monitor") {
        auto blobs = keyedBlobs(parser, "monitor", {"allocation id", "name", "group"});
        record.monitors.push_back({std::move(blobs[0]), std::move(blobs[1]), std::move(blobs[2])});
    }

    field = parser.keyed("end", 1,
                         current ? "'allocation', 'monitor' or 'end <checksum>'"
                                 : "'thread', 'allocation' or 'end <checksum>'");
    const auto checksum = parser.number<std::uint32_t>(field[0], "checksum");
    const auto actual = stateChecksum(text.substr(0, parser.lineStart()));
    if (checksum != actual)
        parser.failAtLine(
            fmt::format("checksum mismatch (recorded {}, contents give {})", checksum, actual));
    if (!parser.atEnd())
        parser.fail("data after the 'end' line");
    return record;
}

// ---- files ---------------------------------------------------------------------------------

UniqueFd openDirectory(const fs::path& directory) {
    UniqueFd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.isValid())
        throw systemError(errno, "cannot open state directory " + directory.string());
    return fd;
}

void syncDirectory(int directoryFd, const fs::path& directory) {
    if (::fsync(directoryFd) != 0)
        throw systemError(errno, "cannot sync state directory " + directory.string());
}

// Deletes a temporary file unless the save got as far as renaming it.
class TempFileGuard {
public:
    TempFileGuard(int directoryFd, std::string name)
        : directoryFd_(directoryFd)
        , name_(std::move(name)) {}
    TempFileGuard(const TempFileGuard&) = delete;
    TempFileGuard& operator=(const TempFileGuard&) = delete;
    ~TempFileGuard() {
        if (!name_.empty())
            ::unlinkat(directoryFd_, name_.c_str(), 0);
    }
    void dismiss() noexcept { name_.clear(); }

private:
    int directoryFd_;
    std::string name_;
};

struct DirCloser {
    void operator()(DIR* dir) const noexcept { ::closedir(dir); }
};

std::vector<std::string> listDirectory(int directoryFd, const fs::path& directory) {
    const int fd = ::fcntl(directoryFd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        throw systemError(errno, "cannot read state directory " + directory.string());
    std::unique_ptr<DIR, DirCloser> dir(::fdopendir(fd));
    if (!dir) {
        const int error = errno;
        ::close(fd);
        throw systemError(error, "cannot read state directory " + directory.string());
    }
    std::vector<std::string> names;
    while (true) {
        errno = 0;
        const dirent* entry = ::readdir(dir.get());
        if (!entry) {
            if (errno != 0)
                throw systemError(errno, "cannot read state directory " + directory.string());
            break;
        }
        const std::string_view name = entry->d_name;
        if (name != "." && name != "..")
            names.emplace_back(name);
    }
    return names;
}

// What reading one record file gives: a record, or a problem and whether the file is corrupt
// (to be moved aside) rather than unreadable right now (left in place).
struct FileResult {
    std::optional<DomainRecord> record;
    std::string problem;
    bool isCorrupt = false;
    // Written by a later resctrld: neither read nor touched.
    bool isNewer = false;
};

FileResult readRecordFile(int directoryFd, const std::string& name) {
    FileResult result;
    UniqueFd fd(::openat(directoryFd, name.c_str(),
                         O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
    if (!fd.isValid()) {
        const int error = errno;
        result.isCorrupt = error == ELOOP;
        result.problem = error == ELOOP ? "is a symbolic link" : "cannot open: " + errnoText(error);
        return result;
    }
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0) {
        result.problem = "cannot stat: " + errnoText(errno);
        return result;
    }
    if (!S_ISREG(info.st_mode)) {
        result.isCorrupt = true;
        result.problem = "not a regular file";
        return result;
    }
    if (static_cast<std::uint64_t>(info.st_size) > StateStore::kMaxFileBytes) {
        result.isCorrupt = true;
        result.problem = fmt::format("too large ({} bytes)", info.st_size);
        return result;
    }
    std::string text(static_cast<std::size_t>(info.st_size), '\0');
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t got = ::read(fd.get(), text.data() + done, text.size() - done);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            result.problem = "cannot read: " + errnoText(errno);
            return result;
        }
        if (got == 0)
            break;
        done += static_cast<std::size_t>(got);
    }
    text.resize(done);

    std::string error;
    unsigned version = 0;
    auto record = parseDomainRecord(text, error, &version);
    if (!record) {
        result.isNewer = version > kStateFormatCurrent;
        result.isCorrupt = !result.isNewer;
        result.problem = error;
        return result;
    }
    // The file name is derived from the record's name; a mismatch means the file was copied or
    // renamed by hand, and trusting it would give two files for one domain.
    if (stateFileName(record->name) != name) {
        result.isCorrupt = true;
        result.problem = "holds domain '" + record->name + "', whose file would be " +
                         stateFileName(record->name);
        return result;
    }
    result.record = std::move(record);
    return result;
}

} // namespace

std::uint32_t stateChecksum(std::string_view data) noexcept {
    std::uint32_t crc = 0xFFFFFFFFu;
    for (const unsigned char byte : data)
        crc = kCrcTable[(crc ^ byte) & 0xFFu] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

std::string encodeStateName(std::string_view name) {
    if (name.empty())
        return "_";
    constexpr std::string_view kHex = "0123456789abcdef";
    std::string result;
    result.reserve(name.size());
    for (const unsigned char c : name) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            result += static_cast<char>(c);
        } else {
            result += '_';
            result += kHex[c >> 4];
            result += kHex[c & 0xF];
        }
    }
    return result;
}

std::string stateFileName(std::string_view domainName) {
    return encodeStateName(domainName) + std::string(kRecordSuffix);
}

std::string serializeDomainRecord(const DomainRecord& record) {
    std::string out;
    out.reserve(record.name.size() + record.definition.size() + 128 + 64 * record.threads.size());
    auto appendKeyed = [&out](std::string_view key, std::initializer_list<std::string_view> blobs) {
        out += key;
        for (std::string_view blob : blobs)
            out += fmt::format(" {}", blob.size());
        out += '\n';
        for (std::string_view blob : blobs)
            appendBlob(out, blob);
    };
    out += fmt::format("{} {}\n", kMagic, kStateFormatCurrent);
    appendKeyed("name", {record.name});
    appendKeyed("definition", {record.definition});
    out += fmt::format("hypervisor {} {}\n", record.hypervisorPid, record.hypervisorStartTime);
    for (const auto& thread : record.threads)
        out += fmt::format("thread {} {} {}\n", thread.vcpu, thread.tid, thread.startTime);
    appendKeyed("groups", {record.groupStem});
    for (const auto& allocation : record.allocations)
        appendKeyed("allocation",
                    {allocation.name, allocation.group, allocation.schemata, allocation.reserved});
    for (const auto& monitor : record.monitors)
        appendKeyed("monitor", {monitor.allocation, monitor.name, monitor.group});
    out += fmt::format("end {}\n", stateChecksum(out));
    return out;
}

std::optional<DomainRecord> parseDomainRecord(std::string_view text, std::string& error,
                                              unsigned* version) {
    FormatVersion format;
    std::optional<DomainRecord> record;
    try {
        record = parse(text, format);
    } catch (ParseError& parseError) {
        error = std::move(parseError.message);
    }
    if (version)
        *version = format.version;
    return record;
}

StateStore::StateStore(fs::path directory)
    : directory_(std::move(directory)) {
    if (directory_.empty())
        throw systemError(EINVAL, "state directory not set");
    if (!directory_.has_filename()) // "/run/resctrld/"
        directory_ = directory_.parent_path();
    const auto parent = directory_.parent_path();
    if (!parent.empty()) {
        std::error_code error;
        fs::create_directories(parent, error);
        if (error)
            throw std::system_error(error, "cannot create state directory " + directory_.string());
    }
    if (::mkdir(directory_.c_str(), 0700) != 0 && errno != EEXIST)
        throw systemError(errno, "cannot create state directory " + directory_.string());
    openDirectory(directory_); // it exists and is a directory we can open
}

void StateStore::save(const DomainRecord& record) {
    const std::string fileName = stateFileName(record.name);
    const fs::path target = directory_ / fileName;
    const std::string what =
        "cannot save state of domain '" + record.name + "' to " + target.string();
    if (fileName.size() > NAME_MAX)
        throw systemError(ENAMETOOLONG, what);
    const std::string text = serializeDomainRecord(record);
    if (text.size() > kMaxFileBytes)
        throw systemError(EFBIG, what);

    const UniqueFd directoryFd = openDirectory(directory_);
    // The temporary name does not derive from the domain name, so it fits NAME_MAX whatever the
    // record's name, and starts with '.' so loadAll() never takes it for a record.
    std::string tempPath = (directory_ / ".domain-XXXXXX").string() + std::string(kTempSuffix);
    const UniqueFd fd(
        ::mkostemps(tempPath.data(), static_cast<int>(kTempSuffix.size()), O_CLOEXEC));
    if (!fd.isValid())
        throw systemError(errno, what);
    TempFileGuard guard(directoryFd.get(), fs::path(tempPath).filename().string());

    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t written = ::write(fd.get(), text.data() + done, text.size() - done);
        if (written < 0 && errno == EINTR)
            continue;
        if (written < 0)
            throw systemError(errno, what);
        done += static_cast<std::size_t>(written);
    }
    if (::fsync(fd.get()) != 0)
        throw systemError(errno, what);
    if (::renameat(directoryFd.get(), fs::path(tempPath).filename().c_str(), directoryFd.get(),
                   fileName.c_str()) != 0)
        throw systemError(errno, what);
    guard.dismiss();
    syncDirectory(directoryFd.get(), directory_);
}

void StateStore::remove(const std::string& name) {
    const std::string fileName = stateFileName(name);
    if (fileName.size() > NAME_MAX) // never saved: save() refuses such names
        return;
    const UniqueFd directoryFd = openDirectory(directory_);
    if (::unlinkat(directoryFd.get(), fileName.c_str(), 0) != 0) {
        if (errno == ENOENT)
            return;
        throw systemError(errno, "cannot remove state of domain '" + name + "' at " +
                                     (directory_ / fileName).string());
    }
    syncDirectory(directoryFd.get(), directory_);
}

StateStore::Loaded StateStore::loadAll() {
    const UniqueFd directoryFd = openDirectory(directory_);
    Loaded loaded;
    // Deleting temporary files and moving corrupt ones aside is not synced: if it is lost in a
    // crash, the next start does it again.
    for (const auto& name : listDirectory(directoryFd.get(), directory_)) {
        const auto path = (directory_ / name).string();
        if (name.starts_with(".")) {
            if (name.ends_with(kTempSuffix) && ::unlinkat(directoryFd.get(), name.c_str(), 0) != 0)
                loaded.problems.push_back(
                    path + ": cannot delete leftover temporary file: " + errnoText(errno));
            continue;
        }
        if (!name.ends_with(kRecordSuffix))
            continue;

        auto file = readRecordFile(directoryFd.get(), name);
        if (file.record) {
            loaded.records.push_back(std::move(*file.record));
            continue;
        }
        std::string problem = path + ": " + file.problem;
        if (file.isNewer) {
            loaded.newer.push_back(std::move(problem));
            continue;
        }
        if (file.isCorrupt) {
            const std::string aside = name + std::string(kCorruptSuffix);
            if (::renameat(directoryFd.get(), name.c_str(), directoryFd.get(), aside.c_str()) == 0)
                problem += "; renamed to " + aside;
            else
                problem += "; cannot rename it to " + aside + ": " + errnoText(errno);
        }
        loaded.problems.push_back(std::move(problem));
    }
    std::sort(loaded.records.begin(), loaded.records.end(),
              [](const DomainRecord& a, const DomainRecord& b) { return a.name < b.name; });
    std::sort(loaded.problems.begin(), loaded.problems.end());
    std::sort(loaded.newer.begin(), loaded.newer.end());
    return loaded;
}

std::vector<std::string> StateStore::newerRecords() const {
    const UniqueFd directoryFd = openDirectory(directory_);
    std::vector<std::string> newer;
    for (const auto& name : listDirectory(directoryFd.get(), directory_))
        if (!name.starts_with(".") && name.ends_with(kRecordSuffix))
            if (auto file = readRecordFile(directoryFd.get(), name); file.isNewer)
                newer.push_back((directory_ / name).string() + ": " + file.problem);
    std::sort(newer.begin(), newer.end());
    return newer;
}

} // namespace resctrld
