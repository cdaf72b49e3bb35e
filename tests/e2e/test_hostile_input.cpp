// SPDX-License-Identifier: LGPL-2.1-or-later
// Hostile input end to end: the real resctrld on a private bus over
// resctrlfs-sim, one domain already started so that there is state to damage, and every method of
// every interface called with what a careless or malicious client can send: wrong signatures
// (built with the low-level message API, so the signature on the wire really is wrong), huge
// strings, invalid UTF-8 (written as raw wire bytes: sd-bus refuses to build such a message),
// odd but valid names, and thread ids that are not a hypervisor's (PID 1, kernel threads, the
// daemon itself, another process, ids that do not exist).
//
// After every hostile call: the reply is an error with the expected name (docs/api.md "Errors",
// or sd-bus's own for a signature the object does not declare) and a message; the simulator's
// whole tree (every directory and every file's content) and the daemon's state directory are
// exactly as before; the daemon still runs and answers; its view (ListDomains, the domain's
// objects and properties) is unchanged.

#include "hostile_fixture.h"

using namespace resctrld::e2e;
using namespace resctrld::e2e::hostile_input;

TEST_CASE("Names made of odd but valid UTF-8 start with safe groups or are refused",
          "[e2e][sim][hostile]") {
    Fixture f;
    const auto before = f.snapshot();
    const auto topLevelBefore = [&] {
        std::set<std::string> names;
        for (const auto& entry : fs::directory_iterator(f.dir.path()))
            names.insert(entry.path().filename().string());
        return names;
    }();
    struct Name {
        std::string label;
        std::string name;    // what the daemon should see
        std::string written; // as it stands in the XML
    };
    std::vector<Name> names;
    auto plain = [&](const std::string& label, const std::string& name) {
        names.push_back({label, name, xmlEscape(name)});
    };
    plain("a slash", "/");
    plain("a path", "a/b");
    plain("dot-dot", "..");
    plain("dot", ".");
    plain("a climbing path", "../../../../etc/passwd");
    plain("an emoji", "\U0001f427");
    plain("emoji and spaces", "vm \U0001f427 1");
    plain("only spaces", "   ");
    plain("a tab", "\t");
    plain("a newline inside", "vm\nB");
    plain("XML specials", "a<b>&c'\"d");
    plain("a right-to-left override", "vm\u202e1");
    plain("a zero-width joiner", "vm\u200d1");
    plain("a no-break space", "vm\u00a01");
    plain("the name of vm1's group", "resctrld-vm1-vcpus_0-1");
    plain("info", "info");
    plain("mon_groups", "mon_groups");
    plain("a glob", "*");
    plain("a tilde", "~");
    plain("shell syntax", "$(touch /tmp/pwned);`id`");
    plain("a percent format", "%s%n%x");
    plain("a 255-byte name", std::string(255, 'a'));
    plain("a 250-byte name", std::string(250, 'b'));
    plain("an empty name", "");
    // XML 1.0 forbids these characters, raw and as references: the parser must refuse them.
    names.push_back({"a raw control character", "\x01", "\x01"});
    names.push_back({"a raw escape sequence", "\x1b[31mred", "\x1b[31mred"});
    names.push_back({"a control character reference", "\x01", "&#x1;"});
    names.push_back({"a DEL character", "vm\x7f", "vm\x7f"});

    unsigned started = 0, refused = 0;
    const std::regex safeComponent("resctrld-[A-Za-z0-9_.~-]+");
    for (const auto& [label, name, written] : names) {
        INFO(label << ": '" << printable(name) << "'");
        std::optional<sdbus::Error> error;
        std::string path;
        try {
            auto reply = f.call(kRootPath, kManager, "StartDomain",
                                {str(tuned(written).str()), threads(f.spare.threadsOf({0, 1}))});
            sdbus::ObjectPath object;
            reply >> object;
            path = object;
        } catch (const sdbus::Error& e) {
            error = e;
        }
        if (error) {
            ++refused;
            INFO(error->getName() << ": " << printable(error->getMessage()));
            CHECK(error->getName() == kInvalidDefinition);
            CHECK_FALSE(error->getMessage().empty());
            f.log += "odd name " + label + " -> " + error->getName() + ": " +
                     error->getMessage().substr(0, 200) + "\n";
        } else {
            ++started;
            f.log += "odd name " + label + " -> started at " + path + "\n";
            CHECK(path == std::string(kRootPath) + "/domain/" + pathEncode(name));
            CHECK(f.get<std::string>(path, kDomain, "Name") == name);
            auto reply = f.call(kRootPath, kManager, "GetDomain", {str(name)});
            sdbus::ObjectPath got;
            reply >> got;
            CHECK(std::string(got) == path);
            // Its groups: new directories, each one component under the root (or a monitor
            // group under one of them), made of safe characters.
            std::set<std::string> groups;
            for (const auto& p :
                 f.get<std::vector<sdbus::ObjectPath>>(path, kDomain, "Allocations"))
                groups.insert(f.get<std::string>(p, kAllocation, "Group"));
            for (const auto& p : f.get<std::vector<sdbus::ObjectPath>>(path, kDomain, "Monitors"))
                groups.insert(f.get<std::string>(p, kMonitor, "Group"));
            CHECK_FALSE(groups.empty());
            for (const std::string& group : groups) {
                INFO("group " << printable(group));
                std::vector<std::string> parts;
                std::istringstream split(group);
                for (std::string part; std::getline(split, part, '/');)
                    parts.push_back(part);
                const bool shape =
                    parts.size() == 1 || (parts.size() == 3 && parts[1] == "mon_groups");
                CHECK(shape);
                CHECK(std::regex_match(parts[0], safeComponent));
                CHECK(parts[0].size() <= NAME_MAX);
                CHECK(fs::is_directory(f.sim.root() / group));
                CHECK(!before.count(parts[0] + "/"));
                if (parts.size() == 3) {
                    CHECK(parts[2].size() <= NAME_MAX);
                    CHECK(std::regex_match(parts[2], std::regex("[A-Za-z0-9_.~-]+")));
                }
                if (parts.size() == 1)
                    CHECK(simtest::readTasks(f.sim.at(group) / "tasks") ==
                          std::set<pid_t>{f.spare.tid(0), f.spare.tid(1)});
            }
            // Nothing outside the resctrl root and the state directory: the state directory
            // holds plain files only, and the test's directory has nothing new.
            for (const auto& entry : fs::recursive_directory_iterator(f.dir.path() / "state"))
                CHECK(entry.is_regular_file());
            std::set<std::string> topLevel;
            for (const auto& entry : fs::directory_iterator(f.dir.path()))
                topLevel.insert(entry.path().filename().string());
            CHECK(topLevel == topLevelBefore);
            f.call(kRootPath, kManager, "StopDomain", {str(name)});
        }
        const auto after = f.snapshot();
        INFO(Fixture::difference(before, after));
        CHECK(after == before);
        CHECK(f.daemon->process().running());
        CHECK(f.version() == RESCTRLD_VERSION);
        CHECK(f.daemonView() == f.view);
    }
    std::cout << "e2e-hostile-input: " << names.size() << " odd names: " << started
              << " started with safe groups and stopped cleanly, " << refused
              << " refused as InvalidDefinition\n";
    WARN(names.size() << " odd names: " << started << " started with safe groups, " << refused
                      << " refused");
}

