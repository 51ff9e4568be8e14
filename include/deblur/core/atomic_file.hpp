#pragma once
// Writes that replace a file all at once: the bytes go to a temporary file in
// the target's directory which is then renamed over the target, so a reader
// (or a run killed mid-write) sees the old file or the new one, never half of
// one, and a failed write leaves the old file (or no file) and no temporary
// behind. Model files, training logs and checkpoints, and images all go
// through here.
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

#if __has_include(<unistd.h>)
#include <unistd.h>
#endif

namespace deblur {

// what() is "<file>: <problem>".
class FileWriteError : public std::runtime_error {
public:
    FileWriteError(const std::filesystem::path& file, const std::string& problem)
        : std::runtime_error(file.string() + ": " + problem), file_(file), problem_(problem) {}

    const std::filesystem::path& file() const noexcept { return file_; }
    const std::string& problem() const noexcept { return problem_; }

private:
    std::filesystem::path file_;
    std::string problem_;
};

namespace detail {

inline std::string errno_message(int error) { return std::error_code(error, std::generic_category()).message(); }

// A name for the temporary file that other writers (threads or processes) are
// unlikely to pick at the same moment; creation is exclusive in any case.
inline std::filesystem::path temporary_sibling(const std::filesystem::path& file, unsigned attempt) {
    static std::atomic<unsigned long long> counter{0};
    const auto now = static_cast<unsigned long long>(std::chrono::steady_clock::now().time_since_epoch().count());
    const auto thread = static_cast<unsigned long long>(std::hash<std::thread::id>{}(std::this_thread::get_id()));
    const unsigned long long tag = now ^ (thread << 1) ^ (counter.fetch_add(1) * 0x9E3779B97F4A7C15ull) ^ attempt;
    // Appended piece by piece: `"." + std::string` trips a false -Wrestrict in GCC 12.
    std::string name = ".";
    name += file.filename().string();
    name += ".tmp-";
    name += std::to_string(tag % 1000000000000ull);
    return file.has_parent_path() ? file.parent_path() / name : std::filesystem::path(name);
}

}  // namespace detail

// Throws FileWriteError.
inline void write_file_atomically(const std::filesystem::path& file, std::span<const unsigned char> bytes) {
    if (file.filename().empty()) throw FileWriteError(file, "is not a file name");
    std::filesystem::path temp;
    std::FILE* out = nullptr;
    for (unsigned attempt = 0; attempt < 100 && !out; ++attempt) {
        temp = detail::temporary_sibling(file, attempt);
        out = std::fopen(temp.c_str(), "wbx");  // "x": fail rather than reuse an existing file
        if (!out && errno != EEXIST)
            throw FileWriteError(file, "cannot create a temporary file beside it: " + detail::errno_message(errno));
    }
    if (!out) throw FileWriteError(file, "cannot create a temporary file beside it: every name tried exists");

    auto fail = [&](const std::string& problem) {
        if (out) std::fclose(out);
        std::error_code ignored;
        std::filesystem::remove(temp, ignored);
        throw FileWriteError(file, problem);
    };
    if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), out) != bytes.size())
        fail("write error: " + detail::errno_message(errno));
    if (std::fflush(out) != 0) fail("write error: " + detail::errno_message(errno));
#if __has_include(<unistd.h>)
    // Make the data durable before the rename makes it visible.
    if (::fsync(::fileno(out)) != 0 && errno != EINVAL) fail("write error: " + detail::errno_message(errno));
#endif
    const int closed = std::fclose(out);
    out = nullptr;
    if (closed != 0) fail("write error: " + detail::errno_message(errno));

    std::error_code ec;
    std::filesystem::rename(temp, file, ec);
    if (ec) fail("cannot replace the file: " + ec.message());
}

inline void write_file_atomically(const std::filesystem::path& file, std::string_view text) {
    write_file_atomically(file, std::span(reinterpret_cast<const unsigned char*>(text.data()), text.size()));
}

}  // namespace deblur
