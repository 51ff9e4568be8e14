#pragma once
// The spectral core of the kernel estimation modules (Eq. 3-4 and 8, Appendix
// A), shared by Quotient (one patch: the whole map) and EFFQuotient (one patch
// per EFF window). For every patch p, with W_p its separable weight (a row
// vector times a column vector over the patch's extent) and C_p the crop to
// that extent,
//
//   k~_p = F^-1[ sum_i conj(F C_p W_p x~_i) . F C_p W_p y~_i / (sum_i |F C_p W_p x~_i|^2 + beta_k) ],
//
// cropped to K x K around the origin, negatives set to zero and normalised to
// sum 1; a patch whose cropped values are all <= 0 gets the delta kernel and
// passes no gradient back (its output is locally constant).
//
// Every patch is zero-padded to one FFT size (fast_size of the largest
// patch), so all transforms use one cached plan pair. Forward keeps the
// weighted maps' spectra and each patch's N and D for backward: patches x 2P
// spectra of one patch each. The per-element formulas are quotient_terms.hpp's,
// which the CUDA layer's kernels (cuda/quotient.cuh) call too.
//
// Input: 2P x H x W feature maps, channels [0, P) the sharp-like x~_i and
// [P, 2P) the blurry-like y~_i (the order in which Recombine<2P> emits them).
// The callers check the input (channel count, finite values, sizes) and set
// the patches for its size.
#include <algorithm>
#include <complex>
#include <cstddef>
#include <vector>

#include "../core/tensor.hpp"
#include "../fft/fast_size.hpp"
#include "quotient_terms.hpp"

namespace deblur::detail {

template <int K, class E>
class PatchQuotient {
public:
    using scalar = typename E::scalar;
    static constexpr double beta_k = 1e-4;  // numerical stability only, not learned (Section 3.1.2)

    // One patch: rows [r0, r0 + row_weight.size()), columns [c0, c0 + col_weight.size()).
    struct Patch {
        std::size_t r0 = 0, c0 = 0;
        std::vector<scalar> row_weight, col_weight;
        std::size_t rows() const { return row_weight.size(); }
        std::size_t cols() const { return col_weight.size(); }
    };

    // The patches of h x w maps; forgets the last input.
    void set_patches(std::size_t h, std::size_t w, std::vector<Patch> patches) {
        h_ = h;
        w_ = w;
        patches_ = std::move(patches);
        std::size_t rows = 0, cols = 0;
        for (const Patch& p : patches_) {
            rows = std::max(rows, p.rows());
            cols = std::max(cols, p.cols());
        }
        hp_ = fft::fast_size(rows);
        wp_ = fft::fast_size(cols);
        last_input_.clear();
    }
    std::size_t patch_count() const { return patches_.size(); }
    // The maps' size of the last set_patches.
    std::size_t rows() const { return h_; }
    std::size_t cols() const { return w_; }

    const scalar* kernel(std::size_t q) const { return kernels_.data() + q * kk; }
    // Whether patch q's crop had no positive value (its kernel is the delta).
    bool degenerate(std::size_t q) const { return !(sums_[q] > 0); }
    std::size_t degenerate_count() const {
        return std::size_t(std::count_if(sums_.begin(), sums_.end(), [](scalar s) { return !(s > 0); }));
    }

    // Whether `in` is the input of the last compute (its spectra are kept).
    bool holds(const Tensor<scalar>& in) const {
        return !last_input_.empty() && in.shape(0) == 2 * pairs_ && in.shape(1) == h_ && in.shape(2) == w_ &&
               last_input_.size() == in.size() && std::equal(in.begin(), in.end(), last_input_.begin());
    }

