#pragma once
// The kernel estimation module for spatially-varying blur (Section 5.3,
// Eq. 7-8): one K x K kernel per patch of an EFF grid (blur/eff_grid.hpp), all
// estimated in one pass from the same feature maps as Quotient's,
//
//   k~_p = F^-1[ sum_i conj(F C_p W_p x~_i) . F C_p W_p y~_i / (sum_i |F C_p W_p x~_i|^2 + beta_k) ],
//
// cropped to K x K around the origin, negatives set to zero and normalised to
// sum 1, for every patch p. W_p is the pixel-wise weight of patch p and C_p
// crops the patch's extent (the pixels where its EFF window is non-zero).
// This is Quotient's formula (quotient.hpp) applied to the patch-weighted
// feature maps; Eq. 8 is only approximately the minimiser of Eq. 7 (the paper
// says so), the same approximation as there.
//
// The weight W_p = w_p . t_p is the EFF window w_p times a Barthann taper t_p
// over the patch's extent (barthann.hpp, as Quotient applies over the whole
// map). The taper does what it does in Quotient: the outermost EFF windows are
// 1 up to the image border, and without the taper the circular quotient would
// see the jump there. Both factors are separable, so W_p is one row vector
// (per grid row) times one column vector (per grid column), computed once per
// input size. With a 1 x 1 grid, w = 1, the extent is the whole map and the
// layer does exactly Quotient's operations: the same forward, bit for bit, and
// the same backward up to how the optimiser vectorises the spectral loops
// (about one ulp).
//
// Sharing: every patch is zero-padded to one FFT size (fast_size of the
// largest patch), so all transforms of a forward/backward use one cached plan
// pair; the spectra of the weighted maps and N, D of every patch are kept from
// forward for backward (patches x 2P spectra of one patch each: for a
// 256 x 256 map, a 4 x 4 grid and P = 4 that is about 8 MB in float). The
// feature maps themselves cannot share transforms across patches: a window is
// a product in space, i.e. a convolution of spectra.
//
// Input: 2P x H x W feature maps, channels [0, P) sharp-like, [P, 2P)
// blurry-like (as Quotient). Output: patches x K x K, kernel p for patch
// p = i * grid_cols + j (EFFBlur's kernel field layout). The grid is given in
// patches per axis (set_grid, or the constructor); its pixel geometry follows
// the input size. Every patch must be at least K x K.
//
// Degenerate patches: when no cropped value of a patch is positive its kernel
// is the delta (1 at the centre) and backward contributes zero gradient from
// it (the output is locally constant), as in Quotient.
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstddef>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "../blur/eff_grid.hpp"
#include "../core/exec.hpp"
#include "../core/tensor.hpp"
#include "../fft/fftw.hpp"  // the default policy's FFT backend
#include "../fft/fast_size.hpp"
#include "barthann.hpp"

namespace deblur {

template <int K, class E = DefaultExec>
class EFFQuotient {
    static_assert(K > 0 && K % 2 == 1, "deblur::EFFQuotient<K>: the kernel size K must be odd and positive");

public:
    using exec = E;
    using scalar = typename E::scalar;
    template <class E2>
    using rebind = EFFQuotient<K, E2>;
    // Without the grid: a model trained on one grid loads for any other.
    static std::string architecture_name() { return "EFFQuotient<" + std::to_string(K) + ">"; }

    static constexpr int kernel_size = K;
    static constexpr double beta_k = 1e-4;

    static constexpr bool accepts_channels(int c) { return c >= 2 && c % 2 == 0; }
    // One kernel per patch of the grid (set_grid, a run-time setting).
    std::size_t kernel_count() const { return patches(); }

    explicit EFFQuotient(std::size_t grid_rows = 1, std::size_t grid_cols = 1,
                         EFFGrid::Window window = EFFGrid::Window::hann) {
        set_grid(grid_rows, grid_cols, window);
    }

    // Patches per axis and the window shape; the pixel geometry follows each input.
    void set_grid(std::size_t grid_rows, std::size_t grid_cols, EFFGrid::Window window = EFFGrid::Window::hann) {
        if (grid_rows == 0 || grid_cols == 0)
            throw std::invalid_argument("deblur::EFFQuotient: the grid needs at least one patch per axis");
        grid_rows_ = grid_rows;
        grid_cols_ = grid_cols;
        window_shape_ = window;
        grid_.reset();
        last_input_.clear();  // forces a recomputation
    }
    std::size_t grid_rows() const { return grid_rows_; }
    std::size_t grid_cols() const { return grid_cols_; }
    std::size_t patches() const { return grid_rows_ * grid_cols_; }
    EFFGrid::Window window() const { return window_shape_; }
    // The grid of the last input (empty before the first forward).
    const std::optional<EFFGrid>& grid() const { return grid_; }

