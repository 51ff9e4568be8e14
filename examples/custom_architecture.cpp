// A researcher's own architecture, end to end: a network smaller than the
// paper's (one scale of 13 px kernels, two stages of 8 filters of 5 x 5),
// trained for a few hundred steps on examples generated from synthetic
// photos, then used by the library's pipeline through Model::from_bytes.
//
//   deblur-custom-architecture [STEPS]      # 300 by default; prints the loss and the result
//
// The whole network is the type SmallNet: change it, rebuild, rerun. Trained
// this briefly it is far from the shipped model; the point is the path.
#include <deblur/deblur.hpp>
#include <deblur/blur/blur.hpp>
#include <deblur/blur/motion_kernel_sampler.hpp>
#include <deblur/blur/noise.hpp>
#include <deblur/net/model_file.hpp>
#include <deblur/train/example_generator.hpp>
#include <deblur/train/trainer.hpp>
#include <deblur/train/training_set.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace deblur;

using SmallFeatures = Chain<Conv<8, 5>, Tanh<>, Recombine<8>, Tanh<>, Recombine<4>>;
using SmallStage = Stage<SmallFeatures, Quotient<13>, ImageQuotient<>>;
using SmallNet = MultiScale<Scale<13, SmallStage, SmallStage>>;

// A synthetic photo: discs and bars of random grey levels on a textured gradient.
xt::xtensor<float, 2> synthetic_photo(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(0, 1);
    xt::xtensor<float, 2> im = xt::xtensor<float, 2>::from_shape({n, n});
    for (std::size_t y = 0; y < n; ++y)
        for (std::size_t x = 0; x < n; ++x)  // a gradient with a fine texture (the generator wants edges in x and y)
            im(y, x) = float(0.3 + 0.4 * double(x + y) / double(2 * n) + 0.08 * std::sin(1.1 * double(x)) * std::sin(1.3 * double(y)));
    for (int shape = 0; shape < int(n); ++shape) {
        const double cy = u(rng) * double(n), cx = u(rng) * double(n), r = 2 + 8 * u(rng), v = u(rng);
        for (std::size_t y = 0; y < n; ++y)
            for (std::size_t x = 0; x < n; ++x)
                if (shape % 2 ? std::abs(double(y) - cy) < r && std::abs(double(x) - cx) < r / 4
                              : std::hypot(double(y) - cy, double(x) - cx) < r)
                    im(y, x) = float(v);
    }
    return im;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const int steps = argc > 1 ? std::atoi(argv[1]) : 300;
        if (steps < 1) throw std::invalid_argument("STEPS must be a positive number");

        // 1. Train: photos, a generator of (blurry, kernel) examples, ADADELTA.
        std::vector<xt::xtensor<float, 2>> photos;
        for (unsigned i = 0; i < 6; ++i) photos.push_back(synthetic_photo(160, i + 1));
        const train::TrainingSet set(std::move(photos));
        train::ExampleGeneratorOptions data;
        data.crop = 64;
        data.kernel_size = 13;
        data.seed = 1;
        const train::ExampleGenerator generator(set, data);
        auto net = std::make_unique<SmallNet>();  // networks are large objects: not on the stack
        net->setup(1);
        train::TrainerOptions options;
        options.batch = 8;
        options.stage_steps = steps / 2;  // the second stage joins half-way
        options.freeze_steps = steps / 10;
        train::Trainer<SmallNet> trainer(*net, options);
        for (int step = 1; step <= steps; ++step) {
            const auto result = trainer.train_step(generator);
            if (step % 50 == 0 || step == steps) std::printf("step %d: kernel loss %.4f\n", step, result.loss);
        }

        // 2. Use it: the bytes of a model file, a Model, a BasicDeblurrer for SmallNet.
        const auto bytes = encode_model(*net, {{"trained_steps", std::to_string(steps)}});
        const Model model = Model::from_bytes<SmallNet>(std::as_bytes(std::span(bytes)), "small network");
        BasicDeblurrer<SmallNet> deblurrer(model);

        // 3. A test image: a new synthetic photo blurred by a sampled 11 px camera shake.
        std::mt19937_64 rng(7);
        const auto sharp = synthetic_photo(200, 99);
        const auto kernel = MotionKernelSampler{}.sample<float>(11, rng);
        xt::xtensor<float, 2> blurry = blur(sharp, kernel, BlurMode::same);
        add_gaussian_noise(blurry, 0.005, rng);
        std::vector<float> pixels(blurry.begin(), blurry.end());
        const auto result = deblurrer.deblur(ImageView<const float>(pixels.data(), 200, 200, 1));
        const auto psnr = [&](const auto& at) {
            double se = 0;
            for (std::size_t y = 20; y < 180; ++y)
                for (std::size_t x = 20; x < 180; ++x) se += std::pow(double(at(y, x)) - double(sharp(y, x)), 2);
            return 10 * std::log10(160.0 * 160.0 / se);
        };
        const auto out = result.sharp.view();
        std::printf("blurry %.2f dB, deblurred %.2f dB with a %zu px kernel%s%s\n",
                    psnr([&](std::size_t y, std::size_t x) { return blurry(y, x); }),
                    psnr([&](std::size_t y, std::size_t x) { return out(y, x, 0); }), result.kernel.shape(0),
                    result.warning.empty() ? "" : "; ", result.warning.c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "deblur-custom-architecture: %s\n", e.what());
        return 1;
    }
}
