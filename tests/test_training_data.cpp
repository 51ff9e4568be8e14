#include "doctest_main.hpp"
#include "temp_dir.hpp"

#include <deblur/blur/center_kernel.hpp>
#include <deblur/io/write_image.hpp>
#include <deblur/train/training_data.hpp>

#include <deblur/core/openmp.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace fs = std::filesystem;
using deblur::train::ExampleGenerator;
using deblur::train::ExampleGeneratorOptions;
using deblur::train::TrainingExample;
using deblur::train::TrainingSet;
using deblur::train::ValidationSet;
using deblur::train::ValidationSetOptions;
using Image = xt::xtensor<float, 2>;

namespace {

const fs::path data_dir = fs::path(DEBLUR_SOURCE_DIR).parent_path() / "shared" / "data";
const fs::path train_dir = data_dir / "train";
const fs::path val_dir = data_dir / "val";

// Random texture: smoothed noise, so crops pass the gradient test but are not white noise.
Image textured_image(std::size_t h, std::size_t w, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0, 1);
    Image im = Image::from_shape({h, w});
    for (auto& v : im) v = u(rng);
    return im;
}

Image flat_image(std::size_t h, std::size_t w, float value) {
    Image im = Image::from_shape({h, w});
    im.fill(value);
    return im;
}

// Plain 'valid' convolution, written from the definition in blur.hpp.
Image naive_valid_blur(const Image& x, const Image& k) {
    const std::size_t K = k.shape(0), h = x.shape(0) - K + 1, w = x.shape(1) - K + 1;
    Image y = Image::from_shape({h, w});
    for (std::size_t r = 0; r < h; ++r)
        for (std::size_t c = 0; c < w; ++c) {
            double s = 0;
            for (std::size_t i = 0; i < K; ++i)
                for (std::size_t j = 0; j < K; ++j) s += double(k(i, j)) * x(r + K - 1 - i, c + K - 1 - j);
            y(r, c) = float(s);
        }
    return y;
}

bool same(const TrainingExample& a, const TrainingExample& b) {
    return a.blurry == b.blurry && a.kernel == b.kernel && a.sharp == b.sharp;
}

// A fresh empty directory, removed at the end of the test.
using deblur::test::TempDir;

TrainingSet small_textured_set() {
    return TrainingSet({textured_image(60, 70, 1), textured_image(64, 50, 2), textured_image(90, 90, 3)});
}

ExampleGeneratorOptions small_options() {
    ExampleGeneratorOptions o;
    o.crop = 24;
    o.kernel_size = 9;
    o.seed = 11;
    return o;
}

}  // namespace

TEST_CASE("gradient_fraction counts pixels with strong forward differences in x AND y") {
    const auto im = textured_image(13, 17, 5);
    for (double t : {0.0, 0.05, 0.3, 0.9}) {
        std::size_t count = 0;
        for (std::size_t r = 0; r + 1 < 13; ++r)
            for (std::size_t c = 0; c + 1 < 17; ++c)
                count += std::abs(im(r, c + 1) - im(r, c)) >= t && std::abs(im(r + 1, c) - im(r, c)) >= t;
        CHECK(deblur::train::gradient_fraction(im, t) == doctest::Approx(double(count) / (12 * 16)));
    }
    // Vertical stripes: strong x gradients only, so nothing counts.
    Image stripes = Image::from_shape({10, 10});
    for (std::size_t r = 0; r < 10; ++r)
        for (std::size_t c = 0; c < 10; ++c) stripes(r, c) = float(c % 2);
    CHECK(deblur::train::gradient_fraction(stripes, 0.05) == 0.0);
    CHECK(deblur::train::gradient_fraction(flat_image(5, 5, 0.3f), 0.05) == 0.0);
}

TEST_CASE("ExampleGenerator makes examples of the right shapes with centred, normalised kernels") {
    const auto set = small_textured_set();
    ExampleGenerator gen(set, small_options());
    CHECK(gen.sharp_size() == 32);
    std::mt19937_64 rng(3);
    for (int n = 0; n < 10; ++n) {
        const auto e = gen.next(rng);
        REQUIRE(e.blurry.shape(0) == 24);
        REQUIRE(e.blurry.shape(1) == 24);
        REQUIRE(e.sharp.shape(0) == 24 + 9 - 1);
        REQUIRE(e.sharp.shape(1) == 32);
        REQUIRE(e.kernel.shape(0) == 9);
        REQUIRE(e.kernel.shape(1) == 9);
        double sum = 0;
        for (float v : e.kernel) {
            CHECK(v >= 0);
            sum += v;
        }
        CHECK(sum == doctest::Approx(1.0).epsilon(1e-5));
        const auto [cr, cc] = deblur::kernel_centroid(e.kernel);
        CHECK(cr == doctest::Approx(4.0).epsilon(1e-3));
        CHECK(cc == doctest::Approx(4.0).epsilon(1e-3));
        CHECK(deblur::train::gradient_fraction(e.sharp, 0.05) >= 0.06);
    }
}

