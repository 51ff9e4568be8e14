#include "doctest_main.hpp"
#include "temp_dir.hpp"

#include <deblur/io/color.hpp>
#include <deblur/io/read_image.hpp>
#include <deblur/io/write_image.hpp>

#include <png.h>
#include <tiffio.h>
#include <unistd.h>

#include <cstdio>  // before jpeglib.h
#include <jpeglib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>
#include <xtensor/xmath.hpp>

namespace fs = std::filesystem;
using deblur::Tensor;
using deblur::io::Alpha;
using deblur::io::ImageError;
using deblur::io::SampleType;

namespace {

const fs::path data_dir = fs::path(DEBLUR_SOURCE_DIR) / ".." / "shared" / "data";

// A fresh directory for one test case, removed afterwards.
using deblur::test::TempDir;

std::vector<unsigned char> file_bytes(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void put_bytes(const fs::path& file, const std::vector<unsigned char>& bytes) {
    std::ofstream out(file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Random values in [lo, hi); with `levels` > 0 snapped to the grid k / levels.
Tensor<float> random_image(std::size_t c, std::size_t h, std::size_t w, unsigned seed, float lo = 0, float hi = 1,
                           unsigned levels = 0) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    auto t = deblur::make_tensor<float>(c, h, w);
    for (auto& v : t) {
        v = d(rng);
        if (levels) v = static_cast<float>(std::lround(v * levels) / double(levels));
    }
    return t;
}

float max_abs_difference(const Tensor<float>& a, const Tensor<float>& b) {
    REQUIRE(a.shape() == b.shape());
    float m = 0;
    for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a.data()[i] - b.data()[i]));
    return m;
}

bool identical(const Tensor<float>& a, const Tensor<float>& b) {
    return a.shape() == b.shape() && std::equal(a.begin(), a.end(), b.begin());
}

// Expects `f` to throw an ImageError whose one-line message names `file` and contains `problem`.
template <class F>
void check_image_error(F&& f, const fs::path& file, const std::string& problem) {
    try {
        f();
        FAIL("no ImageError for " << file);
    } catch (const ImageError& e) {
        const std::string message = e.what();
        MESSAGE(message);
        CHECK(message.find(file.string()) != std::string::npos);
        CHECK(message.find(problem) != std::string::npos);
        CHECK(message.find('\n') == std::string::npos);
        CHECK(e.file() == file);
    }
}

// An uncompressed 32-bit float gray TIFF written with libtiff directly, so
// that it can hold values write_image refuses.
void write_raw_float_tiff(const fs::path& file, const std::vector<float>& values, std::uint32_t h, std::uint32_t w) {
    TIFF* tif = TIFFOpen(file.c_str(), "w");
    REQUIRE(tif != nullptr);
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, w);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, h);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 32);
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_IEEEFP);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, h);
    std::vector<float> row(w);
    for (std::uint32_t y = 0; y < h; ++y) {
        std::copy(values.begin() + y * w, values.begin() + (y + 1) * w, row.begin());
        REQUIRE(TIFFWriteScanline(tif, row.data(), y, 0) >= 0);
    }
    TIFFClose(tif);
}

// An uncompressed 8-bit gray TIFF built byte by byte, little-endian, with its
// directory before the pixel data (libtiff writes it after), so that cutting
// the file cuts the pixels and keeps the directory.
std::vector<unsigned char> handmade_tiff(std::uint32_t h, std::uint32_t w, const std::vector<unsigned char>& pixels) {
    std::vector<unsigned char> b;
    auto u16 = [&](unsigned v) { b.push_back(static_cast<unsigned char>(v)); b.push_back(static_cast<unsigned char>(v >> 8)); };
    auto u32 = [&](std::uint32_t v) { u16(v & 0xFFFF); u16(v >> 16); };
    const std::uint32_t entries = 9, data_offset = 8 + 2 + entries * 12 + 4;
    b = {'I', 'I', 42, 0};
    u32(8);
    u16(entries);
    auto entry = [&](unsigned tag, unsigned type, std::uint32_t value) {
        u16(tag);
        u16(type);
        u32(1);
        if (type == 3) {  // SHORT, left-justified in the value field
            u16(value);
            u16(0);
        } else {
            u32(value);
        }
    };
    entry(256, 4, w);              // ImageWidth
    entry(257, 4, h);              // ImageLength
    entry(258, 3, 8);              // BitsPerSample
    entry(259, 3, 1);              // Compression: none
    entry(262, 3, 1);              // Photometric: min-is-black
    entry(273, 4, data_offset);    // StripOffsets
    entry(277, 3, 1);              // SamplesPerPixel
    entry(278, 4, h);              // RowsPerStrip
    entry(279, 4, h * w);          // StripByteCounts
    u32(0);                        // no next directory
    b.insert(b.end(), pixels.begin(), pixels.end());
    return b;
}

