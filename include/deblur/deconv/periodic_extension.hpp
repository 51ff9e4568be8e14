#pragma once
// Boundary handling for FFT deconvolution. A photo does not wrap around, so
// deconvolving it as a periodic image rings at the borders: the jump between
// opposite edges looks like a sharp edge that the kernel cannot explain. The
// image is therefore placed in a larger canvas whose extra rows and columns
// blend smoothly from each edge to the opposite one, which makes the canvas
// periodic and free of such jumps; the deconvolution runs on the canvas and
// the result is cropped back.
//
// The image occupies the top-left h x w corner; because the canvas is
// periodic, the bands to its right and below it are the whole gap between
// opposite edges. Each gap value is a raised-cosine blend of the two edge
// pixels it lies between (first along rows, then along the full columns),
// which is continuous everywhere and flat where it meets the edges.
#include <cmath>
#include <cstddef>
#include <numbers>
#include <stdexcept>
#include <xtensor/xtensor.hpp>

namespace deblur {

// `out` is ph x pw (row-major); ph >= h and pw >= w.
template <class T>
void periodic_extension(const T* image, std::size_t h, std::size_t w, T* out, std::size_t ph, std::size_t pw) {
    if (h == 0 || w == 0) throw std::invalid_argument("deblur::periodic_extension: empty image");
    if (ph < h || pw < w) throw std::invalid_argument("deblur::periodic_extension: the canvas is smaller than the image");
    auto blend = [](std::size_t step, std::size_t gap) {  // 0 -> 1 over the gap, excluding both ends
        const double t = static_cast<double>(step + 1) / static_cast<double>(gap + 1);
        return 0.5 - 0.5 * std::cos(std::numbers::pi * t);
    };
    for (std::size_t r = 0; r < h; ++r) {
        const T* src = image + r * w;
        T* dst = out + r * pw;
        for (std::size_t c = 0; c < w; ++c) dst[c] = src[c];
        const double right = src[w - 1], left = src[0];
        for (std::size_t c = w; c < pw; ++c) {
            const double s = blend(c - w, pw - w);
            dst[c] = static_cast<T>((1 - s) * right + s * left);
        }
    }
    for (std::size_t r = h; r < ph; ++r) {
        const double s = blend(r - h, ph - h);
        const T* bottom = out + (h - 1) * pw;
        const T* top = out;
        T* dst = out + r * pw;
        for (std::size_t c = 0; c < pw; ++c) dst[c] = static_cast<T>((1 - s) * bottom[c] + s * top[c]);
    }
}

template <class T>
xt::xtensor<T, 2> periodic_extension(const xt::xtensor<T, 2>& image, std::size_t ph, std::size_t pw) {
    xt::xtensor<T, 2> out = xt::xtensor<T, 2>::from_shape({ph, pw});
    periodic_extension(image.data(), image.shape(0), image.shape(1), out.data(), ph, pw);
    return out;
}

}  // namespace deblur
