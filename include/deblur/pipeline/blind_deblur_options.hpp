#pragma once
#include <filesystem>
#include <functional>
#include <string>

namespace deblur {

struct BlindDeblurOptions {
    std::filesystem::path model;     // empty: the shipped model for the noise level
    int kernel_size = 0;             // 0: automatic (see KernelEstimator)
    double noise = -1;               // noise std in [0,1] units; < 0: estimated from the image
    double gamma = 1;                // input = linear^(1/gamma); 2.2 for typical JPEGs, 1 for linear data
    std::size_t estimation_size = 512;  // the kernel is estimated on the window of this size with most edges
    std::function<void(const std::string&)> progress;  // called with a line of text on long work
};

}  // namespace deblur
