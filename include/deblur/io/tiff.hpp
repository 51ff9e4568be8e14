#pragma once
// TIFF decoding and encoding with libtiff, in memory.
//
// Reading: 8 and 16-bit unsigned and 32-bit float samples, gray (min-is-black
// or min-is-white) or RGB, with or without alpha, strips or tiles, contiguous
// or planar, any compression libtiff decodes; integer samples are scaled to
// [0, 1], float samples are kept as stored and NaN/infinity is refused.
// Palette, YCbCr, CMYK and 1/2/4-bit images go through libtiff's RGBA reader
// (8-bit RGB or gray). Only the first image of a multi-page file is read.
// Writing: 8/16-bit unsigned or 32-bit float, 1 to 4 channels, deflate.
//
// libtiff's errors go to a handler of the open file (libtiff >= 4.5) that
// keeps the first message for the ImageError; nothing is printed.
#include <tiffio.h>

#include <algorithm>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
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

// What libtiff reads from or writes to, through the client procedures below.
struct TiffStream {
    const unsigned char* data = nullptr;  // reading
    std::size_t size = 0;
    std::vector<unsigned char>* out = nullptr;  // writing
    std::uint64_t pos = 0;
    std::string name;  // libtiff starts many messages with it: removed, ImageError names the file
    char error[512] = {};
};

inline TiffStream& tiff_stream(thandle_t handle) { return *static_cast<TiffStream*>(handle); }

inline tmsize_t tiff_read(thandle_t handle, void* buffer, tmsize_t n) {
    TiffStream& s = tiff_stream(handle);
    const std::uint64_t size = s.out ? s.out->size() : s.size;
    const unsigned char* data = s.out ? s.out->data() : s.data;
    if (n <= 0 || s.pos >= size) return 0;
    const std::uint64_t count = std::min<std::uint64_t>(static_cast<std::uint64_t>(n), size - s.pos);
    std::memcpy(buffer, data + s.pos, count);
    s.pos += count;
    return static_cast<tmsize_t>(count);
}

inline tmsize_t tiff_write(thandle_t handle, void* buffer, tmsize_t n) {
    TiffStream& s = tiff_stream(handle);
    if (!s.out || n < 0) return -1;
    const std::uint64_t end = s.pos + static_cast<std::uint64_t>(n);
    try {
        if (end > s.out->size()) s.out->resize(end);
    } catch (...) {  // no exception may cross libtiff's C frames
        return -1;
    }
    std::memcpy(s.out->data() + s.pos, buffer, static_cast<std::size_t>(n));
    s.pos = end;
    return n;
}

inline toff_t tiff_seek(thandle_t handle, toff_t offset, int whence) {
    TiffStream& s = tiff_stream(handle);
    const std::uint64_t size = s.out ? s.out->size() : s.size;
    std::uint64_t base = 0;
    if (whence == SEEK_CUR) base = s.pos;
    else if (whence == SEEK_END) base = size;
    else if (whence != SEEK_SET) return static_cast<toff_t>(-1);
    s.pos = base + offset;
    return s.pos;
}

inline int tiff_close(thandle_t) { return 0; }
inline toff_t tiff_size(thandle_t handle) {
    TiffStream& s = tiff_stream(handle);
    return s.out ? s.out->size() : s.size;
}
inline int tiff_map(thandle_t, void**, toff_t*) { return 0; }
inline void tiff_unmap(thandle_t, void*, toff_t) {}

#if TIFFLIB_VERSION >= 20221213
inline int tiff_keep_first_error(TIFF*, void* user_data, const char*, const char* format, va_list args) {
    TiffStream& s = *static_cast<TiffStream*>(user_data);
    if (s.error[0] != '\0') return 1;
    std::vsnprintf(s.error, sizeof s.error, format, args);
    const std::size_t length = std::strlen(s.error);
    if (!s.name.empty() && length > s.name.size() + 2 && std::string_view(s.error).starts_with(s.name) &&
        std::string_view(s.error).substr(s.name.size(), 2) == ": ")
        std::memmove(s.error, s.error + s.name.size() + 2, length - s.name.size() - 1);
    return 1;  // handled: libtiff prints nothing
}
inline int tiff_ignore_warning(TIFF*, void*, const char*, const char*, va_list) { return 1; }
#endif

