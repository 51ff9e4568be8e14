#pragma once
// The network's kernel estimate on the GPU, for BlindDeblurOptions::network
// (deblur/pipeline/blind_deblur_options.hpp):
//
//   deblur::BlindDeblurOptions options;
//   options.network = deblur::cuda::network_kernel_estimate();   // throws without a device
//   auto result = deblur::blind_deblur(image, options);
//
// KernelEstimator<PaperNetwork<CudaExec<float>>> loads the same model files
// as the CPU network; the image is uploaded once per network run and only
// the kernel comes back. The rest of the pipeline (noise estimate, window,
// classical refinement, deconvolution) stays on the CPU. Like the CPU path,
// the estimator of the last model file is kept per host thread.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <xtensor/xtensor.hpp>

#include "../net/default_network.hpp"
#include "../pipeline/kernel_estimator.hpp"
#include "cuda.cuh"

namespace deblur::cuda {

using NetworkEstimator = KernelEstimator<PaperNetwork<CudaExec<float>>>;

inline std::function<xt::xtensor<float, 2>(const xt::xtensor<float, 2>&, const std::filesystem::path&, int,
                                           const std::function<void(const std::string&)>&)>
network_kernel_estimate() {
    require_device();
    return [](const xt::xtensor<float, 2>& crop, const std::filesystem::path& model, int kernel_size,
              const std::function<void(const std::string&)>& progress) {
        struct Entry {
            std::filesystem::path path;
            std::uintmax_t size = 0;
            std::filesystem::file_time_type time{};
            std::unique_ptr<NetworkEstimator> estimator;
        };
        thread_local Entry entry;
        std::error_code ec;
        const auto size = std::filesystem::file_size(model, ec);
        const auto time = std::filesystem::last_write_time(model, ec);
        if (ec || !entry.estimator || entry.path != model || entry.size != size || entry.time != time) {
            entry.estimator.reset();
            entry.estimator = std::make_unique<NetworkEstimator>(model);
            entry.path = model;
            entry.size = size;
            entry.time = time;
        }
        return entry.estimator->estimate(crop, kernel_size, progress);
    };
}

}  // namespace deblur::cuda
