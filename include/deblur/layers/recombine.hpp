#pragma once
// Pixel-wise linear map of the channels (a 1 x 1 convolution with bias):
//
//   out[m][r][c] = b[m] + sum_ch A[m][ch] * in[ch][r][c]
//
// A C x H x W tensor is already a C x (H*W) row-major matrix, so forward is one
// GEMM (M x C) * (C x HW) on Eigen maps of the tensors, without copies.
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
#include "../core/tensor.hpp"

namespace deblur {

template <int M, class E = DefaultExec>
class Recombine {
    static_assert(M > 0, "deblur::Recombine<M>: the number of output channels M must be positive");

public:
    using exec = E;
    using scalar = typename E::scalar;
    template <class E2>
    using rebind = Recombine<M, E2>;

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

    void forward(const Tensor<scalar>& in, Tensor<scalar>& out) const {
        check_input(in, "forward");
        const Eigen::Index pixels = static_cast<Eigen::Index>(in.shape(1) * in.shape(2));
        resize(out, M, in.shape(1), in.shape(2));
        RowMajorMap y(out.data(), M, pixels);
        const auto b = bias();
        for (int m = 0; m < M; ++m) y.row(m).setConstant(b[m]);
        y.noalias() += matrix() * ConstRowMajorMap(in.data(), static_cast<Eigen::Index>(channels_), pixels);
    }

    // Adds dL/dA = dOut * in^T, dL/db = row sums of dOut, dL/din = A^T * dOut.
    void backward(const Tensor<scalar>& in, const Tensor<scalar>&, const Tensor<scalar>& grad_out,
                  Tensor<scalar>& grad_in) {
        check_input(in, "backward");
        if (grad_out.shape(0) != static_cast<std::size_t>(M) || grad_out.shape(1) != in.shape(1) ||
            grad_out.shape(2) != in.shape(2))
            throw std::invalid_argument("deblur::Recombine::backward: grad_out must have the shape of the output");
        if (grad_in.shape() != in.shape())
            throw std::invalid_argument("deblur::Recombine::backward: grad_in must have the shape of the input");
        const Eigen::Index c = static_cast<Eigen::Index>(channels_);
        const Eigen::Index pixels = static_cast<Eigen::Index>(in.shape(1) * in.shape(2));
        ConstRowMajorMap x(in.data(), c, pixels);
        ConstRowMajorMap dy(grad_out.data(), M, pixels);
        RowMajorMap(grads_.data(), M, c).noalias() += dy * x.transpose();
        Eigen::Map<Vector>(grads_.data() + M * channels_, M) += dy.rowwise().sum();
        RowMajorMap(grad_in.data(), c, pixels).noalias() += matrix().transpose() * dy;
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

    void check_input(const Tensor<scalar>& in, const char* where) const {
        if (channels_ == 0)
            throw std::invalid_argument(std::string("deblur::Recombine::") + where + ": call setup() first");
        if (in.shape(0) != channels_)
            throw std::invalid_argument(std::string("deblur::Recombine::") + where + ": the input has " +
                                        std::to_string(in.shape(0)) + " channels, setup() was given " +
                                        std::to_string(channels_));
    }

    ConstRowMajorMap matrix() const { return ConstRowMajorMap(params_.data(), M, static_cast<Eigen::Index>(channels_)); }
    Eigen::Map<const Vector> bias() const { return Eigen::Map<const Vector>(params_.data() + M * channels_, M); }

    std::size_t channels_ = 0;
    std::vector<scalar> params_;
    std::vector<scalar> grads_;
};

}  // namespace deblur
