#pragma once
// PNG decoding and encoding with libpng, in memory.
//
// libpng reports errors by longjmp. Everything between setjmp and a possible
// longjmp therefore lives in plain C-style functions working on plain structs
// (no object with a destructor is ever skipped); the C++ wrappers around them
// own the malloc'd results and turn a failure into an ImageError.
//
// Reading: 1, 2, 4, 8 and 16-bit gray, gray+alpha, RGB, RGBA and palette
// images; palettes become RGB, a tRNS chunk becomes an alpha channel, samples
// are scaled to [0, 1]. Writing: 8 or 16-bit, 1 to 4 channels.
#include <png.h>

#include <csetjmp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "../core/tensor.hpp"
#include "image.hpp"
#include "image_error.hpp"
#include "sample_type.hpp"
#include "samples.hpp"

namespace deblur::io {

namespace detail {

// Plain data only: this lives across setjmp/longjmp.
struct PngDecodeState {
    const unsigned char* data;
    std::size_t size;
    std::size_t pos;
    char error[256];
    std::uint32_t width, height;
    int stored_bit_depth;
    int color_type;
    int channels;   // after expansion (palette -> RGB, tRNS -> alpha)
    int bit_depth;  // after expansion: 8 or 16
    std::size_t row_bytes;
    unsigned char* pixels;  // malloc'd, height * row_bytes
    unsigned char** rows;   // malloc'd row pointers into pixels
};

struct PngEncodeState {
    const unsigned char* samples;  // interleaved, big-endian for 16-bit, height * row_bytes
    std::uint32_t width, height;
    int channels, bit_depth;
    std::size_t row_bytes;
    char error[256];
    unsigned char* out;  // malloc'd encoded file
    std::size_t out_size, out_capacity;
};

template <class State>
void png_error_to_state(png_structp png, png_const_charp message) {
    auto* state = static_cast<State*>(png_get_error_ptr(png));
    std::snprintf(state->error, sizeof state->error, "%s", message);
    png_longjmp(png, 1);
}

inline void png_ignore_warning(png_structp, png_const_charp) {}

inline void png_read_from_memory(png_structp png, png_bytep out, png_size_t n) {
    auto* state = static_cast<PngDecodeState*>(png_get_io_ptr(png));
    if (n > state->size - state->pos) png_error(png, "truncated (the data ends early)");
    std::memcpy(out, state->data + state->pos, n);
    state->pos += n;
}

inline void png_write_to_memory(png_structp png, png_bytep data, png_size_t n) {
    auto* state = static_cast<PngEncodeState*>(png_get_io_ptr(png));
    if (n > state->out_capacity - state->out_size) {
        std::size_t capacity = state->out_capacity ? state->out_capacity : 4096;
        while (capacity - state->out_size < n) capacity *= 2;
        auto* grown = static_cast<unsigned char*>(std::realloc(state->out, capacity));
        if (!grown) png_error(png, "out of memory");
        state->out = grown;
        state->out_capacity = capacity;
    }
    std::memcpy(state->out + state->out_size, data, n);
    state->out_size += n;
}

inline void png_flush_nothing(png_structp) {}

// Decodes state->data into state->pixels. Returns false with state->error set on failure.
inline bool png_decode_plain(PngDecodeState* state) {
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, state, png_error_to_state<PngDecodeState>,
                                             png_ignore_warning);
    if (!png) {
        std::snprintf(state->error, sizeof state->error, "libpng could not start (out of memory)");
        return false;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, nullptr, nullptr);
        std::snprintf(state->error, sizeof state->error, "libpng could not start (out of memory)");
        return false;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, nullptr);
        std::free(state->rows);
        std::free(state->pixels);
        state->rows = nullptr;
        state->pixels = nullptr;
        return false;
    }
    png_set_read_fn(png, state, png_read_from_memory);
    png_read_info(png, info);
    png_uint_32 width = 0, height = 0;
    int depth = 0, color = 0;
    png_get_IHDR(png, info, &width, &height, &depth, &color, nullptr, nullptr, nullptr);
    state->width = width;
    state->height = height;
    state->stored_bit_depth = depth;
    state->color_type = color;
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    state->channels = png_get_channels(png, info);
    state->bit_depth = png_get_bit_depth(png, info);
    state->row_bytes = png_get_rowbytes(png, info);
    if (std::uint64_t{width} * height * static_cast<std::uint64_t>(state->channels) > max_samples)
        png_error(png, "image too large");
    state->pixels = static_cast<unsigned char*>(std::malloc(state->row_bytes * height));
    state->rows = static_cast<unsigned char**>(std::malloc(sizeof(unsigned char*) * height));
    if (!state->pixels || !state->rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; ++y) state->rows[y] = state->pixels + y * state->row_bytes;
    png_read_image(png, state->rows);
    png_read_end(png, nullptr);  // checks the chunks after the image data too
    png_destroy_read_struct(&png, &info, nullptr);
    std::free(state->rows);
    state->rows = nullptr;
    return true;
}

