// The embedding API (<deblur/deblur.hpp>): image views of caller buffers,
// their conversion, models from memory, and the Deblurrer on views, with
// cancellation and its threads setting. Every image here is made by the test.
#include "doctest_main.hpp"

#include <deblur/blur/blur.hpp>
#include <deblur/blur/motion_kernel_sampler.hpp>
#include <deblur/blur/noise.hpp>
#include <deblur/deblur.hpp>

#include <deblur/core/openmp.hpp>

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace {

using deblur::ImageView;

std::vector<unsigned char> file_bytes(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    REQUIRE(in);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::span<const std::byte> as_bytes(const std::vector<unsigned char>& v) { return std::as_bytes(std::span(v)); }

// A 160 px scene of soft discs and bars blurred 'valid' by a seeded 13 px
// camera-shake kernel, sigma 0.003, as 8-bit samples (H x W).
std::vector<std::uint8_t> blurry_scene(std::size_t& width, std::size_t& height) {
    const std::size_t n = 172;
    xt::xtensor<float, 2> sharp = xt::zeros<float>({n, n});
    std::mt19937_64 rng(5);
    std::uniform_real_distribution<double> u(0, 1);
    for (int shape = 0; shape < 40; ++shape) {
        const double cy = u(rng) * n, cx = u(rng) * n, r = 4 + 14 * u(rng), v = u(rng);
        for (std::size_t y = 0; y < n; ++y)
            for (std::size_t x = 0; x < n; ++x)
                if (shape % 2 ? (std::abs(double(y) - cy) < r && std::abs(double(x) - cx) < r / 3)
                              : std::hypot(double(y) - cy, double(x) - cx) < r)
                    sharp(y, x) = float(0.15 + 0.7 * v);
    }
    const auto kernel = deblur::MotionKernelSampler{}.sample<float>(13, rng);
    xt::xtensor<float, 2> blurry = deblur::blur(sharp, kernel, deblur::BlurMode::valid);
    deblur::add_gaussian_noise(blurry, 0.003, rng);
    height = blurry.shape(0), width = blurry.shape(1);
    std::vector<std::uint8_t> out(blurry.size());
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = std::uint8_t(std::lround(std::clamp(blurry.data()[i], 0.0f, 1.0f) * 255));
    return out;
}

}  // namespace

TEST_CASE("ImageView checks its shape and strides, and addresses interleaved, planar and padded layouts") {
    std::vector<std::uint16_t> buffer(5 * 4 * 3 + 64);
    CHECK_THROWS_WITH_AS(ImageView<std::uint16_t>(nullptr, 4, 5, 3), "deblur::ImageView: no data (null pointer)", std::invalid_argument);
    CHECK_THROWS_WITH_AS(ImageView<std::uint16_t>(buffer.data(), 0, 5, 3), "deblur::ImageView: empty image (0 x 5)", std::invalid_argument);
    CHECK_THROWS_WITH_AS(ImageView<std::uint16_t>(buffer.data(), 4, 5, 2),
                         "deblur::ImageView: 2 channels: expected 1 (gray), 3 (RGB) or 4 (RGBA)", std::invalid_argument);
    CHECK_THROWS_AS(ImageView<std::uint16_t>(buffer.data(), 4, 5, 3, 3, 11, 1), std::invalid_argument);  // rows overlap
    CHECK_THROWS_AS(ImageView<std::uint16_t>(buffer.data(), 4, 5, 3, 2, 12, 1), std::invalid_argument);  // pixels overlap
    CHECK_THROWS_AS(ImageView<std::uint16_t>(buffer.data(), 4, 5, 3, 0, 12, 1), std::invalid_argument);
    CHECK_THROWS_AS(ImageView<std::uint16_t>::planar(buffer.data(), 4, 5, 3, 4, 19), std::invalid_argument);  // planes overlap

    const ImageView<std::uint16_t> interleaved(buffer.data(), 4, 5, 3, 14);  // rows padded to 14 samples
    CHECK(interleaved.interleaved());
    CHECK(&interleaved(2, 1, 2) == buffer.data() + 2 * 14 + 1 * 3 + 2);
    const auto planar = ImageView<std::uint16_t>::planar(buffer.data(), 4, 5, 3, 6);  // rows of 6, planes of 30
    CHECK_FALSE(planar.interleaved());
    CHECK(&planar(2, 1, 2) == buffer.data() + 2 * 30 + 2 * 6 + 1);
    const ImageView<const std::uint16_t> read_only = planar;
    CHECK(read_only.channel_stride() == 30);
    const ImageView<float> rgba(reinterpret_cast<float*>(buffer.data()), 2, 2, 4);
    CHECK(rgba.color_channels() == 3);
}

TEST_CASE("views convert to the pipeline's tensors and back: exact for integers, alpha passed through, NaN refused") {
    const std::size_t w = 7, h = 5;
    std::vector<std::uint8_t> rgba(h * w * 4);
    for (std::size_t i = 0; i < rgba.size(); ++i) rgba[i] = std::uint8_t(i * 37 % 256);
    const ImageView<const std::uint8_t> in(rgba.data(), w, h, 4);
    const auto tensor = deblur::to_tensor(in);
    REQUIRE(tensor.shape(0) == 3);
    CHECK(tensor(1, 2, 3) == doctest::Approx(rgba[(2 * w + 3) * 4 + 1] / 255.0).scale(0).epsilon(1e-6));

    deblur::ImageBuffer<std::uint8_t> out(in);  // the same layout, packed
    deblur::store(tensor, out.view());
    deblur::copy_alpha(in, out.view());
    CHECK(out.samples() == rgba);

    // uint16, planar with padded rows, round trip through floats.
    std::vector<std::uint16_t> planes(3 * h * 9);
    for (std::size_t i = 0; i < planes.size(); ++i) planes[i] = std::uint16_t(i * 2617 % 65536);
    const auto planar = ImageView<const std::uint16_t>::planar(planes.data(), w, h, 3, 9);
    deblur::ImageBuffer<std::uint16_t> back(planar);
    deblur::store(deblur::to_tensor(planar), back.view());
    for (std::size_t c = 0; c < 3; ++c)
        for (std::size_t y = 0; y < h; ++y)
            for (std::size_t x = 0; x < w; ++x) CHECK(back.view()(y, x, c) == planar(y, x, c));

    std::vector<float> floats(h * w, 0.5f);
    floats[8] = std::nanf("");
    CHECK_THROWS_WITH_AS(deblur::to_tensor(ImageView<const float>(floats.data(), w, h, 1)),
                         "deblur: the image has NaN or infinity at row 1, column 1, channel 0", std::invalid_argument);
    CHECK_THROWS_AS(deblur::store(tensor, ImageView<std::uint8_t>(rgba.data(), h, w, 4)), std::invalid_argument);  // transposed
}

TEST_CASE("Model: the embedded default is the shipped files, bytes in memory load with their checks") {
    const std::filesystem::path models = std::filesystem::path(DEBLUR_SOURCE_DIR) / "models";
    const auto model = deblur::Model::default_model();
    const auto span_bytes = [](const deblur::ModelBytes& m) { return std::vector<unsigned char>(m.bytes.begin(), m.bytes.end()); };
    CHECK(span_bytes(model.network_for_noise(0.01)) == file_bytes(models / "default.dbm"));
    CHECK(span_bytes(model.network_for_noise(0.05)) == file_bytes(models / "noise-0.05.dbm"));
    CHECK(span_bytes(model.field_network_for_noise(0.01)) == file_bytes(models / "nonuniform.dbm"));
    CHECK(span_bytes(model.field_network_for_noise(0.05)) == file_bytes(models / "noise-0.05.dbm"));
    CHECK(model.name() == "models/default.dbm (embedded)");

    auto bytes = file_bytes(models / "default.dbm");
    const auto mine = deblur::Model::from_bytes(as_bytes(bytes), "my model");
    CHECK(mine.name() == "my model");
    CHECK(&mine.network_for_noise(0.05) == &mine.network_for_noise(0.01));  // one network for every noise level
    CHECK(span_bytes(mine.network_for_noise(0.01)) == bytes);
    bytes[1000] ^= 0x40;
    CHECK_THROWS_WITH_AS(deblur::Model::from_bytes(as_bytes(bytes), "my model"),
                         "model file my model: checksum mismatch (the file is corrupt or truncated)", deblur::ModelError);
    bytes.resize(10);
    CHECK_THROWS_WITH_AS(deblur::Model::from_bytes(as_bytes(bytes)), "model file (in memory): not a deblur model (bad magic)",
                         deblur::ModelError);
    CHECK_THROWS_WITH_AS(deblur::Model::from_file(models / "missing.dbm"),
                         ("model file " + (models / "missing.dbm").string() + ": cannot open").c_str(), deblur::ModelError);
    CHECK_THROWS_WITH_AS(deblur::Model::from_file(models), ("model file " + models.string() + ": is a directory").c_str(),
                         deblur::ModelError);
}

TEST_CASE("a Deblurrer deblurs a caller's buffer in its own type and layout, the same in any layout") {
    std::size_t w = 0, h = 0;
    const auto gray = blurry_scene(w, h);
    // The same picture as interleaved RGBA bytes and as planar RGB floats with padded rows.
    std::vector<std::uint8_t> rgba(h * w * 4);
    const std::size_t row = w + 3;
    std::vector<float> planes(3 * h * row, -7.0f);
    for (std::size_t i = 0; i < h * w; ++i) {
        for (std::size_t c = 0; c < 3; ++c) {
            rgba[4 * i + c] = gray[i];
            planes[c * h * row + (i / w) * row + i % w] = float(gray[i]) / 255.0f;
        }
        rgba[4 * i + 3] = std::uint8_t(i % 251);
    }
    deblur::Deblurrer deblurrer(deblur::Model::default_model(), 1);
    const int threads_before = omp_get_max_threads(), fft_threads_before = deblur::fft::Fftw::threads();
    const auto bytes_result = deblurrer.deblur(ImageView<const std::uint8_t>(rgba.data(), w, h, 4));
    CHECK(omp_get_max_threads() == threads_before);  // the Deblurrer's setting was for its call only
    CHECK(deblur::fft::Fftw::threads() == fft_threads_before);
    REQUIRE(bytes_result.warning.empty());
    CHECK(bytes_result.kernel.shape(0) >= 9);
    const auto out = bytes_result.sharp.view();
    REQUIRE(out.channels() == 4);
    REQUIRE(out.interleaved());
    std::size_t changed = 0;
    for (std::size_t y = 0; y < h; ++y)
        for (std::size_t x = 0; x < w; ++x) {
            CHECK(out(y, x, 3) == rgba[4 * (y * w + x) + 3]);  // alpha as it was
            changed += out(y, x, 0) != rgba[4 * (y * w + x)];
        }
    CHECK(changed > h * w / 2);

    const auto float_result = deblurrer.deblur(ImageView<float>::planar(planes.data(), w, h, 3, row));
    CHECK(float_result.kernel == bytes_result.kernel);
    const auto fout = float_result.sharp.view();
    CHECK_FALSE(fout.interleaved());
    std::size_t differ = 0;
    for (std::size_t y = 0; y < h; ++y)
        for (std::size_t x = 0; x < w; ++x)
            differ += deblur::detail::quantise(fout(y, x, 1), 255) != out(y, x, 1);
    CHECK(differ == 0);

    // The halves alone: the same kernel, and its deconvolution in the buffer's type.
    const ImageView<const std::uint8_t> view(rgba.data(), w, h, 4);
    const auto estimate = deblurrer.estimate_kernel(view);
    CHECK(estimate.reliable);
    CHECK(estimate.kernel == bytes_result.kernel);
    // The luminance's noise (the kernel's); the result's is the channels' (equal channels here).
    CHECK(estimate.noise == doctest::Approx(bytes_result.noise).scale(0).epsilon(0.01));
    const auto deconvolved = deblurrer.deconvolve(view, estimate.kernel, deblur::DeconvOptions::for_noise(bytes_result.noise));
    CHECK(deconvolved.samples() == bytes_result.sharp.samples());
}

TEST_CASE("a cancelled call throws Cancelled between steps, and the Deblurrer still works after it") {
    std::size_t w = 0, h = 0;
    const auto gray = blurry_scene(w, h);
    const ImageView<const std::uint8_t> view(gray.data(), w, h, 1);
    deblur::Deblurrer deblurrer;
    std::atomic<bool> cancel{true};
    deblur::BlindDeblurOptions options;
    options.cancel = &cancel;
    CHECK_THROWS_AS(deblurrer.deblur(view, options), deblur::Cancelled);

    cancel = false;
    int lines = 0;
    options.progress = [&](const std::string&) {
        if (++lines == 3) cancel = true;  // e.g. a user's Cancel button, pressed mid-way
    };
    CHECK_THROWS_AS(deblurrer.deblur(view, options), deblur::Cancelled);
    CHECK(lines == 3);  // stopped at the next step

    cancel = false;
    const auto after = deblurrer.deblur(view, options);
    const auto fresh = deblur::Deblurrer().deblur(view);
    CHECK(after.kernel == fresh.kernel);
    CHECK(after.sharp.samples() == fresh.sharp.samples());
    CHECK_THROWS_AS(deblur::Deblurrer(deblur::Model::default_model(), -1), std::invalid_argument);
}
