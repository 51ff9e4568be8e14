#pragma once
// The file formats the io module reads and writes, and how a format is
// recognised: by its magic bytes when reading (a file's name may lie), by the
// extension when writing (there are no bytes yet).
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace deblur::io {

enum class ImageFormat { png, jpeg, tiff, pfm };

inline std::string_view format_name(ImageFormat format) {
    switch (format) {
        case ImageFormat::png: return "PNG";
        case ImageFormat::jpeg: return "JPEG";
        case ImageFormat::tiff: return "TIFF";
        case ImageFormat::pfm: return "PFM";
    }
    return "unknown";
}

// The format whose signature starts `bytes`, if any.
inline std::optional<ImageFormat> detect_format(std::span<const unsigned char> bytes) {
    auto starts_with = [&](std::initializer_list<unsigned char> magic) {
        return bytes.size() >= magic.size() && std::equal(magic.begin(), magic.end(), bytes.begin());
    };
    if (starts_with({0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'})) return ImageFormat::png;
    if (starts_with({0xFF, 0xD8, 0xFF})) return ImageFormat::jpeg;
    // Classic TIFF ("II*\0", "MM\0*") and BigTIFF ("II+\0", "MM\0+").
    if (starts_with({'I', 'I', 42, 0}) || starts_with({'M', 'M', 0, 42}) || starts_with({'I', 'I', 43, 0}) ||
        starts_with({'M', 'M', 0, 43}))
        return ImageFormat::tiff;
    if (bytes.size() >= 3 && bytes[0] == 'P' && (bytes[1] == 'f' || bytes[1] == 'F') &&
        std::isspace(static_cast<unsigned char>(bytes[2])))
        return ImageFormat::pfm;
    return std::nullopt;
}

namespace detail {

// A file name's extension in lower case, with its dot (".PNG" -> ".png").
inline std::string lowercase_extension(const std::filesystem::path& file) {
    std::string ext = file.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return ext;
}

}  // namespace detail

// The format a file name's extension stands for (case-insensitive), if any.
inline std::optional<ImageFormat> format_from_extension(const std::filesystem::path& file) {
    const std::string ext = detail::lowercase_extension(file);
    if (ext == ".png") return ImageFormat::png;
    if (ext == ".jpg" || ext == ".jpeg" || ext == ".jpe" || ext == ".jfif") return ImageFormat::jpeg;
    if (ext == ".tif" || ext == ".tiff") return ImageFormat::tiff;
    if (ext == ".pfm") return ImageFormat::pfm;
    return std::nullopt;
}

}  // namespace deblur::io
