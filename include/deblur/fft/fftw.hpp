#pragma once
// FFT backend policy on FFTW 3: 2-D real-to-complex and complex-to-real
// transforms in float and double. Plans are made once per (shape, direction,
// alignment, thread count, estimated or measured), cached behind a mutex and executed with FFTW's
// new-array interface, which is thread-safe, so no plan is ever made in a hot
// loop and many threads may transform at once.
//
// Conventions (shared by every FFT policy):
//  - an H x W real image maps to an H x (W/2+1) half spectrum, row-major;
//  - transforms are unnormalised: inverse(forward(x)) == H*W*x. The layers
//    divide by H*W where they need the normalised inverse, and say so.
//  - inverse() leaves its input unchanged.
#include <fftw3.h>

#include "../core/atomic_file.hpp"

#include <complex>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

namespace deblur::fft {

namespace detail {

template <class T>
struct fftw_api;

template <>
struct fftw_api<double> {
    using plan = fftw_plan;
    using complex = fftw_complex;
    static plan r2c(int h, int w, double* in, complex* out, unsigned flags) {
        return fftw_plan_dft_r2c_2d(h, w, in, out, flags);
    }
    static plan c2r(int h, int w, complex* in, double* out, unsigned flags) {
        return fftw_plan_dft_c2r_2d(h, w, in, out, flags);
    }
    static void exec_r2c(plan p, double* in, complex* out) { fftw_execute_dft_r2c(p, in, out); }
    static void exec_c2r(plan p, complex* in, double* out) { fftw_execute_dft_c2r(p, in, out); }
    static void destroy(plan p) { fftw_destroy_plan(p); }
    static void* malloc(std::size_t n) { return fftw_malloc(n); }
    static void free(void* p) { fftw_free(p); }
    static void init_threads() { fftw_init_threads(); fftw_make_planner_thread_safe(); }
    static void plan_with_nthreads(int n) { fftw_plan_with_nthreads(n); }
    static bool import_wisdom(const char* text) { return fftw_import_wisdom_from_string(text) != 0; }
    static void forget_wisdom() { fftw_forget_wisdom(); }
    static std::string export_wisdom() {
        std::unique_ptr<char, void (*)(void*)> text(fftw_export_wisdom_to_string(), std::free);
        return text ? std::string(text.get()) : std::string();
    }
};

template <>
struct fftw_api<float> {
    using plan = fftwf_plan;
    using complex = fftwf_complex;
    static plan r2c(int h, int w, float* in, complex* out, unsigned flags) {
        return fftwf_plan_dft_r2c_2d(h, w, in, out, flags);
    }
    static plan c2r(int h, int w, complex* in, float* out, unsigned flags) {
        return fftwf_plan_dft_c2r_2d(h, w, in, out, flags);
    }
    static void exec_r2c(plan p, float* in, complex* out) { fftwf_execute_dft_r2c(p, in, out); }
    static void exec_c2r(plan p, complex* in, float* out) { fftwf_execute_dft_c2r(p, in, out); }
    static void destroy(plan p) { fftwf_destroy_plan(p); }
    static void* malloc(std::size_t n) { return fftwf_malloc(n); }
    static void free(void* p) { fftwf_free(p); }
    static void init_threads() { fftwf_init_threads(); fftwf_make_planner_thread_safe(); }
    static void plan_with_nthreads(int n) { fftwf_plan_with_nthreads(n); }
    static bool import_wisdom(const char* text) { return fftwf_import_wisdom_from_string(text) != 0; }
    static void forget_wisdom() { fftwf_forget_wisdom(); }
    static std::string export_wisdom() {
        std::unique_ptr<char, void (*)(void*)> text(fftwf_export_wisdom_to_string(), std::free);
        return text ? std::string(text.get()) : std::string();
    }
};

// SIMD-aligned allocator so that buffers owned by the policy get FFTW's fast plans.
template <class U>
struct aligned_allocator {
    using value_type = U;
    aligned_allocator() = default;
    template <class V>
    aligned_allocator(const aligned_allocator<V>&) noexcept {}
    U* allocate(std::size_t n) {
        void* p = fftw_malloc(n * sizeof(U));
        if (!p) throw std::bad_alloc();
        return static_cast<U*>(p);
    }
    void deallocate(U* p, std::size_t) noexcept { fftw_free(p); }
    template <class V>
    bool operator==(const aligned_allocator<V>&) const noexcept { return true; }
};

}  // namespace detail

class Fftw {
public:
    // Storage the layers use for spectra and scratch: aligned host memory.
    template <class U>
    using vector = std::vector<U, detail::aligned_allocator<U>>;

    // Threads FFTW may use inside one transform (plans are cached per count).
    // Use 1 when the caller already runs transforms in parallel. Transforms
    // smaller than min_threaded_size pixels always run on one thread: there
    // the threads' start-up costs more than they save (a 288^2 transform took
    // 2-3x as long with 2 threads as with 1 on the 2-core machine).
    static constexpr std::size_t min_threaded_size = 512 * 512;
    static void set_threads(int n) { settings().threads = n < 1 ? 1 : n; }
    static int threads() { return settings().threads; }

