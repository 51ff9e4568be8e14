#pragma once
// FFT backend policy on cuFFT: the static interface and conventions of
// deblur::fft::Fftw (deblur/fft/fftw.hpp), on DEVICE pointers:
//
//  - forward<T>(h, w, in, out): an h x w real image (device memory) to its
//    h x (w/2+1) half spectrum (device memory), row-major, float or double;
//  - inverse<T>(h, w, in, out): the unnormalised inverse, inverse(forward(x))
//    == h*w*x; `in` is left unchanged (cuFFT's c2r overwrites its input, so
//    the spectrum is first copied to scratch owned by the plan);
//  - forward_batch / inverse_batch: `batch` transforms of one size in one
//    cuFFT call, the images (and spectra) stored one after the other;
//  - vector<U>: the storage for spectra and scratch (DeviceBuffer<U>).
// Unlike Fftw, an h x 1 image with h > 1 is refused (std::invalid_argument).
//
// Transforms are enqueued on cuda::current_stream() and return before they
// finish. Plans are made once per (h, w, batch, direction, type, stream) and cached
// behind a mutex; one plan's use is serialised by its own mutex (cuFFT plans
// are not safe to execute from two threads at once, and a plan's work area and
// scratch belong to its stream). std::complex<T> has the layout of
// cufftComplex / cufftDoubleComplex.
//
// Plans of a stream stay cached after the stream is destroyed: call
// clear_plans() before reusing stream handles. The cache lives until clear_plans() or the end of the process; at exit the
// plans are left to the driver (destroying them after the CUDA runtime has shut
// down can crash).
#include <cufft.h>

#include <complex>
#include <cstddef>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <tuple>

#include "device_buffer.cuh"
#include "error.cuh"
#include "stream_scope.cuh"

namespace deblur::fft {

namespace detail {

template <class T>
struct cufft_api;

template <>
struct cufft_api<float> {
    using real = cufftReal;
    using complex = cufftComplex;
    static constexpr cufftType r2c = CUFFT_R2C;
    static constexpr cufftType c2r = CUFFT_C2R;
    static cufftResult exec_r2c(cufftHandle p, real* in, complex* out) { return cufftExecR2C(p, in, out); }
    static cufftResult exec_c2r(cufftHandle p, complex* in, real* out) { return cufftExecC2R(p, in, out); }
};

template <>
struct cufft_api<double> {
    using real = cufftDoubleReal;
    using complex = cufftDoubleComplex;
    static constexpr cufftType r2c = CUFFT_D2Z;
    static constexpr cufftType c2r = CUFFT_Z2D;
    static cufftResult exec_r2c(cufftHandle p, real* in, complex* out) { return cufftExecD2Z(p, in, out); }
    static cufftResult exec_c2r(cufftHandle p, complex* in, real* out) { return cufftExecZ2D(p, in, out); }
};

}  // namespace detail

class CuFft {
public:
    // Device storage for spectra and scratch.
    template <class U>
    using vector = cuda::DeviceBuffer<U>;

    // Forward transform of an h x w real image into its h x (w/2+1) half
    // spectrum; both pointers are device memory.
    template <class T>
    static void forward(std::size_t h, std::size_t w, const T* in, std::complex<T>* out) {
        forward_batch<T>(1, h, w, in, out);
    }

    // Unnormalised inverse of `forward`; `in` is left unchanged. Device pointers.
    template <class T>
    static void inverse(std::size_t h, std::size_t w, const std::complex<T>* in, T* out) {
        inverse_batch<T>(1, h, w, in, out);
    }

    // `batch` forward transforms: image i at in + i*h*w, its spectrum at
    // out + i*h*(w/2+1).
    template <class T>
    static void forward_batch(std::size_t batch, std::size_t h, std::size_t w, const T* in, std::complex<T>* out) {
        using api = detail::cufft_api<T>;
        Plan<T>& plan = plan_for<T>(h, w, batch, true);
        std::lock_guard lock(plan.mutex);
        // cuFFT's out-of-place r2c does not write its input.
        cuda::check(api::exec_r2c(plan.handle, const_cast<typename api::real*>(in),
                                  reinterpret_cast<typename api::complex*>(out)),
                    "cufftExec (forward)");
    }

