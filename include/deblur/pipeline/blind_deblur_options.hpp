#pragma once
#include <atomic>
#include <functional>
#include <string>
#include <xtensor/xtensor.hpp>

#include "../net/model_bytes.hpp"
#include "kernel_refiner.hpp"

namespace deblur {

// The network's kernel estimate of a gray crop: (crop, the model's network
// for the crop's noise, kernel_size, progress) -> kernel, as KernelEstimator::estimate.
using NetworkKernelEstimate = std::function<xt::xtensor<float, 2>(
    const xt::xtensor<float, 2>&, const ModelBytes&, int, const std::function<void(const std::string&)>&)>;

// What to do; the networks come from the Deblurrer's Model (net/model.hpp).
struct BlindDeblurOptions {
    int kernel_size = 0;             // 0: automatic (see KernelEstimator)
    double noise = -1;               // noise std in [0,1] units; < 0: estimated from the image
    double gamma = 1;                // input = linear^(1/gamma); 2.2 for typical JPEGs, 1 for linear data
    std::size_t estimation_size = 512;  // the kernel is estimated on the window of this size with most edges
    // Refine the network's kernel classically (kernel_refiner.hpp) on a support
    // `refine_growth` times the network's (or kernel_size, when given), for
    // images with noise up to refine_max_noise. On by default because it wins
    // on the Levin benchmark (BENCHMARKS.md).
    bool refine = true;
    double refine_max_noise = 0.03;  // noisier images skip it: at sigma 0.05 it measured worse than the network alone
    double refine_growth = 2;
    // With the automatic size the refinement climbs a ladder of supports,
    // each refine_ladder_growth times the previous one (at most
    // refine_ladder_steps, up to half the estimation window), until the kernels
    // of two neighbouring supports agree (kernel_similarity at least
    // refine_agreement) and the larger fits its support. If none do, the
    // estimate is unreliable and blind_deblur returns the photo unchanged.
    double refine_ladder_growth = 1.5;
    int refine_ladder_steps = 6;
    double refine_agreement = 0.85;
    KernelRefinerOptions refinement;
    std::function<void(const std::string&)> progress;  // called with a line of text on long work
    // When set, checked before every step (wherever a progress line is due):
    // once true, the call throws deblur::Cancelled.
    const std::atomic<bool>* cancel = nullptr;
    // Runs the network instead of KernelEstimator<> on the CPU when set, e.g.
    // deblur::cuda::network_kernel_estimate() (the network on the GPU).
    NetworkKernelEstimate network;
};

}  // namespace deblur
