// levin: the blind-deblurring quality benchmark on Levin et al. 2009 (4 images
// x 8 camera-shake kernels, 255 x 255 gray; ../shared/data/levin/README.md).
//
//   ./build/bench/levin                      # every method, all 32 images
//   ./build/bench/levin --method refined     # one method
//
// Per image and method: the error ratio SSD(deconv(y, k_est), x) /
// SSD(deconv(y, k_true), x) with one fixed non-blind deconvolution for both
// (hyper-Laplacian, DeconvOptions::for_noise(0.01)), SSDs after the best
// integer shift within +-5 px on the image minus a 15 px border (Levin's
// protocol uses 0.25 px steps; integer steps can only raise both SSDs); the
// aligned PSNR of the image deconvolved with k_est; the kernel similarity
// (maximum normalised cross-correlation over shifts with the true kernel).
// "network" and "refined" run the tool's kernel estimation (deblur::estimate_kernel
// with refine off / on, automatic size, noise estimated from the image); an
// estimate the tool does not trust (its support ladder found no agreement) is
// scored as the tool's result, the blurry image unchanged;
// "classical" is the refinement alone from a delta on a 31 px support.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <deblur/blur/noise.hpp>
#include <deblur/deconv/hyper_laplacian.hpp>
#include <deblur/eval/aligned_ssd.hpp>
#include <deblur/eval/kernel_similarity.hpp>
#include <deblur/fft/shipped_wisdom.hpp>
#include <deblur/pipeline/blind_deblur.hpp>
#include <deblur/pipeline/kernel_refiner.hpp>

#include "../examples/tools/support_solver_options.hpp"
#include "levin_data.hpp"

namespace {

namespace fs = std::filesystem;
using Kernel = xt::xtensor<float, 2>;
using Image = xt::xtensor<float, 2>;

struct Row {
    int image, kernel, kernel_size;
    double ratio, psnr, similarity, seconds;
    int estimated_size;
    bool unchanged;  // an unreliable estimate: the tool returns the image unchanged, scored as such
};

}  // namespace