// A TIFF written with libtiff directly, in layouts write_image does not
// produce: big-endian, tiled, planar, min-is-white, palette. `samples` are
// interleaved (channel fastest), row-major.
struct TiffLayout {
    std::uint16_t photometric = PHOTOMETRIC_MINISBLACK;
    std::uint16_t planar = PLANARCONFIG_CONTIG;
    bool tiled = false;
    bool big_endian = false;
    std::uint16_t compression = COMPRESSION_NONE;
    const std::vector<std::uint16_t>* colormap = nullptr;  // 3 x 2^bits entries for a palette
};

template <class Sample>
void write_tiff_with_libtiff(const fs::path& file, std::uint32_t h, std::uint32_t w, std::uint16_t channels,
                             const std::vector<Sample>& samples, const TiffLayout& layout) {
    TIFF* tif = TIFFOpen(file.c_str(), layout.big_endian ? "wb" : "wl");
    REQUIRE(tif != nullptr);
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, w);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, h);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, channels);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, static_cast<unsigned>(8 * sizeof(Sample)));
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, std::is_floating_point_v<Sample> ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, layout.photometric);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, layout.planar);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, layout.compression);
    if (layout.colormap) {
        const std::size_t n = layout.colormap->size() / 3;
        TIFFSetField(tif, TIFFTAG_COLORMAP, layout.colormap->data(), layout.colormap->data() + n,
                     layout.colormap->data() + 2 * n);
    }
    const bool separate = layout.planar == PLANARCONFIG_SEPARATE;
    const std::size_t per_pixel = separate ? 1 : channels;
    const std::uint16_t planes = separate ? channels : 1;
    auto value = [&](std::size_t y, std::size_t x, std::size_t c) { return samples[(y * w + x) * channels + c]; };
    if (layout.tiled) {
        const std::uint32_t tile = 16;
        TIFFSetField(tif, TIFFTAG_TILEWIDTH, tile);
        TIFFSetField(tif, TIFFTAG_TILELENGTH, tile);
        std::vector<Sample> buffer(tile * tile * per_pixel);
        for (std::uint16_t p = 0; p < planes; ++p)
            for (std::uint32_t ty = 0; ty < h; ty += tile)
                for (std::uint32_t tx = 0; tx < w; tx += tile) {
                    std::fill(buffer.begin(), buffer.end(), Sample{});
                    for (std::uint32_t y = ty; y < std::min(h, ty + tile); ++y)
                        for (std::uint32_t x = tx; x < std::min(w, tx + tile); ++x)
                            for (std::size_t k = 0; k < per_pixel; ++k)
                                buffer[((y - ty) * tile + (x - tx)) * per_pixel + k] = value(y, x, p + k);
                    REQUIRE(TIFFWriteTile(tif, buffer.data(), tx, ty, 0, p) >= 0);
                }
    } else {
        TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, 3u);
        std::vector<Sample> row(w * per_pixel);
        for (std::uint16_t p = 0; p < planes; ++p)
            for (std::uint32_t y = 0; y < h; ++y) {
                for (std::uint32_t x = 0; x < w; ++x)
                    for (std::size_t k = 0; k < per_pixel; ++k) row[x * per_pixel + k] = value(y, x, p + k);
                REQUIRE(TIFFWriteScanline(tif, row.data(), y, p) >= 0);
            }
    }
    TIFFClose(tif);
}

// The planar C x H x W tensor of interleaved integer samples scaled by 1/max.
template <class Sample>
Tensor<float> expected_planar(const std::vector<Sample>& samples, std::size_t c, std::size_t h, std::size_t w, double max) {
    auto t = deblur::make_tensor<float>(c, h, w);
    for (std::size_t y = 0; y < h; ++y)
        for (std::size_t x = 0; x < w; ++x)
            for (std::size_t k = 0; k < c; ++k) t(k, y, x) = static_cast<float>(samples[(y * w + x) * c + k] / max);
    return t;
}

// A JPEG encoded with libjpeg (quality 100) from interleaved 8-bit samples.
std::vector<unsigned char> encode_test_jpeg(std::uint32_t h, std::uint32_t w, int components, J_COLOR_SPACE space,
                                            const std::vector<unsigned char>& samples) {
    jpeg_compress_struct cinfo;
    jpeg_error_mgr errors;
    cinfo.err = jpeg_std_error(&errors);
    jpeg_create_compress(&cinfo);
    unsigned char* buffer = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&cinfo, &buffer, &size);
    cinfo.image_width = w;
    cinfo.image_height = h;
    cinfo.input_components = components;
    cinfo.in_color_space = space;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, 100, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < h) {
        auto* row = const_cast<unsigned char*>(samples.data()) + std::size_t{cinfo.next_scanline} * w * components;
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    std::vector<unsigned char> bytes(buffer, buffer + size);
    std::free(buffer);
    return bytes;
}

void truncate_to_half(const fs::path& from, const fs::path& to) {
    auto bytes = file_bytes(from);
    REQUIRE(bytes.size() > 16);
    bytes.resize(bytes.size() / 2);
    put_bytes(to, bytes);
}

}  // namespace

