#pragma once
// The one-call API, for a single image:
//
//   auto result = deblur::blind_deblur(image);   // C x H x W in [0, 1]
//   result.sharp, result.kernel, result.noise, result.warning
//
//   auto sharp = deblur::deconvolve(image, kernel, deblur::DeconvOptions::for_noise(0.01));
//
// Each call builds a Deblurrer (deblurrer.hpp) with the embedded default
// model and frees it on return: nothing is kept between calls. Programs that
// deblur repeatedly, or with another model, keep a Deblurrer instead, which
// keeps its networks and buffers (a warm call of a 255^2 photo saves the
// network's set-up and the solvers' fresh pages).
#include <xtensor/xtensor.hpp>

#include "../core/tensor.hpp"
#include "../deconv/deconv_options.hpp"
#include "blind_deblur_options.hpp"
#include "blind_deblur_result.hpp"
#include "deblurrer.hpp"

namespace deblur {

inline BlindDeblurResult blind_deblur(const Tensor<float>& image, const BlindDeblurOptions& options = {}) {
    return Deblurrer().deblur(image, options);
}

// The kernel of a gray image (intensities in [0, 1], linear) with noise level
// `noise`, as blind_deblur finds it on its estimation window; a texture-free
// image gets a 1 x 1 delta. Deblurrer::estimate_kernel also says whether the
// estimate is reliable.
inline xt::xtensor<float, 2> estimate_kernel(const xt::xtensor<float, 2>& gray, double noise,
                                             const BlindDeblurOptions& options = {}) {
    return Deblurrer().estimate_kernel(gray, noise, options).kernel;
}

// Non-blind deconvolution of every channel with a known kernel.
inline Tensor<float> deconvolve(const Tensor<float>& image, const xt::xtensor<float, 2>& kernel, const DeconvOptions& options) {
    return Deblurrer().deconvolve(image, kernel, options);
}

}  // namespace deblur
