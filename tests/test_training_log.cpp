#include "doctest_main.hpp"
#include "temp_dir.hpp"

#include <deblur/core/atomic_file.hpp>
#include <deblur/train/loss_plot.hpp>
#include <deblur/train/progress_line.hpp>
#include <deblur/train/training_log.hpp>

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using deblur::train::LogRecord;
using deblur::train::TrainingLog;

namespace {

// A fresh empty directory, removed at the end of the test.
using deblur::test::TempDir;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

bool no_temporaries(const fs::path& dir) {
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().find(".tmp") != std::string::npos) return false;
    return true;
}

}  // namespace

TEST_CASE("TrainingLog writes rows that read back exactly") {
    TempDir dir;
    const fs::path path = dir.path / "sub" / "log.csv";  // the folder is created on first write
    TrainingLog log(path);
    CHECK(!fs::exists(path));
    CHECK(!log.last_step());
    std::vector<LogRecord> rows;
    for (int i = 1; i <= 5; ++i) {
        LogRecord r{.step = 100 * i, .loss = 1.0 / (3.0 * i), .examples_per_s = 55.5 + i, .elapsed_s = 0.1 * i};
        if (i % 2 == 0) r.val_loss = 0.7 / i;  // validation only every other row
        log.append(r);
        rows.push_back(r);
    }
    CHECK(no_temporaries(path.parent_path()));
    const std::string text = slurp(path);
    CHECK(text.rfind("step,loss,val_loss,examples_per_s,elapsed_s\n", 0) == 0);
    CHECK(text.find("\n100,0.3333333333333333,,56.5,0.1\n") != std::string::npos);

    const auto back = TrainingLog::read(path);
    REQUIRE(back.size() == rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        CHECK(back[i].step == rows[i].step);
        CHECK(back[i].loss == rows[i].loss);  // shortest round-trip formatting: bit-identical
        CHECK(back[i].examples_per_s == rows[i].examples_per_s);
        CHECK(back[i].elapsed_s == rows[i].elapsed_s);
        CHECK(std::isnan(back[i].val_loss) == std::isnan(rows[i].val_loss));
        if (!std::isnan(rows[i].val_loss)) CHECK(back[i].val_loss == rows[i].val_loss);
    }
}

TEST_CASE("TrainingLog continues an existing log on resume") {
    TempDir dir;
    const fs::path path = dir.path / "log.csv";
    {
        TrainingLog log(path);
        for (int s = 10; s <= 50; s += 10) log.append({.step = s, .loss = 1.0 / s, .elapsed_s = double(s)});
    }
    // The run crashed after step 50 but its last checkpoint was at step 30.
    TrainingLog resumed(path);
    CHECK(resumed.records().size() == 5);
    CHECK(resumed.last_step() == 50);
    CHECK_THROWS_AS(resumed.append({.step = 40, .loss = 0.5}), std::invalid_argument);
    resumed.truncate_after(30);
    CHECK(resumed.last_step() == 30);
    CHECK(resumed.elapsed_before() == 30.0);
    CHECK(TrainingLog::read(path).size() == 3);
    resumed.append({.step = 40, .loss = 0.02, .elapsed_s = 41.0});
    const auto back = TrainingLog::read(path);
    REQUIRE(back.size() == 4);
    CHECK(back[2].step == 30);
    CHECK(back[3].step == 40);
    CHECK(back[3].loss == 0.02);
    CHECK(no_temporaries(dir.path));
}

TEST_CASE("TrainingLog rejects files that are not its logs") {
    TempDir dir;
    const fs::path path = dir.path / "other.csv";
    deblur::write_file_atomically(path, "a,b,c\n1,2,3\n");
    CHECK_THROWS_AS(TrainingLog{path}, std::runtime_error);
    deblur::write_file_atomically(path, "step,loss,val_loss,examples_per_s,elapsed_s\n1,abc,,,\n");
    CHECK_THROWS_AS(TrainingLog{path}, std::runtime_error);
    deblur::write_file_atomically(path, "step,loss,val_loss,examples_per_s,elapsed_s\n1,2\n");
    CHECK_THROWS_AS(TrainingLog{path}, std::runtime_error);
}

TEST_CASE("write_file_atomically replaces the whole file and leaves it intact on failure") {
    TempDir dir;
    const fs::path path = dir.path / "f.txt";
    deblur::write_file_atomically(path, std::string(10000, 'a'));
    deblur::write_file_atomically(path, "short");
    CHECK(slurp(path) == "short");
    CHECK(no_temporaries(dir.path));
    // The rename fails (the target is a non-empty folder): the folder survives, no temporary is left.
    const fs::path folder = dir.path / "folder";
    fs::create_directories(folder);
    deblur::write_file_atomically(folder / "inside.txt", "kept");
    CHECK_THROWS_AS(deblur::write_file_atomically(folder, "new"), deblur::FileWriteError);
    CHECK(slurp(folder / "inside.txt") == "kept");
    CHECK(no_temporaries(dir.path));
    // The folder of the target does not exist: a clear error naming the file, nothing created.
    CHECK_THROWS_WITH_AS(deblur::write_file_atomically(dir.path / "missing" / "f.txt", "new"),
                         doctest::Contains("missing/f.txt"), deblur::FileWriteError);
    CHECK(!fs::exists(dir.path / "missing"));
}