TEST_CASE("PNG round trips are exact for 8 and 16-bit gray, gray+alpha, RGB and RGBA") {
    TempDir dir;
    for (std::size_t c : {1u, 2u, 3u, 4u})
        for (auto [sample, levels, depth] : {std::tuple{SampleType::uint8, 255u, 8}, std::tuple{SampleType::uint16, 65535u, 16}}) {
            CAPTURE(c);
            CAPTURE(depth);
            const auto image = random_image(c, 7, 5, static_cast<unsigned>(c * 100 + depth), 0, 1, levels);
            const auto file = dir / ("round_trip.png");
            deblur::io::write_image(file, image, sample);
            const auto back = deblur::io::read_image(file, Alpha::keep);
            CHECK(identical(back.pixels, image));
            CHECK(back.info.format == deblur::io::ImageFormat::png);
            CHECK(back.info.bit_depth == depth);
            CHECK(back.info.channels == c);
            CHECK(back.info.has_alpha == (c == 2 || c == 4));
            CHECK_FALSE(back.info.floating_point);
            // The default drops alpha and keeps the colour channels as they are.
            const auto colour = deblur::io::read_image(file);
            const std::size_t colour_channels = (c == 2 || c == 4) ? c - 1 : c;
            REQUIRE(colour.pixels.shape(0) == colour_channels);
            for (std::size_t i = 0; i < colour.pixels.size(); ++i) CHECK(colour.pixels.data()[i] == image.data()[i]);
        }
}

TEST_CASE("PNG quantises off-grid values to the nearest level and clamps to [0, 1]") {
    TempDir dir;
    for (auto [sample, levels] : {std::pair{SampleType::uint8, 255.0f}, std::pair{SampleType::uint16, 65535.0f}}) {
        const auto image = random_image(3, 6, 9, 7, -0.5f, 1.5f);
        deblur::io::write_image(dir / "q.png", image, sample);
        const auto back = deblur::io::read_image(dir / "q.png").pixels;
        Tensor<float> clamped = image;
        for (auto& v : clamped) v = std::clamp(v, 0.0f, 1.0f);
        CHECK(max_abs_difference(back, clamped) <= 0.5f / levels + 1e-7f);
    }
}

TEST_CASE("The default PNG and TIFF sample type is 8-bit") {
    TempDir dir;
    const auto image = random_image(1, 4, 4, 3);
    deblur::io::write_image(dir / "d.png", image);
    deblur::io::write_image(dir / "d.tif", image);
    CHECK(deblur::io::read_image(dir / "d.png").info.bit_depth == 8);
    CHECK(deblur::io::read_image(dir / "d.tif").info.bit_depth == 8);
}

TEST_CASE("TIFF round trips are exact for 8/16-bit and float, gray and RGB") {
    TempDir dir;
    for (std::size_t c : {1u, 2u, 3u, 4u}) {
        CAPTURE(c);
        for (auto [sample, levels, depth] : {std::tuple{SampleType::uint8, 255u, 8}, std::tuple{SampleType::uint16, 65535u, 16}}) {
            const auto image = random_image(c, 11, 6, static_cast<unsigned>(c + depth), 0, 1, levels);
            deblur::io::write_image(dir / "r.tiff", image, sample);
            const auto back = deblur::io::read_image(dir / "r.tiff", Alpha::keep);
            CHECK(identical(back.pixels, image));
            CHECK(back.info.format == deblur::io::ImageFormat::tiff);
            CHECK(back.info.bit_depth == depth);
            CHECK(back.info.has_alpha == (c == 2 || c == 4));
        }
        // Float samples keep any finite value, negative and above 1 included.
        const auto image = random_image(c, 9, 13, static_cast<unsigned>(c), -3, 5);
        deblur::io::write_image(dir / "f.tif", image, SampleType::float32);
        const auto back = deblur::io::read_image(dir / "f.tif", Alpha::keep);
        CHECK(identical(back.pixels, image));
        CHECK(back.info.floating_point);
        CHECK(back.info.bit_depth == 32);
    }
}

TEST_CASE("PFM round trips are exact, gray and RGB, float and double input") {
    TempDir dir;
    for (std::size_t c : {1u, 3u}) {
        const auto image = random_image(c, 5, 8, static_cast<unsigned>(11 * c), -2, 2);
        deblur::io::write_image(dir / "r.pfm", image);
        const auto back = deblur::io::read_image(dir / "r.pfm");
        CHECK(identical(back.pixels, image));
        CHECK(back.info.format == deblur::io::ImageFormat::pfm);
        CHECK(back.info.channels == c);
        CHECK(back.info.floating_point);
        const Tensor<double> wide = xt::cast<double>(image);
        deblur::io::write_image(dir / "d.pfm", wide);
        CHECK(identical(deblur::io::read_image(dir / "d.pfm").pixels, image));
    }
}

