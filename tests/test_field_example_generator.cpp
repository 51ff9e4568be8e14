// FieldExampleGenerator (train/field_example_generator.hpp): training pairs of
// spatially-varying camera shake and their kernel fields at the estimation
// grid's patch centres; FieldValidationSet.
#include "doctest_main.hpp"
#include "noise_photo.hpp"

#include <deblur/blur/blur.hpp>
#include <deblur/blur/camera_shake_blur.hpp>
#include <deblur/train/field_example_generator.hpp>
#include <deblur/train/field_validation_set.hpp>
#include <deblur/train/gradient_fraction.hpp>

#include <deblur/core/openmp.hpp>

#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>
#include <xtensor/xview.hpp>

namespace {

using namespace deblur;
using Image = xt::xtensor<float, 2>;
using deblur::test::noise_photo;

train::TrainingSet photos() { return train::TrainingSet({noise_photo(90, 1), noise_photo(100, 2), noise_photo(96, 3)}); }

train::FieldExampleGeneratorOptions options(std::size_t grid = 3) {
    train::FieldExampleGeneratorOptions o;
    o.data.crop = 48;
    o.data.kernel_size = 9;
    o.data.seed = 11;
    o.grid = grid;
    o.true_grid = 6;
    return o;
}

Image kernel_of(const xt::xtensor<float, 3>& field, std::size_t p) { return xt::view(field, p, xt::all(), xt::all()); }

double max_diff(const Image& a, const Image& b) { return double(xt::amax(xt::abs(a - b))()); }

}  // namespace

TEST_CASE("field examples have the documented shapes; each local kernel is non-negative with sum 1") {
    const auto set = photos();
    const train::FieldExampleGenerator generator(set, options());
    const auto e = generator.example_at(0, 0);
    CHECK(e.blurry.shape() == std::array<std::size_t, 2>{48, 48});
    CHECK(e.sharp.shape() == std::array<std::size_t, 2>{56, 56});
    CHECK(e.kernel.shape() == std::array<std::size_t, 3>{9, 9, 9});
    CHECK(generator.patches() == 9);
    for (std::size_t p = 0; p < 9; ++p) {
        const Image k = kernel_of(e.kernel, p);
        CHECK(xt::amin(k)() >= 0);
        CHECK(double(xt::sum(k)()) == doctest::Approx(1.0).epsilon(1e-5));
    }
}

TEST_CASE("field examples are deterministic per (seed, step, index), for any thread count") {
    const auto set = photos();
    const train::FieldExampleGenerator generator(set, options());
    std::vector<train::FieldExample> one(4), two(4);
    omp_set_num_threads(1);
    generator.fill_batch(one, 3);
    omp_set_num_threads(2);
    generator.fill_batch(two, 3);
    for (std::size_t i = 0; i < 4; ++i) {
        const auto alone = generator.example_at(3, i);
        CHECK(one[i].blurry == two[i].blurry);
        CHECK(one[i].kernel == two[i].kernel);
        CHECK(one[i].blurry == alone.blurry);
        CHECK(one[i].kernel == alone.kernel);
        CHECK(one[i].sharp == alone.sharp);
    }
    CHECK(generator.example_at(3, 0).kernel != generator.example_at(4, 0).kernel);
    auto other = options();
    other.data.seed = 12;
    CHECK(train::FieldExampleGenerator(set, other).example_at(3, 0).blurry != one[0].blurry);
}

TEST_CASE("with a 1x1 grid the target is the trajectory's kernel at the image centre; the data are its EFF blur") {
    const auto set = photos();
    auto o = options(1);
    const train::FieldExampleGenerator generator(set, o);
    const auto e = generator.example_at(5, 2);
    // The same draws in the same order: the crop, the trajectory, the noise.
    std::mt19937_64 rng(train::derive_seed(o.data.seed, {5, 2}));
    const train::ExampleGenerator crops(set, o.data);
    Image sharp;
    crops.draw_crop(rng, sharp);
    CHECK(sharp == e.sharp);
    const auto trajectory = CameraShakeSampler(o.shake).sample(56, 56, 9, rng);
    const Image centre = CameraShakeSampler::kernel_at<float>(trajectory, trajectory.centre_row, trajectory.centre_col, 9);
    CHECK(max_diff(kernel_of(e.kernel, 0), centre) < 1e-6);
    const Image noise_free = camera_shake_blur(sharp, trajectory, o.true_grid);
    const Image noise = e.blurry - noise_free;
    const double sd = std::sqrt(double(xt::mean(noise * noise)()));
    CHECK(sd == doctest::Approx(o.data.noise_sigma).epsilon(0.15));
}

