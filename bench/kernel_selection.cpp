// kernel_selection: can a no-reference criterion pick, per image, the best of
// several kernel estimates? Measured on Levin et al. 2009 (levin_data.hpp).
//
//   ./build/bench/kernel_selection            # ~2 min on the 2-core machine
//
// Candidates per image: the tool's kernel (network + refinement, default
// settings) and the same with one refinement setting changed, plus the
// refinement from a delta; each is scored by the error ratio of bench/levin
// (hyper-Laplacian deconvolution, for_noise(0.01), aligned SSD) and by three
// criteria computed from the blurry image alone, on the deconvolution x of the
// image with that kernel (inside a 15 px border):
//
//   energy: the deconvolution's own objective, 1/2 ||k * x - y||^2 + lambda sum |grad x|^alpha
//   data:   its data term alone, 1/2 ||k * x - y||^2
//   sparsity: ||grad x||_1 / ||grad x||_2 (Krishnan, Tay & Fergus 2011; lower = sharper)
//
// The tables: each candidate's mean error ratio, the per-image oracle (the
// best candidate by the true error ratio), the choice of each criterion, and
// how each criterion ranks the true kernel and a delta kernel (no deblurring).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <deblur/blur/blur.hpp>
#include <deblur/deconv/hyper_laplacian.hpp>
#include <deblur/eval/aligned_ssd.hpp>
#include <deblur/pipeline/blind_deblur.hpp>

#include "levin_data.hpp"

