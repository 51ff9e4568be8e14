#pragma once
// The kernel estimation module (Eq. 3-4, Appendix A): the K x K kernel k~ that
// best explains the blurry-like maps y~_i as blurs of the sharp-like maps x~_i,
//
//   k~ = F^-1[ sum_i conj(F x~_i) . F y~_i / (sum_i |F x~_i|^2 + beta_k) ],
//
// cropped to K x K around the origin, negatives set to zero and normalised to
// sum 1. Convention: y~ = k * x~ (convolution), the kernel's origin is its
// centre [K/2][K/2].
//
// Input: 2P x H x W feature maps, channels [0, P) the sharp-like x~_i and
// [P, 2P) the blurry-like y~_i (the order in which Recombine<2P> emits them).
// Output: 1 x K x K.
//
// Steps: every map is weighted by a Barthann window (it fades to zero at the
// borders, which hides the wrap-around of the circular model), zero-padded to
// FFT-friendly sizes, and the quotient is taken there. beta_k = 1e-4 is for
// numerical stability only and is not learned (Section 3.1.2).
//
// Degenerate case: when no cropped value is positive the normalisation is
// undefined; the layer then outputs a delta kernel (1 at the centre) and
// backward contributes zero gradient (the output is locally constant).
#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <cstddef>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "../core/exec.hpp"
#include "../core/tensor.hpp"
#include "../fft/fftw.hpp"  // the default policy's FFT backend
#include "../fft/fast_size.hpp"
#include "barthann.hpp"

namespace deblur {

template <int K, class E = DefaultExec>
class Quotient {
    static_assert(K > 0 && K % 2 == 1, "deblur::Quotient<K>: the kernel size K must be odd and positive");

public:
    using exec = E;
    using scalar = typename E::scalar;
    template <class E2>
    using rebind = Quotient<K, E2>;
    static std::string architecture_name() { return "Quotient<" + std::to_string(K) + ">"; }

    static constexpr int kernel_size = K;
    static constexpr double beta_k = 1e-4;

    static constexpr bool accepts_channels(int c) { return c >= 2 && c % 2 == 0; }
    std::size_t kernel_count() const { return 1; }  // one kernel for the whole image

    void setup(std::size_t in_channels, std::mt19937_64&) {
        if (!accepts_channels(static_cast<int>(in_channels)))
            throw std::invalid_argument("deblur::Quotient: needs an even number (>= 2) of input channels, got " +
                                        std::to_string(in_channels));
    }

    void forward(const Tensor<scalar>& in, Tensor<scalar>& out) {
        compute(in);
        resize(out, 1, K, K);
        std::copy(kernel_.begin(), kernel_.end(), out.data());
    }

