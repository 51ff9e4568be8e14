#pragma once
// The image estimation module for a kernel field (Section 5.3; the
// spatially-varying counterpart of ImageQuotient, Eq. 5): the latent image
// under the EFF model y = sum_p k_p * (w_p . x) (blur/eff.hpp), estimated
// patch-wise,
//
//   x^ = sum_p  w_p . C_p^T IQ(k_p, R_p y),
//
// where R_p cuts out the region of y around patch p (its extent on the EFF
// grid, grown by a margin of K pixels on every side, clipped to the image),
// IQ is ImageQuotient's one-step L2 deconvolution of that region with the
// patch's kernel (image_quotient.hpp: smooth periodic extension, Fourier
// quotient with the learned beta_x), C_p^T puts the extent back in place, and
// w_p is the EFF window of the patch (the windows sum to one). Near patch p
// the EFF blur is a convolution with k_p (up to the blend with the
// neighbours' kernels), so each region's quotient is right on the patch and
// the windows blend the pieces as the model blends the blurs.
//
// Why this and not a few conjugate-gradient steps on
// ||A(k) x - y||^2 + beta_x ||x||^2 with EFFBlur:
//   - it is one closed-form step, like ImageQuotient, so the backward pass is
//     exact and cheap (per patch the same Appendix-A derivatives, reusing
//     ImageQuotient's tested forward/backward), with no unrolled iterations to
//     store; a few CG steps from zero are an under-converged solution whose
//     quality depends on the step count, and exact gradients through them
//     mean differentiating every iteration;
//   - with a 1 x 1 grid it is exactly ImageQuotient (same numbers, same
//     beta_x), so a spatially-varying network can start from the uniform
//     model's weights and its learned beta_x keeps its meaning;
//   - cost: one quotient per patch on a region of about (extent + 2K)^2, i.e.
//     a few uniform image updates, independent of an iteration count.
// It is an approximation of the EFF least-squares solution where the kernels
// of neighbouring patches differ (so is Eq. 8 for the kernels); the final
// image of the tool is a non-blind EFF deconvolution, not this.
//
// The grid is given in patches per axis (set_grid); its pixel geometry
// follows the blurry image. In a Stage the kernel field comes from EFFQuotient
// with the same grid counts on the (valid-convolved, slightly smaller) feature
// maps, so patch p is the same grid cell in both; the cell centres differ by
// at most half the feature filter size.
//
// beta_x is shared by all patches and stored as log(beta_x) (params() is that
// one number), as in ImageQuotient.
//
// Two inputs, so not a FeatureLayer (as ImageQuotient):
//   forward(kernels patches x K x K, blurry 1 x H x W, latent 1 x H x W)
//   backward(kernels, blurry, latent, grad_latent, grad_kernels, grad_blurry)
// backward ADDS into grad_kernels, grad_blurry and the log-beta gradient.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "../blur/eff_grid.hpp"
#include "../core/exec.hpp"
#include "../core/tensor.hpp"
#include "image_quotient.hpp"

namespace deblur {

template <class E = DefaultExec>
class EFFImageQuotient {
public:
    using exec = E;
    using scalar = typename E::scalar;
    template <class E2>
    using rebind = EFFImageQuotient<E2>;
    static std::string architecture_name() { return "EFFImageQuotient"; }

    static constexpr double initial_beta = ImageQuotient<E>::initial_beta;

    explicit EFFImageQuotient(std::size_t grid_rows = 1, std::size_t grid_cols = 1,
                              EFFGrid::Window window = EFFGrid::Window::hann) {
        set_grid(grid_rows, grid_cols, window);
        set_beta(initial_beta);
    }

    // Patches per axis and the window shape; the pixel geometry follows each input.
    void set_grid(std::size_t grid_rows, std::size_t grid_cols, EFFGrid::Window window = EFFGrid::Window::hann) {
        if (grid_rows == 0 || grid_cols == 0)
            throw std::invalid_argument("deblur::EFFImageQuotient: the grid needs at least one patch per axis");
        grid_rows_ = grid_rows;
        grid_cols_ = grid_cols;
        window_shape_ = window;
        grid_.reset();
    }
    std::size_t grid_rows() const { return grid_rows_; }
    std::size_t grid_cols() const { return grid_cols_; }
    std::size_t patches() const { return grid_rows_ * grid_cols_; }
    EFFGrid::Window window() const { return window_shape_; }
    // The grid of the last input (empty before the first forward).
    const std::optional<EFFGrid>& grid() const { return grid_; }

    double beta() const { return std::exp(static_cast<double>(log_beta_[0])); }
    void set_beta(double beta) {
        if (!(beta > 0) || !std::isfinite(beta))
            throw std::invalid_argument("deblur::EFFImageQuotient: beta must be positive and finite");
        log_beta_[0] = static_cast<scalar>(std::log(beta));
    }

