#pragma once
// The forward model y = k * x: 2-D CONVOLUTION of an image with a blur kernel.
//
// The kernel's origin is its centre (Kh/2, Kw/2) (integer division), so for
// 'same' and 'circular'
//
//     y[r][c] = sum_{i,j} k[i][j] * x[r - i + Kh/2][c - j + Kw/2],
//
// with x zero outside the image ('same') or periodic ('circular'). 'valid'
// keeps only the (H-Kh+1) x (W-Kw+1) outputs that need no border value:
//
//     y[r][c] = sum_{i,j} k[i][j] * x[r + Kh-1 - i][c + Kw-1 - j],
//
// i.e. valid[r][c] == same[r + Kh-1 - Kh/2][c + Kw-1 - Kw/2]. Training pairs
// are made the 'valid' way: a sharp crop larger by Kh-1 x Kw-1 is blurred
// 'valid', so that, as in a real photo, the blurry image contains no wrapped
// or zero-padded border for the network to exploit.
//
// Convolving a delta image with k reproduces k itself (not k rotated by 180
// degrees), centred on the delta. Kernels stored for correlation (e.g. the
// Levin benchmark's) must be rotated by 180 degrees before use here.
//
// Small kernels are summed directly; large ones go through the FFT policy
// (padded to even 7-smooth sizes, real_fft_size.hpp); `BlurMethod` forces
// one or the other.
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <xtensor/xtensor.hpp>

#include "../core/tensor.hpp"
#include "real_fft_size.hpp"
#include "../fft/fftw.hpp"
#include "blur_method.hpp"
#include "blur_mode.hpp"
#include "noise.hpp"

namespace deblur {

namespace detail {

// Output size and the offset (off_r, off_c) in y[r][c] = sum k[i][j] x[r + off_r - i][c + off_c - j].
struct BlurGeometry {
    std::size_t out_h, out_w;
    std::ptrdiff_t off_r, off_c;
};

inline BlurGeometry blur_geometry(std::size_t h, std::size_t w, std::size_t kh, std::size_t kw, BlurMode mode) {
    if (h == 0 || w == 0) throw std::invalid_argument("deblur::blur: empty image");
    if (kh == 0 || kw == 0) throw std::invalid_argument("deblur::blur: empty kernel");
    if (mode == BlurMode::valid) {
        if (kh > h || kw > w)
            throw std::invalid_argument("deblur::blur: a 'valid' blur needs a kernel (" + std::to_string(kh) + "x" +
                                        std::to_string(kw) + ") no larger than the image (" + std::to_string(h) + "x" +
                                        std::to_string(w) + ")");
        return {h - kh + 1, w - kw + 1, static_cast<std::ptrdiff_t>(kh - 1), static_cast<std::ptrdiff_t>(kw - 1)};
    }
    return {h, w, static_cast<std::ptrdiff_t>(kh / 2), static_cast<std::ptrdiff_t>(kw / 2)};
}

// Zero border ('valid' and 'same'): per output row, every kernel tap adds one
// contiguous, vectorisable run of the input row; the output row stays in cache.
template <class T>
void blur_direct_zero(const T* x, std::size_t h, std::size_t w, const T* k, std::size_t kh, std::size_t kw,
                      const BlurGeometry& g, T* y) {
    const auto H = static_cast<std::ptrdiff_t>(h), W = static_cast<std::ptrdiff_t>(w);
    const auto OW = static_cast<std::ptrdiff_t>(g.out_w);
    for (std::ptrdiff_t r = 0; r < static_cast<std::ptrdiff_t>(g.out_h); ++r) {
        T* yr = y + r * OW;
        for (std::ptrdiff_t c = 0; c < OW; ++c) yr[c] = T(0);
        for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(kh); ++i) {
            const std::ptrdiff_t sr = r + g.off_r - i;
            if (sr < 0 || sr >= H) continue;
            const T* xr = x + sr * W;
            for (std::ptrdiff_t j = 0; j < static_cast<std::ptrdiff_t>(kw); ++j) {
                const T kv = k[i * static_cast<std::ptrdiff_t>(kw) + j];
                if (kv == T(0)) continue;
                const std::ptrdiff_t dc = g.off_c - j;
                const std::ptrdiff_t c_lo = std::max<std::ptrdiff_t>(0, -dc);
                const std::ptrdiff_t c_hi = std::min<std::ptrdiff_t>(OW, W - dc);
                const T* xs = xr + dc;
                for (std::ptrdiff_t c = c_lo; c < c_hi; ++c) yr[c] += kv * xs[c];
            }
        }
    }
}

// Periodic border: the same, with each shifted input row split into two runs.
template <class T>
void blur_direct_circular(const T* x, std::size_t h, std::size_t w, const T* k, std::size_t kh, std::size_t kw,
                          const BlurGeometry& g, T* y) {
    const auto H = static_cast<std::ptrdiff_t>(h), W = static_cast<std::ptrdiff_t>(w);
    auto wrap = [](std::ptrdiff_t a, std::ptrdiff_t n) { return ((a % n) + n) % n; };
    for (std::ptrdiff_t r = 0; r < H; ++r) {
        T* yr = y + r * W;
        for (std::ptrdiff_t c = 0; c < W; ++c) yr[c] = T(0);
        for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(kh); ++i) {
            const T* xr = x + wrap(r + g.off_r - i, H) * W;
            for (std::ptrdiff_t j = 0; j < static_cast<std::ptrdiff_t>(kw); ++j) {
                const T kv = k[i * static_cast<std::ptrdiff_t>(kw) + j];
                if (kv == T(0)) continue;
                const std::ptrdiff_t s = wrap(g.off_c - j, W);  // yr[c] += kv * xr[(c + s) mod W]
                for (std::ptrdiff_t c = 0; c < W - s; ++c) yr[c] += kv * xr[c + s];
                for (std::ptrdiff_t c = W - s; c < W; ++c) yr[c] += kv * xr[c + s - W];
            }
        }
    }
}