int main(int argc, char** argv) {
    using namespace deblur;
    CLI::App app{"Levin et al. 2009 benchmark: error ratios, PSNR and kernel similarity"};
    fs::path data = "../shared/data/levin", model;
    std::vector<std::string> methods{"network", "refined", "classical"};
    int refine_size = 0, max_shift = 5, border = 15;
    double noise = 0.01, add_noise = 0, growth = BlindDeblurOptions{}.refine_growth;
    bool per_image = true;
    app.add_option("--data", data, "Folder of the Levin benchmark")->capture_default_str();
    app.add_option("--model", model, "Model file (default: the shipped model for each image's estimated noise, as the tool)");
    app.add_option("--method", methods, "network: the model alone; refined: the model's kernel refined classically; "
                                         "classical: the refinement started from a delta")
        ->capture_default_str()->check(CLI::IsMember({"network", "refined", "classical"}));
    app.add_option("--refine-size", refine_size, "Kernel size given to the estimation (0: automatic, as the tool; "
                                                 "classical: 31)")
        ->capture_default_str();
    app.add_option("--growth", growth, "Automatic refinement support: the network kernel's size times this")
        ->capture_default_str();
    app.add_option("--max-shift", max_shift, "Largest alignment shift in px (Levin's protocol: 5)")->capture_default_str();
    app.add_option("--add-noise", add_noise, "Gaussian noise added to every blurry image (seeded; the deconvolution is then "
                                           "tuned for it)")->capture_default_str();
    app.add_option("--noise", noise, "Noise level the fixed non-blind deconvolution is tuned for")->capture_default_str();
    app.add_flag("!--summary-only", per_image, "Print only the summary tables");
    bool shipped_plans = false;
    app.add_flag("--shipped-fft-plans", shipped_plans,
                 "The FFT plans shipped for the usual sizes (as deblur --shipped-fft-plans) instead of FFTW_ESTIMATE's");
    int runs = 1;
    double jitter = 1e-4;
    app.add_option("--runs", runs, "Repeat the benchmark with a tiny seeded perturbation of every image (run 0: none) "
                                   "and report the spread of the summary: the refinement amplifies rounding")
        ->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--jitter", jitter, "Standard deviation of the perturbation of runs after the first")->capture_default_str();
    KernelRefinerOptions ropt;
    app.add_option("--refine-iterations", ropt.iterations, "Refinement: alternations per level")->capture_default_str();
    app.add_option("--refine-lambda", ropt.lambda, "Refinement: L0 weight")->capture_default_str();
    app.add_option("--refine-kernel-weight", ropt.kernel_weight, "Refinement: kernel Tikhonov weight")->capture_default_str();
    app.add_option("--refine-beta-rate", ropt.beta_rate, "Refinement: half-quadratic penalty growth")->capture_default_str();
    app.add_option("--refine-beta-max", ropt.beta_max, "Refinement: the last latent step's half-quadratic penalty")->capture_default_str();
    app.add_option("--refine-polish-passes", ropt.polish_passes, "Refinement: passes of the finest level on the chosen kernel")->capture_default_str();
    app.add_option("--refine-polish-lambda", ropt.polish_lambda, "Refinement: the polish passes' L0 weight, times --refine-lambda")->capture_default_str();
    app.add_option("--refine-prune", ropt.prune, "Refinement: pruning fraction of the peak")->capture_default_str();
    app.add_option("--refine-tail-prune", ropt.tail_prune,
                   "Refinement: values down to this fraction of the peak kept where connected to one above the prune fraction (0: off)")
        ->capture_default_str();
    app.add_option("--refine-tail-noise", ropt.tail_noise,
                   "Refinement: the tail threshold is at least this many times the RMS of the kernel update's negative values")
        ->capture_default_str();
    app.add_option("--refine-coarsest", ropt.coarsest_kernel, "Refinement: kernel size at the coarsest level")->capture_default_str();
    tools::add_support_solver_options(app, ropt);
    app.add_flag("--refine-support-solver", ropt.support_solver, "Refinement: kernel update on its support on every level");
    app.add_option("--refine-solver-iterations", ropt.solver_iterations, "Refinement: conjugate-gradient iterations")->capture_default_str();
    app.add_flag("--refine-select-edges,!--refine-all-edges", ropt.select_edges,
                 "Refinement: Cho & Lee edge selection for the kernel update (default), or all gradients");
    app.add_option("--refine-edge-pixels", ropt.edge_pixels, "Refinement: selected edge pixels per direction and kernel pixel")->capture_default_str();
    app.add_option("--refine-edge-decay", ropt.edge_decay, "Refinement: edge threshold decay per alternation")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    try {
        if (add_noise > 0) noise = add_noise;
        KernelRefiner<float> refiner(ropt);
        HyperLaplacianDeconvolver<float> solver(DeconvOptions::for_noise(noise));
        Deblurrer deblurrer(model.empty() ? Model::default_model() : Model::from_file(model));
        if (shipped_plans) fft::import_shipped_wisdom();
        // One pass over the 32 images; run > 0 perturbs each image by Gaussian noise of sigma `jitter`.
        const auto evaluate = [&](int run) {
            std::map<std::string, std::vector<Row>> results;
            for (int j = 1; j <= 8; ++j) {
                const Kernel truth = levin::read_kernel(data / ("ker" + std::to_string(j) + ".txt"));
                for (int i = 1; i <= 4; ++i) {
                    const std::string stem = levin::stem(i, j);
                    Image blurry = levin::read_gray(data / (stem + "_blurry.pfm"));
                    if (add_noise > 0) {
                        std::mt19937_64 rng(std::uint64_t(10 * i + j));
                        add_gaussian_noise(blurry, add_noise, rng);
                    }
                    if (run > 0) {
                        std::mt19937_64 rng(std::uint64_t(1000 * run + 10 * i + j));
                        add_gaussian_noise(blurry, jitter, rng);
                    }
                    const Image sharp = levin::read_gray(data / (stem + "_sharp.pfm"));
                    const double reference = aligned_ssd(Image(solver.deconvolve(blurry, truth)), sharp, max_shift, border, 0.25);
                    const double pixels = double(sharp.shape(0) - 2 * border) * double(sharp.shape(1) - 2 * border);
                    for (const auto& method : methods) {
                        const auto start = std::chrono::steady_clock::now();
                        Kernel k;
                        bool unchanged = false;
                        if (method == "classical") {
                            k = refiner.refine(blurry, {}, refine_size > 0 ? refine_size : 31, estimate_noise_level(blurry));
                        } else {
                            BlindDeblurOptions options;  // the tool's kernel estimation (estimate_kernel)
                            options.refine = method == "refined";
                            options.refine_growth = growth;
                            options.refinement = ropt;
                            options.kernel_size = refine_size;
                            auto estimate = deblurrer.estimate_kernel(blurry, estimate_noise_level(blurry), options);
                            k = std::move(estimate.kernel);
                            unchanged = !estimate.reliable;
                        }
                        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                        const Image result = unchanged ? blurry : Image(solver.deconvolve(blurry, k));
                        const double ssd = aligned_ssd(result, sharp, max_shift, border, 0.25);
                        results[method].push_back({i, j, int(truth.shape(0)), ssd / reference, 10 * std::log10(pixels / ssd),
                                                   kernel_similarity(k, truth), seconds, int(k.shape(0)), unchanged});
                    }
                    std::cerr << "\r" << (runs > 1 ? "run " + std::to_string(run) + " " : "") << stem << "   " << std::flush;
                }
            }
            return results;
        };
        std::vector<std::map<std::string, std::vector<Row>>> all_runs;
        for (int run = 0; run < runs; ++run) all_runs.push_back(evaluate(run));
        auto& results = all_runs.front();
        std::cerr << "\n";

        std::printf("Levin et al. 2009, 32 images; model %s; added noise %.3g; deconvolution: hyper-Laplacian, "
                    "for_noise(%.3g)\n\n", model.empty() ? "shipped, by noise level" : model.string().c_str(), add_noise, noise);
        if (per_image) {
            std::printf("| image | kernel (px) |");
            for (const auto& m : methods) std::printf(" %s: ratio / PSNR / similarity / size |", m.c_str());
            std::printf("\n|---|---|");
            for (std::size_t m = 0; m < methods.size(); ++m) std::printf("---|");
            std::printf("\n");
            for (std::size_t r = 0; r < results[methods[0]].size(); ++r) {
                const auto& first = results[methods[0]][r];
                std::printf("| im%d_ker%d | %d |", first.image, first.kernel, first.kernel_size);
                for (const auto& m : methods) {
                    const auto& row = results[m][r];
                    std::printf(" %.2f / %.2f / %.3f / %d%s |", row.ratio, row.psnr, row.similarity, row.estimated_size,
                                row.unchanged ? " (unchanged)" : "");
                }
                std::printf("\n");
            }
            std::printf("\n");
        }
        auto summary = [&](const char* title, auto keep) {
            std::printf("%s\n\n| method | images | mean error ratio | max ratio | ratio <= 2 | ratio <= 3 | mean PSNR (dB) | "
                        "mean kernel similarity | mean time (s) | returned unchanged |\n|---|---|---|---|---|---|---|---|---|---|\n",
                        title);
            for (const auto& m : methods) {
                int n = 0, le2 = 0, le3 = 0, unchanged = 0;
                double ratio = 0, worst = 0, psnr = 0, sim = 0, t = 0;
                for (const auto& row : results[m]) {
                    if (!keep(row)) continue;
                    ++n;
                    ratio += row.ratio;
                    worst = std::max(worst, row.ratio);
                    le2 += row.ratio <= 2;
                    le3 += row.ratio <= 3;
                    psnr += row.psnr;
                    sim += row.similarity;
                    t += row.seconds;
                    unchanged += row.unchanged;
                }
                if (n == 0) continue;
                std::printf("| %s | %d | %.3f | %.2f | %.0f %% | %.0f %% | %.2f | %.3f | %.3f | %d |\n", m.c_str(), n, ratio / n,
                            worst, 100.0 * le2 / n, 100.0 * le3 / n, psnr / n, sim / n, t / n, unchanged);
            }
            std::printf("\n");
        };
        summary("All 32 images", [](const Row&) { return true; });
        for (int j = 1; j <= 8; ++j) {
            const auto& rows = results[methods[0]];
            const auto it = std::find_if(rows.begin(), rows.end(), [j](const Row& r) { return r.kernel == j; });
            const std::string title = "Kernel " + std::to_string(j) + " (" + std::to_string(it->kernel_size) + " px)";
            summary(title.c_str(), [j](const Row& r) { return r.kernel == j; });
        }
        if (runs > 1) {
            std::printf("Spread over %d runs (run 0: the images as given; runs 1-%d: each image plus Gaussian noise of "
                        "sigma %.3g, seeded; an image's span: its largest ratio over its smallest)\n\n| method | "
                        "mean error ratio per run | mean over runs | range | mean of the max ratio | mean ratio <= 2 | "
                        "largest ratio in any run | images spanning more than x1.5 | largest span |\n"
                        "|---|---|---|---|---|---|---|---|---|\n",
                        runs, runs - 1, jitter);
            for (const auto& m : methods) {
                std::string per_run;
                double sum = 0, lo = 1e300, hi = 0, worst = 0, le2 = 0;
                for (const auto& r : all_runs) {
                    double mean = 0, mx = 0;
                    int good = 0;
                    for (const auto& row : r.at(m)) {
                        mean += row.ratio;
                        mx = std::max(mx, row.ratio);
                        good += row.ratio <= 2;
                    }
                    mean /= double(r.at(m).size());
                    char cell[32];
                    std::snprintf(cell, sizeof cell, "%s%.3f", per_run.empty() ? "" : " / ", mean);
                    per_run += cell;
                    sum += mean;
                    lo = std::min(lo, mean);
                    hi = std::max(hi, mean);
                    worst += mx;
                    le2 += double(good) / double(r.at(m).size());
                }
                // Per image (same order in every run): its ratios' span over the runs.
                const std::size_t images = all_runs.front().at(m).size();
                int wide = 0;
                double largest = 0, widest = 0;
                std::string widest_image;
                for (std::size_t i = 0; i < images; ++i) {
                    double low = 1e300, high = 0;
                    for (const auto& r : all_runs) low = std::min(low, r.at(m)[i].ratio), high = std::max(high, r.at(m)[i].ratio);
                    largest = std::max(largest, high);
                    wide += high > 1.5 * low;
                    if (high / low > widest) {
                        const Row& row = all_runs.front().at(m)[i];
                        widest = high / low;
                        widest_image = "im" + std::to_string(row.image) + "_ker" + std::to_string(row.kernel);
                    }
                }
                std::printf("| %s | %s | %.3f | %.3f-%.3f | %.2f | %.0f %% | %.2f | %d | x%.2f (%s) |\n", m.c_str(), per_run.c_str(),
                            sum / runs, lo, hi, worst / runs, 100 * le2 / runs, largest, wide, widest, widest_image.c_str());
            }
            std::printf("\n");
        }
        std::printf("Published mean error ratios on the same 32 images (not measured here): Cho & Lee 2009 1.71, "
                    "Xu & Jia 2010 1.49, Sun et al. 2013 1.28, Pan et al. 2016 (dark channel) 1.26, SelfDeblur 2020 1.20.\n");
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "levin: " << e.what() << "\n";
        return 1;
    }
}