inline TIFF* tiff_open(TiffStream& stream, const std::string& name, const char* mode) {
    stream.name = name;
#if TIFFLIB_VERSION >= 20221213
    TIFFOpenOptions* options = TIFFOpenOptionsAlloc();
    if (!options) return nullptr;
    TIFFOpenOptionsSetErrorHandlerExtR(options, tiff_keep_first_error, &stream);
    TIFFOpenOptionsSetWarningHandlerExtR(options, tiff_ignore_warning, &stream);
    TIFF* tif = TIFFClientOpenExt(name.c_str(), mode, &stream, tiff_read, tiff_write, tiff_seek, tiff_close,
                                  tiff_size, tiff_map, tiff_unmap, options);
    TIFFOpenOptionsFree(options);
    return tif;
#else
    return TIFFClientOpen(name.c_str(), mode, &stream, tiff_read, tiff_write, tiff_seek, tiff_close, tiff_size,
                          tiff_map, tiff_unmap);
#endif
}

struct TiffCloser {
    void operator()(TIFF* tif) const { TIFFClose(tif); }
};
using TiffHandle = std::unique_ptr<TIFF, TiffCloser>;

// One stored sample as a float: integers scaled to [0, 1], floats as they are.
struct TiffSampleReader {
    int bits;
    bool floating;
    float operator()(const unsigned char* buffer, std::size_t index) const {
        if (floating) {
            float v;
            std::memcpy(&v, buffer + 4 * index, 4);
            return v;
        }
        if (bits == 8) return static_cast<float>(buffer[index] / 255.0);
        std::uint16_t v;
        std::memcpy(&v, buffer + 2 * index, 2);
        return static_cast<float>(v / 65535.0);
    }
};

}  // namespace detail

