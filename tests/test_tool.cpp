// The `deblur` program as a user runs it (issue 5, items 4 and 6):
//
// * bad input — missing, unreadable, corrupt or unsupported files, NaN or
//   infinity in float images, images smaller than the kernel, broken or
//   foreign models, outputs that cannot be written: the program must exit
//   with status 1 and one line on stderr starting with "deblur:", without a
//   signal or a sanitizer report, and leave nothing in the output folder
//   (no result, no kernel file, no temporary file) and an existing result
//   untouched;
// * end to end — a photo crop blurred with a known camera-shake kernel and
//   noise, written as a 16-bit PNG and deblurred by the program, must come out
//   closer to the sharp crop than the blurry input did, and the kernel it
//   writes (OUTPUT.kernel.png) must resemble the true kernel;
// * the kernel as data — the kernel the program writes (OUTPUT.kernel.png,
//   --kernel-out) given back with --kernel deconvolves to the same result.
//
// The program's path comes from CMake (DEBLUR_TOOL); this file is only built
// when the tools are. Runs from the project root (DEBLUR_SOURCE_DIR).
#include "doctest_main.hpp"
#include "run_program.hpp"
#include "temp_dir.hpp"

#include <deblur/blur/blur.hpp>
#include <deblur/blur/motion_kernel_sampler.hpp>
#include <deblur/blur/noise.hpp>
#include <deblur/eval/aligned_ssd.hpp>
#include <deblur/io/color.hpp>
#include <deblur/io/kernel_file.hpp>
#include <deblur/io/read_image.hpp>
#include <deblur/io/write_image.hpp>
#include <deblur/net/default_network.hpp>
#include <deblur/net/model_file.hpp>
#include <deblur/pipeline/estimation_window.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <tiffio.h>
#include <unistd.h>

#include <cstdio>  // before jpeglib.h
#include <jpeglib.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>
#include <xtensor/xview.hpp>

#ifndef DEBLUR_TOOL
#error "DEBLUR_TOOL (the path of the deblur program) must be defined"
#endif

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

using deblur::test::TempDir;

Bytes read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const Bytes& b) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    REQUIRE(out.good());
}

void write_text(const fs::path& p, const std::string& s) { write_bytes(p, Bytes(s.begin(), s.end())); }

// A gray test pattern with edges in every direction, values in [0.1, 0.9].
deblur::Tensor<float> pattern(std::size_t h, std::size_t w) {
    auto t = deblur::make_tensor<float>(1, h, w);
    for (std::size_t r = 0; r < h; ++r)
        for (std::size_t c = 0; c < w; ++c) {
            const bool square = ((r / 7) + (c / 5)) % 2 == 0;
            const bool disc = (r - h / 2.0) * (r - h / 2.0) + (c - w / 3.0) * (c - w / 3.0) < h * w / 16.0;
            t(0, r, c) = 0.1f + 0.5f * square + 0.3f * disc;
        }
    return t;
}

// A blurry image the test makes itself, on which the program estimates a
// kernel (it does not fall back to the unchanged image): the sample scene
// (examples/sample-sharp.png) blurred by a 13 px camera-shake kernel, with
// noise of 0.005. (Not the checkerboard `pattern`: its periodic squares fit
// kernels of many sizes, and which one the support ladder accepts there
// changes with the last bit of the network's output.)
deblur::Tensor<float> blurred_scene() {
    std::mt19937 rng(5);
    const auto kernel = deblur::MotionKernelSampler().sample<float>(13, rng);
    const auto scene = deblur::io::read_image(DEBLUR_SOURCE_DIR "/examples/sample-sharp.png").pixels;
    const xt::xtensor<float, 2> sharp = xt::view(scene, 0, xt::range(0, 212), xt::range(0, 212));
    xt::xtensor<float, 2> blurry = deblur::blur(sharp, kernel, deblur::BlurMode::valid);
    deblur::add_gaussian_noise(blurry, 0.005, rng);
    auto image = deblur::make_tensor<float>(1, blurry.shape(0), blurry.shape(1));
    xt::view(image, 0, xt::all(), xt::all()) = xt::clip(blurry, 0.0f, 1.0f);
    return image;
}

// --- Running the program ------------------------------------------------------

using deblur::test::Run;

// Runs DEBLUR_TOOL with `args`; stdout and stderr go to files in `log_dir`.
Run run_tool(const std::vector<std::string>& args, const fs::path& log_dir) {
    return deblur::test::run_program(DEBLUR_TOOL, args, log_dir);
}

std::set<std::string> listing(const fs::path& dir) {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
    return names;
}

std::string joined(const std::set<std::string>& names) {
    std::string s;
    for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
    return s.empty() ? "(empty)" : s;
}

// The failure contract: exit status 1, no signal, exactly one line on stderr
// starting "deblur:" (so no sanitizer report, no library chatter), and the
// output folder as it was before the run.
void check_clean_failure(const Run& run, const fs::path& out_dir, const std::set<std::string>& before = {}) {
    INFO("stderr: " << run.err);
    CHECK_MESSAGE(run.exited, "killed by signal " << run.status);
    CHECK(run.status == 1);
    CHECK(run.err.rfind("deblur: ", 0) == 0);
    CHECK(std::count(run.err.begin(), run.err.end(), '\n') == 1);
    CHECK((!run.err.empty() && run.err.back() == '\n'));
    CHECK(run.err.find("Sanitizer") == std::string::npos);
    CHECK(run.err.find("runtime error") == std::string::npos);
    CHECK(run.out.empty());
    const auto after = listing(out_dir);
    CHECK_MESSAGE(after == before, "output folder after the failed run: " << joined(after));
}

// --- Bad files ------------------------------------------------------------------

Bytes png_bytes(const deblur::Tensor<float>& t, deblur::io::SampleType type = deblur::io::SampleType::uint8) {
    return deblur::io::encode_image(t, deblur::io::ImageFormat::png, type, "pattern.png");
}

Bytes jpeg_bytes(const deblur::Tensor<float>& t) {
    jpeg_compress_struct cinfo;
    jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    unsigned char* buffer = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&cinfo, &buffer, &size);
    cinfo.image_width = static_cast<JDIMENSION>(t.shape(2));
    cinfo.image_height = static_cast<JDIMENSION>(t.shape(1));
    cinfo.input_components = 1;
    cinfo.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, 90, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    std::vector<unsigned char> row(t.shape(2));
    while (cinfo.next_scanline < cinfo.image_height) {
        for (std::size_t c = 0; c < row.size(); ++c)
            row[c] = static_cast<unsigned char>(std::lround(t(0, cinfo.next_scanline, c) * 255));
        JSAMPROW rows[1] = {row.data()};
        jpeg_write_scanlines(&cinfo, rows, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    Bytes out(buffer, buffer + size);
    std::free(buffer);
    return out;
}

// deblur::io refuses to write NaN or infinity, so these two are written by hand.
void write_float_tiff(const fs::path& file, const deblur::Tensor<float>& t) {
    TIFF* tif = TIFFOpen(file.c_str(), "w");
    REQUIRE(tif != nullptr);
    const auto h = static_cast<std::uint32_t>(t.shape(1)), w = static_cast<std::uint32_t>(t.shape(2));
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, w);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, h);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 32);
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_IEEEFP);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_NONE);
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, h);
    std::vector<float> row(w);
    for (std::uint32_t r = 0; r < h; ++r) {
        for (std::uint32_t c = 0; c < w; ++c) row[c] = t(0, r, c);
        REQUIRE(TIFFWriteScanline(tif, row.data(), r, 0) == 1);
    }
    TIFFClose(tif);
}

