#pragma once
// Non-blind deconvolution of spatially-varying blur under the EFF model
// (blur/eff.hpp): the final sharp image of the nonuniform pipeline, from a
// blurry image and a kernel field (one kernel per patch of an EFF grid),
//
//     min_x 1/2 || A(k) x - y ||^2 + lambda sum |Dx x|^alpha + |Dy x|^alpha,
//
// A(k) the EFF blur in 'valid' mode: x is the latent image of
// (H + Kh - 1) x (W + Kw - 1) pixels whose 'valid' blur is the H x W photo y,
// so nothing outside y is assumed (no wrap-around, no padding of y); the EFF
// grid of the kernel field is over that latent image (latent_grid()).
//
// Method: the hyper-Laplacian prior solved by half-quadratic splitting, the
// uniform solver's schedule (half_quadratic_splitting.hpp: same DeconvOptions,
// same lambda calibration, same shrinkage), with the x-subproblem
//
//     (mu A'A + D'D) x = mu A'y + D'w,   mu = 1 / (lambda beta),
//
// solved by conjugate gradients with A and A' applied patch by patch through
// EFFBlur, warm-started from the previous x. Why this and not patch-wise
// uniform deconvolutions blended by the windows: this inverts the model the
// kernels were estimated for (where neighbouring kernels differ, a pixel's
// blur is their blend, which no single patch deconvolution undoes), and with
// a constant field it is the uniform problem itself.
//
// The latent image sits on a periodic canvas (an FFT-friendly size at least
// Kh (Kw) larger than it) on which D are the periodic forward differences;
// the canvas band beyond the latent image is constrained by the prior only,
// as the unknown band of hyper_laplacian.hpp. Preconditioner: the circulant
// part (mu |F k_mean|^2 + |F D|^2)^-1 with the field's mean kernel, applied by
// FFT (a symmetric positive definite approximation of the system, exact for a
// constant field without the 'valid' crop), so a few CG steps per x-update
// suffice (cg_iterations, default 6; the uniform solver uses 3 with an
// exact circulant part).
//
// Start: the blurry image, smoothly extended over the canvas
// (periodic_extension.hpp) and placed so that the latent pixel under each
// blurry pixel is the kernel origin's. The result is cropped back to H x W.
#include <cmath>
#include <complex>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <xtensor/xtensor.hpp>

#include "../blur/blur_mode.hpp"
#include "../blur/eff.hpp"
#include "../blur/eff_grid.hpp"
#include "../blur/real_fft_size.hpp"
#include "../core/tensor.hpp"
#include "../fft/fftw.hpp"
#include "deconv_options.hpp"
#include "fourier_terms.hpp"
#include "half_quadratic_splitting.hpp"
#include "periodic_extension.hpp"

namespace deblur {

template <class T, class Fft = fft::Fftw>
class EFFDeconvolver {
public:
    using scalar = T;

    explicit EFFDeconvolver(DeconvOptions options = {}, int cg_iterations = 6) : cg_iterations_(cg_iterations) {
        options.validate();
        if (cg_iterations < 1) throw std::invalid_argument("deblur::EFFDeconvolver: cg_iterations must be at least 1");
        options_ = options;
    }

    const DeconvOptions& options() const { return options_; }
    int cg_iterations() const { return cg_iterations_; }

    // The EFF grid a kernel field of Kh x Kw kernels for an H x W blurry image refers to.
    static EFFGrid latent_grid(std::size_t rows, std::size_t cols, std::size_t kernel_rows, std::size_t kernel_cols,
                               std::size_t grid_rows, std::size_t grid_cols) {
        if (kernel_rows == 0 || kernel_cols == 0) throw std::invalid_argument("deblur::EFFDeconvolver: empty kernel");
        return EFFGrid(rows + kernel_rows - 1, cols + kernel_cols - 1, grid_rows, grid_cols);
    }

    // The deblurred H x W image; `kernels` is patches x Kh x Kw (odd sizes) on a
    // grid_rows x grid_cols grid (EFFBlur's layout: patch i * grid_cols + j).
    xt::xtensor<T, 2> deconvolve(const xt::xtensor<T, 2>& blurry, const Tensor<T>& kernels, std::size_t grid_rows,
                                 std::size_t grid_cols) {
        prepare(blurry.shape(0), blurry.shape(1), kernels, grid_rows, grid_cols);
        xt::xtensor<T, 2> out = xt::xtensor<T, 2>::from_shape(blurry.shape());
        solve(blurry, out);
        return out;
    }

    // Every channel of a C x H x W image, with the same kernel field.
    Tensor<T> deconvolve(const Tensor<T>& blurry, const Tensor<T>& kernels, std::size_t grid_rows,
                         std::size_t grid_cols) {
        const std::size_t h = blurry.shape(1), w = blurry.shape(2);
        prepare(h, w, kernels, grid_rows, grid_cols);
        Tensor<T> out = Tensor<T>::from_shape(blurry.shape());
        xt::xtensor<T, 2> channel = xt::xtensor<T, 2>::from_shape({h, w}), result;
        for (std::size_t c = 0; c < blurry.shape(0); ++c) {
            std::copy(blurry.data() + c * h * w, blurry.data() + (c + 1) * h * w, channel.data());
            result = xt::xtensor<T, 2>::from_shape({h, w});
            solve(channel, result);
            std::copy(result.begin(), result.end(), out.data() + c * h * w);
        }
        return out;
    }