    void setup(std::size_t in_channels, std::mt19937_64&) {
        if (!accepts_channels(static_cast<int>(in_channels)))
            throw std::invalid_argument("deblur::EFFQuotient: needs an even number (>= 2) of input channels, got " +
                                        std::to_string(in_channels));
    }

    void forward(const Tensor<scalar>& in, Tensor<scalar>& out) {
        compute(in);
        resize(out, patches(), K, K);
        std::copy(kernels_.begin(), kernels_.end(), out.data());
    }

    // Adds d<grad_out, out>/d in into grad_in. The spectra of the last forward
    // are reused when `in` (and the grid) are unchanged since then.
    void backward(const Tensor<scalar>& in, const Tensor<scalar>&, const Tensor<scalar>& grad_out,
                  Tensor<scalar>& grad_in) {
        if (grad_out.shape(0) != patches() || grad_out.shape(1) != std::size_t(K) || grad_out.shape(2) != std::size_t(K))
            throw std::invalid_argument("deblur::EFFQuotient: backward needs a patches x K x K output gradient (" +
                                        std::to_string(patches()) + " x " + std::to_string(K) + " x " +
                                        std::to_string(K) + ")");
        if (grad_in.shape() != in.shape())
            throw std::invalid_argument("deblur::EFFQuotient: backward needs grad_in of the input's shape");
        if (!matches_last_input(in)) compute(in);

        const std::size_t kk = std::size_t(K) * K, nc = spec_size(), p2 = 2 * pairs_;
        const scalar inv_m = scalar(1) / scalar(hp_ * wp_);
        for (std::size_t q = 0; q < patches(); ++q) {
            if (degenerate_[q]) continue;
            const scalar* g = grad_out.data() + q * kk;
            const scalar* kernel = kernels_.data() + q * kk;
            const scalar* cropped = cropped_.data() + q * kk;
            const scalar sum = sums_[q];

            // Normalisation n = c+ / S: dc+ = (dn - <dn, n>) / S; clipping passes where c > 0.
            scalar dot = 0;
            for (std::size_t i = 0; i < kk; ++i) dot += g[i] * kernel[i];
            std::fill(grid_buf_.begin(), grid_buf_.end(), scalar(0));
            for (int a = 0; a < K; ++a)
                for (int b = 0; b < K; ++b) {
                    const std::size_t i = std::size_t(a) * K + b;
                    if (cropped[i] > 0) grid_buf_[wrap_index(a, b)] = (g[i] - dot) / sum;
                }

            // Through the quotient (Appendix A), as in Quotient::backward:
            //   grad x~_j = F^-1[ conj(G) Y_j / D - 2 Re(conj(G) N) X_j / D^2 ]
            //   grad y~_j = F^-1[ G X_j / D ]
            E::fft::template forward<scalar>(hp_, wp_, grid_buf_.data(), gspec_.data());
            const complex* num = num_.data() + q * spec_stride();
            const scalar* den = den_.data() + q * spec_stride();
            for (std::size_t u = 0; u < nc; ++u) {
                const complex cg = std::conj(gspec_[u]);
                const scalar inv_d = scalar(1) / den[u];
                a_[u] = cg * inv_d;
                b_[u] = scalar(2) * std::real(cg * num[u]) * inv_d * inv_d;
            }
            const Extent ext = extent(q);
            const scalar* rt = row_taper_[ext.i].data();
            const scalar* ct = col_taper_[ext.j].data();
            for (std::size_t ch = 0; ch < p2; ++ch) {
                const bool sharp = ch < pairs_;
                const complex* x = spectrum(q, sharp ? ch : ch - pairs_);
                const complex* y = spectrum(q, sharp ? ch + pairs_ : ch);
                if (sharp)
                    for (std::size_t u = 0; u < nc; ++u) cscratch_[u] = a_[u] * y[u] - b_[u] * x[u];
                else
                    for (std::size_t u = 0; u < nc; ++u) cscratch_[u] = std::conj(a_[u]) * x[u];
                E::fft::template inverse<scalar>(hp_, wp_, cscratch_.data(), rscratch_.data());
                // Adjoint of weight, crop and zero padding: the patch part, weighted, back in place.
                scalar* gi = grad_in.data() + ch * h_ * w_;
                for (std::size_t r = 0; r < ext.h; ++r)
                    for (std::size_t c = 0; c < ext.w; ++c)
                        gi[(ext.r0 + r) * w_ + ext.c0 + c] += (rt[r] * ct[c]) * inv_m * rscratch_[r * wp_ + c];
            }
        }
    }

