#pragma once
// The image estimation module (Eq. 5): the latent image that best explains the
// blurry image y under the current kernel k with an L2 prior,
//
//   x^ = F^-1[ conj(F k) . F y / (|F k|^2 + beta_x) ],
//
// with beta_x learned. beta_x is stored as log(beta_x) so that it stays
// positive under any gradient step; params() is that one number.
//
// Boundaries: a photo does not wrap around, and transforming it as it is would
// make the quotient ring along the borders. y is therefore extended to
// Hp x Wp >= (H + K) x (W + K) (FFT-friendly sizes) so that it becomes smoothly
// periodic: across the padding each row blends linearly from its last value to
// its first, then each column of the result does the same. The extension is a
// linear operator of y; backward applies its adjoint. The quotient is taken at
// Hp x Wp and cropped back to H x W.
//
// Convention: y = k * x (convolution), the kernel's origin is its centre.
//
// It has two inputs (kernel and blurry image), so it is not a FeatureLayer:
//   forward(kernel 1xKxK, blurry 1xHxW, latent 1xHxW)
//   backward(kernel, blurry, latent, grad_latent, grad_kernel, grad_blurry)
// backward ADDS into grad_kernel, grad_blurry and the log-beta gradient.
#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "../core/exec.hpp"
#include "../core/tensor.hpp"
#include "../fft/fftw.hpp"  // the default policy's FFT backend
#include "../fft/fast_size.hpp"
#include "quotient_terms.hpp"
#include "shape_checks.hpp"

namespace deblur {

template <class E = DefaultExec>
class ImageQuotient {
public:
    using exec = E;
    using scalar = typename E::scalar;
    template <class E2>
    using rebind = ImageQuotient<E2>;
    static std::string architecture_name() { return "ImageQuotient"; }

    static constexpr double initial_beta = 1e-2;

    ImageQuotient() { set_beta(initial_beta); }

    double beta() const { return std::exp(static_cast<double>(log_beta_[0])); }
    void set_beta(double beta) {
        if (!(beta > 0) || !std::isfinite(beta))
            throw std::invalid_argument("deblur::ImageQuotient: beta must be positive and finite");
        log_beta_[0] = static_cast<scalar>(std::log(beta));
    }

    void forward(const Tensor<scalar>& kernel, const Tensor<scalar>& blurry, Tensor<scalar>& latent) {
        compute(kernel, blurry);
        resize(latent, 1, h_, w_);
        const scalar inv_m = scalar(1) / scalar(hp_ * wp_);
        scalar* x = latent.data();
        for (std::size_t r = 0; r < h_; ++r)
            for (std::size_t c = 0; c < w_; ++c) x[r * w_ + c] = rscratch_[r * wp_ + c] * inv_m;
    }

