// The --sysfs tree as readers see it through the mount equals the tree the file writer
// produces for the same profile: entry for entry, byte for byte.
// Needs root and /dev/fuse (fails loudly without).
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "profile.h"
#include "sim_instance.h"
#include "sysfs_model.h"
#include "sysfs_snapshot.h"
#include "sysfs_tree.h"

using namespace resctrld::simtest;
using namespace resctrlsim;
using namespace resctrlsim::test;
namespace fs = std::filesystem;

namespace {

// One built-in profile per distinct tree (the turin-2s kernel variants, for one, share theirs):
// the unit tests compare every profile's served tree with the written one without FUSE; here
// each distinct tree is read once through the mount, which is what takes the time.
std::vector<std::string> profilesWithDistinctTrees() {
    std::vector<std::string> names;
    std::set<SysfsSnapshot> seen;
    for (const auto& name : builtinProfileNames())
        if (seen.insert(snapshotOf(SysfsModel(*builtinProfile(name)))).second)
            names.push_back(name);
    return names;
}

} // namespace

TEST_CASE("the mounted sysfs tree reads as the written one on every built-in host shape",
          "[sim][sysfs]") {
    const std::string name = GENERATE(from_range(profilesWithDistinctTrees()));
    INFO(name);
    const Profile profile = *builtinProfile(name);
    SimInstance sim({name, profile.defaultKernel, "", true});
    // The reference tree, written beside the mount (on tmpfs like it when there is one).
    const fs::path written = sim.sysfsDir().string() + ".written";
    writeSysfsTree(profile, written.string());
    const SysfsSnapshot expected = snapshotOf(written);
    fs::remove_all(written);
    const SysfsSnapshot served = snapshotOf(sim.sysfsDir());
    REQUIRE(expected.size() > profile.cpus * 4 * 5);
    CHECK(firstDifference(expected, served) == "");
    CHECK(expected.size() == served.size());
    // Read-only: what reads it cannot change it.
    const fs::path online = sim.sysfsDir() / "devices/system/cpu/online";
    CHECK(writeFile(online, "0\n") == EROFS);
    CHECK(makeDir(sim.sysfsDir() / "devices/system/cpu/cpu9999") == EROFS);
    struct stat st {};
    REQUIRE(::stat(online.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0644);
    CHECK(static_cast<size_t>(st.st_size) == expected.at("devices/system/cpu/online").size());
}

TEST_CASE("the sysfs tree is unmounted when the simulator stops", "[sim][sysfs]") {
    SimInstance sim({"gnr-2s-snc3", "6.15", "", true});
    const fs::path cpu0 = sim.sysfsDir() / "devices/system/cpu/cpu0";
    REQUIRE(fs::is_directory(cpu0));
    CHECK(sim.stop() == 0);
    CHECK_FALSE(fs::exists(cpu0));
    CHECK(fs::is_empty(sim.sysfsDir()));
}
