// fuzz: every file reader of the library (PNG, JPEG, TIFF, PFM, model files,
// training checkpoints) fed mutated seed files (tests/fuzz/). Each input must
// decode or be refused with the reader's documented error, within the time
// and memory limits; build with the sanitizers (bench/README.md) so that
// memory errors and undefined behaviour count too.
//
//   ./build-fuzz/bench/fuzz --inputs 100000 --reader all   # from the project root
//
// Prints one table row per reader and exits 1 on any failure. Failing inputs
// are saved as <save-dir>/<reader>-<index><suffix>; an input the process dies
// on (crash, sanitizer report, or a hang: still running after --hang-limit) as
// <save-dir>/<reader>-crash<suffix>. A saved file reproduces with
// read_image / load_model / load_checkpoint_files, or rerun the same command:
// the inputs are the same for the same --seed (and standard library).
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define DEBLUR_FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DEBLUR_FUZZ_ASAN 1
#endif
#endif
#ifdef DEBLUR_FUZZ_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

#include "../tests/fuzz/fuzz.hpp"

namespace {

using deblur::fuzz::Input;

// The input being read and where to save it should the process die on it:
// read from signal handlers and the sanitizers' death callback, so only
// async-signal-safe calls below.
const Input* current_input = nullptr;
std::vector<std::string> crash_paths;
std::string save_dir;

void say(const char* text) { (void)!write(STDERR_FILENO, text, std::strlen(text)); }

void save_current_input() {
    if (!current_input) return;
    mkdir(save_dir.c_str(), 0777);
    for (std::size_t k = 0; k < current_input->size() && k < crash_paths.size(); ++k) {
        const int fd = open(crash_paths[k].c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) continue;
        const auto& bytes = (*current_input)[k];
        for (std::size_t done = 0; done < bytes.size();) {
            const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
            if (n <= 0) break;
            done += static_cast<std::size_t>(n);
        }
        close(fd);
        say("fuzz: the input is saved as ");
        say(crash_paths[k].c_str());
        say("\n");
    }
}

void on_hang(int) {
    say("\nfuzz: an input is still running after --hang-limit seconds (a hang)\n");
    save_current_input();
    _exit(1);
}

#ifdef DEBLUR_FUZZ_ASAN
void on_sanitizer_death() { save_current_input(); }
#else
void on_crash(int sig) {
    say("\nfuzz: the process crashed on an input\n");
    save_current_input();
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}
#endif

void arm_hang_timer(double seconds) {
    itimerval t{};
    t.it_value.tv_sec = static_cast<time_t>(seconds);
    t.it_value.tv_usec = static_cast<suseconds_t>((seconds - static_cast<double>(t.it_value.tv_sec)) * 1e6);
    setitimer(ITIMER_REAL, &t, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
    namespace fuzz = deblur::fuzz;
    CLI::App app{"Fuzzes the library's file readers with mutated seed files"};
    std::size_t inputs = 100000, max_saved = 10;
    std::uint64_t seed = 1;
    double hang_limit = 60;
    std::string reader = "all";
    fuzz::Limits limits;
    save_dir = "fuzz-failures";
    std::vector<std::string> choices = fuzz::reader_names();
    choices.push_back("all");
    app.add_option("--inputs", inputs, "Inputs per reader (the seeds and huge headers first)")->capture_default_str();
    app.add_option("--seed", seed, "Seed of the mutations")->capture_default_str();
    app.add_option("--reader", reader, "png, jpeg, tiff, pfm, model, checkpoint or all")
        ->capture_default_str()
        ->check(CLI::IsMember(choices));
    app.add_option("--time-limit", limits.seconds_per_input, "Seconds one input may take (per 10^7 samples of a bigger image)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--memory-limit", limits.memory_mb,
                   "Peak resident memory (MB) the process may reach, plus 16 bytes per sample of a decoded image")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--hang-limit", hang_limit, "Seconds after which an input counts as a hang and ends the run")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--save-dir", save_dir, "Where failing inputs are saved")->capture_default_str();
    app.add_option("--max-saved", max_saved, "Failing inputs saved per reader")->capture_default_str();
    CLI11_PARSE(app, argc, argv);

#ifdef DEBLUR_FUZZ_ASAN
    __sanitizer_set_death_callback(on_sanitizer_death);
#else
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(sig, on_crash);
#endif
    std::signal(SIGALRM, on_hang);

    const std::vector<std::string> names = reader == "all" ? fuzz::reader_names() : std::vector<std::string>{reader};
    std::printf("seed %llu, %zu inputs per reader, time limit %g s per input, memory limit %g MB\n\n",
                static_cast<unsigned long long>(seed), inputs, limits.seconds_per_input, limits.memory_mb);
    std::printf("| reader | inputs | decoded | refused | failures | huge headers refused | inputs/s | slowest input (ms) | its index |\n");
    std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    std::fflush(stdout);
    std::size_t failures = 0;
    try {
        for (const std::string& name : names) {
            const fuzz::Reader r = fuzz::make_reader(name);
            crash_paths.clear();
            for (const std::string& suffix : r.suffixes) crash_paths.push_back(save_dir + "/" + name + "-crash" + suffix);
            std::size_t saved = 0;
            auto on_failure = [&](const Input& in, std::size_t index, const std::string& why) {
                std::string where;
                if (saved < max_saved) {
                    ++saved;
                    std::filesystem::create_directories(save_dir);
                    for (std::size_t k = 0; k < in.size(); ++k) {
                        const auto file = std::filesystem::path(save_dir) / (name + "-" + std::to_string(index) + r.suffixes[k]);
                        fuzz::write_bytes(file, in[k]);
                        where += (where.empty() ? " (saved as " : ", ") + file.string();
                    }
                    where += ")";
                }
                std::cerr << "fuzz: " << name << " input " << index << ": " << why << where << "\n";
            };
            auto before = [&](const Input& in) {
                current_input = &in;
                arm_hang_timer(hang_limit);
            };
            const fuzz::Stats s = fuzz::fuzz_reader(r, inputs, seed, limits, on_failure, before);
            arm_hang_timer(0);
            current_input = nullptr;
            failures += s.failures;
            std::printf("| %s | %zu | %zu | %zu | %zu | %zu / %zu | %.0f | %.1f | %zu |\n", name.c_str(), s.inputs,
                        s.decoded, s.refused, s.failures, s.huge_refused, s.huge, static_cast<double>(s.inputs) / s.seconds,
                        s.slowest_ms, s.slowest_index);
            std::fflush(stdout);
        }
    } catch (const std::exception& e) {
        std::cerr << "fuzz: " << e.what() << "\n";
        return 1;
    }
    std::printf("\npeak memory %.0f MB; %zu failures\n", fuzz::peak_memory_mb(), failures);
    return failures == 0 ? 0 : 1;
}
