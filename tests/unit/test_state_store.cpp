// SPDX-License-Identifier: LGPL-2.1-or-later
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <system_error>

#include <catch2/catch.hpp>

#include "state_store.h"

using namespace resctrld;
namespace fs = std::filesystem;

namespace {

struct TempDir {
    fs::path path;
    TempDir() {
        char templ[] = "/tmp/resctrld-state-XXXXXX";
        const char* made = mkdtemp(templ);
        REQUIRE(made != nullptr);
        path = made;
    }
    ~TempDir() { fs::remove_all(path); }
};

std::string readFile(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void writeFile(const fs::path& path, std::string_view contents) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    REQUIRE(out);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    REQUIRE(out.good());
}

std::set<std::string> entries(const fs::path& directory) {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(directory))
        names.insert(entry.path().filename().string());
    return names;
}

bool hasTempFile(const fs::path& directory) {
    for (const auto& name : entries(directory))
        if (name.starts_with(".") && name.ends_with(".tmp"))
            return true;
    return false;
}

DomainRecord sampleRecord(std::string name) {
    DomainRecord record;
    record.name = std::move(name);
    record.definition = "<domain type='kvm'>\n  <name>vm</name>\n</domain>\nend 0\nend\n";
    record.hypervisorPid = 4242;
    record.hypervisorStartTime = 123456789012ULL;
    record.threads = {{0, 4243, 5000}, {1, 4244, 5001}, {7, 4294967295u, 18446744073709551615ULL}};
    record.groupStem = "resctrld-vm";
    record.allocations = {
        {"/sys/fs/resctrl/resctrld-vm", "L3:0=ff;1=ff\nMB:0=50\n", "L3:0=f0\n", "vcpus_0"},
        {"/sys/fs/resctrl/resctrld-vm-2", "", "end 1\n", "vcpus_1"},
    };
    record.monitors = {{"vcpus_0", "vcpus_0", "resctrld-vm/mon_groups/vcpus_0"},
                       {"", "vcpus_7", "mon_groups/resctrld-vm-vcpus_7"}};
    return record;
}

// The body of a record file followed by its correct "end" line.
std::string sealed(const std::string& body) {
    return body + "end " + std::to_string(stateChecksum(body)) + "\n";
}

const std::string kHeader = "resctrld-domain 1\nname 2\nvm\ndefinition 4\n<d/>\n";
const std::string kHeader2 = "resctrld-domain 2\nname 2\nvm\ndefinition 4\n<d/>\n";

// Makes the state directory unusable for writing although we run as root (root ignores mode
// 0500): a soft RLIMIT_FSIZE makes write() fail with EFBIG past the limit.
class FileSizeLimit {
public:
    explicit FileSizeLimit(rlim_t bytes) {
        REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_) == 0);
        oldHandler_ = std::signal(SIGXFSZ, SIG_IGN);
        rlimit limit = old_;
        limit.rlim_cur = bytes;
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
    }
    ~FileSizeLimit() {
        ::setrlimit(RLIMIT_FSIZE, &old_);
        std::signal(SIGXFSZ, oldHandler_);
    }

private:
    rlimit old_{};
    void (*oldHandler_)(int) = nullptr;
};

} // namespace

TEST_CASE("state file names are encoded like sd_bus_path_encode", "[state]") {
    CHECK(encodeStateName("") == "_");
    CHECK(encodeStateName("vm1") == "vm1");
    CHECK(encodeStateName("Web-01") == "Web_2d01");
    CHECK(encodeStateName("a/b c") == "a_2fb_20c");
    CHECK(encodeStateName("_") == "_5f");
    CHECK(encodeStateName(".") == "_2e");
    CHECK(encodeStateName("\xc3\xa9t\xc3\xa9") == "_c3_a9t_c3_a9");
    CHECK(encodeStateName(std::string("\xff\x01", 2)) == "_ff_01");
    CHECK(stateFileName("vm") == "vm.domain");
    CHECK(stateFileName("") == "_.domain");
}