TEST_CASE("The blurry image is the valid blur of the sharp crop plus noise of the set sigma") {
    const auto set = small_textured_set();
    SUBCASE("without noise it is exactly the valid convolution") {
        auto o = small_options();
        o.noise_sigma = 0;
        ExampleGenerator gen(set, o);
        std::mt19937_64 rng(4);
        for (int n = 0; n < 3; ++n) {
            const auto e = gen.next(rng);
            const auto expected = naive_valid_blur(e.sharp, e.kernel);
            float err = 0;
            for (std::size_t i = 0; i < expected.size(); ++i)
                err = std::max(err, std::abs(expected.data()[i] - e.blurry.data()[i]));
            CHECK(err < 1e-5f);
        }
    }
    SUBCASE("the residual is zero-mean Gaussian noise with the configured sigma") {
        auto o = small_options();
        o.noise_sigma = 0.02;
        ExampleGenerator gen(set, o);
        std::mt19937_64 rng(5);
        double sum = 0, sum2 = 0;
        std::size_t n = 0;
        for (int e_i = 0; e_i < 20; ++e_i) {
            const auto e = gen.next(rng);
            const auto clean = naive_valid_blur(e.sharp, e.kernel);
            for (std::size_t i = 0; i < clean.size(); ++i) {
                const double d = double(e.blurry.data()[i]) - clean.data()[i];
                sum += d;
                sum2 += d * d;
                ++n;
            }
        }
        const double mean = sum / double(n), sd = std::sqrt(sum2 / double(n) - mean * mean);
        MESSAGE("noise over " << n << " pixels: mean " << mean << ", std " << sd << " (set 0.02)");
        CHECK(std::abs(mean) < 4 * 0.02 / std::sqrt(double(n)));
        CHECK(sd == doctest::Approx(0.02).epsilon(0.03).scale(0));
    }
}

TEST_CASE("ExampleGenerator is deterministic and its batches do not depend on the thread count") {
    const auto set = small_textured_set();
    ExampleGenerator gen(set, small_options());
    std::mt19937_64 a(99), b(99), c(100);
    const auto ea = gen.next(a), eb = gen.next(b), ec = gen.next(c);
    CHECK(same(ea, eb));
    CHECK(!same(ea, ec));

    std::vector<TrainingExample> one(8), two(8), other_step(8);
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    gen.fill_batch(one, 7);
    omp_set_num_threads(std::max(2, threads));
    gen.fill_batch(two, 7);
    gen.fill_batch(other_step, 8);
    omp_set_num_threads(threads);
    for (std::size_t i = 0; i < one.size(); ++i) {
        CHECK(same(one[i], two[i]));
        CHECK(same(one[i], gen.example_at(7, i)));
        CHECK(!same(one[i], other_step[i]));
        if (i > 0) CHECK(!same(one[i], one[i - 1]));
    }
    // Refilling a used batch (memory reused) gives the same examples again.
    gen.fill_batch(two, 8);
    for (std::size_t i = 0; i < two.size(); ++i) CHECK(same(two[i], other_step[i]));

    // Another seed, another batch.
    auto o = small_options();
    o.seed = 12;
    ExampleGenerator reseeded(set, o);
    CHECK(!same(reseeded.example_at(7, 0), one[0]));
}

TEST_CASE("Augmentation produces the 8 symmetries of the square") {
    const auto im = textured_image(9, 11, 8);
    const std::size_t s = 5, r0 = 2, c0 = 3;
    std::vector<Image> expected;
    // All compositions of rotation by 90 degrees and transposition, written naively.
    for (int t = 0; t < 2; ++t)
        for (int rot = 0; rot < 4; ++rot) {
            Image e = Image::from_shape({s, s});
            for (std::size_t r = 0; r < s; ++r)
                for (std::size_t c = 0; c < s; ++c) {
                    std::size_t rr = r, cc = c;
                    for (int q = 0; q < rot; ++q) std::tie(rr, cc) = std::pair(cc, s - 1 - rr);
                    if (t) std::swap(rr, cc);
                    e(r, c) = im(r0 + rr, c0 + cc);
                }
            expected.push_back(e);
        }
    std::vector<Image> got;
    for (int orientation = 0; orientation < 8; ++orientation) {
        Image out = Image::from_shape({s, s});
        ExampleGenerator::copy_crop(im, r0, c0, orientation, out);
        got.push_back(out);
        CHECK(std::find(expected.begin(), expected.end(), out) != expected.end());
    }
    for (std::size_t i = 0; i < got.size(); ++i)
        for (std::size_t j = i + 1; j < got.size(); ++j) CHECK(got[i] != got[j]);
    // Orientation 0 is the plain window.
    for (std::size_t r = 0; r < s; ++r)
        for (std::size_t c = 0; c < s; ++c) CHECK(got[0](r, c) == im(r0 + r, c0 + c));
}

