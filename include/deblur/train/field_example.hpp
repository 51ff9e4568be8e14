#pragma once
// One synthetic training pair for spatially-varying blur (issue 7, the
// paper's Section 5.3): a sharp crop, the blurry image a camera trajectory
// makes of it through the EFF model ('valid', see field_example_generator.hpp),
// and the true kernel field at the patch centres of the network's estimation
// grid over the blurry image,
//
//   kernel: P x K x K, patch p = i * grid + j of EFFGrid(H, W, grid, grid),
//
// the layout of an EFF network's kernel() (eff_network.hpp). The member is
// named as TrainingExample's so that train::Trainer reads either.
#include <xtensor/xtensor.hpp>

namespace deblur::train {

struct FieldExample {
    xt::xtensor<float, 2> blurry;  // H x W, what the network gets
    xt::xtensor<float, 3> kernel;  // P x K x K local kernels, each non-negative with sum 1
    xt::xtensor<float, 2> sharp;   // (H + K - 1) x (W + K - 1)
};

}  // namespace deblur::train
