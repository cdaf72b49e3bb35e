// SPDX-License-Identifier: LGPL-2.1-or-later
// Runs a fuzz entry point (LLVMFuzzerTestOneInput, linked in from one of the fuzz_*.cpp files) on
// every file of its seed corpus directories, so that the unit suite exercises each fuzz target
// with any compiler, without clang or libFuzzer. A target reports a finding by aborting (a broken
// invariant) or by letting an exception out; either fails this program, naming the input.
//   usage: replay-<target> DIR...     (each DIR must hold at least one file)
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> corpusFiles(const fs::path& dir) {
    std::vector<fs::path> files;
    std::error_code error;
    for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error))
        if (it->is_regular_file())
            files.push_back(it->path());
    if (error)
        throw fs::filesystem_error("cannot list the corpus", dir, error);
    std::sort(files.begin(), files.end());
    return files;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s DIR...\n", argv[0]);
        return 2;
    }
    std::size_t inputs = 0;
    for (int i = 1; i < argc; ++i) {
        const fs::path dir = argv[i];
        std::vector<fs::path> files;
        try {
            files = corpusFiles(dir);
        } catch (const std::exception& error) {
            std::fprintf(stderr, "replay: %s\n", error.what());
            return 1;
        }
        // An empty or missing corpus would make this test pass on nothing.
        if (files.empty()) {
            std::fprintf(stderr, "replay: %s holds no corpus file\n", dir.c_str());
            return 1;
        }
        for (const fs::path& file : files) {
            std::ifstream in(file, std::ios::binary);
            if (!in) {
                std::fprintf(stderr, "replay: cannot open %s\n", file.c_str());
                return 1;
            }
            const std::string data{std::istreambuf_iterator<char>(in), {}};
            // Named before the call: an abort ends the program right there.
            std::printf("replay: %s\n", file.c_str());
            std::fflush(stdout);
            try {
                LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(data.data()),
                                       data.size());
            } catch (const std::exception& error) {
                std::fprintf(stderr, "replay: %s: the target threw: %s\n", file.c_str(),
                             error.what());
                return 1;
            } catch (...) {
                std::fprintf(stderr, "replay: %s: the target threw a non-standard exception\n",
                             file.c_str());
                return 1;
            }
            ++inputs;
        }
    }
    std::printf("replay: %zu inputs, no finding\n", inputs);
    return 0;
}
