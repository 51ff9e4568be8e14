// deblur-train and deblur-validate as a user runs them (the failure contract):
//
// * bad options — out of range, not a number, unknown — and bad data folders
//   give exit status 1 and exactly one line on stderr starting with the
//   tool's name and naming the option, and leave no run folder behind;
// * a short real training run on synthetic photos, cut off and resumed,
//   ends with the same files as the uninterrupted run (Trainer's guarantee);
// * a flipped bit or a cut in the checkpoint's optimiser state is refused on
//   --resume; an --out that holds a run is refused without --resume and left
//   byte for byte as it was; --overwrite starts again;
// * deblur-validate prints its table for the shipped model on the photos.
//
// Everything is synthetic (noise photos in a temporary folder), so the test
// needs no ../shared data. The programs' paths come from CMake
// (DEBLUR_TRAIN_TOOL, DEBLUR_VALIDATE_TOOL); built only with the tools.
#include "doctest_main.hpp"
#include "noise_photo.hpp"
#include "run_program.hpp"
#include "temp_dir.hpp"

#include <deblur/core/tensor.hpp>
#include <deblur/io/write_image.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#if !defined(DEBLUR_TRAIN_TOOL) || !defined(DEBLUR_VALIDATE_TOOL)
#error "DEBLUR_TRAIN_TOOL and DEBLUR_VALIDATE_TOOL (the programs' paths) must be defined"
#endif

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<char>;
using deblur::test::TempDir;

Bytes read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const Bytes& b) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(b.data(), static_cast<std::streamsize>(b.size()));
    REQUIRE(out.good());
}

// Every file of a folder (not recursive) and its bytes.
std::map<std::string, Bytes> snapshot(const fs::path& dir) {
    std::map<std::string, Bytes> files;
    for (const auto& e : fs::directory_iterator(dir)) files[e.path().filename().string()] = read_bytes(e.path());
    return files;
}

// --- Running a program ----------------------------------------------------------

using deblur::test::Run;
using deblur::test::run_program;

// The failure contract: exit status 1, no signal, exactly one line on stderr,
// "<tool>: ...", that mentions `mention` (the option or file at fault), no
// sanitizer report, nothing on stdout.
void check_clean_failure(const Run& run, const std::string& tool, const std::string& mention) {
    INFO("stderr: " << run.err);
    CHECK_MESSAGE(run.exited, "killed by signal " << run.status);
    CHECK(run.status == 1);
    CHECK(run.err.rfind(tool + ": ", 0) == 0);
    CHECK(std::count(run.err.begin(), run.err.end(), '\n') == 1);
    CHECK((!run.err.empty() && run.err.back() == '\n'));
    CHECK(run.err.find(mention) != std::string::npos);
    CHECK(run.err.find("Sanitizer") == std::string::npos);
    CHECK(run.err.find("runtime error") == std::string::npos);
    CHECK(run.out.empty());
}

void check_success(const Run& run) {
    INFO("stderr: " << run.err);
    CHECK_MESSAGE(run.exited, "killed by signal " << run.status);
    CHECK(run.status == 0);
    CHECK(run.err.find("Sanitizer") == std::string::npos);
    CHECK(run.err.find("runtime error") == std::string::npos);
}

// --- The synthetic photos and the training command ------------------------------

// Noise photos as 8-bit PNGs: `n` of `size` px in `dir`.
void write_photos(const fs::path& dir, int n, std::size_t size, unsigned seed) {
    fs::create_directories(dir);
    for (int i = 0; i < n; ++i) {
        const auto photo = deblur::test::noise_photo(size, seed + static_cast<unsigned>(i));
        auto t = deblur::make_tensor<float>(1, size, size);
        std::copy(photo.begin(), photo.end(), t.begin());
        deblur::io::write_image(dir / ("photo" + std::to_string(i) + ".png"), t);
    }
}

// A temporary folder with training and validation photos big enough for the
// smallest crops of the 17 px scale (34 px blurry, 50 px sharp).
struct Data {
    TempDir dir{"deblur-train-tools"};
    fs::path train = dir / "train", val = dir / "val";
    Data() {
        write_photos(train, 3, 64, 1);
        write_photos(val, 2, 64, 100);
    }
};

