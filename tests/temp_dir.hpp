#pragma once
// A fresh folder under the system's temporary directory, removed with all it
// holds when the test ends, even where a test took its permissions away.
#include <unistd.h>

#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <system_error>

namespace deblur::test {

struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const std::string& prefix = "deblur-test") {
        path = std::filesystem::temp_directory_path() /
               (prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
        std::filesystem::create_directories(path);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::filesystem::path operator/(const std::string& name) const { return path / name; }
    // Names of the entries directly inside.
    std::set<std::string> entries() const {
        std::set<std::string> names;
        for (const auto& e : std::filesystem::directory_iterator(path)) names.insert(e.path().filename().string());
        return names;
    }
    ~TempDir() {
        namespace fs = std::filesystem;
        std::error_code ignored;
        fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ignored);
        for (const auto& e : fs::recursive_directory_iterator(path, ignored))
            fs::permissions(e.path(), fs::perms::owner_all, fs::perm_options::add, ignored);
        fs::remove_all(path, ignored);
    }
};

}  // namespace deblur::test
