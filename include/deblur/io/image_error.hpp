#pragma once
// The one exception every image reader and writer throws: a single line that
// names the file and says what is wrong with it.
#include <filesystem>
#include <stdexcept>
#include <string>

namespace deblur::io {

class ImageError : public std::runtime_error {
public:
    ImageError(const std::filesystem::path& file, const std::string& problem)
        : std::runtime_error(file.string() + ": " + problem), file_(file) {}

    const std::filesystem::path& file() const noexcept { return file_; }

private:
    std::filesystem::path file_;
};

}  // namespace deblur::io
