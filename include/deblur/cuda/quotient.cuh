#pragma once
// Quotient<K> on the GPU: the specialisation of deblur::Quotient for
// CudaExec<T> (protocol: deblur/cuda/cuda_exec.cuh). Same definition as the
// CPU layer (deblur/layers/quotient.hpp, Eq. 3-4 and Appendix A): Barthann
// window, zero padding to fft::fast_size, the spectral quotient with
// beta_k = 1e-4, crop around the origin, clip, normalise, a delta kernel
// (and zero gradient) when nothing is positive; the per-element formulas are
// the CPU core's (layers/quotient_terms.hpp), called from the kernels below.
//
// Device work: one batched cuFFT over the 2P windowed maps (forward), one
// batched inverse over the 2P gradient spectra (backward), element-wise
// kernels for the spectra, and one-block sums for the K x K normalisation,
// whose results stay on the device (the degenerate case is decided there too).
//
// Differences from the CPU layer, both because they would need a host round
// trip: the input is not checked for NaN or infinity (they propagate to the
// output), and backward reuses the spectra of the last forward when it gets
// the same input tensor (same device pointer and shape) without comparing
// values, so call it after forward on the unchanged input, as the network does.
#include <cstddef>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "../fft/fast_size.hpp"
#include "../layers/barthann.hpp"
#include "../layers/quotient_terms.hpp"
#include "../layers/shape_checks.hpp"
#include "cuda_exec.cuh"
#include "device_buffer.cuh"
#include "device_tensor.cuh"
#include "for_each_index.cuh"
#include "spectral.cuh"

namespace deblur {

template <int K, class E>
class Quotient;  // the CPU layer, deblur/layers/quotient.hpp

namespace cuda::detail {

// padded[ch][r][c] = window(r, c) * in[ch][r][c] inside the image, 0 in the padding.
template <class T>
struct QuotientPad {
    const T* in;
    const T* wrow;
    const T* wcol;
    T* padded;
    std::size_t h, w, hp, wp;
    __device__ void operator()(std::size_t idx) const {
        const std::size_t ch = idx / (hp * wp), rest = idx % (hp * wp), r = rest / wp, c = rest % wp;
        padded[idx] = (r < h && c < w) ? (wrow[r] * wcol[c]) * in[(ch * h + r) * w + c] : T(0);
    }
};

// N = sum_i conj(X_i) Y_i, D = sum_i |X_i|^2 + beta_k, and N / D.
template <class T>
struct QuotientSpectrum {
    const std::complex<T>* spectra;
    std::complex<T>* num;
    T* den;
    std::complex<T>* quotient;
    std::size_t pairs, nc;
    T beta;
    __device__ void operator()(std::size_t u) const {
        Complex<T> n{T(0), T(0)};
        T d = beta;
        for (std::size_t i = 0; i < pairs; ++i)
            deblur::detail::quotient_accumulate(n, d, load(spectra, i * nc + u), load(spectra, (i + pairs) * nc + u));
        store(num, u, n);
        den[u] = d;
        store(quotient, u, deblur::detail::quotient_value(n, d));
    }
};

// Tap i of the cropped, normalised inverse; its positive part is summed.
template <class T>
struct QuotientCrop {
    const T* grid;
    T* cropped;
    std::size_t k, hp, wp;
    T inv_m;
    __device__ T operator()(std::size_t i) const {
        const T v = grid[wrap_index(i / k, i % k, k, hp, wp)] * inv_m;
        cropped[i] = v;
        return v > T(0) ? v : T(0);
    }
};

template <class T>
struct StoreAt {
    T* target;
    __device__ void operator()(T s) const { *target = s; }
};

// kernel = clipped / sum, or the delta kernel when the sum is not positive.
template <class T>
struct QuotientNormalise {
    const T* cropped;
    const T* sum;
    T* kernel;
    T* out;
    std::size_t centre;
    __device__ void operator()(std::size_t i) const {
        const T v = deblur::detail::normalised_tap(cropped[i], *sum, i == centre);
        kernel[i] = v;
        out[i] = v;
    }
};

template <class T>
struct Product {
    const T* a;
    const T* b;
    __device__ T operator()(std::size_t i) const { return a[i] * b[i]; }
};

// Through the normalisation and the clipping: grid[wrap(i)] = (g - <g, n>) / S
// where the crop was positive (nothing in the degenerate case).
template <class T>
struct QuotientGridGradient {
    const T* g;
    const T* cropped;
    const T* sum;
    const T* dot;
    T* grid;
    std::size_t k, hp, wp;
    __device__ void operator()(std::size_t i) const {
        const T s = *sum;
        if (!(s > T(0)) || !(cropped[i] > T(0))) return;
        grid[wrap_index(i / k, i % k, k, hp, wp)] = deblur::detail::normalisation_gradient(g[i], *dot, s);
    }
};

// a = conj(G) / D, b = 2 Re(conj(G) N) / D^2.
template <class T>
struct QuotientBackwardTerms {
    const std::complex<T>* gspec;
    const std::complex<T>* num;
    const T* den;
    std::complex<T>* a;
    T* b;
    __device__ void operator()(std::size_t u) const {
        Complex<T> au;
        deblur::detail::quotient_backward_terms(load(gspec, u), load(num, u), den[u], au, b[u]);
        store(a, u, au);
    }
};

// grad x~_j: a Y_j - b X_j; grad y~_j: conj(a) X_j.
template <class T>
struct QuotientChannelGradient {
    const std::complex<T>* spectra;
    const std::complex<T>* a;
    const T* b;
    std::complex<T>* out;
    std::size_t pairs, nc;
    __device__ void operator()(std::size_t idx) const {
        const std::size_t ch = idx / nc, u = idx % nc;
        const Complex<T> au = load(a, u);
        if (ch < pairs)
            store(out, idx, deblur::detail::sharp_map_gradient(au, b[u], load(spectra, ch * nc + u),
                                                               load(spectra, (ch + pairs) * nc + u)));
        else
            store(out, idx, deblur::detail::blurry_map_gradient(au, load(spectra, (ch - pairs) * nc + u)));
    }
};

// Adjoint of window and zero padding, added: grad_in += window * rs / M.
template <class T>
struct QuotientAddInputGradient {
    const T* rs;
    const T* wrow;
    const T* wcol;
    T* grad_in;
    std::size_t h, w, hp, wp;
    T inv_m;
    __device__ void operator()(std::size_t idx) const {
        const std::size_t ch = idx / (h * w), rest = idx % (h * w), r = rest / w, c = rest % w;
        grad_in[idx] += (wrow[r] * wcol[c]) * inv_m * rs[ch * hp * wp + r * wp + c];
    }
};

}  // namespace cuda::detail

template <int K, class T, class Fft>
class Quotient<K, Exec<T, Cuda, Fft>> {
    static_assert(K > 0 && K % 2 == 1, "deblur::Quotient<K>: the kernel size K must be odd and positive");

public:
    using exec = Exec<T, Cuda, Fft>;
    using scalar = T;
    using tensor = cuda::DeviceTensor<T>;
    template <class E2>
    using rebind = Quotient<K, E2>;
    static std::string architecture_name() { return "Quotient<" + std::to_string(K) + ">"; }  // as the CPU layer's: same model files

