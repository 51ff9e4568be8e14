// Kernel files (deblur/io/kernel_file.hpp): every format round-trips a kernel
// (exactly as float TIFF, PFM and CSV; within 1/65535 of the peak as 16-bit
// PNG), any image the io reads is a kernel too, and every bad file (even
// size, negative, NaN, ragged or garbage CSV, missing) fails with one
// ImageError that names it, as does writing a kernel that could not be read.
#include "doctest_main.hpp"
#include "temp_dir.hpp"

#include <deblur/blur/motion_kernel_sampler.hpp>
#include <deblur/io/kernel_file.hpp>
#include <deblur/io/read_image.hpp>
#include <deblur/io/write_image.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

namespace fs = std::filesystem;
using deblur::io::ImageError;
using Kernel = xt::xtensor<float, 2>;

namespace {

using deblur::test::TempDir;

void write_text(const fs::path& file, const std::string& text) {
    std::ofstream out(file, std::ios::binary);
    out << text;
}

std::string read_text(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Known kernels: a camera-shake kernel, a random 5 x 7 one (not square) and a delta, each of sum 1.
std::vector<Kernel> known_kernels() {
    std::mt19937 rng(3);
    Kernel shake = deblur::MotionKernelSampler().sample<float>(17, rng);
    Kernel random = Kernel::from_shape({5, 7});
    std::uniform_real_distribution<float> d(0, 1);
    for (auto& v : random) v = d(rng) < 0.3f ? 0.0f : d(rng);
    random /= xt::sum(random)();
    return {shake, random, Kernel{{1.0f}}};
}

// The message of the ImageError that `work` throws; it must start with the file's name.
template <class Work>
std::string error_of(const fs::path& file, Work work) {
    try {
        work();
    } catch (const ImageError& e) {
        const std::string message = e.what();
        CHECK_MESSAGE(message.rfind(file.string() + ": ", 0) == 0, message);
        CHECK(e.file() == file);
        return message;
    }
    FAIL("no ImageError for " << file);
    return {};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("kernels round-trip through .tif, .tiff, .pfm and .csv exactly, through .png within 1/65535 of the peak") {
    TempDir tmp;
    int n = 0;
    for (const Kernel& k : known_kernels()) {
        CAPTURE(n++);
        const float peak = xt::amax(k)();
        for (const std::string ext : {".tif", ".tiff", ".pfm", ".csv", ".png", ".CSV", ".PNG"}) {
            CAPTURE(ext);
            const fs::path file = tmp / ("k" + ext);
            deblur::io::write_kernel(file, k);
            const Kernel back = deblur::io::read_kernel(file);
            REQUIRE(back.shape() == k.shape());
            if (ext == ".png" || ext == ".PNG") {
                CHECK(xt::amax(xt::abs(back - k))() <= peak / 65535);
                CHECK(std::abs(xt::sum(back)() - 1) < 1e-6);
            } else {
                CHECK(back == k);  // bit for bit
            }
        }
    }
    // What the files hold: PNG 16-bit gray scaled to its maximum, TIFF 32-bit float as it is.
    const Kernel k = known_kernels()[0];
    deblur::io::write_kernel(tmp / "k.png", k);
    const auto png = deblur::io::read_image(tmp / "k.png");
    CHECK(png.info.bit_depth == 16);
    CHECK(png.info.channels == 1);
    CHECK(xt::amax(png.pixels)() == 1.0f);
    deblur::io::write_kernel(tmp / "k.tif", k);
    const auto tif = deblur::io::read_image(tmp / "k.tif");
    CHECK(tif.info.floating_point);
    CHECK(tif.info.bit_depth == 32);
    CHECK(Kernel(xt::view(tif.pixels, 0, xt::all(), xt::all())) == k);
    // CSV: one row per line, the shortest text that reads back as the float.
    deblur::io::write_kernel(tmp / "plus.csv", Kernel{{0, 0.125f, 0}, {0.125f, 0.5f, 0.125f}, {0, 0.125f, 0}});
    CHECK(read_text(tmp / "plus.csv") == "0,0.125,0\n0.125,0.5,0.125\n0,0.125,0\n");
}

TEST_CASE("a kernel is read back normalised to sum 1, from any image the io reads and from lenient CSV") {
    TempDir tmp;
    // Float values of any scale.
    const Kernel scaled{{0, 2, 0}, {2, 4, 2}, {0, 2, 0}};
    deblur::io::write_kernel(tmp / "scaled.pfm", scaled);
    const Kernel expected = scaled / 12.0f;
    CHECK(xt::allclose(deblur::io::read_kernel(tmp / "scaled.pfm"), expected, 1e-7, 0));
    // An 8-bit colour picture is its luminance.
    auto colour = deblur::make_tensor<float>(3, 3, 3);  // 0, 0.2 and 0.4: 0, 51 and 102 in 8 bits
    for (std::size_t c = 0; c < 3; ++c) xt::view(colour, c, xt::all(), xt::all()) = scaled / 10.0f;
    deblur::io::write_image(tmp / "colour.png", colour);
    CHECK(xt::allclose(deblur::io::read_kernel(tmp / "colour.png"), expected, 1e-6, 0));
    // CSV from other programs: a byte-order mark, CRLF, spaces, '+', exponents, a tiny value (a zero tap), blank last lines.
    write_text(tmp / "other.csv", "\xEF\xBB\xBF" "0, +2e0 ,0\r\n2,4.0,2\r\n1e-50,2,0\r\n\r\n  \n");
    CHECK(xt::allclose(deblur::io::read_kernel(tmp / "other.csv"), expected, 1e-7, 0));
    // A misnamed image is still an image: its bytes decide.
    deblur::io::write_kernel(tmp / "image.png", expected);
    fs::copy_file(tmp / "image.png", tmp / "image.csv");
    CHECK(deblur::io::read_kernel(tmp / "image.csv").shape() == expected.shape());
}

TEST_CASE("bad kernel files fail with one ImageError that names the file") {
    TempDir tmp;
    struct Case {
        std::string name, file, text, says;  // `text` is written to `file` unless empty
    };
    const std::vector<Case> cases{
        {"even size", "even.csv", "0.25,0.25\n0.25,0.25\n", "must be odd"},
        {"even width", "wide.csv", "0,1,0,0\n", "must be odd, got 4 x 1"},
        {"negative value", "negative.csv", "0,1,0\n0,1,-0.5\n0,1,0\n", "negative value (-0.5) at row 1, column 2"},
        {"NaN", "nan.csv", "0,nan,0\n", "NaN at channel 0, row 0, column 1"},
        {"infinity", "inf.csv", "0,1,inf\n", "infinite value"},
        {"all zero", "zero.csv", "0,0,0\n0,0,0\n0,0,0\n", "all zero"},
        {"ragged rows", "ragged.csv", "0,1,0\n1,1\n0,1,0\n", "line 2 has 2 values, line 1 has 3"},
        {"not a number", "word.csv", "0,1,0\n1,one,1\n0,1,0\n", "line 2, value 2: 'one' is not a number"},
        {"number with trailing text", "unit.csv", "0,1px,0\n", "'1px' is not a number"},
        {"empty value", "gap.csv", "0,,0\n", "line 1, value 2 is empty"},
        {"blank line inside", "blank.csv", "0,1,0\n\n0,1,0\n", "line 2, value 1 is empty"},
        {"semicolons", "semicolon.csv", "0;1;0\n", "not a number"},
        {"too large for a float", "huge.csv", "0,1e50,0\n", "out of the range of a float"},
        {"only spaces", "spaces.csv", " \n\n", "no kernel values"},
        {"garbage named .csv", "garbage.csv", std::string("\x01\x02\x7f\xff\xfe", 5), "not a number"},
        {"garbage named .png", "garbage.png", "not a png at all", "not a PNG file"},
        {"text named .txt", "kernel.txt", "0,1,0\n", "unrecognised kernel file"},
        {"empty file", "empty.csv", "", "file is empty"},
        {"missing file", "missing.csv", "", "no such file"},
        {"a directory", "folder.csv", "", "is a directory"},
    };
    fs::create_directories(tmp / "folder.csv");
    for (const Case& c : cases) {
        CAPTURE(c.name);
        const fs::path file = tmp / c.file;
        if (c.name != "missing file" && c.name != "a directory") write_text(file, c.text);
        const std::string message = error_of(file, [&] { deblur::io::read_kernel(file); });
        CHECK_MESSAGE(contains(message, c.says), message);
        CHECK(message.find('\n') == std::string::npos);
    }
    // An image of even size.
    deblur::io::write_image(tmp / "even.tif", deblur::make_tensor<float>(1, 4, 4, 0.1f), deblur::io::SampleType::float32);
    CHECK(contains(error_of(tmp / "even.tif", [&] { deblur::io::read_kernel(tmp / "even.tif"); }), "must be odd, got 4 x 4"));
}

TEST_CASE("a kernel that could not be read back is not written, and nothing is left") {
    TempDir tmp;
    const Kernel good{{0, 1, 0}};
    struct Case {
        std::string name, file;
        Kernel kernel;
        std::string says;
    };
    const std::vector<Case> cases{
        {"JPEG (lossy)", "k.jpg", good, "unsupported kernel format"},
        {"unknown extension", "k.txt", good, "unsupported kernel format"},
        {"even size", "k.csv", Kernel{{0.5f, 0.5f}}, "must be odd"},
        {"negative value", "k.tif", Kernel{{0.5f, -0.1f, 0.6f}}, "negative value"},
        {"NaN", "k.pfm", Kernel{{0, std::nanf(""), 0}}, "NaN"},
        {"all zero", "k.png", Kernel{{0, 0, 0}}, "all zero"},
        {"empty", "k.csv", Kernel::from_shape({0, 0}), "must be odd"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        const fs::path file = tmp / c.file;
        CHECK(contains(error_of(file, [&] { deblur::io::write_kernel(file, c.kernel); }), c.says));
        CHECK(tmp.entries().empty());
    }
    CHECK(contains(error_of(tmp / "no-folder" / "k.csv", [&] { deblur::io::write_kernel(tmp / "no-folder" / "k.csv", good); }),
                   "k.csv"));
}
