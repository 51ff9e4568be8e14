#pragma once
// A decoded image: the pixels as a C x H x W float tensor and what the file
// said about them. Integer samples are scaled to [0, 1] (value / (2^bits - 1));
// float samples are kept as stored.
#include "../core/tensor.hpp"
#include "image_info.hpp"

namespace deblur::io {

struct Image {
    Tensor<float> pixels;
    ImageInfo info;
};

}  // namespace deblur::io
