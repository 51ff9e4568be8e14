#pragma once
// ImageQuotient on the GPU: the specialisation of deblur::ImageQuotient for
// CudaExec<T> (protocol: deblur/cuda/cuda_exec.cuh). Same definition as the
// CPU layer (deblur/layers/image_quotient.hpp, Eq. 5): the smooth periodic
// extension of the blurry image to fast_size(H + K) x fast_size(W + K), the
// quotient conj(F k) F y / (|F k|^2 + beta_x), the crop, and the exact
// backward including d/d log(beta_x).
//
// log(beta_x) and its gradient live in device memory (params() and
// param_grads() are device spans, one value each; beta() and set_beta() copy);
// kernels read beta from there, so nothing waits for the host. One batched
// cuFFT transforms the extended image and the kernel grid together, one
// batched inverse gives both backward images.
//
// As with the CUDA Quotient, the inputs are not checked for NaN or infinity,
// and backward reuses the last forward's spectra when it gets the same kernel
// and blurry tensors (device pointers and shapes) and the parameter was not
// set since (set_beta, set_params).
#include <cmath>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "../fft/fast_size.hpp"
#include "../layers/shape_checks.hpp"
#include "cuda_exec.cuh"
#include "device_buffer.cuh"
#include "device_params.cuh"
#include "device_tensor.cuh"
#include "for_each_index.cuh"
#include "spectral.cuh"

