// SPDX-License-Identifier: LGPL-2.1-or-later
#include "xml_document.h"

#include <climits>
#include <cstring>
#include <fmt/format.h>
#include <mutex>
#include <string>
#include <vector>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include "errors.h"

namespace resctrld {

namespace {

constexpr std::string_view kXIncludeNamespaces[] = {
    "http://www.w3.org/2001/XInclude",
    "http://www.w3.org/2003/XInclude",
};

struct ParserCtxtFree {
    void operator()(xmlParserCtxt* ctxt) const noexcept { xmlFreeParserCtxt(ctxt); }
};

// Per-parse state reachable from the SAX callbacks through ctxt->_private.
struct ParseState {
    std::string firstError;
    std::string refusal; // set when we stopped the parser on purpose
};

ParseState& stateOf(void* ctx) {
    auto* ctxt = static_cast<xmlParserCtxt*>(ctx);
    return *static_cast<ParseState*>(ctxt->_private);
}

void refuse(void* ctx, std::string why) {
    auto& state = stateOf(ctx);
    if (state.refusal.empty())
        state.refusal = std::move(why);
    xmlStopParser(static_cast<xmlParserCtxt*>(ctx));
}

// The structured error handler of this parser context only: keeps libxml2's first message for the
// exception and stops libxml2 from printing to stderr (libxml2 prefers ctxt->sax->serror over the
// global handler for parser errors).
void collectError(void* ctx, xmlError* error) {
    if (error == nullptr || error->level < XML_ERR_ERROR)
        return;
    auto& state = stateOf(ctx);
    if (!state.firstError.empty())
        return;
    std::string message = error->message != nullptr ? error->message : "unknown error";
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
        message.pop_back();
    state.firstError = fmt::format("line {}: {}", error->line, message);
}

void onInternalSubset(void* ctx, const xmlChar*, const xmlChar*, const xmlChar*) {
    refuse(ctx, "document type declarations (<!DOCTYPE>) are not accepted");
}

void onExternalSubset(void* ctx, const xmlChar*, const xmlChar*, const xmlChar*) {
    refuse(ctx, "document type declarations (<!DOCTYPE>) are not accepted");
}

void onEntityDecl(void* ctx, const xmlChar* name, int, const xmlChar*, const xmlChar*, xmlChar*) {
    refuse(ctx, "entity declarations are not accepted (entity '" +
                    std::string(reinterpret_cast<const char*>(name)) + "')");
}

xmlEntity* onGetEntity(void* ctx, const xmlChar* name) {
    // Only the five predefined entities (&lt; &gt; &amp; &quot; &apos;) are resolved.
    if (xmlEntity* predefined = xmlGetPredefinedEntity(name))
        return predefined;
    refuse(ctx, "entity references are not accepted (&" +
                    std::string(reinterpret_cast<const char*>(name)) + ";)");
    return nullptr;
}

void onReference(void* ctx, const xmlChar* name) {
    refuse(ctx, "entity references are not accepted (&" +
                    std::string(reinterpret_cast<const char*>(name)) + ";)");
}

void checkTree(const xmlDoc* doc) {
    if (doc->intSubset != nullptr || doc->extSubset != nullptr)
        throw InvalidDefinition(
            "XML refused: document type declarations (<!DOCTYPE>) are not accepted");
    // Iterative walk: depth and node kinds, without recursion.
    struct Frame {
        const xmlNode* node;
        unsigned depth;
    };
    std::vector<Frame> stack;
    for (const xmlNode* n = doc->children; n != nullptr; n = n->next)
        stack.push_back({n, 1});
    while (!stack.empty()) {
        auto [node, depth] = stack.back();
        stack.pop_back();
        switch (node->type) {
        case XML_DTD_NODE:
        case XML_ENTITY_DECL:
        case XML_ELEMENT_DECL:
        case XML_ATTRIBUTE_DECL:
            throw InvalidDefinition(
                "XML refused: document type declarations (<!DOCTYPE>) are not accepted");
        case XML_ENTITY_REF_NODE:
        case XML_ENTITY_NODE:
            throw InvalidDefinition("XML refused: entity references are not accepted");
        case XML_XINCLUDE_START:
        case XML_XINCLUDE_END:
            throw InvalidDefinition("XML refused: XInclude is not accepted");
        case XML_ELEMENT_NODE: {
            if (depth > XmlDocument::kMaxDepth)
                throw InvalidDefinition(fmt::format(
                    "XML refused: elements nest deeper than {} levels", XmlDocument::kMaxDepth));
            if (node->ns != nullptr && node->ns->href != nullptr) {
                std::string_view href = reinterpret_cast<const char*>(node->ns->href);
                for (auto xinclude : kXIncludeNamespaces)
                    if (href == xinclude)
                        throw InvalidDefinition(
                            "XML refused: XInclude is not accepted (<" +
                            std::string(reinterpret_cast<const char*>(node->name)) +
                            "> in namespace " + std::string(href) + ")");
            }
            for (const xmlNode* child = node->children; child != nullptr; child = child->next)
                stack.push_back({child, depth + 1});
            break;
        }
        default:
            break;
        }
    }
}

} // namespace

XmlDocument XmlDocument::parse(std::string_view text) {
    if (text.size() > kMaxInputBytes)
        throw InvalidDefinition(
            fmt::format("XML refused: the document is {} bytes, more than the limit of {} bytes",
                        text.size(), kMaxInputBytes));
    if (text.empty())
        throw InvalidDefinition("XML refused: the document is empty");

    static std::once_flag initOnce;
    std::call_once(initOnce, [] { xmlInitParser(); });

    std::unique_ptr<xmlParserCtxt, ParserCtxtFree> ctxt(xmlNewParserCtxt());
    if (!ctxt || ctxt->sax == nullptr)
        throw std::bad_alloc();
    ParseState state;
    ctxt->_private = &state;
    // ctxt->sax is this context's own copy of the SAX2 handler, so these overrides are local to
    // this parse (no global libxml2 state is touched).
    ctxt->sax->serror = collectError;
    ctxt->sax->internalSubset = onInternalSubset;
    ctxt->sax->externalSubset = onExternalSubset;
    ctxt->sax->entityDecl = onEntityDecl;
    ctxt->sax->getEntity = onGetEntity;
    ctxt->sax->getParameterEntity = onGetEntity;
    ctxt->sax->reference = onReference;

    // Deliberately absent: XML_PARSE_NOENT (substitution), XML_PARSE_DTDLOAD, XML_PARSE_DTDATTR,
    // XML_PARSE_DTDVALID, XML_PARSE_XINCLUDE and XML_PARSE_HUGE (keeps libxml2's own limits).
    constexpr int kOptions =
        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
    static_assert(kMaxInputBytes <= INT_MAX);
    xmlDoc* raw = xmlCtxtReadMemory(ctxt.get(), text.data(), static_cast<int>(text.size()), nullptr,
                                    nullptr, kOptions);
    XmlDocument doc(raw);
    if (!state.refusal.empty())
        throw InvalidDefinition("XML refused: " + state.refusal);
    if (raw == nullptr || !ctxt->wellFormed) {
        std::string why = state.firstError.empty() ? "not well-formed" : state.firstError;
        throw InvalidDefinition("XML is not well-formed: " + why);
    }
    if (doc.root() == nullptr)
        throw InvalidDefinition("XML is not well-formed: no root element");
    checkTree(raw);
    return doc;
}

} // namespace resctrld