void write_pfm(const fs::path& file, const deblur::Tensor<float>& t) {
    const std::size_t h = t.shape(1), w = t.shape(2);
    const std::string header = "Pf\n" + std::to_string(w) + " " + std::to_string(h) + "\n-1.0\n";
    Bytes b(header.begin(), header.end());
    for (std::size_t r = h; r-- > 0;)  // PFM rows go bottom to top; -1: little-endian
        for (std::size_t c = 0; c < w; ++c) {
            std::uint32_t bits;
            const float v = t(0, r, c);
            std::memcpy(&bits, &v, 4);
            for (int k = 0; k < 4; ++k) b.push_back(static_cast<unsigned char>(bits >> (8 * k)));
        }
    write_bytes(file, b);
}

Bytes random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    Bytes b(n);
    for (auto& v : b) v = static_cast<unsigned char>(rng());
    return b;
}

// An 8 x 8, 24-bit Windows bitmap: a real image, in a format deblur does not read.
Bytes bmp_bytes() {
    const std::uint32_t w = 8, h = 8, row = w * 3, size = 54 + row * h;
    Bytes b(size, 0x80);
    auto put = [&](std::size_t at, std::uint32_t v, int n) {
        for (int k = 0; k < n; ++k) b[at + k] = static_cast<unsigned char>(v >> (8 * k));
    };
    b[0] = 'B';
    b[1] = 'M';
    put(2, size, 4);
    put(6, 0, 4);
    put(10, 54, 4);
    put(14, 40, 4);
    put(18, w, 4);
    put(22, h, 4);
    put(26, 1, 2);
    put(28, 24, 2);
    put(30, 0, 4);
    put(34, row * h, 4);
    put(38, 2835, 4);
    put(42, 2835, 4);
    put(46, 0, 4);
    put(50, 0, 4);
    return b;
}

// A network of another architecture than the shipped one.
template <int K>
using TinyStage = deblur::Stage<deblur::Chain<deblur::Conv<2, 3>, deblur::Tanh<>, deblur::Recombine<2>>,
                                deblur::Quotient<K>, deblur::ImageQuotient<>>;
using OtherNet = deblur::MultiScale<deblur::Scale<5, TinyStage<5>>>;

const fs::path shipped_model = fs::path(DEBLUR_SOURCE_DIR) / "models" / "default.dbm";

}  // namespace

TEST_CASE("the program fails cleanly on bad input") {
    TempDir tmp;
    const fs::path in = tmp.path / "in", logs = tmp.path / "logs";
    fs::create_directories(in);
    fs::create_directories(logs);
    const auto good = pattern(64, 64);
    write_bytes(in / "good.png", png_bytes(good));

    // Bad inputs, written into `in`; each case runs with a fresh, empty output folder.
    struct Case {
        std::string name;
        std::vector<std::string> args;  // "{output}" is replaced
        std::string names;              // the error must name this file
    };
    std::vector<Case> cases;
    auto input_case = [&](const std::string& name, const std::string& file) {
        cases.push_back({name, {(in / file).string(), "{output}", "--quiet"}, file});
    };

    input_case("missing input file", "does-not-exist.png");
    fs::create_directories(in / "a-folder.png");
    input_case("input is a directory", "a-folder.png");
    if (::geteuid() != 0) {  // root reads anything
        write_bytes(in / "no-permission.png", png_bytes(good));
        fs::permissions(in / "no-permission.png", fs::perms::none);
        input_case("input without read permission", "no-permission.png");
    }
    write_bytes(in / "empty.png", {});
    input_case("empty file", "empty.png");
    {
        auto b = png_bytes(good);
        b.resize(b.size() / 2);
        write_bytes(in / "truncated.png", b);
        input_case("truncated PNG", "truncated.png");
        b.resize(40);  // inside the header chunks
        write_bytes(in / "truncated-header.png", b);
        input_case("PNG truncated in its header", "truncated-header.png");
    }
    {
        auto b = jpeg_bytes(good);
        REQUIRE(b.size() > 400);
        b.resize(b.size() / 2);
        write_bytes(in / "truncated.jpg", b);
        input_case("truncated JPEG", "truncated.jpg");
    }
    {
        auto b = png_bytes(good);
        for (std::size_t i = b.size() / 2; i < b.size() / 2 + 64; ++i) b[i] ^= 0x5A;  // inside IDAT
        write_bytes(in / "corrupt-data.png", b);
        input_case("PNG with corrupt image data", "corrupt-data.png");
    }
    write_bytes(in / "random.png", random_bytes(5000, 1));
    input_case("random bytes named .png", "random.png");
    write_bytes(in / "random.jpg", random_bytes(5000, 2));
    input_case("random bytes named .jpg", "random.jpg");
    write_bytes(in / "image.bmp", bmp_bytes());
    input_case("BMP (unsupported format)", "image.bmp");
    write_text(in / "notes.txt", "not an image\n");
    input_case("text file", "notes.txt");
    write_bytes(in / "tiny.png", png_bytes(pattern(8, 8)));
    cases.push_back({"8 x 8 image, smaller than the kernel", {(in / "tiny.png").string(), "{output}", "-q"}, "tiny.png"});
    write_bytes(in / "one-pixel.png", png_bytes(pattern(1, 1)));
    cases.push_back({"1 x 1 image", {(in / "one-pixel.png").string(), "{output}", "-q"}, "one-pixel.png"});
    for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity()}) {
        auto t = good;
        t(0, 30, 20) = bad;
        const std::string what = std::isnan(bad) ? "nan" : bad > 0 ? "inf" : "-inf";
        write_float_tiff(in / ("float-" + what + ".tif"), t);
        input_case("float TIFF with " + what, "float-" + what + ".tif");
        write_pfm(in / ("float-" + what + ".pfm"), t);
        input_case("PFM with " + what, "float-" + what + ".pfm");
    }

    // Models: random bytes, a truncated copy of the shipped one, another architecture, missing.
    auto model_case = [&](const std::string& name, const fs::path& model) {
        cases.push_back({name, {(in / "good.png").string(), "{output}", "--quiet", "--model", model.string()},
                         model.filename().string()});
    };
    write_bytes(in / "random.dbm", random_bytes(4096, 3));
    model_case("model of random bytes", in / "random.dbm");
    {
        auto b = read_bytes(shipped_model);
        REQUIRE(b.size() > 1000);
        b.resize(b.size() / 2);
        write_bytes(in / "truncated.dbm", b);
        model_case("truncated model", in / "truncated.dbm");
        b = read_bytes(shipped_model);
        b[b.size() / 2] ^= 0x01;  // one bit of one parameter
        write_bytes(in / "bit-flip.dbm", b);
        model_case("model with one bit flipped", in / "bit-flip.dbm");
    }
    {
        OtherNet other(1);
        deblur::save_model(other, in / "other.dbm");
        model_case("model of another architecture", in / "other.dbm");
    }
    model_case("missing model", in / "no-such-model.dbm");
    model_case("model is a directory", in / "a-folder.png");

    // Outputs that cannot be written (the input is good).
    cases.push_back({"output folder does not exist", {(in / "good.png").string(), "{output}/no-folder/result.png", "-q"}, "no-folder"});
    cases.push_back({"output format JPEG (not writable)", {(in / "good.png").string(), "{output}/result.jpg", "-q"}, "result.jpg"});
    cases.push_back({"output format BMP (unknown)", {(in / "good.png").string(), "{output}/result.bmp", "-q"}, "result.bmp"});
    cases.push_back({"output is the folder itself", {(in / "good.png").string(), "{output}", "-q"}, ""});

    int n = 0;
    for (const auto& c : cases) {
        CAPTURE(c.name);
        const fs::path out = tmp.path / ("out-" + std::to_string(++n));
        fs::create_directories(out);
        auto args = c.args;
        for (auto& a : args) {
            if (a == "{output}" && c.name != "output is the folder itself") a = (out / "result.png").string();
            else if (a.rfind("{output}", 0) == 0) a = out.string() + a.substr(8);
        }
        const Run run = run_tool(args, logs);
        MESSAGE(c.name << " (" << run.seconds << " s): " << run.err.substr(0, run.err.find('\n')));
        check_clean_failure(run, out);
        if (!c.names.empty()) CHECK_MESSAGE(run.err.find(c.names) != std::string::npos, "stderr: " << run.err);
    }
}