namespace deblur {

template <class E>
class ImageQuotient;  // the CPU layer, deblur/layers/image_quotient.hpp

namespace cuda::detail {

template <class T>
__device__ inline T device_exp(T x) {
    if constexpr (sizeof(T) == sizeof(float))
        return expf(x);
    else
        return exp(x);
}

// The smooth periodic extension of y (H x W) to Hp x Wp, value by value:
// across the padding each row blends from its last value to its first, then
// each column of the result does the same.
template <class T>
struct Extend {
    const T* y;
    T* e;
    std::size_t h, w, hp, wp;
    __device__ T row_value(std::size_t r, std::size_t c) const {
        if (c < w) return y[r * w + c];
        const T t = T(c - w + 1) / T(wp - w + 1);
        return (1 - t) * y[r * w + w - 1] + t * y[r * w];
    }
    __device__ void operator()(std::size_t idx) const {
        const std::size_t r = idx / wp, c = idx % wp;
        if (r < h) {
            e[idx] = row_value(r, c);
        } else {
            const T s = T(r - h + 1) / T(hp - h + 1);
            e[idx] = (1 - s) * row_value(h - 1, c) + s * row_value(0, c);
        }
    }
};

// The kernel's taps at their grid positions (the grid is zeroed first).
template <class T>
struct ScatterKernel {
    const T* kernel;
    T* grid;
    std::size_t k, hp, wp;
    __device__ void operator()(std::size_t i) const { grid[wrap_index(i / k, i % k, k, hp, wp)] = kernel[i]; }
};

// conj(Kf) Yf / (|Kf|^2 + beta).
template <class T>
struct ImageQuotientSpectrum {
    const std::complex<T>* yspec;
    const std::complex<T>* kspec;
    const T* log_beta;
    std::complex<T>* out;
    __device__ void operator()(std::size_t u) const {
        const Complex<T> kf = load(kspec, u);
        const T d = norm(kf) + device_exp(*log_beta);
        const Complex<T> q = conj(kf) * load(yspec, u);
        store(out, u, Complex<T>{q.re / d, q.im / d});
    }
};

// The H x W top-left of the Hp x Wp grid, divided by M.
template <class T>
struct CropScaled {
    const T* grid;
    T* out;
    std::size_t w, wp;
    T inv_m;
    __device__ void operator()(std::size_t idx) const { out[idx] = grid[(idx / w) * wp + idx % w] * inv_m; }
};

// Adjoint of the crop: the gradient zero-padded to Hp x Wp.
template <class T>
struct PadGradient {
    const T* g;
    T* grid;
    std::size_t h, w, wp;
    __device__ void operator()(std::size_t idx) const {
        const std::size_t r = idx / wp, c = idx % wp;
        grid[idx] = (r < h && c < w) ? g[r * w + c] : T(0);
    }
};

// With N = conj(Kf) Yf, D = |Kf|^2 + beta (Appendix A):
//   kernel spectrum  conj(G) Yf / D - 2 Re(conj(G) N) Kf / D^2   -> out[u]
//   image spectrum   G Kf / D                                     -> out[nc + u]
//   d/dbeta term     -w Re(conj(G) N) / D^2 (w = 1 for columns that stand
//                    for themselves in the full spectrum, 2 otherwise) -> terms[u]
template <class T>
struct ImageQuotientBackward {
    const std::complex<T>* gspec;
    const std::complex<T>* yspec;
    const std::complex<T>* kspec;
    const T* log_beta;
    std::complex<T>* out;
    T* terms;
    std::size_t nc, wc, wp;
    __device__ void operator()(std::size_t u) const {
        const Complex<T> cg = conj(load(gspec, u)), kf = load(kspec, u), yf = load(yspec, u);
        const T inv_d = T(1) / (norm(kf) + device_exp(*log_beta));
        const T re = (cg * (conj(kf) * yf)).re;
        store(out, u, cg * yf * inv_d - kf * (T(2) * re * inv_d * inv_d));
        store(out, nc + u, conj(cg) * kf * inv_d);
        const std::size_t v = u % wc;
        const T weight = (v == 0 || 2 * v == wp) ? T(1) : T(2);
        terms[u] = -(weight * re * inv_d * inv_d);
    }
};

template <class T>
struct Element {
    const T* values;
    __device__ T operator()(std::size_t i) const { return values[i]; }
};

// log-beta gradient += beta * dL/dbeta / M.
template <class T>
struct AddLogBetaGradient {
    const T* log_beta;
    T* grad;
    T inv_m;
    __device__ void operator()(T dbeta) const { *grad += device_exp(*log_beta) * dbeta * inv_m; }
};

// grad_kernel += the padded-kernel gradient at the kernel's grid positions / M.
template <class T>
struct GatherKernelGradient {
    const T* grid;
    T* grad;
    std::size_t k, hp, wp;
    T inv_m;
    __device__ void operator()(std::size_t i) const { grad[i] += grid[wrap_index(i / k, i % k, k, hp, wp)] * inv_m; }
};

// Adjoint of the column blend of the extension, in place (one thread per column).
template <class T>
struct ExtendAdjointColumns {
    T* g;
    std::size_t h, hp, wp;
    __device__ void operator()(std::size_t c) const {
        const std::size_t ph = hp - h;
        T to_last = 0, to_first = 0;
        for (std::size_t i = 0; i < ph; ++i) {
            const T s = T(i + 1) / T(ph + 1), v = g[(h + i) * wp + c];
            to_last += (1 - s) * v;
            to_first += s * v;
        }
        g[(h - 1) * wp + c] += to_last;
        g[c] += to_first;
    }
};

// Adjoint of the row blend, in place (one thread per image row).
template <class T>
struct ExtendAdjointRows {
    T* g;
    std::size_t w, wp;
    __device__ void operator()(std::size_t r) const {
        const std::size_t pw = wp - w;
        T* row = g + r * wp;
        T to_last = 0, to_first = 0;
        for (std::size_t j = 0; j < pw; ++j) {
            const T t = T(j + 1) / T(pw + 1), v = row[w + j];
            to_last += (1 - t) * v;
            to_first += t * v;
        }
        row[w - 1] += to_last;
        row[0] += to_first;
    }
};

template <class T>
struct AddCropScaled {
    const T* grid;
    T* out;
    std::size_t w, wp;
    T inv_m;
    __device__ void operator()(std::size_t idx) const { out[idx] += grid[(idx / w) * wp + idx % w] * inv_m; }
};

}  // namespace cuda::detail

template <class T, class Fft>
class ImageQuotient<Exec<T, Cuda, Fft>> {
public:
    using exec = Exec<T, Cuda, Fft>;
    using scalar = T;
    using tensor = cuda::DeviceTensor<T>;
    template <class E2>
    using rebind = ImageQuotient<E2>;
    static std::string architecture_name() { return "ImageQuotient"; }  // as the CPU layer's: same model files

