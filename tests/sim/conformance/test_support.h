// SPDX-License-Identifier: LGPL-2.1-or-later
// Expected-text builders for the conformance tests: they encode docs/kernel.md §4.6 (schemata read
// format) and §5.4 (cpus formats) independently of the simulator.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "profile_facts.h"
#include "sim_instance.h"

namespace resctrld::simtest {

inline bool isOldKernel(const SimOptions& o) {
    return o.kernel == "6.1";
}
inline bool isCdp(const SimOptions& o) {
    return o.mountOptions.find("cdp") != std::string::npos &&
           o.mountOptions.find("cdpl2") == std::string::npos;
}
inline bool isMbaMbps(const SimOptions& o) {
    return o.mountOptions.find("mba_MBps") != std::string::npos;
}

inline std::string hex(uint64_t v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
    return buf;
}

// Allocation flavours for behaviours that need L3 CAT: two profiles x two kernel formats.
inline std::vector<SimOptions> l3Flavours() {
    return {{"skx-2s-l3cat", "6.15", "", false},
            {"skx-2s-l3cat", "6.1", "", false},
            {"milan-2s", "6.15", "", false},
            {"milan-2s", "6.1", "", false}};
}

// Builds the expected schemata (or size) text of one group, docs/kernel.md §4.6.
class SchemataText {
public:
    SchemataText(const ProfileFacts& facts, const SimOptions& options)
        : facts_(facts)
        , options_(options) {
        for (unsigned id : facts.l3Ids) {
            if (facts.hasL3Cat) {
                code_[id] = facts.cbmMask;
                data_[id] = facts.cbmMask;
            }
            if (facts.hasMb)
                mb_[id] = isMbaMbps(options) ? 4294967295ull : facts.mbMax;
        }
    }
    SchemataText& l3(unsigned id, uint32_t mask) {
        code_[id] = mask;
        data_[id] = mask;
        return *this;
    }
    SchemataText& l3All(uint32_t mask) {
        for (auto& [id, v] : data_)
            l3(id, mask);
        return *this;
    }
    SchemataText& l3Code(unsigned id, uint32_t mask) {
        code_[id] = mask;
        return *this;
    }
    SchemataText& l3Data(unsigned id, uint32_t mask) {
        data_[id] = mask;
        return *this;
    }
    SchemataText& mb(unsigned id, uint64_t value) {
        mb_[id] = value;
        return *this;
    }

    // Name width: a CDP-capable resource counts as name + 4 (all L3s of our profiles are
    // CDP-capable); otherwise the longest enabled name.
    unsigned nameWidth() const { return facts_.hasL3Cat ? 6 : 2; }

    std::string schemata() const { return render(false); }
    std::string size() const { return render(true); }

private:
    std::string cbm(uint32_t mask, bool asSize) const {
        if (asSize)
            return std::to_string(facts_.granularity() *
                                  static_cast<uint64_t>(__builtin_popcount(mask)));
        std::string h = hex(mask);
        if (isOldKernel(options_) && h.size() < facts_.dataWidth())
            h.insert(0, facts_.dataWidth() - h.size(), '0');
        return h;
    }
    std::string mbv(uint64_t v, bool asSize) const {
        std::string d = std::to_string(v);
        if (!asSize && isOldKernel(options_) && d.size() < facts_.dataWidth())
            d.insert(0, facts_.dataWidth() - d.size(), ' ');
        return d;
    }
    std::string line(const std::string& name, const std::map<unsigned, std::string>& v) const {
        std::string s(nameWidth() > name.size() ? nameWidth() - name.size() : 0, ' ');
        s += name + ":";
        bool first = true;
        for (const auto& [id, value] : v) {
            if (!first)
                s += ";";
            first = false;
            s += std::to_string(id) + "=" + value;
        }
        return s + "\n";
    }
    std::string render(bool asSize) const {
        // Reverse resource order, DATA before CODE (docs/kernel.md §4.6).
        std::string out;
        if (facts_.hasMb) {
            std::map<unsigned, std::string> m;
            for (auto [id, v] : mb_)
                m[id] = mbv(v, asSize);
            out += line("MB", m);
        }
        if (facts_.hasL3Cat) {
            std::map<unsigned, std::string> d, c;
            for (auto [id, v] : data_)
                d[id] = cbm(v, asSize);
            for (auto [id, v] : code_)
                c[id] = cbm(v, asSize);
            if (isCdp(options_)) {
                out += line("L3DATA", d);
                out += line("L3CODE", c);
            } else {
                out += line("L3", d);
            }
        }
        return out;
    }

    const ProfileFacts& facts_;
    SimOptions options_;
    std::map<unsigned, uint32_t> code_, data_;
    std::map<unsigned, uint64_t> mb_;
};

// A profile file (tests/sim/README.md format) in a temporary directory that lives as long as
// the object; its path() is what SimOptions::profile takes.
class ProfileFile {
public:
    explicit ProfileFile(const std::string& text) {
        char tmpl[] = "/tmp/sim-profile-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir_ = tmpl;
        std::ofstream(dir_ / "host.ini") << text;
    }
    ~ProfileFile() { std::filesystem::remove_all(dir_); }
    ProfileFile(const ProfileFile&) = delete;
    ProfileFile& operator=(const ProfileFile&) = delete;
    std::string path() const { return (dir_ / "host.ini").string(); }

private:
    std::filesystem::path dir_;
};

// "L3:0=f;1=f;..." for every L3 domain of a profile.
inline std::string l3AllLine(const ProfileFacts& facts, uint32_t mask,
                             const std::string& name = "L3") {
    std::string s = name + ":";
    for (size_t i = 0; i < facts.l3Ids.size(); ++i)
        s += (i ? ";" : "") + std::to_string(facts.l3Ids[i]) + "=" + hex(mask);
    return s + "\n";
}

// %*pb of docs/kernel.md §5.4.
inline std::string cpuMask(unsigned nrCpus, const std::vector<unsigned>& cpus) {
    const unsigned chunks = (nrCpus + 31) / 32;
    std::vector<uint32_t> words(chunks, 0);
    for (unsigned c : cpus)
        words[c / 32] |= 1u << (c % 32);
    std::string out;
    for (unsigned i = chunks; i-- > 0;) {
        unsigned digits = 8;
        if (i == chunks - 1 && nrCpus % 32)
            digits = (nrCpus % 32 + 3) / 4;
        char buf[16];
        std::snprintf(buf, sizeof buf, "%0*x", static_cast<int>(digits), words[i]);
        out += buf;
        if (i)
            out += ",";
    }
    return out + "\n";
}

#define REQUIRE_STATUS(sim, text) REQUIRE(lastCmdStatus(sim) == std::string(text))
#define CHECK_STATUS(sim, text) CHECK(lastCmdStatus(sim) == std::string(text))

} // namespace resctrld::simtest