// Bad option values: exit 1 with one "deblur:" line that names the option,
// before any work (the run is quick and writes nothing).
TEST_CASE("bad option values fail at once, naming the option") {
    TempDir tmp;
    const fs::path logs = tmp.path / "logs";
    fs::create_directories(logs);
    write_bytes(tmp.path / "good.png", png_bytes(pattern(64, 64)));
    const std::vector<std::vector<std::string>> cases{
        {"--kernel-size", "-1"}, {"--kernel-size", "abc"}, {"--kernel-size", "1"}, {"--kernel-size", "2"},
        {"--kernel-size", "33"},  // above half of the 64 px image
        {"--noise", "nan"}, {"--noise", "2"}, {"--noise", "-0.5"}, {"--noise", "inf"},
        {"--gamma", "0"}, {"--gamma", "nan"}, {"--gamma", "-1"}, {"--gamma", "1e400"},
        {"--threads", "-1"}, {"--threads", "100000"}, {"--estimation-size", "63"}, {"--estimation-size", "x"},
        {"--nonuniform", "--eta", "0"}, {"--nonuniform", "--eta", "nan"}, {"--nonuniform", "--grid", "0x3"},
        {"--device", "gpu"}, {"--no-such-flag"}};
    int n = 0;
    for (const auto& option : cases) {
        std::string shown;
        for (const auto& word : option) shown += word + " ";
        CAPTURE(shown);
        const fs::path out = tmp.path / ("out-" + std::to_string(++n));
        fs::create_directories(out);
        std::vector<std::string> args{(tmp.path / "good.png").string(), (out / "result.png").string(), "-q"};
        args.insert(args.end(), option.begin(), option.end());
        const Run run = run_tool(args, logs);
        MESSAGE(shown << ": " << run.err.substr(0, run.err.find('\n')));
        check_clean_failure(run, out);
        const std::string& name = option[0] == "--nonuniform" ? option[1] : option[0];
        CHECK_MESSAGE(run.err.find(name) != std::string::npos, "stderr: " << run.err);
        CHECK(run.err.size() < 200);  // no number printed in full
    }
}

// The photo is never lost: an output (or its kernel picture) that is the input,
// by name or through a link, is refused before any work.
TEST_CASE("an output that is the input is refused, and the input is kept") {
    TempDir tmp;
    const fs::path logs = tmp.path / "logs", photos = tmp.path / "photos";
    fs::create_directories(logs);
    fs::create_directories(photos);
    const Bytes photo = png_bytes(pattern(64, 64));
    write_bytes(photos / "shot.png", photo);
    write_bytes(photos / "shot.kernel.png", photo);
    fs::create_symlink(photos / "shot.png", photos / "link.png");
    const std::vector<std::pair<std::string, std::string>> cases{
        {"shot.png", "shot.png"}, {"shot.png", "link.png"}, {"link.png", "shot.png"},
        {"shot.kernel.png", "shot.png"}};  // the kernel picture of shot.png would replace the input
    for (const auto& [in, out] : cases) {
        CAPTURE(in);
        CAPTURE(out);
        const auto before = listing(photos);
        const Run run = run_tool({(photos / in).string(), (photos / out).string(), "-q"}, logs);
        check_clean_failure(run, photos, before);
        CHECK(run.err.find("is the input photo") != std::string::npos);
        CHECK(read_bytes(photos / "shot.png") == photo);
        CHECK(read_bytes(photos / "shot.kernel.png") == photo);
    }
}

// An output folder the run cannot write to is found before the work, and the
// message names the user's file, not a temporary one.
TEST_CASE("an unwritable output folder fails at once, naming the output") {
    TempDir tmp;
    write_bytes(tmp.path / "good.png", png_bytes(pattern(64, 64)));
    const Run run = run_tool({(tmp.path / "good.png").string(), "/proc/deblur-result.png"}, tmp.path);  // no -q
    INFO("stderr: " << run.err);
    CHECK(run.status == 1);
    CHECK(run.err.rfind("deblur: /proc/deblur-result.png: cannot be written", 0) == 0);
    CHECK(run.err.find(".tmp-") == std::string::npos);
    CHECK(run.err.find("reading") == std::string::npos);  // before the input is even read
}

// Temporaries of a run that was killed (its process is gone) are removed by
// the next run into that folder; those of a live process are not.
TEST_CASE("a run removes the temporaries that killed runs left in its output folder") {
    TempDir tmp;
    const fs::path out = tmp.path / "out";
    fs::create_directories(out);
    write_bytes(tmp.path / "good.png", png_bytes(pattern(64, 64)));
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    int status = 0;
    ::waitpid(child, &status, 0);  // `child` is now the id of an ended process
    const std::string stale = ".result.png.tmp-" + std::to_string(child) + "-5",
                      pending = ".result.kernel.png.pending-" + std::to_string(child),
                      live = ".other.png.tmp-" + std::to_string(::getpid()) + "-5";
    for (const auto& name : {stale, pending, live}) write_text(out / name, "partial");
    const Run run = run_tool({(tmp.path / "good.png").string(), (out / "result.png").string(), "-q"}, tmp.path);
    CHECK(run.status == 0);
    CHECK(listing(out) == std::set<std::string>{"result.png", "result.kernel.png", live});
}

