// The CUDA side of `deblur-train --device cuda` (examples/tools/trainer_backend.hpp).
#include <deblur/cuda/cuda.cuh>
#include <deblur/cuda/trainer.cuh>

#include "trainer_backend.hpp"

namespace deblur::tools {

std::unique_ptr<TrainerBackend> make_cuda_trainer(std::uint64_t seed, const std::filesystem::path& init,
                                                  const train::TrainerOptions& options,
                                                  const train::ProcessGroup& group) {
    try {
        cuda::require_device();
    } catch (const std::exception& e) {
        throw std::runtime_error(std::string("--device cuda: ") + e.what());
    }
    return std::make_unique<TrainerOn<PaperNetwork<CudaExec<float>>, cuda::Trainer>>(seed, init, options, group);
}

}  // namespace deblur::tools
