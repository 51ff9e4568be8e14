#pragma once
// What a decoder found in a file, next to the pixels it returns.
#include <cstddef>

#include "image_format.hpp"

namespace deblur::io {

struct ImageInfo {
    ImageFormat format = ImageFormat::png;
    std::size_t channels = 0;  // decoded, alpha included: 1 gray, 2 gray+alpha, 3 RGB (palettes too), 4 RGBA
    std::size_t height = 0;
    std::size_t width = 0;
    int bit_depth = 0;            // bits per stored sample (a palette PNG reports its index depth)
    bool floating_point = false;  // float samples (PFM, float TIFF): values are kept as stored, not scaled
    bool has_alpha = false;       // the stored last channel is opacity
};

}  // namespace deblur::io
