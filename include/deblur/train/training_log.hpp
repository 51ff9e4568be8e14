#pragma once
// The training log: a CSV file with one row per logged step,
//
//   step,loss,val_loss,examples_per_s,elapsed_s
//
// where a value that was not measured at that step (typically val_loss) is an
// empty field. Opening an existing log keeps its rows, so a resumed run appends
// to the same file; `truncate_after(step)` first drops rows logged after the
// checkpoint the run resumes from. Each append rewrites the whole file
// atomically (temporary file + rename), so a killed run never leaves a torn
// row; log every few dozen steps, not every step, for long runs.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../core/atomic_file.hpp"

namespace deblur::train {

struct LogRecord {
    std::int64_t step = 0;
    double loss = std::numeric_limits<double>::quiet_NaN();
    double val_loss = std::numeric_limits<double>::quiet_NaN();
    double examples_per_s = std::numeric_limits<double>::quiet_NaN();
    double elapsed_s = std::numeric_limits<double>::quiet_NaN();
};

class TrainingLog {
public:
    static constexpr std::string_view header = "step,loss,val_loss,examples_per_s,elapsed_s";

    // Opens the log at `path`, reading the rows already there (none if the
    // file does not exist yet; nothing is written until the first append).
    explicit TrainingLog(std::filesystem::path path) : path_(std::move(path)) {
        if (std::filesystem::exists(path_)) {
            records_ = read(path_);
            text_.clear();
            text_.append(header).push_back('\n');
            for (const auto& r : records_) append_row(text_, r);
        } else {
            text_.append(header).push_back('\n');
        }
    }

    const std::filesystem::path& path() const { return path_; }
    const std::vector<LogRecord>& records() const { return records_; }
    std::optional<std::int64_t> last_step() const {
        if (records_.empty()) return std::nullopt;
        return records_.back().step;
    }
    // Wall time already spent by earlier runs (elapsed_s of the last row with one), so
    // a resumed run can report the total.
    double elapsed_before() const {
        for (auto it = records_.rbegin(); it != records_.rend(); ++it)
            if (std::isfinite(it->elapsed_s)) return it->elapsed_s;
        return 0.0;
    }

    // Adds one row; steps must increase strictly. Rewrites the file atomically.
    void append(const LogRecord& record) {
        if (record.step < 0) throw std::invalid_argument("deblur::train::TrainingLog: negative step");
        if (!records_.empty() && record.step <= records_.back().step)
            throw std::invalid_argument("deblur::train::TrainingLog: step " + std::to_string(record.step) +
                                        " does not follow the last logged step " +
                                        std::to_string(records_.back().step) + " (call truncate_after on resume)");
        records_.push_back(record);
        append_row(text_, record);
        write();
    }

    // Drops the rows with step > `step` (logged after the checkpoint a run
    // resumes from) and rewrites the file if anything was dropped.
    void truncate_after(std::int64_t step) {
        std::size_t keep = records_.size();
        while (keep > 0 && records_[keep - 1].step > step) --keep;
        if (keep == records_.size()) return;
        records_.resize(keep);
        text_.clear();
        text_.append(header).push_back('\n');
        for (const auto& r : records_) append_row(text_, r);
        write();
    }

    // Parses a log written by this class.
    static std::vector<LogRecord> read(const std::filesystem::path& path) {
        std::ifstream in(path);
        if (!in) throw std::runtime_error("deblur::train::TrainingLog: cannot open " + path.string());
        std::string line;
        if (!std::getline(in, line) || trim(line) != header)
            throw std::runtime_error("deblur::train::TrainingLog: " + path.string() + " does not start with the header '" +
                                     std::string(header) + "'");
        std::vector<LogRecord> records;
        std::size_t line_number = 1;
        while (std::getline(in, line)) {
            ++line_number;
            const std::string_view row = trim(line);
            if (row.empty()) continue;
            records.push_back(parse_row(row, path, line_number));
        }
        return records;
    }

private:
    // The run's folder is created on the first write.
    void write() const {
        if (path_.has_parent_path()) std::filesystem::create_directories(path_.parent_path());
        write_file_atomically(path_, text_);
    }

    static std::string_view trim(std::string_view s) {
        while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.remove_suffix(1);
        while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
        return s;
    }

    // Shortest text that reads back to the same double; empty for "not measured".
    static void append_number(std::string& out, double v) {
        if (std::isnan(v)) return;
        char buf[32];
        const auto res = std::to_chars(buf, buf + sizeof buf, v);
        out.append(buf, res.ptr);
    }

    static void append_row(std::string& out, const LogRecord& r) {
        out += std::to_string(r.step);
        for (double v : {r.loss, r.val_loss, r.examples_per_s, r.elapsed_s}) {
            out.push_back(',');
            append_number(out, v);
        }
        out.push_back('\n');
    }

    static LogRecord parse_row(std::string_view row, const std::filesystem::path& path, std::size_t line_number) {
        auto fail = [&](const char* what) {
            return std::runtime_error("deblur::train::TrainingLog: " + path.string() + " line " +
                                      std::to_string(line_number) + ": " + what);
        };
        std::vector<std::string_view> fields;
        for (std::size_t start = 0;;) {
            const std::size_t comma = row.find(',', start);
            fields.push_back(row.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
            if (comma == std::string_view::npos) break;
            start = comma + 1;
        }
        if (fields.size() != 5) throw fail("expected 5 fields");
        LogRecord r;
        if (std::from_chars(fields[0].data(), fields[0].data() + fields[0].size(), r.step).ec != std::errc{})
            throw fail("bad step");
        double* targets[] = {&r.loss, &r.val_loss, &r.examples_per_s, &r.elapsed_s};
        for (std::size_t i = 0; i < 4; ++i) {
            const std::string_view f = trim(fields[i + 1]);
            if (f.empty()) continue;  // not measured: stays NaN
            const auto res = std::from_chars(f.data(), f.data() + f.size(), *targets[i]);
            if (res.ec != std::errc{} || res.ptr != f.data() + f.size()) throw fail("bad number");
        }
        return r;
    }

    std::filesystem::path path_;
    std::vector<LogRecord> records_;
    std::string text_;  // the file's contents, kept so an append is one write
};

}  // namespace deblur::train
