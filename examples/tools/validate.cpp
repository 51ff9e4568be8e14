// deblur-validate: evaluates a model on the validation photos, blurred with a
// fixed seeded set of Gaussian-process kernels, against two trivial baselines.
//
//   deblur-validate --model models/default.dbm
//
// Per method: mean kernel L2 error (sum of squares against the true kernel),
// and the error ratio SSD(deconv with that kernel) / SSD(deconv with the true
// kernel), both with the same non-blind deconvolution, after aligning the
// integer shift. Baselines: the delta kernel (no deblurring), and the
// isotropic Gaussian of the right size whose width is best on this set.
// With --refine, two more rows: the network's kernel refined classically
// (KernelRefiner, as the deblur tool does by default) and the same refinement
// started from a delta, so the share of each part is visible. With --tool,
// the tool's own kernel (deblur::estimate_kernel: the model's size rule, the
// network and the refinement) with the kernel size given and automatic: the
// figures that decide whether a multi-scale model should be the default.
//
// A bad option, model or photo folder gives one "deblur-validate: ..." line
// and exit status 1, before any work.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <utility>
#include <vector>

#include <deblur/deconv/hyper_laplacian.hpp>
#include <deblur/eval/aligned_ssd.hpp>
#include <deblur/net/default_network.hpp>
#include <deblur/net/model_file.hpp>
#include <deblur/pipeline/blind_deblur.hpp>
#include <deblur/pipeline/kernel_refiner.hpp>
#include <deblur/train/validation_set.hpp>

#include "command_line.hpp"
#include "support_solver_options.hpp"

namespace {

using Kernel = xt::xtensor<float, 2>;

Kernel gaussian_kernel(int k, double sigma) {
    Kernel g = xt::zeros<float>({std::size_t(k), std::size_t(k)});
    const double c = k / 2;
    for (int r = 0; r < k; ++r)
        for (int q = 0; q < k; ++q) g(r, q) = float(std::exp(-((r - c) * (r - c) + (q - c) * (q - c)) / (2 * sigma * sigma)));
    return g / xt::sum(g)();
}

// Sum of squared differences; a kernel of another size is compared centred on b's support.
double kernel_error(const Kernel& kernel, const Kernel& b) {
    Kernel a = xt::zeros<float>(b.shape());
    const auto n = static_cast<std::ptrdiff_t>(kernel.shape(0)), m = static_cast<std::ptrdiff_t>(b.shape(0));
    for (std::ptrdiff_t r = 0; r < n; ++r)
        for (std::ptrdiff_t c = 0; c < n; ++c) {
            const std::ptrdiff_t rr = r - n / 2 + m / 2, cc = c - n / 2 + m / 2;
            if (rr >= 0 && cc >= 0 && rr < m && cc < m) a(rr, cc) = kernel(r, c);
        }
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) s += (double(a.data()[i]) - b.data()[i]) * (double(a.data()[i]) - b.data()[i]);
    return s;
}

// Small values of an L2-trained kernel are mostly noise: drop those under a fraction of the peak.
Kernel threshold_kernel(const Kernel& k, float fraction) {
    Kernel t = xt::where(k >= fraction * xt::amax(k)(), k, 0.0f);
    return t / xt::sum(t)();
}

struct Method {
    Method(std::string name) : name(std::move(name)) {}
    std::string name;
    std::vector<double> kernel_errors, ratios;
    std::vector<bool> unchanged;  // the tool returned the input unchanged (an unreliable estimate)
};

}  // namespace