    // Adds the gradients of <grad_latent, latent> into grad_kernel, grad_blurry
    // and the log-beta gradient. The spectra of the last forward are reused when
    // kernel, blurry image and beta are unchanged since then.
    void backward(const Tensor<scalar>& kernel, const Tensor<scalar>& blurry, const Tensor<scalar>&,
                  const Tensor<scalar>& grad_latent, Tensor<scalar>& grad_kernel, Tensor<scalar>& grad_blurry) {
        detail::check_image_quotient_gradients(kernel.shape(), blurry.shape(), grad_latent.shape(), grad_kernel.shape(),
                                               grad_blurry.shape());
        if (!matches_last_inputs(kernel, blurry)) compute(kernel, blurry);

        // G = F of the output gradient, zero-padded (adjoint of the crop).
        std::fill(grid_.begin(), grid_.end(), scalar(0));
        const scalar* g = grad_latent.data();
        for (std::size_t r = 0; r < h_; ++r)
            for (std::size_t c = 0; c < w_; ++c) grid_[r * wp_ + c] = g[r * w_ + c];
        E::fft::template forward<scalar>(hp_, wp_, grid_.data(), gspec_.data());

        // With N = conj(Kf) Yf, D = |Kf|^2 + beta, Q = N / D and the normalised
        // inverse (1/M folded in below), Appendix A gives
        //   grad k_pad = F^-1[ conj(G) Yf / D - 2 Re(conj(G) N) Kf / D^2 ]
        //   grad y_ext = F^-1[ G Kf / D ]
        //   dL/dbeta   = (1/M) sum over the full spectrum of Re(conj(G) (-Q / D)).
        const scalar beta = std::exp(log_beta_[0]);
        const std::size_t nc = spec_size(), wc = wp_ / 2 + 1;
        scalar dbeta = 0;
        for (std::size_t u = 0; u < nc; ++u) {
            const std::complex<scalar> cg = std::conj(gspec_[u]), kf = kspec_[u], yf = yspec_[u];
            const scalar inv_d = scalar(1) / (std::norm(kf) + beta);
            const std::complex<scalar> num = std::conj(kf) * yf;
            kgrad_spec_[u] = cg * yf * inv_d - scalar(2) * std::real(cg * num) * inv_d * inv_d * kf;
            cscratch_[u] = std::conj(cg) * kf * inv_d;
            // Columns 0 and (for even widths) wp/2 stand for themselves in the full
            // spectrum, every other column also for its conjugate mirror.
            const std::size_t v = u % wc;
            const scalar weight = (v == 0 || 2 * v == wp_) ? scalar(1) : scalar(2);
            dbeta -= weight * std::real(cg * num) * inv_d * inv_d;
        }
        const scalar inv_m = scalar(1) / scalar(hp_ * wp_);
        log_beta_grad_[0] += beta * dbeta * inv_m;

        // Kernel: gather the padded-kernel gradient at the kernel's grid positions.
        E::fft::template inverse<scalar>(hp_, wp_, kgrad_spec_.data(), rscratch_.data());
        scalar* gk = grad_kernel.data();
        for (std::size_t a = 0; a < k_; ++a)
            for (std::size_t b = 0; b < k_; ++b) gk[a * k_ + b] += rscratch_[tap_index(a, b)] * inv_m;

        // Blurry image: adjoint of the periodic extension.
        E::fft::template inverse<scalar>(hp_, wp_, cscratch_.data(), rscratch_.data());
        extend_adjoint_in_place(rscratch_.data());
        scalar* gy = grad_blurry.data();
        for (std::size_t r = 0; r < h_; ++r)
            for (std::size_t c = 0; c < w_; ++c) gy[r * w_ + c] += rscratch_[r * wp_ + c] * inv_m;
    }

    std::span<scalar> params() { return log_beta_; }
    std::span<scalar> param_grads() { return log_beta_grad_; }
    void zero_grads() { log_beta_grad_[0] = 0; }

private:
    using complex = std::complex<scalar>;
    template <class U>
    using buffer = typename E::fft::template vector<U>;

    std::size_t spec_size() const { return hp_ * (wp_ / 2 + 1); }

    std::size_t tap_index(std::size_t a, std::size_t b) const { return detail::wrap_index(a, b, k_, hp_, wp_); }

    static void check_inputs(const Tensor<scalar>& kernel, const Tensor<scalar>& blurry) {
        detail::check_image_quotient_shapes(kernel.shape(0), kernel.shape(1), kernel.shape(2), blurry.shape(0),
                                            blurry.shape(1), blurry.shape(2));
        auto finite = [](scalar v) { return std::isfinite(v); };
        if (!std::all_of(kernel.begin(), kernel.end(), finite))
            throw std::invalid_argument("deblur::ImageQuotient: the kernel contains NaN or infinity");
        if (!std::all_of(blurry.begin(), blurry.end(), finite))
            throw std::invalid_argument("deblur::ImageQuotient: the blurry image contains NaN or infinity");
    }

    bool matches_last_inputs(const Tensor<scalar>& kernel, const Tensor<scalar>& blurry) const {
        return kernel.shape(1) == k_ && kernel.shape(2) == k_ && blurry.shape(1) == h_ && blurry.shape(2) == w_ &&
               log_beta_[0] == last_log_beta_ && std::equal(kernel.begin(), kernel.end(), last_kernel_.begin()) &&
               std::equal(blurry.begin(), blurry.end(), last_blurry_.begin());
    }

    // Sizes every buffer; allocates only when a shape changes.
    void prepare(const Tensor<scalar>& kernel, const Tensor<scalar>& blurry) {
        k_ = kernel.shape(1);
        h_ = blurry.shape(1);
        w_ = blurry.shape(2);
        hp_ = fft::fast_size(h_ + k_);
        wp_ = fft::fast_size(w_ + k_);
        const std::size_t nc = spec_size();
        extended_.resize(hp_ * wp_);
        grid_.resize(hp_ * wp_);
        rscratch_.resize(hp_ * wp_);
        yspec_.resize(nc);
        kspec_.resize(nc);
        gspec_.resize(nc);
        kgrad_spec_.resize(nc);
        cscratch_.resize(nc);
        last_kernel_.resize(kernel.size());
        last_blurry_.resize(blurry.size());
    }