using Options = std::vector<std::pair<std::string, std::string>>;  // value "": a flag

// deblur-train's arguments for a tiny run into `out`: the base options, each
// replaced by the one of `changes` with the same name, then the others of `changes`.
std::vector<std::string> train_args(const Data& data, const fs::path& out, const Options& changes = {}) {
    // Stage 2 joins at step 2 and learns alone for one step, stage 3 at step 4:
    // a run cut off at step 3 resumes across a stage change.
    Options options{{"--out", out.string()},       {"--train-dir", data.train.string()},
                    {"--val-dir", data.val.string()}, {"--steps", "5"},
                    {"--batch", "2"},                {"--crop", "34"},
                    {"--val-crop", "34"},            {"--val-images", "2"},
                    {"--val-every", "1"},            {"--stage-steps", "2"},
                    {"--freeze-steps", "1"}};
    for (const auto& change : changes) {
        const auto same = std::find_if(options.begin(), options.end(), [&](const auto& o) { return o.first == change.first; });
        if (same != options.end())
            same->second = change.second;
        else
            options.push_back(change);
    }
    std::vector<std::string> args;
    for (const auto& [name, value] : options) {
        args.push_back(name);
        if (!value.empty()) args.push_back(value);
    }
    return args;
}

Run train(const Data& data, const fs::path& out, const Options& changes = {}) {
    return run_program(DEBLUR_TRAIN_TOOL, train_args(data, out, changes), data.dir.path);
}

// The files a finished run must have written.
void check_run_files(const fs::path& out) {
    for (const char* name : {"best.dbm", "checkpoint.dbm", "checkpoint.dbm.opt", "log.csv", "loss.png"})
        CHECK_MESSAGE(fs::is_regular_file(out / name), name << " missing in " << out);
}

// The step, loss and validation loss columns of a run's log (not its timings).
std::vector<std::string> log_losses(const fs::path& out) {
    std::ifstream in(out / "log.csv");
    std::vector<std::string> rows;
    for (std::string line; std::getline(in, line);) {
        std::size_t cut = line.find(',');
        for (int i = 0; i < 2 && cut != std::string::npos; ++i) cut = line.find(',', cut + 1);
        rows.push_back(line.substr(0, cut));
    }
    return rows;
}

}  // namespace

TEST_CASE("deblur-train refuses bad options with one line naming the option, before creating anything") {
    const Data data;
    const fs::path out = data.dir / "run";
    const std::vector<std::pair<Options, std::string>> cases{
        {{{"--steps", "0"}}, "--steps 0"},
        {{{"--steps", "-3"}}, "--steps -3"},
        {{{"--steps", "many"}}, "--steps"},
        {{{"--batch", "0"}}, "--batch 0"},
        {{{"--batch", "-1"}}, "--batch -1"},
        {{{"--crop", "16"}}, "--crop 16"},  // under twice the 17 px kernel
        {{{"--crop", "100000"}}, "--crop 100000"},
        {{{"--noise", "1.5"}}, "--noise 1.5"},
        {{{"--noise", "nan"}}, "--noise nan"},
        {{{"--learning-rate", "0"}}, "--learning-rate 0"},
        {{{"--learning-rate", "inf"}}, "--learning-rate inf"},
        {{{"--decay", "1"}}, "--decay 1"},
        {{{"--decay", "-0.5"}}, "--decay -0.5"},
        {{{"--val-images", "0"}}, "--val-images 0"},
        {{{"--val-crop", "8"}}, "--val-crop 8"},
        {{{"--val-every", "0"}}, "--val-every 0"},
        {{{"--checkpoint-minutes", "0"}}, "--checkpoint-minutes 0"},
        {{{"--checkpoint-minutes", "nan"}}, "--checkpoint-minutes nan"},
        {{{"--threads", "-1"}}, "--threads -1"},
        {{{"--threads", "100000"}}, "--threads 100000"},
        {{{"--scale", "3"}}, "--scale 3"},
        {{{"--stage-steps", "0"}}, "--stage-steps 0"},
        {{{"--freeze-steps", "-1"}}, "--freeze-steps -1"},
        {{{"--nonuniform", ""}, {"--grid", "0"}}, "--grid 0"},
        {{{"--grid", "3"}}, "--grid"},  // without --nonuniform
        {{{"--device", "tpu"}}, "--device"},
        {{{"--resume", ""}, {"--overwrite", ""}}, "--overwrite"},
        {{{"--init", (data.dir / "missing.dbm").string()}}, "missing.dbm"},
        {{{"--no-such-flag", ""}}, "--no-such-flag"},
    };
    for (const auto& [changes, mention] : cases) {
        CAPTURE(mention);
        check_clean_failure(train(data, out, changes), "deblur-train", mention);
        CHECK_MESSAGE(!fs::exists(out), "a run folder was created");
    }
}

