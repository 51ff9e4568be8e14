#pragma once
// Synthetic spatially-varying blur (issue 7): a sharp image blurred by a
// camera trajectory (camera_shake_sampler.hpp) through the EFF model
// (eff.hpp), 'valid' (the blurry image is K - 1 px smaller, no border
// effects), with the trajectory's local kernels at the patch centres of a
// fine `true_grid` x `true_grid` grid over the sharp image. A fine grid
// approximates the continuous field; the estimation grid (e.g. 3 x 3) is
// coarser. Used by the benchmark (bench/nonuniform) and the training data
// (train/field_example_generator.hpp).
#include <cstddef>
#include <xtensor/xtensor.hpp>

#include "blur_mode.hpp"
#include "camera_shake_sampler.hpp"
#include "eff.hpp"
#include "eff_grid.hpp"

namespace deblur {

template <class T = float>
xt::xtensor<T, 2> camera_shake_blur(const xt::xtensor<T, 2>& sharp, const CameraShakeSampler::Trajectory& trajectory,
                                    std::size_t true_grid) {
    const auto K = static_cast<std::size_t>(trajectory.kernel_size);
    EFFBlur<T> model(EFFGrid(sharp.shape(0), sharp.shape(1), true_grid, true_grid), K, K, BlurMode::valid);
    model.set_kernels(CameraShakeSampler::kernel_field<T>(trajectory, model.grid(), trajectory.kernel_size));
    return model.apply(sharp);
}

}  // namespace deblur