// Encodes state->samples into state->out. Returns false with state->error set on failure.
inline bool png_encode_plain(PngEncodeState* state) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, state, png_error_to_state<PngEncodeState>,
                                              png_ignore_warning);
    if (!png) {
        std::snprintf(state->error, sizeof state->error, "libpng could not start (out of memory)");
        return false;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, nullptr);
        std::snprintf(state->error, sizeof state->error, "libpng could not start (out of memory)");
        return false;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        std::free(state->out);
        state->out = nullptr;
        state->out_size = state->out_capacity = 0;
        return false;
    }
    static const int color_types[] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                      PNG_COLOR_TYPE_RGB_ALPHA};
    png_set_write_fn(png, state, png_write_to_memory, png_flush_nothing);
    png_set_IHDR(png, info, state->width, state->height, state->bit_depth, color_types[state->channels - 1],
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    // zlib level 3, not the default 6: less than half the write time for a
    // file some 12 % larger (BENCHMARKS.md, "Memory and FFT plans").
    png_set_compression_level(png, 3);
    png_write_info(png, info);
    for (std::uint32_t y = 0; y < state->height; ++y)
        png_write_row(png, state->samples + static_cast<std::size_t>(y) * state->row_bytes);
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    return true;
}

}  // namespace detail

// Decodes a PNG held in memory; `file` names it in error messages.
inline Image decode_png(std::span<const unsigned char> bytes, const std::filesystem::path& file) {
    detail::PngDecodeState state{};
    state.data = bytes.data();
    state.size = bytes.size();
    const bool ok = detail::png_decode_plain(&state);
    const std::unique_ptr<unsigned char, decltype(&std::free)> owned(state.pixels, &std::free);
    if (!ok) throw ImageError(file, std::string("corrupt or unreadable PNG: ") + state.error);

    Image image;
    image.info.format = ImageFormat::png;
    image.info.channels = static_cast<std::size_t>(state.channels);
    image.info.height = state.height;
    image.info.width = state.width;
    image.info.bit_depth = state.stored_bit_depth;
    image.info.has_alpha = state.channels == 2 || state.channels == 4;
    const std::size_t c = image.info.channels, h = state.height, w = state.width;
    if (state.bit_depth == 16) {
        std::vector<std::uint16_t> samples(c * h * w);
        for (std::size_t y = 0; y < h; ++y) {
            const unsigned char* row = state.pixels + y * state.row_bytes;
            for (std::size_t i = 0; i < c * w; ++i)
                samples[y * c * w + i] = static_cast<std::uint16_t>(row[2 * i] << 8 | row[2 * i + 1]);
        }
        image.pixels = detail::planar_from_interleaved(samples.data(), c, h, w, 65535.0);
    } else {
        std::vector<std::uint8_t> samples(c * h * w);
        for (std::size_t y = 0; y < h; ++y)
            std::memcpy(samples.data() + y * c * w, state.pixels + y * state.row_bytes, c * w);
        image.pixels = detail::planar_from_interleaved(samples.data(), c, h, w, 255.0);
    }
    return image;
}

// Encodes 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels as an 8 or 16-bit PNG.
inline std::vector<unsigned char> encode_png(const Tensor<float>& pixels, SampleType sample,
                                             const std::filesystem::path& file) {
    if (sample == SampleType::float32) throw ImageError(file, "PNG cannot store 32-bit float samples");
    detail::require_writable_shape(pixels, {1, 2, 3, 4}, "PNG", file);
    detail::require_finite(pixels, file);
    const std::size_t c = pixels.shape(0), h = pixels.shape(1), w = pixels.shape(2), plane = h * w;
    const bool wide = sample == SampleType::uint16;
    const std::size_t bytes_per_sample = wide ? 2 : 1;
    std::vector<unsigned char> samples(c * plane * bytes_per_sample);
    const float* src = pixels.data();
    for (std::size_t p = 0; p < plane; ++p)
        for (std::size_t ch = 0; ch < c; ++ch) {
            const std::size_t i = p * c + ch;
            if (wide) {
                const std::uint32_t v = detail::quantise(src[ch * plane + p], 65535);
                samples[2 * i] = static_cast<unsigned char>(v >> 8);  // PNG stores big-endian
                samples[2 * i + 1] = static_cast<unsigned char>(v & 0xFF);
            } else {
                samples[i] = static_cast<unsigned char>(detail::quantise(src[ch * plane + p], 255));
            }
        }

    detail::PngEncodeState state{};
    state.samples = samples.data();
    state.width = static_cast<std::uint32_t>(w);
    state.height = static_cast<std::uint32_t>(h);
    state.channels = static_cast<int>(c);
    state.bit_depth = wide ? 16 : 8;
    state.row_bytes = c * w * bytes_per_sample;
    const bool ok = detail::png_encode_plain(&state);
    const std::unique_ptr<unsigned char, decltype(&std::free)> owned(state.out, &std::free);
    if (!ok) throw ImageError(file, std::string("PNG encoding failed: ") + state.error);
    return std::vector<unsigned char>(state.out, state.out + state.out_size);
}

}  // namespace deblur::io
