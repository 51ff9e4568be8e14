#pragma once
// Writing a C x H x W tensor as an image file; the format comes from the
// extension: .png (8/16-bit), .tif/.tiff (8/16-bit or float), .pfm (float).
// Integer formats store round(clamp(v, 0, 1) * max); float formats store the
// values as they are. Without a sample type PNG and TIFF are written 8-bit
// and PFM float. NaN or infinity in the tensor is refused.
//
//   deblur::io::write_image("restored.png", x);                              // 8-bit
//   deblur::io::write_image("restored.tif", x, deblur::io::SampleType::float32);
//
// The write is atomic (see file_bytes.hpp): on any failure the target keeps
// its old contents, or stays absent, and no temporary file is left behind.
// Every failure throws deblur::io::ImageError.
#include <filesystem>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "../core/tensor.hpp"
#include "file_bytes.hpp"
#include "image_error.hpp"
#include "image_format.hpp"
#include "pfm.hpp"
#include "png.hpp"
#include "sample_type.hpp"
#include "tiff.hpp"

namespace deblur::io {

inline SampleType default_sample_type(ImageFormat format) {
    return format == ImageFormat::pfm ? SampleType::float32 : SampleType::uint8;
}

// The encoded file contents; `file` names the target in error messages.
inline std::vector<unsigned char> encode_image(const Tensor<float>& pixels, ImageFormat format, SampleType sample,
                                               const std::filesystem::path& file) {
    switch (format) {
        case ImageFormat::png: return encode_png(pixels, sample, file);
        case ImageFormat::tiff: return encode_tiff(pixels, sample, file);
        case ImageFormat::pfm: return encode_pfm(pixels, sample, file);
        case ImageFormat::jpeg: break;
    }
    throw ImageError(file, "writing JPEG is not supported (it is lossy): use .png, .tif or .pfm");
}

template <class T>
void write_image(const std::filesystem::path& file, const Tensor<T>& pixels,
                 std::optional<SampleType> sample = std::nullopt) {
    static_assert(std::is_floating_point_v<T>, "deblur::io::write_image: pixels must be float or double");
    const auto format = format_from_extension(file);
    if (!format)
        throw ImageError(file, "unsupported image format for writing (extension '" + file.extension().string() +
                                   "'; use .png, .tif, .tiff or .pfm)");
    const SampleType type = sample.value_or(default_sample_type(*format));
    std::vector<unsigned char> bytes;
    if constexpr (std::is_same_v<T, float>) {
        bytes = encode_image(pixels, *format, type, file);
    } else {
        const Tensor<float> narrowed = xt::cast<float>(pixels);
        bytes = encode_image(narrowed, *format, type, file);
    }
    write_file_atomically(file, bytes);
}

}  // namespace deblur::io
