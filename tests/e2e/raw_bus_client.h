// SPDX-License-Identifier: LGPL-2.1-or-later
// A D-Bus client written by hand, for bytes sd-bus would never send (invalid UTF-8, wrong
// signatures): the hostile-input tests use it to show what the bus lets through to the daemon.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <system_error>
#include <unistd.h>

#include "dbus_names.h"
#include "harness.h"

namespace resctrld::e2e {

// The wire format (D-Bus specification, "Message Format"), little endian.
class Marshal {
public:
    void align(std::size_t n) {
        while (bytes_.size() % n != 0)
            bytes_.push_back('\0');
    }
    void byte(std::uint8_t value) { bytes_.push_back(static_cast<char>(value)); }
    void u32(std::uint32_t value) {
        align(4);
        char raw[4];
        std::memcpy(raw, &value, 4); // the test runs on little-endian x86 and says so ('l')
        bytes_.append(raw, 4);
    }
    void str(const std::string& value) {
        u32(static_cast<std::uint32_t>(value.size()));
        bytes_ += value;
        bytes_.push_back('\0');
    }
    void sig(const std::string& value) {
        byte(static_cast<std::uint8_t>(value.size()));
        bytes_ += value;
        bytes_.push_back('\0');
    }
    void patchU32(std::size_t at, std::uint32_t value) { std::memcpy(&bytes_[at], &value, 4); }
    std::string& bytes() { return bytes_; }

private:
    std::string bytes_;
};

inline std::string methodCallBytes(std::uint32_t serial, const std::string& destination,
                                   const std::string& path, const std::string& interface,
                                   const std::string& member, const std::string& signature,
                                   const std::string& body) {
    Marshal m;
    m.byte('l');
    m.byte(1); // METHOD_CALL
    m.byte(0);
    m.byte(1); // protocol version
    m.u32(static_cast<std::uint32_t>(body.size()));
    m.u32(serial);
    m.u32(0); // header field array length, patched below
    const std::size_t lengthAt = m.bytes().size() - 4;
    m.align(8);
    const std::size_t start = m.bytes().size();
    auto field = [&](std::uint8_t code, const std::string& type, const std::string& value) {
        m.align(8);
        m.byte(code);
        m.sig(type);
        if (type == "g")
            m.sig(value);
        else
            m.str(value);
    };
    field(1, "o", path);
    field(2, "s", interface);
    field(3, "s", member);
    field(6, "s", destination);
    if (!signature.empty())
        field(8, "g", signature);
    m.patchU32(lengthAt, static_cast<std::uint32_t>(m.bytes().size() - start));
    m.align(8);
    return m.bytes() + body;
}

// A client connection to the private bus that speaks the protocol itself: authenticated
// (EXTERNAL) and registered (Hello) when the constructor returns.
class RawBusClient {
public:
    explicit RawBusClient(const std::string& address) {
        const std::string prefix = "unix:path=";
        if (address.rfind(prefix, 0) != 0)
            throw std::runtime_error("not a unix:path address: " + address);
        const std::string path = address.substr(prefix.size(), address.find(',') - prefix.size());
        fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0)
            throw std::system_error(errno, std::generic_category(), "socket");
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
        if (connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
            throw std::system_error(errno, std::generic_category(), "connect " + path);
        std::string uid = std::to_string(getuid()), hex;
        for (unsigned char c : uid) {
            char buffer[3];
            std::snprintf(buffer, sizeof buffer, "%02x", c);
            hex += buffer;
        }
        send(std::string(1, '\0') + "AUTH EXTERNAL " + hex + "\r\n");
        const std::string reply = readUntil("\r\n");
        if (reply.rfind("OK ", 0) != 0)
            throw std::runtime_error("the bus refused EXTERNAL authentication: " + reply);
        send("BEGIN\r\n");
        send(methodCallBytes(serial_++, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                             "org.freedesktop.DBus", "Hello", "", ""));
        // The reply carries our unique name ":1.N".
        readUntil(":1.");
    }
    ~RawBusClient() {
        if (fd_ >= 0)
            close(fd_);
    }
    RawBusClient(const RawBusClient&) = delete;
    RawBusClient& operator=(const RawBusClient&) = delete;

    void call(const std::string& path, const std::string& interface, const std::string& member,
              const std::string& signature, const std::string& body) {
        send(methodCallBytes(serial_++, kService, path, interface, member, signature, body));
    }

    // Everything received until `marker` appears; throws at EOF or the deadline.
    std::string readUntil(const std::string& marker) {
        const auto deadline = Clock::now() + kDeadline;
        while (received_.find(marker) == std::string::npos) {
            const int n = readSome(deadline);
            if (n <= 0)
                throw std::runtime_error("no '" + marker + "' from the bus (" +
                                         (n == 0 ? "disconnected" : "deadline") + ")");
        }
        return received_;
    }

    // True once the bus closed the connection (EOF or a reset); false at the deadline.
    bool waitDisconnected() {
        const auto deadline = Clock::now() + kDeadline;
        for (;;) {
            const int n = readSome(deadline);
            if (n == 0)
                return true;
            if (n < 0)
                return false;
        }
    }

private:
    void send(const std::string& data) {
        std::size_t done = 0;
        while (done < data.size()) {
            const ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                throw std::system_error(errno, std::generic_category(), "send to the bus");
            }
            done += static_cast<std::size_t>(n);
        }
    }

    // >0: bytes read; 0: the peer closed (or reset) the connection; -1: the deadline passed.
    int readSome(Clock::time_point deadline) {
        for (;;) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() <= 0)
                return -1;
            pollfd pfd{fd_, POLLIN, 0};
            if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0)
                continue;
            char buffer[4096];
            const ssize_t n = read(fd_, buffer, sizeof buffer);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == ECONNRESET)
                return 0;
            if (n < 0)
                throw std::system_error(errno, std::generic_category(), "read from the bus");
            received_.append(buffer, static_cast<std::size_t>(n));
            return static_cast<int>(n);
        }
    }

    int fd_ = -1;
    std::uint32_t serial_ = 1;
    std::string received_;
};

} // namespace resctrld::e2e