TEST_CASE("Flat images are rejected with a clear error instead of an endless loop") {
    const TrainingSet flat({flat_image(60, 60, 0.5f), flat_image(70, 40, 0.2f)});
    auto o = small_options();
    o.max_tries = 50;
    ExampleGenerator gen(flat, o);
    std::mt19937_64 rng(1);
    CHECK_THROWS_AS(gen.next(rng), std::runtime_error);
    CHECK(gen.crops_drawn() == 50);
    CHECK(gen.crops_rejected() == 50);
    std::vector<TrainingExample> batch(3);
    CHECK_THROWS_AS(gen.fill_batch(batch, 0), std::runtime_error);

    // Mixed with textured images, only textured crops come out.
    const TrainingSet mixed({flat_image(60, 60, 0.5f), textured_image(40, 40, 4), flat_image(50, 50, 0.9f)});
    ExampleGenerator mixed_gen(mixed, o);
    for (int n = 0; n < 10; ++n) CHECK(deblur::train::gradient_fraction(mixed_gen.next(rng).sharp, 0.05) >= 0.06);
    CHECK(mixed_gen.crops_rejected() > 0);
    MESSAGE("mixed set: " << mixed_gen.crops_rejected() << " of " << mixed_gen.crops_drawn() << " crops rejected");
}

TEST_CASE("Images smaller than the sharp crop are skipped and counted") {
    const TrainingSet set({textured_image(31, 100, 1), textured_image(32, 32, 2), textured_image(100, 20, 3)});
    ExampleGenerator gen(set, small_options());  // needs 32 x 32
    CHECK(gen.usable_images() == 1);
    CHECK(gen.skipped_images() == 2);
    const TrainingSet tiny({textured_image(20, 20, 1)});
    CHECK_THROWS_AS(ExampleGenerator(tiny, small_options()), std::invalid_argument);
    auto bad = small_options();
    bad.kernel_size = 2;
    CHECK_THROWS_AS(ExampleGenerator(set, bad), std::invalid_argument);
    bad = small_options();
    bad.noise_sigma = NAN;
    CHECK_THROWS_AS(ExampleGenerator(set, bad), std::invalid_argument);
}

TEST_CASE("TrainingSet reads image files of a folder recursively, sorted, as gray") {
    TempDir dir;
    fs::create_directories(dir.path / "b" / "deeper");
    const auto g = textured_image(12, 9, 1);
    deblur::Tensor<float> gray = deblur::Tensor<float>::from_shape({1, 12, 9});
    std::copy(g.begin(), g.end(), gray.begin());
    deblur::Tensor<float> rgb = deblur::Tensor<float>::from_shape({3, 5, 6});
    for (std::size_t i = 0; i < rgb.size(); ++i) rgb.data()[i] = float(i % 7) / 7.0f;
    deblur::io::write_image(dir.path / "b" / "deeper" / "z.pfm", gray);
    deblur::io::write_image(dir.path / "a.pfm", rgb);
    deblur::io::write_image(dir.path / "b" / "m.PFM", gray);
    {
        std::ofstream(dir.path / "README.md") << "not an image";
    }
    const TrainingSet set(dir.path);
    REQUIRE(set.size() == 3);
    CHECK(set.path(0).filename() == "a.pfm");
    CHECK(set.path(1).filename() == "z.pfm");  // path order: "b/deeper/..." < "b/m.PFM"
    CHECK(set.path(2).filename() == "m.PFM");
    REQUIRE(set.image(0).shape(0) == 5);
    REQUIRE(set.image(0).shape(1) == 6);
    for (std::size_t r = 0; r < 5; ++r)
        for (std::size_t c = 0; c < 6; ++c) {
            const float expected = 0.299f * rgb(0, r, c) + 0.587f * rgb(1, r, c) + 0.114f * rgb(2, r, c);
            CHECK(set.image(0)(r, c) == doctest::Approx(expected).epsilon(1e-6));
        }
    CHECK(set.image(1) == g);  // PFM is lossless
    CHECK(set.image(2) == g);
    CHECK(TrainingSet(dir.path, {.max_images = 2}).size() == 2);

    TempDir empty;
    CHECK_THROWS_AS(TrainingSet{empty.path}, std::invalid_argument);
    CHECK_THROWS_AS(TrainingSet{empty.path / "missing"}, std::invalid_argument);
}

