#pragma once
// The hyper-Laplacian deconvolution (hyper_laplacian.hpp) of a large image in
// overlapping tiles, so that its time and memory grow with the image and not
// with one huge transform: a 12 MP photo's canvas is some 16 M pixels, whose
// transforms run at half the speed per pixel of a 1 M pixel canvas (cache),
// and whose spectra and canvases take ~0.7 GB.
//
// The image is cut into a grid of cores; each tile is its core plus `margin`
// pixels of context on every side that has image there, deconvolved alone
// (its edges are unknown, like the photo's, by the masked data term), and
// the tiles are blended with weights that ramp linearly across each core
// boundary over `margin` pixels and sum to one. The margin is a few kernel
// sizes, beyond the reach of a tile's edge, so the tiles agree where they
// are blended and there is no seam: at the core boundaries the result is no
// further from the one-piece solve than elsewhere, and as sharp
// (tests/test_deconv.cpp).
//
// Tiles run in parallel, one per thread, each on its own deconvolver with
// single-threaded transforms; their results are added in tile order, so the
// output does not depend on the thread count. Images that fit one tile are
// deconvolved in one piece, exactly as HyperLaplacianDeconvolver does.
#include <algorithm>
#include <cstddef>
#include <exception>
#include <memory>
#include <stdexcept>
#include <vector>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "../core/openmp.hpp"
#include "../core/tensor.hpp"
#include "../fft/fftw.hpp"
#include "deconv_options.hpp"
#include "hyper_laplacian.hpp"

namespace deblur {

template <class T, class Fft = fft::Fftw>
class TiledDeconvolver {
public:
    // tile_canvas: the largest side of a tile's padded transform (its tile
    // plus twice the kernel); 1536 = 3 x 512, an FFT-friendly size
    // (fft/fast_size.hpp).
    explicit TiledDeconvolver(DeconvOptions options = {}, std::size_t tile_canvas = 1536)
        : options_(options), tile_canvas_(tile_canvas) {
        options_.validate();
    }

    void set_options(const DeconvOptions& options) {
        options.validate();
        options_ = options;
    }
    const DeconvOptions& options() const { return options_; }

    // Context around each core: two kernel sizes, at least 32 px (less context
    // falls below the one-piece solve; BENCHMARKS.md, "Deconvolution").
    static std::size_t margin(std::size_t kernel_size) { return std::max<std::size_t>(32, 2 * kernel_size); }

    // Cores per axis of length n for a kernel of size k (1: one piece).
    std::size_t cores(std::size_t n, std::size_t k) const {
        const std::size_t tile = tile_canvas_ > 2 * k ? tile_canvas_ - 2 * k : 0;  // a tile's largest side
        if (n <= tile) return 1;
        const std::size_t core = tile > 2 * margin(k) ? tile - 2 * margin(k) : 0;
        if (core < margin(k)) return 1;  // kernels too large for tiles of this canvas
        return (n + core - 1) / core;
    }

