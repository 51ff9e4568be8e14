#pragma once
// Convolutional feature layer: N filters of F x F over all input channels, with
// bias, 'valid' cross-correlation (the CNN convention):
//
//   out[n][r][c] = b[n] + sum_{ch,i,j} w[n][ch][i][j] * in[ch][r+i][c+j]
//
// for an input C x H x W and an output N x (H-F+1) x (W-F+1).
//
// Implementation: GEMM on row-Toeplitz buffers, a lean im2col. Every input row
// is unrolled once into F shifted copies, T[row][ch][j][c] = in[ch][row][c+j];
// then the (C*F*F) x W' column matrix of output row r is the contiguous block
// of T that starts at input row r (rows r..r+F-1), ordered (i, ch, j). One
// GEMM per output row, with the weights permuted to that order, writes straight
// into the output. Plain im2col copies every input value F*F times; this copies
// it F times, and the GEMM packs the block itself anyway.
//
// Output rows are processed in bands so the buffers stay bounded (about
// scratch_budget() bytes per thread), and split into one contiguous chunk per
// OpenMP thread, each with its own buffers and Eigen single-threaded inside:
// one parallel region per call instead of Eigen's per-GEMM barriers (which
// measured far slower on a busy machine), and the copies run in parallel too.
// Called from inside a parallel region, the layer runs on the calling thread
// alone. All scratch is owned by the layer, so repeated calls do not allocate
// and different Conv objects may run concurrently on different threads.
//
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
#include "../core/fixed_order_sum.hpp"
#include "../core/openmp.hpp"
#include "../core/tensor.hpp"
#include "shape_checks.hpp"

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
    static std::string architecture_name() { return "Conv<" + std::to_string(N) + "," + std::to_string(F) + ">"; }

    static constexpr int filters = N;
    static constexpr int filter_size = F;
    // Default size of one thread's Toeplitz buffer (one band of rows).
    static constexpr std::size_t default_scratch_budget = std::size_t{2} << 20;
    // Below this much work per thread a call runs on one thread.
    static constexpr double min_flops_per_thread = 4e6;

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
        const auto weights = permuted_weights();
        const auto bias = bias_vector();
        const Eigen::OuterStride<> plane(static_cast<Eigen::Index>(g.out_rows * g.out_cols));
        for_each_chunk(g, false, [&](int, Workspace& ws, std::size_t begin, std::size_t end) {
            for (std::size_t r0 = begin; r0 < end; r0 += g.band_rows) {
                const std::size_t rows = std::min(g.band_rows, end - r0);
                unroll_rows(ws, in, g, r0, rows);
                for (std::size_t r = r0; r < r0 + rows; ++r) {
                    OutMap dst(out.data() + r * g.out_cols, N, static_cast<Eigen::Index>(g.out_cols), plane);
                    // Start from the bias and accumulate: Eigen's GEMM adds into
                    // its destination anyway, so the bias costs no extra pass.
                    for (int n = 0; n < N; ++n) dst.row(n).setConstant(bias[n]);
                    dst.noalias() += weights * column_block(ws.toeplitz.data(), g, r - r0);
                }
            }
        });
    }

    // Adds dL/dW, dL/db into param_grads() and dL/din into grad_in.
    void backward(const Tensor<scalar>& in, const Tensor<scalar>&, const Tensor<scalar>& grad_out,
                  Tensor<scalar>& grad_in) {
        check_input(in, "backward");
        const Geometry g = geometry(in);
        detail::check_backward_shapes(in.shape(), grad_out.shape(), grad_in.shape(), static_cast<std::size_t>(N),
                                      g.out_rows, g.out_cols, "Conv");
        const auto weights = permuted_weights();
        const std::size_t k = patch_size();
        const Eigen::OuterStride<> plane(static_cast<Eigen::Index>(g.out_rows * g.out_cols));
        const int team = for_each_chunk(g, true, [&](int, Workspace& ws, std::size_t begin, std::size_t end) {
            // Each chunk sums its parameter gradient (in the permuted order)
            // on its own; they are added to the layer's below.
            std::fill(ws.param_grad.begin(), ws.param_grad.end(), scalar(0));
            RowMajorMap weight_grad(ws.param_grad.data(), N, static_cast<Eigen::Index>(k));
            Eigen::Map<Vector> bias_grad(ws.param_grad.data() + N * k, N);
            // Input rows from `end` on are shared with the next chunk: they go
            // to this chunk's halo (the last chunk owns its rows alone).
            const std::size_t shared_from = end == g.out_rows ? g.rows : end;
            std::fill(ws.halo.begin(), ws.halo.end(), scalar(0));
            for (std::size_t r0 = begin; r0 < end; r0 += g.band_rows) {
                const std::size_t rows = std::min(g.band_rows, end - r0);
                unroll_rows(ws, in, g, r0, rows);
                std::fill_n(ws.toeplitz_grad.begin(), (rows + F - 1) * row_block(g), scalar(0));
                for (std::size_t r = r0; r < r0 + rows; ++r) {
                    ConstOutMap dout(grad_out.data() + r * g.out_cols, N, static_cast<Eigen::Index>(g.out_cols), plane);
                    weight_grad.noalias() += dout * column_block(ws.toeplitz.data(), g, r - r0).transpose();
                    for (int n = 0; n < N; ++n) bias_grad[n] += fixed_order_sum(dout.data() + n * dout.outerStride(), g.out_cols);
                    column_block(ws.toeplitz_grad.data(), g, r - r0).noalias() += weights.transpose() * dout;
                }
                fold_rows_add(ws, g, r0, rows, shared_from, grad_in);
            }
        });
        // Every chunk's parameter gradient (back in the public order) and the
        // shared rows, in chunk order.
        for (int t = 0; t < team; ++t) {
            const auto& part = workspaces_[t].param_grad;
            for (std::size_t n = 0; n < static_cast<std::size_t>(N); ++n)
                for (std::size_t i = 0; i < static_cast<std::size_t>(F); ++i)
                    for (std::size_t ch = 0; ch < channels_; ++ch)
                        for (std::size_t j = 0; j < static_cast<std::size_t>(F); ++j)
                            grads_[n * k + (ch * F + i) * F + j] += part[n * k + (i * channels_ + ch) * F + j];
            for (std::size_t n = 0; n < static_cast<std::size_t>(N); ++n) grads_[N * k + n] += part[N * k + n];
        }
        for (int t = 0; t + 1 < team; ++t) {
            const std::size_t first_row = chunk_begin(g, t + 1, team);
            const auto& halo = workspaces_[t].halo;
            for (std::size_t ch = 0; ch < channels_; ++ch)
                for (std::size_t i = 0; i + 1 < static_cast<std::size_t>(F); ++i) {
                    scalar* dst = grad_in.data() + (ch * g.rows + first_row + i) * g.cols;
                    const scalar* src = halo.data() + (ch * (F - 1) + i) * g.cols;
                    for (std::size_t c = 0; c < g.cols; ++c) dst[c] += src[c];
                }
        }
    }

    // [weights (N x C x F x F, row-major)..., bias (N)...]
    std::span<scalar> params() { return params_; }
    std::span<scalar> param_grads() { return grads_; }
    void zero_grads() { std::fill(grads_.begin(), grads_.end(), scalar(0)); }

    std::size_t input_channels() const { return channels_; }

    // Memory per thread for the row buffers (two of this size in backward).
    // Smaller saves memory, larger recomputes fewer shared rows between bands;
    // a band has at least F-1 rows whatever the budget.
    void set_scratch_budget(std::size_t bytes) { scratch_budget_ = bytes; }
    std::size_t scratch_budget() const { return scratch_budget_; }

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

    // Scratch of one chunk of rows: the Toeplitz rows of a band and their
    // gradient, the chunk's parameter gradient (permuted order) and the
    // gradient of the input rows it shares with the next chunk.
    struct Workspace {
        std::vector<scalar> toeplitz;
        std::vector<scalar> toeplitz_grad;
        std::vector<scalar> param_grad;
        std::vector<scalar> halo;
    };

    std::size_t patch_size() const { return channels_ * F * F; }
    // Values of T per input row: C x F x W'.
    std::size_t row_block(const Geometry& g) const { return channels_ * F * g.out_cols; }

    void check_input(const Tensor<scalar>& in, const char* where) const {
        detail::check_conv_input(in.shape(), channels_, static_cast<std::size_t>(F), where);
    }

    // A band of b output rows needs b + F - 1 Toeplitz rows.
    Geometry geometry(const Tensor<scalar>& in) const {
        Geometry g;
        g.rows = in.shape(1);
        g.cols = in.shape(2);
        g.out_rows = g.rows - F + 1;
        g.out_cols = g.cols - F + 1;
        const std::size_t fitting = scratch_budget_ / (row_block(g) * sizeof(scalar));
        const std::size_t wanted = fitting > static_cast<std::size_t>(F - 1) ? fitting - (F - 1) : 0;
        g.band_rows = std::min(std::max<std::size_t>(wanted, std::max(F - 1, 1)), g.out_rows);
        return g;
    }

    // Threads for one call: one inside an enclosing parallel region (each
    // caller thread then runs its own layer), and no more than there is work for.
    int team_size(const Geometry& g) const {
        const double flops = 2.0 * N * static_cast<double>(patch_size()) * static_cast<double>(g.out_rows * g.out_cols);
        if (omp_in_parallel() || flops < min_flops_per_thread) return 1;
        const int by_work = static_cast<int>(std::min(flops / min_flops_per_thread, 1024.0));
        return std::max(1, std::min({omp_get_max_threads(), by_work, static_cast<int>(g.out_rows)}));
    }

    static std::size_t chunk_begin(const Geometry& g, int thread, int team) {
        return g.out_rows * static_cast<std::size_t>(thread) / static_cast<std::size_t>(team);
    }

    // Splits the output rows into one contiguous chunk per thread and calls
    // fn(chunk, workspace, first_row, end_row) on each; returns the number of
    // chunks. Each chunk has its own workspace; its gradient buffers are
    // sized only for `gradients` (backward), so inference never touches them.
    template <class Fn>
    int for_each_chunk(const Geometry& g, bool gradients, Fn&& fn) {
        const int team = team_size(g);
        if (workspaces_.size() < static_cast<std::size_t>(team)) workspaces_.resize(team);
        const std::size_t buffer = (g.band_rows + F - 1) * row_block(g);
        for (int t = 0; t < team; ++t) {
            Workspace& ws = workspaces_[t];
            if (ws.toeplitz.size() < buffer) ws.toeplitz.resize(buffer);
            if (!gradients) continue;
            if (ws.toeplitz_grad.size() < buffer) ws.toeplitz_grad.resize(buffer);
            ws.param_grad.resize(params_.size());
            ws.halo.resize(channels_ * (F - 1) * g.cols);
        }
DEBLUR_OMP(omp parallel num_threads(team) if (team > 1))
        {
            // The runtime may grant fewer threads than asked: still cover every chunk.
            for (int t = omp_get_thread_num(); t < team; t += omp_get_num_threads())
                fn(t, workspaces_[t], chunk_begin(g, t, team), chunk_begin(g, t + 1, team));
        }
        return team;
    }

    // The weights as N x (F*C*F), columns ordered (i, ch, j) like the Toeplitz
    // blocks; with one channel that is the stored order.
    ConstRowMajorMap permuted_weights() {
        const std::size_t k = patch_size();
        if (channels_ == 1) return ConstRowMajorMap(params_.data(), N, static_cast<Eigen::Index>(k));
        permuted_.resize(N * k);
        for (std::size_t n = 0; n < static_cast<std::size_t>(N); ++n)
            for (std::size_t i = 0; i < static_cast<std::size_t>(F); ++i)
                for (std::size_t ch = 0; ch < channels_; ++ch)
                    for (std::size_t j = 0; j < static_cast<std::size_t>(F); ++j)
                        permuted_[n * k + (i * channels_ + ch) * F + j] = params_[n * k + (ch * F + i) * F + j];
        return ConstRowMajorMap(permuted_.data(), N, static_cast<Eigen::Index>(k));
    }
    Eigen::Map<const Vector> bias_vector() const { return Eigen::Map<const Vector>(params_.data() + N * patch_size(), N); }

    // The (F*C*F) x W' column matrix of the output row `local_row` rows into the band.
    RowMajorMap column_block(scalar* toeplitz, const Geometry& g, std::size_t local_row) const {
        return RowMajorMap(toeplitz + local_row * row_block(g), static_cast<Eigen::Index>(patch_size()),
                           static_cast<Eigen::Index>(g.out_cols));
    }

    // T[l][ch][j][c] = in[ch][r0 + l][c + j] for the rows + F - 1 input rows of the band at r0.
    void unroll_rows(Workspace& ws, const Tensor<scalar>& in, const Geometry& g, std::size_t r0,
                     std::size_t rows) const {
        scalar* dst = ws.toeplitz.data();
        for (std::size_t l = 0; l < rows + F - 1; ++l)
            for (std::size_t ch = 0; ch < channels_; ++ch) {
                const scalar* src = in.data() + (ch * g.rows + r0 + l) * g.cols;
                for (std::size_t j = 0; j < static_cast<std::size_t>(F); ++j, dst += g.out_cols)
                    std::memcpy(dst, src + j, g.out_cols * sizeof(scalar));
            }
    }

    // The adjoint of unroll_rows: adds the Toeplitz gradient onto the input
    // gradient; input rows from `shared_from` on go to ws.halo instead.
    void fold_rows_add(Workspace& ws, const Geometry& g, std::size_t r0, std::size_t rows, std::size_t shared_from,
                       Tensor<scalar>& grad_in) const {
        const scalar* src = ws.toeplitz_grad.data();
        for (std::size_t l = 0; l < rows + F - 1; ++l) {
            const std::size_t row = r0 + l;
            for (std::size_t ch = 0; ch < channels_; ++ch) {
                scalar* d = row < shared_from ? grad_in.data() + (ch * g.rows + row) * g.cols
                                              : ws.halo.data() + (ch * (F - 1) + row - shared_from) * g.cols;
                for (std::size_t j = 0; j < static_cast<std::size_t>(F); ++j, src += g.out_cols)
                    for (std::size_t c = 0; c < g.out_cols; ++c) d[c + j] += src[c];
            }
        }
    }

    std::size_t channels_ = 0;
    std::size_t scratch_budget_ = default_scratch_budget;
    std::vector<scalar> params_;
    std::vector<scalar> grads_;
    std::vector<scalar> permuted_;       // weights in the Toeplitz order (C > 1)
    std::vector<Workspace> workspaces_;  // one per chunk (thread) of the last call
};

}  // namespace deblur
