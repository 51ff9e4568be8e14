#pragma once
// Conv<N, F> on the GPU: the specialisation of deblur::Conv for CudaExec<T>
// (protocol: deblur/cuda/cuda_exec.cuh). Same definition, parameter layout
// and initialisation as the CPU layer ('valid' cross-correlation with bias):
//
//   out[n][r][c] = b[n] + sum_{ch,i,j} w[n][ch][i][j] * in[ch][r+i][c+j],
//   params [w (N x C x F x F, row-major)..., b (N)...]
//
// Implementation: im2col + cuBLAS GEMM, by bands of output rows so the column
// buffer stays within scratch_budget() bytes. For a band of R output rows
// (Pb = R*W' pixels) the column matrix holds col[k][p] = in[ch][r+i][c+j]
// with k = (ch, i, j) -- the weights' own order -- and p = (r, c) in the band.
// Column-major, col is Pb x K (K = C*F*F, leading dimension Pb), the weights
// are W' = w^T (K x N, leading dimension K) and the band of the output is
// Pb x N with leading dimension P' = H'*W':
//   forward    Y_band += col W'                     (Y starts as the bias)
//   backward   dW' += col^T dY_band,  db += dY^T 1,
//              dcol = dY_band W'^T, then col2im adds dcol into grad_in.
// col2im gathers (one thread per input value, summing its F*F taps that lie
// in the band), so there are no atomics and results are deterministic.
#include <algorithm>
#include <cmath>
#include <cstddef>
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
#include "recombine.cuh"  // FillRows, ones, blas_int

namespace deblur {

template <int N, int F, class E>
class Conv;  // the CPU layer, deblur/layers/conv.hpp

namespace cuda::detail {

// col[k][p] = in[ch][r0 + rl + i][c + j] for k = (ch, i, j), p = (rl, c).
template <class T>
struct Im2Col {
    const T* in;
    T* col;
    std::size_t f, rows, cols, out_cols, r0, band_pixels;
    __device__ void operator()(std::size_t idx) const {
        const std::size_t k = idx / band_pixels, p = idx % band_pixels;
        const std::size_t ch = k / (f * f), ij = k % (f * f), i = ij / f, j = ij % f;
        const std::size_t rl = p / out_cols, c = p % out_cols;
        col[idx] = in[(ch * rows + r0 + rl + i) * cols + c + j];
    }
};

// The adjoint of Im2Col, added: grad_in[ch][y][x] += sum of dcol over the taps
// (i, j) with output row y - i in the band and output column x - j valid.
// idx runs over the C x (R + F - 1) x W input values the band touches.
template <class T>
struct Col2ImAdd {
    const T* dcol;
    T* grad_in;
    std::size_t f, rows, cols, out_cols, r0, band_rows, band_pixels;
    __device__ void operator()(std::size_t idx) const {
        const std::size_t span_rows = band_rows + f - 1;
        const std::size_t ch = idx / (span_rows * cols), rest = idx % (span_rows * cols);
        const std::size_t yl = rest / cols, x = rest % cols;
        T sum = T(0);
        for (std::size_t i = 0; i < f; ++i) {
            if (yl < i || yl - i >= band_rows) continue;
            const std::size_t rl = yl - i;
            for (std::size_t j = 0; j < f; ++j) {
                if (x < j || x - j >= out_cols) continue;
                const std::size_t k = (ch * f + i) * f + j;
                sum += dcol[k * band_pixels + rl * out_cols + (x - j)];
            }
        }
        grad_in[(ch * rows + r0 + yl) * cols + x] += sum;
    }
};

}  // namespace cuda::detail

template <int N, int F, class T, class Fft>
class Conv<N, F, Exec<T, Cuda, Fft>> {
    static_assert(N > 0, "deblur::Conv<N, F>: the number of filters N must be positive");
    static_assert(F > 0, "deblur::Conv<N, F>: the filter size F must be positive");

public:
    using exec = Exec<T, Cuda, Fft>;
    using scalar = T;
    using tensor = cuda::DeviceTensor<T>;
    template <class E2>
    using rebind = Conv<N, F, E2>;
    static std::string architecture_name() { return "Conv<" + std::to_string(N) + "," + std::to_string(F) + ">"; }  // as the CPU layer's: same model files

    static constexpr int filters = N;
    static constexpr int filter_size = F;
    // Default size of the column buffer (one band of output rows; backward has two).
    static constexpr std::size_t default_scratch_budget = std::size_t{256} << 20;

    static constexpr int output_channels(int in_channels) { return in_channels < 1 ? -1 : N; }

    // The CPU layer's initialisation (same draws from `rng`): w ~ N(0, 1/(C*F*F)), b = 0.
    void setup(std::size_t in_channels, std::mt19937_64& rng) {
        if (in_channels < 1) throw std::invalid_argument("deblur::Conv::setup: need at least one input channel");
        channels_ = in_channels;
        const std::size_t k = patch_size();
        std::vector<T> host(N * k + N, T(0));
        std::normal_distribution<double> normal(0.0, 1.0 / std::sqrt(static_cast<double>(k)));
        for (std::size_t i = 0; i < N * k; ++i) host[i] = static_cast<T>(normal(rng));
        params_.assign(host);
    }

