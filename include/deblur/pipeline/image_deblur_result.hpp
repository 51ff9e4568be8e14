#pragma once
#include <string>
#include <xtensor/xtensor.hpp>

#include "../core/image_buffer.hpp"
#include "blind_deblur_timings.hpp"

namespace deblur {

// What Deblurrer::deblur returns for an ImageView<const T>: the sharp image in
// the input's sample type and layout, with the same fields as BlindDeblurResult.
template <class T>
struct ImageDeblurResult {
    ImageBuffer<T> sharp;
    xt::xtensor<float, 2> kernel;  // odd square, sum 1, convolution convention
    double noise = 0;
    BlindDeblurTimings timings;
    std::string warning;  // non-empty: the image was returned as it was, and why
};

}  // namespace deblur
