#pragma once
// Blind deblurring of spatially-varying camera shake (the paper's Section 5.3,
// issue 7):
//
//   auto result = deblur::nonuniform_deblur(image, options);  // C x H x W in [0, 1]; the default model
//   auto result = deblur::nonuniform_deblur(image, options, deblur::Model::from_file("my.dbm"));
//   result.sharp, result.kernels (patches x S x S), result.grid_rows, result.grid_cols
//
// Steps, on the luminance:
//   1. the uniform pipeline's kernel (estimate_kernel on the estimation window:
//      network + classical refinement, without its tail pruning unless
//      uniform_tail_pruning) fixes the blur size; the local kernels
//      get a support S = odd(1.25 x its size), at least the network's kernel
//      (rotation makes the kernels at the corners longer than the average);
//   2. the field's start: by default step 1's kernel in every patch
//      (field_from_uniform); otherwise the spatially-varying network's field
//      (EFFKernelEstimator: one kernel per patch of an R x C EFF grid, one
//      forward pass), optionally (refine_patches) with each local kernel
//      refined by KernelRefiner on its own patch and replaced by step 1's
//      kernel where it is unlike it (min_similarity);
//   3. (refine_field, noise <= base.refine_max_noise as in the uniform
//      pipeline) the field is refined in the camera-motion basis
//      (KernelFieldRefiner: EFF latent image / least-squares field /
//      projection onto translations and in-plane rotation with T_eta,
//      Eq. 9); without it, (project) the start is only projected;
//   4. every channel is deconvolved with the field by EFFDeconvolver (the
//      hyper-Laplacian prior for the noise level, EFF operator by CG).
// Why these defaults: on bench/nonuniform the network's field (the paper's
// Eq. 7-9) and per-patch refinement both give worse images than starting the
// field refinement from the uniform kernel, also with models/nonuniform.dbm
// (BENCHMARKS.md, "Experiments that decided a default").
// The EFF grid of the field is over the latent image of the 'valid' model
// ((H + S - 1) x (W + S - 1), EFFDeconvolver::latent_grid); the network and
// the per-patch refinement use the same counts on the blurry image, whose
// cells differ by S/2 px at most.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "../blur/camera_motion_basis.hpp"
#include "../blur/camera_pose_grid.hpp"
#include "../blur/center_kernel.hpp"
#include "../blur/eff_grid.hpp"
#include "../core/cancelled.hpp"
#include "../core/tensor.hpp"
#include "../deconv/eff_deconvolver.hpp"
#include "../eval/kernel_similarity.hpp"
#include "../net/model.hpp"
#include "../net/model_file.hpp"
#include "eff_kernel_estimator.hpp"
#include "estimation_window.hpp"
#include "kernel_estimate.hpp"
#include "kernel_field_refiner.hpp"
#include "kernel_refiner.hpp"
#include "noise_level.hpp"
#include "nonuniform_deblur_options.hpp"
#include "workspace.hpp"

