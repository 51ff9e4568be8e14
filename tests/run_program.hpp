#pragma once
// Runs one of the project's programs as a user would, for the program-level
// tests: no standard input, stdout and stderr captured in files, the exit
// status or the signal that ended it, and the wall time.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern char** environ;

namespace deblur::test {

struct Run {
    bool exited = false;  // false: killed by a signal
    int status = -1;      // exit status, or the signal number
    std::string err, out;
    double seconds = 0;
};

// Runs `program` with `args`; stdout and stderr go to files in `log_dir`.
inline Run run_program(const char* program, const std::vector<std::string>& args, const std::filesystem::path& log_dir) {
    static int count = 0;
    const std::string tag = std::to_string(++count);
    const auto out_file = log_dir / ("stdout-" + tag), err_file = log_dir / ("stderr-" + tag);
    std::vector<std::string> all{program};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = 0;
    const auto start = std::chrono::steady_clock::now();
    const int spawned = posix_spawn(&pid, program, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE_MESSAGE(spawned == 0, "cannot start " << program << ": " << std::strerror(spawned));
    int wstatus = 0;
    while (::waitpid(pid, &wstatus, 0) < 0) REQUIRE(errno == EINTR);
    Run run;
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    run.exited = WIFEXITED(wstatus);
    run.status = run.exited ? WEXITSTATUS(wstatus) : WTERMSIG(wstatus);
    const auto text = [](const std::filesystem::path& p) {
        std::ifstream in(p, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    };
    run.err = text(err_file);
    run.out = text(out_file);
    return run;
}

}  // namespace deblur::test
