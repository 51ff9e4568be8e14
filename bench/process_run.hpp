#pragma once
// A whole run of a program as a user sees it: wall seconds from start to exit
// and its peak resident memory (the kernel's ru_maxrss for the child, the
// figure `/usr/bin/time -v` prints as "Maximum resident set size").
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

extern char** environ;

namespace bench {

struct ProcessRun {
    double seconds = NAN;    // NaN when the program could not start or failed
    double peak_mb = NAN;    // peak resident memory, MB (10^6 bytes)
    int exit_status = -1;
};

// Runs argv[0] with its arguments, stdout and stderr to `log` (appended).
inline ProcessRun run_process(const std::vector<std::string>& argv, const std::filesystem::path& log) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    ProcessRun result;
    const auto start = std::chrono::steady_clock::now();
    pid_t pid = 0;
    const int spawned = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) return result;
    int status = 0;
    rusage usage{};
    if (wait4(pid, &status, 0, &usage) != pid) return result;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.peak_mb = static_cast<double>(usage.ru_maxrss) * 1024.0 / 1e6;  // ru_maxrss is in KiB
    if (result.exit_status == 0) result.seconds = seconds;
    return result;
}

}  // namespace bench