TEST_CASE("deblur-train refuses missing, empty or unusable photo folders without leaving a run folder") {
    const Data data;
    const fs::path empty = data.dir / "empty", small = data.dir / "small", broken = data.dir / "broken.dbm";
    fs::create_directories(empty);
    write_photos(small, 1, 40, 7);  // under the 50 px sharp crop
    write_bytes(broken, Bytes(1000, 'x'));
    // A nested --out: none of its new folders may stay.
    const fs::path top = data.dir / "new", out = top / "run";
    const std::vector<std::pair<Options, std::string>> cases{
        {{{"--train-dir", (data.dir / "missing").string()}}, "--train-dir"},
        {{{"--train-dir", empty.string()}}, "--train-dir"},
        {{{"--val-dir", (data.dir / "missing").string()}}, "--val-dir"},
        {{{"--val-dir", empty.string()}}, "--val-dir"},
        {{{"--val-dir", small.string()}}, "--val-dir"},  // no validation example
        {{{"--train-dir", small.string()}}, "--train-dir"},
        {{{"--val-dir", (data.train / "").string()}}, "--val-dir"},  // the training photos
        {{{"--nonuniform", ""}, {"--val-dir", small.string()}}, "--val-dir"},
        {{{"--init", broken.string()}}, "broken.dbm"},  // fails once the folder is made
        {{{"--init-coarser", broken.string()}}, "broken.dbm"},
        {{{"--resume", ""}}, "--resume"},
    };
    for (const auto& [changes, mention] : cases) {
        CAPTURE(mention);
        check_clean_failure(train(data, out, changes), "deblur-train", mention);
        CHECK_MESSAGE(!fs::exists(top), "a run folder was left behind");
    }
    // --out must be a folder.
    check_clean_failure(train(data, broken), "deblur-train", "--out");
}

