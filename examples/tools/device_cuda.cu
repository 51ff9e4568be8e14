// The CUDA side of `--device cuda` (examples/tools/device.hpp): the only nvcc unit
// of the tools, so the rest of them stays plain C++.
#include <deblur/cuda/network_estimator.cuh>

#include "device.hpp"

namespace deblur::tools {

NetworkKernelEstimate cuda_network_kernel_estimate() { return cuda::network_kernel_estimate(); }

}  // namespace deblur::tools
