#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copies an introspection XML without the named methods, as the input of sdbus-c++-xml2cpp's
# adaptor: the daemon registers those methods itself (daemon/stats_reply.h says why), and the
# test comparing the live introspection with the checked-in XML keeps the two equal.
#
#   without-methods.py INPUT OUTPUT METHOD...
import sys
import xml.etree.ElementTree as ET

source, target, *methods = sys.argv[1:]
tree = ET.parse(source)
found = set()
for interface in tree.getroot().iter("interface"):
    for method in interface.findall("method"):
        if method.get("name") in methods:
            interface.remove(method)
            found.add(method.get("name"))
missing = set(methods) - found
if missing:
    sys.exit(f"{source}: no method {', '.join(sorted(missing))}")
tree.write(target, encoding="unicode")
