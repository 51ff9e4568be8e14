#pragma once
// Conversions shared by the codecs: interleaved stored samples to planar
// C x H x W floats and back, and the checks every writer makes first.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>

#include "../core/image_conversion.hpp"
#include "../core/tensor.hpp"
#include "image_error.hpp"

namespace deblur::io::detail {

// At most this many samples per decoded image (4 GiB of floats): a corrupt
// header claiming a gigantic image fails with an ImageError, not bad_alloc.
inline constexpr std::uint64_t max_samples = std::uint64_t{1} << 30;

// Throws unless every value is finite; the message says where the first bad one is.
template <class T>
void require_finite(const T* values, std::size_t channels, std::size_t height, std::size_t width,
                    const std::filesystem::path& file, const char* what) {
    const std::size_t n = channels * height * width;
    for (std::size_t i = 0; i < n; ++i) {
        if (std::isfinite(values[i])) continue;
        const std::size_t c = i / (height * width), y = i / width % height, x = i % width;
        throw ImageError(file, std::string(what) + " " + (std::isnan(values[i]) ? "NaN" : "an infinite value") +
                                   " at channel " + std::to_string(c) + ", row " + std::to_string(y) + ", column " +
                                   std::to_string(x) + " (only finite values are accepted)");
    }
}

inline void require_finite(const Tensor<float>& pixels, const std::filesystem::path& file) {
    require_finite(pixels.data(), pixels.shape(0), pixels.shape(1), pixels.shape(2), file, "the image to write has");
}

// Checks what every writer needs: some pixels and a channel count the format can hold.
inline void require_writable_shape(const Tensor<float>& pixels, std::initializer_list<std::size_t> allowed_channels,
                                   const char* format, const std::filesystem::path& file) {
    const std::size_t c = pixels.shape(0), h = pixels.shape(1), w = pixels.shape(2);
    if (c == 0 || h == 0 || w == 0)
        throw ImageError(file, "cannot write an empty image (" + std::to_string(c) + " x " + std::to_string(h) +
                                   " x " + std::to_string(w) + ")");
    if (std::find(allowed_channels.begin(), allowed_channels.end(), c) == allowed_channels.end())
        throw ImageError(file, std::string(format) + " cannot store " + std::to_string(c) + " channels");
    if (h > 0x7FFFFFFFu || w > 0x7FFFFFFFu) throw ImageError(file, "image is too large to write");
}

using deblur::detail::quantise;  // core/image_conversion.hpp: the integer sample a value in [0, 1] is stored as

// Planar C x H x W floats from interleaved integer samples (native byte order), scaled by 1/max.
template <class Sample>
Tensor<float> planar_from_interleaved(const Sample* samples, std::size_t channels, std::size_t height,
                                      std::size_t width, double max) {
    Tensor<float> out = Tensor<float>::from_shape({channels, height, width});
    const double scale = 1.0 / max;
    float* dst = out.data();
    const std::size_t plane = height * width;
    for (std::size_t p = 0; p < plane; ++p)
        for (std::size_t c = 0; c < channels; ++c)
            dst[c * plane + p] = static_cast<float>(samples[p * channels + c] * scale);
    return out;
}

}  // namespace deblur::io::detail