TEST_CASE("PFM: header 'Pf W H -1.0', little-endian, rows stored bottom to top") {
    TempDir dir;
    auto image = deblur::make_tensor<float>(1, 2, 3);
    for (std::size_t i = 0; i < 6; ++i) image.data()[i] = static_cast<float>(i) + 0.5f;  // row 0: .5 1.5 2.5
    deblur::io::write_image(dir / "o.pfm", image);
    const auto bytes = file_bytes(dir / "o.pfm");
    const std::string header = "Pf\n3 2\n-1.0\n";
    REQUIRE(bytes.size() == header.size() + 6 * 4);
    CHECK(std::string(bytes.begin(), bytes.begin() + static_cast<long>(header.size())) == header);
    float first_stored;
    std::memcpy(&first_stored, bytes.data() + header.size(), 4);
    CHECK(first_stored == 3.5f);  // the bottom row (row 1) comes first

    // A big-endian file (positive scale) written by hand reads the same.
    std::vector<unsigned char> big(header.begin(), header.end());
    big.resize(big.size() - 5);
    const std::string scale = "1.0\n";
    big.insert(big.end(), scale.begin(), scale.end());
    for (int row : {1, 0})
        for (int x = 0; x < 3; ++x) {
            const auto raw = std::bit_cast<std::uint32_t>(image(0, row, x));
            for (int shift : {24, 16, 8, 0}) big.push_back(static_cast<unsigned char>(raw >> shift));
        }
    put_bytes(dir / "big.pfm", big);
    CHECK(identical(deblur::io::read_image(dir / "big.pfm").pixels, image));
}

TEST_CASE("TIFF layouts from other writers: big-endian, tiled, planar, min-is-white, palette") {
    TempDir dir;
    const std::uint32_t h = 21, w = 35;  // not multiples of the 16 x 16 tiles
    std::mt19937 rng(8);
    std::vector<std::uint16_t> rgb16(h * w * 3);
    for (auto& v : rgb16) v = static_cast<std::uint16_t>(rng());
    const auto expected16 = expected_planar(rgb16, 3, h, w, 65535.0);
    for (bool tiled : {false, true})
        for (bool big_endian : {false, true})
            for (std::uint16_t planar : {PLANARCONFIG_CONTIG, PLANARCONFIG_SEPARATE})
                for (std::uint16_t compression : {COMPRESSION_NONE, COMPRESSION_ADOBE_DEFLATE}) {
                    CAPTURE(tiled);
                    CAPTURE(big_endian);
                    CAPTURE(planar);
                    CAPTURE(compression);
                    TiffLayout layout;
                    layout.photometric = PHOTOMETRIC_RGB;
                    layout.planar = planar;
                    layout.tiled = tiled;
                    layout.big_endian = big_endian;
                    layout.compression = compression;
                    write_tiff_with_libtiff(dir / "layout.tif", h, w, 3, rgb16, layout);
                    const auto image = deblur::io::read_image(dir / "layout.tif");
                    CHECK(image.info.bit_depth == 16);
                    CHECK(identical(image.pixels, expected16));
                }

    std::vector<float> gray_float(h * w);
    for (auto& v : gray_float) v = std::uniform_real_distribution<float>(-10, 10)(rng);
    TiffLayout tiled_big;
    tiled_big.tiled = true;
    tiled_big.big_endian = true;
    write_tiff_with_libtiff(dir / "float.tif", h, w, 1, gray_float, tiled_big);
    const auto floats = deblur::io::read_image(dir / "float.tif");
    CHECK(floats.info.floating_point);
    CHECK(std::equal(gray_float.begin(), gray_float.end(), floats.pixels.begin()));

    std::vector<std::uint8_t> gray8(h * w);
    for (auto& v : gray8) v = static_cast<std::uint8_t>(rng());
    TiffLayout white;
    white.photometric = PHOTOMETRIC_MINISWHITE;
    write_tiff_with_libtiff(dir / "white.tif", h, w, 1, gray8, white);
    const auto inverted = deblur::io::read_image(dir / "white.tif");
    REQUIRE(inverted.pixels.shape(0) == 1);
    for (std::size_t i = 0; i < gray8.size(); ++i)
        CHECK(inverted.pixels.data()[i] == doctest::Approx(1.0 - gray8[i] / 255.0).epsilon(1e-6));

    // Palette: 8-bit indices into 16-bit colour maps (v * 257 encodes the 8-bit colour v).
    std::vector<std::uint16_t> colormap(3 * 256);
    std::vector<std::uint8_t> palette_rgb(3 * 256);
    for (std::size_t i = 0; i < palette_rgb.size(); ++i) {
        palette_rgb[i] = static_cast<std::uint8_t>(rng());
        colormap[(i % 3) * 256 + i / 3] = static_cast<std::uint16_t>(palette_rgb[i] * 257);
    }
    TiffLayout palette;
    palette.photometric = PHOTOMETRIC_PALETTE;
    palette.colormap = &colormap;
    write_tiff_with_libtiff(dir / "palette.tif", h, w, 1, gray8, palette);
    std::vector<std::uint8_t> looked_up(h * w * 3);
    for (std::size_t p = 0; p < gray8.size(); ++p)
        for (std::size_t k = 0; k < 3; ++k) looked_up[p * 3 + k] = palette_rgb[gray8[p] * 3 + k];
    const auto colours = deblur::io::read_image(dir / "palette.tif");
    CHECK(colours.info.channels == 3);
    CHECK(identical(colours.pixels, expected_planar(looked_up, 3, h, w, 255.0)));

    // Signed integers are not an image format this reader guesses at.
    std::vector<std::uint8_t> signed_bytes(h * w, 1);
    write_tiff_with_libtiff(dir / "signed.tif", h, w, 1, signed_bytes, TiffLayout{});
    {
        TIFF* tif = TIFFOpen((dir / "signed.tif").c_str(), "r+");
        REQUIRE(tif != nullptr);
        TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_INT);
        TIFFRewriteDirectory(tif);
        TIFFClose(tif);
    }
    check_image_error([&] { (void)deblur::io::read_image(dir / "signed.tif"); }, dir / "signed.tif",
                      "unsupported TIFF: 8-bit signed integer");
}

