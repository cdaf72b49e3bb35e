// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace resctrld {

// One vCPU thread of a started domain, as it was when attached.
struct ThreadRecord {
    unsigned vcpu = 0;
    std::uint32_t tid = 0;
    // /proc/<tid>/stat field 22: with the tid it names the thread uniquely, so after a restart a
    // reused tid is not mistaken for the recorded thread.
    std::uint64_t startTime = 0;
    friend bool operator==(const ThreadRecord&, const ThreadRecord&) = default;
};

// An allocation group of a domain, by its libvirt allocation id. The texts are opaque to the
// store (they may contain newlines).
struct AllocationRecord {
    std::string group;    // group path, relative to the resctrl root
    std::string schemata; // schemata text written to the group
    std::string reserved; // schemata text of what the allocator reserved for it
    std::string name;     // libvirt's allocation id, `vcpus_<list>`; empty in a version 1 record
    friend bool operator==(const AllocationRecord&, const AllocationRecord&) = default;
};

// A monitoring group a domain created, by its monitor's name and the allocation it lives in.
struct MonitorRecord {
    std::string allocation; // the allocation's id; empty for a monitor group under the root
    std::string name;       // libvirt's monitor name, `vcpus_<list>`
    std::string group;      // group path, relative to the resctrl root
    friend bool operator==(const MonitorRecord&, const MonitorRecord&) = default;
};

// What the daemon must remember about a started domain to survive kill -9, a restart and an
// upgrade: the groups it uses are the recorded ones, whatever a later version would name them.
struct DomainRecord {
    std::string name;                // any bytes but NUL ('/', spaces and UTF-8 included)
    std::string definition;          // the definition XML exactly as the caller gave it
    std::uint32_t hypervisorPid = 0; // 0 = unknown
    std::uint64_t hypervisorStartTime = 0;
    std::vector<ThreadRecord> threads;
    // The stem of the domain's group names (prefix and name, GroupManager::groupStem); empty in
    // a version 1 record, whose groups were named with the 32-bit hash of that time.
    std::string groupStem;
    std::vector<AllocationRecord> allocations;
    // Every monitoring group the domain created (none in a version 1 record: they were named
    // after its allocation groups then).
    std::vector<MonitorRecord> monitors;
    friend bool operator==(const DomainRecord&, const DomainRecord&) = default;
};

// The record format versions: every one a resctrld ever wrote is read; a newer one (written by a
// later resctrld, then downgraded) is never touched.
inline constexpr unsigned kStateFormatOldest = 1;
inline constexpr unsigned kStateFormatCurrent = 2;

// Keeps one file per started domain in the state directory (the daemon uses /run/resctrld; a
// constructor argument so tests use a temporary directory). Every change is durable before the
// call returns. Not thread-safe: the daemon's event loop owns it.
class StateStore {
public:
    // Files bigger than this are refused on save and reported as corrupt on load, so a damaged
    // file cannot make the daemon allocate without bound. Definitions are at most 1 MiB.
    static constexpr std::size_t kMaxFileBytes = 64u << 20;

    // Creates the directory (mode 0700; missing parents with default modes) if it is missing.
    // Throws std::system_error if it cannot be created or is not a directory.
    explicit StateStore(std::filesystem::path directory);

    const std::filesystem::path& directory() const noexcept { return directory_; }

    // Atomic replace: writes a temporary file in the directory, fsyncs it, renames it over the
    // record's file and fsyncs the directory. Throws std::system_error (with the path in what())
    // on failure; the previous record is then intact and no temporary file is left behind.
    // (Only if the final fsync of the directory fails is the new record already in place.)
    void save(const DomainRecord& record);

    // Removes the record of `name` (unlink + fsync of the directory). A missing record is fine.
    // Throws std::system_error on other failures.
    void remove(const std::string& name);

    struct Loaded {
        std::vector<DomainRecord> records; // sorted by name
        std::vector<std::string> problems; // one line per unusable file, naming it
        // Records of a format newer than kStateFormatCurrent, one line each naming the file and
        // its version: left in place, untouched (see newerRecords()).
        std::vector<std::string> newer;
    };
    // Every record in the directory. A corrupt or truncated file is not returned: it gives one
    // line in `problems` and is renamed to <file>.corrupt so it is not read again. Temporary
    // files left by a crash are deleted. Files that are not records (the daemon's
    // "resctrld.lock", *.corrupt, anything else) are ignored. Throws std::system_error only if
    // the directory itself cannot be read.
    Loaded loadAll();

    // The records written by a newer resctrld (one line each, naming the file and its format
    // version), without changing anything: a daemon that finds one must not start, since it
    // would take that domain's groups for strays. Throws std::system_error only if the
    // directory itself cannot be read.
    std::vector<std::string> newerRecords() const;

private:
    std::filesystem::path directory_;
};

// The record file's name for a domain: "<encoded>.domain", where <encoded> keeps [A-Za-z0-9] and
// writes every other byte as '_' and two lowercase hex digits, like sd_bus_path_encode (so any
// name maps to one safe file name and back); the empty name is "_".
std::string encodeStateName(std::string_view name);
std::string stateFileName(std::string_view domainName);

// The file format, exposed for tests. serializeDomainRecord() gives the complete file contents in
// the current format; parseDomainRecord() accepts exactly what some version wrote and nothing
// else: on any other input (arbitrary bytes included) it returns std::nullopt and sets `error` to
// what is wrong and where. `version`, when given, is set to the file's format version whenever
// its first line names one (a newer one included, which is then an error).
std::string serializeDomainRecord(const DomainRecord& record);
std::optional<DomainRecord> parseDomainRecord(std::string_view text, std::string& error,
                                              unsigned* version = nullptr);

// CRC-32 (IEEE 802.3, as zlib's crc32()) of `data`: the checksum on a record's "end" line.
std::uint32_t stateChecksum(std::string_view data) noexcept;

} // namespace resctrld