// Daemon bugs this suite found on 2026-11-25, fixed the same day: each call below was accepted and
// changed the domain's state. The error names are the ones the spec's rules point to (docs/api.md
// "Access control": thread ids "must belong to one process (the hypervisor's, when it is known)";
// a vCPU the definition does not have is an invalid argument about the definition, as "vCPU N is
// given more than one thread" already is).
TEST_CASE("threads for vCPUs the domain lacks, shared by two vCPUs, or of another process on a "
          "reconnect are refused",
          "[e2e][sim][hostile]") {
    Fixture f;
    const std::string vm2 = tuned("vm2").str();
    const auto vmTid0 = static_cast<std::uint32_t>(f.vm.tid(0));
    const auto spareTid0 = static_cast<std::uint32_t>(f.spare.tid(0));
    const auto spareTid1 = static_cast<std::uint32_t>(f.spare.tid(1));

    // StartDomain of vm1 again (a reconnect: same definition) with the threads of another live
    // process than vm1's known hypervisor (once accepted: vm1's threads were taken over).
    f.refuse(kRootPath, kManager, "StartDomain",
             {str(Fixture::vm1Definition()), threads(f.spare.threadsOf({0, 1}))},
             {kProcessNotFound}, {std::to_string(spareTid0)});

    // SetVcpuThread for a vCPU the domain does not have (<vcpu>2</vcpu>: 0 and 1).
    f.refuse(kRootPath, kManager, "SetVcpuThread", {str("vm1"), u32(0xffffffffu), u32(vmTid0)},
             {kInvalidDefinition}, {"4294967295"});
    f.refuse(kRootPath, kManager, "SetVcpuThread",
             {str("vm1"), u32(2), u32(static_cast<std::uint32_t>(f.vm.pid()))},
             {kInvalidDefinition}, {"2"});

    // StartDomain with a thread for a vCPU the domain does not have.
    f.refuse(kRootPath, kManager, "StartDomain",
             {str(vm2), threads(Threads{{0xffffffffu, spareTid0}})}, {kInvalidDefinition},
             {"4294967295"});
    // vCPU 2, one past the last, with the hypervisor's main thread.
    f.refuse(kRootPath, kManager, "StartDomain",
             {str(vm2),
              threads(Threads{
                  {0, spareTid0}, {1, spareTid1}, {2, static_cast<std::uint32_t>(f.spare.pid())}})},
             {kInvalidDefinition}, {"2"});

    // One thread given for two vCPUs (a vCPU thread runs one vCPU).
    const std::string split = Domain("vm2")
                                  .uuid(kUuid)
                                  .vcpus(2)
                                  .cachetune("0", l3(0, 2560_KiB))
                                  .cachetune("1", l3(0, 2560_KiB));
    f.refuse(kRootPath, kManager, "StartDomain",
             {str(split), threads(Threads{{0, spareTid0}, {1, spareTid0}})}, {kInvalidDefinition},
             {std::to_string(spareTid0)});
    f.refuse(kRootPath, kManager, "SetVcpuThread", {str("vm1"), u32(1), u32(vmTid0)},
             {kInvalidDefinition}, {std::to_string(vmTid0)});

    std::cout << f.summary("thread-ownership calls") << "\n";
    WARN(f.summary("thread-ownership calls"));
}