TEST_CASE("deblur-train: a run resumed from its checkpoint ends as the uninterrupted run; a corrupt "
          "checkpoint is refused; a finished run is not overwritten unless asked") {
    const Data data;
    const fs::path straight = data.dir / "straight", resumed = data.dir / "resumed";

    SUBCASE("resume") {
        check_success(train(data, straight));
        check_run_files(straight);
        check_success(train(data, resumed, {{"--steps", "3"}}));
        const Run second = train(data, resumed, {{"--resume", ""}});
        check_success(second);
        CHECK(second.err.find("resumed at step 3") != std::string::npos);
        // Trainer's guarantee: parameters, optimiser state and best model alike, byte for byte.
        for (const char* name : {"checkpoint.dbm", "checkpoint.dbm.opt", "best.dbm"}) {
            CAPTURE(name);
            CHECK(read_bytes(resumed / name) == read_bytes(straight / name));
        }
        CHECK(log_losses(resumed) == log_losses(straight));
        CHECK(log_losses(straight).size() == 6);  // the header, steps 1 to 5
    }

    SUBCASE("a flipped bit or a cut in the optimiser state") {
        check_success(train(data, resumed, {{"--steps", "3"}}));
        const fs::path opt = resumed / "checkpoint.dbm.opt";
        const Bytes good = read_bytes(opt);
        REQUIRE(good.size() > 100);
        Bytes flipped = good;
        flipped[good.size() / 2] ^= 0x10;  // deep inside the state values: only the checksum sees it
        Bytes header_flip = good;
        header_flip[12] ^= 0x01;  // the step
        const std::vector<std::pair<Bytes, std::string>> corrupt{
            {flipped, "checksum"}, {header_flip, "checksum"}, {Bytes(good.begin(), good.end() - 3), "checkpoint.dbm.opt"},
            {Bytes(good.begin(), good.begin() + 20), "truncated"}, {Bytes(), "checkpoint.dbm.opt"}};
        for (const auto& [bytes, mention] : corrupt) {
            CAPTURE(mention);
            write_bytes(opt, bytes);
            const auto before = snapshot(resumed);
            check_clean_failure(train(data, resumed, {{"--resume", ""}}), "deblur-train", mention);
            CHECK(snapshot(resumed) == before);
        }
        fs::remove(opt);
        check_clean_failure(train(data, resumed, {{"--resume", ""}}), "deblur-train", "checkpoint.dbm.opt");
        write_bytes(opt, good);
        check_success(train(data, resumed, {{"--resume", ""}}));
    }

    SUBCASE("an --out that holds a run: refused, untouched; --overwrite starts again") {
        check_success(train(data, straight));
        check_success(train(data, resumed, {{"--steps", "3"}, {"--seed", "2"}}));
        write_bytes(resumed / "command.sh", Bytes{'#', '\n'});  // the user's own file beside the run
        const auto before = snapshot(resumed);
        const Run refused = train(data, resumed);
        check_clean_failure(refused, "deblur-train", "already holds a run");
        CHECK(refused.err.find("checkpoint.dbm") != std::string::npos);
        CHECK(refused.err.find("--resume") != std::string::npos);
        CHECK(refused.err.find("--overwrite") != std::string::npos);
        CHECK(snapshot(resumed) == before);

        // A fresh start: the same files as a run into a new folder; only the run's own files were replaced.
        check_success(train(data, resumed, {{"--overwrite", ""}}));
        for (const char* name : {"checkpoint.dbm", "checkpoint.dbm.opt", "best.dbm"}) {
            CAPTURE(name);
            CHECK(read_bytes(resumed / name) == read_bytes(straight / name));
        }
        CHECK(log_losses(resumed) == log_losses(straight));
        CHECK(read_bytes(resumed / "command.sh") == before.at("command.sh"));

        // A folder with no run in it (only the user's command.sh) is a new run's folder.
        const fs::path prepared = data.dir / "prepared";
        fs::create_directories(prepared);
        write_bytes(prepared / "command.sh", Bytes{'#', '\n'});
        check_success(train(data, prepared));
        check_run_files(prepared);
    }
}