    // Forward pass: every patch's kernel; keeps the spectra, N, D, the cropped values and their sums.
    // Not inlined: one compiled copy, so Quotient and EFFQuotient (1 x 1) give
    // the same bits in any program (inlined copies may contract multiply-adds differently).
    [[gnu::noinline]] void compute(const Tensor<scalar>& in) {
        prepare(in.shape(0) / 2, in.size());
        std::copy(in.begin(), in.end(), last_input_.begin());
        const std::size_t nc = spec_size();
        for (std::size_t q = 0; q < patches_.size(); ++q) {
            const Patch& patch = patches_[q];
            // Weight, crop, zero-pad, transform every map (rscratch_ is free until the inverse below).
            for (std::size_t ch = 0; ch < 2 * pairs_; ++ch) {
                scalar* p = rscratch_.data();
                const scalar* x = in.data() + ch * h_ * w_ + patch.r0 * w_ + patch.c0;
                std::fill(p, p + hp_ * wp_, scalar(0));
                for (std::size_t r = 0; r < patch.rows(); ++r)
                    for (std::size_t c = 0; c < patch.cols(); ++c)
                        p[r * wp_ + c] = (patch.row_weight[r] * patch.col_weight[c]) * x[r * w_ + c];
                E::fft::template forward<scalar>(hp_, wp_, p, spectrum(q, ch));
            }

            // N = sum conj(X_i) Y_i, D = sum |X_i|^2 + beta_k, and their quotient.
            complex* num = num_.data() + q * spec_stride();
            scalar* den = den_.data() + q * spec_stride();
            std::fill(num, num + nc, complex(0));
            std::fill(den, den + nc, static_cast<scalar>(beta_k));
            for (std::size_t i = 0; i < pairs_; ++i) {
                const complex* x = spectrum(q, i);
                const complex* y = spectrum(q, i + pairs_);
                for (std::size_t u = 0; u < nc; ++u) {
                    Complex<scalar> n = load(num, u);
                    quotient_accumulate(n, den[u], load(x, u), load(y, u));
                    store(num, u, n);
                }
            }
            for (std::size_t u = 0; u < nc; ++u) store(cscratch_.data(), u, quotient_value(load(num, u), den[u]));
            E::fft::template inverse<scalar>(hp_, wp_, cscratch_.data(), rscratch_.data());

            // Crop around the origin (normalising the inverse), clip, normalise.
            const scalar inv_m = scalar(1) / scalar(hp_ * wp_);
            scalar* cropped = cropped_.data() + q * kk;
            scalar* kernel = kernels_.data() + q * kk;
            scalar sum = 0;
            for (std::size_t a = 0; a < std::size_t(K); ++a)
                for (std::size_t b = 0; b < std::size_t(K); ++b) {
                    const scalar v = rscratch_[tap_index(a, b)] * inv_m;
                    cropped[a * K + b] = v;
                    if (v > 0) sum += v;
                }
            for (std::size_t i = 0; i < kk; ++i) kernel[i] = normalised_tap(cropped[i], sum, i == kk / 2);
            sums_[q] = sum;
        }
    }

