// Unit tests of the sysfs tree the simulator serves (no FUSE, no root): for every built-in
// profile it equals the tree the file writer produces, entry for entry and byte for byte.
#include <cstdlib>
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "profile.h"
#include "sysfs_model.h"
#include "sysfs_snapshot.h"
#include "sysfs_tree.h"

using namespace resctrlsim;
using namespace resctrlsim::test;
namespace fs = std::filesystem;

namespace {

// A temporary directory, on tmpfs where there is one (thousands of small files), removed with
// everything in it.
class TempDir {
public:
    TempDir() {
        const fs::path top =
            fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
        std::string tmpl = (top / "sim-sysfs-unit.XXXXXX").string();
        if (!::mkdtemp(tmpl.data()))
            throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

} // namespace

TEST_CASE("the served sysfs tree equals the written one on every built-in profile",
          "[sim][sysfs]") {
    const std::string name = GENERATE(from_range(builtinProfileNames()));
    INFO(name);
    const Profile profile = *builtinProfile(name);
    TempDir dir;
    writeSysfsTree(profile, dir.path().string());
    const SysfsSnapshot written = snapshotOf(dir.path());
    const SysfsSnapshot served = snapshotOf(SysfsModel(profile));
    // Not vacuous: every CPU has its 4 cache indexes of 5 files.
    REQUIRE(written.size() > profile.cpus * 4 * 5);
    CHECK(firstDifference(written, served) == "");
    CHECK(written.size() == served.size());
}

TEST_CASE("the served sysfs tree finds by name exactly what it lists", "[sim][sysfs]") {
    const SysfsModel model(*builtinProfile("gnr-2s-snc3"));
    auto at = [&](std::initializer_list<std::string_view> names) {
        std::optional<SysfsModel::Ino> ino = SysfsModel::kRoot;
        for (auto n : names)
            if (ino)
                ino = model.lookup(*ino, n);
        return ino;
    };
    const auto cpu383 = at({"devices", "system", "cpu", "cpu383", "cache", "index3", "id"});
    REQUIRE(cpu383);
    CHECK(model.read(*cpu383) == "1\n");
    CHECK_FALSE(model.isDirectory(*cpu383));
    CHECK(model.list(*cpu383).empty());
    const auto node5 = at({"devices", "system", "node", "node5", "cpulist"});
    REQUIRE(node5);
    CHECK(model.read(*node5) == "160-191,352-383\n");
    // Names the kernel would not have: beyond the host, with leading zeros or signs, unknown.
    CHECK_FALSE(at({"devices", "system", "cpu", "cpu384"}));
    CHECK_FALSE(at({"devices", "system", "cpu", "cpu01"}));
    CHECK_FALSE(at({"devices", "system", "cpu", "cpu+1"}));
    CHECK_FALSE(at({"devices", "system", "cpu", "cpu"}));
    CHECK_FALSE(at({"devices", "system", "cpu", "cpu0", "cache", "index4"}));
    CHECK_FALSE(at({"devices", "system", "cpu", "cpu0", "cache", "index0", "ways"}));
    CHECK_FALSE(at({"devices", "system", "node", "node6"}));
    CHECK_FALSE(at({"devices", "system", "cpu", "online", "x"}));
    CHECK_FALSE(model.exists(~SysfsModel::Ino{0}));
    // Without NUMA nodes in the profile there is no node directory.
    const SysfsModel skx(*builtinProfile("skx-2s-l3cat"));
    const auto system = skx.lookup(*skx.lookup(SysfsModel::kRoot, "devices"), "system");
    REQUIRE(system);
    CHECK_FALSE(skx.lookup(*system, "node"));
    CHECK(skx.lookup(*system, "cpu"));
}
