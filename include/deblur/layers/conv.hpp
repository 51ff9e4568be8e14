#pragma once
// Convolutional feature layer: N filters of F x F over all input channels, with
// bias, 'valid' cross-correlation (the CNN convention):
//
//   out[n][r][c] = b[n] + sum_{ch,i,j} w[n][ch][i][j] * in[ch][r+i][c+j]
//
// for an input C x H x W and an output N x (H-F+1) x (W-F+1).
//
// Implementation: im2col + GEMM. A band of output rows is unrolled into a
// column matrix (C*F*F) x (rows*W') and multiplied by the N x (C*F*F) weight
// matrix with Eigen, writing straight into the output tensor. Bands keep the
// column buffer bounded (about `column_budget_bytes`) however large the image.
// All scratch is owned by the layer, so repeated calls do not allocate and
// different Conv objects may run concurrently on different threads.
// GCC 12 reports a false -Wmaybe-uninitialized inside its own AVX-512
// intrinsics when Eigen's GEMM is inlined (GCC bug 105593); silence it for the
// Eigen headers only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "../core/exec.hpp"
#include "../core/tensor.hpp"

namespace deblur {

template <int N, int F, class E = DefaultExec>
class Conv {
    static_assert(N > 0, "deblur::Conv<N, F>: the number of filters N must be positive");
    static_assert(F > 0, "deblur::Conv<N, F>: the filter size F must be positive");

public:
    using exec = E;
    using scalar = typename E::scalar;
    template <class E2>
    using rebind = Conv<N, F, E2>;

    static constexpr int filters = N;
    static constexpr int filter_size = F;
    // Target size of the im2col buffer for one band of output rows.
    static constexpr std::size_t column_budget_bytes = std::size_t{2} << 20;

    static constexpr int output_channels(int in_channels) { return in_channels < 1 ? -1 : N; }

    // Sizes the parameters for `in_channels` input channels; weights are drawn
    // from N(0, 1/(C*F*F)) so the pre-activations start with unit variance,
    // biases start at zero.
    void setup(std::size_t in_channels, std::mt19937_64& rng) {
        if (in_channels < 1) throw std::invalid_argument("deblur::Conv::setup: need at least one input channel");
        channels_ = in_channels;
        const std::size_t k = patch_size();
        params_.assign(N * k + N, scalar(0));
        grads_.assign(params_.size(), scalar(0));
        std::normal_distribution<double> normal(0.0, 1.0 / std::sqrt(static_cast<double>(k)));
        for (std::size_t i = 0; i < N * k; ++i) params_[i] = static_cast<scalar>(normal(rng));
    }

    void forward(const Tensor<scalar>& in, Tensor<scalar>& out) {
        check_input(in, "forward");
        const Geometry g = geometry(in);
        resize(out, N, g.out_rows, g.out_cols);
        const auto weights = weight_matrix();
        const auto bias = bias_vector();
        for (std::size_t r0 = 0; r0 < g.out_rows; r0 += g.band_rows) {
            const std::size_t rows = std::min(g.band_rows, g.out_rows - r0);
            const auto cols = im2col(in, g, r0, rows);
            OutMap dst(out.data() + r0 * g.out_cols, N, static_cast<Eigen::Index>(rows * g.out_cols),
                       Eigen::OuterStride<>(static_cast<Eigen::Index>(g.out_rows * g.out_cols)));
            // Start from the bias and accumulate: Eigen's GEMM adds into its
            // destination anyway, so the bias costs no extra pass.
            for (int n = 0; n < N; ++n) dst.row(n).setConstant(bias[n]);
            dst.noalias() += weights * cols;
        }
    }

    // Adds dL/dW, dL/db into param_grads() and dL/din into grad_in.
    void backward(const Tensor<scalar>& in, const Tensor<scalar>&, const Tensor<scalar>& grad_out,
                  Tensor<scalar>& grad_in) {
        check_input(in, "backward");
        const Geometry g = geometry(in);
        if (grad_out.shape(0) != static_cast<std::size_t>(N) || grad_out.shape(1) != g.out_rows ||
            grad_out.shape(2) != g.out_cols)
            throw std::invalid_argument("deblur::Conv::backward: grad_out must have the shape of the output");
        if (grad_in.shape() != in.shape())
            throw std::invalid_argument("deblur::Conv::backward: grad_in must have the shape of the input");
        const auto weights = weight_matrix();
        const std::size_t k = patch_size();
        RowMajorMap weight_grad(grads_.data(), N, static_cast<Eigen::Index>(k));
        Eigen::Map<Vector> bias_grad(grads_.data() + N * k, N);
        for (std::size_t r0 = 0; r0 < g.out_rows; r0 += g.band_rows) {
            const std::size_t rows = std::min(g.band_rows, g.out_rows - r0);
            const Eigen::Index p = static_cast<Eigen::Index>(rows * g.out_cols);
            const auto cols = im2col(in, g, r0, rows);
            ConstOutMap dout(grad_out.data() + r0 * g.out_cols, N, p,
                             Eigen::OuterStride<>(static_cast<Eigen::Index>(g.out_rows * g.out_cols)));
            weight_grad.noalias() += dout * cols.transpose();
            bias_grad += dout.rowwise().sum();
            RowMajorMap dcols(column_grad_.data(), static_cast<Eigen::Index>(k), p);
            dcols.noalias() = weights.transpose() * dout;
            col2im_add(g, r0, rows, grad_in);
        }
    }

