#pragma once
// The tools' common contract for bad command lines: one line on stderr,
// "<tool>: <what is wrong>", exit status 1, before any work. CLI11's own
// errors (unknown flags, values that are not numbers, missing arguments) are
// mapped to that line; the value checks below say what range is expected.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace deblur::tools {

// A bad option value; what() names the option and the value.
class UsageError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// Parses the command line. Returns the exit status when the program must stop
// now (0 after --help, 1 after an error, reported as one "<tool>: " line),
// nothing when it goes on.
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv, const std::string& tool) {
    try {
        app.parse(argc, argv);
        return std::nullopt;
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help
        std::string message = e.what();
        for (char& c : message)
            if (c == '\n') c = ' ';
        std::cerr << tool << ": " << message << " (see --help)\n";
        return 1;
    }
}

// A value as the user would write it (CLI11 prints doubles in full).
template <class T>
std::string shown(T value) {
    std::ostringstream s;
    s << value;
    return s.str();
}

// A finite value in [low, high].
inline void require_in_range(const std::string& option, double value, double low, double high) {
    if (!std::isfinite(value) || value < low || value > high)
        throw UsageError(option + " " + shown(value) + ": expected a number from " + shown(low) + " to " + shown(high));
}

// A finite value above zero (and at most `high`).
inline void require_positive(const std::string& option, double value, double high) {
    if (!std::isfinite(value) || !(value > 0) || value > high)
        throw UsageError(option + " " + shown(value) + ": expected a number above 0 and at most " + shown(high));
}

// A whole number in [low, high].
inline void require_count(const std::string& option, long long value, long long low, long long high) {
    if (value < low || value > high)
        throw UsageError(option + " " + std::to_string(value) + ": expected a whole number from " + std::to_string(low) +
                         " to " + std::to_string(high));
}

// Threads: 0 (all cores) up to the machine's hardware threads; more only
// adds contention (measured: 1000 threads took 4.6x the time and 6x the memory).
inline void require_threads(const std::string& option, long long value) {
    const long long cores = std::max(1u, std::thread::hardware_concurrency());
    if (value < 0 || value > cores)
        throw UsageError(option + " " + std::to_string(value) + ": expected 0 (all) to " + std::to_string(cores) +
                         " (this machine's hardware threads)");
}

}  // namespace deblur::tools
