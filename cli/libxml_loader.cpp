// SPDX-License-Identifier: LGPL-2.1-or-later
#include "libxml_loader.h"

#include <dlfcn.h>

#include "cli_error.h"

namespace resctrld::cli {

namespace {

constexpr const char* kSoname = "libxml2.so.2";

template <typename Pointer> Pointer symbol(void* handle, const char* name) {
    void* address = dlsym(handle, name);
    if (address == nullptr)
        throw Refusal("org.resctrld1.Error.Failed",
                      std::string(kSoname) + " has no symbol " + name);
    return reinterpret_cast<Pointer>(address);
}

} // namespace

struct XmlDocument::Library {
    Library()
        : handle(dlopen(kSoname, RTLD_NOW | RTLD_LOCAL)) {
        if (handle == nullptr)
            throw Refusal("org.resctrld1.Error.Failed",
                          std::string("cannot load ") + kSoname + " to read the XML: " + dlerror());
        try {
            readMemory = symbol<decltype(readMemory)>(handle, "xmlReadMemory");
            freeDoc = symbol<decltype(freeDoc)>(handle, "xmlFreeDoc");
            rootElement = symbol<decltype(rootElement)>(handle, "xmlDocGetRootElement");
            getProp = symbol<decltype(getProp)>(handle, "xmlGetProp");
            // xmlFree is a variable holding the library's deallocator.
            free = *symbol<xmlFreeFunc*>(handle, "xmlFree");
        } catch (...) {
            dlclose(handle);
            throw;
        }
    }
    ~Library() { dlclose(handle); }
    Library(const Library&) = delete;
    Library& operator=(const Library&) = delete;

    void* handle;
    decltype(&xmlReadMemory) readMemory = nullptr;
    decltype(&xmlFreeDoc) freeDoc = nullptr;
    decltype(&xmlDocGetRootElement) rootElement = nullptr;
    decltype(&xmlGetProp) getProp = nullptr;
    xmlFreeFunc free = nullptr;
};

XmlDocument::XmlDocument(std::string_view text, const std::string& what)
    : library_(std::make_unique<Library>()) {
    doc_ = library_->readMemory(text.data(), static_cast<int>(text.size()), what.c_str(), nullptr,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc_ == nullptr)
        throw Refusal("org.resctrld1.Error.Failed", what + " is not well-formed XML");
}

XmlDocument::~XmlDocument() {
    library_->freeDoc(doc_);
}

xmlNode* XmlDocument::root() const {
    return library_->rootElement(doc_);
}

std::string XmlDocument::attribute(xmlNode* element, const char* name) const {
    xmlChar* value = library_->getProp(element, reinterpret_cast<const xmlChar*>(name));
    if (value == nullptr)
        return {};
    std::string text(reinterpret_cast<const char*>(value));
    library_->free(value);
    return text;
}

} // namespace resctrld::cli
