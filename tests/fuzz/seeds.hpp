#pragma once
// The fuzzer's seed files, made in code so that nothing binary is committed:
// small images written with the library's own encoders where it has one, and
// with libpng's format by hand, libjpeg and libtiff for the layouts those
// encoders never write (palettes, interlacing, bit depths below 8, tiles,
// planar samples, big-endian files, progressive and arithmetic-coded JPEG);
// and headers that claim huge images, which every reader must refuse.
#include <cstdio>  // before jpeglib.h
#include <jpeglib.h>
#include <tiffio.h>
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <deblur/io/pfm.hpp>
#include <deblur/io/png.hpp>
#include <deblur/io/tiff.hpp>
#include <deblur/net/model_file.hpp>

#include "mutator.hpp"

namespace deblur::fuzz {

// A C x H x W test pattern in [0, 1] that differs per channel.
inline Tensor<float> pattern(std::size_t c, std::size_t h, std::size_t w) {
    Tensor<float> t = Tensor<float>::from_shape({c, h, w});
    for (std::size_t k = 0; k < c; ++k)
        for (std::size_t y = 0; y < h; ++y)
            for (std::size_t x = 0; x < w; ++x)
                t(k, y, x) = static_cast<float>((x * 7 + y * 13 + k * 29) % 64) / 63.0f;
    return t;
}

// One byte of a pattern, for raw sample data.
inline unsigned char pattern_byte(std::size_t i) { return static_cast<unsigned char>(i * 37 + (i >> 3) * 11); }

inline void put_be32(Bytes& b, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<unsigned char>(v >> shift));
}
inline void set_be(Bytes& b, std::size_t at, std::uint64_t v, std::size_t width) {
    for (std::size_t i = 0; i < width; ++i) b[at + i] = static_cast<unsigned char>(v >> (8 * (width - 1 - i)));
}

// --- PNG ----------------------------------------------------------------------

inline void png_chunk(Bytes& out, const char* type, const Bytes& data) {
    put_be32(out, static_cast<std::uint32_t>(data.size()));
    const std::size_t start = out.size();
    out.insert(out.end(), type, type + 4);
    out.insert(out.end(), data.begin(), data.end());
    put_be32(out, static_cast<std::uint32_t>(crc32(0, out.data() + start, static_cast<uInt>(out.size() - start))));
}

// Recomputes every chunk's CRC (as far as the chunk lengths make sense), so
// that a mutation reaches the parsing behind libpng's CRC check.
inline void fix_png_crcs(Bytes& b) {
    std::size_t at = 8;
    while (at + 12 <= b.size()) {
        const std::uint32_t n = std::uint32_t{b[at]} << 24 | std::uint32_t{b[at + 1]} << 16 | std::uint32_t{b[at + 2]} << 8 | b[at + 3];
        if (n > b.size() - at - 12) return;
        const auto crc = static_cast<std::uint32_t>(crc32(0, b.data() + at + 4, n + 4));
        set_be(b, at + 8 + n, crc, 4);
        at += 12 + n;
    }
}

// A PNG written by hand: any bit depth and colour type, optionally Adam7
// interlaced, rows with all five filter types; `extra` chunks (PLTE, tRNS)
// go before the image data.
inline Bytes craft_png(std::uint32_t w, std::uint32_t h, int depth, int color_type, bool interlaced,
                       const std::vector<std::pair<const char*, Bytes>>& extra = {}) {
    const int channels = color_type == 0 || color_type == 3 ? 1 : color_type == 2 ? 3 : color_type == 4 ? 2 : 4;
    const std::size_t bits_per_pixel = static_cast<std::size_t>(depth * channels);
    struct Pass { std::uint32_t x0, y0, dx, dy; };
    const std::vector<Pass> passes = interlaced
        ? std::vector<Pass>{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}
        : std::vector<Pass>{{0, 0, 1, 1}};
    Bytes raw;
    std::size_t i = 0;
    for (const Pass& p : passes) {
        const std::uint32_t pw = w > p.x0 ? (w - p.x0 + p.dx - 1) / p.dx : 0, ph = h > p.y0 ? (h - p.y0 + p.dy - 1) / p.dy : 0;
        if (pw == 0 || ph == 0) continue;
        for (std::uint32_t y = 0; y < ph; ++y) {
            raw.push_back(static_cast<unsigned char>(y % 5));  // filter type: none, sub, up, average, Paeth
            for (std::size_t k = 0; k < (pw * bits_per_pixel + 7) / 8; ++k) raw.push_back(pattern_byte(i++));
        }
    }
    Bytes compressed(compressBound(static_cast<uLong>(raw.size())));
    uLongf size = static_cast<uLongf>(compressed.size());
    compress2(compressed.data(), &size, raw.data(), static_cast<uLong>(raw.size()), 9);
    compressed.resize(size);

    Bytes out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    Bytes ihdr;
    put_be32(ihdr, w);
    put_be32(ihdr, h);
    ihdr.insert(ihdr.end(), {static_cast<unsigned char>(depth), static_cast<unsigned char>(color_type), 0, 0,
                             static_cast<unsigned char>(interlaced ? 1 : 0)});
    png_chunk(out, "IHDR", ihdr);
    for (const auto& [type, data] : extra) png_chunk(out, type, data);
    png_chunk(out, "IDAT", compressed);
    png_chunk(out, "IEND", {});
    return out;
}

