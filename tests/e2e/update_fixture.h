// SPDX-License-Identifier: LGPL-2.1-or-later
// What the UpdateDomain tests share (test_update.cpp, test_update_matrix.cpp): the domains
// fixture on skx-2s-l3cat with UpdateDomain, the DomainUpdated signals it saw, a way to fill the
// CLOSID or RMID budget, and the domain they re-tune.
#pragma once

#include <cerrno>
#include <map>
#include <string>
#include <sys/stat.h>
#include <utility>
#include <vector>

#include "domains_fixture.h"

namespace resctrld::e2e::domains {

struct UpdateFixture : Fixture {
    explicit UpdateFixture(const std::string& kernel)
        : Fixture("skx-2s-l3cat", "", kernel) {
        manager->uponSignal("DomainUpdated")
            .onInterface(kManager)
            .call([this](const std::string& name, const sdbus::ObjectPath& path) {
                updated.emplace_back(name, path);
            });
        manager->finishRegistration();
    }

    sdbus::ObjectPath update(const std::string& definition) {
        sdbus::ObjectPath path;
        manager->callMethod("UpdateDomain")
            .onInterface(kManager)
            .withArguments(definition)
            .storeResultsTo(path);
        return path;
    }

    // Foreign groups `<prefix>0`, `<prefix>1`, ... created until the kernel refuses one for want
    // of a CLOSID or an RMID: that budget is then exactly full. Control groups are given
    // `schemata` (the kernel gives a new one every way).
    unsigned fillWithForeignGroups(const std::string& prefix, const std::string& schemata = "") {
        for (unsigned n = 0;; ++n) {
            const fs::path group = sim.at(prefix + std::to_string(n));
            if (::mkdir(group.c_str(), 0755) != 0) {
                REQUIRE(errno == ENOSPC);
                return n;
            }
            if (!schemata.empty())
                REQUIRE(simtest::writeFile(group / "schemata", schemata) == 0);
        }
    }

    std::vector<std::pair<std::string, std::string>> updated;
};

// The re-tuned domain, 4 vCPUs: each test adds its tuning.
inline Domain vm1() {
    return Domain("vm1").uuid(kUuid).vcpus(4);
}

} // namespace resctrld::e2e::domains