// The hostile calls, one kind per test case: each starts from vm1 running on a fresh daemon
// and checks after every call that the simulator's tree and the daemon's state are as before.
TEST_CASE("Calls with wrong signatures, missing or extra arguments are refused and change nothing",
          "[e2e][sim][hostile]") {
    Fixture f;
    const std::string vm2 = tuned("vm2").str();
    const Threads spareThreads = f.spare.threadsOf({0, 1});
    const auto vmTid0 = static_cast<std::uint32_t>(f.vm.tid(0));

    const std::vector<Method> methods{
        {kRootPath, kManager, "StartDomain", {str(vm2), threads(spareThreads)}},
        {kRootPath,
         kManager,
         "StartDomainForProcess",
         {str(vm2), u32(static_cast<std::uint32_t>(f.spare.pid()))}},
        {kRootPath, kManager, "StopDomain", {str("vm1")}},
        {kRootPath, kManager, "ValidateDomain", {str(vm2)}},
        {kRootPath, kManager, "GetDomain", {str("vm1")}},
        {kRootPath, kManager, "ListDomains", {}},
        {kRootPath, kManager, "GetCapabilities", {}},
        {kRootPath, kManager, "GetStats", {str("vm1")}},
        {kRootPath, kManager, "SetVcpuThread", {str("vm1"), u32(1), u32(vmTid0)}},
        {kVm1Path, kDomain, "Stop", {}},
        {kVm1Path, kDomain, "GetStats", {}},
        {kMonitorPath, kMonitor, "Sample", {}},
        {kMonitorPath, kMonitor, "AssignCounters", {boolean(true)}},
        {kRootPath, kObjectManager, "GetManagedObjects", {}},
    };
    // Values of every other type, for each argument in turn.
    auto wrongFor = [&](const std::string& label) -> std::vector<Arg> {
        if (label.rfind("s ", 0) == 0)
            return {u32(1),           i32(-1),
                    bytes("vm1"),     objectPath("/vm1"),
                    variantOf("vm1"), stringList({"vm1"})};
        if (label == "b")
            return {u32(1), i32(1), str("true"), variantOf("true")};
        if (label.rfind("u ", 0) == 0)
            return {i32(-1), str("1"), u64(1), boolean(true), variantOf(std::uint32_t{1})};
        // a(uu)
        return {pairsSS({{"0", "1"}}),        arrayU({0, 1}),        structUU(0, vmTid0),
                triplesUUU({{0, vmTid0, 0}}), dictUU({{0, vmTid0}}), str("0:1")};
    };
    for (const Method& m : methods) {
        if (!m.args.empty()) {
            f.refuse(m.path, m.interface, m.name, {}, {kInvalidArgs}, {});
            // Every prefix shorter than the full list: arguments missing at the end.
            for (std::size_t n = 1; n < m.args.size(); ++n)
                f.refuse(m.path, m.interface, m.name,
                         std::vector<Arg>(m.args.begin(), m.args.begin() + n), {kInvalidArgs});
            for (std::size_t i = 0; i < m.args.size(); ++i)
                for (const Arg& wrong : wrongFor(m.args[i].label)) {
                    auto args = m.args;
                    args[i] = wrong;
                    f.refuse(m.path, m.interface, m.name, args, {kInvalidArgs});
                }
            if (m.args.size() >= 2) {
                auto swapped = m.args;
                std::swap(swapped[0], swapped[1]);
                f.refuse(m.path, m.interface, m.name, swapped, {kInvalidArgs});
            }
        }
        for (const Arg& extra : {u32(0), str("vm1")}) {
            auto args = m.args;
            args.push_back(extra);
            f.refuse(m.path, m.interface, m.name, args, {kInvalidArgs});
        }
    }
    // The standard interfaces on every object of the three kinds and the root.
    for (const auto& [path, interface] :
         std::vector<std::pair<std::string, std::string>>{{kRootPath, kManager},
                                                          {kVm1Path, kDomain},
                                                          {kAllocationPath, kAllocation},
                                                          {kMonitorPath, kMonitor}}) {
        const std::string property = interface == kManager      ? "Version"
                                     : interface == kDomain     ? "Name"
                                     : interface == kAllocation ? "Group"
                                                                : "Name";
        f.refuse(path, kProperties, "Get", {str(interface)}, {kInvalidArgs});
        f.refuse(path, kProperties, "Get", {u32(1), u32(2)}, {kInvalidArgs});
        f.tolerate(path, kProperties, "Get", {str(interface), str(property), u32(0)});
        f.refuse(path, kProperties, "Get", {str(interface), str("NoSuchProperty")},
                 {kUnknownProperty});
        f.refuse(path, kProperties, "GetAll", {u32(1)}, {kInvalidArgs});
        f.tolerate(path, kProperties, "GetAll", {str(interface), str("x")});
        // Every property is read-only.
        f.refuse(path, kProperties, "Set", {str(interface), str(property), variantOf("hostile")},
                 {kPropertyReadOnly});
        // sd-bus checks that the property is writable before it reads the value.
        f.refuse(path, kProperties, "Set", {str(interface), str(property), str("hostile")},
                 {kInvalidArgs, kPropertyReadOnly});
        f.refuse(path, kProperties, "Set", {str(interface), str(property)},
                 {kInvalidArgs, kPropertyReadOnly});
        f.refuse(path, kProperties, "Set", {u32(1), u32(2), variantOf("hostile")}, {kInvalidArgs});
        f.refuse(path, kIntrospectable, "Introspect", {str("x")}, {kInvalidArgs});
        f.tolerate(path, kPeer, "Ping", {u32(1)});
        f.refuse(path, interface, "NoSuchMethod", {str("vm1")}, {kUnknownMethod});
    }
    // Allocation has no methods of its own: any method on it is unknown.
    f.refuse(kAllocationPath, kAllocation, "Stop", {}, {kUnknownMethod});

    f.report("hostile calls with malformed arguments");
    std::cout
        << "e2e-hostile-input: " << f.toleratedCalls
        << " calls with arguments sd-bus's read-only standard methods ignore (Properties.Get, "
           "GetAll, Peer.Ping) answered, nothing changed\n";
}