TEST_CASE("state checksum is CRC-32 (IEEE)", "[state]") {
    CHECK(stateChecksum("") == 0u);
    CHECK(stateChecksum("123456789") == 0xCBF43926u);
}

TEST_CASE("a record serializes to the documented format and parses back", "[state]") {
    DomainRecord record;
    record.name = "vm";
    record.definition = "<d/>";
    record.hypervisorPid = 10;
    record.hypervisorStartTime = 20;
    record.threads = {{0, 11, 21}};
    record.groupStem = "p";
    record.allocations = {{"g", "s\n", "", "a"}};
    record.monitors = {{"a", "m", "g/mon_groups/m"}, {"", "n", "mon_groups/p-n"}};
    const std::string body = kHeader2 + "hypervisor 10 20\nthread 0 11 21\ngroups 1\np\n" +
                             "allocation 1 1 2 0\na\ng\ns\n\n\n" +
                             "monitor 1 1 14\na\nm\ng/mon_groups/m\n" +
                             "monitor 0 1 14\n\nn\nmon_groups/p-n\n";
    const std::string text = serializeDomainRecord(record);
    CHECK(text == sealed(body));

    std::string error;
    unsigned version = 0;
    const auto parsed = parseDomainRecord(text, error, &version);
    INFO(error);
    REQUIRE(parsed);
    CHECK(*parsed == record);
    CHECK(version == 2);

    const auto sample = sampleRecord("x");
    const auto again = parseDomainRecord(serializeDomainRecord(sample), error);
    REQUIRE(again);
    CHECK(*again == sample);
}

TEST_CASE("a version 1 record is read: its groups by path, without ids, stem or monitors",
          "[state]") {
    const std::string body =
        kHeader + "hypervisor 10 20\nthread 0 11 21\n" + "allocation 1 2 0\ng\ns\n\n\n";
    std::string error;
    unsigned version = 0;
    const auto parsed = parseDomainRecord(sealed(body), error, &version);
    INFO(error);
    REQUIRE(parsed);
    CHECK(version == 1);
    CHECK(parsed->name == "vm");
    CHECK(parsed->threads == std::vector<ThreadRecord>{{0, 11, 21}});
    CHECK(parsed->groupStem.empty());
    CHECK(parsed->allocations == std::vector<AllocationRecord>{{"g", "s\n", "", ""}});
    CHECK(parsed->monitors.empty());
    // Version 2's lines are not version 1's.
    CHECK_FALSE(parseDomainRecord(sealed(kHeader + "hypervisor 10 20\ngroups 1\np\n"), error));
    CHECK_FALSE(
        parseDomainRecord(sealed(kHeader + "hypervisor 10 20\nmonitor 0 1 1\n\nm\ng\n"), error));
}

TEST_CASE("the record a resctrld of format version 1 wrote is read as it was", "[state]") {
    TempDir temp;
    const fs::path fixture = fs::path(RESCTRLD_TEST_DATA) / "state" / "web_2001.domain";
    fs::copy_file(fixture, temp.path / "web_2001.domain");
    StateStore store(temp.path);
    const auto loaded = store.loadAll();
    CHECK(loaded.problems.empty());
    CHECK(loaded.newer.empty());
    REQUIRE(loaded.records.size() == 1);
    const DomainRecord& record = loaded.records[0];
    CHECK(record.name == "web 01");
    CHECK_THAT(record.definition, Catch::Contains("<cachetune vcpus='0-1'>"));
    CHECK(record.hypervisorPid == 4242);
    CHECK(record.hypervisorStartTime == 123456);
    CHECK(record.threads ==
          std::vector<ThreadRecord>{{0, 4243, 123460}, {1, 4244, 123461}, {2, 4245, 123462}});
    CHECK(record.allocations == std::vector<AllocationRecord>{{"resctrld-web_01~d7984988-vcpus_0-1",
                                                               "L3:0=3;1=7ff\n", "L3:0=3\n", ""}});
    CHECK(record.groupStem.empty());
    CHECK(record.monitors.empty());
    // Read, not rewritten: the file stays as that version wrote it until the domain changes.
    CHECK(readFile(temp.path / "web_2001.domain") == readFile(fixture));
}

