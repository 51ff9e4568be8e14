#pragma once
// Colour helpers for images read from files: luminance, power-law gamma and
// the sRGB transfer curve. Each returns a new C x H x W tensor. The curves are
// extended to negative values as odd functions (f(-v) = -f(v)), so that the
// slightly negative values a deconvolution produces survive a round trip.
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>

#include "../core/tensor.hpp"

namespace deblur::io {

// Luminance Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601) of a 3-channel
// image; a 1-channel image is returned unchanged.
template <class T>
Tensor<T> to_gray(const Tensor<T>& image) {
    const std::size_t c = image.shape(0), h = image.shape(1), w = image.shape(2), plane = h * w;
    if (c == 1) return image;
    if (c != 3)
        throw std::invalid_argument("deblur::io::to_gray: expects 1 or 3 channels, got " + std::to_string(c));
    Tensor<T> gray = Tensor<T>::from_shape({1, h, w});
    const T* rgb = image.data();
    T* out = gray.data();
    for (std::size_t p = 0; p < plane; ++p)
        out[p] = T(0.299) * rgb[p] + T(0.587) * rgb[plane + p] + T(0.114) * rgb[2 * plane + p];
    return gray;
}

namespace detail {

template <class T, class Curve>
Tensor<T> map_odd(const Tensor<T>& image, Curve curve) {
    Tensor<T> out = Tensor<T>::from_shape({image.shape(0), image.shape(1), image.shape(2)});
    const T* in = image.data();
    T* o = out.data();
    for (std::size_t i = 0; i < image.size(); ++i) o[i] = in[i] < 0 ? -curve(-in[i]) : curve(in[i]);
    return out;
}

}  // namespace detail

// v -> v^gamma (e.g. 2.2 to linearise an approximately gamma-encoded image,
// 1/2.2 to encode). The gamma must be positive and finite.
template <class T>
Tensor<T> apply_gamma(const Tensor<T>& image, double gamma) {
    if (!(gamma > 0) || !std::isfinite(gamma))
        throw std::invalid_argument("deblur::io::apply_gamma: the gamma must be positive and finite, got " +
                                    std::to_string(gamma));
    const T g = static_cast<T>(gamma);
    return detail::map_odd(image, [g](T v) { return std::pow(v, g); });
}

// sRGB-encoded values to linear light (IEC 61966-2-1).
template <class T>
Tensor<T> srgb_to_linear(const Tensor<T>& image) {
    return detail::map_odd(image, [](T v) {
        return v <= T(0.04045) ? v / T(12.92) : std::pow((v + T(0.055)) / T(1.055), T(2.4));
    });
}

// Linear light to sRGB-encoded values (IEC 61966-2-1).
template <class T>
Tensor<T> linear_to_srgb(const Tensor<T>& image) {
    return detail::map_odd(image, [](T v) {
        return v <= T(0.0031308) ? v * T(12.92) : T(1.055) * std::pow(v, T(1) / T(2.4)) - T(0.055);
    });
}

}  // namespace deblur::io
