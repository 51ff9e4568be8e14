#pragma once
// Non-blind deconvolution with a hyper-Laplacian gradient prior (Krishnan &
// Fergus, NIPS 2009): the final sharp image from a blurry image and a kernel,
//
//     min_x 1/2 || M (k * x - y) ||^2 + lambda sum |Dx x|^alpha + |Dy x|^alpha
//
// (convolution as in blur.hpp; intensities in [0, 1], which the prior's scale
// assumes). Half-quadratic splitting introduces w ~ D x with a penalty
// lambda beta/2 || D x - w ||^2 whose beta grows from beta_start by beta_rate
// per outer iteration; each iteration solves
//   - the w-subproblem per pixel (HyperLaplacianShrinkage, tabulated per beta
//     in a ShrinkageTable for alpha < 1), and
//   - the x-subproblem, the quadratic
//       (mu K'MK + D'D) x = mu K'M y + D'w,   mu = 1 / (lambda beta).
//
// Boundaries: x lives on a periodic canvas larger than the image by the kernel
// size on every side (an FFT-friendly size). M selects the observed pixels,
// the image itself: the band around it is unknown, so x may extend past the
// image borders as the true scene does, and nothing wraps around. This is
// what keeps the result from ringing at the borders of a photo.
//   - estimate_boundary (default): the masked x-subproblem is solved by
//     conjugate gradients preconditioned with its circulant part
//     (mu K'K + D'D, inverted exactly by FFT), warm-started from the previous
//     x; each CG step costs two FFTs (boundary_iterations steps per x-update).
//   - otherwise M = I on a canvas whose band is a smooth periodic fill of the
//     image (periodic_extension.hpp), and the x-subproblem is solved exactly in
//     the Fourier domain as in Krishnan & Fergus: about half the FFTs, but
//     the fill is not data, and the borders come out worse (DeconvOptions).
// The result is cropped back to the blurry image's size.
#include <cmath>
#include <complex>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <xtensor/xtensor.hpp>

#include "../blur/real_fft_size.hpp"
#include "../core/tensor.hpp"
#include "../fft/fftw.hpp"
#include "deconv_options.hpp"
#include "fourier_terms.hpp"
#include "periodic_extension.hpp"
#include "shrinkage.hpp"
#include "shrinkage_table.hpp"

namespace deblur {

// Keeps its canvas size, spectra and buffers between calls: repeated calls on
// images and kernels of one size allocate nothing and reuse the FFT plans.
template <class T, class Fft = fft::Fftw>
class HyperLaplacianDeconvolver {
public:
    using scalar = T;

    explicit HyperLaplacianDeconvolver(DeconvOptions options = {}) { set_options(options); }

    const DeconvOptions& options() const { return options_; }
    void set_options(const DeconvOptions& options) {
        options.validate();
        options_ = options;
    }

    // The deblurred H x W image for an H x W blurry image.
    xt::xtensor<T, 2> deconvolve(const xt::xtensor<T, 2>& blurry, const xt::xtensor<T, 2>& kernel) {
        xt::xtensor<T, 2> out = xt::xtensor<T, 2>::from_shape(blurry.shape());
        prepare(blurry.shape(0), blurry.shape(1), kernel);
        solve(blurry.data(), out.data());
        return out;
    }

    // Every channel of a C x H x W image, with the same kernel.
    Tensor<T> deconvolve(const Tensor<T>& blurry, const xt::xtensor<T, 2>& kernel) {
        Tensor<T> out = Tensor<T>::from_shape(blurry.shape());
        const std::size_t h = blurry.shape(1), w = blurry.shape(2);
        prepare(h, w, kernel);
        for (std::size_t c = 0; c < blurry.shape(0); ++c) solve(blurry.data() + c * h * w, out.data() + c * h * w);
        return out;
    }

    // Canvas (padded transform) size of the last call.
    std::size_t canvas_rows() const { return ph_; }
    std::size_t canvas_cols() const { return pw_; }

private:
    using rvec = typename Fft::template vector<T>;
    using cvec = typename Fft::template vector<std::complex<T>>;