TEST_CASE("a good input works, and leaves only the result and the kernel picture") {
    // Guards the harness above: the failures are the inputs' doing, not the
    // program's. (A photo on which a kernel is estimated: no warning either.)
    TempDir tmp;
    const fs::path out = tmp.path / "out";
    fs::create_directories(out);
    deblur::io::write_image(tmp.path / "good.png", blurred_scene(), deblur::io::SampleType::uint16);
    for (const char* ext : {".png", ".tif", ".pfm"}) {
        INFO("extension " << std::string(ext));
        const Run run = run_tool({(tmp.path / "good.png").string(), (out / (std::string("result") + ext)).string(), "-q"},
                                 tmp.path);
        INFO("stderr: " << run.err);
        CHECK(run.exited);
        CHECK(run.status == 0);
        CHECK(run.err.empty());
        const auto result = deblur::io::read_image(out / (std::string("result") + ext));
        CHECK(result.pixels.shape(1) == 200);
        CHECK(result.pixels.shape(2) == 200);
        const auto names = listing(out);
        const std::set<std::string> expected{std::string("result") + ext, "result.kernel.png"};
        CHECK_MESSAGE(names == expected, joined(names));
        for (const auto& name : names) fs::remove(out / name);
    }
}

TEST_CASE("--fft-wisdom keeps the measured FFT plans in a file, and replaces one that is not wisdom") {
    TempDir tmp;
    write_bytes(tmp.path / "good.png", png_bytes(pattern(64, 64)));
    const fs::path wisdom = tmp.path / "plans.wisdom";
    write_bytes(wisdom, std::vector<unsigned char>{'n', 'o', 't'});
    for (int run_index = 0; run_index < 2; ++run_index) {  // the second run starts from the saved plans
        const Run run = run_tool({(tmp.path / "good.png").string(), (tmp.path / "result.png").string(), "--fft-wisdom",
                                  wisdom.string(), "-q"},
                                 tmp.path);
        INFO("run " << run_index << ", stderr: " << run.err);
        CHECK(run.exited);
        CHECK(run.status == 0);
        CHECK(fs::exists(tmp.path / "result.png"));
        std::ifstream in(wisdom);
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        CHECK(text.find("fftwf_wisdom") != std::string::npos);
    }
}

// --device cuda without the CUDA backend, or without a GPU, fails like bad
// input: one clear line, nothing written. An unknown device too.
TEST_CASE("--device cuda fails cleanly where it cannot run") {
    TempDir tmp;
    const fs::path out = tmp.path / "out";
    fs::create_directories(out);
    write_bytes(tmp.path / "good.png", png_bytes(pattern(64, 64)));
    const std::string in = (tmp.path / "good.png").string(), result = (out / "result.png").string();
    const Run run = run_tool({in, result, "--device", "cuda", "-q"}, tmp.path);
#if DEBLUR_TOOL_HAS_CUDA
    if (run.exited && run.status == 0) {
        MESSAGE("a CUDA device is present: --device cuda ran");
        CHECK(fs::exists(result));
        fs::remove(result);
        fs::remove(out / "result.kernel.png");
    } else {
        check_clean_failure(run, out);
        CHECK_MESSAGE(run.err.find("--device cuda: no CUDA device") != std::string::npos, "stderr: " << run.err);
    }
#else
    check_clean_failure(run, out);
    CHECK_MESSAGE(run.err.find("--device cuda: this program was built without the CUDA backend") != std::string::npos,
                  "stderr: " << run.err);
#endif
    const Run unknown = run_tool({in, result, "--device", "gpu", "-q"}, tmp.path);
    check_clean_failure(unknown, out);
    CHECK_MESSAGE(unknown.err.find("expected cpu or cuda") != std::string::npos, "stderr: " << unknown.err);
}

TEST_CASE("a failed run leaves an existing result and kernel picture as they were") {
    TempDir tmp;
    const fs::path in = tmp.path / "in", out = tmp.path / "out";
    fs::create_directories(in);
    fs::create_directories(out);
    write_bytes(in / "good.png", png_bytes(pattern(64, 64)));
    write_bytes(in / "random.png", random_bytes(3000, 4));
    write_bytes(in / "random.dbm", random_bytes(3000, 5));
    const Bytes old_result = png_bytes(pattern(40, 40)), old_kernel = png_bytes(pattern(17, 17));
    const std::string old_csv = "0,1,0\n";  // an earlier --kernel-out

    struct Case {
        std::string name;
        std::vector<std::string> args;
        bool kernel_blocked = false;  // a folder where the kernel picture would go
    };
    const std::vector<Case> cases{
        {"corrupt input", {(in / "random.png").string(), (out / "result.png").string(), "-q"}},
        {"corrupt model", {(in / "good.png").string(), (out / "result.png").string(), "-q", "--model", (in / "random.dbm").string()}},
        {"the kernel picture cannot be written", {(in / "good.png").string(), (out / "result.png").string(), "-q"}, true},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        for (const auto& name : listing(out)) fs::remove_all(out / name);
        write_bytes(out / "result.png", old_result);
        if (c.kernel_blocked) fs::create_directories(out / "result.kernel.png" / "inside");
        else write_bytes(out / "result.kernel.png", old_kernel);
        write_text(out / "k.csv", old_csv);
        const auto before = listing(out);
        auto args = c.args;
        args.insert(args.end(), {"--kernel-out", (out / "k.csv").string()});
        const Run run = run_tool(args, tmp.path);
        check_clean_failure(run, out, before);
        CHECK(read_bytes(out / "result.png") == old_result);
        if (!c.kernel_blocked) CHECK(read_bytes(out / "result.kernel.png") == old_kernel);
        CHECK(read_bytes(out / "k.csv") == Bytes(old_csv.begin(), old_csv.end()));
    }
}

// --- End to end -------------------------------------------------------------------

