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
// input size. The math is detail::PatchQuotient's (patch_quotient.hpp), one
// patch per EFF window: with a 1 x 1 grid (w = 1, the extent the whole map)
// the layer is Quotient, bit for bit, forward and backward.
//
// Every patch is zero-padded to one FFT size (fast_size of the largest patch);
// the spectra of the weighted maps and N, D of every patch are kept from
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
#include "barthann.hpp"
#include "patch_quotient.hpp"
#include "shape_checks.hpp"

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
    static constexpr double beta_k = detail::PatchQuotient<K, E>::beta_k;

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
        grid_.reset();  // forces new patches and a recomputation
    }
    std::size_t grid_rows() const { return grid_rows_; }
    std::size_t grid_cols() const { return grid_cols_; }
    std::size_t patches() const { return grid_rows_ * grid_cols_; }
    EFFGrid::Window window() const { return window_shape_; }
    // The grid of the last input (empty before the first forward).
    const std::optional<EFFGrid>& grid() const { return grid_; }

    void setup(std::size_t in_channels, std::mt19937_64&) { detail::check_quotient_channels(in_channels, "EFFQuotient"); }

    void forward(const Tensor<scalar>& in, Tensor<scalar>& out) {
        compute(in);
        resize(out, patches(), K, K);
        std::copy(core_.kernel(0), core_.kernel(0) + patches() * std::size_t(K) * K, out.data());
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
        if (!grid_ || !core_.holds(in)) compute(in);  // a new grid since the last forward: recompute
        core_.backward(grad_out, grad_in);
    }

    std::span<scalar> params() { return {}; }
    std::span<scalar> param_grads() { return {}; }

    // Whether patch p's kernel fell back to the delta in the last forward.
    bool degenerate(std::size_t p) const {
        if (p >= core_.patch_count()) throw std::out_of_range("deblur::EFFQuotient::degenerate: no such patch");
        return core_.degenerate(p);
    }
    std::size_t degenerate_count() const { return core_.degenerate_count(); }

private:
    void check_input(const Tensor<scalar>& in) const {
        const std::size_t h = in.shape(1), w = in.shape(2);
        detail::check_quotient_channels(in.shape(0), "EFFQuotient");
        if (grid_rows_ > h || grid_cols_ > w)
            throw std::invalid_argument("deblur::EFFQuotient: a " + std::to_string(grid_rows_) + " x " +
                                        std::to_string(grid_cols_) + " grid does not fit " + std::to_string(h) +
                                        " x " + std::to_string(w) + " feature maps");
        if (!std::all_of(in.begin(), in.end(), [](scalar v) { return std::isfinite(v); }))
            throw std::invalid_argument("deblur::EFFQuotient: the feature maps contain NaN or infinity");
    }

    // The grid and the core's patches; rebuilt only when the input size or the grid changes.
    void prepare(std::size_t h, std::size_t w) {
        if (grid_ && grid_->rows() == h && grid_->cols() == w) return;
        EFFGrid g(h, w, grid_rows_, grid_cols_, window_shape_);
        std::size_t smallest_rows = h, smallest_cols = w;
        for (std::size_t i = 0; i < grid_rows_; ++i) smallest_rows = std::min(smallest_rows, g.row_end(i) - g.row_begin(i));
        for (std::size_t j = 0; j < grid_cols_; ++j) smallest_cols = std::min(smallest_cols, g.col_end(j) - g.col_begin(j));
        if (smallest_rows < std::size_t(K) || smallest_cols < std::size_t(K))
            throw std::invalid_argument("deblur::EFFQuotient: the smallest patch (" + std::to_string(smallest_rows) +
                                        " x " + std::to_string(smallest_cols) + ") of a " + std::to_string(grid_rows_) +
                                        " x " + std::to_string(grid_cols_) + " grid on " + std::to_string(h) + " x " +
                                        std::to_string(w) + " maps is smaller than the kernel (" + std::to_string(K) +
                                        ")");
        grid_.emplace(std::move(g));
        std::vector<typename detail::PatchQuotient<K, E>::Patch> patches(grid_rows_ * grid_cols_);
        for (std::size_t q = 0; q < patches.size(); ++q) {
            const std::size_t i = grid_->grid_row(q), j = grid_->grid_col(q);
            patches[q].r0 = grid_->row_begin(i);
            patches[q].c0 = grid_->col_begin(j);
            // The EFF window times the Barthann taper over the patch's extent.
            patches[q].row_weight = barthann_weights<scalar>(grid_->row_window(i));
            patches[q].col_weight = barthann_weights<scalar>(grid_->col_window(j));
        }
        core_.set_patches(h, w, std::move(patches));
    }

    void compute(const Tensor<scalar>& in) {
        check_input(in);
        prepare(in.shape(1), in.shape(2));
        core_.compute(in);
    }

    std::size_t grid_rows_ = 1, grid_cols_ = 1;
    EFFGrid::Window window_shape_ = EFFGrid::Window::hann;
    std::optional<EFFGrid> grid_;
    detail::PatchQuotient<K, E> core_;
};

}  // namespace deblur