inline std::vector<Bytes> png_seeds() {
    using io::SampleType;
    std::vector<Bytes> seeds;
    for (std::size_t c : {1, 2, 3, 4})
        for (SampleType s : {SampleType::uint8, SampleType::uint16})
            seeds.push_back(io::encode_png(pattern(c, 11, 13), s, "seed.png"));
    Bytes palette, alpha;
    for (int i = 0; i < 16; ++i) {
        palette.insert(palette.end(), {static_cast<unsigned char>(16 * i), static_cast<unsigned char>(255 - 16 * i),
                                       static_cast<unsigned char>(i * 7)});
        alpha.push_back(static_cast<unsigned char>(255 - i));
    }
    seeds.push_back(craft_png(9, 7, 4, 3, false, {{"PLTE", palette}, {"tRNS", alpha}}));  // palette with alpha
    seeds.push_back(craft_png(10, 9, 2, 0, false));                                         // 2-bit gray
    seeds.push_back(craft_png(12, 11, 8, 0, true));                                         // interlaced gray
    seeds.push_back(craft_png(9, 10, 16, 2, true, {{"tRNS", {0, 1, 0, 2, 0, 3}}}));         // interlaced RGB, colour key
    return seeds;
}

// A valid gray PNG whose header claims w x h (CRC fixed): the data cannot fill it.
inline Bytes png_claiming(std::uint32_t w, std::uint32_t h) {
    Bytes b = io::encode_png(pattern(1, 4, 4), io::SampleType::uint8, "seed.png");
    set_be(b, 16, w, 4);
    set_be(b, 20, h, 4);
    fix_png_crcs(b);
    return b;
}

// --- JPEG ---------------------------------------------------------------------

struct JpegLayout {
    int components = 3;
    bool progressive = false, arithmetic = false, optimised = false, full_chroma = false;
    unsigned restart_rows = 0;
};