namespace {

// The kernel from the picture --kernel-preview writes: each tap is an n x n
// block, n = max(1, 256 / K), scaled to the peak; K is the odd size whose
// blocks are all constant.
xt::xtensor<float, 2> kernel_from_picture(const deblur::Tensor<float>& pic) {
    const std::size_t side = pic.shape(1);
    REQUIRE(pic.shape(2) == side);
    for (std::size_t K = 1; K <= side; K += 2) {  // the smallest that fits: a 17 px kernel is also 255 px of 1 px taps
        const std::size_t n = std::max<std::size_t>(1, 256 / K);
        if (K * n != side) continue;
        bool constant = true;
        for (std::size_t r = 0; r < side && constant; ++r)
            for (std::size_t c = 0; c < side && constant; ++c)
                constant = pic(0, r, c) == pic(0, r / n * n, c / n * n);
        if (!constant) continue;
        xt::xtensor<float, 2> k = xt::xtensor<float, 2>::from_shape({K, K});
        for (std::size_t r = 0; r < K; ++r)
            for (std::size_t c = 0; c < K; ++c) k(r, c) = pic(0, r * n, c * n);
        return k / xt::sum(k)();
    }
    FAIL("the kernel picture (" << side << " px) is not a block picture");
    return {};
}

// Normalised cross-correlation of two kernels (any odd sizes, origin at the
// centre) after the best integer shift of up to `max_shift` taps: 1 = same shape.
double kernel_similarity(const xt::xtensor<float, 2>& a, const xt::xtensor<float, 2>& b, int max_shift = 4) {
    const int ha = static_cast<int>(a.shape(0)), wa = static_cast<int>(a.shape(1));
    const int hb = static_cast<int>(b.shape(0)), wb = static_cast<int>(b.shape(1));
    double na = 0, nb = 0;
    for (float v : a) na += double(v) * v;
    for (float v : b) nb += double(v) * v;
    double best = -1;
    for (int dr = -max_shift; dr <= max_shift; ++dr)
        for (int dc = -max_shift; dc <= max_shift; ++dc) {
            double s = 0;
            for (int r = 0; r < ha; ++r)
                for (int c = 0; c < wa; ++c) {
                    const int rb = r - ha / 2 + hb / 2 + dr, cb = c - wa / 2 + wb / 2 + dc;
                    if (rb >= 0 && rb < hb && cb >= 0 && cb < wb) s += double(a(r, c)) * b(rb, cb);
                }
            best = std::max(best, s / std::sqrt(na * nb));
        }
    return best;
}

xt::xtensor<float, 2> delta_kernel() {
    xt::xtensor<float, 2> d = xt::zeros<float>({std::size_t(1), std::size_t(1)});
    d(0, 0) = 1;
    return d;
}

constexpr int crop = 256, kernel_size = 17, border = 20, max_shift = 5;

// PSNR (peak 1) on the interior, `border` px from each side, after the best
// integer shift of up to `max_shift` px.
double aligned_psnr(const xt::xtensor<float, 2>& estimate, const xt::xtensor<float, 2>& truth) {
    const double ssd = deblur::aligned_ssd(estimate, truth, max_shift, border);
    const double n = double(truth.shape(0) - 2 * border) * double(truth.shape(1) - 2 * border);
    return 10 * std::log10(n / ssd);
}

struct EndToEnd {
    double psnr_blurry = 0, psnr_result = 0, similarity = 0, delta_similarity = 0, seconds = 0;
    double psnr_true_kernel = 0, psnr_delta_kernel = 0;  // the same program given the kernel (--kernel)
    std::size_t estimated_size = 0;
    double gain() const { return psnr_result - psnr_blurry; }
    double true_kernel_gain() const { return psnr_true_kernel - psnr_blurry; }
    double delta_kernel_gain() const { return psnr_delta_kernel - psnr_blurry; }
};

// Crops the 272 x 272 window with the most gradient energy from a photo, blurs
// it 'valid' to 256 x 256 with a seeded 17 px kernel, adds N(0, 0.01^2),
// writes a 16-bit PNG and runs the program on it.
EndToEnd end_to_end(const fs::path& photo, unsigned seed, const fs::path& dir) {
    const auto gray = deblur::io::to_gray(deblur::io::read_image(photo).pixels);
    const xt::xtensor<float, 2> plane = xt::view(gray, 0, xt::all(), xt::all());
    const std::size_t big = crop + kernel_size - 1;
    const auto window = deblur::choose_estimation_window(plane, big);
    REQUIRE(window.rows == big);
    REQUIRE(window.cols == big);
    const xt::xtensor<float, 2> sharp = xt::view(plane, xt::range(window.row, window.row + big),
                                                 xt::range(window.col, window.col + big));
    std::mt19937 rng(seed);
    const auto kernel = deblur::MotionKernelSampler().sample<float>(kernel_size, rng);
    xt::xtensor<float, 2> blurry = deblur::blur(sharp, kernel, deblur::BlurMode::valid);
    deblur::add_gaussian_noise(blurry, 0.01, rng);
    blurry = xt::clip(blurry, 0.0f, 1.0f);
    // valid[r][c] lines up with sharp[r + K/2][c + K/2].
    const xt::xtensor<float, 2> truth = xt::view(sharp, xt::range(kernel_size / 2, kernel_size / 2 + crop),
                                                 xt::range(kernel_size / 2, kernel_size / 2 + crop));
    auto as_image = [](const xt::xtensor<float, 2>& p) {
        auto t = deblur::make_tensor<float>(1, p.shape(0), p.shape(1));
        xt::view(t, 0, xt::all(), xt::all()) = p;
        return t;
    };
    const fs::path input = dir / "blurry.png", output = dir / "result.png";
    deblur::io::write_image(input, as_image(blurry), deblur::io::SampleType::uint16);
    // The blurry image as the program sees it (16-bit quantised).
    const auto stored = deblur::io::read_image(input).pixels;
    const xt::xtensor<float, 2> blurry_stored = xt::view(stored, 0, xt::all(), xt::all());

    const Run run = run_tool({input.string(), output.string(), "--quiet"}, dir);
    INFO("stderr: " << run.err);
    REQUIRE(run.exited);
    REQUIRE(run.status == 0);
    const auto result = deblur::io::read_image(output);
    CHECK(result.info.bit_depth == 16);
    REQUIRE(result.pixels.shape(0) == 1);
    REQUIRE(result.pixels.shape(1) == std::size_t(crop));
    REQUIRE(result.pixels.shape(2) == std::size_t(crop));
    const xt::xtensor<float, 2> sharp_estimate = xt::view(result.pixels, 0, xt::all(), xt::all());
    const auto estimated = deblur::io::read_kernel(dir / "result.kernel.png");

    // Non-blind with the true kernel (what a perfect estimate would give) and
    // with a delta (no deblurring, only the prior's smoothing): the references.
    auto non_blind = [&](const xt::xtensor<float, 2>& k, const std::string& name) {
        const fs::path kernel_file = dir / (name + ".pfm"), out = dir / (name + "-result.png");
        deblur::io::write_image(kernel_file, as_image(k));
        const Run r = run_tool({input.string(), out.string(), "--quiet", "--kernel", kernel_file.string()}, dir);
        INFO("stderr: " << r.err);
        REQUIRE(r.exited);
        REQUIRE(r.status == 0);
        const auto img = deblur::io::read_image(out).pixels;
        const xt::xtensor<float, 2> plane_out = xt::view(img, 0, xt::all(), xt::all());
        return aligned_psnr(plane_out, truth);
    };

    EndToEnd e;
    e.psnr_true_kernel = non_blind(kernel, "true-kernel");
    e.psnr_delta_kernel = non_blind(delta_kernel(), "delta-kernel");
    e.seconds = run.seconds;
    e.psnr_blurry = aligned_psnr(blurry_stored, truth);
    e.psnr_result = aligned_psnr(sharp_estimate, truth);
    e.similarity = kernel_similarity(estimated, kernel);
    e.delta_similarity = kernel_similarity(delta_kernel(), kernel);
    e.estimated_size = estimated.shape(0);
    return e;
}

std::string describe(const EndToEnd& e) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "PSNR blurry %.2f dB, result %.2f dB, gain %+.2f dB (true kernel %+.2f, delta %+.2f); "
                  "kernel %zu px, similarity %.3f (delta %.3f); %.1f s",
                  e.psnr_blurry, e.psnr_result, e.gain(), e.true_kernel_gain(), e.delta_kernel_gain(),
                  e.estimated_size, e.similarity, e.delta_similarity, e.seconds);
    return line;
}

const fs::path val_dir = fs::path(DEBLUR_SOURCE_DIR) / ".." / "shared" / "data" / "val" / "bsds500";

}  // namespace