    void prepare(std::size_t h, std::size_t w, const xt::xtensor<T, 2>& kernel) {
        const std::size_t kh = kernel.shape(0), kw = kernel.shape(1);
        if (h == 0 || w == 0) throw std::invalid_argument("deblur::HyperLaplacianDeconvolver: empty image");
        if (kh == 0 || kw == 0) throw std::invalid_argument("deblur::HyperLaplacianDeconvolver: empty kernel");
        double sum = 0;
        for (T v : kernel) {
            if (!std::isfinite(static_cast<double>(v)))
                throw std::invalid_argument("deblur::HyperLaplacianDeconvolver: the kernel contains NaN or infinity");
            sum += v;
        }
        if (!(sum > 0)) throw std::invalid_argument("deblur::HyperLaplacianDeconvolver: the kernel must have a positive sum");
        const std::size_t ph = real_fft_size(h + 2 * kh), pw = real_fft_size(w + 2 * kw);
        h_ = h;
        w_ = w;
        if (ph != ph_ || pw != pw_) {
            ph_ = ph;
            pw_ = pw;
            const std::size_t n = ph * pw, nc = ph * (pw / 2 + 1);
            for (rvec* v : {&canvas_, &x_, &wx_, &wy_, &work_}) v->assign(n, T(0));
            for (cvec* v : {&kernel_f_, &data_f_, &x_f_, &kmk_x_f_, &rhs_f_, &r_f_, &z_f_, &p_f_, &ap_f_, &kmk_p_f_})
                v->assign(nc, {});
            kernel_power_.assign(nc, T(0));
            gradient_power_.assign(nc, T(0));
            inv_den_.assign(nc, T(0));
            gradient_power_spectrum(ph, pw, gradient_power_.data());
            // Parseval weights of the half spectrum: columns 0 (and pw/2 for even pw)
            // appear once in the full spectrum, the others twice.
            weight_.assign(nc, T(2));
            const std::size_t wc = pw / 2 + 1;
            for (std::size_t u = 0; u < ph; ++u) {
                weight_[u * wc] = T(1);
                if (pw % 2 == 0) weight_[u * wc + wc - 1] = T(1);
            }
        }
        kernel_spectrum<Fft>(kernel, ph_, pw_, work_.data(), kernel_f_.data());
        for (std::size_t i = 0; i < kernel_f_.size(); ++i) kernel_power_[i] = std::norm(kernel_f_[i]);
    }

    bool observed(std::size_t r, std::size_t c) const { return r < h_ && c < w_; }

    // w-subproblem: (wx, wy) = shrink of the periodic forward differences of x.
    template <class Shrink>
    void shrink_gradients(const Shrink& shrink) {
        const std::size_t ph = ph_, pw = pw_;
        for (std::size_t r = 0; r < ph; ++r) {
            const T* xr = x_.data() + r * pw;
            const T* xd = x_.data() + ((r + 1) % ph) * pw;
            T* gx = wx_.data() + r * pw;
            T* gy = wy_.data() + r * pw;
            for (std::size_t c = 0; c + 1 < pw; ++c) gx[c] = shrink(xr[c + 1] - xr[c]);
            gx[pw - 1] = shrink(xr[0] - xr[pw - 1]);
            for (std::size_t c = 0; c < pw; ++c) gy[c] = shrink(xd[c] - xr[c]);
        }
    }

    // Real part of conj(a) b, the summand of the inner product of two real
    // canvases given by their half spectra (times the Parseval weight).
    static double re_dot(std::complex<T> a, std::complex<T> b) {
        return static_cast<double>(a.real()) * b.real() + static_cast<double>(a.imag()) * b.imag();
    }

    // out = K'MK p, spectra in and out (two FFTs).
    void apply_blur_normal(const cvec& p, cvec& out) {
        const std::size_t ph = ph_, pw = pw_, nc = p.size();
        const T inv_n = T(1) / static_cast<T>(ph * pw);  // the inverse transform is unnormalised
        for (std::size_t i = 0; i < nc; ++i) out[i] = complex_mul(p[i], kernel_f_[i]);
        Fft::template inverse<T>(ph, pw, out.data(), work_.data());
        for (std::size_t r = 0; r < ph; ++r) {
            T* row = work_.data() + r * pw;
            const std::size_t seen = r < h_ ? w_ : 0;
            for (std::size_t c = 0; c < seen; ++c) row[c] *= inv_n;
            for (std::size_t c = seen; c < pw; ++c) row[c] = T(0);
        }
        Fft::template forward<T>(ph, pw, work_.data(), out.data());
        for (std::size_t i = 0; i < nc; ++i) out[i] = complex_mul_conj(kernel_f_[i], out[i]);
    }

    // Preconditioned CG on (mu K'MK + D'D) X = rhs_f_, warm-started from x_f_.
    // K'MK x is carried along in kmk_x_f_ (updated with every step), so the
    // starting residual for a new mu and right-hand side costs no transform.
    void solve_masked(T mu, int iterations) {
        const std::size_t nc = x_f_.size();
        double rz = 0;
        for (std::size_t i = 0; i < nc; ++i) {
            inv_den_[i] = T(1) / (mu * kernel_power_[i] + gradient_power_[i]);
            r_f_[i] = rhs_f_[i] - mu * kmk_x_f_[i] - gradient_power_[i] * x_f_[i];
            p_f_[i] = z_f_[i] = r_f_[i] * inv_den_[i];
            rz += weight_[i] * re_dot(r_f_[i], z_f_[i]);
        }
        for (int it = 0; it < iterations && rz > 0; ++it) {
            apply_blur_normal(p_f_, kmk_p_f_);
            double pap = 0;
            for (std::size_t i = 0; i < nc; ++i) {
                ap_f_[i] = mu * kmk_p_f_[i] + gradient_power_[i] * p_f_[i];
                pap += weight_[i] * re_dot(p_f_[i], ap_f_[i]);
            }
            if (!(pap > 0)) break;
            const T step = static_cast<T>(rz / pap);
            const bool last = it + 1 == iterations;
            double rz_next = 0;
            for (std::size_t i = 0; i < nc; ++i) {
                x_f_[i] += step * p_f_[i];
                kmk_x_f_[i] += step * kmk_p_f_[i];
                if (last) continue;
                r_f_[i] -= step * ap_f_[i];
                z_f_[i] = r_f_[i] * inv_den_[i];
                rz_next += weight_[i] * re_dot(r_f_[i], z_f_[i]);
            }
            if (last) break;
            const T momentum = static_cast<T>(rz_next / rz);
            rz = rz_next;
            for (std::size_t i = 0; i < nc; ++i) p_f_[i] = z_f_[i] + momentum * p_f_[i];
        }
    }