    static constexpr double initial_beta = 1e-2;

    // Allocates the parameter on the device (needs one).
    ImageQuotient() {
        params_.assign(std::vector<T>(1, T(0)));
        set_beta(initial_beta);
    }

    // Host copies.
    double beta() const {
        T log_beta = 0;
        params_.get_params(std::span<T>(&log_beta, 1), "deblur::ImageQuotient<CudaExec>");
        return std::exp(static_cast<double>(log_beta));
    }
    void set_beta(double beta) {
        if (!(beta > 0) || !std::isfinite(beta))
            throw std::invalid_argument("deblur::ImageQuotient: beta must be positive and finite");
        const T log_beta = static_cast<T>(std::log(beta));
        set_params(std::span<const T>(&log_beta, 1));
    }

    void forward(const tensor& kernel, const tensor& blurry, tensor& latent) {
        compute(kernel, blurry);
        resize(latent, 1, h_, w_);
        cuda::for_each_index(h_ * w_, cuda::detail::CropScaled<T>{rscratch_.data(), latent.data(), w_, wp_, inv_m()});
    }

    // Adds the gradients of <grad_latent, latent> into grad_kernel,
    // grad_blurry and the log-beta gradient.
    void backward(const tensor& kernel, const tensor& blurry, const tensor&, const tensor& grad_latent,
                  tensor& grad_kernel, tensor& grad_blurry) {
        namespace d = cuda::detail;
        detail::check_image_quotient_gradients(kernel.shape(), blurry.shape(), grad_latent.shape(), grad_kernel.shape(),
                                               grad_blurry.shape());
        if (!matches_last_inputs(kernel, blurry)) compute(kernel, blurry);
        const std::size_t nc = spec_size(), m = hp_ * wp_;
        cuda::for_each_index(m, d::PadGradient<T>{grad_latent.data(), grid_.data(), h_, w_, wp_});
        exec::fft::template forward<T>(hp_, wp_, grid_.data(), gspec_.data());
        cuda::for_each_index(nc, d::ImageQuotientBackward<T>{gspec_.data(), spectra_.data(), spectra_.data() + nc,
                                                             log_beta(), cscratch_.data(), terms_.data(), nc,
                                                             wp_ / 2 + 1, wp_});
        // One block over the spectrum: fine for training crops; large images
        // only need forward.
        d::block_sum<T>(nc, d::Element<T>{terms_.data()},
                        d::AddLogBetaGradient<T>{log_beta(), params_.grads_data(), inv_m()});
        exec::fft::template inverse_batch<T>(2, hp_, wp_, cscratch_.data(), rscratch_.data());
        cuda::for_each_index(k_ * k_, d::GatherKernelGradient<T>{rscratch_.data(), grad_kernel.data(), k_, hp_, wp_,
                                                                 inv_m()});
        T* image = rscratch_.data() + m;
        cuda::for_each_index(wp_, d::ExtendAdjointColumns<T>{image, h_, hp_, wp_});
        cuda::for_each_index(h_, d::ExtendAdjointRows<T>{image, w_, wp_});
        cuda::for_each_index(h_ * w_, d::AddCropScaled<T>{image, grad_blurry.data(), w_, wp_, inv_m()});
    }

    // [log beta] in DEVICE memory.
    std::span<T> params() { return params_.params(); }
    std::span<T> param_grads() { return params_.grads(); }