TEST_CASE("AssignCounters on a monitor that is gone, never was, or cannot count is refused and "
          "changes nothing",
          "[e2e][sim][hostile][counters]") {
    Fixture f;
    // vm1's monitor watches the cache: it holds no bandwidth counter (nor could it on this host,
    // skx-2s-l3cat, which has none to assign).
    f.refuse(kMonitorPath, kMonitor, "AssignCounters", {boolean(true)},
             {"org.resctrld1.Error.NotSupported"}, {"cache monitor"});
    f.refuse(kMonitorPath, kMonitor, "AssignCounters", {boolean(false)},
             {"org.resctrld1.Error.NotSupported"});
    // Objects that never were, and the method on an object of another kind.
    for (const std::string& path :
         {kVm1Path + "/monitor/1", kVm1Path + "/monitor/4294967295", kVm1Path + "/monitor/0/x",
          std::string("/org/resctrld1/domain/nosuch/monitor/0")})
        f.refuse(path, kMonitor, "AssignCounters", {boolean(true)},
                 {kUnknownObject, kUnknownMethod, kUnknownInterface});
    f.refuse(kAllocationPath, kMonitor, "AssignCounters", {boolean(true)},
             {kUnknownMethod, kUnknownInterface});
    f.refuse(kVm1Path, kDomain, "AssignCounters", {boolean(true)}, {kUnknownMethod});

    // A monitor whose domain stopped: its object went with it.
    const std::string vm2Path = "/org/resctrld1/domain/vm2";
    f.call(kRootPath, kManager, "StartDomain",
           {str(tuned("vm2").str()), threads(f.spare.threadsOf({0, 1}))});
    f.call(kRootPath, kManager, "StopDomain", {str("vm2")});
    f.rebaseline();
    f.refuse(vm2Path + "/monitor/0", kMonitor, "AssignCounters", {boolean(true)},
             {kUnknownObject, kUnknownMethod});

    f.report("AssignCounters calls on objects that cannot take them");
}

