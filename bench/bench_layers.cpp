// Speed of the feature layers and of the FFT policy, each next to the raw
// library call it is built on, measured in the same run:
//  - Conv<32, F> forward and backward against an Eigen SGEMM of the shapes the
//    layer multiplies (32 x C*F*F times C*F*F x W', once per output row, rows
//    split over the threads) and against a large square SGEMM (the machine's
//    GEMM peak);
//  - Recombine<32> on 32 channels against nothing but its own GEMM count;
//  - deblur::fft::Fftw::forward against fftwf_plan once + fftwf_execute;
//  - the hyper-Laplacian deconvolution of an n^2 image on 1 and 2 threads
//    (its passes and FFTW's), to show what the threads buy.
// Counters: FLOP/s (forward 2*N*C*F*F*H'*W', backward twice that; real FFT
// 2.5 n log2 n), all from wall-clock time since the GEMMs use every core.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#pragma GCC diagnostic pop

#include <benchmark/benchmark.h>
#include <fftw3.h>
#include <deblur/core/openmp.hpp>

#include <deblur/deconv/hyper_laplacian.hpp>
#include <deblur/fft/fftw.hpp>
#include <deblur/layers/conv.hpp>
#include <deblur/layers/recombine.hpp>
#include <xtensor/xview.hpp>

#include <cmath>
#include <complex>
#include <random>
#include <vector>

namespace {

deblur::Tensor<float> random_tensor(std::size_t c, std::size_t h, std::size_t w) {
    auto t = deblur::make_tensor<float>(c, h, w);
    std::mt19937 rng(1);
    std::normal_distribution<float> d;
    for (auto& v : t) v = d(rng);
    return t;
}

benchmark::Counter flop_rate(double flops_per_iteration) {
    return benchmark::Counter(flops_per_iteration, benchmark::Counter::kIsIterationInvariantRate,
                              benchmark::Counter::kIs1000);
}

constexpr int filters = 32;

double conv_forward_flops(int f, std::size_t c, std::size_t n) {
    const double out = static_cast<double>(n - f + 1);
    return 2.0 * filters * static_cast<double>(c) * f * f * out * out;
}

// Arguments: image side n, input channels c.
template <int F>
void BM_ConvForward(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    const auto c = static_cast<std::size_t>(state.range(1));
    deblur::Conv<filters, F> conv;
    std::mt19937_64 rng(1);
    conv.setup(c, rng);
    const auto in = random_tensor(c, n, n);
    deblur::Tensor<float> out;
    conv.forward(in, out);  // sizes the buffers
    for (auto _ : state) {
        conv.forward(in, out);
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["FLOP/s"] = flop_rate(conv_forward_flops(F, c, n));
}

template <int F>
void BM_ConvBackward(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    const auto c = static_cast<std::size_t>(state.range(1));
    deblur::Conv<filters, F> conv;
    std::mt19937_64 rng(1);
    conv.setup(c, rng);
    const auto in = random_tensor(c, n, n);
    deblur::Tensor<float> out;
    conv.forward(in, out);
    const auto grad_out = random_tensor(filters, out.shape(1), out.shape(2));
    auto grad_in = deblur::make_tensor<float>(c, n, n);
    conv.backward(in, out, grad_out, grad_in);
    for (auto _ : state) {
        conv.backward(in, out, grad_out, grad_in);
        benchmark::DoNotOptimize(grad_in.data());
    }
    state.counters["FLOP/s"] = flop_rate(2 * conv_forward_flops(F, c, n));
}

// The GEMMs inside Conv<32, F>::forward without the copies around them: the
// (32 x C*F*F) * (C*F*F x W') row-major product, once per output row, the
// rows split over the OpenMP threads as the layer splits them (Eigen
// single-threaded inside). Same FLOP count as the layer's forward.
template <int F>
void BM_SgemmConvShape(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    const auto c = static_cast<std::size_t>(state.range(1));
    const auto k = static_cast<Eigen::Index>(c * F * F);
    const int out_rows = static_cast<int>(n) - F + 1;
    const Eigen::Index out_cols = out_rows;
    using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const int threads = omp_get_max_threads();
    std::vector<Matrix> a(threads), b(threads), result(threads);
    for (int t = 0; t < threads; ++t) {
        a[t] = Matrix::Random(filters, k);
        b[t] = Matrix::Random(k, out_cols);
        result[t] = Matrix::Zero(filters, out_cols);
    }
    for (auto _ : state) {
#pragma omp parallel num_threads(threads)
        {
            const int t = omp_get_thread_num();
            for (int r = out_rows * t / threads; r < out_rows * (t + 1) / threads; ++r)
                result[t].noalias() = a[t] * b[t];
        }
        benchmark::DoNotOptimize(result.data());
    }
    state.counters["FLOP/s"] =
        flop_rate(2.0 * filters * static_cast<double>(k) * static_cast<double>(out_cols) * out_rows);
}

// A large square SGEMM with Eigen's own threading: the machine's GEMM peak.
void BM_SgemmSquare(benchmark::State& state) {
    const auto n = static_cast<Eigen::Index>(state.range(0));
    const Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, n), b = Eigen::MatrixXf::Random(n, n);
    Eigen::MatrixXf result(n, n);
    for (auto _ : state) {
        result.noalias() = a * b;
        benchmark::DoNotOptimize(result.data());
    }
    state.counters["FLOP/s"] = flop_rate(2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n));
}

