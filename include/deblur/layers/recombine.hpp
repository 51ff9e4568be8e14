#pragma once
// Pixel-wise linear map of the channels (a 1 x 1 convolution with bias):
//
//   out[m][r][c] = b[m] + sum_ch A[m][ch] * in[ch][r][c]
//
// A C x H x W tensor is already a C x (H*W) row-major matrix, so forward is one
// GEMM (M x C) * (C x HW) on Eigen maps of the tensors, without copies. Large
// images are split into pixel ranges, one per OpenMP thread.
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

template <int M, class E = DefaultExec>
class Recombine {
    static_assert(M > 0, "deblur::Recombine<M>: the number of output channels M must be positive");

public:
    using exec = E;
    using scalar = typename E::scalar;
    template <class E2>
    using rebind = Recombine<M, E2>;
    static std::string architecture_name() { return "Recombine<" + std::to_string(M) + ">"; }

    static constexpr int outputs = M;

    static constexpr int output_channels(int in_channels) { return in_channels < 1 ? -1 : M; }

    // Sizes A for `in_channels` inputs; A ~ N(0, 1/C) keeps unit variance, b = 0.
    void setup(std::size_t in_channels, std::mt19937_64& rng) {
        if (in_channels < 1) throw std::invalid_argument("deblur::Recombine::setup: need at least one input channel");
        channels_ = in_channels;
        params_.assign(M * channels_ + M, scalar(0));
        grads_.assign(params_.size(), scalar(0));
        std::normal_distribution<double> normal(0.0, 1.0 / std::sqrt(static_cast<double>(channels_)));
        for (std::size_t i = 0; i < M * channels_; ++i) params_[i] = static_cast<scalar>(normal(rng));
    }

    void forward(const Tensor<scalar>& in, Tensor<scalar>& out) {
        check_input(in, "forward");
        const Eigen::Index c = static_cast<Eigen::Index>(channels_);
        const Eigen::Index pixels = static_cast<Eigen::Index>(in.shape(1) * in.shape(2));
        resize(out, M, in.shape(1), in.shape(2));
        const auto a = matrix();
        const auto b = bias();
        for_each_chunk(pixels, [&](int, Eigen::Index begin, Eigen::Index count) {
            StridedMap y(out.data() + begin, M, count, Eigen::OuterStride<>(pixels));
            for (int m = 0; m < M; ++m) y.row(m).setConstant(b[m]);
            y.noalias() += a * ConstStridedMap(in.data() + begin, c, count, Eigen::OuterStride<>(pixels));
        });
    }

    // Adds dL/dA = dOut * in^T, dL/db = row sums of dOut, dL/din = A^T * dOut.
    void backward(const Tensor<scalar>& in, const Tensor<scalar>&, const Tensor<scalar>& grad_out,
                  Tensor<scalar>& grad_in) {
        check_input(in, "backward");
        detail::check_backward_shapes(in.shape(), grad_out.shape(), grad_in.shape(), static_cast<std::size_t>(M), in.shape(1),
                                      in.shape(2), "Recombine");
        const Eigen::Index c = static_cast<Eigen::Index>(channels_);
        const Eigen::Index pixels = static_cast<Eigen::Index>(in.shape(1) * in.shape(2));
        const auto a = matrix();
        const int team = for_each_chunk(pixels, [&](int chunk, Eigen::Index begin, Eigen::Index count) {
            // Chunk 0 adds into the layer's gradients, the others into their
            // own, summed below; input gradients of different pixels are disjoint.
            scalar* param_grad = chunk == 0 ? grads_.data() : partial_grads_[chunk].data();
            ConstStridedMap x(in.data() + begin, c, count, Eigen::OuterStride<>(pixels));
            ConstStridedMap dy(grad_out.data() + begin, M, count, Eigen::OuterStride<>(pixels));
            RowMajorMap(param_grad, M, c).noalias() += dy * x.transpose();
            for (int m = 0; m < M; ++m) param_grad[M * channels_ + m] += fixed_order_sum(dy.data() + m * dy.outerStride(), static_cast<std::size_t>(count));
            StridedMap(grad_in.data() + begin, c, count, Eigen::OuterStride<>(pixels)).noalias() += a.transpose() * dy;
        });
        for (int t = 1; t < team; ++t)
            for (std::size_t i = 0; i < grads_.size(); ++i) grads_[i] += partial_grads_[t][i];
    }

    // [A (M x C, row-major)..., b (M)...]
    std::span<scalar> params() { return params_; }
    std::span<scalar> param_grads() { return grads_; }
    void zero_grads() { std::fill(grads_.begin(), grads_.end(), scalar(0)); }

    std::size_t input_channels() const { return channels_; }

private:
    using RowMajor = Eigen::Matrix<scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    using Vector = Eigen::Matrix<scalar, Eigen::Dynamic, 1>;
    using RowMajorMap = Eigen::Map<RowMajor>;
    using ConstRowMajorMap = Eigen::Map<const RowMajor>;
    using StridedMap = Eigen::Map<RowMajor, 0, Eigen::OuterStride<>>;
    using ConstStridedMap = Eigen::Map<const RowMajor, 0, Eigen::OuterStride<>>;

    // Below this much work per thread a call runs on one thread.
    static constexpr double min_flops_per_thread = 4e6;
    // Pixel chunks start at multiples of this (whole cache lines).
    static constexpr Eigen::Index chunk_alignment = 64;

    // Splits the pixels into one contiguous chunk per thread (one chunk
    // inside an enclosing parallel region) and calls fn(chunk, first, count);
    // returns the number of chunks. Zeroes the parameter gradients of chunks 1, 2, ...
    template <class Fn>
    int for_each_chunk(Eigen::Index pixels, Fn&& fn) {
        const double flops = 2.0 * M * static_cast<double>(channels_) * static_cast<double>(pixels);
        int team = 1;
        if (!omp_in_parallel() && flops >= 2 * min_flops_per_thread) {
            const int by_work = static_cast<int>(std::min(flops / min_flops_per_thread, 1024.0));
            team = std::max(1, std::min(omp_get_max_threads(), by_work));
        }
        if (partial_grads_.size() < static_cast<std::size_t>(team)) partial_grads_.resize(team);
        for (int t = 1; t < team; ++t) partial_grads_[t].assign(params_.size(), scalar(0));
DEBLUR_OMP(omp parallel num_threads(team) if (team > 1))
        {
            const auto boundary = [&](int i) {
                if (i >= team) return pixels;
                return std::min(pixels, pixels * i / team / chunk_alignment * chunk_alignment);
            };
            // The runtime may grant fewer threads than asked: still cover every chunk.
            for (int t = omp_get_thread_num(); t < team; t += omp_get_num_threads())
                if (boundary(t + 1) > boundary(t)) fn(t, boundary(t), boundary(t + 1) - boundary(t));
        }
        return team;
    }

    void check_input(const Tensor<scalar>& in, const char* where) const {
        detail::check_input_channels(in.shape(), channels_, "Recombine", where);
    }

    ConstRowMajorMap matrix() const { return ConstRowMajorMap(params_.data(), M, static_cast<Eigen::Index>(channels_)); }
    Eigen::Map<const Vector> bias() const { return Eigen::Map<const Vector>(params_.data() + M * channels_, M); }

    std::size_t channels_ = 0;
    std::vector<scalar> params_;
    std::vector<scalar> grads_;
    std::vector<std::vector<scalar>> partial_grads_;  // parameter gradients of chunks 1, 2, ...
};

}  // namespace deblur