TEST_CASE("Huge strings are refused with clear errors and change nothing", "[e2e][sim][hostile]") {
    Fixture f;
    const std::string vm2 = tuned("vm2").str();
    const Threads spareThreads = f.spare.threadsOf({0, 1});

    const std::string twoMiB = definitionOfSize("vm2", 2 * kMiB);
    const std::string overLimit = definitionOfSize("vm2", kMiB + 1);
    REQUIRE(twoMiB.size() == 2 * kMiB);
    REQUIRE(overLimit.size() == kMiB + 1);
    for (const auto& [label, definition] : std::vector<std::pair<std::string, std::string>>{
             {"2 MiB", twoMiB}, {"1 MiB + 1 byte", overLimit}}) {
        const std::string size = std::to_string(definition.size());
        f.refuse("StartDomain with a definition of " + label, {kInvalidDefinition},
                 [&] {
                     f.call(kRootPath, kManager, "StartDomain",
                            {str(definition), threads(spareThreads)});
                 },
                 {size});
        f.refuse("StartDomainForProcess with a definition of " + label, {kInvalidDefinition},
                 [&] {
                     f.call(kRootPath, kManager, "StartDomainForProcess",
                            {str(definition), u32(static_cast<std::uint32_t>(f.spare.pid()))});
                 },
                 {size});
        f.refuse("ValidateDomain with a definition of " + label, {kInvalidDefinition},
                 [&] { f.call(kRootPath, kManager, "ValidateDomain", {str(definition)}); }, {size});
    }
    {
        // The limit itself is allowed (docs/api.md: documents larger than 1 MiB are refused).
        INFO("ValidateDomain with a definition of exactly 1 MiB");
        CHECK_NOTHROW(
            f.call(kRootPath, kManager, "ValidateDomain", {str(definitionOfSize("vm2", kMiB))}));
    }

    const std::string longName(64 * 1024, 'n');
    const std::string longVm1 = "vm1" + std::string(64 * 1024 - 3, '1');
    for (const std::string& name : {longName, longVm1}) {
        f.refuse(kRootPath, kManager, "StopDomain", {str(name)}, {kNotFound});
        f.refuse(kRootPath, kManager, "GetDomain", {str(name)}, {kNotFound});
        f.refuse(kRootPath, kManager, "GetStats", {str(name)}, {kNotFound});
        f.refuse(kRootPath, kManager, "SetVcpuThread",
                 {str(name), u32(0), u32(static_cast<std::uint32_t>(f.spare.tid(0)))}, {kNotFound});
    }
    // Names that cannot be a state file (NAME_MAX once encoded) or a group.
    for (const auto& [label, name] : std::vector<std::pair<std::string, std::string>>{
             {"300 letters", std::string(300, 'a')},
             {"64 KiB of letters", longName},
             {"90 two-byte characters (540 bytes encoded)", [] {
                  std::string s;
                  for (int i = 0; i < 90; ++i)
                      s += "\xc3\xa9";
                  return s;
              }()}}) {
        f.refuse("StartDomain with a <name> of " + label, {kInvalidDefinition}, [&] {
            f.call(kRootPath, kManager, "StartDomain",
                   {str(tuned(name).str()), threads(spareThreads)});
        });
        f.refuse("StartDomainForProcess with a <name> of " + label, {kInvalidDefinition}, [&] {
            f.call(kRootPath, kManager, "StartDomainForProcess",
                   {str(tuned(name).str()), u32(static_cast<std::uint32_t>(f.spare.pid()))});
        });
    }
    // Definitions that attack the parser rather than the size limit.
    const std::string laughs = "<?xml version='1.0'?><!DOCTYPE domain [<!ENTITY a 'aaaaaaaaaa'>"
                               "<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'><!ENTITY c "
                               "'&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>"
                               "<!ENTITY d '&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;'><!ENTITY e "
                               "'&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;'>"
                               "<!ENTITY f '&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;'><!ENTITY g "
                               "'&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;'>"
                               "]>" +
                               tuned("vm2&g;").str();
    const std::string external =
        "<?xml version='1.0'?><!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>" +
        tuned("vm2&x;").str();
    const std::string xinclude =
        tuned("vm2")
            .append("<xi:include xmlns:xi='http://www.w3.org/2001/XInclude' href='/etc/passwd' "
                    "parse='text'/>")
            .str();
    std::string deep;
    for (int i = 0; i < 10000; ++i)
        deep += "<a>";
    for (int i = 0; i < 10000; ++i)
        deep += "</a>";
    deep = tuned("vm2").append(deep).str();
    for (const auto& [label, definition] :
         std::vector<std::pair<std::string, std::string>>{{"entity expansion", laughs},
                                                          {"an external entity", external},
                                                          {"an XInclude", xinclude},
                                                          {"10000 nested elements", deep}}) {
        f.refuse("StartDomain with " + label, {kInvalidDefinition}, [&] {
            f.call(kRootPath, kManager, "StartDomain", {str(definition), threads(spareThreads)});
        });
        f.refuse("ValidateDomain with " + label, {kInvalidDefinition},
                 [&] { f.call(kRootPath, kManager, "ValidateDomain", {str(definition)}); });
    }

    f.report("hostile calls with huge strings");
}

