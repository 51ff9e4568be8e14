#pragma once
// Writes that replace a file all at once: the bytes go to a temporary file in
// the target's directory which is then renamed over the target, so a reader
// (or a run killed mid-write) sees the old file or the new one, never half of
// one, and a failed write leaves the old file (or no file) and no temporary
// behind. Model files, training logs and checkpoints, and images all go
// through here.
//
// Temporary files are named ".<name>.tmp-<pid>-<tag>". A program that calls
// remove_temporaries_on_signals() has them removed when SIGINT, SIGTERM or
// SIGHUP ends it mid-write; remove_stale_temporaries(folder) removes those
// left by a process that no longer runs (killed with SIGKILL, a power cut).
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

#include <array>
#include <csignal>
#include <cstring>

#if __has_include(<unistd.h>)
#include <signal.h>
#include <unistd.h>
#define DEBLUR_HAS_POSIX 1
#else
#define DEBLUR_HAS_POSIX 0
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
#if DEBLUR_HAS_POSIX
    name += std::to_string(::getpid());
    name += "-";
#endif
    name += std::to_string(tag % 1000000000000ull);
    return file.has_parent_path() ? file.parent_path() / name : std::filesystem::path(name);
}

// The temporary files being written now, for the signal handler: fixed slots
// whose state says whether the path in them is complete (only async-signal-
// safe work happens in a handler: reading these and unlink).
struct TemporaryFiles {
    static constexpr std::size_t slots = 32, length = 4096;
    std::array<std::atomic<int>, slots> state{};  // 0 free, 1 being filled, 2 holds a path
    char path[slots][length]{};
};

inline TemporaryFiles& temporary_files() {
    static TemporaryFiles files;
    return files;
}

// While alive, `file` is removed if a handled signal ends the program.
class TemporaryFileGuard {
public:
    explicit TemporaryFileGuard(const std::filesystem::path& file) {
        const std::string p = file.string();
        if (p.size() >= TemporaryFiles::length) return;
        auto& files = temporary_files();
        for (std::size_t i = 0; i < TemporaryFiles::slots; ++i) {
            int expected = 0;  // a free slot
            if (!files.state[i].compare_exchange_strong(expected, 1)) continue;
            std::memcpy(files.path[i], p.c_str(), p.size() + 1);
            files.state[i].store(2);
            slot_ = static_cast<int>(i);
            return;
        }
    }
    ~TemporaryFileGuard() {
        if (slot_ >= 0) temporary_files().state[std::size_t(slot_)].store(0);
    }
    TemporaryFileGuard(const TemporaryFileGuard&) = delete;
    TemporaryFileGuard& operator=(const TemporaryFileGuard&) = delete;

private:
    int slot_ = -1;
};

#if DEBLUR_HAS_POSIX
extern "C" inline void remove_temporaries_and_reraise(int signal) {
    auto& files = temporary_files();
    for (std::size_t i = 0; i < TemporaryFiles::slots; ++i)
        if (files.state[i].load() == 2) ::unlink(files.path[i]);
    std::signal(signal, SIG_DFL);
    std::raise(signal);
}

// The process id in a temporary's name (".x.tmp-<pid>-<tag>", or a
// ".x.pending-<pid>" of the deblur tool before it used that form); 0 if none.
inline long temporary_owner(const std::string& name) {
    if (name.empty() || name[0] != '.') return 0;
    for (const std::string marker : {".tmp-", ".pending-"}) {
        const auto at = name.rfind(marker);
        if (at == std::string::npos) continue;
        std::size_t i = at + marker.size(), digits = 0;
        long pid = 0;
        for (; i < name.size() && name[i] >= '0' && name[i] <= '9' && digits < 9; ++i, ++digits) pid = pid * 10 + (name[i] - '0');
        const bool tmp = marker == ".tmp-";  // "<pid>-<tag>"; ".pending-": "<pid>" to the end
        if (digits > 0 && (tmp ? i < name.size() && name[i] == '-' : i == name.size())) return pid;
    }
    return 0;
}
#endif

}  // namespace detail

// Installs handlers for SIGINT, SIGTERM and SIGHUP that remove the temporary
// files being written (write_file_atomically, TemporaryFileGuard), then end
// the program as the signal would have. For programs, not libraries: it
// replaces the handlers of those signals.
inline void remove_temporaries_on_signals() {
#if DEBLUR_HAS_POSIX
    for (int s : {SIGINT, SIGTERM, SIGHUP}) std::signal(s, detail::remove_temporaries_and_reraise);
#endif
}

// Removes the temporary files in `folder` whose writer process has ended;
// returns how many. Errors (an unreadable folder) are ignored: this is tidying.
inline std::size_t remove_stale_temporaries(const std::filesystem::path& folder) {
    std::size_t removed = 0;
#if DEBLUR_HAS_POSIX
    std::error_code ec;
    for (std::filesystem::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
        const long pid = detail::temporary_owner(it->path().filename().string());
        if (pid <= 0 || pid == ::getpid() || !it->is_regular_file(ec)) continue;
        if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to judge
        std::error_code ignored;
        if (std::filesystem::remove(it->path(), ignored)) ++removed;
    }
#else
    (void)folder;
#endif
    return removed;
}

namespace detail {

// Creates a new, empty temporary beside `file` ("x": never an existing file)
// and returns it open for writing, its name in `temp`; a failure throws
// FileWriteError(file, problem + why).
inline std::FILE* create_temporary(const std::filesystem::path& file, std::filesystem::path& temp, const std::string& problem) {
    if (file.filename().empty()) throw FileWriteError(file, "is not a file name");
    for (unsigned attempt = 0; attempt < 100; ++attempt) {
        temp = temporary_sibling(file, attempt);
        if (std::FILE* out = std::fopen(temp.c_str(), "wbx")) return out;
        if (errno != EEXIST) throw FileWriteError(file, problem + errno_message(errno));
    }
    throw FileWriteError(file, problem + "every name tried exists");
}

}  // namespace detail

// Throws FileWriteError.
inline void write_file_atomically(const std::filesystem::path& file, std::span<const unsigned char> bytes) {
    std::filesystem::path temp;
    std::FILE* out = detail::create_temporary(file, temp, "cannot create a temporary file beside it: ");
    const detail::TemporaryFileGuard guard(temp);

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

// Throws FileWriteError unless a file can be created in `file`'s folder (by
// creating and removing a temporary there): a run checks its outputs before
// its work, not after.
inline void check_file_writable(const std::filesystem::path& file) {
    std::filesystem::path temp;
    std::fclose(detail::create_temporary(file, temp, "cannot be written: "));
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
}

inline void write_file_atomically(const std::filesystem::path& file, std::string_view text) {
    write_file_atomically(file, std::span(reinterpret_cast<const unsigned char*>(text.data()), text.size()));
}

}  // namespace deblur
