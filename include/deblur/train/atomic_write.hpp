#pragma once
// Replace a file's contents all at once: write a sibling temporary file, then
// rename it over the target. A reader (or a run killed mid-write) sees either
// the old file or the new one, never half of one.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace deblur::train {

inline void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
    namespace fs = std::filesystem;
    if (path.empty()) throw std::invalid_argument("deblur::train::write_file_atomically: empty path");
    if (path.has_parent_path() && !fs::exists(path.parent_path())) fs::create_directories(path.parent_path());
    fs::path tmp = path;
    tmp += ".tmp";
    {
        std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(tmp.c_str(), "wb"), &std::fclose);
        if (!f) throw std::runtime_error("deblur::train::write_file_atomically: cannot open " + tmp.string());
        const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f.get()) == bytes.size() &&
                        std::fflush(f.get()) == 0;
        if (!ok || std::fclose(f.release()) != 0) {
            std::error_code ignored;
            fs::remove(tmp, ignored);
            throw std::runtime_error("deblur::train::write_file_atomically: cannot write " + tmp.string());
        }
    }
    fs::rename(tmp, path);  // atomic on POSIX file systems; throws filesystem_error on failure
}

}  // namespace deblur::train