TEST_CASE("Invalid UTF-8 is refused by the bus before the daemon sees it and changes nothing",
          "[e2e][sim][hostile]") {
    Fixture f;

    // The hand-made client is right: a valid message through it gets the daemon's answer.
    {
        RawBusClient raw(f.bus.address());
        Marshal body;
        body.str("no-such-domain");
        raw.call(kRootPath, kManager, "GetDomain", "s", body.bytes());
        CHECK_NOTHROW(raw.readUntil(kNotFound));
    }
    const std::vector<std::pair<std::string, std::string>> encodings{
        {"a stray continuation byte", "vm\x80vm"},
        {"bytes that are never UTF-8", "\xff\xfe"},
        {"an overlong '/'", "\xc0\xaf"},
        {"a UTF-16 surrogate", "\xed\xa0\x80"},
        {"a code point above U+10FFFF", "\xf4\x90\x80\x80"},
        {"a truncated sequence", "vm\xe2\x82"},
    };
    struct RawMethod {
        std::string name;
        std::string signature;
        std::function<std::string(const std::string&)> body;
    };
    auto strBody = [](const std::string& s) {
        Marshal m;
        m.str(s);
        return m.bytes();
    };
    const auto sparePid = static_cast<std::uint32_t>(f.spare.pid());
    const auto spareTid = static_cast<std::uint32_t>(f.spare.tid(0));
    const std::vector<RawMethod> rawMethods{
        {"StartDomain", "sa(uu)",
         [&](const std::string& s) {
             Marshal m;
             m.str(tuned(s).str());
             m.u32(0); // an empty array; its elements would be 8-aligned
             m.align(8);
             return m.bytes();
         }},
        {"StartDomainForProcess", "su",
         [&](const std::string& s) {
             Marshal m;
             m.str(tuned(s).str());
             m.u32(sparePid);
             return m.bytes();
         }},
        {"ValidateDomain", "s",
         [&](const std::string& s) {
             return strBody(tuned(s).str());
         }},
        {"StopDomain", "s", strBody},
        {"GetDomain", "s", strBody},
        {"GetStats", "s", strBody},
        {"SetVcpuThread", "suu",
         [&](const std::string& s) {
             Marshal m;
             m.str(s);
             m.u32(0);
             m.u32(spareTid);
             return m.bytes();
         }},
    };
    for (const RawMethod& method : rawMethods)
        for (const auto& [label, bad] : encodings) {
            const std::string what =
                "Manager." + method.name + " with " + label + " (raw bytes on the wire)";
            ++f.hostileCalls;
            INFO("hostile call #" << f.hostileCalls << ": " << what);
            RawBusClient raw(f.bus.address());
            raw.call(kRootPath, kManager, method.name, method.signature, method.body(bad));
            // dbus-daemon validates every message it receives and drops a sender whose
            // message is not valid D-Bus.
            CHECK(raw.waitDisconnected());
            f.checkNothingChanged(what);
        }
    // Invalid UTF-8 in the header rather than the body: a member name.
    {
        ++f.hostileCalls;
        RawBusClient raw(f.bus.address());
        raw.call(kRootPath, kManager, "Stop\xff", "", "");
        CHECK(raw.waitDisconnected());
        f.checkNothingChanged("a member name with invalid UTF-8");
    }

    f.report("hostile calls with invalid UTF-8");
}

