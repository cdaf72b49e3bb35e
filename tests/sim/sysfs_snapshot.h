// Test helper: a sysfs tree as a map from relative path to what is there ("dir", or the
// file's content), for comparing the tree the simulator serves with one written as files.
#pragma once

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "sysfs_model.h"

namespace resctrlsim::test {

using SysfsSnapshot = std::map<std::string, std::string>;

inline const std::string kSnapshotDir = "<dir>";

// Every entry under `root`, recursively; anything but a directory or a regular file (a
// symlink, a device) is recorded as such, so that it cannot pass for either.
inline SysfsSnapshot snapshotOf(const std::filesystem::path& root) {
    namespace fs = std::filesystem;
    SysfsSnapshot out;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        const std::string rel = fs::relative(e.path(), root).string();
        const auto status = e.symlink_status();
        if (fs::is_directory(status)) {
            out[rel] = kSnapshotDir;
        } else if (fs::is_regular_file(status)) {
            std::ifstream in(e.path(), std::ios::binary);
            std::ostringstream content;
            content << in.rdbuf();
            out[rel] = content.str();
        } else {
            out[rel] = "<not a file or directory>";
        }
    }
    return out;
}

// The same for the model, walking it from its root with list() and read().
inline SysfsSnapshot snapshotOf(const SysfsModel& model) {
    SysfsSnapshot out;
    auto walk = [&](auto& self, SysfsModel::Ino dir, const std::string& prefix) -> void {
        for (const auto& e : model.list(dir)) {
            const std::string rel = prefix.empty() ? e.name : prefix + "/" + e.name;
            if (model.isDirectory(e.ino)) {
                out[rel] = kSnapshotDir;
                self(self, e.ino, rel);
            } else {
                out[rel] = model.read(e.ino);
            }
        }
    };
    walk(walk, SysfsModel::kRoot, "");
    return out;
}

// The first path where two snapshots differ, with both sides, or "" when they are equal:
// a readable failure instead of two maps of ten thousand entries.
inline std::string firstDifference(const SysfsSnapshot& expected, const SysfsSnapshot& actual) {
    auto e = expected.begin();
    auto a = actual.begin();
    for (; e != expected.end() && a != actual.end(); ++e, ++a)
        if (e->first != a->first || e->second != a->second)
            return "expected " + e->first + " = '" + e->second + "', got " + a->first + " = '" +
                   a->second + "'";
    if (e != expected.end())
        return "missing " + e->first;
    if (a != actual.end())
        return "unexpected " + a->first;
    return "";
}

} // namespace resctrlsim::test