inline Bytes encode_jpeg(std::uint32_t w, std::uint32_t h, const JpegLayout& l) {
    jpeg_compress_struct cinfo;
    jpeg_error_mgr errors;
    cinfo.err = jpeg_std_error(&errors);
    jpeg_create_compress(&cinfo);
    unsigned char* buffer = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&cinfo, &buffer, &size);
    cinfo.image_width = w;
    cinfo.image_height = h;
    cinfo.input_components = l.components;
    cinfo.in_color_space = l.components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, 85, TRUE);
    if (l.progressive) jpeg_simple_progression(&cinfo);
    cinfo.arith_code = l.arithmetic ? TRUE : FALSE;
    cinfo.optimize_coding = l.optimised ? TRUE : FALSE;
    cinfo.restart_in_rows = static_cast<int>(l.restart_rows);
    if (l.full_chroma && l.components == 3) cinfo.comp_info[0].h_samp_factor = cinfo.comp_info[0].v_samp_factor = 1;
    jpeg_start_compress(&cinfo, TRUE);
    Bytes row(std::size_t{w} * static_cast<std::size_t>(l.components));
    while (cinfo.next_scanline < h) {
        for (std::size_t i = 0; i < row.size(); ++i) row[i] = pattern_byte(i + cinfo.next_scanline * 5);
        JSAMPROW r = row.data();
        jpeg_write_scanlines(&cinfo, &r, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    Bytes bytes(buffer, buffer + size);
    std::free(buffer);
    return bytes;
}

inline std::vector<Bytes> jpeg_seeds() {
    return {encode_jpeg(19, 17, {.components = 1}),
            encode_jpeg(21, 18, {.components = 3}),
            encode_jpeg(20, 17, {.components = 3, .progressive = true}),
            encode_jpeg(18, 19, {.components = 1, .progressive = true, .optimised = true}),
            encode_jpeg(17, 20, {.components = 3, .arithmetic = true}),
            encode_jpeg(24, 24, {.components = 3, .optimised = true, .full_chroma = true, .restart_rows = 1})};
}

// A valid JPEG whose frame header claims w x h.
inline Bytes jpeg_claiming(std::uint16_t w, std::uint16_t h) {
    Bytes b = encode_jpeg(16, 16, {.components = 1});
    for (std::size_t i = 0; i + 9 < b.size(); ++i)
        if (b[i] == 0xFF && b[i + 1] == 0xC0) {  // SOF0: length, precision, height, width
            set_be(b, i + 5, h, 2);
            set_be(b, i + 7, w, 2);
            break;
        }
    return b;
}

// --- TIFF ---------------------------------------------------------------------

struct TiffLayout {
    std::uint16_t photometric = PHOTOMETRIC_RGB, samples = 3, bits = 8, format = SAMPLEFORMAT_UINT;
    std::uint16_t planar = PLANARCONFIG_CONTIG, compression = COMPRESSION_NONE;
    bool tiled = false, big_endian = false;
};

// A TIFF written with libtiff directly, sample data a byte pattern (floats in [0, 1]).
inline Bytes craft_tiff(std::uint32_t w, std::uint32_t h, const TiffLayout& l) {
    Bytes out;
    io::detail::TiffStream stream;
    stream.out = &out;
    io::detail::TiffHandle handle(io::detail::tiff_open(stream, "seed.tif", l.big_endian ? "wb" : "wl"));
    TIFF* tif = handle.get();
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, w);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, h);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, unsigned{l.samples});
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, unsigned{l.bits});
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, unsigned{l.format});
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, unsigned{l.photometric});
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, unsigned{l.planar});
    TIFFSetField(tif, TIFFTAG_COMPRESSION, unsigned{l.compression});
    if (l.samples == 2 || l.samples == 4) {
        const std::uint16_t alpha = EXTRASAMPLE_UNASSALPHA;
        TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, 1, &alpha);
    }
    std::vector<std::uint16_t> map;
    if (l.photometric == PHOTOMETRIC_PALETTE) {
        map.resize(std::size_t{1} << l.bits);
        for (std::size_t i = 0; i < map.size(); ++i) map[i] = static_cast<std::uint16_t>(i * 65535 / (map.size() - 1));
        TIFFSetField(tif, TIFFTAG_COLORMAP, map.data(), map.data(), map.data());
    }
    if (l.tiled) {
        TIFFSetField(tif, TIFFTAG_TILEWIDTH, 16u);
        TIFFSetField(tif, TIFFTAG_TILELENGTH, 16u);
    } else {
        TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, 4u);
    }
    const bool floating = l.format == SAMPLEFORMAT_IEEEFP;
    auto fill = [&](Bytes& buffer, std::size_t salt) {
        for (std::size_t i = 0; i < buffer.size(); ++i) buffer[i] = pattern_byte(i + salt);
        if (floating)
            for (std::size_t i = 0; i + 4 <= buffer.size(); i += 4) {
                const float v = static_cast<float>((i / 4 + salt) % 50) / 49.0f;
                std::memcpy(buffer.data() + i, &v, 4);
            }
    };
    const std::uint16_t planes = l.planar == PLANARCONFIG_SEPARATE ? l.samples : 1;
    if (l.tiled) {
        Bytes tile(static_cast<std::size_t>(TIFFTileSize64(tif)));
        for (std::uint16_t p = 0; p < planes; ++p)
            for (std::uint32_t y = 0; y < h; y += 16)
                for (std::uint32_t x = 0; x < w; x += 16) {
                    fill(tile, x + 3 * y + p);
                    TIFFWriteTile(tif, tile.data(), x, y, 0, p);
                }
    } else {
        Bytes row(static_cast<std::size_t>(TIFFScanlineSize64(tif)));
        for (std::uint16_t p = 0; p < planes; ++p)
            for (std::uint32_t y = 0; y < h; ++y) {
                fill(row, 5 * y + p);
                TIFFWriteScanline(tif, row.data(), y, p);
            }
    }
    TIFFWriteDirectory(tif);
    handle.reset();
    return out;
}