TEST_CASE("the parser refuses everything but the exact format", "[state]") {
    std::string error;
    REQUIRE(parseDomainRecord(sealed(kHeader + "hypervisor 10 20\n"), error));

    const std::vector<std::string> bad = {
        sealed("resctrld-domain 2\nname 2\nvm\ndefinition 4\n<d/>\nhypervisor 10 20\n"),
        sealed("resctrld-domain 1 x\nname 2\nvm\ndefinition 4\n<d/>\nhypervisor 10 20\n"),
        sealed("resctrld-domain\nname 2\nvm\ndefinition 4\n<d/>\nhypervisor 10 20\n"),
        sealed("libvirt-domain 1\nname 2\nvm\ndefinition 4\n<d/>\nhypervisor 10 20\n"),
        sealed("resctrld-domain 1\nname 3\nvm\ndefinition 4\n<d/>\nhypervisor 10 20\n"),
        sealed("resctrld-domain 1\nname 1\nvm\ndefinition 4\n<d/>\nhypervisor 10 20\n"),
        sealed("resctrld-domain 1\nname 02\nvm\ndefinition 4\n<d/>\nhypervisor 10 20\n"),
        sealed("resctrld-domain 1\nname 99999\nvm\ndefinition 4\n<d/>\nhypervisor 10 20\n"),
        sealed("resctrld-domain 1\nname 18446744073709551616\nvm\n"),
        sealed("resctrld-domain 1\nname -2\nvm\ndefinition 4\n<d/>\nhypervisor 10 20\n"),
        sealed("resctrld-domain 1\ndefinition 4\n<d/>\nname 2\nvm\nhypervisor 10 20\n"),
        sealed("resctrld-domain 1\nname 2\nvm\nhypervisor 10 20\n"),
        sealed(kHeader),
        sealed(kHeader + "hypervisor 10\n"),
        sealed(kHeader + "hypervisor 10 20 30\n"),
        sealed(kHeader + "hypervisor 10  20\n"),
        sealed(kHeader + "hypervisor 10 20 \n"),
        sealed(kHeader + " hypervisor 10 20\n"),
        sealed(kHeader + "hypervisor 10 2O\n"),
        sealed(kHeader + "hypervisor +10 20\n"),
        sealed(kHeader + "hypervisor 0x10 20\n"),
        sealed(kHeader + "hypervisor 4294967296 20\n"),
        sealed(kHeader + "hypervisor 10 18446744073709551616\n"),
        sealed(kHeader + "hypervisor 10 20\r\n"),
        sealed(kHeader + "hypervisor 10 20\nhypervisor 10 20\n"),
        sealed(kHeader + "hypervisor 10 20\nthread 0 1\n"),
        sealed(kHeader + "hypervisor 10 20\nthread 0 1 2 3\n"),
        sealed(kHeader + "hypervisor 10 20\nthread 4294967296 1 2\n"),
        sealed(kHeader + "hypervisor 10 20\nthread 0 -1 2\n"),
        sealed(kHeader + "hypervisor 10 20\nthread 00 1 2\n"),
        sealed(kHeader + "hypervisor 10 20\nthreads 0 1 2\n"),
        sealed(kHeader + "hypervisor 10 20\nallocation 1 0 0\ng\n\n\nthread 0 1 2\n"),
        sealed(kHeader + "hypervisor 10 20\nallocation 1 0\ng\n\n"),
        sealed(kHeader + "hypervisor 10 20\nallocation 2 0 0\ng\n\n\n"),
        sealed(kHeader + "hypervisor 10 20\nallocation 1 0 0\ng\n\n"),
        sealed(kHeader + "hypervisor 10 20\nallocation 1 0 5\ng\n\n\n"),
        sealed(kHeader + "hypervisor 10 20\ncomment hello\n"),
        sealed(kHeader + "hypervisor 10 20\n") + "x",
        sealed(kHeader + "hypervisor 10 20\n") + "end 0\n",
        kHeader + "hypervisor 10 20\nend\n",
        kHeader + "hypervisor 10 20\nend 0\n",
        kHeader + "hypervisor 10 20\nend 4294967296\n",
        kHeader + "hypervisor 10 20\nend " +
            std::to_string(stateChecksum(kHeader + "hypervisor 10 20\n")) + " 1\n",
        kHeader + "hypervisor 10 20\nend " +
            std::to_string(stateChecksum(kHeader + "hypervisor 10 21\n")) + "\n",
        "",
        "\n",
        std::string(1000, '\n'),
        std::string("resctrld-domain 1\0\n", 19),
        "resctrld-domain 1",
        "<domain/>",
    };
    for (std::size_t i = 0; i < bad.size(); ++i) {
        INFO("case " << i << ": " << bad[i]);
        error.clear();
        CHECK_FALSE(parseDomainRecord(bad[i], error));
        CHECK_FALSE(error.empty());
    }
}