TEST_CASE("the kernel preview picture and the similarity measure") {
    std::mt19937 rng(7);
    const auto k = deblur::MotionKernelSampler().sample<float>(kernel_size, rng);
    // A picture as --kernel-preview draws it.
    const std::size_t n = 256 / kernel_size;
    auto pic = deblur::make_tensor<float>(1, kernel_size * n, kernel_size * n);
    const float peak = xt::amax(k)();
    for (std::size_t r = 0; r < pic.shape(1); ++r)
        for (std::size_t c = 0; c < pic.shape(2); ++c) pic(0, r, c) = k(r / n, c / n) / peak;
    const auto back = kernel_from_picture(pic);
    REQUIRE(back.shape(0) == std::size_t(kernel_size));
    CHECK(kernel_similarity(back, k) == doctest::Approx(1).epsilon(1e-6));
    // Shifts and padding do not matter; shape does.
    xt::xtensor<float, 2> padded = xt::zeros<float>({std::size_t(25), std::size_t(25)});
    xt::view(padded, xt::range(2, 2 + kernel_size), xt::range(6, 6 + kernel_size)) = k;
    CHECK(kernel_similarity(padded, k) == doctest::Approx(1).epsilon(1e-6));
    CHECK(kernel_similarity(delta_kernel(), k) < 0.6);
}

TEST_CASE("the kernel the program writes, given back with --kernel, deconvolves to the same result") {
    TempDir tmp;
    const fs::path input = tmp.path / "blurry.png", out = tmp.path / "out";
    fs::create_directories(out);
    deblur::io::write_image(input, blurred_scene(), deblur::io::SampleType::uint16);
    const Run blind = run_tool({input.string(), (out / "result.png").string(), "-q", "--kernel-out", (out / "k.csv").string(),
                                "--kernel-preview", (out / "preview.png").string()},
                               tmp.path);
    INFO("stderr: " << blind.err);
    REQUIRE(blind.exited);
    REQUIRE(blind.status == 0);
    REQUIRE(blind.err.empty());  // no warning: the kernel was estimated and used
    const auto names = listing(out);
    CHECK_MESSAGE(names == (std::set<std::string>{"result.png", "result.kernel.png", "k.csv", "preview.png"}), joined(names));

    const auto k = deblur::io::read_kernel(out / "k.csv");
    const float peak = xt::amax(k)();
    MESSAGE("estimated kernel " << k.shape(0) << " x " << k.shape(1));
    CHECK(k.shape(0) > 1);
    // OUTPUT.kernel.png: the kernel at its size, 16-bit, scaled to its maximum.
    const auto stored = deblur::io::read_image(out / "result.kernel.png");
    CHECK(stored.info.bit_depth == 16);
    REQUIRE(stored.pixels.shape() == (std::array<std::size_t, 3>{1, k.shape(0), k.shape(1)}));
    CHECK(xt::amax(xt::abs(xt::view(stored.pixels, 0, xt::all(), xt::all()) - k / peak))() <= 0.5f / 65535 + 1e-7f);
    // The preview: the same kernel magnified, 8-bit.
    const auto preview = deblur::io::read_image(out / "preview.png");
    CHECK(preview.info.bit_depth == 8);
    const auto magnified = kernel_from_picture(preview.pixels);
    REQUIRE(magnified.shape() == k.shape());
    CHECK(xt::amax(xt::abs(magnified / xt::amax(magnified)() - k / peak))() <= 0.5f / 255 + 1e-6f);

    const auto blind_result = deblur::io::read_image(out / "result.png").pixels;
    const auto given = [&](const fs::path& kernel_file, const std::string& name) {
        const fs::path result = tmp.path / name;
        const Run run = run_tool({input.string(), result.string(), "-q", "--kernel", kernel_file.string()}, tmp.path);
        INFO("stderr: " << run.err);
        REQUIRE(run.exited);
        REQUIRE(run.status == 0);
        CHECK(run.err.empty());
        return deblur::io::read_image(result).pixels;
    };
    // The CSV holds the kernel exactly: the same deconvolution, pixel for pixel.
    CHECK(given(out / "k.csv", "from-csv.png") == blind_result);
    // The 16-bit PNG moves each tap by up to 1/65535 of the peak (here 2e-5
    // of the kernel's mass in all). Farther than two kernel widths from the
    // frame the result moves by about as little (measured: at most 9.2e-5,
    // six 16-bit steps; bound 2e-4); nearer, the deconvolution extrapolates
    // the image beyond the frame, which amplifies the change at a few pixels
    // (measured: up to 0.03, 18 px from the frame for a 17 px kernel), so
    // there only the mean is bounded (measured 9e-6; bound 1e-4).
    const auto from_png = given(out / "result.kernel.png", "from-png.png");
    REQUIRE(from_png.shape() == blind_result.shape());
    const std::size_t h = from_png.shape(1), w = from_png.shape(2), margin = 2 * k.shape(0);
    REQUIRE(h > 2 * margin);
    REQUIRE(w > 2 * margin);
    const deblur::Tensor<float> difference = xt::abs(from_png - blind_result);
    const auto inner = xt::view(difference, xt::all(), xt::range(margin, h - margin), xt::range(margin, w - margin));
    const float inner_max = xt::amax(inner)(), mean = xt::mean(difference)();
    MESSAGE("--kernel OUTPUT.kernel.png against the blind result: largest difference " << inner_max << " away from the frame, "
            << xt::amax(difference)() << " in all, mean " << mean);
    CHECK(inner_max <= 2e-4f);
    CHECK(mean <= 1e-4f);
}

// Kernel files that cannot be read, outputs that cannot be written or that
// name one file twice: one line naming the file, before any work.
TEST_CASE("kernel files that cannot be read or written fail at once, naming the file") {
    TempDir tmp;
    const fs::path logs = tmp.path / "logs";
    fs::create_directories(logs);
    write_bytes(tmp.path / "good.png", png_bytes(pattern(64, 64)));
    write_text(tmp.path / "ragged.csv", "0,1,0\n1,1\n0,1,0\n");
    write_text(tmp.path / "even.csv", "0.5,0.5\n");
    write_text(tmp.path / "negative.csv", "0,1,0\n0,1,-1\n0,1,0\n");
    const auto given = [&](const std::string& name) { return (tmp.path / name).string(); };
    struct Case {
        std::string name;
        std::vector<std::string> options;  // "{output}/" is replaced by the output folder
        std::string says;                  // the error must contain this
    };
    const std::vector<Case> cases{
        {"--kernel with ragged rows", {"--kernel", given("ragged.csv")}, "ragged.csv: line 2 has 2 values, line 1 has 3"},
        {"--kernel of even size", {"--kernel", given("even.csv")}, "even.csv: a kernel's width and height must be odd"},
        {"--kernel with a negative value", {"--kernel", given("negative.csv")}, "negative.csv: the kernel has a negative value"},
        {"--kernel missing", {"--kernel", given("missing.csv")}, "missing.csv: no such file"},
        {"--kernel-out as JPEG", {"--kernel-out", "{output}/k.jpg"}, "k.jpg: cannot be written: the extension must be"},
        {"--kernel-out of an unknown format", {"--kernel-out", "{output}/k.txt"}, ".pfm or .csv"},
        {"--kernel-out in a missing folder", {"--kernel-out", "{output}/no-folder/k.csv"}, "no folder"},
        {"--kernel-preview as CSV", {"--kernel-preview", "{output}/k.csv"}, "k.csv: cannot be written"},
        {"--kernel-out is the result", {"--kernel-out", "{output}/result.png"}, "give each output its own name"},
        {"--kernel-out is OUTPUT.kernel.png", {"--kernel-out", "{output}/result.kernel.png"}, "give each output its own name"},
        {"--kernel-out and --kernel-preview name one file",
         {"--kernel-out", "{output}/k.png", "--kernel-preview", "{output}/./k.png"}, "as --kernel-out and as --kernel-preview"},
        {"--kernel-out is the input", {"--kernel-out", given("good.png")}, "is the input photo"},
        {"--kernel-out with --nonuniform", {"--nonuniform", "--kernel-out", "{output}/k.csv"}, "not with --nonuniform"},
    };
    int n = 0;
    for (const auto& c : cases) {
        CAPTURE(c.name);
        const fs::path out = tmp.path / ("out-" + std::to_string(++n));
        fs::create_directories(out);
        std::vector<std::string> args{given("good.png"), (out / "result.png").string(), "-q"};
        for (const auto& option : c.options)
            args.push_back(option.rfind("{output}", 0) == 0 ? out.string() + option.substr(8) : option);
        const Run run = run_tool(args, logs);
        MESSAGE(c.name << ": " << run.err.substr(0, run.err.find('\n')));
        check_clean_failure(run, out);
        CHECK_MESSAGE(run.err.find(c.says) != std::string::npos, "stderr: " << run.err);
        CHECK(run.err.find("reading") == std::string::npos);  // before the input is read
    }
}