    void forward(const tensor& in, tensor& out) {
        check_input(in, "forward");
        const Geometry g = geometry(in);
        resize(out, N, g.out_rows, g.out_cols);
        const int k = static_cast<int>(patch_size());
        const int ld_out = cuda::detail::blas_int(g.out_pixels(), "deblur::Conv<CudaExec>");
        cuda::for_each_index(N * g.out_pixels(), cuda::detail::FillRows<T>{bias(), out.data(), g.out_pixels()});
        col_.resize(patch_size() * g.band_rows * g.out_cols);
        for (std::size_t r0 = 0; r0 < g.out_rows; r0 += g.band_rows) {
            const std::size_t rows = std::min(g.band_rows, g.out_rows - r0);
            const std::size_t pb = rows * g.out_cols;
            unroll(in, g, r0, pb);
            cuda::Blas::gemm(false, false, static_cast<int>(pb), N, k, T(1), col_.data(), static_cast<int>(pb),
                             weights(), k, T(1), out.data() + r0 * g.out_cols, ld_out);
        }
    }

    // Adds dL/dW, dL/db into param_grads() and dL/din into grad_in.
    void backward(const tensor& in, const tensor&, const tensor& grad_out, tensor& grad_in) {
        check_input(in, "backward");
        const Geometry g = geometry(in);
        detail::check_backward_shapes(in.shape(), grad_out.shape(), grad_in.shape(), static_cast<std::size_t>(N),
                                      g.out_rows, g.out_cols, "Conv");
        const int k = static_cast<int>(patch_size());
        const int ld_out = cuda::detail::blas_int(g.out_pixels(), "deblur::Conv<CudaExec>");
        T* grads = params_.grads_data();
        cuda::Blas::gemv(true, ld_out, N, T(1), grad_out.data(), ld_out,
                         cuda::detail::ones(ones_, g.out_pixels()), T(1), grads + N * patch_size());
        const std::size_t buffer = patch_size() * g.band_rows * g.out_cols;
        col_.resize(buffer);
        dcol_.resize(buffer);
        for (std::size_t r0 = 0; r0 < g.out_rows; r0 += g.band_rows) {
            const std::size_t rows = std::min(g.band_rows, g.out_rows - r0);
            const std::size_t pb = rows * g.out_cols;
            const int pbi = static_cast<int>(pb);
            const T* dy = grad_out.data() + r0 * g.out_cols;
            unroll(in, g, r0, pb);
            cuda::Blas::gemm(true, false, k, N, pbi, T(1), col_.data(), pbi, dy, ld_out, T(1), grads, k);
            cuda::Blas::gemm(false, true, pbi, k, N, T(1), dy, ld_out, weights(), k, T(0), dcol_.data(), pbi);
            cuda::for_each_index(channels_ * (rows + F - 1) * g.cols,
                                 cuda::detail::Col2ImAdd<T>{dcol_.data(), grad_in.data(), F, g.rows, g.cols,
                                                            g.out_cols, r0, rows, pb});
        }
    }

    // [weights (N x C x F x F, row-major)..., bias (N)...] in DEVICE memory.
    std::span<T> params() { return params_.params(); }
    std::span<T> param_grads() { return params_.grads(); }

    // Host copies.
    std::size_t num_params() const { return params_.size(); }
    void get_params(std::span<T> dst) const { params_.get_params(dst, "deblur::Conv<CudaExec>"); }
    void set_params(std::span<const T> src) { params_.set_params(src, "deblur::Conv<CudaExec>"); }
    void get_param_grads(std::span<T> dst) const { params_.get_grads(dst, "deblur::Conv<CudaExec>"); }
    void set_param_grads(std::span<const T> src) { params_.set_grads(src, "deblur::Conv<CudaExec>"); }
    void zero_grads() { params_.zero_grads(); }

    std::size_t input_channels() const { return channels_; }

    // Bytes of the column buffer (one band; a band has at least one output row).
    void set_scratch_budget(std::size_t bytes) { scratch_budget_ = bytes; }
    std::size_t scratch_budget() const { return scratch_budget_; }

private:
    struct Geometry {
        std::size_t rows, cols, out_rows, out_cols, band_rows;
        std::size_t out_pixels() const { return out_rows * out_cols; }
    };

    std::size_t patch_size() const { return channels_ * F * F; }

    void check_input(const tensor& in, const char* where) const {
        detail::check_conv_input(in.shape(), channels_, static_cast<std::size_t>(F), where);
    }

    Geometry geometry(const tensor& in) const {
        Geometry g;
        g.rows = in.shape(1);
        g.cols = in.shape(2);
        g.out_rows = g.rows - F + 1;
        g.out_cols = g.cols - F + 1;
        const std::size_t row_bytes = patch_size() * g.out_cols * sizeof(T);
        g.band_rows = std::clamp<std::size_t>(scratch_budget_ / row_bytes, 1, g.out_rows);
        return g;
    }

    void unroll(const tensor& in, const Geometry& g, std::size_t r0, std::size_t band_pixels) {
        cuda::for_each_index(patch_size() * band_pixels,
                             cuda::detail::Im2Col<T>{in.data(), col_.data(), F, g.rows, g.cols, g.out_cols, r0,
                                                     band_pixels});
    }

    const T* weights() const { return params_.params_data(); }
    const T* bias() const { return params_.params_data() + N * patch_size(); }

    std::size_t channels_ = 0;
    std::size_t scratch_budget_ = default_scratch_budget;
    cuda::DeviceParams<T> params_;
    cuda::DeviceBuffer<T> col_, dcol_, ones_;
};

}  // namespace deblur
