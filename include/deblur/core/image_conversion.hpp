#pragma once
// Between a caller's ImageView and the planar C x H x W float tensors the
// pipeline works on. Integer samples map to [0, 1] (x / 255, x / 65535) and
// back with rounding and clamping; float samples are taken as they are (and
// must be finite). Only the colour channels convert; an alpha channel is
// copied as it is by copy_alpha.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "image_view.hpp"
#include "tensor.hpp"

namespace deblur {

namespace detail {
template <class T>
inline constexpr float sample_max = std::is_same_v<T, float> ? 1.0f : float(std::numeric_limits<T>::max());

// round(clamp(v, 0, 1) * max): the integer sample a value in [0, 1] is stored as
// (here and by the image writers, deblur/io).
inline std::uint32_t quantise(float v, std::uint32_t max) {
    const float clamped = std::clamp(v, 0.0f, 1.0f);
    return static_cast<std::uint32_t>(std::lround(static_cast<double>(clamped) * max));
}
}  // namespace detail

// The colour channels of `image` as a C x H x W tensor in [0, 1] (C = 1 or 3).
template <class T>
Tensor<float> to_tensor(const ImageView<const T>& image) {
    const std::size_t c = image.color_channels(), h = image.height(), w = image.width();
    Tensor<float> out = Tensor<float>::from_shape({c, h, w});
    for (std::size_t k = 0; k < c; ++k)
        for (std::size_t r = 0; r < h; ++r)
            for (std::size_t x = 0; x < w; ++x) {
                const float v = static_cast<float>(image(r, x, k)) / detail::sample_max<T>;  // x / 255 exactly rounded
                if constexpr (std::is_same_v<T, float>)
                    if (!std::isfinite(v))
                        throw std::invalid_argument("deblur: the image has NaN or infinity at row " + std::to_string(r) +
                                                    ", column " + std::to_string(x) + ", channel " + std::to_string(k));
                out(k, r, x) = v;
            }
    return out;
}

// Stores a C x H x W tensor into the colour channels of `out` (same size;
// integers rounded and clamped to their range).
template <class T>
void store(const Tensor<float>& pixels, const ImageView<T>& out) {
    using V = std::remove_const_t<T>;
    if (pixels.shape(0) != out.color_channels() || pixels.shape(1) != out.height() || pixels.shape(2) != out.width())
        throw std::invalid_argument("deblur: the output view (" + std::to_string(out.width()) + " x " +
                                    std::to_string(out.height()) + ", " + std::to_string(out.color_channels()) +
                                    " colour channels) does not fit the image");
    for (std::size_t k = 0; k < pixels.shape(0); ++k)
        for (std::size_t r = 0; r < pixels.shape(1); ++r)
            for (std::size_t x = 0; x < pixels.shape(2); ++x) {
                const float v = pixels(k, r, x);
                if constexpr (std::is_same_v<V, float>)
                    out(r, x, k) = v;
                else
                    out(r, x, k) = static_cast<V>(detail::quantise(v, std::numeric_limits<V>::max()));
            }
}

// The alpha channel of `in` (if it has one) into `out`'s.
template <class T>
void copy_alpha(const ImageView<const T>& in, const ImageView<T>& out) {
    if (in.channels() != 4 || out.channels() != 4) return;
    for (std::size_t r = 0; r < in.height(); ++r)
        for (std::size_t x = 0; x < in.width(); ++x) out(r, x, 3) = in(r, x, 3);
}

}  // namespace deblur
