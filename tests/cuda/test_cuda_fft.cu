// fft::CuFft against fft::Fftw (and so against the reference DFT, which
// test_fft checks Fftw with): forward, unnormalised inverse that keeps its
// input, plan reuse, streams and threads.
#include "cuda_test_main.cuh"

#include <deblur/cuda/cufft.cuh>
#include <deblur/cuda/device_buffer.cuh>
#include <deblur/cuda/stream_scope.cuh>
#include <deblur/fft/fftw.hpp>

#include <cmath>
#include <complex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

using deblur::cuda::DeviceBuffer;
using deblur::fft::CuFft;
using deblur::fft::Fftw;

namespace {

template <class T>
std::vector<T> random_image(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<T> d;
    std::vector<T> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

template <class T>
T tolerance() {
    return std::is_same_v<T, float> ? T(2e-5) : T(1e-12);
}

template <class T>
std::vector<T> download(const DeviceBuffer<T>& d) {
    std::vector<T> h(d.size());
    d.download(h.data());
    return h;
}

// 1 x w is a 1-D plan inside CuFft; h x 1 (h > 1) is refused.
const std::vector<std::pair<std::size_t, std::size_t>> shapes = {{1, 8}, {1, 7}, {4, 6}, {7, 5}, {9, 16}, {13, 11},
                                                                   {64, 48}, {120, 97}, {288, 288}};

}  // namespace

TEST_CASE_TEMPLATE("CuFft forward matches Fftw and keeps its input", T, float, double) {
    for (auto [h, w] : shapes) {
        CAPTURE(h);
        CAPTURE(w);
        const auto x = random_image<T>(h * w, 3);
        const std::size_t nc = h * (w / 2 + 1);
        std::vector<std::complex<T>> expected(nc);
        Fftw::forward<T>(h, w, x.data(), expected.data());
        DeviceBuffer<T> dx;
        dx.upload(x.data(), x.size());
        DeviceBuffer<std::complex<T>> dspec(nc);
        CuFft::forward<T>(h, w, dx.data(), dspec.data());
        const auto got = download(dspec);
        T scale = 0, err = 0;
        for (std::size_t i = 0; i < nc; ++i) {
            scale = std::max(scale, std::abs(expected[i]));
            err = std::max(err, std::abs(got[i] - expected[i]));
        }
        CHECK(err <= tolerance<T>() * scale);
        CHECK(download(dx) == x);
    }
}

TEST_CASE_TEMPLATE("CuFft inverse matches Fftw, is unnormalised and keeps its input", T, float, double) {
    for (auto [h, w] : shapes) {
        CAPTURE(h);
        CAPTURE(w);
        const auto x = random_image<T>(h * w, 5);
        const std::size_t nc = h * (w / 2 + 1);
        std::vector<std::complex<T>> spec(nc);
        Fftw::forward<T>(h, w, x.data(), spec.data());
        std::vector<T> expected(h * w);
        Fftw::inverse<T>(h, w, spec.data(), expected.data());
        DeviceBuffer<std::complex<T>> dspec;
        dspec.upload(spec.data(), nc);
        DeviceBuffer<T> dout(h * w);
        CuFft::inverse<T>(h, w, dspec.data(), dout.data());
        const auto got = download(dout);
        CHECK(download(dspec) == spec);
        const T n = T(h * w);
        T err = 0, err_round_trip = 0;
        for (std::size_t i = 0; i < h * w; ++i) {
            err = std::max(err, std::abs(got[i] - expected[i]));
            err_round_trip = std::max(err_round_trip, std::abs(got[i] - n * x[i]));
        }
        CHECK(err <= 10 * tolerance<T>() * n);
        CHECK(err_round_trip <= 10 * tolerance<T>() * n);
    }
}

TEST_CASE("CuFft reuses its plans") {
    const std::size_t h = 8, w = 12;
    const auto x = random_image<double>(h * w, 7);
    DeviceBuffer<double> dx;
    dx.upload(x.data(), x.size());
    DeviceBuffer<std::complex<double>> dspec(h * (w / 2 + 1));
    CuFft::forward<double>(h, w, dx.data(), dspec.data());
    const auto plans = CuFft::cached_plans<double>();
    for (int i = 0; i < 5; ++i) CuFft::forward<double>(h, w, dx.data(), dspec.data());
    CHECK(CuFft::cached_plans<double>() == plans);
    CHECK_THROWS_AS(CuFft::forward<double>(0, w, dx.data(), dspec.data()), std::invalid_argument);
    CHECK_THROWS_AS(CuFft::forward<double>(4, 1, dx.data(), dspec.data()), std::invalid_argument);
}

// Threads, each on its own stream or all on the default stream: the results
// must equal the single-threaded ones.
TEST_CASE("CuFft transforms from many threads and streams at once") {
    const std::size_t h = 64, w = 90, nc = h * (w / 2 + 1);
    const auto x = random_image<float>(h * w, 11);
    DeviceBuffer<float> dx;
    dx.upload(x.data(), x.size());
    DeviceBuffer<std::complex<float>> dspec(nc);
    CuFft::forward<float>(h, w, dx.data(), dspec.data());
    const auto expected = download(dspec);
    for (bool own_stream : {true, false}) {
        CAPTURE(own_stream);
        std::vector<int> ok(6, 0);
        std::vector<std::thread> threads;
        for (int t = 0; t < 6; ++t)
            threads.emplace_back([&, t] {
                cudaStream_t stream = nullptr;
                if (own_stream) deblur::cuda::check(cudaStreamCreate(&stream), "cudaStreamCreate");
                {
                    deblur::cuda::StreamScope on(stream);
                    DeviceBuffer<std::complex<float>> spec(nc);
                    DeviceBuffer<float> back(h * w);
                    bool good = true;
                    for (int rep = 0; rep < 10; ++rep) {
                        CuFft::forward<float>(h, w, dx.data(), spec.data());
                        CuFft::inverse<float>(h, w, spec.data(), back.data());
                        const auto s = download(spec);
                        const auto b = download(back);
                        for (std::size_t i = 0; i < nc; ++i) good = good && std::abs(s[i] - expected[i]) <= 1e-5f * (1 + std::abs(expected[i]));
                        for (std::size_t i = 0; i < h * w; ++i)
                            good = good && std::abs(b[i] / float(h * w) - x[i]) < 1e-4f;
                    }
                    ok[t] = good;
                }
                if (own_stream) cudaStreamDestroy(stream);
            });
        for (auto& th : threads) th.join();
        for (int v : ok) CHECK(v == 1);
    }
}

// A batch is the same as its images transformed one by one, each with its own plan key.
TEST_CASE_TEMPLATE("CuFft batches equal single transforms", T, float, double) {
    for (auto [h, w] : std::vector<std::pair<std::size_t, std::size_t>>{{1, 8}, {9, 16}, {64, 48}}) {
        CAPTURE(h);
        CAPTURE(w);
        const std::size_t batch = 3, n = h * w, nc = h * (w / 2 + 1);
        const auto x = random_image<T>(batch * n, 13);
        DeviceBuffer<T> dx, back(batch * n);
        dx.upload(x.data(), x.size());
        DeviceBuffer<std::complex<T>> together(batch * nc), one(nc);
        CuFft::forward_batch<T>(batch, h, w, dx.data(), together.data());
        const auto all = download(together);
        for (std::size_t i = 0; i < batch; ++i) {
            CuFft::forward<T>(h, w, dx.data() + i * n, one.data());
            const auto single = download(one);
            T err = 0, scale = 0;
            for (std::size_t u = 0; u < nc; ++u) {
                err = std::max(err, std::abs(all[i * nc + u] - single[u]));
                scale = std::max(scale, std::abs(single[u]));
            }
            CHECK(err <= tolerance<T>() * scale);
        }
        CuFft::inverse_batch<T>(batch, h, w, together.data(), back.data());
        CHECK(download(together) == all);
        const auto b = download(back);
        for (std::size_t i = 0; i < batch * n; ++i) CHECK(std::abs(b[i] / T(n) - x[i]) < 100 * tolerance<T>());
    }
}