// Decodes the first image of a TIFF held in memory; `file` names it in error messages.
inline Image decode_tiff(std::span<const unsigned char> bytes, const std::filesystem::path& file) {
    detail::TiffStream stream;
    stream.data = bytes.data();
    stream.size = bytes.size();
    auto error = [&](const std::string& problem) {
        return ImageError(file, stream.error[0] ? problem + ": " + stream.error : problem);
    };
    const detail::TiffHandle handle(detail::tiff_open(stream, file.string(), "r"));
    if (!handle) throw error("corrupt or unreadable TIFF");
    TIFF* tif = handle.get();

    std::uint32_t width = 0, height = 0;
    std::uint16_t samples_per_pixel = 1, bits = 1, sample_format = SAMPLEFORMAT_UINT, planar = PLANARCONFIG_CONTIG;
    std::uint16_t photometric = 0;
    if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &width) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &height) ||
        width == 0 || height == 0)
        throw error("corrupt TIFF: no image size");
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &samples_per_pixel);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bits);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &sample_format);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
    if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric))
        throw error("corrupt TIFF: no photometric interpretation");
    // The stored samples must fit too, not only the decoded ones: libtiff
    // sizes (and zero-fills) its strip buffers by them.
    if (std::uint64_t{samples_per_pixel} * width * height > detail::max_samples)
        throw ImageError(file, "image too large (" + std::to_string(width) + " x " + std::to_string(height) + " x " +
                                   std::to_string(samples_per_pixel) + " samples)");

    const bool gray = photometric == PHOTOMETRIC_MINISBLACK || photometric == PHOTOMETRIC_MINISWHITE;
    const bool rgb = photometric == PHOTOMETRIC_RGB;
    const bool integer = sample_format == SAMPLEFORMAT_UINT && (bits == 8 || bits == 16);
    const bool floating = sample_format == SAMPLEFORMAT_IEEEFP && bits == 32;
    const bool direct = ((gray && samples_per_pixel <= 2) || (rgb && (samples_per_pixel == 3 || samples_per_pixel == 4))) &&
                        (integer || (floating && photometric != PHOTOMETRIC_MINISWHITE));

    Image image;
    image.info.format = ImageFormat::tiff;
    image.info.height = height;
    image.info.width = width;
    image.info.bit_depth = bits;
    image.info.floating_point = floating;
    const std::size_t h = height, w = width, plane = h * w;

    if (direct) {
        const std::size_t c = samples_per_pixel;
        if (static_cast<std::uint64_t>(c) * plane > detail::max_samples)
            throw ImageError(file, "image too large (" + std::to_string(w) + " x " + std::to_string(h) + ")");
        image.info.channels = c;
        image.info.has_alpha = c == 2 || c == 4;
        // Allocated once the first row or tile has been read: a header claiming
        // a huge image mostly comes without its data, and is refused first.
        float* dst = nullptr;
        auto allocate = [&] {
            image.pixels = Tensor<float>::from_shape({c, h, w});
            dst = image.pixels.data();
        };
        const detail::TiffSampleReader sample{bits, floating};
        const bool min_is_white = photometric == PHOTOMETRIC_MINISWHITE;
        const bool contiguous = planar == PLANARCONFIG_CONTIG || c == 1;
        const std::size_t planes = contiguous ? 1 : c;
        const std::size_t per_pixel = contiguous ? c : 1;
        // Only the gray channel of a min-is-white image is inverted, never alpha.
        auto store = [&](std::size_t channel, std::size_t y, std::size_t x, float v) {
            if (min_is_white && channel == 0) v = 1.0f - v;
            dst[channel * plane + y * w + x] = v;
        };
        if (!TIFFIsTiled(tif)) {
            std::vector<unsigned char> row(static_cast<std::size_t>(TIFFScanlineSize64(tif)));
            if (row.size() < w * per_pixel * static_cast<std::size_t>(bits / 8)) throw error("corrupt TIFF: bad row size");
            if (TIFFReadScanline(tif, row.data(), 0, 0) < 0) throw error("corrupt or truncated TIFF");
            allocate();  // the loop reads row 0 again (libtiff restarts the strip)
            for (std::size_t p = 0; p < planes; ++p)
                for (std::size_t y = 0; y < h; ++y) {
                    if (TIFFReadScanline(tif, row.data(), static_cast<std::uint32_t>(y), static_cast<std::uint16_t>(p)) < 0)
                        throw error("corrupt or truncated TIFF");
                    for (std::size_t x = 0; x < w; ++x)
                        for (std::size_t k = 0; k < per_pixel; ++k)
                            store(p + k, y, x, sample(row.data(), x * per_pixel + k));
                }
        } else {
            std::uint32_t tile_w = 0, tile_h = 0;
            if (!TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tile_w) || !TIFFGetField(tif, TIFFTAG_TILELENGTH, &tile_h) ||
                tile_w == 0 || tile_h == 0)
                throw error("corrupt TIFF: no tile size");
            std::vector<unsigned char> tile(static_cast<std::size_t>(TIFFTileSize64(tif)));
            if (tile.size() < std::size_t{tile_w} * tile_h * per_pixel * static_cast<std::size_t>(bits / 8))
                throw error("corrupt TIFF: bad tile size");
            if (TIFFReadTile(tif, tile.data(), 0, 0, 0, 0) < 0) throw error("corrupt or truncated TIFF");
            allocate();
            for (std::size_t p = 0; p < planes; ++p)
                for (std::size_t ty = 0; ty < h; ty += tile_h)
                    for (std::size_t tx = 0; tx < w; tx += tile_w) {
                        if (TIFFReadTile(tif, tile.data(), static_cast<std::uint32_t>(tx), static_cast<std::uint32_t>(ty), 0,
                                         static_cast<std::uint16_t>(p)) < 0)
                            throw error("corrupt or truncated TIFF");
                        for (std::size_t y = ty; y < std::min<std::size_t>(ty + tile_h, h); ++y)
                            for (std::size_t x = tx; x < std::min<std::size_t>(tx + tile_w, w); ++x)
                                for (std::size_t k = 0; k < per_pixel; ++k)
                                    store(p + k, y, x, sample(tile.data(), ((y - ty) * tile_w + (x - tx)) * per_pixel + k));
                    }
        }
        if (floating) detail::require_finite(dst, c, h, w, file, "the float TIFF has");
        return image;
    }

    if (sample_format == SAMPLEFORMAT_UINT && bits <= 8) {
        // Palette, YCbCr, CMYK, bilevel...: libtiff converts to 8-bit RGBA.
        char why[1024] = {};
        if (!TIFFRGBAImageOK(tif, why)) throw ImageError(file, std::string("unsupported TIFF: ") + why);
        const std::size_t c = (gray ? 1 : 3) + (samples_per_pixel == (gray ? 2 : 4) ? 1 : 0);
        if (static_cast<std::uint64_t>(c) * plane > detail::max_samples)
            throw ImageError(file, "image too large (" + std::to_string(w) + " x " + std::to_string(h) + ")");
        // Not zero-filled: libtiff writes every pixel before it succeeds, and a
        // header claiming a huge image then fails at its first strip without
        // the whole raster ever being touched.
        const auto raster = std::make_unique_for_overwrite<std::uint32_t[]>(plane);
        // Stop on the first damaged strip or tile (libtiff would leave it blank and succeed).
        if (!TIFFReadRGBAImageOriented(tif, width, height, raster.get(), ORIENTATION_TOPLEFT, 1))
            throw error("corrupt or truncated TIFF");
        std::vector<std::uint8_t> samples(plane * c);
        for (std::size_t p = 0; p < plane; ++p) {
            const std::uint32_t v = raster[p];
            std::uint8_t* s = samples.data() + p * c;
            if (gray) {
                s[0] = static_cast<std::uint8_t>(TIFFGetR(v));
            } else {
                s[0] = static_cast<std::uint8_t>(TIFFGetR(v));
                s[1] = static_cast<std::uint8_t>(TIFFGetG(v));
                s[2] = static_cast<std::uint8_t>(TIFFGetB(v));
            }
            if (c == 2 || c == 4) s[c - 1] = static_cast<std::uint8_t>(TIFFGetA(v));
        }
        image.info.channels = c;
        image.info.has_alpha = c == 2 || c == 4;
        image.pixels = detail::planar_from_interleaved(samples.data(), c, h, w, 255.0);
        return image;
    }

    const char* kind = sample_format == SAMPLEFORMAT_IEEEFP ? "float"
                       : sample_format == SAMPLEFORMAT_INT  ? "signed integer"
                                                            : "unsigned integer";
    throw ImageError(file, "unsupported TIFF: " + std::to_string(bits) + "-bit " + kind + " samples, " +
                               std::to_string(samples_per_pixel) + " per pixel, photometric " +
                               std::to_string(photometric) +
                               " (supported: 8/16-bit unsigned or 32-bit float gray/RGB; palette, YCbCr, CMYK up to 8 bits)");
}

