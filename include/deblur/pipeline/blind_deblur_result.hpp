#pragma once
#include <string>
#include <xtensor/xtensor.hpp>

#include "../core/tensor.hpp"
#include "blind_deblur_timings.hpp"

namespace deblur {

// What Deblurrer::deblur (and blind_deblur) return for a C x H x W tensor.
struct BlindDeblurResult {
    Tensor<float> sharp;           // C x H x W, same range as the input
    xt::xtensor<float, 2> kernel;  // odd square, sum 1, convolution convention
    double noise = 0;              // the channels' noise level (estimated or given), used by the deconvolution
    BlindDeblurTimings timings;    // wall and CPU seconds per stage
    // Non-empty when the photo was not deblurred as usual, saying why (a
    // texture-free image, or a kernel estimate that is not reliable): the
    // image is then returned as it was.
    std::string warning;
};

}  // namespace deblur