    // Adds d<grad_out, out>/d in into grad_in. The spectra of the last forward
    // are reused when `in` is unchanged since then, recomputed otherwise.
    void backward(const Tensor<scalar>& in, const Tensor<scalar>&, const Tensor<scalar>& grad_out,
                  Tensor<scalar>& grad_in) {
        if (grad_out.shape(0) != 1 || grad_out.shape(1) != std::size_t(K) || grad_out.shape(2) != std::size_t(K))
            throw std::invalid_argument("deblur::Quotient: backward needs a 1 x K x K output gradient");
        if (grad_in.shape() != in.shape())
            throw std::invalid_argument("deblur::Quotient: backward needs grad_in of the input's shape");
        if (!matches_last_input(in)) compute(in);
        if (degenerate_) return;

        const std::size_t kk = std::size_t(K) * K;
        const scalar* g = grad_out.data();

        // Normalisation n = c+ / S: dc+ = (dn - <dn, n>) / S; clipping passes where c > 0.
        scalar dot = 0;
        for (std::size_t i = 0; i < kk; ++i) dot += g[i] * kernel_[i];
        std::fill(grid_.begin(), grid_.end(), scalar(0));
        for (int a = 0; a < K; ++a)
            for (int b = 0; b < K; ++b) {
                const std::size_t i = std::size_t(a) * K + b;
                if (cropped_[i] > 0) grid_[wrap_index(a, b)] = (g[i] - dot) / sum_;
            }

        // Through the quotient (Appendix A), with G = F g, N, D as in forward and
        // the normalised inverse (folded into 1/M below):
        //   grad x~_j = F^-1[ conj(G) Y_j / D - 2 Re(conj(G) N) X_j / D^2 ]
        //   grad y~_j = F^-1[ G X_j / D ]
        E::fft::template forward<scalar>(hp_, wp_, grid_.data(), gspec_.data());
        const std::size_t nc = spec_size();
        for (std::size_t u = 0; u < nc; ++u) {
            const std::complex<scalar> cg = std::conj(gspec_[u]);
            const scalar inv_d = scalar(1) / den_[u];
            a_[u] = cg * inv_d;
            b_[u] = scalar(2) * std::real(cg * num_[u]) * inv_d * inv_d;
        }
        const std::size_t p = pairs_;
        for (std::size_t ch = 0; ch < 2 * p; ++ch) {
            const bool sharp = ch < p;
            const std::complex<scalar>* x = spectrum(sharp ? ch : ch - p);
            const std::complex<scalar>* y = spectrum(sharp ? ch + p : ch);
            if (sharp)
                for (std::size_t u = 0; u < nc; ++u) cscratch_[u] = a_[u] * y[u] - b_[u] * x[u];
            else
                for (std::size_t u = 0; u < nc; ++u) cscratch_[u] = std::conj(a_[u]) * x[u];
            E::fft::template inverse<scalar>(hp_, wp_, cscratch_.data(), rscratch_.data());
            // Adjoint of window and zero padding: keep the image part, weight it.
            const scalar inv_m = scalar(1) / scalar(hp_ * wp_);
            scalar* gi = grad_in.data() + ch * h_ * w_;
            for (std::size_t r = 0; r < h_; ++r)
                for (std::size_t c = 0; c < w_; ++c)
                    gi[r * w_ + c] += window_(r, c) * inv_m * rscratch_[r * wp_ + c];
        }
    }

    std::span<scalar> params() { return {}; }
    std::span<scalar> param_grads() { return {}; }

    // Whether the last forward fell back to the delta kernel.
    bool degenerate() const { return degenerate_; }

private:
    using complex = std::complex<scalar>;
    template <class U>
    using buffer = typename E::fft::template vector<U>;

    // Per-channel strides rounded up so every map starts SIMD-aligned.
    static std::size_t aligned(std::size_t n) { return (n + 15) / 16 * 16; }
    std::size_t spec_size() const { return hp_ * (wp_ / 2 + 1); }
    std::size_t spec_stride() const { return aligned(spec_size()); }
    complex* spectrum(std::size_t ch) { return spectra_.data() + ch * spec_stride(); }

    // Grid position of kernel entry (a, b): the origin (centre) goes to (0, 0).
    std::size_t wrap_index(int a, int b) const {
        const std::size_t r = (std::size_t(a) + hp_ - K / 2) % hp_;
        const std::size_t c = (std::size_t(b) + wp_ - K / 2) % wp_;
        return r * wp_ + c;
    }

    void check_input(const Tensor<scalar>& in) const {
        const std::size_t c = in.shape(0), h = in.shape(1), w = in.shape(2);
        if (!accepts_channels(static_cast<int>(c)))
            throw std::invalid_argument("deblur::Quotient: needs an even number (>= 2) of input channels, got " +
                                        std::to_string(c));
        if (h < std::size_t(K) || w < std::size_t(K))
            throw std::invalid_argument("deblur::Quotient: the feature maps (" + std::to_string(h) + " x " +
                                        std::to_string(w) + ") are smaller than the kernel (" + std::to_string(K) +
                                        ")");
        if (!std::all_of(in.begin(), in.end(), [](scalar v) { return std::isfinite(v); }))
            throw std::invalid_argument("deblur::Quotient: the feature maps contain NaN or infinity");
    }