TEST_CASE("the parser rejects every single-bit flip and survives random bytes", "[state]") {
    const std::string text = serializeDomainRecord(sampleRecord("vm/one two"));
    std::string error;
    std::size_t rejected = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            std::string flipped = text;
            flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
            if (!parseDomainRecord(flipped, error))
                ++rejected;
        }
    }
    CHECK(rejected == text.size() * 8);

    // Random edits of a valid text and random byte strings: never a crash, and anything
    // accepted must be exactly the canonical text of what it parsed to.
    std::mt19937 random(20261125);
    std::uniform_int_distribution<int> byte(0, 255);
    std::size_t accepted = 0;
    for (int round = 0; round < 20000; ++round) {
        std::string input;
        if (round % 4 == 0) {
            input.resize(random() % 200);
            for (auto& c : input)
                c = static_cast<char>(byte(random));
        } else {
            input = text;
            const int edits = 1 + static_cast<int>(random() % 4);
            for (int e = 0; e < edits && !input.empty(); ++e) {
                const auto at = random() % input.size();
                switch (random() % 3) {
                case 0:
                    input[at] = static_cast<char>(byte(random));
                    break;
                case 1:
                    input.erase(at, 1 + random() % 8);
                    break;
                default:
                    input.insert(at, 1, static_cast<char>(byte(random)));
                    break;
                }
            }
        }
        if (const auto parsed = parseDomainRecord(input, error)) {
            ++accepted;
            CHECK(serializeDomainRecord(*parsed) == input);
        }
    }
    // Only edits that happened to change nothing can be accepted.
    CHECK(accepted < 200);
}

TEST_CASE("StateStore creates its directory with mode 0700", "[state]") {
    TempDir temp;
    const auto directory = temp.path / "run" / "resctrld";
    StateStore store(directory);
    CHECK(store.directory() == directory);
    struct stat info {};
    REQUIRE(::stat(directory.c_str(), &info) == 0);
    CHECK(S_ISDIR(info.st_mode));
    CHECK((info.st_mode & 07777) == 0700);
    CHECK(store.loadAll().records.empty());

    // An existing directory is used as it is.
    StateStore again(directory.string() + "/");
    CHECK(again.loadAll().problems.empty());
}

TEST_CASE("StateStore refuses a directory it cannot create", "[state]") {
    TempDir temp;
    writeFile(temp.path / "file", "x");
    CHECK_THROWS_AS(StateStore(temp.path / "file"), std::system_error);
    CHECK_THROWS_AS(StateStore(temp.path / "file" / "state"), std::system_error);
    CHECK_THROWS_AS(StateStore(temp.path / "file" / "a" / "state"), std::system_error);
    try {
        StateStore store(temp.path / "file" / "state");
        FAIL("no exception");
    } catch (const std::system_error& e) {
        CHECK_THAT(e.what(), Catch::Contains((temp.path / "file" / "state").string()));
    }
}