// FFT path. Zero border: a linear convolution in a transform padded so that
// nothing the output needs wraps around ('valid' only needs the image size,
// since the wrapped part lands in the first Kh-1 rows it discards). Circular:
// the transform is exactly H x W and the kernel is wrapped with its origin at 0.
template <class Fft, class T>
void blur_fft(const T* x, std::size_t h, std::size_t w, const T* k, std::size_t kh, std::size_t kw, BlurMode mode,
              const BlurGeometry& g, T* y) {
    std::size_t ph = h, pw = w;
    if (mode == BlurMode::valid) {
        ph = real_fft_size(h);
        pw = real_fft_size(w);
    } else if (mode == BlurMode::same) {
        ph = real_fft_size(h + kh - 1);
        pw = real_fft_size(w + kw - 1);
    }
    const std::size_t nc = ph * (pw / 2 + 1);
    // Per-thread scratch that only grows: training blurs thousands of same-sized
    // crops, and fresh pages for every call would cost more than the transforms.
    thread_local typename Fft::template vector<T> xb, kb;
    thread_local typename Fft::template vector<std::complex<T>> xf, kf;
    if (xb.size() < ph * pw) {
        xb.resize(ph * pw);
        kb.resize(ph * pw);
    }
    if (xf.size() < nc) {
        xf.resize(nc);
        kf.resize(nc);
    }
    std::fill(xb.begin(), xb.begin() + static_cast<std::ptrdiff_t>(ph * pw), T(0));
    std::fill(kb.begin(), kb.begin() + static_cast<std::ptrdiff_t>(ph * pw), T(0));
    for (std::size_t r = 0; r < h; ++r)
        for (std::size_t c = 0; c < w; ++c) xb[r * pw + c] = x[r * w + c];
    if (mode == BlurMode::circular) {
        // Kernels larger than the image fold onto it, as a periodic image implies.
        auto wrap = [](std::ptrdiff_t a, std::size_t n) {
            const auto m = static_cast<std::ptrdiff_t>(n);
            return static_cast<std::size_t>(((a % m) + m) % m);
        };
        for (std::size_t i = 0; i < kh; ++i)
            for (std::size_t j = 0; j < kw; ++j)
                kb[wrap(static_cast<std::ptrdiff_t>(i) - g.off_r, ph) * pw +
                   wrap(static_cast<std::ptrdiff_t>(j) - g.off_c, pw)] += k[i * kw + j];
    } else {
        for (std::size_t i = 0; i < kh; ++i)
            for (std::size_t j = 0; j < kw; ++j) kb[i * pw + j] = k[i * kw + j];
    }
    Fft::template forward<T>(ph, pw, xb.data(), xf.data());
    Fft::template forward<T>(ph, pw, kb.data(), kf.data());
    for (std::size_t i = 0; i < nc; ++i) xf[i] *= kf[i];
    Fft::template inverse<T>(ph, pw, xf.data(), xb.data());
    const T scale = T(1) / static_cast<T>(ph * pw);  // the inverse transform is unnormalised
    // Circular output index r holds sum_i k[i] x[r + off_r - i], i.e. no offset in
    // the wrapped-kernel layout; the linear layouts hold the full convolution.
    const std::ptrdiff_t dr = mode == BlurMode::circular ? 0 : g.off_r;
    const std::ptrdiff_t dc = mode == BlurMode::circular ? 0 : g.off_c;
    for (std::size_t r = 0; r < g.out_h; ++r)
        for (std::size_t c = 0; c < g.out_w; ++c)
            y[r * g.out_w + c] = xb[(r + dr) * pw + (c + dc)] * scale;
}

