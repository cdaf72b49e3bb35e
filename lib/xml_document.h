// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include <libxml/tree.h>

namespace resctrld {

// A parsed XML document from an untrusted client (docs/api.md "Definitions the daemon accepts").
// libxml2 runs with no network, no DTD loading and no entity substitution (never XML_PARSE_NOENT,
// XML_PARSE_DTDLOAD or XML_PARSE_HUGE). On top of that the document is refused when it:
//  - is larger than kMaxInputBytes (checked before libxml2 sees a byte),
//  - has a DOCTYPE (internal or external subset) or declares entities: the parser is stopped at
//    the first such declaration, so neither "billion laughs" nor external entities get expanded,
//  - references an entity other than the five predefined ones,
//  - contains an element in an XInclude namespace (we never process XInclude, but a document that
//    asks for it does not mean what it says),
//  - nests elements deeper than kMaxDepth. libvirt domain XML is about 6 levels deep (domstatus
//    adds one); 64 leaves ample room for metadata while staying far below libxml2 2.9.14's own
//    limit of 256, which it reports as a parse error anyway.
// Every refusal throws InvalidDefinition; libxml2's own message goes into the exception and is
// never printed to stderr.
class XmlDocument {
public:
    static constexpr std::size_t kMaxInputBytes = 1024 * 1024;
    static constexpr unsigned kMaxDepth = 64;

    static XmlDocument parse(std::string_view text);

    // The root element; never null for a parsed document.
    xmlNode* root() const noexcept { return xmlDocGetRootElement(doc_.get()); }

private:
    struct DocFree {
        void operator()(xmlDoc* doc) const noexcept { xmlFreeDoc(doc); }
    };
    explicit XmlDocument(xmlDoc* doc)
        : doc_(doc) {}

    std::unique_ptr<xmlDoc, DocFree> doc_;
};

} // namespace resctrld