TEST_CASE("StateStore round-trips records with any names", "[state]") {
    TempDir temp;
    StateStore store(temp.path / "state");

    std::vector<DomainRecord> records;
    records.push_back(sampleRecord("vm/with/slashes"));
    records.push_back(sampleRecord("name with spaces"));
    records.push_back(sampleRecord("\xc3\xa9t\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac"));
    records.push_back(sampleRecord(""));
    records.push_back(sampleRecord(std::string("\x01\x7f\xff\n", 4)));
    DomainRecord bare;
    bare.name = "bare";
    records.push_back(bare); // empty definition, no threads, no allocations, pid unknown
    DomainRecord blank;
    blank.name = "blank";
    blank.definition = " \n";
    records.push_back(blank);
    DomainRecord big = sampleRecord("big");
    big.definition.assign(1u << 20, 'x');
    for (std::size_t i = 0; i < big.definition.size(); i += 61)
        big.definition[i] = '\n';
    for (unsigned vcpu = 0; vcpu < 256; ++vcpu)
        big.threads.push_back({vcpu, 10000 + vcpu, 777 + vcpu});
    records.push_back(big);

    for (const auto& record : records)
        store.save(record);

    CHECK(entries(store.directory()).size() == records.size());
    for (const auto& record : records) {
        const auto path = store.directory() / stateFileName(record.name);
        CHECK(fs::is_regular_file(path));
        struct stat info {};
        REQUIRE(::stat(path.c_str(), &info) == 0);
        CHECK((info.st_mode & 0777) == 0600);
    }

    auto expected = records;
    std::sort(expected.begin(), expected.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    const auto loaded = store.loadAll();
    CHECK(loaded.problems.empty());
    REQUIRE(loaded.records.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i)
        CHECK(loaded.records[i] == expected[i]);

    // A second store on the same directory (the restarted daemon) sees the same.
    StateStore restarted(temp.path / "state");
    CHECK(restarted.loadAll().records == expected);
}

TEST_CASE("saving a record again replaces it", "[state]") {
    TempDir temp;
    StateStore store(temp.path);
    auto record = sampleRecord("vm");
    store.save(record);
    record.threads.pop_back();
    record.allocations.clear();
    record.definition = "<domain/>";
    store.save(record);

    CHECK(entries(temp.path) == std::set<std::string>{"vm.domain"});
    const auto loaded = store.loadAll();
    CHECK(loaded.problems.empty());
    REQUIRE(loaded.records.size() == 1);
    CHECK(loaded.records[0] == record);
}

TEST_CASE("remove deletes a record; a missing one is fine", "[state]") {
    TempDir temp;
    StateStore store(temp.path);
    store.save(sampleRecord("a"));
    store.save(sampleRecord("b/c"));

    store.remove("b/c");
    CHECK(entries(temp.path) == std::set<std::string>{"a.domain"});
    CHECK_NOTHROW(store.remove("b/c"));
    CHECK_NOTHROW(store.remove("never saved"));
    CHECK_NOTHROW(store.remove(std::string(200, '/')));

    const auto loaded = store.loadAll();
    REQUIRE(loaded.records.size() == 1);
    CHECK(loaded.records[0].name == "a");
}

TEST_CASE("loadAll ignores other files and deletes leftover temporary files", "[state]") {
    TempDir temp;
    StateStore store(temp.path);
    store.save(sampleRecord("vm"));
    writeFile(temp.path / "resctrld.lock", "");
    writeFile(temp.path / "README", "not ours");
    writeFile(temp.path / "old.domain.corrupt", "garbage");
    writeFile(temp.path / ".hidden", "not ours either");
    writeFile(temp.path / ".hidden.domain", "not ours either");
    writeFile(temp.path / ".x.tmp", "half a record");
    writeFile(temp.path / ".domain-abc123.tmp", serializeDomainRecord(sampleRecord("other")));
    fs::create_directory(temp.path / "subdir");

    const auto loaded = store.loadAll();
    CHECK(loaded.problems.empty());
    REQUIRE(loaded.records.size() == 1);
    CHECK(loaded.records[0] == sampleRecord("vm"));
    CHECK(entries(temp.path) == std::set<std::string>{"vm.domain", "resctrld.lock", "README",
                                                      "old.domain.corrupt", ".hidden",
                                                      ".hidden.domain", "subdir"});
    CHECK(readFile(temp.path / "old.domain.corrupt") == "garbage");
}

TEST_CASE("every truncation of a record is reported and moved aside", "[state]") {
    TempDir temp;
    StateStore store(temp.path);
    store.save(sampleRecord("other"));
    auto record = sampleRecord("vm/1");
    record.definition = "<domain>\nend\n</domain>";
    const std::string text = serializeDomainRecord(record);
    const auto file = temp.path / stateFileName(record.name);
    const auto aside = fs::path(file.string() + ".corrupt");

    for (std::size_t length = 0; length < text.size(); ++length) {
        INFO("prefix of " << length << " of " << text.size() << " bytes");
        writeFile(file, text.substr(0, length));
        const auto loaded = store.loadAll();
        REQUIRE(loaded.records.size() == 1);
        CHECK(loaded.records[0].name == "other");
        REQUIRE(loaded.problems.size() == 1);
        CHECK_THAT(loaded.problems[0], Catch::StartsWith(file.string() + ": "));
        CHECK_THAT(loaded.problems[0], Catch::Contains("renamed to vm_2f1.domain.corrupt"));
        CHECK_FALSE(fs::exists(file));
        REQUIRE(fs::exists(aside));
        CHECK(readFile(aside) == text.substr(0, length));
        // Not read again.
        CHECK(store.loadAll().problems.empty());
        fs::remove(aside);
    }

    writeFile(file, text);
    const auto loaded = store.loadAll();
    CHECK(loaded.problems.empty());
    CHECK(loaded.records.size() == 2);
}

TEST_CASE("loadAll rejects bad magic, flipped bits and foreign records", "[state]") {
    TempDir temp;
    StateStore store(temp.path);
    store.save(sampleRecord("vm"));
    const auto file = temp.path / "vm.domain";
    const std::string good = readFile(file);

    SECTION("a bit-flipped number") {
        auto text = good;
        const auto at = text.find("thread 1 4244 ");
        REQUIRE(at != std::string::npos);
        text[at + 9] = static_cast<char>(text[at + 9] ^ 0x01); // tid 4244 -> 5244
        REQUIRE(text != good);
        writeFile(file, text);
        const auto loaded = store.loadAll();
        CHECK(loaded.records.empty());
        REQUIRE(loaded.problems.size() == 1);
        CHECK_THAT(loaded.problems[0], Catch::Contains("checksum mismatch"));
        CHECK(fs::exists(temp.path / "vm.domain.corrupt"));
    }
    SECTION("bad magic") {
        writeFile(file, "<domain type='kvm'/>\n");
        const auto loaded = store.loadAll();
        CHECK(loaded.records.empty());
        REQUIRE(loaded.problems.size() == 1);
        CHECK_THAT(loaded.problems[0], Catch::Contains("bad magic"));
        CHECK(readFile(temp.path / "vm.domain.corrupt") == "<domain type='kvm'/>\n");
    }
    SECTION("a newer format version is left where it is, untouched") {
        auto text = good;
        text.replace(0, 17, "resctrld-domain 3");
        writeFile(file, text);
        CHECK(store.newerRecords().size() == 1);
        const auto loaded = store.loadAll();
        CHECK(loaded.records.empty());
        CHECK(loaded.problems.empty());
        REQUIRE(loaded.newer.size() == 1);
        CHECK_THAT(loaded.newer[0], Catch::Contains("vm.domain") && Catch::Contains("version 3"));
        CHECK(readFile(file) == text);
        CHECK_FALSE(fs::exists(temp.path / "vm.domain.corrupt"));
    }
    SECTION("a valid record under another domain's file name") {
        fs::rename(file, temp.path / "vm2.domain");
        const auto loaded = store.loadAll();
        CHECK(loaded.records.empty());
        REQUIRE(loaded.problems.size() == 1);
        CHECK_THAT(loaded.problems[0], Catch::Contains("vm2.domain"));
        CHECK(fs::exists(temp.path / "vm2.domain.corrupt"));
    }
    SECTION("a directory or a symbolic link named like a record") {
        fs::create_directory(temp.path / "dir.domain");
        fs::create_symlink(file, temp.path / "link.domain");
        const auto loaded = store.loadAll();
        REQUIRE(loaded.records.size() == 1);
        CHECK(loaded.problems.size() == 2);
        CHECK(fs::is_directory(temp.path / "dir.domain.corrupt"));
        CHECK(fs::is_symlink(temp.path / "link.domain.corrupt"));
    }
    SECTION("an empty file") {
        writeFile(file, "");
        const auto loaded = store.loadAll();
        CHECK(loaded.records.empty());
        REQUIRE(loaded.problems.size() == 1);
        CHECK_THAT(loaded.problems[0], Catch::Contains("empty"));
    }
}

TEST_CASE("a failed save throws and keeps the previous record", "[state]") {
    TempDir temp;
    StateStore store(temp.path / "state");
    const auto old = sampleRecord("vm");
    store.save(old);
    const auto file = store.directory() / "vm.domain";
    const std::string oldText = readFile(file);
    auto changed = old;
    changed.definition.assign(4096, 'y');

    SECTION("the write fails part way (file size limit)") {
        {
            FileSizeLimit limit(100);
            try {
                store.save(changed);
                FAIL("save succeeded past RLIMIT_FSIZE");
            } catch (const std::system_error& e) {
                CHECK(e.code() == std::errc::file_too_large);
                CHECK_THAT(e.what(), Catch::Contains(file.string()));
            }
        }
        CHECK(readFile(file) == oldText);
        CHECK_FALSE(hasTempFile(store.directory()));
        const auto loaded = store.loadAll();
        CHECK(loaded.problems.empty());
        REQUIRE(loaded.records.size() == 1);
        CHECK(loaded.records[0] == old);
    }
    SECTION("the directory's path now leads through a regular file") {
        const auto moved = temp.path / "moved";
        fs::rename(store.directory(), moved);
        writeFile(store.directory(), "not a directory");
        CHECK_THROWS_AS(store.save(changed), std::system_error);
        CHECK(readFile(moved / "vm.domain") == oldText);
        CHECK_FALSE(hasTempFile(moved));
    }
    SECTION("the rename fails (a directory is in the way)") {
        store.remove("vm");
        fs::create_directories(file / "sub");
        try {
            store.save(changed);
            FAIL("save replaced a directory");
        } catch (const std::system_error& e) {
            CHECK_THAT(e.what(), Catch::Contains(file.string()));
        }
        CHECK(fs::is_directory(file / "sub"));
        CHECK_FALSE(hasTempFile(store.directory()));
    }
    SECTION("the name is too long for a file name") {
        auto longName = old;
        longName.name = std::string(100, '/');
        try {
            store.save(longName);
            FAIL("save accepted a name longer than NAME_MAX once encoded");
        } catch (const std::system_error& e) {
            CHECK(e.code() == std::errc::filename_too_long);
        }
        CHECK(entries(store.directory()) == std::set<std::string>{"vm.domain"});
    }
}
