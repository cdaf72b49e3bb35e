// SPDX-License-Identifier: LGPL-2.1-or-later
#include "proc_events.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <optional>
#include <poll.h>
#include <sys/socket.h>
#include <system_error>

namespace resctrld {
namespace {

[[noreturn]] void throwErrno(int error, const char* what) {
    throw std::system_error(error, std::generic_category(), what);
}

// Where the connector message and its payload sit in a netlink message.
constexpr std::size_t kConnectorOffset = NLMSG_HDRLEN;
constexpr std::size_t kPayloadOffset = kConnectorOffset + sizeof(cn_msg);

// The event of one received message, when it is a process event of the connector.
std::optional<proc_event> eventOf(const unsigned char* data, std::size_t size) {
    if (size < kPayloadOffset + offsetof(proc_event, event_data))
        return std::nullopt;
    cn_msg message;
    std::memcpy(&message, data + kConnectorOffset, sizeof message);
    if (message.id.idx != CN_IDX_PROC || message.id.val != CN_VAL_PROC)
        return std::nullopt;
    proc_event event{};
    std::memcpy(&event, data + kPayloadOffset, std::min(sizeof event, size - kPayloadOffset));
    return event;
}

} // namespace

ProcEvents::ProcEvents(std::chrono::milliseconds ackTimeout)
    : fd_(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR)) {
    if (!fd_.isValid())
        throwErrno(errno, "cannot open the process events connector");
    sockaddr_nl address{};
    address.nl_family = AF_NETLINK;
    address.nl_groups = CN_IDX_PROC;
    // Joining the group needs CAP_NET_ADMIN: EPERM here without it.
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
        throwErrno(errno, "cannot join the process events connector");
    // The kernel's events are large; a burst of forks elsewhere on the host must not drop ours.
    const int size = 1 << 20;
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    send(PROC_CN_MCAST_LISTEN);

    // The acknowledgement: a PROC_EVENT_NONE carrying the error of the request. None comes
    // where the kernel ignores listeners (another user or PID namespace).
    const auto deadline = std::chrono::steady_clock::now() + ackTimeout;
    for (;;) {
        alignas(nlmsghdr) unsigned char buffer[1024];
        const ssize_t n = ::recv(fd_.get(), buffer, sizeof buffer, 0);
        if (n >= 0) {
            const auto event = eventOf(buffer, static_cast<std::size_t>(n));
            if (event && event->what == proc_event::PROC_EVENT_NONE) {
                if (event->event_data.ack.err != 0)
                    throwErrno(static_cast<int>(event->event_data.ack.err),
                               "the kernel refused process events");
                followProcesses({});
                return;
            }
            continue; // another event, before the acknowledgement
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            throwErrno(errno, "cannot read the process events connector");
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            throwErrno(ETIMEDOUT, "the kernel did not acknowledge the process events request (a "
                                  "user or PID namespace other than the host's?)");
        pollfd p{fd_.get(), POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(left.count()));
    }
}

void ProcEvents::followProcesses(const std::vector<pid_t>& tgids) {
    // Every start, update and thread change asks again, mostly for the same processes.
    if (followed_ == tgids)
        return;
    // Classic BPF over the netlink message: the event's type, then its process against each of
    // `tgids`. Absolute loads read big-endian words, the connector writes host-endian ones:
    // constants are compared byte-swapped (htonl).
    constexpr std::uint32_t kWhat = kPayloadOffset + offsetof(proc_event, what);
    constexpr std::uint32_t kForkTgid =
        kPayloadOffset + offsetof(proc_event, event_data.fork.child_tgid);
    constexpr std::uint32_t kTaskTgid =
        kPayloadOffset + offsetof(proc_event, event_data.comm.process_tgid);
    static_assert(offsetof(proc_event, event_data.exit.process_tgid) ==
                  offsetof(proc_event, event_data.comm.process_tgid));
    // Jumps are 8 bits: beyond this many processes, every thread event passes.
    constexpr std::size_t kMaxCompared = 200;
    const bool all = tgids.size() > kMaxCompared;
    const auto n = static_cast<std::uint8_t>(all ? 0 : tgids.size());
    auto word = [](std::uint32_t value) {
        return htonl(value);
    };
    std::vector<sock_filter> program{
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kWhat),
        // The acknowledgement of a subscription always passes.
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, word(proc_event::PROC_EVENT_NONE), 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, word(proc_event::PROC_EVENT_FORK), 0, 2),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kForkTgid),
        BPF_JUMP(BPF_JMP | BPF_JA, 3, 0, 0), // to the comparisons
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, word(proc_event::PROC_EVENT_COMM), 1, 0),
        // Any other type: to the "drop" after the comparisons.
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, word(proc_event::PROC_EVENT_EXIT), 0,
                 static_cast<std::uint8_t>(all ? 2 : n + 1)),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kTaskTgid),
    };
    // Here A holds the event's process: pass when it is one of tgids.
    if (all) {
        program.push_back(BPF_STMT(BPF_RET | BPF_K, 0xffffffff));
        program.push_back(BPF_STMT(BPF_RET | BPF_K, 0));
    } else {
        for (std::size_t i = 0; i < tgids.size(); ++i)
            program.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                       word(static_cast<std::uint32_t>(tgids[i])),
                                       static_cast<std::uint8_t>(n - i), 0));
        program.push_back(BPF_STMT(BPF_RET | BPF_K, 0));
        program.push_back(BPF_STMT(BPF_RET | BPF_K, 0xffffffff));
    }
    sock_fprog filter{static_cast<unsigned short>(program.size()), program.data()};
    if (::setsockopt(fd_.get(), SOL_SOCKET, SO_ATTACH_FILTER, &filter, sizeof filter) != 0)
        throwErrno(errno, "cannot filter the process events");
    followed_ = tgids;
}