    // Adds d<grad_out, out>/d in into grad_in (grad_out: patches x K x K) for
    // the input of the last compute (the caller recomputes when !holds(in)).
    [[gnu::noinline]] void backward(const Tensor<scalar>& grad_out, Tensor<scalar>& grad_in) {
        const std::size_t nc = spec_size();
        for (std::size_t q = 0; q < patches_.size(); ++q) {
            if (degenerate(q)) continue;
            const scalar* g = grad_out.data() + q * kk;
            const scalar* kernel = kernels_.data() + q * kk;
            const scalar* cropped = cropped_.data() + q * kk;
            const scalar sum = sums_[q];

            // Normalisation n = c+ / S: dc+ = (dn - <dn, n>) / S; clipping passes where c > 0.
            scalar dot = 0;
            for (std::size_t i = 0; i < kk; ++i) dot += g[i] * kernel[i];
            std::fill(grid_.begin(), grid_.end(), scalar(0));
            for (std::size_t a = 0; a < std::size_t(K); ++a)
                for (std::size_t b = 0; b < std::size_t(K); ++b) {
                    const std::size_t i = a * K + b;
                    if (cropped[i] > 0) grid_[tap_index(a, b)] = normalisation_gradient(g[i], dot, sum);
                }

            // Through the quotient (Appendix A), with G = F g, N, D as in
            // forward and the normalised inverse (folded into 1/M below):
            //   grad x~_j = F^-1[ conj(G) Y_j / D - 2 Re(conj(G) N) X_j / D^2 ]
            //   grad y~_j = F^-1[ G X_j / D ]
            E::fft::template forward<scalar>(hp_, wp_, grid_.data(), gspec_.data());
            const complex* num = num_.data() + q * spec_stride();
            const scalar* den = den_.data() + q * spec_stride();
            for (std::size_t u = 0; u < nc; ++u) {
                Complex<scalar> a;
                quotient_backward_terms(load(gspec_.data(), u), load(num, u), den[u], a, b_[u]);
                store(a_.data(), u, a);
            }
            const Patch& patch = patches_[q];
            for (std::size_t ch = 0; ch < 2 * pairs_; ++ch) {
                const bool sharp = ch < pairs_;
                const complex* x = spectrum(q, sharp ? ch : ch - pairs_);
                const complex* y = spectrum(q, sharp ? ch + pairs_ : ch);
                complex* out = cscratch_.data();
                if (sharp)
                    for (std::size_t u = 0; u < nc; ++u)
                        store(out, u, sharp_map_gradient(load(a_.data(), u), b_[u], load(x, u), load(y, u)));
                else
                    for (std::size_t u = 0; u < nc; ++u) store(out, u, blurry_map_gradient(load(a_.data(), u), load(x, u)));
                E::fft::template inverse<scalar>(hp_, wp_, cscratch_.data(), rscratch_.data());
                // Adjoint of weight, crop and zero padding: the patch part, weighted, back in place.
                const scalar inv_m = scalar(1) / scalar(hp_ * wp_);
                scalar* gi = grad_in.data() + ch * h_ * w_ + patch.r0 * w_ + patch.c0;
                for (std::size_t r = 0; r < patch.rows(); ++r)
                    for (std::size_t c = 0; c < patch.cols(); ++c)
                        gi[r * w_ + c] += (patch.row_weight[r] * patch.col_weight[c]) * inv_m * rscratch_[r * wp_ + c];
            }
        }
    }

private:
    using complex = std::complex<scalar>;
    template <class U>
    using buffer = typename E::fft::template vector<U>;
    static constexpr std::size_t kk = std::size_t(K) * K;

    // Per-spectrum strides rounded up so every spectrum starts SIMD-aligned.
    static std::size_t aligned(std::size_t n) { return (n + 15) / 16 * 16; }
    std::size_t spec_size() const { return hp_ * (wp_ / 2 + 1); }
    std::size_t spec_stride() const { return aligned(spec_size()); }
    complex* spectrum(std::size_t q, std::size_t ch) { return spectra_.data() + (q * 2 * pairs_ + ch) * spec_stride(); }

    std::size_t tap_index(std::size_t a, std::size_t b) const { return wrap_index(a, b, K, hp_, wp_); }

    // Sizes every buffer; allocates only when the shapes grow.
    void prepare(std::size_t pairs, std::size_t input_size) {
        pairs_ = pairs;
        const std::size_t nc = spec_size(), n = patches_.size();
        spectra_.resize(n * 2 * pairs_ * spec_stride());
        num_.resize(n * spec_stride());
        den_.resize(n * spec_stride());
        a_.resize(nc);
        b_.resize(nc);
        gspec_.resize(nc);
        cscratch_.resize(nc);
        rscratch_.resize(hp_ * wp_);
        grid_.resize(hp_ * wp_);
        cropped_.resize(n * kk);
        kernels_.resize(n * kk);
        sums_.resize(n);
        last_input_.resize(input_size);
    }

    std::vector<Patch> patches_;
    std::size_t pairs_ = 0, h_ = 0, w_ = 0, hp_ = 0, wp_ = 0;
    buffer<scalar> rscratch_, grid_, den_, b_;
    buffer<complex> spectra_, num_, a_, gspec_, cscratch_;
    std::vector<scalar> last_input_, cropped_, kernels_, sums_;  // sums_: each patch's positive crop
};

}  // namespace deblur::detail