namespace deblur {

struct NonuniformDeblurResult {
    Tensor<float> sharp;                 // C x H x W, same range as the input
    Tensor<float> kernels;               // grid_rows * grid_cols x S x S, patch i * grid_cols + j
    std::size_t grid_rows = 0, grid_cols = 0;
    xt::xtensor<float, 2> uniform_kernel;  // step 1's kernel
    double noise = 0;
    std::size_t empty_patches = 0;       // kernels the projection left empty (set to the delta)
    std::string warning;                 // as BlindDeblurResult::warning
};

// The support S of the local kernels for a uniform kernel of this size (step 1).
inline int field_support(const xt::xtensor<float, 2>& uniform_kernel, int network_kernel) {
    const auto n = static_cast<double>(std::max(uniform_kernel.shape(0), uniform_kernel.shape(1)));
    const int s = static_cast<int>(std::ceil(1.25 * n)) | 1;
    return std::max(s, network_kernel | 1);
}

namespace detail {

inline void check_field_grid(std::size_t h, std::size_t w, std::size_t rows, std::size_t cols, int support) {
    if (rows == 0 || cols == 0) throw std::invalid_argument("deblur::nonuniform_deblur: the grid needs at least one patch per axis");
    // The refinement and the network need a patch of at least twice the kernel (and 64 px).
    const EFFGrid grid(std::max(h, rows), std::max(w, cols), rows, cols);
    std::size_t smallest_r = h, smallest_c = w;
    for (std::size_t i = 0; i < rows; ++i) smallest_r = std::min(smallest_r, grid.row_end(i) - grid.row_begin(i));
    for (std::size_t j = 0; j < cols; ++j) smallest_c = std::min(smallest_c, grid.col_end(j) - grid.col_begin(j));
    const std::size_t need = std::max<std::size_t>(64, 2 * std::size_t(support));
    if (h < rows || w < cols || smallest_r < need || smallest_c < need)
        throw std::invalid_argument("a " + std::to_string(rows) + "x" + std::to_string(cols) + " grid on a " +
                                    std::to_string(w) + " x " + std::to_string(h) + " image gives patches of " +
                                    std::to_string(smallest_c) + " x " + std::to_string(smallest_r) +
                                    " px, smaller than the " + std::to_string(need) + " px needed for " +
                                    std::to_string(support) + " px kernels; use a coarser grid");
}

// `k` centred on an s x s support (s odd, at least k's size), centre of mass on the origin.
inline xt::xtensor<float, 2> pad_kernel(const xt::xtensor<float, 2>& k, std::size_t s) {
    xt::xtensor<float, 2> out = xt::zeros<float>({s, s});
    const std::size_t r0 = (s - std::min(s, k.shape(0))) / 2, c0 = (s - std::min(s, k.shape(1))) / 2;
    for (std::size_t r = 0; r < std::min(s, k.shape(0)); ++r)
        for (std::size_t c = 0; c < std::min(s, k.shape(1)); ++c) out(r0 + r, c0 + c) = k(r, c);
    return center_kernel(xt::xtensor<float, 2>(out / xt::sum(out)()));
}

// The camera-motion basis for the field of `support` px kernels on a latent grid.
inline CameraMotionBasis<float> motion_basis(const EFFGrid& grid, int support) {
    const auto s = static_cast<std::size_t>(support);
    return CameraMotionBasis<float>(grid, CameraPoseGrid::for_kernel(grid, s, s), s, s);
}

}  // namespace detail

// Steps 2-3 on a gray image (intensities in [0, 1]) with a known noise level
// and support: the kernel field (patches x S x S) on the latent grid of
// EFFDeconvolver::latent_grid(H, W, S, S, rows, cols). `empty_patches` (if
// given) receives the number of kernels the projection left empty.
inline Tensor<float> estimate_kernel_field(const xt::xtensor<float, 2>& gray, double noise,
                                           const xt::xtensor<float, 2>& uniform_kernel,
                                           const NonuniformDeblurOptions& options, std::size_t* empty_patches = nullptr,
                                           const Model& model = Model::default_model()) {
    const int support = field_support(uniform_kernel, 17);
    const auto say = [&](const std::string& s) { if (options.base.progress) options.base.progress(s); };
    const std::size_t h = gray.shape(0), w = gray.shape(1), rows = options.grid_rows, cols = options.grid_cols;
    detail::check_field_grid(h, w, rows, cols, support);
    if (!(options.eta > 0 && options.eta <= 1)) throw std::invalid_argument("deblur::nonuniform_deblur: eta must lie in (0, 1]");
    const std::size_t s = std::size_t(support), kk = s * s;
    const bool refine_field = options.refine_field && noise <= options.base.refine_max_noise;
    Tensor<float> field;
    if (refine_field && options.field_from_uniform && !options.refine_patches) {
        field = make_tensor<float>(rows * cols, s, s);  // the network's field would be replaced unused
    } else {
        const ModelBytes network =
            options.field_model.empty() ? model.field_network_for_noise(noise) : read_model_bytes(options.field_model);
        EFFKernelEstimator<> estimator(network);
        say("field model " + network.name + (estimator.from_uniform_model() ? " (a uniform model's parameters)" : ""));
        field = estimator.estimate(gray, rows, cols, support, options.max_network_side, options.base.progress);
    }

    if (options.refine_patches && noise <= options.base.refine_max_noise) {
        say("refining the " + std::to_string(rows * cols) + " local kernels on their patches");
        const EFFGrid grid(h, w, rows, cols);
        KernelRefiner<float> refiner(options.patch_refinement);
        for (std::size_t p = 0; p < rows * cols; ++p) {
            const std::size_t i = grid.grid_row(p), j = grid.grid_col(p);
            const xt::xtensor<float, 2> crop = xt::view(gray, xt::range(grid.row_begin(i), grid.row_end(i)),
                                                        xt::range(grid.col_begin(j), grid.col_end(j)));
            const xt::xtensor<float, 2> start =
                options.start_from_uniform ? uniform_kernel : xt::xtensor<float, 2>(xt::view(field, p, xt::all(), xt::all()));
            xt::xtensor<float, 2> k = refiner.refine(crop, start, support);
            k = xt::maximum(k, 0.0f);
            if (xt::sum(k)() > 0) xt::view(field, p, xt::all(), xt::all()) = center_kernel(xt::xtensor<float, 2>(k / xt::sum(k)()));
        }
    }
    if (options.min_similarity > 0 && !(refine_field && options.field_from_uniform)) {
        // Local kernels unlike the uniform one are failures of a patch (too
        // little texture), not the camera's motion: the uniform kernel stands in.
        const xt::xtensor<float, 2> fallback = detail::pad_kernel(uniform_kernel, s);
        std::size_t replaced = 0;
        for (std::size_t p = 0; p < rows * cols; ++p) {
            const xt::xtensor<float, 2> k = xt::view(field, p, xt::all(), xt::all());
            if (kernel_similarity(k, uniform_kernel) < options.min_similarity) {
                xt::view(field, p, xt::all(), xt::all()) = fallback;
                ++replaced;
            }
        }
        if (replaced) say(std::to_string(replaced) + " local kernel(s) unlike the uniform kernel: replaced by it");
    }
    if (refine_field) {
        const EFFGrid latent = EFFDeconvolver<float>::latent_grid(h, w, s, s, rows, cols);
        const auto basis = detail::motion_basis(latent, support);
        if (options.field_from_uniform) {
            const xt::xtensor<float, 2> start = detail::pad_kernel(uniform_kernel, s);
            for (std::size_t p = 0; p < rows * cols; ++p) xt::view(field, p, xt::all(), xt::all()) = start;
        }
        say("refining the field in the camera-motion basis (" + std::to_string(basis.size()) + " poses)");
        KernelFieldRefinerOptions refinement = options.field_refinement;
        refinement.eta = options.eta;
        field = KernelFieldRefiner<float>(refinement).refine(gray, field, basis, noise, options.base.progress);
        // A refined field unlike the uniform kernel it came from means the
        // refinement lost its way (on bench/nonuniform: it happens where the uniform
        // kernel is already poor, and the result is then far worse than with
        // the uniform kernel): keep the uniform kernel then.
        double similarity = 0;
        for (std::size_t p = 0; p < rows * cols; ++p)
            similarity += kernel_similarity(xt::xtensor<float, 2>(xt::view(field, p, xt::all(), xt::all())), uniform_kernel);
        similarity /= double(rows * cols);
        say("refined field: mean similarity to the uniform kernel " + std::to_string(similarity));
        if (similarity < options.min_field_similarity) {
            say("below " + std::to_string(options.min_field_similarity) + ": the uniform kernel is used everywhere");
            const xt::xtensor<float, 2> fallback = detail::pad_kernel(uniform_kernel, s);
            for (std::size_t p = 0; p < rows * cols; ++p) xt::view(field, p, xt::all(), xt::all()) = fallback;
        }
    } else if (options.project) {
        const EFFGrid latent = EFFDeconvolver<float>::latent_grid(h, w, s, s, rows, cols);
        const auto basis = detail::motion_basis(latent, support);
        say("projecting onto the camera-motion basis (" + std::to_string(basis.size()) + " poses, eta " +
            std::to_string(options.eta) + ")");
        auto projection = basis.project(field, options.eta, options.projection_iterations);
        field = std::move(projection.kernels);
        if (empty_patches) *empty_patches = projection.empty_patches;
    }
    for (std::size_t p = 0; p < rows * cols; ++p) {
        float* k = field.data() + p * kk;
        float sum = 0;
        for (std::size_t i = 0; i < kk; ++i) sum += k[i];
        for (std::size_t i = 0; i < kk; ++i) k[i] /= sum;
    }
    return field;
}

inline NonuniformDeblurResult nonuniform_deblur(const Tensor<float>& image, const NonuniformDeblurOptions& nonuniform_options = {},
                                               const Model& model = Model::default_model()) {
    detail::check_image(image, "deblur::nonuniform_deblur");
    if (nonuniform_options.base.cancel && nonuniform_options.base.cancel->load()) throw Cancelled();
    NonuniformDeblurOptions options = nonuniform_options;
    options.base.progress = detail::checking_cancel(options.base.progress, options.base.cancel);
    const BlindDeblurOptions& base = options.base;
    if (!(base.gamma > 0)) throw std::invalid_argument("deblur::nonuniform_deblur: gamma must be positive");
    const auto say = [&](const std::string& s) { if (base.progress) base.progress(s); };
    const std::size_t h = image.shape(1), w = image.shape(2);
    // A grid that cannot work fails before any estimation (at the smallest support, 17 px).
    detail::check_field_grid(h, w, options.grid_rows, options.grid_cols, 17);

    Tensor<float> linear = base.gamma == 1 ? image : Tensor<float>(xt::pow(xt::maximum(image, 0.0f), float(base.gamma)));
    const auto gray = detail::luminance(linear);
    NonuniformDeblurResult result;
    result.grid_rows = options.grid_rows;
    result.grid_cols = options.grid_cols;
    result.noise = base.noise >= 0 ? base.noise : estimate_noise_level(gray);
    if (base.noise < 0) say("estimated noise level " + std::to_string(result.noise));

    const auto window = choose_estimation_window(gray, base.estimation_size);
    const xt::xtensor<float, 2> crop = xt::view(gray, xt::range(window.row, window.row + window.rows),
                                                xt::range(window.col, window.col + window.cols));
    BlindDeblurOptions uniform = base;
    if (!options.uniform_tail_pruning) uniform.refinement.tail_prune = 0;
    detail::Workspace<> workspace;
    auto estimate = detail::estimate_kernel(crop, result.noise, uniform, model, workspace, nullptr);
    result.uniform_kernel = std::move(estimate.kernel);
    if (!estimate.reliable) {  // a texture-free crop or a failed estimate: the photo as it was, delta kernels
        result.warning = estimate.note + "; the image is returned unchanged";
        result.kernels = make_tensor<float>(options.grid_rows * options.grid_cols, 1, 1, 1.0f);
        result.sharp = image;
        return result;
    }
    const int support = field_support(result.uniform_kernel, 17);
    say("uniform kernel " + std::to_string(result.uniform_kernel.shape(0)) + " px: local kernels of " +
        std::to_string(support) + " px");
    result.kernels = estimate_kernel_field(gray, result.noise, result.uniform_kernel, options, &result.empty_patches, model);

    say("deconvolving " + std::to_string(image.shape(0)) + " channel(s) with the kernel field");
    result.sharp = EFFDeconvolver<float>(DeconvOptions::for_noise(result.noise), options.cg_iterations)
                       .deconvolve(linear, result.kernels, options.grid_rows, options.grid_cols);
    if (base.gamma != 1) result.sharp = xt::pow(xt::clip(result.sharp, 0.0f, 1.0f), float(1 / base.gamma));
    return result;
}

}  // namespace deblur