    // Plans for new sizes from now on: estimated (the default: instant, the
    // same algorithm every run) or measured (FFTW_MEASURE: FFTW times
    // candidate algorithms, which takes seconds per new size, then
    // transforms run up to ~2x faster: BENCHMARKS.md, "Memory and FFT
    // plans"). Measured plans may differ from run to run, and so may the last
    // bits of results; keep them between runs with save_wisdom / load_wisdom.
    static void set_measure(bool measure) { settings().measure = measure; }
    static bool measure() { return settings().measure; }

    // FFTW's wisdom (the measured plans) of precision T, kept in a text file.
    // load_wisdom returns false if the file does not exist and throws
    // std::runtime_error if it cannot be read or is not FFTW wisdom of this
    // precision and version; save_wisdom writes atomically.
    template <class T = float>
    static bool load_wisdom(const std::filesystem::path& file) {
        if (!std::filesystem::exists(file)) return false;
        std::ifstream in(file, std::ios::binary);
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (!in && !in.eof()) throw std::runtime_error("deblur::fft::Fftw: cannot read wisdom file " + file.string());
        if (!import_wisdom<T>(text.c_str()))
            throw std::runtime_error("deblur::fft::Fftw: " + file.string() +
                                     " is not FFTW wisdom of this precision and FFTW version");
        return true;
    }

    // Adds FFTW wisdom of precision T from text; false (and nothing added)
    // when it is not wisdom of this precision and FFTW version. Plans made
    // from then on use it whether estimated or measured: FFTW_ESTIMATE takes
    // any wisdom it has for a problem.
    template <class T = float>
    static bool import_wisdom(const char* text) {
        auto& c = cache<T>();
        std::lock_guard lock(c.mutex);
        init_threads(c);  // before any planner call, wisdom included
        return detail::fftw_api<T>::import_wisdom(text);
    }

    // Forgets FFTW's wisdom of precision T (imported or accumulated): plans
    // made from then on are estimated or measured afresh; cached plans stay.
    // (import_shipped_wisdom imports once per process: it does not bring the
    // shipped plans back.)
    template <class T = float>
    static void forget_wisdom() {
        auto& c = cache<T>();
        std::lock_guard lock(c.mutex);
        detail::fftw_api<T>::forget_wisdom();
    }

    // Whether FFTW has wisdom for the transform that forward (or inverse)
    // on an h x w image of aligned arrays would plan now (with the thread
    // count it would use), so that its plan costs no planning time.
    template <class T = float>
    static bool has_wisdom(std::size_t h, std::size_t w, bool forward) {
        auto& c = cache<T>();
        std::lock_guard lock(c.mutex);
        auto p = make_plan_locked<T>(h, w, forward, true, threads_for(h, w), FFTW_ESTIMATE | FFTW_WISDOM_ONLY);
        if (p) detail::fftw_api<T>::destroy(p);
        return p != nullptr;
    }
    template <class T = float>
    static void save_wisdom(const std::filesystem::path& file) {
        std::string text;
        {
            auto& c = cache<T>();
            std::lock_guard lock(c.mutex);
            text = detail::fftw_api<T>::export_wisdom();
        }
        write_file_atomically(file, text);
    }

    // Forward transform of an h x w real image into its h x (w/2+1) half spectrum.
    template <class T>
    static void forward(std::size_t h, std::size_t w, const T* in, std::complex<T>* out) {
        using api = detail::fftw_api<T>;
        auto* cin = const_cast<T*>(in);  // FFTW's r2c does not write its input
        auto* cout = reinterpret_cast<typename api::complex*>(out);
        api::exec_r2c(plan_for<T>(h, w, true, aligned(in) && aligned(out)), cin, cout);
    }

    // Unnormalised inverse of `forward`; `in` is left unchanged.
    template <class T>
    static void inverse(std::size_t h, std::size_t w, const std::complex<T>* in, T* out) {
        using api = detail::fftw_api<T>;
        // FFTW's multi-dimensional c2r destroys its input: work on a per-thread copy.
        thread_local vector<std::complex<T>> scratch;
        const std::size_t n = h * (w / 2 + 1);
        if (scratch.size() < n) scratch.resize(n);
        std::memcpy(static_cast<void*>(scratch.data()), in, n * sizeof(std::complex<T>));
        auto* cin = reinterpret_cast<typename api::complex*>(scratch.data());
        api::exec_c2r(plan_for<T>(h, w, false, aligned(out)), cin, out);
    }

    // As `inverse`, but `in` may be overwritten: saves the copy when the
    // caller no longer needs the spectrum.
    template <class T>
    static void inverse_destroying(std::size_t h, std::size_t w, std::complex<T>* in, T* out) {
        using api = detail::fftw_api<T>;
        if (!aligned(in)) return inverse<T>(h, w, in, out);
        api::exec_c2r(plan_for<T>(h, w, false, aligned(out)), reinterpret_cast<typename api::complex*>(in), out);
    }