namespace {

using Kernel = xt::xtensor<float, 2>;
using Image = xt::xtensor<float, 2>;

struct Variant {
    std::string name;
    std::function<void(deblur::BlindDeblurOptions&)> change;  // empty: the refinement from a delta
};

struct Score {
    double ratio = 0, energy = 0, data = 0, sparsity = 0;
};

constexpr int border = 15;

// The criteria of `k` for the blurry image y, from its deconvolution x.
Score criteria(const Image& y, const Image& x, const Kernel& k, const deblur::DeconvOptions& o) {
    const Image reblurred = deblur::blur(x, k, deblur::BlurMode::same);
    const std::size_t h = y.shape(0), w = y.shape(1), m = k.shape(0);
    Score s;
    double l1 = 0, l2 = 0, prior = 0;
    for (std::size_t r = border; r + border < h; ++r)
        for (std::size_t c = border; c + border < w; ++c) {
            const double dx = double(x(r, c + 1)) - x(r, c), dy = double(x(r + 1, c)) - x(r, c);
            l1 += std::abs(dx) + std::abs(dy);
            l2 += dx * dx + dy * dy;
            prior += std::pow(std::abs(dx), o.alpha) + std::pow(std::abs(dy), o.alpha);
            if (r >= m && c >= m && r + m < h && c + m < w) {  // 'same' is wrong within a kernel of the edge
                const double e = double(reblurred(r, c)) - y(r, c);
                s.data += 0.5 * e * e;
            }
        }
    s.energy = s.data + o.lambda * prior;
    s.sparsity = l1 / std::sqrt(l2);
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace deblur;
    CLI::App app{"Levin et al. 2009: choosing among kernel estimates by no-reference criteria"};
    std::filesystem::path data = "../shared/data/levin";
    app.add_option("--data", data, "Folder of the Levin benchmark")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    try {
        const std::vector<Variant> variants{
            {"tool (default)", [](BlindDeblurOptions&) {}},
            {"lambda 1e-3", [](BlindDeblurOptions& o) { o.refinement.lambda = 1e-3; }},
            {"lambda 4e-3", [](BlindDeblurOptions& o) { o.refinement.lambda = 4e-3; }},
            {"gamma 20", [](BlindDeblurOptions& o) { o.refinement.kernel_weight = 20; }},
            {"gamma 100", [](BlindDeblurOptions& o) { o.refinement.kernel_weight = 100; }},
            {"prune 0.03", [](BlindDeblurOptions& o) { o.refinement.prune = 0.03; }},
            {"prune 0.08", [](BlindDeblurOptions& o) { o.refinement.prune = 0.08; }},
            {"support 2.5x", [](BlindDeblurOptions& o) { o.refine_growth = 2.5; }},
            {"from a delta (31 px)", {}}};
        const DeconvOptions deconv = DeconvOptions::for_noise(0.01);
        HyperLaplacianDeconvolver<float> solver(deconv);
        KernelRefiner<float> refiner;
        const std::size_t nv = variants.size();
        // scores[image][candidate]: the variants, then the true kernel, then a delta.
        std::vector<std::vector<Score>> scores;
        for (int j = 1; j <= 8; ++j) {
            const Kernel truth = levin::read_kernel(data / ("ker" + std::to_string(j) + ".txt"));
            for (int i = 1; i <= 4; ++i) {
                const Image y = levin::read_gray(data / (levin::stem(i, j) + "_blurry.pfm"));
                const Image sharp = levin::read_gray(data / (levin::stem(i, j) + "_sharp.pfm"));
                const double reference = aligned_ssd(Image(solver.deconvolve(y, truth)), sharp, 5, border, 0.25);
                const double noise = estimate_noise_level(y);
                std::vector<Kernel> kernels;
                for (const auto& v : variants) {
                    if (!v.change) {
                        kernels.push_back(crop_kernel_to_support(refiner.refine(y, {}, 31), 0.0, 1));
                        continue;
                    }
                    BlindDeblurOptions o;
                    v.change(o);
                    kernels.push_back(estimate_kernel(y, noise, o));
                }
                kernels.push_back(truth);
                kernels.push_back(xt::ones<float>({std::size_t(1), std::size_t(1)}));
                std::vector<Score> row;
                for (const auto& k : kernels) {
                    const Image x = solver.deconvolve(y, k);
                    Score s = criteria(y, x, k, deconv);
                    s.ratio = aligned_ssd(x, sharp, 5, border, 0.25) / reference;
                    row.push_back(s);
                }
                scores.push_back(row);
                std::cerr << "\r" << levin::stem(i, j) << "   " << std::flush;
            }
        }
        std::cerr << "\n";

        const auto print = [&](const std::string& name, const std::function<std::size_t(const std::vector<Score>&)>& pick) {
            double sum = 0, worst = 0;
            int le2 = 0, le3 = 0;
            for (const auto& row : scores) {
                const double r = row[pick(row)].ratio;
                sum += r;
                worst = std::max(worst, r);
                le2 += r <= 2;
                le3 += r <= 3;
            }
            const double n = double(scores.size());
            std::printf("| %s | %.3f | %.2f | %.0f %% | %.0f %% |\n", name.c_str(), sum / n, worst, 100 * le2 / n, 100 * le3 / n);
        };
        using Member = double Score::*;
        const std::vector<std::pair<std::string, Member>> named{
            {"energy", &Score::energy}, {"data", &Score::data}, {"sparsity", &Score::sparsity}};
        const auto argmin = [nv](const std::vector<Score>& row, Member m) {
            std::size_t best = 0;
            for (std::size_t c = 1; c < nv; ++c)
                if (row[c].*m < row[best].*m) best = c;
            return best;
        };

        std::printf("Levin et al. 2009, 32 images: candidate kernels and no-reference selection\n\n");
        std::printf("| candidate / selection | mean error ratio | max ratio | ratio <= 2 | ratio <= 3 |\n|---|---|---|---|---|\n");
        for (std::size_t c = 0; c < nv; ++c) print(variants[c].name, [c](const std::vector<Score>&) { return c; });
        print("oracle (best candidate per image)", [&](const std::vector<Score>& row) { return argmin(row, &Score::ratio); });
        for (const auto& [name, m] : named)
            print("chosen by " + name, [&, m = m](const std::vector<Score>& row) { return argmin(row, m); });

        std::printf("\n| criterion | true kernel ranked above every candidate | delta kernel ranked above the true kernel |\n"
                    "|---|---|---|\n");
        for (const auto& [name, m] : named) {
            int true_first = 0, delta_wins = 0;
            for (const auto& row : scores) {
                const double t = row[nv].*m;
                true_first += std::all_of(row.begin(), row.begin() + nv, [&, m = m](const Score& s) { return t < s.*m; });
                delta_wins += row[nv + 1].*m < t;
            }
            std::printf("| %s | %d of %zu | %d of %zu |\n", name.c_str(), true_first, scores.size(), delta_wins, scores.size());
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "kernel_selection: " << e.what() << "\n";
        return 1;
    }
}
