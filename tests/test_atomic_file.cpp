#include "doctest_main.hpp"
#include "temp_dir.hpp"

#include <deblur/core/atomic_file.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;

namespace {

void touch(const fs::path& p) { std::ofstream(p) << "x"; }

// The id of a process that has ended (forked, exited and reaped).
pid_t dead_pid() {
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    int status = 0;
    ::waitpid(child, &status, 0);
    return child;
}

}  // namespace

TEST_CASE("temporary files carry the writer's process id") {
    const auto temp = deblur::detail::temporary_sibling("folder/out.png", 0);
    CHECK(temp.parent_path() == "folder");
    const std::string name = temp.filename().string();
    CHECK(name.rfind(".out.png.tmp-" + std::to_string(::getpid()) + "-", 0) == 0);
    CHECK(deblur::detail::temporary_owner(name) == ::getpid());
    CHECK(deblur::detail::temporary_owner(".out.png.pending-4242") == 4242);
    for (const char* other : {"out.png", ".out.png", ".out.png.tmp-", ".out.png.tmp-12", ".out.png.tmp-x-1",
                              ".out.png.pending-12x", "out.png.tmp-12-3"})
        CHECK_MESSAGE(deblur::detail::temporary_owner(other) == 0, other);
}

TEST_CASE("remove_stale_temporaries removes only the temporaries of ended processes") {
    deblur::test::TempDir tmp;
    const pid_t dead = dead_pid();
    const fs::path stale = tmp.path / (".out.png.tmp-" + std::to_string(dead) + "-77");
    const fs::path stale_pending = tmp.path / (".out.kernel.png.pending-" + std::to_string(dead));
    const fs::path own = tmp.path / (".out.png.tmp-" + std::to_string(::getpid()) + "-1");
    const fs::path parent = tmp.path / (".out.png.tmp-" + std::to_string(::getppid()) + "-1");
    const fs::path result = tmp.path / "out.png";
    for (const auto& p : {stale, stale_pending, own, parent, result}) touch(p);
    CHECK(deblur::remove_stale_temporaries(tmp.path) == 2);
    CHECK_FALSE(fs::exists(stale));
    CHECK_FALSE(fs::exists(stale_pending));
    CHECK(fs::exists(own));     // this process is alive
    CHECK(fs::exists(parent));  // so is its parent
    CHECK(fs::exists(result));
    CHECK(deblur::remove_stale_temporaries(tmp.path / "no-such-folder") == 0);
}

TEST_CASE("check_file_writable creates nothing, and names the file when its folder cannot take it") {
    deblur::test::TempDir tmp;
    deblur::check_file_writable(tmp.path / "out.png");
    CHECK(fs::is_empty(tmp.path));
    // /proc takes no new files, even from root (CI runs as root, which file modes do not stop).
    CHECK_THROWS_WITH_AS(deblur::check_file_writable("/proc/deblur-out.png"),
                         doctest::Contains("/proc/deblur-out.png: cannot be written"), deblur::FileWriteError);
}

TEST_CASE("a handled SIGTERM removes the temporary files being written, then ends the process as the signal does") {
    deblur::test::TempDir tmp;
    const fs::path temp = tmp.path / ".out.png.tmp-1-1", kept = tmp.path / "out.png";
    touch(temp);
    touch(kept);
    const pid_t child = ::fork();
    if (child == 0) {
        deblur::remove_temporaries_on_signals();
        const deblur::detail::TemporaryFileGuard guard(temp);
        std::raise(SIGTERM);
        ::_exit(0);  // not reached
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGTERM);
    CHECK_FALSE(fs::exists(temp));
    CHECK(fs::exists(kept));

    // A guard that has ended leaves its file alone.
    touch(temp);
    const pid_t second = ::fork();
    if (second == 0) {
        deblur::remove_temporaries_on_signals();
        { const deblur::detail::TemporaryFileGuard guard(temp); }
        std::raise(SIGTERM);
        ::_exit(0);
    }
    REQUIRE(::waitpid(second, &status, 0) == second);
    CHECK(WIFSIGNALED(status));
    CHECK(fs::exists(temp));
}