TEST_CASE("PNG palettes with few colours expand to RGB") {
    TempDir dir;
    const std::uint32_t h = 9, w = 13;
    const std::vector<unsigned char> colormap = {255, 0, 0, 0, 128, 0, 10, 20, 30, 200, 201, 202};
    std::vector<unsigned char> indices(h * w);
    for (std::size_t i = 0; i < indices.size(); ++i) indices[i] = static_cast<unsigned char>((i * 5 + i / 7) % 4);
    png_image png{};
    png.version = PNG_IMAGE_VERSION;
    png.width = w;
    png.height = h;
    png.format = PNG_FORMAT_RGB_COLORMAP;
    png.colormap_entries = 4;
    png_alloc_size_t size = 0;
    REQUIRE(png_image_write_to_memory(&png, nullptr, &size, 0, indices.data(), 0, colormap.data()));
    std::vector<unsigned char> bytes(size);
    REQUIRE(png_image_write_to_memory(&png, bytes.data(), &size, 0, indices.data(), 0, colormap.data()));
    bytes.resize(size);
    put_bytes(dir / "palette.png", bytes);

    const auto image = deblur::io::read_image(dir / "palette.png");
    CHECK(image.info.bit_depth == 2);  // 4 colours: 2-bit indices
    CHECK(image.info.channels == 3);
    std::vector<unsigned char> rgb(h * w * 3);
    for (std::size_t p = 0; p < indices.size(); ++p)
        for (std::size_t k = 0; k < 3; ++k) rgb[p * 3 + k] = colormap[indices[p] * 3 + k];
    CHECK(identical(image.pixels, expected_planar(rgb, 3, h, w, 255.0)));
}

TEST_CASE("JPEG: gray and RGB decode close to what was encoded; CMYK is refused") {
    TempDir dir;
    const std::uint32_t h = 24, w = 40;
    std::vector<unsigned char> gray(h * w), rgb(h * w * 3), cmyk(h * w * 4);
    for (std::uint32_t y = 0; y < h; ++y)
        for (std::uint32_t x = 0; x < w; ++x) {
            gray[y * w + x] = static_cast<unsigned char>(40 + 4 * x + 2 * y);  // smooth: JPEG keeps it closely
            for (std::size_t k = 0; k < 3; ++k) rgb[(y * w + x) * 3 + k] = static_cast<unsigned char>(30 + 3 * x + (k + 1) * y);
            for (std::size_t k = 0; k < 4; ++k) cmyk[(y * w + x) * 4 + k] = static_cast<unsigned char>(x + k * y);
        }
    put_bytes(dir / "gray.jpg", encode_test_jpeg(h, w, 1, JCS_GRAYSCALE, gray));
    put_bytes(dir / "rgb.jpg", encode_test_jpeg(h, w, 3, JCS_RGB, rgb));
    put_bytes(dir / "cmyk.jpg", encode_test_jpeg(h, w, 4, JCS_CMYK, cmyk));

    const auto g = deblur::io::read_image(dir / "gray.jpg");
    CHECK(g.info.channels == 1);
    CHECK(g.info.format == deblur::io::ImageFormat::jpeg);
    const float gray_error = max_abs_difference(g.pixels, expected_planar(gray, 1, h, w, 255.0));
    const auto c = deblur::io::read_image(dir / "rgb.jpg");
    CHECK(c.info.channels == 3);
    const float rgb_error = max_abs_difference(c.pixels, expected_planar(rgb, 3, h, w, 255.0));
    MESSAGE("JPEG quality 100 max error: gray " << gray_error * 255 << "/255, RGB " << rgb_error * 255 << "/255");
    CHECK(gray_error <= 2.0f / 255);
    CHECK(rgb_error <= 4.0f / 255);
    check_image_error([&] { (void)deblur::io::read_image(dir / "cmyk.jpg"); }, dir / "cmyk.jpg", "CMYK");
}