    bool matches_last_input(const Tensor<scalar>& in) const {
        return in.shape(0) == 2 * pairs_ && in.shape(1) == h_ && in.shape(2) == w_ &&
               std::equal(in.begin(), in.end(), last_input_.begin());
    }

    // Sizes every buffer; allocates only when the input shape changes.
    void prepare(const Tensor<scalar>& in) {
        pairs_ = in.shape(0) / 2;
        h_ = in.shape(1);
        w_ = in.shape(2);
        hp_ = fft::fast_size(h_);
        wp_ = fft::fast_size(w_);
        window_.resize(h_, w_);
        const std::size_t nc = spec_size();
        spectra_.resize(2 * pairs_ * spec_stride());
        num_.resize(nc);
        den_.resize(nc);
        a_.resize(nc);
        b_.resize(nc);
        gspec_.resize(nc);
        cscratch_.resize(nc);
        rscratch_.resize(hp_ * wp_);
        grid_.resize(hp_ * wp_);
        last_input_.resize(in.size());
    }

    // Forward pass; keeps the spectra, N, D, the cropped values and their sum for backward.
    void compute(const Tensor<scalar>& in) {
        check_input(in);
        prepare(in);
        std::copy(in.begin(), in.end(), last_input_.begin());

        // Window, zero-pad, transform every map (rscratch_ is free until the inverse below).
        for (std::size_t ch = 0; ch < 2 * pairs_; ++ch) {
            scalar* p = rscratch_.data();
            const scalar* x = in.data() + ch * h_ * w_;
            std::fill(p, p + hp_ * wp_, scalar(0));
            for (std::size_t r = 0; r < h_; ++r)
                for (std::size_t c = 0; c < w_; ++c) p[r * wp_ + c] = window_(r, c) * x[r * w_ + c];
            E::fft::template forward<scalar>(hp_, wp_, p, spectrum(ch));
        }

        // N = sum conj(X_i) Y_i, D = sum |X_i|^2 + beta_k, and their quotient.
        const std::size_t nc = spec_size();
        std::fill(num_.begin(), num_.end(), complex(0));
        std::fill(den_.begin(), den_.end(), static_cast<scalar>(beta_k));
        for (std::size_t i = 0; i < pairs_; ++i) {
            const complex* x = spectrum(i);
            const complex* y = spectrum(i + pairs_);
            for (std::size_t u = 0; u < nc; ++u) {
                num_[u] += std::conj(x[u]) * y[u];
                den_[u] += std::norm(x[u]);
            }
        }
        for (std::size_t u = 0; u < nc; ++u) cscratch_[u] = num_[u] / den_[u];
        E::fft::template inverse<scalar>(hp_, wp_, cscratch_.data(), rscratch_.data());

        // Crop around the origin (normalising the inverse), clip, normalise.
        const scalar inv_m = scalar(1) / scalar(hp_ * wp_);
        sum_ = 0;
        for (int a = 0; a < K; ++a)
            for (int b = 0; b < K; ++b) {
                const scalar v = rscratch_[wrap_index(a, b)] * inv_m;
                cropped_[std::size_t(a) * K + b] = v;
                if (v > 0) sum_ += v;
            }
        degenerate_ = !(sum_ > 0);
        for (std::size_t i = 0; i < cropped_.size(); ++i)
            kernel_[i] = degenerate_ ? scalar(0) : (cropped_[i] > 0 ? cropped_[i] / sum_ : scalar(0));
        if (degenerate_) kernel_[std::size_t(K / 2) * K + K / 2] = 1;
    }

    std::size_t pairs_ = 0, h_ = 0, w_ = 0, hp_ = 0, wp_ = 0;
    BarthannWindow2D<scalar> window_;
    buffer<scalar> rscratch_, grid_, den_, b_;
    buffer<complex> spectra_, num_, a_, gspec_, cscratch_;
    std::vector<scalar> last_input_;
    std::array<scalar, std::size_t(K) * K> cropped_{}, kernel_{};
    scalar sum_ = 0;
    bool degenerate_ = false;
};

}  // namespace deblur
