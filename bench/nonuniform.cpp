// Spatially-varying blur benchmark (issue 7): validation photos blurred by
// seeded camera trajectories with in-plane rotation through the EFF model,
// deblurred by the uniform pipeline (blind_deblur) and the nonuniform one
// (nonuniform_deblur), with the true field as the upper bound.
//
//   ./build/bench/nonuniform                     # from the project root
//
// Data: --images photos of ../shared/data/val from the --first (sorted by
// name; never trained on),
// gray, a centred crop of (size + K - 1)^2 px; a camera trajectory
// (CameraShakeSampler, seed --seed + image index) whose local kernels fit
// K x K; the blurry image is its EFF blur ('valid', so --size^2 px) on a fine
// --true-grid^2 grid of the trajectory's local kernels, plus Gaussian noise.
//
// Figures per method (means over the images):
//   - PSNR (dB) of the result against the sharp crop after the best integer
//     shift within +-5 px, on the interior (15 px border), and its gain over
//     the blurry input measured the same way;
//   - kernel-field error at the centres of the estimation grid (--grid^2
//     patches): the L2 distance between the estimated local kernel and the
//     trajectory's true one, both centred by their centre of mass on a common
//     support, and the kernel similarity (max normalised cross-correlation);
//     the uniform pipeline's kernel counts for every patch;
//   - seconds per image.
// Methods: uniform (today's blind_deblur), nonuniform (the default
// nonuniform_deblur), variants without patch refinement / without the
// projection, and true-field (EFFDeconvolver with the true kernels at the
// estimation grid's patch centres: what the EFF model with that grid can
// reach with perfect kernels).
#include <CLI/CLI.hpp>
#include <deblur/core/openmp.hpp>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>
#include <xtensor/xview.hpp>

#include <deblur/blur/camera_shake_blur.hpp>
#include <deblur/blur/camera_shake_sampler.hpp>
#include <deblur/blur/center_kernel.hpp>
#include <deblur/blur/noise.hpp>
#include <deblur/deconv/eff_deconvolver.hpp>
#include <deblur/eval/aligned_ssd.hpp>
#include <deblur/eval/kernel_similarity.hpp>
#include <deblur/fft/fftw.hpp>
#include <deblur/pipeline/blind_deblur.hpp>
#include <deblur/pipeline/nonuniform_deblur.hpp>
#include <deblur/train/training_set.hpp>