    std::span<scalar> params() { return {}; }
    std::span<scalar> param_grads() { return {}; }

    // Whether patch p's kernel fell back to the delta in the last forward.
    bool degenerate(std::size_t p) const { return degenerate_.at(p) != 0; }
    std::size_t degenerate_count() const { return std::size_t(std::count(degenerate_.begin(), degenerate_.end(), 1)); }

private:
    using complex = std::complex<scalar>;
    template <class U>
    using buffer = typename E::fft::template vector<U>;

    struct Extent {
        std::size_t i, j, r0, c0, h, w;
    };

    // Per-patch strides rounded up so every spectrum starts SIMD-aligned.
    static std::size_t aligned(std::size_t n) { return (n + 15) / 16 * 16; }
    std::size_t spec_size() const { return hp_ * (wp_ / 2 + 1); }
    std::size_t spec_stride() const { return aligned(spec_size()); }
    complex* spectrum(std::size_t q, std::size_t ch) {
        return spectra_.data() + (q * 2 * pairs_ + ch) * spec_stride();
    }

    Extent extent(std::size_t q) const {
        const std::size_t i = grid_->grid_row(q), j = grid_->grid_col(q);
        return {i, j, grid_->row_begin(i), grid_->col_begin(j), grid_->row_end(i) - grid_->row_begin(i),
                grid_->col_end(j) - grid_->col_begin(j)};
    }

    // Grid position of kernel entry (a, b): the origin (centre) goes to (0, 0).
    std::size_t wrap_index(int a, int b) const {
        const std::size_t r = (std::size_t(a) + hp_ - K / 2) % hp_;
        const std::size_t c = (std::size_t(b) + wp_ - K / 2) % wp_;
        return r * wp_ + c;
    }

    void check_input(const Tensor<scalar>& in) const {
        const std::size_t c = in.shape(0), h = in.shape(1), w = in.shape(2);
        if (!accepts_channels(static_cast<int>(c)))
            throw std::invalid_argument("deblur::EFFQuotient: needs an even number (>= 2) of input channels, got " +
                                        std::to_string(c));
        if (grid_rows_ > h || grid_cols_ > w)
            throw std::invalid_argument("deblur::EFFQuotient: a " + std::to_string(grid_rows_) + " x " +
                                        std::to_string(grid_cols_) + " grid does not fit " + std::to_string(h) +
                                        " x " + std::to_string(w) + " feature maps");
        if (!std::all_of(in.begin(), in.end(), [](scalar v) { return std::isfinite(v); }))
            throw std::invalid_argument("deblur::EFFQuotient: the feature maps contain NaN or infinity");
    }

    bool matches_last_input(const Tensor<scalar>& in) const {
        return grid_ && in.shape(0) == 2 * pairs_ && in.shape(1) == h_ && in.shape(2) == w_ &&
               last_input_.size() == in.size() && std::equal(in.begin(), in.end(), last_input_.begin());
    }

    // The grid, its tapers and every buffer; rebuilt only when the input size or the grid changes.
    void prepare(const Tensor<scalar>& in) {
        const std::size_t h = in.shape(1), w = in.shape(2);
        pairs_ = in.shape(0) / 2;
        if (!grid_ || grid_->rows() != h || grid_->cols() != w) {
            EFFGrid g(h, w, grid_rows_, grid_cols_, window_shape_);
            std::size_t smallest_rows = h, smallest_cols = w;
            for (std::size_t i = 0; i < grid_rows_; ++i) smallest_rows = std::min(smallest_rows, g.row_end(i) - g.row_begin(i));
            for (std::size_t j = 0; j < grid_cols_; ++j) smallest_cols = std::min(smallest_cols, g.col_end(j) - g.col_begin(j));
            if (smallest_rows < std::size_t(K) || smallest_cols < std::size_t(K))
                throw std::invalid_argument("deblur::EFFQuotient: the smallest patch (" + std::to_string(smallest_rows) +
                                            " x " + std::to_string(smallest_cols) + ") of a " +
                                            std::to_string(grid_rows_) + " x " + std::to_string(grid_cols_) +
                                            " grid on " + std::to_string(h) + " x " + std::to_string(w) +
                                            " maps is smaller than the kernel (" + std::to_string(K) + ")");
            grid_.emplace(std::move(g));
            h_ = h;
            w_ = w;
            hp_ = fft::fast_size(grid_->max_patch_rows());
            wp_ = fft::fast_size(grid_->max_patch_cols());
            row_taper_.assign(grid_rows_, {});
            col_taper_.assign(grid_cols_, {});
            for (std::size_t i = 0; i < grid_rows_; ++i) row_taper_[i] = taper(grid_->row_window(i));
            for (std::size_t j = 0; j < grid_cols_; ++j) col_taper_[j] = taper(grid_->col_window(j));
        }
        const std::size_t nc = spec_size(), n = patches();
        padded_.resize(hp_ * wp_);
        spectra_.resize(n * 2 * pairs_ * spec_stride());
        num_.resize(n * spec_stride());
        den_.resize(n * spec_stride());
        a_.resize(nc);
        b_.resize(nc);
        gspec_.resize(nc);
        cscratch_.resize(nc);
        rscratch_.resize(hp_ * wp_);
        grid_buf_.resize(hp_ * wp_);
        cropped_.resize(n * K * K);
        kernels_.resize(n * K * K);
        sums_.resize(n);
        degenerate_.resize(n);
        last_input_.resize(in.size());
    }