    // Host copies.
    std::size_t num_params() const { return 1; }
    void get_params(std::span<T> dst) const { params_.get_params(dst, "deblur::ImageQuotient<CudaExec>"); }
    void set_params(std::span<const T> src) {
        params_.set_params(src, "deblur::ImageQuotient<CudaExec>");
        ++params_version_;
    }
    void get_param_grads(std::span<T> dst) const { params_.get_grads(dst, "deblur::ImageQuotient<CudaExec>"); }
    void set_param_grads(std::span<const T> src) { params_.set_grads(src, "deblur::ImageQuotient<CudaExec>"); }
    void zero_grads() { params_.zero_grads(); }

private:
    std::size_t spec_size() const { return hp_ * (wp_ / 2 + 1); }
    T inv_m() const { return T(1) / T(hp_ * wp_); }
    const T* log_beta() const { return params_.params_data(); }

    static void check_inputs(const tensor& kernel, const tensor& blurry) {
        detail::check_image_quotient_shapes(kernel.shape(0), kernel.shape(1), kernel.shape(2), blurry.shape(0),
                                            blurry.shape(1), blurry.shape(2));
    }

    bool matches_last_inputs(const tensor& kernel, const tensor& blurry) const {
        return kernel.data() == last_kernel_ && blurry.data() == last_blurry_ && kernel.shape(1) == k_ &&
               kernel.shape(2) == k_ && blurry.shape(1) == h_ && blurry.shape(2) == w_ &&
               params_version_ == last_params_version_;
    }

    // Forward pass up to the unnormalised inverse (in rscratch_); keeps the
    // spectra of the extended image and of the kernel for backward.
    void compute(const tensor& kernel, const tensor& blurry) {
        namespace d = cuda::detail;
        check_inputs(kernel, blurry);
        k_ = kernel.shape(1);
        h_ = blurry.shape(1);
        w_ = blurry.shape(2);
        hp_ = fft::fast_size(h_ + k_);
        wp_ = fft::fast_size(w_ + k_);
        const std::size_t nc = spec_size(), m = hp_ * wp_;
        real_.resize(2 * m);  // [extended image | kernel grid]
        spectra_.resize(2 * nc);
        cscratch_.resize(2 * nc);
        rscratch_.resize(2 * m);
        grid_.resize(m);
        gspec_.resize(nc);
        terms_.resize(nc);
        last_kernel_ = kernel.data();
        last_blurry_ = blurry.data();
        last_params_version_ = params_version_;

        cuda::for_each_index(m, d::Extend<T>{blurry.data(), real_.data(), h_, w_, hp_, wp_});
        cuda::check(cudaMemsetAsync(real_.data() + m, 0, m * sizeof(T), cuda::current_stream()), "cudaMemsetAsync");
        cuda::for_each_index(k_ * k_, d::ScatterKernel<T>{kernel.data(), real_.data() + m, k_, hp_, wp_});
        exec::fft::template forward_batch<T>(2, hp_, wp_, real_.data(), spectra_.data());
        cuda::for_each_index(nc, d::ImageQuotientSpectrum<T>{spectra_.data(), spectra_.data() + nc, log_beta(),
                                                             cscratch_.data()});
        exec::fft::template inverse<T>(hp_, wp_, cscratch_.data(), rscratch_.data());
    }

    cuda::DeviceParams<T> params_;
    std::size_t params_version_ = 0, last_params_version_ = 0;
    std::size_t k_ = 0, h_ = 0, w_ = 0, hp_ = 0, wp_ = 0;
    const T* last_kernel_ = nullptr;
    const T* last_blurry_ = nullptr;
    cuda::DeviceBuffer<T> real_, rscratch_, grid_, terms_;
    cuda::DeviceBuffer<std::complex<T>> spectra_, cscratch_, gspec_;
};

}  // namespace deblur