    // Every channel of a C x H x W image, with the same kernel.
    Tensor<T> deconvolve(const Tensor<T>& blurry, const xt::xtensor<T, 2>& kernel) {
        const std::size_t channels = blurry.shape(0), h = blurry.shape(1), w = blurry.shape(2);
        const std::size_t k = std::max(kernel.shape(0), kernel.shape(1));
        const std::size_t rows = cores(h, k), cols = cores(w, k);
        if (rows * cols == 1) return solver(0).deconvolve(blurry, kernel);
        Tensor<T> out = xt::zeros<T>(blurry.shape());
        const auto row_cuts = cuts(h, rows), col_cuts = cuts(w, cols);
        const std::size_t m = margin(k);
        std::vector<Tile> tiles;
        for (std::size_t c = 0; c < channels; ++c)
            for (std::size_t i = 0; i < rows; ++i)
                for (std::size_t j = 0; j < cols; ++j)
                    tiles.push_back({c, span(row_cuts, i, m, h), span(col_cuts, j, m, w), i, j});
        const int threads = std::max(1, std::min(omp_get_max_threads(), static_cast<int>(tiles.size())));
        for (int i = 0; i < threads; ++i) solver(std::size_t(i));  // made here, not in the parallel loop
        const fft::ScopedThreads<Fft> single(1);
        std::vector<xt::xtensor<T, 2>> results(static_cast<std::size_t>(threads));
        std::vector<std::exception_ptr> errors(static_cast<std::size_t>(threads));
        for (std::size_t first = 0; first < tiles.size(); first += std::size_t(threads)) {
            const std::size_t batch = std::min<std::size_t>(std::size_t(threads), tiles.size() - first);
            DEBLUR_OMP(omp parallel for num_threads(threads) schedule(static, 1))
            for (std::ptrdiff_t b = 0; b < static_cast<std::ptrdiff_t>(batch); ++b) {
                try {
                    const Tile& t = tiles[first + std::size_t(b)];
                    const xt::xtensor<T, 2> piece = xt::view(blurry, t.channel, xt::range(t.rows.begin, t.rows.end),
                                                             xt::range(t.cols.begin, t.cols.end));
                    results[std::size_t(b)] = solvers_[std::size_t(b)]->deconvolve(piece, kernel);
                } catch (...) {
                    errors[std::size_t(b)] = std::current_exception();
                }
            }
            for (std::size_t b = 0; b < batch; ++b)
                if (errors[b]) std::rethrow_exception(errors[b]);
            for (std::size_t b = 0; b < batch; ++b) {  // in tile order: the sums do not depend on the threads
                const Tile& t = tiles[first + b];
                const auto row_weights = weights(t.rows, row_cuts, t.row, m), col_weights = weights(t.cols, col_cuts, t.col, m);
                for (std::size_t r = 0; r < t.rows.size(); ++r) {
                    if (row_weights[r] == 0) continue;
                    T* dst = out.data() + (t.channel * h + t.rows.begin + r) * w + t.cols.begin;
                    const T* src = results[b].data() + r * t.cols.size();
                    for (std::size_t c = 0; c < t.cols.size(); ++c) dst[c] += row_weights[r] * col_weights[c] * src[c];
                }
            }
        }
        return out;
    }

private:
    struct Range {
        std::size_t begin, end;
        std::size_t size() const { return end - begin; }
    };
    struct Tile {
        std::size_t channel;
        Range rows, cols;
        std::size_t row, col;  // its core's index per axis
    };

    // Core boundaries of `count` near-equal cores on [0, n).
    static std::vector<std::size_t> cuts(std::size_t n, std::size_t count) {
        std::vector<std::size_t> c;
        for (std::size_t i = 0; i <= count; ++i) c.push_back(i * n / count);
        return c;
    }

    // Core i with `margin` pixels of context on each side, within [0, n).
    static Range span(const std::vector<std::size_t>& cut, std::size_t i, std::size_t margin, std::size_t n) {
        return {cut[i] > margin ? cut[i] - margin : 0, std::min(n, cut[i + 1] + margin)};
    }

    // A tile's blending weight along one axis at each of its pixels: 1 in its
    // core, ramping to 0 over `margin` pixels centred on each inner core
    // boundary, so that neighbouring tiles' weights sum to one.
    static std::vector<T> weights(Range extent, const std::vector<std::size_t>& cut, std::size_t i, std::size_t margin) {
        const double ramp = static_cast<double>(margin);
        std::vector<T> out(extent.size());
        for (std::size_t p = 0; p < extent.size(); ++p) {
            const double x = static_cast<double>(extent.begin + p) + 0.5;
            double v = 1;
            if (i > 0) v = std::min(v, std::clamp((x - (static_cast<double>(cut[i]) - ramp / 2)) / ramp, 0.0, 1.0));
            if (i + 2 < cut.size()) v = std::min(v, std::clamp(((static_cast<double>(cut[i + 1]) + ramp / 2) - x) / ramp, 0.0, 1.0));
            out[p] = static_cast<T>(v);
        }
        return out;
    }

    HyperLaplacianDeconvolver<T, Fft>& solver(std::size_t i) {
        while (solvers_.size() <= i) solvers_.push_back(std::make_unique<HyperLaplacianDeconvolver<T, Fft>>(options_));
        solvers_[i]->set_options(options_);
        return *solvers_[i];
    }

    DeconvOptions options_;
    std::size_t tile_canvas_;
    std::vector<std::unique_ptr<HyperLaplacianDeconvolver<T, Fft>>> solvers_;
};

}  // namespace deblur
