// SPDX-License-Identifier: LGPL-2.1-or-later
// The one builder of libvirt domain definitions the end-to-end tests send to the daemon:
//
//     Domain("vm1").vcpus(4).cachetune("0-1", l3(0, 5_MiB) + monitor("1")).str()
//
// Elements go under <cputune>, or with inMetadata() under the resctrld namespace in <metadata>
// (docs/definitions.md, "The metadata form"); status() wraps the domain in a <domstatus> as
// libvirt's status files have it. Tests that need a malformed document write it by hand.
#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace resctrld::e2e {

// A cache size in KiB, as the definitions carry it (unit='KiB').
struct CacheSize {
    std::uint64_t kib = 0;
};

inline constexpr CacheSize operator""_KiB(unsigned long long kib) {
    return {kib};
}
inline constexpr CacheSize operator""_MiB(unsigned long long mib) {
    return {mib * 1024};
}

// <cache id=.. level=.. type=.. size=.. unit='KiB'/>: `type` is both, code or data.
inline std::string cache(unsigned level, unsigned id, CacheSize size,
                         const std::string& type = "both") {
    return "<cache id='" + std::to_string(id) + "' level='" + std::to_string(level) + "' type='" +
           type + "' size='" + std::to_string(size.kib) + "' unit='KiB'/>";
}
inline std::string l3(unsigned id, CacheSize size, const std::string& type = "both") {
    return cache(3, id, size, type);
}
inline std::string l2(unsigned id, CacheSize size, const std::string& type = "both") {
    return cache(2, id, size, type);
}

// A cache monitor (<monitor level='3' .../>), as a <cachetune> holds it.
inline std::string monitor(const std::string& vcpus) {
    return "<monitor level='3' vcpus='" + vcpus + "'/>";
}
// A memory bandwidth monitor (<monitor vcpus=.../>, no level), as a <memorytune> holds it.
inline std::string memoryMonitor(const std::string& vcpus) {
    return "<monitor vcpus='" + vcpus + "'/>";
}
// <node id=.. bandwidth=../>: a memorytune's MB percentage (or MBps) on one node.
inline std::string node(unsigned id, unsigned bandwidth) {
    return "<node id='" + std::to_string(id) + "' bandwidth='" + std::to_string(bandwidth) + "'/>";
}

inline std::string cachetuneXml(const std::string& vcpus, const std::string& content) {
    return "<cachetune vcpus='" + vcpus + "'>" + content + "</cachetune>";
}
inline std::string memorytuneXml(const std::string& vcpus, const std::string& content) {
    return "<memorytune vcpus='" + vcpus + "'>" + content + "</memorytune>";
}

class Domain {
public:
    explicit Domain(std::string name)
        : name_(std::move(name)) {}

    Domain& vcpus(unsigned count) {
        vcpus_ = count;
        return *this;
    }
    Domain& uuid(std::string value) {
        uuid_ = std::move(value);
        return *this;
    }
    // The <domain type=...> attribute; "kvm" unless changed, empty for none.
    Domain& type(std::string value) {
        type_ = std::move(value);
        return *this;
    }
    Domain& cachetune(const std::string& vcpus, const std::string& content) {
        tuning_ += cachetuneXml(vcpus, content);
        return *this;
    }
    Domain& memorytune(const std::string& vcpus, const std::string& content) {
        tuning_ += memorytuneXml(vcpus, content);
        return *this;
    }
    // Tuning elements written by hand (an unusual shape), appended as they are.
    Domain& tuning(const std::string& xml) {
        tuning_ += xml;
        return *this;
    }
    // Elements after the tuning inside <domain> (devices, a padding comment), as they are.
    Domain& append(const std::string& xml) {
        trailer_ += xml;
        return *this;
    }
    // The tuning goes into <metadata><rd:cputune xmlns:rd='urn:resctrld:cputune:1'> instead of
    // <cputune>; the elements carry no namespace prefix, which the daemon accepts.
    Domain& inMetadata() {
        inMetadata_ = true;
        return *this;
    }
    // Wrapped in <domstatus state='running' reason='booted' pid=..> with a <vcpus> list of
    // (vcpu, tid) pairs, as libvirt's status file of a running domain.
    Domain& status(pid_t hypervisorPid, std::vector<std::pair<unsigned, pid_t>> threads) {
        statusPid_ = hypervisorPid;
        statusThreads_ = std::move(threads);
        return *this;
    }

    unsigned vcpuCount() const { return vcpus_; }

    std::string str() const {
        std::string xml = type_.empty() ? "<domain>" : "<domain type='" + type_ + "'>";
        xml += "<name>" + name_ + "</name>";
        if (!uuid_.empty())
            xml += "<uuid>" + uuid_ + "</uuid>";
        xml += "<vcpu placement='static'>" + std::to_string(vcpus_) + "</vcpu>";
        if (inMetadata_)
            xml += "<metadata><rd:cputune xmlns:rd='urn:resctrld:cputune:1'>" + tuning_ +
                   "</rd:cputune></metadata>";
        else
            xml += "<cputune>" + tuning_ + "</cputune>";
        xml += trailer_ + "</domain>";
        if (statusPid_ < 0)
            return xml;
        std::string vcpus;
        for (const auto& [vcpu, tid] : statusThreads_)
            vcpus += "<vcpu id='" + std::to_string(vcpu) + "' pid='" + std::to_string(tid) + "'/>";
        return "<domstatus state='running' reason='booted' pid='" + std::to_string(statusPid_) +
               "'><vcpus>" + vcpus + "</vcpus>" + xml + "</domstatus>";
    }
    operator std::string() const { return str(); }

private:
    std::string name_;
    std::string type_ = "kvm";
    std::string uuid_;
    unsigned vcpus_ = 2;
    std::string tuning_;
    std::string trailer_;
    bool inMetadata_ = false;
    pid_t statusPid_ = -1;
    std::vector<std::pair<unsigned, pid_t>> statusThreads_;
};

} // namespace resctrld::e2e