// Cost model fitted to timings of this code (Release, -march=native, FFTW
// ESTIMATE plans): a direct multiply-add costs ~0.06 ns, the three padded
// transforms ~0.3 ns per n log2 n; direct wins up to about 9x9 kernels on
// 256 x 256 images and 11x11 on 512 x 512.
inline bool blur_prefers_fft(const BlurGeometry& g, std::size_t h, std::size_t w, std::size_t kh, std::size_t kw,
                             BlurMode mode) {
    const double direct = static_cast<double>(g.out_h) * g.out_w * kh * kw;
    double ph = static_cast<double>(h), pw = static_cast<double>(w);
    if (mode != BlurMode::circular) {
        ph = static_cast<double>(real_fft_size(mode == BlurMode::same ? h + kh - 1 : h));
        pw = static_cast<double>(real_fft_size(mode == BlurMode::same ? w + kw - 1 : w));
    }
    const double n = ph * pw;
    const double fft = 6.0 * n * std::log2(n + 1.0);
    return fft < direct;
}

template <class Fft, class T>
void blur_into(const T* x, std::size_t h, std::size_t w, const xt::xtensor<T, 2>& kernel, BlurMode mode,
               BlurMethod method, const BlurGeometry& g, T* y) {
    const std::size_t kh = kernel.shape(0), kw = kernel.shape(1);
    const bool use_fft = method == BlurMethod::fft ||
                         (method == BlurMethod::automatic && blur_prefers_fft(g, h, w, kh, kw, mode));
    if (use_fft) blur_fft<Fft>(x, h, w, kernel.data(), kh, kw, mode, g, y);
    else if (mode == BlurMode::circular) blur_direct_circular(x, h, w, kernel.data(), kh, kw, g, y);
    else blur_direct_zero(x, h, w, kernel.data(), kh, kw, g, y);
}

}  // namespace detail

// y = k * x for one H x W image (see the top of this file for the convention),
// written into `out`, which is resized only when its shape differs.
template <class Fft = fft::Fftw, class T>
void blur(const xt::xtensor<T, 2>& image, const xt::xtensor<T, 2>& kernel, BlurMode mode, xt::xtensor<T, 2>& out,
          BlurMethod method = BlurMethod::automatic) {
    const std::size_t h = image.shape(0), w = image.shape(1);
    const auto g = detail::blur_geometry(h, w, kernel.shape(0), kernel.shape(1), mode);
    if (&out == &image || &out == &kernel) throw std::invalid_argument("deblur::blur: the output must not alias an input");
    if (out.shape(0) != g.out_h || out.shape(1) != g.out_w) out.resize({g.out_h, g.out_w});
    detail::blur_into<Fft>(image.data(), h, w, kernel, mode, method, g, out.data());
}

template <class Fft = fft::Fftw, class T>
xt::xtensor<T, 2> blur(const xt::xtensor<T, 2>& image, const xt::xtensor<T, 2>& kernel, BlurMode mode,
                       BlurMethod method = BlurMethod::automatic) {
    xt::xtensor<T, 2> out;
    blur<Fft>(image, kernel, mode, out, method);
    return out;
}

// Every channel of a C x H x W image blurred with the same kernel.
template <class Fft = fft::Fftw, class T>
Tensor<T> blur(const Tensor<T>& image, const xt::xtensor<T, 2>& kernel, BlurMode mode,
               BlurMethod method = BlurMethod::automatic) {
    const std::size_t ch = image.shape(0), h = image.shape(1), w = image.shape(2);
    const auto g = detail::blur_geometry(h, w, kernel.shape(0), kernel.shape(1), mode);
    Tensor<T> out = Tensor<T>::from_shape({ch, g.out_h, g.out_w});
    for (std::size_t c = 0; c < ch; ++c)
        detail::blur_into<Fft>(image.data() + c * h * w, h, w, kernel, mode, method, g,
                               out.data() + c * g.out_h * g.out_w);
    return out;
}

}  // namespace deblur