// Bounds, from what the program gives with the shipped model
// (models/default.dbm of cdbdf4f: the 17 px scale only, an early checkpoint;
// the last row: the three-scale file of 2026-12-03),
// measured in a Release build with DEBLUR_E2E_SURVEY=1 (10 photos x seeds 1-3,
// 30 runs, about 40 s); "similarity" is the shifted NCC with the true kernel:
//
//                                   blind gain (dB)         similarity     the two cases below
//   network only (eeec616)          mean -2.3, -7.7..+1.7   0.59, 0.46..0.66  +1.74/+0.72 dB, 0.57/0.60
//   + KernelRefiner (3b25e19)       mean +2.9, -5.6..      0.85, 0.65..      +3.53/+5.01 dB, 0.82/0.91
//   + kernel_weight 50 (4147842)    mean +4.2, +1.0..+8.1 0.88, 0.74..0.95  +4.67/+5.18 dB, 0.88/0.94
//   + edge selection, 10 alternations mean +4.4, -2.0..+8.4 0.88, 0.55..0.96
//   + tail pruning (b8df2b1)        mean +4.3, -1.5..+8.4 0.87, 0.52..0.96  (148026.jpg seed 1 fails in both)
//   + three-scale default.dbm       mean +4.4, -1.3..+7.5 0.88, 0.53..0.96
//   + refinement beta_max 1e3       mean +4.5, -2.3..+8.1 0.89, 0.48..0.97  (next worst +2.0 dB, 0.83)
//   true kernel (--kernel): +3.9 .. +9.9 dB; delta kernel: -0.08 .. +0.08 dB, similarity 0.36 .. 0.64.
//
// Bounds: blind gain above 2 dB and similarity above 0.7 and 0.15 above the
// delta's (0.435 for both cases), a margin of 1.5 dB and 0.12 below the worst
// measured on these two cases. The blurry input (gain 0), a delta kernel
// (~0 dB, 0.435) and the network alone without refinement (+1.74 dB, 0.57)
// fail them. The true-kernel bound (+3 dB; measured +6.4 and +5.9) guards the
// harness: if it fails, the measurement or the deconvolution broke, not the
// kernel estimate.
constexpr double min_blind_gain_db = 2.0, min_similarity = 0.7, min_similarity_over_delta = 0.15;
constexpr double min_true_kernel_gain_db = 3.0;

TEST_CASE("end to end: a blurred photo crop comes out sharper, with a kernel like the true one" * deblur::test::needs_shared_data()) {
    TempDir tmp;
    if (const char* survey = std::getenv("DEBLUR_E2E_SURVEY"); survey && *survey) {
        std::vector<fs::path> photos;
        for (const auto& e : fs::directory_iterator(val_dir))
            if (e.path().extension() == ".jpg") photos.push_back(e.path());
        std::sort(photos.begin(), photos.end());
        const std::size_t count = std::min<std::size_t>(photos.size(), 10);
        double min_gain = 1e9, min_sim = 1e9, sum_gain = 0, sum_sim = 0, max_delta = 0;
        int runs = 0;
        for (std::size_t i = 0; i < count; ++i)
            for (unsigned seed : {1u, 2u, 3u}) {
                const auto e = end_to_end(photos[i * photos.size() / count], seed, tmp.path);
                MESSAGE(photos[i * photos.size() / count].filename().string() << " seed " << seed << ": " << describe(e));
                min_gain = std::min(min_gain, e.gain());
                min_sim = std::min(min_sim, e.similarity);
                max_delta = std::max(max_delta, e.delta_similarity);
                sum_gain += e.gain();
                sum_sim += e.similarity;
                ++runs;
            }
        MESSAGE("survey of " << runs << " runs: gain mean " << sum_gain / runs << " dB, min " << min_gain
                             << " dB; similarity mean " << sum_sim / runs << ", min " << min_sim
                             << "; delta similarity max " << max_delta);
        return;
    }
    struct Fixed {
        std::string photo;
        unsigned seed;
    };
    for (const Fixed& f : {Fixed{"76053.jpg", 1}, Fixed{"101085.jpg", 1}}) {
        CAPTURE(f.photo);
        CAPTURE(f.seed);
        const auto e = end_to_end(val_dir / f.photo, f.seed, tmp.path);
        MESSAGE(f.photo << " seed " << f.seed << ": " << describe(e));
        CHECK(e.true_kernel_gain() > min_true_kernel_gain_db);
        CHECK(e.gain() > min_blind_gain_db);
        CHECK(e.similarity > min_similarity);
        CHECK(e.similarity > e.delta_similarity + min_similarity_over_delta);
        // The bounds can fail: no deblurring (the blurry input, gain 0, or a
        // delta kernel) and a delta kernel's shape do not pass them.
        CHECK(e.delta_kernel_gain() < min_blind_gain_db);
        CHECK(e.delta_similarity < min_similarity);
    }
}

