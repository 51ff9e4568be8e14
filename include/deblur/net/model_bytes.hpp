#pragma once
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace deblur {

// The bytes of one model file (model_file.hpp) and the name that errors and
// progress lines give them. `storage` owns the bytes, unless they are static
// data (the models embedded in the program).
struct ModelBytes {
    std::string name;
    std::span<const unsigned char> bytes;
    std::shared_ptr<const std::vector<unsigned char>> storage;
};

}  // namespace deblur