    static constexpr int kernel_size = K;
    static constexpr double beta_k = 1e-4;

    static constexpr bool accepts_channels(int c) { return c >= 2 && c % 2 == 0; }
    std::size_t kernel_count() const { return 1; }

    void setup(std::size_t in_channels, std::mt19937_64&) { detail::check_quotient_channels(in_channels, "Quotient"); }

    void forward(const tensor& in, tensor& out) {
        resize(out, 1, K, K);
        compute(in, out.data());
    }

    // Adds d<grad_out, out>/d in into grad_in (see the top of this file on
    // which spectra it uses).
    void backward(const tensor& in, const tensor&, const tensor& grad_out, tensor& grad_in) {
        if (grad_out.shape(0) != 1 || grad_out.shape(1) != std::size_t(K) || grad_out.shape(2) != std::size_t(K))
            throw std::invalid_argument("deblur::Quotient: backward needs a 1 x K x K output gradient");
        if (grad_in.shape() != in.shape())
            throw std::invalid_argument("deblur::Quotient: backward needs grad_in of the input's shape");
        if (in.data() != last_input_ || in.shape() != last_shape_) compute(in, nullptr);
        namespace d = cuda::detail;
        const std::size_t kk = std::size_t(K) * K, nc = spec_size(), p = pairs_;
        d::block_sum<T>(kk, d::Product<T>{grad_out.data(), kernel_.data()}, d::StoreAt<T>{stats_.data() + 1});
        grid_.zero();
        cuda::for_each_index(kk, d::QuotientGridGradient<T>{grad_out.data(), cropped_.data(), stats_.data(),
                                                            stats_.data() + 1, grid_.data(), K, hp_, wp_});
        exec::fft::template forward<T>(hp_, wp_, grid_.data(), gspec_.data());
        cuda::for_each_index(nc, d::QuotientBackwardTerms<T>{gspec_.data(), num_.data(), den_.data(), a_.data(),
                                                             b_.data()});
        cuda::for_each_index(2 * p * nc, d::QuotientChannelGradient<T>{spectra_.data(), a_.data(), b_.data(),
                                                                       cscratch_.data(), p, nc});
        exec::fft::template inverse_batch<T>(2 * p, hp_, wp_, cscratch_.data(), padded_.data());
        cuda::for_each_index(2 * p * h_ * w_, d::QuotientAddInputGradient<T>{padded_.data(), wrow_.data(),
                                                                             wcol_.data(), grad_in.data(), h_, w_,
                                                                             hp_, wp_, inv_m()});
    }

