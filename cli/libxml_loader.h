// SPDX-License-Identifier: LGPL-2.1-or-later
// libxml2, loaded when a command needs it. Only `resctrlctl capabilities` reads XML, and linking
// libxml2 would cost every command about 1.5 ms of start-up: it brings ICU, whose libraries the
// dynamic loader maps and relocates at each start. systemd's tools load their optional heavy
// libraries the same way.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <libxml/parser.h>
#include <libxml/tree.h>

namespace resctrld::cli {

// A parsed document and the library that owns its memory, unloaded when it goes.
class XmlDocument {
public:
    // Parses `text` (no network, no DTD). Throws Refusal when libxml2 cannot be loaded or the
    // text is not well-formed XML; `what` names the document in the message.
    XmlDocument(std::string_view text, const std::string& what);
    ~XmlDocument();
    XmlDocument(const XmlDocument&) = delete;
    XmlDocument& operator=(const XmlDocument&) = delete;

    xmlNode* root() const;
    // The attribute's value, "" when the element has none.
    std::string attribute(xmlNode* element, const char* name) const;

private:
    struct Library;
    std::unique_ptr<Library> library_;
    xmlDoc* doc_ = nullptr;
};

} // namespace resctrld::cli