    // [weights (N x C*F*F, row-major)..., bias (N)...]
    std::span<scalar> params() { return params_; }
    std::span<scalar> param_grads() { return grads_; }
    void zero_grads() { std::fill(grads_.begin(), grads_.end(), scalar(0)); }

    std::size_t input_channels() const { return channels_; }

private:
    using RowMajor = Eigen::Matrix<scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    using Vector = Eigen::Matrix<scalar, Eigen::Dynamic, 1>;
    using RowMajorMap = Eigen::Map<RowMajor>;
    using ConstRowMajorMap = Eigen::Map<const RowMajor>;
    using OutMap = Eigen::Map<RowMajor, 0, Eigen::OuterStride<>>;
    using ConstOutMap = Eigen::Map<const RowMajor, 0, Eigen::OuterStride<>>;

    struct Geometry {
        std::size_t rows, cols, out_rows, out_cols, band_rows;
    };

    std::size_t patch_size() const { return channels_ * F * F; }

    void check_input(const Tensor<scalar>& in, const char* where) const {
        if (channels_ == 0)
            throw std::invalid_argument(std::string("deblur::Conv::") + where + ": call setup() first");
        if (in.shape(0) != channels_)
            throw std::invalid_argument(std::string("deblur::Conv::") + where + ": the input has " +
                                        std::to_string(in.shape(0)) + " channels, setup() was given " +
                                        std::to_string(channels_));
        if (in.shape(1) < static_cast<std::size_t>(F) || in.shape(2) < static_cast<std::size_t>(F))
            throw std::invalid_argument(std::string("deblur::Conv::") + where + ": the image (" +
                                        std::to_string(in.shape(1)) + " x " + std::to_string(in.shape(2)) +
                                        ") is smaller than the filter (" + std::to_string(F) + ")");
    }

    // Output shape and the band height, and the column buffers sized for it.
    Geometry geometry(const Tensor<scalar>& in) {
        Geometry g;
        g.rows = in.shape(1);
        g.cols = in.shape(2);
        g.out_rows = g.rows - F + 1;
        g.out_cols = g.cols - F + 1;
        const std::size_t row_bytes = patch_size() * g.out_cols * sizeof(scalar);
        g.band_rows = std::clamp<std::size_t>(column_budget_bytes / row_bytes, 1, g.out_rows);
        const std::size_t needed = patch_size() * g.band_rows * g.out_cols;
        if (columns_.size() < needed) columns_.resize(needed);
        if (column_grad_.size() < needed) column_grad_.resize(needed);
        return g;
    }

    ConstRowMajorMap weight_matrix() const {
        return ConstRowMajorMap(params_.data(), N, static_cast<Eigen::Index>(patch_size()));
    }
    Eigen::Map<const Vector> bias_vector() const { return Eigen::Map<const Vector>(params_.data() + N * patch_size(), N); }

    // columns_[(ch*F + i)*F + j][r*W' + c] = in[ch][r0+r+i][c+j] for the band of `rows` output rows at r0.
    ConstRowMajorMap im2col(const Tensor<scalar>& in, const Geometry& g, std::size_t r0, std::size_t rows) {
        const std::size_t p = rows * g.out_cols;
        const scalar* src = in.data();
        scalar* dst = columns_.data();
        for (std::size_t ch = 0; ch < channels_; ++ch)
            for (std::size_t i = 0; i < static_cast<std::size_t>(F); ++i)
                for (std::size_t j = 0; j < static_cast<std::size_t>(F); ++j) {
                    const scalar* plane = src + (ch * g.rows + r0 + i) * g.cols + j;
                    for (std::size_t r = 0; r < rows; ++r)
                        std::memcpy(dst + r * g.out_cols, plane + r * g.cols, g.out_cols * sizeof(scalar));
                    dst += p;
                }
        return ConstRowMajorMap(columns_.data(), static_cast<Eigen::Index>(patch_size()), static_cast<Eigen::Index>(p));
    }

    // The adjoint of im2col: scatters column_grad_ back onto the input, adding.
    void col2im_add(const Geometry& g, std::size_t r0, std::size_t rows, Tensor<scalar>& grad_in) const {
        const std::size_t p = rows * g.out_cols;
        const scalar* src = column_grad_.data();
        scalar* base = grad_in.data();
        for (std::size_t ch = 0; ch < channels_; ++ch)
            for (std::size_t i = 0; i < static_cast<std::size_t>(F); ++i)
                for (std::size_t j = 0; j < static_cast<std::size_t>(F); ++j) {
                    scalar* plane = base + (ch * g.rows + r0 + i) * g.cols + j;
                    for (std::size_t r = 0; r < rows; ++r) {
                        scalar* d = plane + r * g.cols;
                        const scalar* s = src + r * g.out_cols;
                        for (std::size_t c = 0; c < g.out_cols; ++c) d[c] += s[c];
                    }
                    src += p;
                }
    }

    std::size_t channels_ = 0;
    std::vector<scalar> params_;
    std::vector<scalar> grads_;
    std::vector<scalar> columns_;      // im2col of one band
    std::vector<scalar> column_grad_;  // dL/d(columns) of one band
};

}  // namespace deblur