ProcEvents::~ProcEvents() {
    try {
        send(PROC_CN_MCAST_IGNORE);
    } catch (const std::system_error&) {
        // Closing the socket ends the subscription anyway; the kernel only counts listeners.
    }
}

void ProcEvents::send(int operation) {
    // Exactly the netlink header, the connector message and the operation: the kernel checks the
    // connector message's length against the operation's.
    alignas(nlmsghdr) unsigned char buffer[kPayloadOffset + sizeof(proc_cn_mcast_op)] = {};
    nlmsghdr header{};
    header.nlmsg_len = sizeof buffer;
    header.nlmsg_type = NLMSG_DONE;
    cn_msg message{};
    message.id.idx = CN_IDX_PROC;
    message.id.val = CN_VAL_PROC;
    message.len = sizeof(proc_cn_mcast_op);
    const auto op = static_cast<proc_cn_mcast_op>(operation);
    std::memcpy(buffer, &header, sizeof header);
    std::memcpy(buffer + kConnectorOffset, &message, sizeof message);
    std::memcpy(buffer + kPayloadOffset, &op, sizeof op);
    if (::send(fd_.get(), buffer, sizeof buffer, 0) != static_cast<ssize_t>(sizeof buffer))
        throwErrno(errno, "cannot subscribe to process events");
}

ProcEvents::Batch ProcEvents::read() {
    Batch batch;
    for (;;) {
        alignas(nlmsghdr) unsigned char buffer[1024];
        const ssize_t n = ::recv(fd_.get(), buffer, sizeof buffer, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOBUFS) {
                batch.lost = true;
                continue;
            }
            if (errno == EAGAIN)
                return batch;
            throwErrno(errno, "cannot read the process events connector");
        }
        const auto received = eventOf(buffer, static_cast<std::size_t>(n));
        if (!received)
            continue;
        const proc_event& event = *received;
        switch (event.what) {
        case proc_event::PROC_EVENT_FORK:
            // A new process has child_pid == child_tgid; only new threads matter here.
            if (event.event_data.fork.child_pid != event.event_data.fork.child_tgid)
                batch.events.push_back({ProcEvent::Kind::Fork, event.event_data.fork.child_pid,
                                        event.event_data.fork.child_tgid});
            break;
        case proc_event::PROC_EVENT_COMM:
            batch.events.push_back({ProcEvent::Kind::Comm, event.event_data.comm.process_pid,
                                    event.event_data.comm.process_tgid});
            break;
        case proc_event::PROC_EVENT_EXIT:
            batch.events.push_back({ProcEvent::Kind::Exit, event.event_data.exit.process_pid,
                                    event.event_data.exit.process_tgid});
            break;
        default:
            break;
        }
    }
}

} // namespace resctrld
