#pragma once
// Blur kernels as files, to hand an estimate to another program or take one
// from it. The format comes from the extension when writing:
//
//   .png          16-bit gray, scaled so that its maximum is 65535: the scale
//                 is lost, and the kernel is read back normalised to sum 1,
//                 each tap within 1/65535 of the peak
//   .tif, .tiff   32-bit float, the values as they are
//   .pfm          32-bit float, the values as they are
//   .csv          text: one kernel row per line, the values separated by
//                 commas, each with the fewest digits that read back as the
//                 same float (so the file round-trips exactly)
//
// When reading, an image is recognised by its magic bytes (any image
// read_image reads; an 8-bit or colour picture is taken as its luminance)
// and CSV by the name .csv. A kernel must be finite, non-negative, not all
// zero, with odd width and height (its centre is a pixel); it is read back
// normalised to sum 1 (one that sums to 1 within 1e-5 already is kept bit for
// bit). write_kernel refuses what read_kernel would refuse. encode_kernel and
// decode_kernel do the same with the bytes in memory.
//
//   const xt::xtensor<float, 2> k = deblur::io::read_kernel("estimate.csv");  // sum 1
//   deblur::io::write_kernel("estimate.tif", k);
//
// Every failure throws deblur::io::ImageError naming the file.
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "../core/tensor.hpp"
#include "color.hpp"
#include "file_bytes.hpp"
#include "image_error.hpp"
#include "image_format.hpp"
#include "read_image.hpp"
#include "samples.hpp"
#include "write_image.hpp"

