#pragma once
// `--device cpu|cuda` of the tools. "cuda" runs the network on the GPU
// (device_cuda.cu, built only when the CUDA backend is: DEBLUR_TOOLS_CUDA);
// without it, or without a GPU, choosing it is an error with a clear message.
#include <stdexcept>
#include <string>

#include <deblur/pipeline/blind_deblur_options.hpp>

namespace deblur::tools {

#if DEBLUR_TOOLS_CUDA
NetworkKernelEstimate cuda_network_kernel_estimate();  // device_cuda.cu
#endif

// The error of --device cuda in a program built without the CUDA backend.
inline std::runtime_error built_without_cuda() {
    return std::runtime_error(
        "--device cuda: this program was built without the CUDA backend (configure with -DDEBLUR_CUDA=ON on a "
        "machine with the CUDA toolkit)");
}

// Whether `device` is "cuda" (the GPU) rather than "cpu"; throws on anything else.
inline bool use_cuda(const std::string& device) {
    if (device != "cpu" && device != "cuda")
        throw std::invalid_argument("--device: expected cpu or cuda, got '" + device + "'");
    return device == "cuda";
}

// The network estimate of BlindDeblurOptions::network for `device` (empty:
// the CPU network).
inline NetworkKernelEstimate network_for_device(const std::string& device) {
    if (!use_cuda(device)) return {};
#if DEBLUR_TOOLS_CUDA
    try {
        return cuda_network_kernel_estimate();
    } catch (const std::exception& e) {
        throw std::runtime_error(std::string("--device cuda: ") + e.what());
    }
#else
    throw built_without_cuda();
#endif
}

}  // namespace deblur::tools