TEST_CASE("Levin data: the 16-bit PNG equals the PFM within 1/65535" * deblur::test::needs_shared_data()) {
    const auto png = deblur::io::read_image(data_dir / "levin" / "im1_ker1_blurry.png");
    const auto pfm = deblur::io::read_image(data_dir / "levin" / "im1_ker1_blurry.pfm");
    CHECK(png.info.bit_depth == 16);
    CHECK(png.info.channels == 1);
    CHECK(pfm.info.floating_point);
    REQUIRE(png.pixels.shape() == std::array<std::size_t, 3>{1, 255, 255});
    REQUIRE(pfm.pixels.shape() == png.pixels.shape());
    const float err = max_abs_difference(png.pixels, pfm.pixels);
    MESSAGE("max |png - pfm| * 65535 = " << err * 65535);
    CHECK(err <= 1.0f / 65535);
}

TEST_CASE("Real photographs read with their documented sizes" * deblur::test::needs_shared_data()) {
    struct Expected {
        const char* name;
        std::size_t width, height;
        deblur::io::ImageFormat format;
    };
    using F = deblur::io::ImageFormat;
    for (const Expected& e : {Expected{"boat.jpg", 1600, 1064, F::jpeg}, Expected{"boat_input.png", 568, 613, F::png},
                              Expected{"fishes.jpg", 858, 558, F::jpeg}, Expected{"lyndsey.tif", 1024, 1280, F::tiff},
                              Expected{"pietro.tif", 848, 636, F::tiff}, Expected{"postcard.png", 728, 470, F::png},
                              Expected{"roma.png", 593, 417, F::png}, Expected{"summerhouse.jpg", 972, 966, F::jpeg}}) {
        CAPTURE(e.name);
        const auto image = deblur::io::read_image(data_dir / "real" / e.name);
        CHECK(image.info.format == e.format);
        CHECK(image.info.bit_depth == 8);
        CHECK(image.pixels.shape() == std::array<std::size_t, 3>{3, e.height, e.width});
        CHECK(xt::amin(image.pixels)() >= 0.0f);
        CHECK(xt::amax(image.pixels)() <= 1.0f);
        CHECK(xt::amax(image.pixels)() > xt::amin(image.pixels)());
    }
}

TEST_CASE("The format comes from the magic bytes, not the name") {
    TempDir dir;
    const auto image = random_image(3, 4, 5, 1, 0, 1, 255);
    deblur::io::write_image(dir / "a.png", image);
    fs::copy_file(dir / "a.png", dir / "really_a_png.jpg");
    const auto back = deblur::io::read_image(dir / "really_a_png.jpg");
    CHECK(back.info.format == deblur::io::ImageFormat::png);
    CHECK(identical(back.pixels, image));
}

TEST_CASE("Unreadable inputs throw ImageError naming the file") {
    TempDir dir;
    auto read = [](const fs::path& f) { return [f] { (void)deblur::io::read_image(f); }; };

    check_image_error(read(dir / "missing.png"), dir / "missing.png", "no such file");
    check_image_error(read(dir.path), dir.path, "is a directory");

    put_bytes(dir / "empty.png", {});
    check_image_error(read(dir / "empty.png"), dir / "empty.png", "empty");

    std::vector<unsigned char> noise(1000);
    std::mt19937 rng(5);
    for (auto& b : noise) b = static_cast<unsigned char>(rng());
    noise[0] = 0x12;  // not by chance a signature
    put_bytes(dir / "noise.png", noise);
    check_image_error(read(dir / "noise.png"), dir / "noise.png", "not a PNG file");

    const std::string text = "this is a text file, not a JPEG\n";
    put_bytes(dir / "text.jpg", {text.begin(), text.end()});
    check_image_error(read(dir / "text.jpg"), dir / "text.jpg", "not a JPEG file");

    put_bytes(dir / "text.bmp", {text.begin(), text.end()});
    check_image_error(read(dir / "text.bmp"), dir / "text.bmp", "unrecognised image format");
}