namespace deblur::io {

enum class KernelFormat { png, tiff, pfm, csv };

// The kernel format a file name's extension stands for (case-insensitive), if any.
inline std::optional<KernelFormat> kernel_format_from_extension(const std::filesystem::path& file) {
    if (detail::lowercase_extension(file) == ".csv") return KernelFormat::csv;
    const auto image = format_from_extension(file);
    if (image == ImageFormat::png) return KernelFormat::png;
    if (image == ImageFormat::tiff) return KernelFormat::tiff;
    if (image == ImageFormat::pfm) return KernelFormat::pfm;
    return std::nullopt;  // JPEG too: lossy, not for data
}

namespace detail {

// The shortest text that reads back as the same float.
inline std::string float_text(float v) {
    std::array<char, 32> text;
    const auto end = std::to_chars(text.data(), text.data() + text.size(), v).ptr;
    return {text.data(), end};
}

// Throws unless `k` is a kernel: odd width and height, finite, non-negative, not all zero.
inline void check_kernel(const xt::xtensor<float, 2>& k, const std::filesystem::path& file) {
    const std::size_t h = k.shape(0), w = k.shape(1);
    if (h % 2 == 0 || w % 2 == 0)
        throw ImageError(file, "a kernel's width and height must be odd, got " + std::to_string(w) + " x " +
                                   std::to_string(h) + " (its centre is a pixel)");
    require_finite(k.data(), 1, h, w, file, "the kernel has");
    bool any = false;
    for (std::size_t i = 0; i < h * w; ++i) {
        if (k.data()[i] < 0)
            throw ImageError(file, "the kernel has a negative value (" + float_text(k.data()[i]) + ") at row " +
                                       std::to_string(i / w) + ", column " + std::to_string(i % w) +
                                       " (a blur kernel has none)");
        any = any || k.data()[i] > 0;
    }
    if (!any) throw ImageError(file, "the kernel is all zero");
}

inline std::vector<unsigned char> kernel_csv(const xt::xtensor<float, 2>& k) {
    std::string text;
    for (std::size_t r = 0; r < k.shape(0); ++r)
        for (std::size_t c = 0; c < k.shape(1); ++c) text += float_text(k(r, c)) + (c + 1 < k.shape(1) ? "," : "\n");
    return {text.begin(), text.end()};
}

// A field as an error message shows it: at most 40 characters, unprintable ones as '?'.
inline std::string shown_field(std::string_view field) {
    std::string text(field.substr(0, 40));
    for (char& c : text)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F) c = '?';
    return "'" + text + (field.size() > 40 ? "...'" : "'");
}

// One CSV value; `where` ("line L, value V") places it in error messages.
inline float csv_value(std::string_view field, const std::string& where, const std::filesystem::path& file) {
    while (!field.empty() && (field.front() == ' ' || field.front() == '\t')) field.remove_prefix(1);
    while (!field.empty() && (field.back() == ' ' || field.back() == '\t')) field.remove_suffix(1);
    if (field.empty()) throw ImageError(file, where + " is empty");
    std::string_view digits = field;
    if (digits.size() > 1 && digits[0] == '+' && digits[1] != '-') digits.remove_prefix(1);  // from_chars takes no '+'
    const char* first = digits.data();
    const char* last = first + digits.size();
    float value = 0;
    std::from_chars_result read = std::from_chars(first, last, value);
    if (read.ec == std::errc::result_out_of_range) {  // below a float's range: a zero tap; above: an error
        double wide = 0;
        read = std::from_chars(first, last, wide);
        if (read.ec == std::errc() && std::abs(wide) <= std::numeric_limits<float>::max()) value = static_cast<float>(wide);
        else read.ec = std::errc::result_out_of_range;
    }
    if (read.ec == std::errc::result_out_of_range)
        throw ImageError(file, where + ": " + shown_field(field) + " is out of the range of a float");
    if (read.ec != std::errc() || read.ptr != last)
        throw ImageError(file, where + ": " + shown_field(field) + " is not a number");
    return value;
}

// Strict: every line holds the same number of comma-separated numbers; only
// trailing empty lines (and a UTF-8 byte-order mark) are allowed besides.
inline xt::xtensor<float, 2> parse_kernel_csv(std::span<const unsigned char> bytes, const std::filesystem::path& file) {
    std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    std::vector<std::string_view> lines;
    for (std::size_t start = 0; start < text.size();) {
        const std::size_t end = std::min(text.find('\n', start), text.size());
        std::string_view line = text.substr(start, end - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        lines.push_back(line);
        start = end + 1;
    }
    while (!lines.empty() && lines.back().find_first_not_of(" \t") == std::string_view::npos) lines.pop_back();
    if (lines.empty()) throw ImageError(file, "the CSV file holds no kernel values");

    std::vector<float> values;
    std::size_t width = 0;
    for (std::size_t l = 0; l < lines.size(); ++l) {
        const std::string line_name = "line " + std::to_string(l + 1);
        std::size_t count = 0;
        for (std::size_t start = 0;;) {
            const std::size_t comma = std::min(lines[l].find(',', start), lines[l].size());
            ++count;
            values.push_back(csv_value(lines[l].substr(start, comma - start),
                                       line_name + ", value " + std::to_string(count), file));
            if (comma == lines[l].size()) break;
            start = comma + 1;
        }
        if (l == 0) width = count;
        if (count != width)
            throw ImageError(file, line_name + " has " + std::to_string(count) + " values, line 1 has " +
                                       std::to_string(width) + ": every kernel row needs the same number");
    }
    xt::xtensor<float, 2> k = xt::xtensor<float, 2>::from_shape({lines.size(), width});
    std::copy(values.begin(), values.end(), k.begin());
    return k;
}

}  // namespace detail

// The file contents of `kernel` in the format of `file`'s extension; `file`
// names the target in error messages. To write later, e.g. with other files.
inline std::vector<unsigned char> encode_kernel(const xt::xtensor<float, 2>& kernel, const std::filesystem::path& file) {
    const auto format = kernel_format_from_extension(file);
    if (!format)
        throw ImageError(file, "unsupported kernel format for writing (extension '" + file.extension().string() +
                                   "'; use .png, .tif, .tiff, .pfm or .csv)");
    detail::check_kernel(kernel, file);
    if (*format == KernelFormat::csv) return detail::kernel_csv(kernel);
    Tensor<float> pixels = make_tensor<float>(1, kernel.shape(0), kernel.shape(1));
    xt::view(pixels, 0, xt::all(), xt::all()) = kernel;
    if (*format == KernelFormat::png) {
        pixels /= xt::amax(pixels)();
        return encode_image(pixels, ImageFormat::png, SampleType::uint16, file);
    }
    return encode_image(pixels, *format == KernelFormat::tiff ? ImageFormat::tiff : ImageFormat::pfm, SampleType::float32, file);
}

// The kernel in file contents held in memory; `file` names them in error messages.
inline xt::xtensor<float, 2> decode_kernel(std::span<const unsigned char> bytes, const std::filesystem::path& file) {
    if (bytes.empty()) throw ImageError(file, "file is empty");
    xt::xtensor<float, 2> k;
    if (detect_format(bytes) || format_from_extension(file)) {  // a misnamed image fails with the image reader's message
        const Tensor<float> gray = to_gray(decode_image(bytes, file).pixels);
        k = xt::view(gray, 0, xt::all(), xt::all());
    } else if (kernel_format_from_extension(file) == KernelFormat::csv) {
        k = detail::parse_kernel_csv(bytes, file);
    } else {
        throw ImageError(file, "unrecognised kernel file: expected a PNG, TIFF, PFM or JPEG image, or CSV text named .csv");
    }
    detail::check_kernel(k, file);
    double sum = 0;
    for (float v : k) sum += v;
    // A kernel that sums to 1 up to float rounding (one written by the deblur
    // tool) is kept bit for bit, so that it deconvolves exactly as it did there.
    if (std::abs(sum - 1) > 1e-5)
        for (float& v : k) v = static_cast<float>(v / sum);
    return k;
}

inline xt::xtensor<float, 2> read_kernel(const std::filesystem::path& file) {
    return decode_kernel(read_file_bytes(file), file);
}

inline void write_kernel(const std::filesystem::path& file, const xt::xtensor<float, 2>& kernel) {
    write_file_atomically(file, encode_kernel(kernel, file));
}

}  // namespace deblur::io