    void forward(const Tensor<scalar>& kernels, const Tensor<scalar>& blurry, Tensor<scalar>& latent) {
        check_inputs(kernels, blurry);
        prepare(kernels, blurry);
        resize(latent, 1, h_, w_);
        latent.fill(scalar(0));
        for (std::size_t q = 0; q < patches(); ++q) {
            Piece& piece = pieces_[q];
            load_piece(piece, q, kernels, blurry);
            piece.quotient.params()[0] = log_beta_[0];
            piece.quotient.forward(piece.kernel, piece.blurry, piece.latent);
            // latent[extent] += w_p . (region's latent on the extent)
            const std::vector<double>& wr = grid_->row_window(piece.i);
            const std::vector<double>& wc = grid_->col_window(piece.j);
            for (std::size_t r = 0; r < piece.h; ++r)
                for (std::size_t c = 0; c < piece.w; ++c)
                    latent(0, piece.r0 + r, piece.c0 + c) +=
                        static_cast<scalar>(wr[r] * wc[c]) * piece.latent(0, piece.r0 - piece.y0 + r, piece.c0 - piece.x0 + c);
        }
    }

    // Adds the gradients of <grad_latent, latent> into grad_kernels, grad_blurry
    // and the log-beta gradient. Each patch's quotient reuses its spectra from
    // the last forward when its inputs and beta are unchanged since then.
    void backward(const Tensor<scalar>& kernels, const Tensor<scalar>& blurry, const Tensor<scalar>&,
                  const Tensor<scalar>& grad_latent, Tensor<scalar>& grad_kernels, Tensor<scalar>& grad_blurry) {
        if (grad_latent.shape() != blurry.shape())
            throw std::invalid_argument("deblur::EFFImageQuotient: grad_latent must have the blurry image's shape");
        if (grad_kernels.shape() != kernels.shape())
            throw std::invalid_argument("deblur::EFFImageQuotient: grad_kernels must have the kernels' shape");
        if (grad_blurry.shape() != blurry.shape())
            throw std::invalid_argument("deblur::EFFImageQuotient: grad_blurry must have the blurry image's shape");
        check_inputs(kernels, blurry);
        prepare(kernels, blurry);
        const std::size_t kk = k_ * k_;
        for (std::size_t q = 0; q < patches(); ++q) {
            Piece& piece = pieces_[q];
            load_piece(piece, q, kernels, blurry);  // the quotient recomputes only if these changed
            piece.quotient.params()[0] = log_beta_[0];
            // Adjoint of window and put-back: w_p . grad_latent on the extent, zero elsewhere in the region.
            piece.grad_latent.fill(scalar(0));
            const std::vector<double>& wr = grid_->row_window(piece.i);
            const std::vector<double>& wc = grid_->col_window(piece.j);
            for (std::size_t r = 0; r < piece.h; ++r)
                for (std::size_t c = 0; c < piece.w; ++c)
                    piece.grad_latent(0, piece.r0 - piece.y0 + r, piece.c0 - piece.x0 + c) =
                        static_cast<scalar>(wr[r] * wc[c]) * grad_latent(0, piece.r0 + r, piece.c0 + c);
            piece.grad_kernel.fill(scalar(0));
            piece.grad_blurry.fill(scalar(0));
            piece.quotient.zero_grads();
            piece.quotient.backward(piece.kernel, piece.blurry, piece.latent, piece.grad_latent, piece.grad_kernel,
                                    piece.grad_blurry);
            scalar* gk = grad_kernels.data() + q * kk;
            for (std::size_t i = 0; i < kk; ++i) gk[i] += piece.grad_kernel.data()[i];
            for (std::size_t r = 0; r < piece.rh; ++r)
                for (std::size_t c = 0; c < piece.rw; ++c)
                    grad_blurry(0, piece.y0 + r, piece.x0 + c) += piece.grad_blurry(0, r, c);
            log_beta_grad_[0] += piece.quotient.param_grads()[0];
        }
    }

    std::span<scalar> params() { return log_beta_; }
    std::span<scalar> param_grads() { return log_beta_grad_; }
    void zero_grads() { log_beta_grad_[0] = 0; }

private:
    // One patch: its geometry, its region's inputs and outputs, its quotient.
    struct Piece {
        std::size_t i = 0, j = 0;          // grid row, column
        std::size_t r0 = 0, c0 = 0, h = 0, w = 0;  // extent (window non-zero)
        std::size_t y0 = 0, x0 = 0, rh = 0, rw = 0;  // region (extent plus margin, clipped)
        ImageQuotient<E> quotient;
        Tensor<scalar> kernel, blurry, latent, grad_latent, grad_kernel, grad_blurry;
    };

