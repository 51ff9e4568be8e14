#pragma once
// Refinement of a spatially-varying kernel field in the camera-motion basis:
// the EFF counterpart of KernelRefiner (kernel_refiner.hpp), alternating
//
//   latent  x = the hyper-Laplacian EFF deconvolution of y with the field
//               (EFFDeconvolver, prior weight lambda_scale times the weight
//               for the noise level: a sharper, cartoon-like latent image,
//               whose edges make the kernel update well posed);
//   field   k = argmin_k 1/2 sum_{d = x, y} || A(k) D_d x - D_d y ||^2 + gamma/2 || k ||^2
//               by conjugate gradients over the whole field (warm-started),
//               negatives clipped, then projected onto the camera-motion
//               basis with T_eta (CameraMotionBasis::project, Eq. 9),
//
// A(k) the EFF blur of the latent image's gradients (blur/eff.hpp, 'valid';
// A is linear in the field k, its transpose is EFFBlur::kernel_gradient),
// D_d forward differences (the last column / row of D y, which needs pixels
// beyond y, left out). This is KernelRefiner's least-squares kernel update
// for all patches at once, under the EFF model (the patches' windows
// overlap, so their kernels are solved together), and the projection makes
// the field one that a camera motion of translations and in-plane rotation
// produces: every patch's data then constrains the same motion, and a patch
// with little texture gets its kernel from its neighbours (refining each
// local kernel alone on its patch fails on such patches; BENCHMARKS.md,
// "Spatially-varying blur").
// (Fitting the pose weights directly by projected gradient converged far
// more slowly: thousands of nearly identical poses make that problem
// ill-conditioned, while the kernel step is well posed and CG solves it.)
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "../blur/blur_mode.hpp"
#include "../blur/camera_motion_basis.hpp"
#include "../blur/eff.hpp"
#include "../core/tensor.hpp"
#include "../deconv/deconv_options.hpp"
#include "../deconv/eff_deconvolver.hpp"

namespace deblur {

struct KernelFieldRefinerOptions {
    int iterations = 3;          // latent / field alternations
    int fit_iterations = 25;     // conjugate-gradient steps of each kernel update
    std::size_t projection_iterations = 200;  // FISTA steps of the basis fit (CameraMotionBasis::project)
    double lambda_scale = 3;     // the latent's prior weight, times DeconvOptions::lambda_for_noise
    double kernel_weight = 50;   // gamma per 255^2 pixels of the image (as KernelRefiner's, scaled with the area)
    double eta = 0.03;           // T_eta: fraction of the pose weights kept

    void validate() const {
        if (iterations < 1 || fit_iterations < 1)
            throw std::invalid_argument("deblur::KernelFieldRefinerOptions: iteration counts must be at least 1");
        if (!(lambda_scale > 0) || !(kernel_weight >= 0) || !std::isfinite(lambda_scale) || !std::isfinite(kernel_weight))
            throw std::invalid_argument("deblur::KernelFieldRefinerOptions: lambda_scale must be positive, kernel_weight >= 0");
        if (!(eta > 0 && eta <= 1)) throw std::invalid_argument("deblur::KernelFieldRefinerOptions: eta must lie in (0, 1]");
    }
};

template <class T = float>
class KernelFieldRefiner {
public:
    using Image = xt::xtensor<T, 2>;

    explicit KernelFieldRefiner(KernelFieldRefinerOptions options = {}) : options_(options) { options_.validate(); }