    void solve(const T* blurry, T* out) {
        for (std::size_t i = 0; i < h_ * w_; ++i)
            if (!std::isfinite(static_cast<double>(blurry[i])))
                throw std::invalid_argument("deblur::HyperLaplacianDeconvolver: the blurry image contains NaN or infinity");
        const std::size_t ph = ph_, pw = pw_, n = ph * pw, nc = x_f_.size();
        const T inv_n = T(1) / static_cast<T>(n);  // the inverse transform is unnormalised
        const bool masked = options_.estimate_boundary;
        // Start from the blurry image, smoothly extended over the canvas.
        periodic_extension(blurry, h_, w_, canvas_.data(), ph, pw);
        x_ = canvas_;
        Fft::template forward<T>(ph, pw, canvas_.data(), x_f_.data());
        // Data term K'M y (masked) or K' y_extended (unmasked).
        if (masked)
            for (std::size_t r = 0; r < ph; ++r)
                for (std::size_t c = 0; c < pw; ++c)
                    if (!observed(r, c)) canvas_[r * pw + c] = T(0);
        Fft::template forward<T>(ph, pw, canvas_.data(), data_f_.data());
        for (std::size_t i = 0; i < nc; ++i) data_f_[i] = complex_mul_conj(kernel_f_[i], data_f_[i]);
        if (masked) apply_blur_normal(x_f_, kmk_x_f_);

        double beta = options_.beta_start;
        for (int outer = 0; outer < options_.outer_iterations; ++outer, beta *= options_.beta_rate) {
            const HyperLaplacianShrinkage<T> exact(options_.alpha, beta);
            const T mu = static_cast<T>(1 / (options_.lambda * beta));
            // Soft thresholding is cheap; other alphas use a per-beta lookup table.
            const bool tabulate = options_.alpha != 1;
            if (tabulate) {
                if (table_) table_->rebuild(exact);
                else table_.emplace(exact);
            }
            for (int inner = 0; inner < options_.inner_iterations; ++inner) {
                if (tabulate) shrink_gradients(*table_);
                else shrink_gradients(exact);
                gradient_adjoint(wx_.data(), wy_.data(), ph, pw, work_.data());  // work = Dx' wx + Dy' wy
                Fft::template forward<T>(ph, pw, work_.data(), rhs_f_.data());
                for (std::size_t i = 0; i < nc; ++i) rhs_f_[i] += mu * data_f_[i];
                if (masked) {
                    solve_masked(mu, options_.boundary_iterations);
                } else {
                    for (std::size_t i = 0; i < nc; ++i) x_f_[i] = rhs_f_[i] * (T(1) / (mu * kernel_power_[i] + gradient_power_[i]));
                }
                Fft::template inverse<T>(ph, pw, x_f_.data(), x_.data());
                for (std::size_t i = 0; i < n; ++i) x_[i] *= inv_n;
            }
        }
        for (std::size_t r = 0; r < h_; ++r)
            for (std::size_t c = 0; c < w_; ++c) out[r * w_ + c] = x_[r * pw + c];
    }

    DeconvOptions options_;
    std::size_t h_ = 0, w_ = 0, ph_ = 0, pw_ = 0;
    rvec canvas_, x_, wx_, wy_, work_;
    cvec kernel_f_, data_f_, x_f_, kmk_x_f_, rhs_f_, r_f_, z_f_, p_f_, ap_f_, kmk_p_f_;
    rvec kernel_power_, gradient_power_, weight_, inv_den_;
    std::optional<ShrinkageTable<T>> table_;
};

// One-off convenience: deconvolve `blurry` with `kernel` (see the class above).
template <class T, class Fft = fft::Fftw>
xt::xtensor<T, 2> deconvolve(const xt::xtensor<T, 2>& blurry, const xt::xtensor<T, 2>& kernel,
                             const DeconvOptions& options = {}) {
    HyperLaplacianDeconvolver<T, Fft> solver(options);
    return solver.deconvolve(blurry, kernel);
}

}  // namespace deblur
