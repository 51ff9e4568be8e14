#pragma once
// One line of training progress:
//
//   step 1200/100000 (1.2%)  loss 3.21e-04  val 2.98e-04  57.3 ex/s  ETA 1h23m
//
// On a terminal the line is rewritten in place with '\r' (at most ten times a
// second); otherwise (a log file, a pipe) a full line is printed every
// `interval_s` seconds so logs stay short. The ETA comes from the step rate
// measured since the first update, so a resumed run estimates correctly.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <ostream>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace deblur::train {

class ProgressLine {
public:
    using clock = std::chrono::steady_clock;

    // True when standard error is a terminal (the usual destination).
    static bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

    explicit ProgressLine(std::int64_t total_steps, std::ostream& out = std::cerr, bool terminal = stderr_is_terminal(),
                          double interval_s = 30.0)
        : total_(total_steps), out_(out), terminal_(terminal), interval_s_(terminal ? 0.1 : interval_s) {
        if (total_steps <= 0) throw std::invalid_argument("deblur::train::ProgressLine: total_steps must be positive");
        if (!(interval_s >= 0)) throw std::invalid_argument("deblur::train::ProgressLine: interval_s must be >= 0");
    }

    // Reports the state after `step`. val_loss / examples_per_s may be NaN (not measured);
    // the last finite validation loss is shown until a new one arrives.
    void update(std::int64_t step, double loss, double val_loss = NAN, double examples_per_s = NAN) {
        const auto now = clock::now();
        if (!started_) {
            started_ = true;
            first_step_ = step;
            first_time_ = now;
        }
        if (std::isfinite(val_loss)) val_loss_ = val_loss;
        const double since_start = std::chrono::duration<double>(now - first_time_).count();
        const bool due = printed_ == 0 || step >= total_ ||
                         std::chrono::duration<double>(now - last_print_).count() >= interval_s_;
        if (!due) return;
        double eta = NAN;
        if (step > first_step_ && since_start > 0)
            eta = double(total_ - step) * since_start / double(step - first_step_);
        print(format(step, total_, loss, val_loss_, examples_per_s, eta));
        last_print_ = now;
    }

    // Ends the in-place line on a terminal (call once training stops).
    void finish() {
        if (terminal_ && width_ > 0) out_ << '\n' << std::flush;
        width_ = 0;
    }

    // Number of times a line was written (for tests and callers that interleave output).
    std::size_t lines_printed() const { return printed_; }

    static std::string format(std::int64_t step, std::int64_t total, double loss, double val_loss,
                              double examples_per_s, double eta_s) {
        char buf[256];
        int n = std::snprintf(buf, sizeof buf, "step %lld/%lld (%.1f%%)  loss %.3e", static_cast<long long>(step),
                              static_cast<long long>(total), 100.0 * double(step) / double(total), loss);
        std::string s(buf, std::size_t(n));
        if (std::isfinite(val_loss)) {
            n = std::snprintf(buf, sizeof buf, "  val %.3e", val_loss);
            s.append(buf, std::size_t(n));
        }
        if (std::isfinite(examples_per_s)) {
            n = std::snprintf(buf, sizeof buf, "  %.1f ex/s", examples_per_s);
            s.append(buf, std::size_t(n));
        }
        if (std::isfinite(eta_s)) s += "  ETA " + format_duration(eta_s);
        return s;
    }

    // "45s", "12m05s", "3h07m", "2d04h".
    static std::string format_duration(double seconds) {
        const auto t = static_cast<long long>(std::llround(std::max(seconds, 0.0)));
        char buf[64];
        if (t < 60)
            std::snprintf(buf, sizeof buf, "%llds", t);
        else if (t < 3600)
            std::snprintf(buf, sizeof buf, "%lldm%02llds", t / 60, t % 60);
        else if (t < 86400)
            std::snprintf(buf, sizeof buf, "%lldh%02lldm", t / 3600, (t % 3600) / 60);
        else
            std::snprintf(buf, sizeof buf, "%lldd%02lldh", t / 86400, (t % 86400) / 3600);
        return buf;
    }

private:
    void print(const std::string& line) {
        if (terminal_) {
            // Pad with spaces so a shorter line fully covers the previous one.
            out_ << '\r' << line;
            if (line.size() < width_) out_ << std::string(width_ - line.size(), ' ');
            width_ = line.size();
        } else {
            out_ << line << '\n';
        }
        out_ << std::flush;
        ++printed_;
    }

    std::int64_t total_;
    std::ostream& out_;
    bool terminal_;
    double interval_s_;
    bool started_ = false;
    std::int64_t first_step_ = 0;
    clock::time_point first_time_{}, last_print_{};
    double val_loss_ = NAN;
    std::size_t printed_ = 0;
    std::size_t width_ = 0;
};

}  // namespace deblur::train