// --nonuniform (issue 7): the sharp image and the kernel-field picture, and
// clean failures on bad grids.
TEST_CASE("--nonuniform writes the result and the kernel-field picture; bad grids fail cleanly") {
    TempDir tmp;
    const fs::path logs = tmp.path / "logs";
    fs::create_directories(logs);
    write_bytes(tmp.path / "good.png", png_bytes(pattern(160, 176)));
    write_bytes(tmp.path / "small.png", png_bytes(pattern(64, 64)));
    write_bytes(tmp.path / "kernel.png", png_bytes(pattern(5, 5)));

    struct Case {
        std::string name;
        std::vector<std::string> args;  // "{output}" is replaced
        std::string says;               // the error must contain this
    };
    const std::string good = (tmp.path / "good.png").string();
    const std::vector<Case> cases{
        {"grid 0x3", {good, "{output}", "-q", "--nonuniform", "--grid", "0x3"}, "--grid 0x3"},
        {"grid 3by3", {good, "{output}", "-q", "--nonuniform", "--grid", "3by3"}, "--grid 3by3"},
        {"grid 3x", {good, "{output}", "-q", "--nonuniform", "--grid", "3x"}, "--grid 3x"},
        {"grid -2x2", {good, "{output}", "-q", "--nonuniform", "--grid", "-2x2"}, "--grid -2x2"},
        {"grid 99x99", {good, "{output}", "-q", "--nonuniform", "--grid", "99x99"}, "--grid 99x99"},
        {"grid without --nonuniform", {good, "{output}", "-q", "--grid", "2x2"}, "--nonuniform only"},
        {"eta out of range", {good, "{output}", "-q", "--nonuniform", "--eta", "0"}, "--eta"},
        {"patches too small for the kernel", {good, "{output}", "-q", "--nonuniform", "--grid", "6x6"}, "coarser grid"},
        {"image too small for any grid", {(tmp.path / "small.png").string(), "{output}", "-q", "--nonuniform", "--grid", "2x2"},
         "small.png"},
        {"--kernel with --nonuniform",
         {good, "{output}", "-q", "--nonuniform", "--kernel", (tmp.path / "kernel.png").string()}, "exclude"},
    };
    int n = 0;
    for (const auto& c : cases) {
        CAPTURE(c.name);
        const fs::path out = tmp.path / ("out-" + std::to_string(++n));
        fs::create_directories(out);
        auto args = c.args;
        for (auto& a : args)
            if (a == "{output}") a = (out / "result.png").string();
        const Run run = run_tool(args, logs);
        MESSAGE(c.name << " (" << run.seconds << " s): " << run.err.substr(0, run.err.find('\n')));
        check_clean_failure(run, out);
        CHECK_MESSAGE(run.err.find(c.says) != std::string::npos, "stderr: " << run.err);
    }

    // A good run: the result at the input's size, and a picture of 2 x 3 kernels.
    const fs::path out = tmp.path / "good-out";
    fs::create_directories(out);
    const Run run = run_tool({good, (out / "result.png").string(), "-q", "--nonuniform", "--grid", "2x3",
                              "--kernel-size", "11"},
                             logs);
    INFO("stderr: " << run.err);
    REQUIRE(run.exited);
    REQUIRE(run.status == 0);
    CHECK(run.err.empty());
    const auto names = listing(out);
    CHECK_MESSAGE(names == (std::set<std::string>{"result.png", "result.kernels.png"}), joined(names));
    const auto result = deblur::io::read_image(out / "result.png");
    CHECK(result.pixels.shape(1) == 160);
    CHECK(result.pixels.shape(2) == 176);
    // Tiles of n * S px (S odd, n = 128 / S) with 3 px gray lines: 2 rows, 3 columns of them.
    const auto picture = deblur::io::read_image(out / "result.kernels.png");
    const std::size_t ph = picture.pixels.shape(1), pw = picture.pixels.shape(2);
    CHECK((ph - 3 * 3) % 2 == 0);
    CHECK((pw - 4 * 3) % 3 == 0);
    CHECK((ph - 9) / 2 == (pw - 12) / 3);  // square tiles
    CHECK(picture.pixels(0, 1, 1) == doctest::Approx(0.3).epsilon(0.02));  // a separating line
}

// The sample scene (examples/) in colour, as a 16-bit PNG and as a float
// TIFF: the program keeps the channels and the precision (16-bit PNG, float
// TIFF), and each channel comes out sharper than it went in. The channels are
// a x + b of the gray scene (one inverted), so each one's truth is known.
TEST_CASE("a colour photo keeps its channels and precision, and each channel gets sharper" * doctest::skip(unoptimised_build)) {
    TempDir tmp;
    const auto blurry = deblur::io::read_image(DEBLUR_SOURCE_DIR "/examples/sample-blurry.png").pixels;
    const auto sharp = deblur::io::read_image(DEBLUR_SOURCE_DIR "/examples/sample-sharp.png").pixels;
    const std::size_t n = blurry.shape(1);
    const float a[3] = {0.9f, 0.7f, -0.8f}, b[3] = {0.05f, 0.2f, 0.9f};
    deblur::Tensor<float> colour = deblur::make_tensor<float>(3, n, n), truth = colour;
    for (std::size_t c = 0; c < 3; ++c) {
        xt::view(colour, c, xt::all(), xt::all()) = a[c] * xt::view(blurry, 0, xt::all(), xt::all()) + b[c];
        xt::view(truth, c, xt::all(), xt::all()) = a[c] * xt::view(sharp, 0, xt::all(), xt::all()) + b[c];
    }
    struct Format {
        std::string input, output;
        deblur::io::SampleType written;
        int bit_depth;
        bool floating;
    };
    for (const Format& f : {Format{"in16.png", "out.png", deblur::io::SampleType::uint16, 16, false},
                            Format{"in.tif", "out.tif", deblur::io::SampleType::float32, 32, true}}) {
        CAPTURE(f.input);
        deblur::io::write_image(tmp.path / f.input, colour, f.written);
        const Run run = run_tool({(tmp.path / f.input).string(), (tmp.path / f.output).string(), "-q"}, tmp.path);
        INFO("stderr: " << run.err);
        REQUIRE(run.status == 0);
        const auto result = deblur::io::read_image(tmp.path / f.output);
        CHECK(result.info.bit_depth == f.bit_depth);
        CHECK(result.info.floating_point == f.floating);
        REQUIRE(result.pixels.shape() == colour.shape());
        for (std::size_t c = 0; c < 3; ++c) {
            CAPTURE(c);
            const xt::xtensor<float, 2> t = xt::view(truth, c, xt::all(), xt::all());
            const double gain = aligned_psnr(xt::xtensor<float, 2>(xt::view(result.pixels, c, xt::all(), xt::all())), t) -
                                aligned_psnr(xt::xtensor<float, 2>(xt::view(colour, c, xt::all(), xt::all())), t);
            MESSAGE(f.output << " channel " << c << ": gain " << gain << " dB");
            CHECK(gain > 4.0);
        }
    }
}

// The noise-specific model is chosen for noisy photos, the default for clean
// ones (the progress line names the model, built into the program).
TEST_CASE("the sigma 0.05 model is chosen for a noisy photo, the default model for a clean one" *
          doctest::skip(unoptimised_build)) {
    TempDir tmp;
    const auto blurry = deblur::io::read_image(DEBLUR_SOURCE_DIR "/examples/sample-blurry.png").pixels;
    write_bytes(tmp.path / "clean.png", png_bytes(blurry, deblur::io::SampleType::uint16));
    auto noisy = blurry;
    std::mt19937_64 rng(9);
    std::normal_distribution<float> noise(0.0f, 0.05f);
    for (auto& v : noisy) v = std::clamp(v + noise(rng), 0.0f, 1.0f);
    write_bytes(tmp.path / "noisy.png", png_bytes(noisy, deblur::io::SampleType::uint16));
    for (const auto& [name, model] : {std::pair<std::string, std::string>{"clean", "default.dbm"}, {"noisy", "noise-0.05.dbm"}}) {
        CAPTURE(name);
        const Run run = run_tool({(tmp.path / (name + ".png")).string(), (tmp.path / (name + "-out.png")).string()}, tmp.path);
        INFO("stderr: " << run.err);
        CHECK(run.status == 0);
        CHECK(run.err.find("model models/" + model + " (embedded)") != std::string::npos);
    }
}
