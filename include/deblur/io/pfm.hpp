#pragma once
// PFM (portable float map), the format of the Levin et al. benchmark copy:
// an ASCII header "Pf" (gray) or "PF" (RGB), "W H", and a scale whose sign
// gives the byte order (negative: little-endian), each followed by one
// whitespace character, then W*H*C float32 values with the rows stored
// bottom-to-top. Values are kept as stored; NaN and infinity are refused.
// Written files are always little-endian with scale -1.0.
#include <bit>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../core/tensor.hpp"
#include "image.hpp"
#include "image_error.hpp"
#include "sample_type.hpp"
#include "samples.hpp"

namespace deblur::io {

namespace detail {

inline bool pfm_space(unsigned char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// The next whitespace-delimited header token; `pos` ends on the one whitespace byte after it.
inline std::string_view pfm_token(std::span<const unsigned char> bytes, std::size_t& pos) {
    while (pos < bytes.size() && pfm_space(bytes[pos])) ++pos;
    const std::size_t start = pos;
    while (pos < bytes.size() && !pfm_space(bytes[pos]) && pos - start < 64) ++pos;
    return {reinterpret_cast<const char*>(bytes.data()) + start, pos - start};
}

inline std::uint32_t byte_swapped(std::uint32_t v) {
    return (v >> 24) | ((v >> 8) & 0xFF00u) | ((v << 8) & 0xFF0000u) | (v << 24);
}

}  // namespace detail

// Decodes a PFM held in memory; `file` names it in error messages.
inline Image decode_pfm(std::span<const unsigned char> bytes, const std::filesystem::path& file) {
    std::size_t pos = 0;
    const std::string_view magic = detail::pfm_token(bytes, pos);
    if (magic != "Pf" && magic != "PF") throw ImageError(file, "not a PFM file (no 'Pf' or 'PF' header)");
    const std::size_t channels = magic == "PF" ? 3 : 1;

    auto number = [&](auto& value, const char* what) {
        const std::string_view token = detail::pfm_token(bytes, pos);
        const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
        if (token.empty() || ec != std::errc() || end != token.data() + token.size())
            throw ImageError(file, std::string("corrupt PFM header: bad ") + what + " '" + std::string(token) + "'");
    };
    std::uint64_t width = 0, height = 0;
    double scale = 0;
    number(width, "width");
    number(height, "height");
    number(scale, "scale");
    if (width == 0 || height == 0) throw ImageError(file, "corrupt PFM header: zero width or height");
    if (scale == 0 || !std::isfinite(scale)) throw ImageError(file, "corrupt PFM header: the scale must be non-zero");
    if (width > detail::max_samples || height > detail::max_samples || width * height * channels > detail::max_samples)
        throw ImageError(file, "image too large");
    if (pos >= bytes.size()) throw ImageError(file, "truncated PFM: no pixel data");
    ++pos;  // the single whitespace byte that ends the header

    const std::size_t w = width, h = height, plane = w * h, count = plane * channels;
    const std::size_t available = bytes.size() - pos;
    if (available < 4 * count)
        throw ImageError(file, "truncated PFM: " + std::to_string(available) + " bytes of pixel data, expected " +
                                   std::to_string(4 * count));
    if (available > 4 * count)
        throw ImageError(file, "corrupt PFM: " + std::to_string(available - 4 * count) +
                                   " unexpected bytes after the pixel data");

    const bool swap = (scale < 0) != (std::endian::native == std::endian::little);
    Image image;
    image.info.format = ImageFormat::pfm;
    image.info.channels = channels;
    image.info.height = h;
    image.info.width = w;
    image.info.bit_depth = 32;
    image.info.floating_point = true;
    image.pixels = Tensor<float>::from_shape({channels, h, w});
    float* dst = image.pixels.data();
    const unsigned char* src = bytes.data() + pos;
    for (std::size_t stored_row = 0; stored_row < h; ++stored_row) {
        const std::size_t y = h - 1 - stored_row;  // bottom row first
        for (std::size_t x = 0; x < w; ++x)
            for (std::size_t c = 0; c < channels; ++c) {
                std::uint32_t raw;
                std::memcpy(&raw, src + 4 * ((stored_row * w + x) * channels + c), 4);
                if (swap) raw = detail::byte_swapped(raw);
                dst[c * plane + y * w + x] = std::bit_cast<float>(raw);
            }
    }
    detail::require_finite(dst, channels, h, w, file, "the PFM has");
    return image;
}

// Encodes 1 (gray) or 3 (RGB) channels as a little-endian PFM.
inline std::vector<unsigned char> encode_pfm(const Tensor<float>& pixels, SampleType sample,
                                             const std::filesystem::path& file) {
    if (sample != SampleType::float32)
        throw ImageError(file, "PFM stores 32-bit float samples only, not " + std::string(sample_type_name(sample)));
    detail::require_writable_shape(pixels, {1, 3}, "PFM", file);
    detail::require_finite(pixels, file);
    const std::size_t c = pixels.shape(0), h = pixels.shape(1), w = pixels.shape(2), plane = h * w;
    const std::string header =
        std::string(c == 3 ? "PF" : "Pf") + "\n" + std::to_string(w) + " " + std::to_string(h) + "\n-1.0\n";
    std::vector<unsigned char> out(header.begin(), header.end());
    out.resize(header.size() + 4 * c * plane);
    unsigned char* dst = out.data() + header.size();
    const float* src = pixels.data();
    for (std::size_t stored_row = 0; stored_row < h; ++stored_row) {
        const std::size_t y = h - 1 - stored_row;
        for (std::size_t x = 0; x < w; ++x)
            for (std::size_t ch = 0; ch < c; ++ch) {
                std::uint32_t raw = std::bit_cast<std::uint32_t>(src[ch * plane + y * w + x]);
                if (std::endian::native != std::endian::little) raw = detail::byte_swapped(raw);
                std::memcpy(dst, &raw, 4);
                dst += 4;
            }
    }
    return out;
}

}  // namespace deblur::io
