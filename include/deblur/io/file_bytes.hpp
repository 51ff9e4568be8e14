#pragma once
// Whole-file reads and atomic writes (core/atomic_file.hpp) for the image
// readers and writers, with errors as ImageError.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "../core/atomic_file.hpp"
#include "image_error.hpp"

namespace deblur::io {

inline std::vector<unsigned char> read_file_bytes(const std::filesystem::path& file) {
    std::error_code ec;
    const auto status = std::filesystem::status(file, ec);
    if (status.type() == std::filesystem::file_type::not_found) throw ImageError(file, "no such file");
    if (ec) throw ImageError(file, "cannot be accessed: " + ec.message());
    if (std::filesystem::is_directory(status)) throw ImageError(file, "is a directory, not an image file");
    std::ifstream in(file, std::ios::binary);
    if (!in) throw ImageError(file, "cannot be opened for reading");
    std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw ImageError(file, "read error");
    return bytes;
}

// The core writer (core/atomic_file.hpp), reporting failures as ImageError.
inline void write_file_atomically(const std::filesystem::path& file, std::span<const unsigned char> bytes) {
    try {
        deblur::write_file_atomically(file, bytes);
    } catch (const FileWriteError& e) {
        throw ImageError(file, e.problem());
    }
}

}  // namespace deblur::io
