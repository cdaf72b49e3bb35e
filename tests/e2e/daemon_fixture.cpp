// SPDX-License-Identifier: LGPL-2.1-or-later
#include "daemon_fixture.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>

#include <catch2/catch.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include "dbus_names.h"

namespace fs = std::filesystem;

namespace resctrld::e2e {

namespace {

// Our policy file and one file per fragment, written into `dir`.
std::vector<fs::path> policyIncludes(const fs::path& dir,
                                     const std::vector<std::string>& fragments) {
    std::vector<fs::path> files{fs::path(RESCTRLD_DBUS_DIR) / "org.resctrld1.conf"};
    for (const auto& fragment : fragments) {
        const auto file = dir / ("local-" + std::to_string(files.size()) + ".conf");
        std::ofstream(file) << "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-BUS Bus "
                               "Configuration 1.0//EN\"\n \"http://www.freedesktop.org/"
                               "standards/dbus/1.0/busconfig.dtd\">\n<busconfig>\n"
                            << fragment << "</busconfig>\n";
        files.push_back(file);
    }
    return files;
}

} // namespace

DaemonFixture::DaemonFixture(Options options)
    : sim({options.profile, options.kernel, options.mountOptions, true})
    , bus(options.systemLikeBus ? PrivateBus(PrivateBus::SystemLike{}, dir.path(),
                                             policyIncludes(dir.path(), options.busPolicyFragments))
                                : PrivateBus(dir.path()))
    , stateDir(dir.path() / "state")
    , options_(std::move(options)) {
    if (!options_.absentInfoFiles.empty())
        sim.setControl("absent", options_.absentInfoFiles);
    if (!options_.rootSchemata.empty())
        REQUIRE(simtest::writeFile(sim.at("schemata"), options_.rootSchemata) == 0);
    if (options_.prepareSim)
        options_.prepareSim(sim);
    if (options_.startDaemon)
        startDaemon();
    connection = sdbus::createSessionBusConnectionWithAddress(bus.address());
    manager = sdbus::createProxy(*connection, kService, kRootPath);
}

DaemonFixture::~DaemonFixture() {
    const char* logDir = std::getenv("RESCTRLD_E2E_LOG_DIR");
    if (!logDir)
        return;
    static int counter = 0;
    std::string name = Catch::getResultCapture().getCurrentTestName().substr(0, 80);
    std::replace_if(
        name.begin(), name.end(), [](char c) { return !std::isalnum(c); }, '_');
    const fs::path target = fs::path(logDir) / (std::to_string(++counter) + "-" + name);
    std::error_code ec;
    fs::create_directories(target, ec);
    for (const auto& entry : fs::directory_iterator(dir.path(), ec))
        if (entry.path().extension() == ".stderr")
            fs::copy_file(entry.path(), target / entry.path().filename(),
                          fs::copy_options::overwrite_existing, ec);
}

Daemon::Options DaemonFixture::daemonOptions(bool waitReady) const {
    Daemon::Options options;
    options.configText = options_.config;
    options.resctrlRoot = sim.root();
    options.stateDir = stateDir;
    options.extraArgs = {"--sysfs-root", sim.sysfsDir().string()};
    options.extraArgs.insert(options.extraArgs.end(), options_.extraArgs.begin(),
                             options_.extraArgs.end());
    options.waitReady = waitReady;
    return options;
}

void DaemonFixture::startDaemon(bool waitReady) {
    daemon.reset();
    daemon.emplace(bus, dir.path(), daemonOptions(waitReady));
}

void DaemonFixture::killDaemon() {
    daemon->process().signal(SIGKILL);
    REQUIRE(daemon->process().waitExit(std::chrono::seconds(30)));
}

std::vector<sdbus::Struct<std::string, std::string>>
DaemonFixture::validate(const std::string& definition) {
    std::vector<sdbus::Struct<std::string, std::string>> groups;
    manager->callMethod("ValidateDomain")
        .onInterface(kManager)
        .withArguments(definition)
        .storeResultsTo(groups);
    return groups;
}

std::set<std::string> DaemonFixture::domainNames() {
    std::vector<sdbus::Struct<std::string, std::string, sdbus::ObjectPath>> list;
    manager->callMethod("ListDomains").onInterface(kManager).storeResultsTo(list);
    std::set<std::string> names;
    for (const auto& entry : list)
        names.insert(entry.get<0>());
    return names;
}

std::map<std::string, std::string> DaemonFixture::stateDirFiles() const {
    std::map<std::string, std::string> files;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(stateDir, ec))
        if (entry.is_regular_file() && entry.path().filename() != "resctrld.lock")
            files[entry.path().filename().string()] = readFile(entry.path());
    return files;
}

} // namespace resctrld::e2e