    // The refined field (patches x S x S) for a blurry H x W image; `basis` is
    // built on EFFDeconvolver::latent_grid(H, W, S, S, grid_rows, grid_cols).
    Tensor<T> refine(const Image& blurry, const Tensor<T>& field, const CameraMotionBasis<T>& basis, double noise,
                     const std::function<void(const std::string&)>& progress = {}) const {
        const std::size_t h = blurry.shape(0), w = blurry.shape(1), s = field.shape(1);
        const EFFGrid& grid = basis.grid();
        if (field.shape(0) != basis.patches() || s != basis.kernel_rows() || field.shape(2) != basis.kernel_cols() ||
            grid.rows() != h + s - 1 || grid.cols() != w + s - 1)
            throw std::invalid_argument("deblur::KernelFieldRefiner: the basis does not match the image and the field");
        DeconvOptions latent_options = DeconvOptions::for_noise(noise);
        latent_options.lambda *= options_.lambda_scale;
        EFFDeconvolver<T> deconvolver(latent_options);
        EFFBlur<T> model(grid, s, s, BlurMode::valid);
        const T gamma = static_cast<T>(options_.kernel_weight * double(h) * double(w) / (255.0 * 255.0));
        const Image dy_x = diff(blurry, true), dy_y = diff(blurry, false);
        Tensor<T> current = field;
        for (int outer = 0; outer < options_.iterations; ++outer) {
            deconvolver.deconvolve(blurry, current, grid.grid_rows(), grid.grid_cols());
            const Image latent = deconvolver.latent();
            const Image gx = diff(latent, true), gy = diff(latent, false);
            // Normal operator of the kernel step, N k = sum_d G_d^T M G_d k + gamma k with
            // G_d: k -> A(k) D_d x and M the mask of observed differences; with `data`
            // it returns the gradient N k - sum_d G_d^T M D_d y instead.
            Tensor<T> part;
            Image ax, ay;
            const auto normal = [&](const Tensor<T>& k, Tensor<T>& out, bool data) {
                model.set_kernels(k);
                model.apply(gx, ax);
                model.apply(gy, ay);
                if (data) {
                    ax -= dy_x;
                    ay -= dy_y;
                }
                // The last column's horizontal (last row's vertical) difference of y is not observed.
                for (std::size_t r = 0; r < h; ++r) ax(r, w - 1) = T(0);
                for (std::size_t c = 0; c < w; ++c) ay(h - 1, c) = T(0);
                model.kernel_gradient(gx, ax, out);
                model.kernel_gradient(gy, ay, part);
                out += part;
                out += gamma * k;
            };
            // Conjugate gradients on N k = b, warm-started from the current field.
            Tensor<T> k = current, r, p, ap;
            normal(k, r, true);
            r *= T(-1);  // r = b - N k
            p = r;
            double rr = dot(r, r);
            for (int it = 0; it < options_.fit_iterations && rr > 0; ++it) {
                normal(p, ap, false);
                const double pap = dot(p, ap);
                if (!(pap > 0)) break;
                const T step = static_cast<T>(rr / pap);
                k += step * p;
                r -= step * ap;
                const double rr_next = dot(r, r);
                p = r + static_cast<T>(rr_next / rr) * p;
                rr = rr_next;
            }
            k = xt::maximum(k, T(0));
            // Only fields a camera motion makes, sparsely (Eq. 9).
            current = basis.project(k, options_.eta, options_.projection_iterations).kernels;
            if (progress)
                progress("field refinement " + std::to_string(outer + 1) + " of " + std::to_string(options_.iterations));
        }
        return current;
    }

private:
    static double dot(const Tensor<T>& a, const Tensor<T>& b) {
        double sum = 0;
        for (std::size_t i = 0; i < a.size(); ++i) sum += double(a.data()[i]) * double(b.data()[i]);
        return sum;
    }

    // Forward differences along columns (horizontal) or rows, zero in the last column / row.
    static Image diff(const Image& a, bool horizontal) {
        Image out = xt::zeros<T>(a.shape());
        const std::size_t h = a.shape(0), w = a.shape(1);
        for (std::size_t r = 0; r < h; ++r)
            for (std::size_t c = 0; c < w; ++c) {
                if (horizontal && c + 1 < w) out(r, c) = a(r, c + 1) - a(r, c);
                if (!horizontal && r + 1 < h) out(r, c) = a(r + 1, c) - a(r, c);
            }
        return out;
    }

    KernelFieldRefinerOptions options_;
};

}  // namespace deblur