TEST_CASE("Truncated and corrupted files throw ImageError") {
    TempDir dir;
    const auto image = random_image(3, 64, 48, 9);
    deblur::io::write_image(dir / "good.png", image, SampleType::uint16);
    deblur::io::write_image(dir / "good.tif", image, SampleType::uint16);
    deblur::io::write_image(dir / "good.pfm", image);
    auto read = [](const fs::path& f) { return [f] { (void)deblur::io::read_image(f); }; };

    truncate_to_half(dir / "good.png", dir / "half.png");
    check_image_error(read(dir / "half.png"), dir / "half.png", "PNG");
    truncate_to_half(dir / "good.tif", dir / "half.tif");
    check_image_error(read(dir / "half.tif"), dir / "half.tif", "TIFF");
    // Cut inside the pixel data, the directory intact.
    const std::uint32_t th = 40, tw = 30;
    std::vector<unsigned char> gray(th * tw);
    for (std::size_t i = 0; i < gray.size(); ++i) gray[i] = static_cast<unsigned char>(i * 7);
    auto tiff = handmade_tiff(th, tw, gray);
    put_bytes(dir / "handmade.tif", tiff);
    const auto handmade = deblur::io::read_image(dir / "handmade.tif");
    REQUIRE(handmade.pixels.shape() == std::array<std::size_t, 3>{1, th, tw});
    for (std::size_t i = 0; i < gray.size(); ++i) CHECK(handmade.pixels.data()[i] == static_cast<float>(gray[i] / 255.0));
    tiff.resize(tiff.size() - gray.size() / 2);
    put_bytes(dir / "cut_pixels.tif", tiff);
    check_image_error(read(dir / "cut_pixels.tif"), dir / "cut_pixels.tif", "truncated TIFF");
    std::vector<unsigned char> rgb(3 * 64 * 48);
    for (std::size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<unsigned char>((i * 37) % 251);
    put_bytes(dir / "good.jpg", encode_test_jpeg(64, 48, 3, JCS_RGB, rgb));
    truncate_to_half(dir / "good.jpg", dir / "half.jpg");
    check_image_error(read(dir / "half.jpg"), dir / "half.jpg", "JPEG");
    truncate_to_half(dir / "good.pfm", dir / "half.pfm");
    check_image_error(read(dir / "half.pfm"), dir / "half.pfm", "truncated PFM");

    // Only the header of each: the pixel data is missing entirely.
    for (const char* name : {"good.png", "good.tif"}) {
        auto bytes = file_bytes(dir / name);
        bytes.resize(40);
        const fs::path cut = dir / (std::string("header_of_") + name);
        put_bytes(cut, bytes);
        check_image_error(read(cut), cut, "");
    }

    // A flipped byte inside the compressed PNG data breaks its CRC.
    auto png = file_bytes(dir / "good.png");
    png[png.size() / 2] ^= 0x40;
    put_bytes(dir / "crc.png", png);
    check_image_error(read(dir / "crc.png"), dir / "crc.png", "PNG");

    // A PFM header that lies about the size.
    const std::string bad = "Pf\n-3 2\n-1.0\n";
    put_bytes(dir / "bad.pfm", {bad.begin(), bad.end()});
    check_image_error(read(dir / "bad.pfm"), dir / "bad.pfm", "corrupt PFM header");
}

TEST_CASE("NaN and infinity in float files are refused") {
    TempDir dir;
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> values(12, 0.25f);
    write_raw_float_tiff(dir / "finite.tif", values, 3, 4);
    CHECK(xt::amax(deblur::io::read_image(dir / "finite.tif").pixels)() == 0.25f);  // the writer above works

    values[6] = nan;  // row 1, column 2
    write_raw_float_tiff(dir / "nan.tif", values, 3, 4);
    check_image_error([&] { (void)deblur::io::read_image(dir / "nan.tif"); }, dir / "nan.tif", "NaN at channel 0, row 1, column 2");
    values[6] = -inf;
    write_raw_float_tiff(dir / "inf.tif", values, 3, 4);
    check_image_error([&] { (void)deblur::io::read_image(dir / "inf.tif"); }, dir / "inf.tif", "infinite");

    auto image = deblur::make_tensor<float>(1, 2, 2, 0.5f);
    deblur::io::write_image(dir / "nan.pfm", image);
    auto bytes = file_bytes(dir / "nan.pfm");
    const auto raw = std::bit_cast<std::uint32_t>(nan);
    std::memcpy(bytes.data() + bytes.size() - 4, &raw, 4);
    put_bytes(dir / "nan.pfm", bytes);
    check_image_error([&] { (void)deblur::io::read_image(dir / "nan.pfm"); }, dir / "nan.pfm", "NaN");
}

TEST_CASE("Writes refuse what the format cannot hold") {
    TempDir dir;
    const auto rgb = random_image(3, 4, 4, 2);
    auto write = [](const fs::path& f, const Tensor<float>& t, std::optional<SampleType> s = std::nullopt) {
        return [f, t, s] { deblur::io::write_image(f, t, s); };
    };
    check_image_error(write(dir / "x.bmp", rgb), dir / "x.bmp", "unsupported image format for writing");
    check_image_error(write(dir / "x.jpg", rgb), dir / "x.jpg", "JPEG");
    check_image_error(write(dir / "x.png", rgb, SampleType::float32), dir / "x.png", "float");
    check_image_error(write(dir / "x.pfm", rgb, SampleType::uint8), dir / "x.pfm", "32-bit float");
    check_image_error(write(dir / "x.pfm", random_image(2, 4, 4, 1)), dir / "x.pfm", "2 channels");
    check_image_error(write(dir / "x.png", random_image(5, 4, 4, 1)), dir / "x.png", "5 channels");
    check_image_error(write(dir / "x.tif", deblur::make_tensor<float>(1, 0, 4)), dir / "x.tif", "empty");
    auto inf = rgb;
    inf(1, 2, 3) = std::numeric_limits<float>::infinity();
    check_image_error(write(dir / "x.tif", inf, SampleType::float32), dir / "x.tif", "channel 1, row 2, column 3");
    CHECK(dir.entries().empty());
}

TEST_CASE("Writes are atomic: a failed write keeps the old file and leaves no temporary") {
    TempDir dir;
    const auto old_image = random_image(1, 8, 8, 1, 0, 1, 255);
    const fs::path target = dir / "out.png";
    deblur::io::write_image(target, old_image);
    const auto old_bytes = file_bytes(target);

    // Bad data: fails while encoding.
    auto nan_image = random_image(1, 8, 8, 2);
    nan_image(0, 3, 3) = std::numeric_limits<float>::quiet_NaN();
    check_image_error([&] { deblur::io::write_image(target, nan_image); }, target, "NaN");
    CHECK(file_bytes(target) == old_bytes);
    CHECK(dir.entries() == std::set<std::string>{"out.png"});

    // The rename fails: the target is a non-empty directory.
    fs::create_directories(dir / "occupied.png" / "inside");
    check_image_error([&] { deblur::io::write_image(dir / "occupied.png", old_image); }, dir / "occupied.png",
                      "cannot replace");
    CHECK(dir.entries() == std::set<std::string>{"occupied.png", "out.png"});

    // The directory does not exist: nothing can be created.
    check_image_error([&] { deblur::io::write_image(dir / "no_such_dir" / "x.png", old_image); },
                      dir / "no_such_dir" / "x.png", "temporary file");
    CHECK(dir.entries() == std::set<std::string>{"occupied.png", "out.png"});

    // A directory without write permission (root ignores permissions, so only checked as a user).
    if (::geteuid() != 0) {
        fs::create_directories(dir / "locked");
        deblur::io::write_image(dir / "locked" / "kept.png", old_image);
        fs::permissions(dir / "locked", fs::perms::owner_read | fs::perms::owner_exec);
        check_image_error([&] { deblur::io::write_image(dir / "locked" / "kept.png", random_image(1, 8, 8, 3)); },
                          dir / "locked" / "kept.png", "temporary file");
        fs::permissions(dir / "locked", fs::perms::owner_all);
        CHECK(file_bytes(dir / "locked" / "kept.png") == old_bytes);
    } else {
        MESSAGE("running as root: the read-only directory case is skipped");
    }

    // A successful write replaces the file and leaves nothing else.
    const auto new_image = random_image(1, 8, 8, 4, 0, 1, 255);
    deblur::io::write_image(target, new_image);
    CHECK(identical(deblur::io::read_image(target).pixels, new_image));
    CHECK(dir.entries() == std::set<std::string>{"occupied.png", "out.png"});
}

TEST_CASE_TEMPLATE("to_gray is the BT.601 luminance", T, float, double) {
    std::mt19937 rng(3);
    std::uniform_real_distribution<T> d(0, 1);
    auto rgb = deblur::make_tensor<T>(3, 4, 6);
    for (auto& v : rgb) v = d(rng);
    const auto gray = deblur::io::to_gray(rgb);
    REQUIRE(gray.shape() == std::array<std::size_t, 3>{1, 4, 6});
    for (std::size_t y = 0; y < 4; ++y)
        for (std::size_t x = 0; x < 6; ++x)
            CHECK(gray(0, y, x) == doctest::Approx(0.299 * rgb(0, y, x) + 0.587 * rgb(1, y, x) + 0.114 * rgb(2, y, x)));
    CHECK(deblur::io::to_gray(gray) == gray);
    CHECK_THROWS_AS((void)deblur::io::to_gray(deblur::make_tensor<T>(2, 3, 3)), std::invalid_argument);
}

TEST_CASE_TEMPLATE("apply_gamma and the sRGB curves invert each other", T, float, double) {
    std::mt19937 rng(4);
    std::uniform_real_distribution<T> d(-0.2, 1.2);
    auto image = deblur::make_tensor<T>(3, 5, 5);
    for (auto& v : image) v = d(rng);
    const auto encoded = deblur::io::apply_gamma(image, 1 / 2.2);
    for (std::size_t i = 0; i < image.size(); ++i) {
        const T v = image.data()[i];
        CHECK(encoded.data()[i] == doctest::Approx(std::copysign(std::pow(std::abs(v), T(1 / 2.2)), v)));
    }
    const auto decoded = deblur::io::apply_gamma(encoded, 2.2);
    const auto srgb = deblur::io::srgb_to_linear(deblur::io::linear_to_srgb(image));
    for (std::size_t i = 0; i < image.size(); ++i) {
        CHECK(decoded.data()[i] == doctest::Approx(image.data()[i]).epsilon(1e-5));
        CHECK(srgb.data()[i] == doctest::Approx(image.data()[i]).epsilon(1e-5));
    }
    // Known points of the sRGB curve: 0 -> 0, 1 -> 1, 0.5 encoded -> 0.214 linear.
    auto points = deblur::make_tensor<T>(1, 1, 3);
    points(0, 0, 1) = T(0.5);
    points(0, 0, 2) = T(1);
    const auto linear = deblur::io::srgb_to_linear(points);
    CHECK(linear(0, 0, 0) == T(0));
    CHECK(linear(0, 0, 1) == doctest::Approx(0.21404).epsilon(1e-4));
    CHECK(linear(0, 0, 2) == doctest::Approx(1));
    CHECK_THROWS_AS((void)deblur::io::apply_gamma(image, 0.0), std::invalid_argument);
    CHECK_THROWS_AS((void)deblur::io::apply_gamma(image, std::nan("")), std::invalid_argument);
}