// Recombine<32> on 32 channels: the 32 x 32 pixel-wise mix of the paper's stage.
void BM_RecombineForwardBackward(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    deblur::Recombine<32> layer;
    std::mt19937_64 rng(1);
    layer.setup(32, rng);
    const auto in = random_tensor(32, n, n);
    deblur::Tensor<float> out;
    layer.forward(in, out);
    const auto grad_out = random_tensor(32, n, n);
    auto grad_in = deblur::make_tensor<float>(32, n, n);
    for (auto _ : state) {
        layer.forward(in, out);
        layer.backward(in, out, grad_out, grad_in);
        benchmark::DoNotOptimize(grad_in.data());
    }
    state.counters["FLOP/s"] = flop_rate(3 * 2.0 * 32 * 32 * static_cast<double>(n * n));
}

double real_fft_flops(std::size_t n) { return 2.5 * static_cast<double>(n * n) * std::log2(static_cast<double>(n * n)); }

void BM_FftPolicyForward(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    deblur::fft::Fftw::vector<float> in(n * n);
    deblur::fft::Fftw::vector<std::complex<float>> out(n * (n / 2 + 1));
    std::mt19937 rng(1);
    std::normal_distribution<float> d;
    for (auto& v : in) v = d(rng);
    deblur::fft::Fftw::forward<float>(n, n, in.data(), out.data());  // plans once
    for (auto _ : state) {
        deblur::fft::Fftw::forward<float>(n, n, in.data(), out.data());
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["FLOP/s"] = flop_rate(real_fft_flops(n));
}

// The raw FFTW call with a plan made once, same planner flags as the policy
// (FFTW_ESTIMATE), or FFTW_MEASURE (second argument 1) to show what planning buys.
void BM_FftwRawForward(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    const unsigned flags = state.range(1) ? FFTW_MEASURE : FFTW_ESTIMATE;
    auto* in = static_cast<float*>(fftwf_malloc(sizeof(float) * n * n));
    auto* out = static_cast<fftwf_complex*>(fftwf_malloc(sizeof(fftwf_complex) * n * (n / 2 + 1)));
    const int side = static_cast<int>(n);
    fftwf_plan plan = fftwf_plan_dft_r2c_2d(side, side, in, out, flags);  // MEASURE overwrites `in`: fill after
    std::mt19937 rng(1);
    std::normal_distribution<float> d;
    for (std::size_t i = 0; i < n * n; ++i) in[i] = d(rng);
    for (auto _ : state) {
        fftwf_execute(plan);
        benchmark::DoNotOptimize(out);
    }
    state.counters["FLOP/s"] = flop_rate(real_fft_flops(n));
    fftwf_destroy_plan(plan);
    fftwf_free(in);
    fftwf_free(out);
}

// Arguments: image side n, threads. A 17 px line kernel, default options.
void BM_HyperLaplacianDeconvolve(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    const int threads = static_cast<int>(state.range(1)), saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    deblur::fft::Fftw::set_threads(threads);
    const auto image = random_tensor(1, n, n);
    xt::xtensor<float, 2> blurry = xt::view(image, 0, xt::all(), xt::all());
    xt::xtensor<float, 2> kernel = xt::zeros<float>({17, 17});
    for (std::size_t i = 0; i < 17; ++i) kernel(i, (7 * i) % 17) = 1.0f / 17;
    deblur::HyperLaplacianDeconvolver<float> solver;
    solver.deconvolve(blurry, kernel);  // plans and buffers
    for (auto _ : state) benchmark::DoNotOptimize(solver.deconvolve(blurry, kernel));
    omp_set_num_threads(saved);
    deblur::fft::Fftw::set_threads(1);
}

// Shapes: 256^2 and 1024^2, one channel (stage 1) and two (later stages).
void conv_shapes(benchmark::internal::Benchmark* b) {
    for (int n : {256, 1024})
        for (int c : {1, 2}) b->Args({n, c});
    b->ArgNames({"n", "c"})->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.3);
}

}  // namespace

BENCHMARK(BM_SgemmSquare)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.3);
BENCHMARK(BM_ConvForward<5>)->Apply(conv_shapes);
BENCHMARK(BM_ConvBackward<5>)->Apply(conv_shapes);
BENCHMARK(BM_SgemmConvShape<5>)->Apply(conv_shapes);
BENCHMARK(BM_ConvForward<9>)->Apply(conv_shapes);
BENCHMARK(BM_ConvBackward<9>)->Apply(conv_shapes);
BENCHMARK(BM_SgemmConvShape<9>)->Apply(conv_shapes);
BENCHMARK(BM_ConvForward<15>)->Apply(conv_shapes);
BENCHMARK(BM_ConvBackward<15>)->Apply(conv_shapes);
BENCHMARK(BM_SgemmConvShape<15>)->Apply(conv_shapes);
BENCHMARK(BM_RecombineForwardBackward)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.3);
BENCHMARK(BM_FftPolicyForward)->Arg(256)->Arg(1024)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_FftwRawForward)->Args({256, 0})->Args({1024, 0})->Args({256, 1})->Args({1024, 1})
    ->ArgNames({"n", "measure"})->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_HyperLaplacianDeconvolve)->Args({1024, 1})->Args({1024, 2})->Args({2048, 1})->Args({2048, 2})
    ->ArgNames({"n", "threads"})->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

BENCHMARK_MAIN();