    std::span<T> params() { return {}; }
    std::span<T> param_grads() { return {}; }
    std::size_t num_params() const { return 0; }
    void get_params(std::span<T>) const {}
    void set_params(std::span<const T>) {}
    void get_param_grads(std::span<T>) const {}
    void set_param_grads(std::span<const T>) {}
    void zero_grads() {}

    // Whether the last forward fell back to the delta kernel (waits for the stream).
    bool degenerate() const {
        T sum = 0;
        cuda::check(cudaMemcpyAsync(&sum, stats_.data(), sizeof(T), cudaMemcpyDeviceToHost, cuda::current_stream()),
                    "cudaMemcpyAsync (Quotient::degenerate)");
        cuda::check(cudaStreamSynchronize(cuda::current_stream()), "cudaStreamSynchronize");
        return !(sum > 0);
    }

private:
    std::size_t spec_size() const { return hp_ * (wp_ / 2 + 1); }
    T inv_m() const { return T(1) / T(hp_ * wp_); }

    void check_input(const tensor& in) const { detail::check_quotient_maps(in.shape(0), in.shape(1), in.shape(2), K); }

    // Sizes every buffer (allocating only when they grow) and uploads the
    // window when the map size changes.
    void prepare(const tensor& in) {
        pairs_ = in.shape(0) / 2;
        if (in.shape(1) != h_ || in.shape(2) != w_) {
            h_ = in.shape(1);
            w_ = in.shape(2);
            hp_ = fft::fast_size(h_);
            wp_ = fft::fast_size(w_);
            const std::vector<T> rows = barthann_weights<T>(h_), cols = barthann_weights<T>(w_);
            wrow_.upload(rows.data(), h_);
            wcol_.upload(cols.data(), w_);
        }
        const std::size_t nc = spec_size(), kk = std::size_t(K) * K;
        padded_.resize(2 * pairs_ * hp_ * wp_);
        spectra_.resize(2 * pairs_ * nc);
        cscratch_.resize(2 * pairs_ * nc);
        num_.resize(nc);
        den_.resize(nc);
        a_.resize(nc);
        b_.resize(nc);
        gspec_.resize(nc);
        grid_.resize(hp_ * wp_);
        cropped_.resize(kk);
        kernel_.resize(kk);
        stats_.resize(2);  // [sum of the clipped crop, <grad_out, kernel>]
    }

    // Forward pass; keeps the spectra, N, D, the crop and its sum for
    // backward. Writes the kernel to `out` too when given.
    void compute(const tensor& in, T* out) {
        namespace d = cuda::detail;
        check_input(in);
        prepare(in);
        last_input_ = in.data();
        last_shape_ = in.shape();
        const std::size_t nc = spec_size(), kk = std::size_t(K) * K;
        cuda::for_each_index(2 * pairs_ * hp_ * wp_, d::QuotientPad<T>{in.data(), wrow_.data(), wcol_.data(),
                                                                       padded_.data(), h_, w_, hp_, wp_});
        exec::fft::template forward_batch<T>(2 * pairs_, hp_, wp_, padded_.data(), spectra_.data());
        cuda::for_each_index(nc, d::QuotientSpectrum<T>{spectra_.data(), num_.data(), den_.data(), cscratch_.data(),
                                                        pairs_, nc, static_cast<T>(beta_k)});
        exec::fft::template inverse<T>(hp_, wp_, cscratch_.data(), grid_.data());
        d::block_sum<T>(kk, d::QuotientCrop<T>{grid_.data(), cropped_.data(), K, hp_, wp_, inv_m()},
                        d::StoreAt<T>{stats_.data()});
        cuda::for_each_index(kk, d::QuotientNormalise<T>{cropped_.data(), stats_.data(), kernel_.data(),
                                                         out ? out : kernel_.data(), kk / 2});
    }

    std::size_t pairs_ = 0, h_ = 0, w_ = 0, hp_ = 0, wp_ = 0;
    const T* last_input_ = nullptr;
    typename tensor::shape_type last_shape_{0, 0, 0};
    cuda::DeviceBuffer<T> wrow_, wcol_, padded_, den_, b_, grid_, cropped_, kernel_, stats_;
    cuda::DeviceBuffer<std::complex<T>> spectra_, cscratch_, num_, a_, gspec_;
};

}  // namespace deblur