#ifdef DEBLUR_MPIEXEC
// `mpiexec -np N deblur-train` (built with MPI): N processes share each batch
// and end with the files of one process, byte for byte; a run cut off under
// one process count resumes under another.
TEST_CASE("mpiexec -np 2 deblur-train ends with the files of one process; --resume with another process count") {
    const Data data;
    const fs::path alone = data.dir / "alone", together = data.dir / "together", mixed = data.dir / "mixed";
    const auto mpi_train = [&](int processes, const fs::path& out, const Options& changes = {}) {
        std::vector<std::string> args{"-np", std::to_string(processes), "-x", "OMP_NUM_THREADS=1", DEBLUR_TRAIN_TOOL};
        for (const auto& a : train_args(data, out, changes)) args.push_back(a);
        return run_program(DEBLUR_MPIEXEC, args, data.dir.path);
    };
    const Options odd_batch{{"--batch", "3"}};  // shared 1 + 2
    check_success(train(data, alone, odd_batch));
    const Run run = mpi_train(2, together, odd_batch);
    check_success(run);
    CHECK(run.err.find("2 processes x 1 threads") != std::string::npos);
    CHECK(run.err.find("ms per step") != std::string::npos);
    check_run_files(together);
    for (const char* name : {"checkpoint.dbm", "checkpoint.dbm.opt", "best.dbm"}) {
        CAPTURE(name);
        CHECK(read_bytes(together / name) == read_bytes(alone / name));
    }
    CHECK(log_losses(together) == log_losses(alone));

    // 3 steps on 2 processes, then the rest on 1 (and on 3 from a 1-process start).
    check_success(mpi_train(2, mixed, {{"--batch", "3"}, {"--steps", "3"}}));
    check_success(train(data, mixed, {{"--batch", "3"}, {"--resume", ""}}));
    CHECK(read_bytes(mixed / "checkpoint.dbm") == read_bytes(alone / "checkpoint.dbm"));
    const fs::path mixed3 = data.dir / "mixed3";
    check_success(train(data, mixed3, {{"--batch", "3"}, {"--steps", "2"}}));
    check_success(mpi_train(3, mixed3, {{"--batch", "3"}, {"--resume", ""}}));
    CHECK(read_bytes(mixed3 / "checkpoint.dbm") == read_bytes(alone / "checkpoint.dbm"));
    CHECK(log_losses(mixed3) == log_losses(alone));

    // A failure in one process ends them all with a message, not a hang.
    const Run failed = mpi_train(2, data.dir / "failed", {{"--init", (data.dir / "missing.dbm").string()}});
    CHECK(failed.status != 0);
    CHECK(failed.err.find("deblur-train") != std::string::npos);
}
#endif

TEST_CASE("deblur-validate prints its table for the shipped model, and refuses bad options with one line") {
    const Data data;
    const std::string model = std::string(DEBLUR_SOURCE_DIR) + "/models/default.dbm";
    const auto validate = [&](std::vector<std::string> args) {
        return run_program(DEBLUR_VALIDATE_TOOL, args, data.dir.path);
    };
    const std::vector<std::string> base{"--model", model, "--val-dir", data.val.string(), "--crop", "34"};

    const Run ok = validate(base);
    check_success(ok);
    CHECK(ok.out.find("validation: 2 examples, 17 px kernels") != std::string::npos);
    CHECK(ok.out.find("| network (default.dbm) |") != std::string::npos);
    CHECK(ok.out.find("| delta kernel |") != std::string::npos);

    const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
        {{"--scale", "3"}, "--scale 3"},
        {{"--images", "-1"}, "--images -1"},
        {{"--noise", "2"}, "--noise 2"},
        {{"--noise", "nan"}, "--noise nan"},
        {{"--refine-edge-pixels", "0"}, "--refine-edge-pixels 0"},
        {{"--refine-tail-noise", "-1"}, "--refine-tail-noise -1"},
        {{"--refine-support-levels", "-1"}, "--refine-support-levels -1"},
        {{"--refine-support-weight", "0"}, "--refine-support-weight 0"},
        {{"--refine-support-max-noise", "inf"}, "--refine-support-max-noise inf"},
        {{"--no-such-flag"}, "--no-such-flag"},
    };
    for (const auto& [extra, mention] : cases) {
        CAPTURE(mention);
        auto args = base;
        args.insert(args.end(), extra.begin(), extra.end());
        check_clean_failure(validate(args), "deblur-validate", mention);
    }
    // Options of the base replaced.
    check_clean_failure(validate({"--model", model, "--val-dir", data.val.string(), "--crop", "20"}), "deblur-validate",
                        "--crop 20");
    check_clean_failure(validate({"--model", model, "--val-dir", data.val.string(), "--crop", "x"}), "deblur-validate",
                        "--crop");
    check_clean_failure(validate({"--model", (data.dir / "missing.dbm").string(), "--val-dir", data.val.string()}),
                        "deblur-validate", "missing.dbm");
    check_clean_failure(validate({"--model", model, "--val-dir", (data.dir / "missing").string()}), "deblur-validate",
                        "--val-dir");
    check_clean_failure(validate({"--model", model, "--val-dir", data.val.string(), "--crop", "100"}), "deblur-validate",
                        "--val-dir");  // the 64 px photos are smaller than the crop: no example
}