// Encodes 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels as an 8/16-bit
// or 32-bit float TIFF with deflate compression.
inline std::vector<unsigned char> encode_tiff(const Tensor<float>& pixels, SampleType sample,
                                              const std::filesystem::path& file) {
    detail::require_writable_shape(pixels, {1, 2, 3, 4}, "TIFF", file);
    detail::require_finite(pixels, file);
    const std::size_t c = pixels.shape(0), h = pixels.shape(1), w = pixels.shape(2), plane = h * w;
    const std::size_t bytes_per_sample = sample == SampleType::uint8 ? 1 : sample == SampleType::uint16 ? 2 : 4;

    std::vector<unsigned char> out;
    detail::TiffStream stream;
    stream.out = &out;
    auto error = [&](const std::string& problem) {
        return ImageError(file, stream.error[0] ? problem + ": " + stream.error : problem);
    };
    detail::TiffHandle handle(detail::tiff_open(stream, file.string(), "w"));
    if (!handle) throw error("TIFF encoding failed");
    TIFF* tif = handle.get();
    const bool floating = sample == SampleType::float32;
    const bool deflate = TIFFIsCODECConfigured(COMPRESSION_ADOBE_DEFLATE) != 0;
    bool ok = TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, static_cast<std::uint32_t>(w)) &&
              TIFFSetField(tif, TIFFTAG_IMAGELENGTH, static_cast<std::uint32_t>(h)) &&
              TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, static_cast<unsigned>(c)) &&
              TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, static_cast<unsigned>(8 * bytes_per_sample)) &&
              TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, floating ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT) &&
              TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, c >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK) &&
              TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG) &&
              TIFFSetField(tif, TIFFTAG_ORIENTATION, ORIENTATION_TOPLEFT) &&
              TIFFSetField(tif, TIFFTAG_COMPRESSION, deflate ? COMPRESSION_ADOBE_DEFLATE : COMPRESSION_NONE);
    if (ok && deflate)
        ok = TIFFSetField(tif, TIFFTAG_PREDICTOR, floating ? PREDICTOR_FLOATINGPOINT : PREDICTOR_HORIZONTAL);
    if (ok && (c == 2 || c == 4)) {
        const std::uint16_t alpha = EXTRASAMPLE_UNASSALPHA;
        ok = TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, 1, &alpha);
    }
    if (ok) ok = TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, TIFFDefaultStripSize(tif, 0));
    if (!ok) throw error("TIFF encoding failed");

    std::vector<unsigned char> row(w * c * bytes_per_sample);
    const float* src = pixels.data();
    for (std::size_t y = 0; y < h; ++y) {
        for (std::size_t x = 0; x < w; ++x)
            for (std::size_t ch = 0; ch < c; ++ch) {
                const float v = src[ch * plane + y * w + x];
                unsigned char* dst = row.data() + (x * c + ch) * bytes_per_sample;
                if (sample == SampleType::uint8) {
                    *dst = static_cast<unsigned char>(detail::quantise(v, 255));
                } else if (sample == SampleType::uint16) {
                    const auto q = static_cast<std::uint16_t>(detail::quantise(v, 65535));
                    std::memcpy(dst, &q, 2);  // native order: libtiff records it
                } else {
                    std::memcpy(dst, &v, 4);
                }
            }
        if (TIFFWriteScanline(tif, row.data(), static_cast<std::uint32_t>(y), 0) < 0) throw error("TIFF encoding failed");
    }
    if (!TIFFWriteDirectory(tif)) throw error("TIFF encoding failed");
    handle.reset();
    if (stream.error[0]) throw error("TIFF encoding failed");
    return out;
}

}  // namespace deblur::io