    // The whole latent image of the last solve ((H + Kh - 1) x (W + Kw - 1), the
    // EFF model's input: the blurry pixel (r, c) sits at (r + Kh/2, c + Kw/2)).
    xt::xtensor<T, 2> latent() const {
        xt::xtensor<T, 2> out = xt::xtensor<T, 2>::from_shape({lh_, lw_});
        for (std::size_t r = 0; r < lh_; ++r)
            for (std::size_t c = 0; c < lw_; ++c) out(r, c) = x_.empty() ? T(0) : x_[r * pw_ + c];
        return out;
    }

private:
    using rvec = typename Fft::template vector<T>;
    using cvec = typename Fft::template vector<std::complex<T>>;

    void prepare(std::size_t h, std::size_t w, const Tensor<T>& kernels, std::size_t grid_rows, std::size_t grid_cols) {
        const std::string who = "deblur::EFFDeconvolver: ";
        if (h == 0 || w == 0) throw std::invalid_argument(who + "empty image");
        if (kernels.dimension() != 3 || kernels.shape(0) != grid_rows * grid_cols)
            throw std::invalid_argument(who + "the kernel field must hold one kernel per patch (" +
                                        std::to_string(grid_rows * grid_cols) + "), got " +
                                        std::to_string(kernels.shape(0)));
        const std::size_t kh = kernels.shape(1), kw = kernels.shape(2);
        if (kh % 2 == 0 || kw % 2 == 0) throw std::invalid_argument(who + "the kernels must have odd width and height");
        if (kh > h || kw > w) throw std::invalid_argument(who + "the image is smaller than the kernels");
        for (std::size_t p = 0; p < kernels.shape(0); ++p) {
            double sum = 0;
            for (std::size_t i = 0; i < kh * kw; ++i) {
                const double v = kernels.data()[p * kh * kw + i];
                if (!std::isfinite(v)) throw std::invalid_argument(who + "the kernel field contains NaN or infinity");
                sum += v;
            }
            if (!(sum > 0)) throw std::invalid_argument(who + "kernel " + std::to_string(p) + " has no positive sum");
        }
        h_ = h;
        w_ = w;
        kh_ = kh;
        kw_ = kw;
        lh_ = h + kh - 1;
        lw_ = w + kw - 1;
        blur_.emplace(latent_grid(h, w, kh, kw, grid_rows, grid_cols), kh, kw, BlurMode::valid);
        blur_->set_kernels(kernels);
        ph_ = real_fft_size(lh_ + kh);
        pw_ = real_fft_size(lw_ + kw);
        const std::size_t n = ph_ * pw_, nc = ph_ * (pw_ / 2 + 1);
        for (rvec* v : {&x_, &wx_, &wy_, &work_, &rhs_, &data_, &r_, &z_, &p_, &ap_, &gx_, &gy_}) v->assign(n, T(0));
        spectrum_.assign(nc, {});
        kernel_power_.assign(nc, T(0));
        gradient_power_.assign(nc, T(0));
        gradient_power_spectrum(ph_, pw_, gradient_power_.data());
        xt::xtensor<T, 2> mean = xt::zeros<T>({kh, kw});
        for (std::size_t p = 0; p < kernels.shape(0); ++p)
            for (std::size_t i = 0; i < kh * kw; ++i) mean.data()[i] += kernels.data()[p * kh * kw + i];
        mean /= static_cast<T>(kernels.shape(0));
        kernel_spectrum<Fft>(mean, ph_, pw_, work_.data(), spectrum_.data());
        for (std::size_t i = 0; i < nc; ++i) kernel_power_[i] = std::norm(spectrum_[i]);
        latent_.resize({lh_, lw_});
        blurred_.resize({h_, w_});
    }

    // Latent image <-> canvas (the latent image is the canvas' top-left lh x lw block).
    void canvas_to_latent(const rvec& canvas) {
        for (std::size_t r = 0; r < lh_; ++r)
            std::copy(canvas.data() + r * pw_, canvas.data() + r * pw_ + lw_, latent_.data() + r * lw_);
    }
    void add_latent_to_canvas(const xt::xtensor<T, 2>& latent, T scale, rvec& canvas) {
        for (std::size_t r = 0; r < lh_; ++r)
            for (std::size_t c = 0; c < lw_; ++c) canvas[r * pw_ + c] += scale * latent(r, c);
    }

