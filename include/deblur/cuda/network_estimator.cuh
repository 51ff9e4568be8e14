#pragma once
// The network's kernel estimate on the GPU, for BlindDeblurOptions::network
// (deblur/pipeline/blind_deblur_options.hpp):
//
//   deblur::BlindDeblurOptions options;
//   options.network = deblur::cuda::network_kernel_estimate();   // throws without a device
//   auto result = deblurrer.deblur(image, options);
//
// KernelEstimator<PaperNetwork<CudaExec<float>>> loads the same models as
// the CPU network; the image is uploaded once per network run and only the
// kernel comes back. The rest of the pipeline (noise estimate, window,
// classical refinement, deconvolution) stays on the CPU.
#include <functional>
#include <map>
#include <memory>
#include <utility>
#include <string>
#include <xtensor/xtensor.hpp>

#include "../net/default_network.hpp"
#include "../net/model_bytes.hpp"
#include "../pipeline/blind_deblur_options.hpp"
#include "../pipeline/kernel_estimator.hpp"
#include "cuda.cuh"

namespace deblur::cuda {

using NetworkEstimator = KernelEstimator<PaperNetwork<CudaExec<float>>>;

// The estimators the returned function builds (one per network of the
// model) live in the function object: copies share them, so it serves one
// call at a time, like the Deblurrer it is given to.
inline NetworkKernelEstimate network_kernel_estimate() {
    require_device();
    auto estimators = std::make_shared<std::map<const unsigned char*, std::pair<ModelBytes, std::unique_ptr<NetworkEstimator>>>>();
    return [estimators](const xt::xtensor<float, 2>& crop, const ModelBytes& model, int kernel_size,
                        const std::function<void(const std::string&)>& progress) {
        auto& entry = (*estimators)[model.bytes.data()];
        if (!entry.second || entry.first.bytes.size() != model.bytes.size()) {
            entry.second.reset();
            entry.second = std::make_unique<NetworkEstimator>(model);
            entry.first = model;
        }
        return entry.second->estimate(crop, kernel_size, progress);
    };
}

}  // namespace deblur::cuda