    // EFF window times the Barthann taper over the patch's extent (one axis).
    static std::vector<scalar> taper(const std::vector<double>& window) {
        std::vector<scalar> t(window.size());
        for (std::size_t r = 0; r < window.size(); ++r)
            t[r] = static_cast<scalar>(window[r] * barthann(window.size(), r));
        return t;
    }

    // Forward pass; keeps the spectra, N, D, the cropped values and their sums for backward.
    void compute(const Tensor<scalar>& in) {
        check_input(in);
        prepare(in);
        std::copy(in.begin(), in.end(), last_input_.begin());

        const std::size_t nc = spec_size(), p2 = 2 * pairs_;
        const scalar inv_m = scalar(1) / scalar(hp_ * wp_);
        for (std::size_t q = 0; q < patches(); ++q) {
            const Extent ext = extent(q);
            const scalar* rt = row_taper_[ext.i].data();
            const scalar* ct = col_taper_[ext.j].data();
            // Weight, crop, zero-pad, transform every map.
            for (std::size_t ch = 0; ch < p2; ++ch) {
                const scalar* x = in.data() + ch * h_ * w_;
                std::fill(padded_.begin(), padded_.end(), scalar(0));
                for (std::size_t r = 0; r < ext.h; ++r)
                    for (std::size_t c = 0; c < ext.w; ++c)
                        padded_[r * wp_ + c] = (rt[r] * ct[c]) * x[(ext.r0 + r) * w_ + ext.c0 + c];
                E::fft::template forward<scalar>(hp_, wp_, padded_.data(), spectrum(q, ch));
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
                    num[u] += std::conj(x[u]) * y[u];
                    den[u] += std::norm(x[u]);
                }
            }
            for (std::size_t u = 0; u < nc; ++u) cscratch_[u] = num[u] / den[u];
            E::fft::template inverse<scalar>(hp_, wp_, cscratch_.data(), rscratch_.data());

            // Crop around the origin (normalising the inverse), clip, normalise.
            const std::size_t kk = std::size_t(K) * K;
            scalar* cropped = cropped_.data() + q * kk;
            scalar* kernel = kernels_.data() + q * kk;
            scalar sum = 0;
            for (int a = 0; a < K; ++a)
                for (int b = 0; b < K; ++b) {
                    const scalar v = rscratch_[wrap_index(a, b)] * inv_m;
                    cropped[std::size_t(a) * K + b] = v;
                    if (v > 0) sum += v;
                }
            const bool degenerate = !(sum > 0);
            for (std::size_t i = 0; i < kk; ++i)
                kernel[i] = degenerate ? scalar(0) : (cropped[i] > 0 ? cropped[i] / sum : scalar(0));
            if (degenerate) kernel[std::size_t(K / 2) * K + K / 2] = 1;
            sums_[q] = sum;
            degenerate_[q] = degenerate ? 1 : 0;
        }
    }

    std::size_t grid_rows_ = 1, grid_cols_ = 1;
    EFFGrid::Window window_shape_ = EFFGrid::Window::hann;
    std::optional<EFFGrid> grid_;
    std::vector<std::vector<scalar>> row_taper_, col_taper_;
    std::size_t pairs_ = 0, h_ = 0, w_ = 0, hp_ = 0, wp_ = 0;
    buffer<scalar> padded_, rscratch_, grid_buf_, den_, b_;
    buffer<complex> spectra_, num_, a_, gspec_, cscratch_;
    std::vector<scalar> last_input_, cropped_, kernels_, sums_;
    std::vector<unsigned char> degenerate_;
};

}  // namespace deblur