    static double dot(const rvec& a, const rvec& b) {
        double s = 0;
        for (std::size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * static_cast<double>(b[i]);
        return s;
    }

    // out = (mu A'A + D'D) p on the canvas.
    void apply_system(const rvec& p, T mu, rvec& out) {
        const std::size_t ph = ph_, pw = pw_;
        for (std::size_t r = 0; r < ph; ++r) {
            const T* pr = p.data() + r * pw;
            const T* pd = p.data() + ((r + 1) % ph) * pw;
            T* hx = gx_.data() + r * pw;
            T* vy = gy_.data() + r * pw;
            for (std::size_t c = 0; c + 1 < pw; ++c) hx[c] = pr[c + 1] - pr[c];
            hx[pw - 1] = pr[0] - pr[pw - 1];
            for (std::size_t c = 0; c < pw; ++c) vy[c] = pd[c] - pr[c];
        }
        gradient_adjoint(gx_.data(), gy_.data(), ph, pw, out.data());
        canvas_to_latent(p);
        blur_->apply(latent_, blurred_);
        blur_->apply_adjoint(blurred_, adjoint_);
        add_latent_to_canvas(adjoint_, mu, out);
    }

    // z = (mu |K_mean|^2 + |D|^2)^-1 r by FFT.
    void precondition(const rvec& r, T mu, rvec& z) {
        const std::size_t nc = spectrum_.size();
        Fft::template forward<T>(ph_, pw_, r.data(), spectrum_.data());
        const T inv_n = T(1) / static_cast<T>(ph_ * pw_);  // the inverse transform is unnormalised
        for (std::size_t i = 0; i < nc; ++i)
            spectrum_[i] *= inv_n / (mu * kernel_power_[i] + gradient_power_[i] + T(1e-8));
        Fft::template inverse<T>(ph_, pw_, spectrum_.data(), z.data());
    }

    void solve_x(T mu) {
        const std::size_t n = x_.size();
        apply_system(x_, mu, ap_);
        for (std::size_t i = 0; i < n; ++i) r_[i] = rhs_[i] - ap_[i];
        precondition(r_, mu, z_);
        p_ = z_;
        double rz = dot(r_, z_);
        for (int it = 0; it < cg_iterations_ && rz > 0; ++it) {
            apply_system(p_, mu, ap_);
            const double pap = dot(p_, ap_);
            if (!(pap > 0)) break;
            const T step = static_cast<T>(rz / pap);
            for (std::size_t i = 0; i < n; ++i) {
                x_[i] += step * p_[i];
                r_[i] -= step * ap_[i];
            }
            if (it + 1 == cg_iterations_) break;
            precondition(r_, mu, z_);
            const double rz_next = dot(r_, z_);
            const T momentum = static_cast<T>(rz_next / rz);
            rz = rz_next;
            for (std::size_t i = 0; i < n; ++i) p_[i] = z_[i] + momentum * p_[i];
        }
    }

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

    void solve(const xt::xtensor<T, 2>& blurry, xt::xtensor<T, 2>& out) {
        for (const T v : blurry)
            if (!std::isfinite(static_cast<double>(v)))
                throw std::invalid_argument("deblur::EFFDeconvolver: the blurry image contains NaN or infinity");
        const std::size_t ph = ph_, pw = pw_, n = ph * pw;
        const std::size_t oy = kh_ / 2, ox = kw_ / 2;  // the latent pixel under blurry pixel (0, 0)
        // Start: the blurry image smoothly extended, moved by (oy, ox) on the canvas.
        periodic_extension(blurry.data(), h_, w_, work_.data(), ph, pw);
        for (std::size_t r = 0; r < ph; ++r)
            for (std::size_t c = 0; c < pw; ++c) x_[((r + oy) % ph) * pw + (c + ox) % pw] = work_[r * pw + c];
        // Data term A'y on the canvas.
        blur_->apply_adjoint(blurry, adjoint_);
        std::fill(data_.begin(), data_.end(), T(0));
        add_latent_to_canvas(adjoint_, T(1), data_);

        const auto w_step = [&](const auto& shrink) {
            shrink_gradients(shrink);
            gradient_adjoint(wx_.data(), wy_.data(), ph, pw, rhs_.data());
        };
        const auto x_step = [&](T mu) {
            for (std::size_t i = 0; i < n; ++i) rhs_[i] += mu * data_[i];
            solve_x(mu);
        };
        detail::half_quadratic_splitting<T>(options_, table_, w_step, x_step);
        for (std::size_t r = 0; r < h_; ++r)
            for (std::size_t c = 0; c < w_; ++c) out(r, c) = x_[(r + oy) * pw + c + ox];
    }

    DeconvOptions options_;
    int cg_iterations_ = 6;
    std::size_t h_ = 0, w_ = 0, kh_ = 0, kw_ = 0, lh_ = 0, lw_ = 0, ph_ = 0, pw_ = 0;
    std::optional<EFFBlur<T, Fft>> blur_;
    xt::xtensor<T, 2> latent_, blurred_, adjoint_;
    rvec x_, wx_, wy_, work_, rhs_, data_, r_, z_, p_, ap_, gx_, gy_;
    cvec spectrum_;
    rvec kernel_power_, gradient_power_;
    std::optional<ShrinkageTable<T>> table_;
};

}  // namespace deblur