inline std::vector<Bytes> tiff_seeds() {
    using io::SampleType;
    std::vector<Bytes> seeds = {io::encode_tiff(pattern(1, 9, 11), SampleType::uint8, "seed.tif"),
                                io::encode_tiff(pattern(2, 10, 9), SampleType::uint16, "seed.tif"),
                                io::encode_tiff(pattern(3, 8, 12), SampleType::float32, "seed.tif"),
                                io::encode_tiff(pattern(4, 9, 10), SampleType::uint8, "seed.tif")};
    seeds.push_back(craft_tiff(20, 18, {.tiled = true, .big_endian = true}));
    seeds.push_back(craft_tiff(11, 9, {.bits = 16, .planar = PLANARCONFIG_SEPARATE, .compression = COMPRESSION_LZW}));
    seeds.push_back(craft_tiff(18, 17, {.photometric = PHOTOMETRIC_MINISBLACK, .samples = 1, .bits = 32,
                                        .format = SAMPLEFORMAT_IEEEFP, .tiled = true}));
    seeds.push_back(craft_tiff(12, 9, {.photometric = PHOTOMETRIC_MINISWHITE, .samples = 1, .bits = 16,
                                       .compression = COMPRESSION_PACKBITS, .big_endian = true}));
    seeds.push_back(craft_tiff(13, 10, {.photometric = PHOTOMETRIC_PALETTE, .samples = 1, .bits = 8,
                                        .compression = COMPRESSION_PACKBITS}));  // libtiff's RGBA reader
    seeds.push_back(craft_tiff(21, 7, {.photometric = PHOTOMETRIC_MINISWHITE, .samples = 1, .bits = 1}));
    // Compressed: libtiff 4.5.0's RGBA reader refuses uncompressed tiles under 1 KiB.
    seeds.push_back(craft_tiff(9, 9, {.photometric = PHOTOMETRIC_PALETTE, .samples = 1, .bits = 4,
                                      .compression = COMPRESSION_LZW, .tiled = true}));
    return seeds;
}

// `tiff` with a one-number tag of its first directory (width, length,
// samples per pixel...) set to v, as a LONG in the file's byte order.
inline Bytes tiff_with_tag(Bytes b, std::uint16_t tag, std::uint32_t v) {
    const bool big = b[0] == 'M';
    auto get = [&](std::size_t at, std::size_t n) {
        std::uint32_t x = 0;
        for (std::size_t i = 0; i < n; ++i) x |= std::uint32_t{b[at + i]} << (8 * (big ? n - 1 - i : i));
        return x;
    };
    auto set = [&](std::size_t at, std::uint32_t x, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) b[at + i] = static_cast<unsigned char>(x >> (8 * (big ? n - 1 - i : i)));
    };
    const std::size_t ifd = get(4, 4), entries = get(ifd, 2);
    for (std::size_t e = 0; e < entries; ++e) {
        const std::size_t at = ifd + 2 + 12 * e;
        if (get(at, 2) != tag) continue;
        set(at + 2, TIFF_LONG, 2);
        set(at + 8, v, 4);
    }
    return b;
}

// `tiff` claiming to be w x h.
inline Bytes tiff_claiming(const Bytes& tiff, std::uint32_t w, std::uint32_t h) {
    return tiff_with_tag(tiff_with_tag(tiff, TIFFTAG_IMAGEWIDTH, w), TIFFTAG_IMAGELENGTH, h);
}

// --- PFM ----------------------------------------------------------------------

inline Bytes text_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

inline std::vector<Bytes> pfm_seeds() {
    std::vector<Bytes> seeds = {io::encode_pfm(pattern(1, 6, 7), io::SampleType::float32, "seed.pfm"),
                                io::encode_pfm(pattern(3, 5, 4), io::SampleType::float32, "seed.pfm")};
    // Big-endian, and a header with other whitespace.
    Bytes big = text_bytes("PF\n3 2\n1.0\n");
    for (int i = 0; i < 18; ++i) big.insert(big.end(), {0x3E, static_cast<unsigned char>(i * 9), 0, 0});
    seeds.push_back(big);
    Bytes spaced = text_bytes("Pf\t4 3\r-2.5\n");
    for (int i = 0; i < 12; ++i) spaced.insert(spaced.end(), {0, 0, static_cast<unsigned char>(i * 5), 0x3F});
    seeds.push_back(spaced);
    return seeds;
}

// --- Model files ----------------------------------------------------------------

// Rewrites a model file's trailing FNV-1a checksum to match its body, so that
// a mutation reaches the parsing behind the checksum test. The checkpoint's
// optimiser file ends in the same kind of checksum.
inline void fix_fnv_checksum(Bytes& b) {
    if (b.size() < 8 + 4 + 8) return;
    const std::uint64_t sum = deblur::detail::fnv1a(b.data(), b.size() - 8);
    std::memcpy(b.data() + b.size() - 8, &sum, 8);
}

// A model or optimiser file with the little-endian u32 or u64 at `at` set to
// v, checksum fixed.
inline Bytes with_field(Bytes b, std::size_t at, std::uint64_t v, std::size_t width) {
    if (at + width <= b.size()) std::memcpy(b.data() + at, &v, width);
    fix_fnv_checksum(b);
    return b;
}

}  // namespace deblur::fuzz
