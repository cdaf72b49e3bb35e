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

// One resctrl group a domain owns. The texts are opaque to the store (they may contain newlines).
struct AllocationRecord {
    std::string group;    // group path
    std::string schemata; // schemata text written to the group
    std::string reserved; // schemata text of what the allocator reserved for it
    friend bool operator==(const AllocationRecord&, const AllocationRecord&) = default;
};

// What the daemon must remember about a started domain to survive kill -9 and a restart
//.
struct DomainRecord {
    std::string name;                // any bytes but NUL ('/', spaces and UTF-8 included)
    std::string definition;          // the definition XML exactly as the caller gave it
    std::uint32_t hypervisorPid = 0; // 0 = unknown
    std::uint64_t hypervisorStartTime = 0;
    std::vector<ThreadRecord> threads;
    std::vector<AllocationRecord> allocations;
    friend bool operator==(const DomainRecord&, const DomainRecord&) = default;
};

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
    };
    // Every record in the directory. A corrupt or truncated file is not returned: it gives one
    // line in `problems` and is renamed to <file>.corrupt so it is not read again. Temporary
    // files left by a crash are deleted. Files that are not records (the daemon's
    // "resctrld.lock", *.corrupt, anything else) are ignored. Throws std::system_error only if
    // the directory itself cannot be read.
    Loaded loadAll();

private:
    std::filesystem::path directory_;
};

// The record file's name for a domain: "<encoded>.domain", where <encoded> keeps [A-Za-z0-9] and
// writes every other byte as '_' and two lowercase hex digits, like sd_bus_path_encode (so any
// name maps to one safe file name and back); the empty name is "_".
std::string encodeStateName(std::string_view name);
std::string stateFileName(std::string_view domainName);

// The file format, exposed for tests. serializeDomainRecord() gives the complete file contents;
// parseDomainRecord() accepts exactly that and nothing else: on any other input (arbitrary bytes
// included) it returns std::nullopt and sets `error` to what is wrong and where.
std::string serializeDomainRecord(const DomainRecord& record);
std::optional<DomainRecord> parseDomainRecord(std::string_view text, std::string& error);

// CRC-32 (IEEE 802.3, as zlib's crc32()) of `data`: the checksum on a record's "end" line.
std::uint32_t stateChecksum(std::string_view data) noexcept;

} // namespace resctrld
