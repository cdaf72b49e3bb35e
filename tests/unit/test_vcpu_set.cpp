// SPDX-License-Identifier: LGPL-2.1-or-later
#include <catch2/catch.hpp>

#include "errors.h"
#include "vcpu_set.h"

using resctrld::InvalidDefinition;
using resctrld::VcpuSet;

TEST_CASE("VcpuSet parses libvirt bitmap syntax", "[vcpuset]") {
    CHECK(VcpuSet::parse("0-3").members() == std::vector<unsigned>{0, 1, 2, 3});
    CHECK(VcpuSet::parse("5").members() == std::vector<unsigned>{5});
    CHECK(VcpuSet::parse("0-3,^2,5").members() == std::vector<unsigned>{0, 1, 3, 5});
    CHECK(VcpuSet::parse(" 1 , 3 - 4 ,\t^4 ").members() == std::vector<unsigned>{1, 3});
    // Items apply left to right, as libvirt's virBitmapParse: a later item re-adds an excluded one.
    CHECK(VcpuSet::parse("^2,2").members() == std::vector<unsigned>{2});
    CHECK(VcpuSet::parse("0-2,^1,1").members() == std::vector<unsigned>{0, 1, 2});
    CHECK(VcpuSet::parse("16383").contains(16383));
}

TEST_CASE("VcpuSet refuses bad syntax with InvalidDefinition", "[vcpuset]") {
    for (const char* bad : {"", "  ", "a", "0-", "-1", "1-0", "0,,1", "0;1", "^1-2", "0-3x", "+1",
                            "1,", "16384", "0-99999999999999999999", "^1", "0,^0"}) {
        INFO("input '" << bad << "'");
        CHECK_THROWS_AS(VcpuSet::parse(bad), InvalidDefinition);
    }
    CHECK_THROWS_WITH(VcpuSet::parse("3-1"), Catch::Contains("ends before it starts"));
    CHECK_THROWS_WITH(VcpuSet::parse("^1"), Catch::Contains("names no vCPU"));
    CHECK_THROWS_WITH(VcpuSet::parse("20000"), Catch::Contains("beyond the limit of 16384"));
}

TEST_CASE("VcpuSet formats as libvirt formats bitmaps", "[vcpuset]") {
    CHECK(VcpuSet::parse("0,1,2,3").format() == "0-3");
    CHECK(VcpuSet::parse("3,1").format() == "1,3");
    CHECK(VcpuSet::parse("0-1,5").format() == "0-1,5");
    CHECK(VcpuSet::parse("0-3,^2,5-7").format() == "0-1,3,5-7");
    CHECK(VcpuSet::parse("16383").format() == "16383");
    CHECK(VcpuSet().format().empty());
}

TEST_CASE("VcpuSet set operations", "[vcpuset]") {
    auto a = VcpuSet::parse("0-3");
    auto b = VcpuSet::parse("2-5");
    auto c = VcpuSet::parse("1-2");
    CHECK(a.overlaps(b));
    CHECK_FALSE(a.overlaps(VcpuSet::parse("4-7")));
    CHECK(c.isSubsetOf(a));
    CHECK_FALSE(b.isSubsetOf(a));
    CHECK(a.intersection(b).format() == "2-3");
    CHECK(a.truncated(2).format() == "0-1");
    CHECK(a.truncated(0).empty());
    CHECK(a == VcpuSet::parse("0,1,2,3"));
    CHECK_FALSE(a == b);
    CHECK(a.size() == 4);
    CHECK(a.last() == 3);
    CHECK(VcpuSet::parse("5,2-3,16383").first() == 2);
    CHECK(VcpuSet::parse("16383").first() == 16383);
    VcpuSet united = b;
    united.insert(VcpuSet::parse("7,9"));
    CHECK(united.format() == "2-5,7,9");
    CHECK(VcpuSet::range(2, 4).format() == "2-4");
    CHECK_THROWS_AS(VcpuSet::range(4, 2), InvalidDefinition);
    VcpuSet s;
    s.insert(7);
    s.insert(9);
    s.erase(7);
    CHECK(s.format() == "9");
    CHECK_THROWS_AS(s.insert(VcpuSet::kMaxVcpus), InvalidDefinition);
}
