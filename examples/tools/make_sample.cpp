// deblur-make-sample: draws the synthetic test scene shipped in examples/
// (shapes, stripes, a checkerboard and fine text-like marks, so every
// redistribution right is ours), blurs it 'valid' with a seeded camera-shake
// kernel and adds noise:
//
//   deblur-make-sample examples/sample    # sample-sharp.png, sample-blurry.png, sample-kernel.png
#include <CLI/CLI.hpp>

#include <cmath>
#include <iostream>
#include <random>
#include <xtensor/xview.hpp>

#include <deblur/blur/blur.hpp>
#include <deblur/blur/motion_kernel_sampler.hpp>
#include <deblur/blur/noise.hpp>
#include <deblur/io/write_image.hpp>

int main(int argc, char** argv) {
    using namespace deblur;
    CLI::App app{"Make the synthetic blurry sample image"};
    std::string prefix = "examples/sample";
    int size = 320, kernel_size = 17;
    double noise = 0.01;
    std::uint64_t seed = 2026;
    app.add_option("prefix", prefix, "Output path prefix")->capture_default_str();
    app.add_option("--size", size, "Blurry image size")->capture_default_str();
    app.add_option("--kernel-size", kernel_size, "Kernel size")->capture_default_str();
    app.add_option("--noise", noise, "Noise standard deviation")->capture_default_str();
    app.add_option("--seed", seed, "Seed of kernel and noise")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    try {
        const int n = size + kernel_size - 1;
        xt::xtensor<float, 2> sharp = xt::zeros<float>({std::size_t(n), std::size_t(n)});
        std::mt19937_64 rng(seed);
        std::uniform_real_distribution<double> u(0, 1);
        for (int r = 0; r < n; ++r)
            for (int c = 0; c < n; ++c) sharp(r, c) = float(0.25 + 0.35 * c / n);  // soft background ramp
        for (int i = 0; i < 14; ++i) {  // discs
            const double cr = u(rng) * n, cc = u(rng) * n, rad = 6 + u(rng) * n / 9, v = u(rng);
            for (int r = 0; r < n; ++r)
                for (int c = 0; c < n; ++c)
                    if ((r - cr) * (r - cr) + (c - cc) * (c - cc) < rad * rad) sharp(r, c) = float(0.1 + 0.8 * v);
        }
        for (int i = 0; i < 10; ++i) {  // rectangles
            const int r0 = int(u(rng) * n), c0 = int(u(rng) * n), hh = 5 + int(u(rng) * n / 6), ww = 5 + int(u(rng) * n / 6);
            const float v = float(0.05 + 0.9 * u(rng));
            for (int r = r0; r < std::min(n, r0 + hh); ++r)
                for (int c = c0; c < std::min(n, c0 + ww); ++c) sharp(r, c) = v;
        }
        for (int r = n / 10; r < n / 10 + n / 5; ++r)  // checkerboard
            for (int c = n / 2; c < n / 2 + n / 5; ++c) sharp(r, c) = ((r / 6 + c / 6) % 2) ? 0.9f : 0.1f;
        for (int r = 2 * n / 3; r < 2 * n / 3 + n / 6; ++r)  // stripes of several widths
            for (int c = n / 12; c < n / 12 + n / 3; ++c) sharp(r, c) = (int(c / (2 + (r - 2 * n / 3) / 12)) % 2) ? 0.85f : 0.15f;
        for (int i = 0; i < 300; ++i) {  // small marks, like letters
            const int r0 = int(u(rng) * (n - 8)), c0 = int(u(rng) * (n - 8));
            for (int d = 0; d < 6; ++d) sharp(r0 + (i % 2 ? d : 0), c0 + (i % 2 ? 0 : d)) = 0.05f;
        }
        MotionKernelSampler sampler;
        const auto kernel = sampler.sample<float>(kernel_size, rng);
        auto blurry = blur(sharp, kernel, BlurMode::valid);
        add_gaussian_noise(blurry, noise, rng);
        const auto as_tensor = [](const xt::xtensor<float, 2>& a) {
            Tensor<float> t = make_tensor<float>(1, a.shape(0), a.shape(1));
            std::copy(a.begin(), a.end(), t.begin());
            return t;
        };
        const int o = kernel_size / 2;
        const xt::xtensor<float, 2> sharp_view = xt::view(sharp, xt::range(o, o + size), xt::range(o, o + size));
        io::write_image(prefix + "-sharp.png", as_tensor(sharp_view));
        io::write_image(prefix + "-blurry.png", as_tensor(xt::clip(blurry, 0.0f, 1.0f)));
        io::write_image(prefix + "-kernel.png", as_tensor(kernel / xt::amax(kernel)()));
        io::write_image(prefix + "-kernel.pfm", as_tensor(kernel), io::SampleType::float32);
        std::cout << "wrote " << prefix << "-{sharp,blurry,kernel}.png and " << prefix << "-kernel.pfm\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "deblur-make-sample: " << e.what() << "\n";
        return 1;
    }
}