    // `batch` inverse transforms (layout of forward_batch); `in` is left unchanged.
    template <class T>
    static void inverse_batch(std::size_t batch, std::size_t h, std::size_t w, const std::complex<T>* in, T* out) {
        using api = detail::cufft_api<T>;
        Plan<T>& plan = plan_for<T>(h, w, batch, false);
        const std::size_t n = batch * h * (w / 2 + 1);
        std::lock_guard lock(plan.mutex);
        cuda::check(cudaMemcpyAsync(plan.scratch.data(), in, n * sizeof(std::complex<T>), cudaMemcpyDeviceToDevice,
                                    plan.stream),
                    "cudaMemcpyAsync (CuFft::inverse)");
        cuda::check(api::exec_c2r(plan.handle, reinterpret_cast<typename api::complex*>(plan.scratch.data()),
                                  reinterpret_cast<typename api::real*>(out)),
                    "cufftExec (inverse)");
    }

    // Number of plans in the cache (for tests of plan reuse).
    template <class T>
    static std::size_t cached_plans() {
        auto& c = cache<T>();
        std::lock_guard lock(c.mutex);
        return c.plans.size();
    }

    // Destroys every cached plan (waits for the device first). No transform
    // may be running or be started meanwhile.
    static void clear_plans() {
        clear<float>();
        clear<double>();
    }

private:
    template <class T>
    struct Plan {
        cufftHandle handle = 0;
        bool made = false;  // handle is valid
        cudaStream_t stream = nullptr;
        std::mutex mutex;
        cuda::DeviceBuffer<std::complex<T>> scratch;  // the inverse's copy of its input
        Plan() = default;
        Plan(const Plan&) = delete;
        Plan& operator=(const Plan&) = delete;
        ~Plan() {
            if (made) cufftDestroy(handle);
        }
    };

    template <class T>
    struct PlanCache {
        std::mutex mutex;
        std::map<std::tuple<std::size_t, std::size_t, std::size_t, bool, cudaStream_t>, std::unique_ptr<Plan<T>>> plans;
    };

    // Never destroyed (see the top of this file).
    template <class T>
    static PlanCache<T>& cache() {
        static auto* c = new PlanCache<T>();
        return *c;
    }

    template <class T>
    static void clear() {
        auto& c = cache<T>();
        std::lock_guard lock(c.mutex);
        if (!c.plans.empty()) cudaDeviceSynchronize();
        c.plans.clear();
    }

    template <class T>
    static Plan<T>& plan_for(std::size_t h, std::size_t w, std::size_t batch, bool forward) {
        using api = detail::cufft_api<T>;
        if (h == 0 || w == 0 || batch == 0) throw std::invalid_argument("deblur::fft::CuFft: empty transform");
        constexpr auto max_int = static_cast<std::size_t>(std::numeric_limits<int>::max());
        if (h > max_int || w > max_int || batch > max_int) throw std::invalid_argument("deblur::fft::CuFft: transform too large");
        const cudaStream_t stream = cuda::current_stream();
        auto& c = cache<T>();
        std::lock_guard lock(c.mutex);
        const auto key = std::make_tuple(h, w, batch, forward, stream);
        if (auto it = c.plans.find(key); it != c.plans.end()) return *it->second;
        auto plan = std::make_unique<Plan<T>>();
        plan->stream = stream;
        if (w == 1 && h > 1)
            throw std::invalid_argument("deblur::fft::CuFft: h x 1 transforms (h > 1) are not supported");
        const cufftType type = forward ? api::r2c : api::c2r;
        // A 1 x w image is a 1-D transform with the same layout (cuFFT's 2-D
        // plans want both sizes >= 2). Null embeddings: the images and spectra
        // of a batch lie one after the other (cuFFT's default layout).
        int dims[2] = {static_cast<int>(h), static_cast<int>(w)};
        cuda::check(h == 1 ? cufftPlanMany(&plan->handle, 1, dims + 1, nullptr, 1, 0, nullptr, 1, 0, type,
                                           static_cast<int>(batch))
                           : cufftPlanMany(&plan->handle, 2, dims, nullptr, 1, 0, nullptr, 1, 0, type,
                                           static_cast<int>(batch)),
                    "cufftPlanMany");
        plan->made = true;
        cuda::check(cufftSetStream(plan->handle, stream), "cufftSetStream");
        if (!forward) {
            cuda::StreamScope on(stream);
            plan->scratch.resize(batch * h * (w / 2 + 1));
        }
        auto& ref = *plan;
        c.plans.emplace(key, std::move(plan));
        return ref;
    }
};

}  // namespace deblur::fft
