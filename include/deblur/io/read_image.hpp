#pragma once
// Reading an image file of any supported format (PNG, JPEG, TIFF, PFM) into a
// C x H x W float tensor. The format is recognised by the file's magic bytes,
// not its name. By default an alpha channel is dropped, since deblurring works
// on gray or RGB; `Alpha::keep` returns it as the last channel.
//
//   auto image = deblur::io::read_image("blurry.png");
//   deblur::Tensor<float>& y = image.pixels;   // 1 or 3 x H x W, in [0, 1]
//
// Every failure (missing, empty, truncated or corrupt file, unsupported
// format, NaN in a float image) throws deblur::io::ImageError.
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <xtensor/xview.hpp>

#include "file_bytes.hpp"
#include "image.hpp"
#include "image_error.hpp"
#include "image_format.hpp"
#include "jpeg.hpp"
#include "pfm.hpp"
#include "png.hpp"
#include "tiff.hpp"

namespace deblur::io {

enum class Alpha { drop, keep };

// Decodes image file contents held in memory; `file` names them in error messages.
inline Image decode_image(std::span<const unsigned char> bytes, const std::filesystem::path& file,
                          Alpha alpha = Alpha::drop) {
    if (bytes.empty()) throw ImageError(file, "file is empty");
    const auto format = detect_format(bytes);
    if (!format) {
        const auto named = format_from_extension(file);
        if (named)
            throw ImageError(file, "not a " + std::string(format_name(*named)) +
                                       " file: its first bytes are not a " + std::string(format_name(*named)) +
                                       " signature");
        throw ImageError(file, "unsupported or unrecognised image format (readable: PNG, JPEG, TIFF, PFM)");
    }
    Image image;
    switch (*format) {
        case ImageFormat::png: image = decode_png(bytes, file); break;
        case ImageFormat::jpeg: image = decode_jpeg(bytes, file); break;
        case ImageFormat::tiff: image = decode_tiff(bytes, file); break;
        case ImageFormat::pfm: image = decode_pfm(bytes, file); break;
    }
    if (alpha == Alpha::drop && image.info.has_alpha) {
        const std::size_t colour = image.info.channels - 1;
        Tensor<float> without = xt::view(image.pixels, xt::range(0, colour), xt::all(), xt::all());
        image.pixels = std::move(without);
    }
    return image;
}

inline Image read_image(const std::filesystem::path& file, Alpha alpha = Alpha::drop) {
    const auto bytes = read_file_bytes(file);
    return decode_image(bytes, file, alpha);
}

}  // namespace deblur::io
