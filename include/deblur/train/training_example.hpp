#pragma once
// One synthetic training pair (Section 3.3): a sharp crop, a blur kernel and
// the blurry image the network sees,
//
//   blurry = blur(sharp, kernel, BlurMode::valid) + N(0, sigma^2),
//
// so `sharp` is larger than `blurry` by K-1 in each direction and the blurry
// image contains no wrapped or zero border (see blur.hpp).
#include <xtensor/xtensor.hpp>

namespace deblur::train {

struct TrainingExample {
    xt::xtensor<float, 2> blurry;  // H x W, what the network gets
    xt::xtensor<float, 2> kernel;  // K x K, non-negative, sum 1, centre of mass at (K/2, K/2)
    xt::xtensor<float, 2> sharp;   // (H + K - 1) x (W + K - 1)
};

}  // namespace deblur::train
