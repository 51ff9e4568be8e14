#pragma once
// JPEG decoding with libjpeg (libjpeg-turbo), in memory.
//
// libjpeg's default error handler calls exit(); here errors longjmp back into
// a plain C-style function (no object with a destructor is ever skipped), and
// warnings count as errors: libjpeg "recovers" from damaged or truncated data
// by painting the rest grey, which must not pass as a real image.
//
// Reading: 8-bit grayscale and colour (YCbCr or RGB) images; colour comes out
// as RGB in [0, 1]. CMYK/YCCK JPEGs are refused. Writing JPEG is not offered:
// it is lossy, and results of this library are written as PNG, TIFF or PFM.
#include <cstddef>
#include <cstdio>  // jpeglib.h needs FILE and size_t declared first
#include <jpeglib.h>

#include <csetjmp>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include "image.hpp"
#include "image_error.hpp"
#include "samples.hpp"

namespace deblur::io {

namespace detail {

// Plain data only: this lives across setjmp/longjmp. The libjpeg structs are
// in here (not locals of the decoding function) so that their contents are
// well defined after a longjmp.
struct JpegDecodeState {
    struct ErrorManager {
        jpeg_error_mgr base;  // first member: libjpeg sees a jpeg_error_mgr*
        JpegDecodeState* state;
    };
    const unsigned char* data;
    std::size_t size;
    char error[JMSG_LENGTH_MAX + 64];
    bool unsupported;  // the error is a feature this reader does not handle, not damage
    std::jmp_buf jump;
    jpeg_decompress_struct cinfo;
    ErrorManager errors;
    std::uint32_t width, height;
    int channels;
    int precision;
    unsigned char* pixels;  // malloc'd, interleaved, height * width * channels
};

inline void jpeg_error_to_state(j_common_ptr cinfo) {
    auto* errors = reinterpret_cast<JpegDecodeState::ErrorManager*>(cinfo->err);
    (*cinfo->err->format_message)(cinfo, errors->state->error);
    std::longjmp(errors->state->jump, 1);
}

// Level -1 is a warning about damaged data: fail. Higher levels are traces: ignore.
inline void jpeg_warning_is_error(j_common_ptr cinfo, int level) {
    if (level < 0) jpeg_error_to_state(cinfo);
}

inline void jpeg_print_nothing(j_common_ptr) {}

// Decodes state->data into state->pixels. Returns false with state->error set on failure.
inline bool jpeg_decode_plain(JpegDecodeState* state) {
    std::memset(&state->cinfo, 0, sizeof state->cinfo);  // so destroy is safe whenever the error comes
    state->cinfo.err = jpeg_std_error(&state->errors.base);
    state->errors.base.error_exit = jpeg_error_to_state;
    state->errors.base.emit_message = jpeg_warning_is_error;
    state->errors.base.output_message = jpeg_print_nothing;
    state->errors.state = state;
    if (setjmp(state->jump)) {
        jpeg_destroy_decompress(&state->cinfo);
        std::free(state->pixels);
        state->pixels = nullptr;
        return false;
    }
    jpeg_create_decompress(&state->cinfo);
    // libjpeg-turbo takes const data, older libjpeg does not; it never writes to it.
    jpeg_mem_src(&state->cinfo, const_cast<unsigned char*>(state->data), static_cast<unsigned long>(state->size));
    jpeg_read_header(&state->cinfo, TRUE);
    state->precision = state->cinfo.data_precision;
    switch (state->cinfo.jpeg_color_space) {
        case JCS_GRAYSCALE: state->cinfo.out_color_space = JCS_GRAYSCALE; break;
        case JCS_YCbCr:
        case JCS_RGB: state->cinfo.out_color_space = JCS_RGB; break;
        default:
            std::snprintf(state->error, sizeof state->error, "%s JPEG images are not supported (only gray and RGB)",
                          state->cinfo.jpeg_color_space == JCS_CMYK || state->cinfo.jpeg_color_space == JCS_YCCK
                              ? "CMYK"
                              : "this colour space of");
            state->unsupported = true;
            jpeg_destroy_decompress(&state->cinfo);
            return false;
    }
    jpeg_start_decompress(&state->cinfo);
    state->width = state->cinfo.output_width;
    state->height = state->cinfo.output_height;
    state->channels = state->cinfo.output_components;
    const std::size_t row_bytes = static_cast<std::size_t>(state->width) * static_cast<std::size_t>(state->channels);
    if (std::uint64_t{state->width} * state->height * static_cast<std::uint64_t>(state->channels) > max_samples) {
        std::snprintf(state->error, sizeof state->error, "image too large");
        jpeg_destroy_decompress(&state->cinfo);
        return false;
    }
    state->pixels = static_cast<unsigned char*>(std::malloc(row_bytes * state->height));
    if (!state->pixels) {
        std::snprintf(state->error, sizeof state->error, "out of memory");
        jpeg_destroy_decompress(&state->cinfo);
        return false;
    }
    while (state->cinfo.output_scanline < state->cinfo.output_height) {
        JSAMPROW row = state->pixels + static_cast<std::size_t>(state->cinfo.output_scanline) * row_bytes;
        jpeg_read_scanlines(&state->cinfo, &row, 1);
    }
    jpeg_finish_decompress(&state->cinfo);
    jpeg_destroy_decompress(&state->cinfo);
    return true;
}

}  // namespace detail

// Decodes a JPEG held in memory; `file` names it in error messages.
inline Image decode_jpeg(std::span<const unsigned char> bytes, const std::filesystem::path& file) {
    // Heap-allocated: the libjpeg structs and jmp_buf make the state large.
    auto state = std::make_unique<detail::JpegDecodeState>();
    state->data = bytes.data();
    state->size = bytes.size();
    const bool ok = detail::jpeg_decode_plain(state.get());
    const std::unique_ptr<unsigned char, decltype(&std::free)> owned(state->pixels, &std::free);
    if (!ok) {
        if (state->unsupported) throw ImageError(file, state->error);
        throw ImageError(file, std::string("corrupt or truncated JPEG: ") + state->error);
    }
    Image image;
    image.info.format = ImageFormat::jpeg;
    image.info.channels = static_cast<std::size_t>(state->channels);
    image.info.height = state->height;
    image.info.width = state->width;
    image.info.bit_depth = state->precision;
    image.pixels = detail::planar_from_interleaved(state->pixels, image.info.channels, image.info.height,
                                                   image.info.width, 255.0);
    return image;
}

}  // namespace deblur::io