TEST_CASE("Thread ids that are not a hypervisor's are refused and change nothing",
          "[e2e][sim][hostile]") {
    Fixture f;
    const std::string vm2 = tuned("vm2").str();

    REQUIRE(readFile("/proc/2/comm") == "kthreadd\n");
    REQUIRE(isKernelThread(2));
    const pid_t kthread = f.kthread;
    const pid_t daemonPid = f.daemon->process().pid();
    std::optional<pid_t> daemonThread;
    for (pid_t tid : threadsOf(daemonPid))
        if (tid != daemonPid)
            daemonThread = tid;
    Zombie zombie;
    FakeVm& spare = f.spare;
    const pid_t spareOther = [&] {
        // A thread of the spare hypervisor that is not a vCPU thread.
        for (pid_t tid : threadsOf(spare.pid())) {
            bool vcpu = false;
            for (const auto& [n, t] : spare.vcpus())
                vcpu = vcpu || t == tid;
            if (!vcpu && tid != spare.pid())
                return tid;
        }
        return spare.pid();
    }();
    const pid_t unused = simtest::unusedTid();
    struct Tid {
        std::string label;
        std::uint32_t tid;
        std::string mention; // the message names it
        // A live process of its own, which may be a hypervisor: only refused when mixed
        // with another process's thread or where the hypervisor is known.
        bool mayBeHypervisor = false;
    };
    std::vector<Tid> tids{
        {"PID 1", 1, "1"},
        {"kthreadd (pid 2)", 2, "2"},
        {"a kernel thread (" + readFile("/proc/" + std::to_string(kthread) + "/comm") + ")",
         static_cast<std::uint32_t>(kthread), std::to_string(kthread)},
        {"the daemon's pid", static_cast<std::uint32_t>(daemonPid), std::to_string(daemonPid)},
        {"the caller itself", static_cast<std::uint32_t>(getpid()), std::to_string(getpid()), true},
        {"a zombie", static_cast<std::uint32_t>(zombie.pid()), std::to_string(zombie.pid())},
        {"a tid that does not exist", static_cast<std::uint32_t>(unused), std::to_string(unused)},
        {"tid 0", 0, "0"},
        {"tid 0x7fffffff", 0x7fffffffu, "2147483647"},
        {"tid 0x80000000", 0x80000000u, "2147483648"},
        {"tid 0xffffffff", 0xffffffffu, "4294967295"},
    };
    if (daemonThread)
        tids.push_back({"a thread of the daemon", static_cast<std::uint32_t>(*daemonThread),
                        std::to_string(*daemonThread)});
    else
        WARN("resctrld runs a single thread: no daemon thread besides its pid to try");
    const std::uint32_t vm2Tid = static_cast<std::uint32_t>(spare.tid(0));
    for (const Tid& t : tids) {
        const std::vector<std::string> mention =
            t.mention.empty() ? std::vector<std::string>{} : std::vector<std::string>{t.mention};
        if (!t.mayBeHypervisor)
            f.refuse(kRootPath, kManager, "StartDomain", {str(vm2), threads(Threads{{0, t.tid}})},
                     {kProcessNotFound}, mention);
        f.refuse(kRootPath, kManager, "StartDomain",
                 {str(vm2), threads(Threads{{0, vm2Tid}, {1, t.tid}})}, {kProcessNotFound},
                 mention);
        f.refuse(kRootPath, kManager, "StartDomainForProcess", {str(vm2), u32(t.tid)},
                 {kProcessNotFound}, mention);
        f.refuse(kRootPath, kManager, "SetVcpuThread", {str("vm1"), u32(0), u32(t.tid)},
                 {kProcessNotFound}, mention);
        f.refuse(kRootPath, kManager, "SetVcpuThread", {str("vm1"), u32(1), u32(t.tid)},
                 {kProcessNotFound}, mention);
    }
    // Threads of another process than the hypervisor's.
    const auto unrelated = static_cast<std::uint32_t>(f.unrelated.pid());
    const auto unrelatedText = std::to_string(unrelated);
    f.refuse(kRootPath, kManager, "StartDomain",
             {str(vm2), threads(Threads{{0, vm2Tid}, {1, unrelated}})}, {kProcessNotFound},
             {unrelatedText});
    f.refuse(kRootPath, kManager, "StartDomainForProcess", {str(vm2), u32(unrelated)},
             {kProcessNotFound}, {unrelatedText});
    // A vCPU thread is not a process: StartDomainForProcess wants the hypervisor's pid.
    f.refuse(kRootPath, kManager, "StartDomainForProcess", {str(vm2), u32(vm2Tid)},
             {kProcessNotFound}, {std::to_string(vm2Tid)});
    for (const auto& [label, tid] : std::vector<std::pair<std::string, std::uint32_t>>{
             {"unrelated", unrelated},
             {"a vCPU thread of another hypervisor", vm2Tid},
             {"another hypervisor's non-vCPU thread", static_cast<std::uint32_t>(spareOther)},
             {"another hypervisor's pid", static_cast<std::uint32_t>(spare.pid())}}) {
        INFO(label);
        f.refuse(kRootPath, kManager, "SetVcpuThread", {str("vm1"), u32(0), u32(tid)},
                 {kProcessNotFound}, {std::to_string(tid)});
    }
    // A <domstatus> whose hypervisor is the spare one but whose vCPU thread is not its.
    const std::string status = "<domstatus state='running' pid='" + std::to_string(spare.pid()) +
                               "'><vcpus><vcpu id='0' pid='" + std::to_string(vm2Tid) +
                               "'/><vcpu id='1' pid='" + unrelatedText + "'/></vcpus>" + vm2 +
                               "</domstatus>";
    f.refuse("StartDomain with a <domstatus> naming an unrelated process's thread",
             {kProcessNotFound},
             [&] {
                 f.call(kRootPath, kManager, "StartDomain", {str(status), threads(Threads{})});
             },
             {unrelatedText});
    // One vCPU given twice; a huge list of threads that do not exist.
    f.refuse(
        kRootPath, kManager, "StartDomain",
        {str(vm2), threads(Threads{{0, vm2Tid}, {0, static_cast<std::uint32_t>(spare.tid(1))}})},
        {kInvalidDefinition}, {"vCPU 0"});
    Threads many;
    for (std::uint32_t vcpu = 0; vcpu < 65536; ++vcpu)
        many.emplace_back(vcpu, static_cast<std::uint32_t>(unused));
    f.refuse(kRootPath, kManager, "StartDomain", {str(vm2), threads(many)}, {kProcessNotFound},
             {std::to_string(unused)});

    f.report("hostile calls with thread ids that are not a hypervisor's");
}
