#pragma once
// Recombine<M> on the GPU: the specialisation of deblur::Recombine for
// CudaExec<T> (protocol: deblur/cuda/cuda_exec.cuh). Same definition and
// parameter layout as the CPU layer:
//
//   out[m][r][c] = b[m] + sum_ch A[m][ch] * in[ch][r][c],  params [A (M x C, row-major)..., b (M)...]
//
// A row-major C x P feature map (P = H*W pixels) is the column-major P x C
// matrix X with leading dimension P, and A is the column-major C x M matrix
// A' = A^T (leading dimension C). Then, with cuBLAS (column-major):
//   forward    Y  = X A'            (Y initialised with the bias, beta = 1)
//   backward   dA' += X^T dY,  db += dY^T 1,  dX += dY A'^T
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "../layers/shape_checks.hpp"
#include "blas.cuh"
#include "cuda_exec.cuh"
#include "device_buffer.cuh"
#include "device_params.cuh"
#include "device_tensor.cuh"
#include "for_each_index.cuh"

namespace deblur {

template <int M, class E>
class Recombine;  // the CPU layer, deblur/layers/recombine.hpp

namespace cuda::detail {

// out[m][p] = bias[m] for the rows x pixels matrix `out`.
template <class T>
struct FillRows {
    const T* bias;
    T* out;
    std::size_t pixels;
    __device__ void operator()(std::size_t i) const { out[i] = bias[i / pixels]; }
};

template <class T>
struct FillValue {
    T* out;
    T value;
    __device__ void operator()(std::size_t i) const { out[i] = value; }
};

inline int blas_int(std::size_t n, const char* who) {
    if (n > static_cast<std::size_t>(std::numeric_limits<int>::max()))
        throw std::invalid_argument(std::string(who) + ": the tensor is too large for one cuBLAS call");
    return static_cast<int>(n);
}

// A device vector of at least n ones (for row sums as GEMV).
template <class T>
const T* ones(DeviceBuffer<T>& buffer, std::size_t n) {
    if (buffer.size() < n) {
        buffer.resize(n);
        for_each_index(n, FillValue<T>{buffer.data(), T(1)});
    }
    return buffer.data();
}

}  // namespace cuda::detail

template <int M, class T, class Fft>
class Recombine<M, Exec<T, Cuda, Fft>> {
    static_assert(M > 0, "deblur::Recombine<M>: the number of output channels M must be positive");

public:
    using exec = Exec<T, Cuda, Fft>;
    using scalar = T;
    using tensor = cuda::DeviceTensor<T>;
    template <class E2>
    using rebind = Recombine<M, E2>;
    static std::string architecture_name() { return "Recombine<" + std::to_string(M) + ">"; }  // as the CPU layer's: same model files

    static constexpr int outputs = M;

    static constexpr int output_channels(int in_channels) { return in_channels < 1 ? -1 : M; }

    // The CPU layer's initialisation (same draws from `rng`): A ~ N(0, 1/C), b = 0.
    void setup(std::size_t in_channels, std::mt19937_64& rng) {
        if (in_channels < 1) throw std::invalid_argument("deblur::Recombine::setup: need at least one input channel");
        channels_ = in_channels;
        std::vector<T> host(M * channels_ + M, T(0));
        std::normal_distribution<double> normal(0.0, 1.0 / std::sqrt(static_cast<double>(channels_)));
        for (std::size_t i = 0; i < M * channels_; ++i) host[i] = static_cast<T>(normal(rng));
        params_.assign(host);
    }

    void forward(const tensor& in, tensor& out) {
        check_input(in, "forward");
        const std::size_t pixels = in.shape(1) * in.shape(2);
        resize(out, M, in.shape(1), in.shape(2));
        if (pixels == 0) return;
        const int p = cuda::detail::blas_int(pixels, "deblur::Recombine<CudaExec>");
        const int c = static_cast<int>(channels_);
        cuda::for_each_index(M * pixels, cuda::detail::FillRows<T>{bias(), out.data(), pixels});
        cuda::Blas::gemm(false, false, p, M, c, T(1), in.data(), p, matrix(), c, T(1), out.data(), p);
    }

    // Adds dL/dA = dOut * in^T, dL/db = row sums of dOut, dL/din = A^T * dOut.
    void backward(const tensor& in, const tensor&, const tensor& grad_out, tensor& grad_in) {
        check_input(in, "backward");
        detail::check_backward_shapes(in.shape(), grad_out.shape(), grad_in.shape(), static_cast<std::size_t>(M), in.shape(1),
                                      in.shape(2), "Recombine");
        const std::size_t pixels = in.shape(1) * in.shape(2);
        if (pixels == 0) return;
        const int p = cuda::detail::blas_int(pixels, "deblur::Recombine<CudaExec>");
        const int c = static_cast<int>(channels_);
        T* grads = params_.grads_data();
        cuda::Blas::gemm(true, false, c, M, p, T(1), in.data(), p, grad_out.data(), p, T(1), grads, c);
        cuda::Blas::gemv(true, p, M, T(1), grad_out.data(), p, cuda::detail::ones(ones_, pixels), T(1),
                         grads + M * channels_);
        cuda::Blas::gemm(false, true, p, c, M, T(1), grad_out.data(), p, matrix(), c, T(1), grad_in.data(), p);
    }

    // [A (M x C, row-major)..., b (M)...] in DEVICE memory.
    std::span<T> params() { return params_.params(); }
    std::span<T> param_grads() { return params_.grads(); }

    // Host copies.
    std::size_t num_params() const { return params_.size(); }
    void get_params(std::span<T> dst) const { params_.get_params(dst, "deblur::Recombine<CudaExec>"); }
    void set_params(std::span<const T> src) { params_.set_params(src, "deblur::Recombine<CudaExec>"); }
    void get_param_grads(std::span<T> dst) const { params_.get_grads(dst, "deblur::Recombine<CudaExec>"); }
    void set_param_grads(std::span<const T> src) { params_.set_grads(src, "deblur::Recombine<CudaExec>"); }
    void zero_grads() { params_.zero_grads(); }

    std::size_t input_channels() const { return channels_; }

private:
    void check_input(const tensor& in, const char* where) const {
        detail::check_input_channels(in.shape(), channels_, "Recombine", where);
    }

    const T* matrix() const { return params_.params_data(); }
    const T* bias() const { return params_.params_data() + M * channels_; }

    std::size_t channels_ = 0;
    cuda::DeviceParams<T> params_;
    cuda::DeviceBuffer<T> ones_;
};

}  // namespace deblur