    void check_inputs(const Tensor<scalar>& kernels, const Tensor<scalar>& blurry) const {
        const std::size_t k = kernels.shape(1);
        if (kernels.shape(0) != patches() || kernels.shape(2) != k || k % 2 == 0)
            throw std::invalid_argument("deblur::EFFImageQuotient: the kernel field must be " +
                                        std::to_string(patches()) + " x K x K with K odd, got " +
                                        std::to_string(kernels.shape(0)) + " x " + std::to_string(kernels.shape(1)) +
                                        " x " + std::to_string(kernels.shape(2)));
        if (blurry.shape(0) != 1)
            throw std::invalid_argument("deblur::EFFImageQuotient: the blurry image must have one channel");
        if (blurry.shape(1) < k || blurry.shape(2) < k)
            throw std::invalid_argument("deblur::EFFImageQuotient: the blurry image (" +
                                        std::to_string(blurry.shape(1)) + " x " + std::to_string(blurry.shape(2)) +
                                        ") is smaller than the kernel (" + std::to_string(k) + ")");
        if (grid_rows_ > blurry.shape(1) || grid_cols_ > blurry.shape(2))
            throw std::invalid_argument("deblur::EFFImageQuotient: a " + std::to_string(grid_rows_) + " x " +
                                        std::to_string(grid_cols_) + " grid does not fit a " +
                                        std::to_string(blurry.shape(1)) + " x " + std::to_string(blurry.shape(2)) +
                                        " image");
        auto finite = [](scalar v) { return std::isfinite(v); };
        if (!std::all_of(kernels.begin(), kernels.end(), finite))
            throw std::invalid_argument("deblur::EFFImageQuotient: the kernel field contains NaN or infinity");
        if (!std::all_of(blurry.begin(), blurry.end(), finite))
            throw std::invalid_argument("deblur::EFFImageQuotient: the blurry image contains NaN or infinity");
    }

    // The grid and the pieces' geometry and buffers; rebuilt only when a size or the grid changes.
    void prepare(const Tensor<scalar>& kernels, const Tensor<scalar>& blurry) {
        const std::size_t h = blurry.shape(1), w = blurry.shape(2), k = kernels.shape(1);
        if (grid_ && grid_->rows() == h && grid_->cols() == w && k == k_) return;
        if (!grid_ || grid_->rows() != h || grid_->cols() != w) grid_.emplace(h, w, grid_rows_, grid_cols_, window_shape_);
        h_ = h;
        w_ = w;
        k_ = k;
        pieces_.resize(patches());
        for (std::size_t q = 0; q < patches(); ++q) {
            Piece& piece = pieces_[q];
            piece.i = grid_->grid_row(q);
            piece.j = grid_->grid_col(q);
            piece.r0 = grid_->row_begin(piece.i);
            piece.c0 = grid_->col_begin(piece.j);
            piece.h = grid_->row_end(piece.i) - piece.r0;
            piece.w = grid_->col_end(piece.j) - piece.c0;
            piece.y0 = piece.r0 > k ? piece.r0 - k : 0;
            piece.x0 = piece.c0 > k ? piece.c0 - k : 0;
            piece.rh = std::min(h, piece.r0 + piece.h + k) - piece.y0;
            piece.rw = std::min(w, piece.c0 + piece.w + k) - piece.x0;
            resize(piece.kernel, 1, k, k);
            resize(piece.grad_kernel, 1, k, k);
            resize(piece.blurry, 1, piece.rh, piece.rw);
            resize(piece.grad_latent, 1, piece.rh, piece.rw);
            resize(piece.grad_blurry, 1, piece.rh, piece.rw);
        }
    }

    void load_piece(Piece& piece, std::size_t q, const Tensor<scalar>& kernels, const Tensor<scalar>& blurry) const {
        const std::size_t kk = k_ * k_;
        std::copy(kernels.data() + q * kk, kernels.data() + (q + 1) * kk, piece.kernel.data());
        for (std::size_t r = 0; r < piece.rh; ++r)
            for (std::size_t c = 0; c < piece.rw; ++c) piece.blurry(0, r, c) = blurry(0, piece.y0 + r, piece.x0 + c);
    }

    std::size_t grid_rows_ = 1, grid_cols_ = 1;
    EFFGrid::Window window_shape_ = EFFGrid::Window::hann;
    std::optional<EFFGrid> grid_;
    std::size_t h_ = 0, w_ = 0, k_ = 0;
    std::vector<Piece> pieces_;
    std::array<scalar, 1> log_beta_{}, log_beta_grad_{};
};

}  // namespace deblur
