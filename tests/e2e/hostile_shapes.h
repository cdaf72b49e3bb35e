// SPDX-License-Identifier: LGPL-2.1-or-later
// Definitions of the largest size the daemon accepts (1 MiB), shaped to make the checks of a
// definition as expensive as they can be: many disjoint single-vCPU cachetunes, one cachetune
// with many single-vCPU monitors, many memorytunes over the same vCPUs, vCPU lists written
// element by element ("0,1,2,..."), many caches or nodes in one element, and a status document
// listing every vCPU thread. Each comes once beyond the element limits (refused by count) and,
// where a limit applies, once at them (checked in full). The hostile-input tests send them to
// ValidateDomain; the benchmark times them against libxml2 alone.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "domain_builder.h"

namespace resctrld::e2e::hostile {

inline constexpr std::size_t kDocumentBytes = 1024 * 1024; // the largest definition accepted
inline constexpr unsigned kVcpus = 16384;                  // the most vCPUs a definition names

// "first,first+1,...": a vCPU list written element by element.
inline std::string listOf(unsigned first, unsigned count) {
    std::string text;
    for (unsigned v = first; v < first + count; ++v)
        text += (v == first ? "" : ",") + std::to_string(v);
    return text;
}

// One way of cache `id` (2.5 MiB on skx-2s-l3cat).
inline std::string cache(unsigned id) {
    return l3(id, 2560_KiB);
}

// Half the bandwidth of node `id`.
inline std::string halfBandwidth(unsigned id) {
    return node(id, 50);
}

// Appends `piece(i)` for i = 0, 1, ... while the whole stays within `room` bytes and i < limit.
template <typename F>
std::string repeated(std::size_t room, F piece, unsigned limit = ~0U, std::string text = {}) {
    for (unsigned i = 0; i < limit; ++i) {
        std::string next = piece(i);
        if (text.size() + next.size() > room)
            break;
        text += next;
    }
    return text;
}

// Room for the tuning in a document: the frame and a little slack for closing tags.
inline constexpr std::size_t kRoom = kDocumentBytes - 512;

// A domain of 16384 vCPUs of exactly kDocumentBytes: `body` inside <cputune> (or, for a status
// document, `status` before the domain), then padding as a large domain has it: disks in
// <devices> (elements libxml2 must build and the daemon skips), and a comment for the last bytes.
inline std::string document(const std::string& body, const std::string& status = "") {
    const auto domain = [&](const std::string& devices) {
        return Domain("big").vcpus(kVcpus).tuning(body).append(devices).str();
    };
    const std::string open = status.empty() ? "" : "<domstatus pid='1'>" + status;
    const std::string close = status.empty() ? "" : "</domstatus>";
    const std::size_t bare =
        open.size() + domain("<devices></devices><!---->").size() + close.size();
    if (bare > kDocumentBytes)
        throw std::logic_error("a hostile shape outgrew its document");
    const std::string disks = repeated(kDocumentBytes - bare, [](unsigned i) {
        const std::string n = std::to_string(i);
        return "<disk type='file' device='disk'><source file='/var/lib/libvirt/images/d" + n +
               ".qcow2'/><target dev='vd" + n + "' bus='virtio'/></disk>";
    });
    return open +
           domain("<devices>" + disks + "</devices><!--" +
                  std::string(kDocumentBytes - bare - disks.size(), 'x') + "-->") +
           close;
}

struct HostileShape {
    std::string name;
    std::string xml;
    // Empty: any answer with a documented name will do; else the InvalidDefinition message's gist.
    std::string refusal;
};

inline std::vector<HostileShape> hostileShapes() {
    std::vector<HostileShape> shapes;
    shapes.push_back(
        {"disjoint single-vCPU cachetunes filling 1 MiB",
         document(
             repeated(kRoom, [](unsigned i) { return cachetuneXml(std::to_string(i), cache(0)); })),
         "<cachetune> elements; resctrld accepts at most 256"});
    shapes.push_back({"256 cachetunes of 64 vCPUs written element by element, 4 monitors each",
                      document(repeated(
                          kRoom,
                          [](unsigned i) {
                              std::string content = cache(0);
                              for (unsigned m = 0; m < 4; ++m)
                                  content += monitor(std::to_string(i * 64 + m));
                              return cachetuneXml(listOf(i * 64, 64), content);
                          },
                          256)),
                      ""});
    shapes.push_back({"one cachetune with single-vCPU monitors filling 1 MiB",
                      document(repeated(
                                   kRoom, [](unsigned i) { return monitor(std::to_string(i)); },
                                   kVcpus, "<cachetune vcpus='0-16383'>" + cache(0)) +
                               "</cachetune>"),
                      "<monitor> elements; resctrld accepts at most 1024"});
    shapes.push_back(
        {"one cachetune over 16384 vCPUs written element by element, 1024 monitors "
         "of 16 vCPUs written element by element",
         document(repeated(
                      kRoom, [](unsigned i) { return monitor(listOf(i * 16, 16)); }, 1024,
                      "<cachetune vcpus='" + listOf(0, kVcpus) + "'>" + cache(0)) +
                  "</cachetune>"),
         ""});
    shapes.push_back(
        {"memorytunes over the same vCPUs filling 1 MiB",
         document(
             repeated(kRoom, [](unsigned i) { return memorytuneXml("0-15", halfBandwidth(i)); })),
         "<memorytune> elements; resctrld accepts at most 256"});
    shapes.push_back({"256 memorytunes over the same 512 vCPUs written element by element, 2 "
                      "monitors each",
                      document(repeated(
                          kRoom,
                          [](unsigned i) {
                              return memorytuneXml(listOf(0, 512),
                                                   halfBandwidth(i) +
                                                       memoryMonitor(std::to_string(2 * i)) +
                                                       memoryMonitor(std::to_string(2 * i + 1)));
                          },
                          256)),
                      ""});
    shapes.push_back({"one cachetune over 16384 vCPUs written element by element with caches "
                      "filling 1 MiB",
                      document(repeated(
                                   kRoom, [](unsigned i) { return cache(i); }, ~0U,
                                   "<cachetune vcpus='" + listOf(0, kVcpus) + "'>") +
                               "</cachetune>"),
                      ""});
    shapes.push_back({"one memorytune with nodes filling 1 MiB",
                      document(repeated(
                                   kRoom, [](unsigned i) { return halfBandwidth(i); }, ~0U,
                                   "<memorytune vcpus='0-16383'>") +
                               "</memorytune>"),
                      ""});
    shapes.push_back({"a status document listing every vCPU thread",
                      document("", "<vcpus>" +
                                       repeated(
                                           kRoom,
                                           [](unsigned i) {
                                               return "<vcpu id='" + std::to_string(i) + "' pid='" +
                                                      std::to_string(i + 100) + "'/>";
                                           },
                                           kVcpus) +
                                       "</vcpus>"),
                      ""});
    return shapes;
}

} // namespace resctrld::e2e::hostile