namespace {

using Image = xt::xtensor<float, 2>;

struct Row {
    double psnr = 0, gain = 0, field_error = 0, similarity = 0, seconds = 0;
};

double aligned_psnr(const Image& estimate, const Image& truth) {
    constexpr int border = 15;
    const double ssd = deblur::aligned_ssd(estimate, truth, 5, border, 1.0);
    const double n = double(truth.shape(0) - 2 * border) * double(truth.shape(1) - 2 * border);
    return 10 * std::log10(1.0 / (ssd / n));
}

// Both kernels centred on a common odd support, L2 distance.
double centred_l2(const Image& a, const Image& b) {
    const std::size_t n = std::max({a.shape(0), a.shape(1), b.shape(0), b.shape(1)}) | 1;
    auto pad = [&](const Image& k) {
        Image out = xt::zeros<float>({n, n});
        const std::size_t r0 = (n - k.shape(0)) / 2, c0 = (n - k.shape(1)) / 2;
        xt::view(out, xt::range(r0, r0 + k.shape(0)), xt::range(c0, c0 + k.shape(1))) = k;
        return deblur::center_kernel(out);
    };
    const Image d = pad(a) - pad(b);
    return std::sqrt(double(xt::sum(d * d)()));
}

// The nonuniform pipeline's variants (experiments of BENCHMARKS.md); false for an unknown name.
bool variant(const std::string& method, deblur::NonuniformDeblurOptions& o) {
    const auto number = [&](const char* prefix) { return std::stod(method.substr(std::string(prefix).size())); };
    if (method == "nonuniform") return true;  // the defaults (the tool's)
    if (method == "network-projected") {      // the network's field projected, no refinement (the paper's Eq. 9 alone)
        o.refine_field = false;
    } else if (method == "network-field") {   // field refinement started from the network's field
        o.field_from_uniform = false;
    } else if (method == "uniform-eff") {     // the uniform kernel everywhere, EFF deconvolution
        o.refine_field = o.project = false;
        o.min_similarity = 2;
    } else if (method == "uniform-projected") {  // ... projected onto the motion basis
        o.refine_field = false;
        o.min_similarity = 2;
    } else if (method == "patches") {         // each local kernel refined on its patch, gated, projected
        o.refine_field = false;
        o.refine_patches = true;
    } else if (method == "patches-no-projection") {
        o.refine_field = o.project = false;
        o.refine_patches = true;
    } else if (method == "patches-from-uniform") {
        o.refine_field = false;
        o.refine_patches = o.start_from_uniform = true;
    } else if (method == "patches-field") {   // patch refinement, then the field refinement from that field
        o.refine_patches = true;
        o.field_from_uniform = false;
    } else if (method.starts_with("gate-")) {  // patches with another similarity gate
        o.refine_field = false;
        o.refine_patches = true;
        o.min_similarity = number("gate-");
    } else if (method.starts_with("field-lambda-")) {
        o.field_refinement.lambda_scale = number("field-lambda-");
    } else if (method.starts_with("field-gamma-")) {
        o.field_refinement.kernel_weight = number("field-gamma-");
    } else if (method.starts_with("field-iter-")) {
        o.field_refinement.iterations = static_cast<int>(number("field-iter-"));
    } else if (method == "no-field-gate") {
        o.min_field_similarity = 0;
    } else if (method.starts_with("field-gate-")) {
        o.min_field_similarity = number("field-gate-");
    } else if (method.starts_with("eta-")) {
        o.eta = number("eta-");
    } else {
        return false;
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Spatially-varying blur: uniform vs nonuniform pipeline on synthetic camera shake with rotation"};
    std::filesystem::path data = "../shared/data/val";
    std::size_t images = 8, first = 0, size = 256, grid = 3, true_grid = 8;
    int kernel = 25, threads = 0;
    double noise = 0.01, translation = 0.5, rotation = 0.7, eta = 0.03;
    std::uint64_t seed = 7;
    std::vector<std::string> methods{"uniform", "nonuniform", "network-field", "network-projected", "uniform-eff", "true-field"};
    std::filesystem::path field_model;
    app.add_option("--data", data, "Folder of validation photos")->capture_default_str();
    app.add_option("--images", images, "Photos used")->capture_default_str();
    app.add_option("--first", first, "Index of the first photo used (sorted by name)")->capture_default_str();
    app.add_option("--size", size, "Blurry crop size (px)")->capture_default_str();
    app.add_option("--kernel", kernel, "Support of the true local kernels (odd px)")->capture_default_str();
    app.add_option("--grid", grid, "Estimation grid (patches per axis)")->capture_default_str();
    app.add_option("--true-grid", true_grid, "Grid of the EFF blur that makes the data")->capture_default_str();
    app.add_option("--noise", noise, "Noise standard deviation")->capture_default_str();
    app.add_option("--translation", translation, "Trajectory translation scale (CameraShakeOptions)")->capture_default_str();
    app.add_option("--rotation", rotation, "Trajectory rotation scale (CameraShakeOptions)")->capture_default_str();
    app.add_option("--eta", eta, "Fraction of motion-basis coefficients kept")->capture_default_str();
    app.add_option("--field-model", field_model, "Model of the field network (default: as the tool)");
    app.add_option("--seed", seed, "Trajectory seed (image i uses seed + i)")->capture_default_str();
    app.add_option("--method", methods, "Methods: uniform, true-field, nonuniform and its variants (see variant())")->capture_default_str();
    app.add_option("--threads", threads, "Threads (0: all cores)")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    if (threads > 0) omp_set_num_threads(threads);
    deblur::fft::Fftw::set_threads(threads > 0 ? threads : omp_get_max_threads());

    const std::size_t K = std::size_t(kernel), latent = size + K - 1;
    const deblur::train::TrainingSet photos(data, deblur::train::TrainingSetOptions{first + images});
    deblur::CameraShakeOptions shake;
    shake.translation = translation;
    shake.rotation = rotation;
    const deblur::CameraShakeSampler sampler(shake);
    std::map<std::string, Row> sums;
    Row blurry_sum;
    std::size_t used = 0;

    std::printf("| image | blurry PSNR |");
    for (const auto& m : methods) std::printf(" %s PSNR / field L2 / sim |", m.c_str());
    std::printf("\n|---|---|");
    for (std::size_t i = 0; i < methods.size(); ++i) std::printf("---|");
    std::printf("\n");
    for (std::size_t n = first; n < photos.size(); ++n) {
        const Image& photo = photos.image(n);
        if (photo.shape(0) < latent || photo.shape(1) < latent) continue;
        const std::size_t r0 = (photo.shape(0) - latent) / 2, c0 = (photo.shape(1) - latent) / 2;
        const Image sharp = xt::view(photo, xt::range(r0, r0 + latent), xt::range(c0, c0 + latent));
        std::mt19937_64 rng(seed + n);
        const auto trajectory = sampler.sample(latent, latent, kernel, rng);
        Image blurry = deblur::camera_shake_blur(sharp, trajectory, true_grid);
        deblur::add_gaussian_noise(blurry, noise, rng);
        const Image truth = xt::view(sharp, xt::range(K / 2, K / 2 + size), xt::range(K / 2, K / 2 + size));
        const double blurry_psnr = aligned_psnr(blurry, truth);
        blurry_sum.psnr += blurry_psnr;
        ++used;
        std::printf("| %s | %.2f |", photos.path(n).filename().c_str(), blurry_psnr);

        auto input = deblur::make_tensor<float>(1, size, size);
        xt::view(input, 0, xt::all(), xt::all()) = blurry;
        // The true local kernel at patch p of an estimation field with support s
        // (its grid is over the s-'valid' latent image: blurry coordinates are s/2 px less).
        auto true_kernel = [&](const deblur::EFFGrid& g, std::size_t p, std::size_t s) {
            return deblur::CameraShakeSampler::valid_kernel_at<float>(trajectory, g.row_centre(g.grid_row(p)) - double(s / 2),
                                                                      g.col_centre(g.grid_col(p)) - double(s / 2));
        };
        for (const auto& method : methods) {
            const auto start = std::chrono::steady_clock::now();
            Image result;
            deblur::Tensor<float> field;
            std::size_t s = K;
            if (method == "uniform") {
                auto r = deblur::blind_deblur(input);
                result = xt::view(r.sharp, 0, xt::all(), xt::all());
                s = r.kernel.shape(0);
                field = deblur::make_tensor<float>(grid * grid, r.kernel.shape(0), r.kernel.shape(1));
                for (std::size_t p = 0; p < grid * grid; ++p) xt::view(field, p, xt::all(), xt::all()) = r.kernel;
            } else if (method == "true-field") {
                const auto g = deblur::EFFDeconvolver<float>::latent_grid(size, size, K, K, grid, grid);
                field = deblur::make_tensor<float>(grid * grid, K, K);
                for (std::size_t p = 0; p < grid * grid; ++p) xt::view(field, p, xt::all(), xt::all()) = true_kernel(g, p, K);
                result = deblur::EFFDeconvolver<float>(deblur::DeconvOptions::for_noise(deblur::estimate_noise_level(blurry)))
                             .deconvolve(blurry, field, grid, grid);
            } else {
                deblur::NonuniformDeblurOptions options;
                options.grid_rows = options.grid_cols = grid;
                options.eta = eta;
                options.field_model = field_model;
                if (std::getenv("DEBLUR_BENCH_VERBOSE"))
                    options.base.progress = [](const std::string& line) { std::fprintf(stderr, "  %s\n", line.c_str()); };
                if (!variant(method, options)) {
                    std::fprintf(stderr, "nonuniform: unknown method %s\n", method.c_str());
                    return 1;
                }
                auto r = deblur::nonuniform_deblur(input, options);
                result = xt::view(r.sharp, 0, xt::all(), xt::all());
                field = r.kernels;
                s = field.shape(1);
            }
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            const auto g = deblur::EFFDeconvolver<float>::latent_grid(size, size, s, s, grid, grid);
            double l2 = 0, sim = 0;
            for (std::size_t p = 0; p < grid * grid; ++p) {
                const Image k = xt::view(field, p, xt::all(), xt::all());
                const Image t = true_kernel(g, p, s);
                l2 += centred_l2(k, t);
                sim += deblur::kernel_similarity(k, t);
            }
            l2 /= double(grid * grid);
            sim /= double(grid * grid);
            const double psnr = aligned_psnr(result, truth);
            Row& row = sums[method];
            row.psnr += psnr;
            row.gain += psnr - blurry_psnr;
            row.field_error += l2;
            row.similarity += sim;
            row.seconds += seconds;
            std::printf(" %.2f / %.4f / %.3f |", psnr, l2, sim);
            std::fflush(stdout);
        }
        std::printf("\n");
    }
    if (used == 0) {
        std::fprintf(stderr, "nonuniform: no photo of %s is %zu px\n", data.c_str(), latent);
        return 1;
    }
    const double u = double(used);
    std::printf("\n%zu images, %zu^2 px, %d px kernels (translation %.2f, rotation %.2f), true grid %zu^2, estimation grid %zu^2, noise %.3f, eta %.3f\n\n",
                used, size, kernel, translation, rotation, true_grid, grid, noise, eta);
    std::printf("| method | mean PSNR (dB) | gain over blurry (dB) | kernel-field L2 error | kernel similarity | s / image |\n");
    std::printf("|---|---|---|---|---|---|\n");
    std::printf("| blurry input | %.2f | 0 | | | |\n", blurry_sum.psnr / u);
    for (const auto& m : methods) {
        const Row& r = sums[m];
        std::printf("| %s | %.2f | %+.2f | %.4f | %.3f | %.2f |\n", m.c_str(), r.psnr / u, r.gain / u, r.field_error / u,
                    r.similarity / u, r.seconds / u);
    }
    return 0;
}