TEST_CASE("TrainingSet loads the training photographs" * deblur::test::needs_shared_data()) {
    const TrainingSet set(train_dir, {.max_images = 3});
    REQUIRE(set.size() == 3);
    for (std::size_t i = 0; i < set.size(); ++i) {
        const auto& im = set.image(i);
        CHECK(std::min(im.shape(0), im.shape(1)) >= 180);
        const auto [lo, hi] = std::minmax_element(im.begin(), im.end());
        CHECK(*lo >= 0.0f);
        CHECK(*hi <= 1.0f);
        CHECK(*hi - *lo > 0.2f);  // a real photo, not a blank decode
    }
}

TEST_CASE("ValidationSet is fixed, deterministic and built from the given images only") {
    std::vector<Image> images{textured_image(60, 70, 21), flat_image(60, 60, 0.4f), textured_image(40, 40, 22),
                              textured_image(80, 50, 23)};
    const TrainingSet pool(images, {"v0", "flat", "small", "v3"});
    ValidationSetOptions o;
    o.kernel_sizes = {5, 9};
    o.crop = 32;
    const ValidationSet a(pool, o), b(pool, o);
    // The flat image fails the texture test; 40 x 40 just holds the largest sharp crop 32 + 9 - 1.
    CHECK(a.skipped_flat() == 1);
    CHECK(a.sources() == std::vector<fs::path>{"v0", "small", "v3"});
    for (int K : {5, 9}) {
        const auto ea = a.examples(K), eb = b.examples(K);
        REQUIRE(ea.size() == 3);
        for (std::size_t i = 0; i < ea.size(); ++i) {
            CHECK(same(ea[i], eb[i]));
            CHECK(ea[i].blurry.shape(0) == 32);
            CHECK(ea[i].blurry.shape(1) == 32);
            CHECK(ea[i].sharp.shape(0) == std::size_t(32 + K - 1));
            CHECK(ea[i].kernel.shape(0) == std::size_t(K));
        }
    }
    CHECK(!same(a.examples(5)[0], a.examples(5)[1]));
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    const ValidationSet serial(pool, o);
    omp_set_num_threads(threads);
    for (int K : {5, 9})
        for (std::size_t i = 0; i < 3; ++i) CHECK(same(serial.examples(K)[i], a.examples(K)[i]));
    CHECK_THROWS_AS(a.examples(17), std::invalid_argument);

    // Fewer images: the examples that remain are unchanged.
    o.max_images = 1;
    const ValidationSet first(pool, o);
    CHECK(first.size() == 1);
    CHECK(same(first.examples(9)[0], a.examples(9)[0]));

    // Whole images (crop = 0): blurry is the image minus K - 1.
    o.max_images = 0;
    o.crop = 0;
    const ValidationSet whole(pool, o);
    CHECK(whole.examples(5)[0].sharp.shape(0) == 60 - 9 + 5);
    CHECK(whole.examples(5)[0].blurry.shape(1) == 70 - 9 + 1);
}

TEST_CASE("ValidationSet reads the validation folder and refuses the training folder" * deblur::test::needs_shared_data()) {
    CHECK(ValidationSet::overlaps(train_dir, train_dir / "bsds500"));
    CHECK(ValidationSet::overlaps(train_dir / "bsds500", train_dir));
    CHECK(ValidationSet::overlaps(data_dir / "train/", data_dir / "val" / ".." / "train"));
    CHECK(!ValidationSet::overlaps(val_dir, train_dir));
    CHECK(!ValidationSet::overlaps(data_dir / "train2", train_dir));
    ValidationSetOptions o;
    o.max_images = 2;
    o.kernel_sizes = {17};
    CHECK_THROWS_AS(ValidationSet(train_dir, o, train_dir), std::invalid_argument);
    CHECK_THROWS_AS(ValidationSet(data_dir, o, train_dir), std::invalid_argument);
    const ValidationSet v(val_dir, o, train_dir), again(val_dir, o, train_dir);
    REQUIRE(v.size() >= 1);
    for (const auto& p : v.sources()) {
        CHECK(ValidationSet::overlaps(p, val_dir));
        CHECK(!ValidationSet::overlaps(p, train_dir));
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
        CHECK(same(v.examples(17)[i], again.examples(17)[i]));
        CHECK(v.examples(17)[i].blurry.shape(0) == 256);
        CHECK(v.examples(17)[i].sharp.shape(1) == 256 + 16);
    }
}