TEST_CASE("translation alone gives one kernel everywhere and the uniform 'valid' blur") {
    const auto set = photos();
    auto o = options(3);
    o.shake.rotation = 0;
    o.data.noise_sigma = 0;
    const auto e = train::FieldExampleGenerator(set, o).example_at(0, 1);
    const Image k0 = kernel_of(e.kernel, 0);
    for (std::size_t p = 1; p < 9; ++p) CHECK(max_diff(kernel_of(e.kernel, p), k0) < 1e-6);
    CHECK(max_diff(e.blurry, blur(e.sharp, k0, BlurMode::valid)) < 1e-5);
}

TEST_CASE("with rotation, each corner's target kernel explains the blurry image there better than the opposite corner's") {
    const auto set = photos();
    auto o = options(3);
    o.data.crop = 72;
    o.data.kernel_size = 15;
    o.shake.translation = 0.1;
    o.shake.rotation = 1.5;
    o.true_grid = 12;
    o.data.noise_sigma = 0;
    const auto set_big = train::TrainingSet({noise_photo(120, 4), noise_photo(130, 5)});
    const train::FieldExampleGenerator generator(set_big, o);
    const EFFGrid grid = generator.grid();
    for (std::uint64_t index = 0; index < 3; ++index) {
        const auto e = generator.example_at(0, index);
        // Uniform 'valid' blurs with the local kernels, compared near the patch centres.
        auto local_error = [&](std::size_t at, std::size_t kernel_patch) {
            const Image y = blur(e.sharp, kernel_of(e.kernel, kernel_patch), BlurMode::valid);
            const auto r = static_cast<std::size_t>(std::lround(grid.row_centre(grid.grid_row(at))));
            const auto c = static_cast<std::size_t>(std::lround(grid.col_centre(grid.grid_col(at))));
            double s = 0;
            for (std::size_t i = r - 4; i <= r + 4; ++i)
                for (std::size_t j = c - 4; j <= c + 4; ++j) s += std::pow(double(y(i, j) - e.blurry(i, j)), 2);
            return s;
        };
        for (const auto& [a, b] : {std::pair<std::size_t, std::size_t>{0, 8}, {8, 0}, {2, 6}, {6, 2}})
            CHECK(local_error(a, a) < 0.5 * local_error(a, b));
    }
}

TEST_CASE("crops without texture are redrawn; a set of flat images is refused clearly") {
    Image flat = Image::from_shape({100, 100});
    flat.fill(0.5f);
    const train::TrainingSet mixed({flat, noise_photo(100, 7), flat});
    const train::FieldExampleGenerator generator(mixed, options());
    std::vector<train::FieldExample> batch(6);
    generator.fill_batch(batch, 0);
    for (const auto& e : batch) CHECK(train::gradient_fraction(e.sharp, 0.05) >= 0.06);
    CHECK(generator.crops_rejected() > 0);
    CHECK(generator.crops_drawn() == generator.crops_rejected() + 6);

    const train::TrainingSet flats({flat, flat});
    auto o = options();
    o.data.max_tries = 20;
    const train::FieldExampleGenerator hopeless(flats, o);
    CHECK_THROWS_AS(hopeless.example_at(0, 0), std::runtime_error);
    auto too_fine = options();
    too_fine.grid = 49;  // more patches than pixels
    CHECK_THROWS_AS(train::FieldExampleGenerator(mixed, too_fine), std::invalid_argument);
}

TEST_CASE("the field validation set is fixed and refuses the training folder") {
    const auto set = photos();
    const train::FieldValidationSet a(set, options(), 3), b(set, options(), 5);
    REQUIRE(a.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(a.examples()[i].blurry == b.examples()[i].blurry);
        CHECK(a.examples()[i].kernel == b.examples()[i].kernel);
    }
    const auto dir = std::filesystem::temp_directory_path();
    CHECK_THROWS_AS(train::FieldValidationSet(dir / "val", options(), 3, 0, dir), std::invalid_argument);
}