TEST_CASE("The loss plot is a readable PNG with both curves, decreasing loss drawn falling") {
    TempDir dir;
    std::vector<LogRecord> rows;
    for (int s = 0; s <= 2000; s += 20) {
        LogRecord r{.step = s, .loss = 0.5 * std::exp(-s / 500.0) + 1e-4};
        if (s % 200 == 0) r.val_loss = 0.6 * std::exp(-s / 600.0) + 2e-4;
        rows.push_back(r);
    }
    const fs::path path = dir.path / "loss.png";
    deblur::train::LossPlotOptions options;
    options.width = 640;
    options.height = 400;
    deblur::train::write_loss_plot(path, rows, options);
    if (const char* keep = std::getenv("DEBLUR_KEEP_PLOT")) fs::copy_file(path, keep, fs::copy_options::overwrite_existing);
    CHECK(no_temporaries(dir.path));

    int w = 0, h = 0, channels = 0;
    std::unique_ptr<unsigned char, void (*)(void*)> pixels(stbi_load(path.c_str(), &w, &h, &channels, 3), stbi_image_free);
    REQUIRE(pixels);
    CHECK(w == 640);
    CHECK(h == 400);
    auto at = [&](int x, int y) { return &pixels.get()[(std::size_t(y) * w + x) * 3]; };
    CHECK(at(2, 2)[0] == 255);  // white canvas
    CHECK(at(w - 3, h - 3)[2] == 255);

    // Topmost row of loss-coloured (31,119,180) and val-coloured (230,110,0) pixels per column,
    // excluding the legend box in the upper right.
    auto topmost = [&](int x, std::array<int, 3> c) {
        for (int y = 0; y < h; ++y) {
            const auto* p = at(x, y);
            if (p[0] == c[0] && p[1] == c[1] && p[2] == c[2]) return y;
        }
        return -1;
    };
    const std::array<int, 3> loss_rgb{31, 119, 180}, val_rgb{230, 110, 0};
    const int early = 90, late = w - 200;
    const int y_early = topmost(early, loss_rgb), y_late = topmost(late, loss_rgb);
    REQUIRE(y_early >= 0);
    REQUIRE(y_late >= 0);
    CHECK(y_early < y_late);  // image rows grow downwards: the falling loss goes down
    const int v_early = topmost(early, val_rgb), v_late = topmost(late, val_rgb);
    REQUIRE(v_early >= 0);
    REQUIRE(v_late >= 0);
    CHECK(v_early < v_late);

    // Black axis frame pixels exist (axes drawn).
    int black = 0;
    for (int y = 0; y < h; ++y) black += at(70, y)[0] == 0 && at(70, y)[1] == 0 && at(70, y)[2] == 0;
    CHECK(black > h / 2);
}

TEST_CASE("The loss plot copes with empty and degenerate logs") {
    CHECK_NOTHROW(deblur::train::render_loss_plot({}));
    std::vector<LogRecord> one{{.step = 5, .loss = 0.1}};
    const auto image = deblur::train::render_loss_plot(one);
    CHECK(image.pixels.size() == std::size_t(image.width) * image.height * 3);
    std::vector<LogRecord> bad{{.step = 1, .loss = -1.0}, {.step = 2, .loss = NAN}, {.step = 3, .loss = 0.0}};
    CHECK_NOTHROW(deblur::train::render_loss_plot(bad));
    CHECK(!deblur::train::encode_png(image).empty());
    CHECK_THROWS_AS(deblur::train::render_loss_plot(one, {.width = 10, .height = 10}), std::invalid_argument);
}

TEST_CASE("ProgressLine formats progress and rewrites in place on a terminal") {
    using deblur::train::ProgressLine;
    const std::string line = ProgressLine::format(1200, 100000, 3.21e-4, 2.98e-4, 57.3, 5000);
    CHECK(line == "step 1200/100000 (1.2%)  loss 3.210e-04  val 2.980e-04  57.3 ex/s  ETA 1h23m");
    CHECK(ProgressLine::format(1, 2, 0.5, NAN, NAN, NAN) == "step 1/2 (50.0%)  loss 5.000e-01");
    CHECK(ProgressLine::format_duration(45) == "45s");
    CHECK(ProgressLine::format_duration(725) == "12m05s");
    CHECK(ProgressLine::format_duration(2 * 86400 + 4 * 3600 + 5) == "2d04h");

    std::ostringstream tty;
    {
        ProgressLine p(10, tty, true);
        p.update(1, 0.123456, 0.2, 50.0);  // first update always prints
        p.update(10, 0.01);                 // the last step always prints
        p.finish();
        CHECK(p.lines_printed() == 2);
    }
    const std::string t = tty.str();
    CHECK(t.front() == '\r');
    CHECK(t.back() == '\n');
    CHECK(t.find("val 2.000e-01") != std::string::npos);
    CHECK(std::count(t.begin(), t.end(), '\n') == 1);  // one line, rewritten
    // The second, shorter line is padded to cover the first.
    const auto second = t.substr(t.rfind('\r') + 1);
    CHECK(second.size() >= t.find('\r', 1) - 1);

    std::ostringstream file;
    ProgressLine quiet(1000, file, false, 3600.0);
    for (int s = 1; s < 1000; ++s) quiet.update(s, 1.0 / s);
    CHECK(quiet.lines_printed() == 1);  // only the first within the hour
    quiet.update(1000, 1e-3);
    CHECK(quiet.lines_printed() == 2);
    const std::string f = file.str();
    CHECK(std::count(f.begin(), f.end(), '\n') == 2);
    ProgressLine chatty(5, file, false, 0.0);
    for (int s = 1; s <= 5; ++s) chatty.update(s, 1.0);
    CHECK(chatty.lines_printed() == 5);
}