    // Number of plans in the cache (for tests of plan reuse).
    template <class T>
    static std::size_t cached_plans() {
        auto& c = cache<T>();
        std::lock_guard lock(c.mutex);
        return c.plans.size();
    }

private:
    struct Settings {
        int threads = 1;
        bool measure = false;
    };
    static Settings& settings() {
        static Settings s;
        return s;
    }

    static bool aligned(const void* p) { return fftw_alignment_of(static_cast<double*>(const_cast<void*>(p))) == 0; }

    template <class T>
    struct PlanCache {
        using plan = typename detail::fftw_api<T>::plan;
        std::mutex mutex;
        std::map<std::tuple<std::size_t, std::size_t, bool, bool, int, bool>, plan> plans;
        bool threads_ready = false;
        ~PlanCache() {
            for (auto& [key, p] : plans) detail::fftw_api<T>::destroy(p);
        }
    };

    template <class T>
    static PlanCache<T>& cache() {
        static PlanCache<T> c;
        return c;
    }

    // FFTW's threads, set up once per precision (the caller holds c.mutex).
    template <class T>
    static void init_threads(PlanCache<T>& c) {
        if (c.threads_ready) return;
        detail::fftw_api<T>::init_threads();
        c.threads_ready = true;
    }

    template <class T>
    static typename detail::fftw_api<T>::plan plan_for(std::size_t h, std::size_t w, bool forward, bool is_aligned) {
        if (h == 0 || w == 0) throw std::invalid_argument("deblur::fft::Fftw: empty transform");
        auto& c = cache<T>();
        const int nthreads = threads_for(h, w);
        const bool measured = measure();
        std::lock_guard lock(c.mutex);
        const auto key = std::make_tuple(h, w, forward, is_aligned, nthreads, measured);
        if (auto it = c.plans.find(key); it != c.plans.end()) return it->second;
        auto p = make_plan_locked<T>(h, w, forward, is_aligned, nthreads, measured ? FFTW_MEASURE : FFTW_ESTIMATE);
        if (!p) throw std::runtime_error("deblur::fft::Fftw: FFTW could not make a plan");
        c.plans.emplace(key, p);
        return p;
    }

    static int threads_for(std::size_t h, std::size_t w) { return h * w < min_threaded_size ? 1 : threads(); }

    // A new plan (the caller owns it; null when FFTW makes none, as with
    // FFTW_WISDOM_ONLY and no wisdom). The caller holds the cache's mutex.
    template <class T>
    static typename detail::fftw_api<T>::plan make_plan_locked(std::size_t h, std::size_t w, bool forward, bool is_aligned,
                                                               int nthreads, unsigned flags) {
        using api = detail::fftw_api<T>;
        init_threads(cache<T>());
        api::plan_with_nthreads(nthreads);
        // Planning arrays: ESTIMATE does not touch them, MEASURE overwrites them; they fix the alignment.
        const std::size_t nc = h * (w / 2 + 1);
        std::unique_ptr<void, void (*)(void*)> real(api::malloc(sizeof(T) * 2 * nc), api::free);
        std::unique_ptr<void, void (*)(void*)> cplx(api::malloc(sizeof(typename api::complex) * nc), api::free);
        if (!real || !cplx) throw std::bad_alloc();
        flags |= is_aligned ? 0u : FFTW_UNALIGNED;
        const int hi = static_cast<int>(h), wi = static_cast<int>(w);
        return forward ? api::r2c(hi, wi, static_cast<T*>(real.get()), static_cast<typename api::complex*>(cplx.get()), flags)
                       : api::c2r(hi, wi, static_cast<typename api::complex*>(cplx.get()), static_cast<T*>(real.get()), flags);
    }
};

// Fft::inverse_destroying where the policy has it, else Fft::inverse.
template <class Fft, class T>
void inverse_destroying(std::size_t h, std::size_t w, std::complex<T>* in, T* out) {
    if constexpr (requires { Fft::template inverse_destroying<T>(h, w, in, out); })
        Fft::template inverse_destroying<T>(h, w, in, out);
    else
        Fft::template inverse<T>(h, w, in, out);
}

// Fft's thread count inside one transform set to `n` for a scope, as when
// the caller runs transforms in parallel itself (policies without a thread
// count: nothing).
template <class Fft>
class ScopedThreads {
public:
    explicit ScopedThreads(int n) {
        if constexpr (requires { Fft::set_threads(n); }) {
            saved_ = Fft::threads();
            Fft::set_threads(n);
        }
    }
    ~ScopedThreads() {
        if constexpr (requires { Fft::set_threads(saved_); }) Fft::set_threads(saved_);
    }
    ScopedThreads(const ScopedThreads&) = delete;
    ScopedThreads& operator=(const ScopedThreads&) = delete;

private:
    int saved_ = 1;
};

}  // namespace deblur::fft