int main(int argc, char** argv) {
    using namespace deblur;
    CLI::App app{"Validation of a kernel-estimation model against trivial baselines"};
    std::filesystem::path model = "models/default.dbm", val_dir = "../shared/data/val";
    long long images = 0, crop = 256, scale = 0;  // range-checked below, negative values as given
    double noise = 0.01;
    bool refine = false, tool = false, per_example = false;
    app.add_option("--model", model, "Model file")->capture_default_str();
    app.add_option("--scale", scale, "Scale whose kernels are evaluated (0: 17 px, 1: 25 px, 2: 33 px)")->capture_default_str();
    app.add_option("--val-dir", val_dir, "Validation photos")->capture_default_str();
    app.add_option("--images", images, "Validation images used (0: all)")->capture_default_str();
    app.add_option("--crop", crop, "Blurry crop size (twice the kernel to 4096; 0: whole images)")->capture_default_str();
    app.add_option("--noise", noise, "Noise level of the validation set, 0..1")->capture_default_str();
    app.add_flag("--refine", refine, "Also evaluate the classical refinement (from the network's kernel and from a delta)");
    app.add_flag("--tool", tool,
                 "Also evaluate the tool's kernel (estimate_kernel: size rule, network, refinement), size given and automatic; an unreliable estimate, which the tool returns unchanged, scores as the blurry input");
    app.add_flag("--per-example", per_example, "Also print each example's error ratio per method (which photos fail)");
    KernelRefinerOptions refinement;
    app.add_flag("!--refine-all-edges", refinement.select_edges,
                 "Refinement: update the kernel from all gradients, not the selected edges (the default)");
    app.add_option("--refine-edge-pixels", refinement.edge_pixels,
                   "Refinement: selected edge pixels per direction and kernel pixel")->capture_default_str();
    tools::add_support_solver_options(app, refinement);
    app.add_option("--refine-tail-noise", refinement.tail_noise,
                   "Refinement: the tail's cut in RMS of the update's negative values")->capture_default_str();
    app.add_option("--refine-polish-passes", refinement.polish_passes,
                   "Refinement: passes of the finest level on the chosen kernel")->capture_default_str();
    if (const auto status = tools::parse_command_line(app, argc, argv, "deblur-validate")) return *status;
    try {
        // Every option value, before any work: one line naming the option.
        tools::require_count("--scale", scale, 0, static_cast<long long>(DefaultNetwork::scale_count) - 1);
        const int k = DefaultNetwork::kernel_sizes[static_cast<std::size_t>(scale)];
        tools::require_count("--images", images, 0, 100000);
        // A kernel is estimated from the image around it: at least twice its size.
        if (crop != 0 && (crop < 2 * k || crop > 4096))
            throw tools::UsageError("--crop " + std::to_string(crop) + ": expected 0 (whole images) or a whole number from " +
                                    std::to_string(2 * k) + " to 4096");
        tools::require_in_range("--noise", noise, 0, 1);
        tools::require_positive("--refine-edge-pixels", refinement.edge_pixels, 1e6);
        tools::require_in_range("--refine-tail-noise", refinement.tail_noise, 0, 1e6);
        tools::require_count("--refine-polish-passes", refinement.polish_passes, 0, 100);
        tools::check_support_solver_options(refinement);
        if (!std::filesystem::is_regular_file(model))
            throw tools::UsageError("--model " + model.string() + ": no such file");
        if (!std::filesystem::is_directory(val_dir))
            throw tools::UsageError("--val-dir " + val_dir.string() + ": no such folder");

        DefaultNetwork net(0);
        load_model(net, model);
        train::ValidationSetOptions vopt;
        vopt.kernel_sizes = {k};
        vopt.crop = static_cast<int>(crop);
        vopt.max_images = static_cast<std::size_t>(images);
        vopt.noise_sigma = noise;
        const auto validation = [&] {
            try {
                return train::ValidationSet(val_dir, vopt);
            } catch (const std::invalid_argument& e) {  // no photos, none usable: name the folder
                throw std::invalid_argument("--val-dir " + val_dir.string() + ": " + e.what());
            }
        }();
        const auto examples = validation.examples(k);
        if (examples.empty()) throw std::runtime_error("no validation example from " + val_dir.string());

        // The baseline Gaussian's width: the one with the least mean kernel error here.
        double best_sigma = 1, best_err = 1e300;
        for (double s = 0.5; s <= k / 2.0; s += 0.25) {
            double e = 0;
            for (const auto& ex : examples) e += kernel_error(gaussian_kernel(k, s), ex.kernel);
            if (e < best_err) best_err = e, best_sigma = s;
        }
        Kernel delta = xt::zeros<float>({std::size_t(k), std::size_t(k)});
        delta(k / 2, k / 2) = 1;

        std::vector<Method> methods{{"network (" + model.filename().string() + ")"},
                                    {"network, values < 10 % of peak dropped"},
                                    {"network, values < 25 % of peak dropped"},
                                    {"delta kernel"},
                                    {"best Gaussian (sigma " + std::to_string(best_sigma).substr(0, 4) + ")"}};
        if (refine) {
            methods.push_back({"network + classical refinement (the tool's kernel)"});
            methods.push_back({"classical refinement from a delta"});
        }
        if (tool) {
            methods.push_back({"the tool, kernel size " + std::to_string(k) + " given"});
            methods.push_back({"the tool, automatic kernel size"});
        }
        BlindDeblurOptions tool_options;
        Deblurrer deblurrer(Model::from_file(model));
        tool_options.refinement = refinement;
        KernelRefiner<float> refiner(refinement);
        HyperLaplacianDeconvolver<float> solver(DeconvOptions::for_noise(noise));
        for (std::size_t i = 0; i < examples.size(); ++i) {
            const auto& ex = examples[i];
            const std::size_t h = ex.blurry.shape(0), w = ex.blurry.shape(1);
            const Kernel sharp = xt::view(ex.sharp, xt::range(k / 2, k / 2 + h), xt::range(k / 2, k / 2 + w));
            Tensor<float> input = make_tensor<float>(1, h, w);
            std::copy(ex.blurry.begin(), ex.blurry.end(), input.begin());
            net.forward(input, static_cast<std::size_t>(scale));
            const Kernel estimated = xt::view(net.kernel(), 0, xt::all(), xt::all());
            const double reference = aligned_ssd(Kernel(solver.deconvolve(ex.blurry, ex.kernel)), sharp);
            std::vector<Kernel> candidates{estimated, threshold_kernel(estimated, 0.1f), threshold_kernel(estimated, 0.25f),
                                           delta, gaussian_kernel(k, best_sigma)};
            if (refine) {
                candidates.push_back(refiner.refine(ex.blurry, estimated, k, noise));
                candidates.push_back(refiner.refine(ex.blurry, delta, k));
            }
            // The tool returns the input unchanged when its estimate is
            // unreliable: such an example is scored as the blurry input.
            std::vector<bool> unchanged(candidates.size(), false);
            if (tool)
                for (int size : {k, 0}) {
                    tool_options.kernel_size = size;
                    auto estimate = deblurrer.estimate_kernel(ex.blurry, noise, tool_options);
                    candidates.push_back(std::move(estimate.kernel));
                    unchanged.push_back(!estimate.reliable);
                }
            for (std::size_t m = 0; m < methods.size(); ++m) {
                methods[m].kernel_errors.push_back(kernel_error(candidates[m], ex.kernel));
                const Kernel result = unchanged[m] ? Kernel(ex.blurry) : Kernel(solver.deconvolve(ex.blurry, candidates[m]));
                methods[m].ratios.push_back(aligned_ssd(result, sharp) / reference);
                methods[m].unchanged.push_back(unchanged[m]);
            }
            std::cerr << "\r" << i + 1 << "/" << examples.size() << std::flush;
        }
        std::cerr << "\n";
        std::printf("validation: %zu examples, %d px kernels, noise %.3f, crop %lld\n\n", examples.size(), k, noise, crop);
        // The median next to the mean: over a few dozen examples one failure can move the mean.
        std::printf("| method | mean kernel L2 error | mean error ratio | median error ratio | ratio <= 2 | ratio <= 3 |\n"
                    "|---|---|---|---|---|---|\n");
        for (const auto& m : methods) {
            const auto mean = [](const std::vector<double>& v) { double s = 0; for (double x : v) s += x; return s / v.size(); };
            const auto median = [](std::vector<double> v) {
                std::sort(v.begin(), v.end());
                const std::size_t n = v.size();
                return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
            };
            const auto frac = [&](double t) {
                return 100.0 * std::count_if(m.ratios.begin(), m.ratios.end(), [t](double r) { return r <= t; }) / m.ratios.size();
            };
            const auto returned = std::count(m.unchanged.begin(), m.unchanged.end(), true);
            std::printf("| %s%s | %.5f | %.3f | %.3f | %.0f %% | %.0f %% |\n", m.name.c_str(),
                        returned ? (" (" + std::to_string(returned) + " returned unchanged: unreliable)").c_str() : "",
                        mean(m.kernel_errors), mean(m.ratios), median(m.ratios), frac(2), frac(3));
        }
        if (per_example) {
            std::printf("\nError ratio per example (methods in the order above):\n\n| example | photo |");
            for (std::size_t m = 0; m < methods.size(); ++m) std::printf(" %zu |", m + 1);
            std::printf("\n|---|---|");
            for (std::size_t m = 0; m < methods.size(); ++m) std::printf("---|");
            std::printf("\n");
            for (std::size_t i = 0; i < examples.size(); ++i) {
                std::printf("| %zu | %s |", i + 1, validation.sources()[i].filename().string().c_str());
                for (const auto& m : methods) std::printf(" %.2f%s |", m.ratios[i], m.unchanged[i] ? " (unchanged)" : "");
                std::printf("\n");
            }
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "deblur-validate: " << e.what() << "\n";
        return 1;
    }
}