    // The smooth periodic extension of y (H x W) into `e` (Hp x Wp). Linear in y.
    void extend(const scalar* y, scalar* e) const {
        const std::size_t pw = wp_ - w_, ph = hp_ - h_;
        for (std::size_t r = 0; r < h_; ++r) {
            std::copy(y + r * w_, y + (r + 1) * w_, e + r * wp_);
            const scalar last = y[r * w_ + w_ - 1], first = y[r * w_];
            for (std::size_t j = 0; j < pw; ++j) {
                const scalar t = scalar(j + 1) / scalar(pw + 1);
                e[r * wp_ + w_ + j] = (1 - t) * last + t * first;
            }
        }
        const scalar* last_row = e + (h_ - 1) * wp_;
        const scalar* first_row = e;
        for (std::size_t i = 0; i < ph; ++i) {
            const scalar s = scalar(i + 1) / scalar(ph + 1);
            scalar* row = e + (h_ + i) * wp_;
            for (std::size_t c = 0; c < wp_; ++c) row[c] = (1 - s) * last_row[c] + s * first_row[c];
        }
    }

    // Adjoint of `extend`, in place: afterwards the top-left H x W of `g` holds
    // E^T g (the padding part is left as scratch). Steps in reverse order.
    void extend_adjoint_in_place(scalar* g) const {
        const std::size_t pw = wp_ - w_, ph = hp_ - h_;
        scalar* last_row = g + (h_ - 1) * wp_;
        scalar* first_row = g;
        for (std::size_t i = 0; i < ph; ++i) {
            const scalar s = scalar(i + 1) / scalar(ph + 1);
            const scalar* row = g + (h_ + i) * wp_;
            for (std::size_t c = 0; c < wp_; ++c) {
                last_row[c] += (1 - s) * row[c];
                first_row[c] += s * row[c];
            }
        }
        for (std::size_t r = 0; r < h_; ++r) {
            scalar* row = g + r * wp_;
            for (std::size_t j = 0; j < pw; ++j) {
                const scalar t = scalar(j + 1) / scalar(pw + 1);
                row[w_ - 1] += (1 - t) * row[w_ + j];
                row[0] += t * row[w_ + j];
            }
        }
    }

    // Forward pass up to the unnormalised inverse (in rscratch_); keeps the
    // spectra of the kernel and of the extended image for backward.
    void compute(const Tensor<scalar>& kernel, const Tensor<scalar>& blurry) {
        check_inputs(kernel, blurry);
        prepare(kernel, blurry);
        std::copy(kernel.begin(), kernel.end(), last_kernel_.begin());
        std::copy(blurry.begin(), blurry.end(), last_blurry_.begin());
        last_log_beta_ = log_beta_[0];

        extend(blurry.data(), extended_.data());
        E::fft::template forward<scalar>(hp_, wp_, extended_.data(), yspec_.data());

        std::fill(grid_.begin(), grid_.end(), scalar(0));
        const scalar* k = kernel.data();
        for (std::size_t a = 0; a < k_; ++a)
            for (std::size_t b = 0; b < k_; ++b) grid_[tap_index(a, b)] = k[a * k_ + b];
        E::fft::template forward<scalar>(hp_, wp_, grid_.data(), kspec_.data());

        const scalar beta = std::exp(log_beta_[0]);
        for (std::size_t u = 0; u < spec_size(); ++u)
            cscratch_[u] = std::conj(kspec_[u]) * yspec_[u] / (std::norm(kspec_[u]) + beta);
        E::fft::template inverse<scalar>(hp_, wp_, cscratch_.data(), rscratch_.data());
    }

    std::array<scalar, 1> log_beta_{}, log_beta_grad_{};
    scalar last_log_beta_ = 0;
    std::size_t k_ = 0, h_ = 0, w_ = 0, hp_ = 0, wp_ = 0;
    buffer<scalar> extended_, grid_, rscratch_;
    buffer<complex> yspec_, kspec_, gspec_, kgrad_spec_, cscratch_;
    std::vector<scalar> last_kernel_, last_blurry_;
};

}  // namespace deblur
