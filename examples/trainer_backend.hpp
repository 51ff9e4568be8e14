#pragma once
// deblur-train's trainer behind one interface, for `--device cpu|cuda`: the
// default network with train::Trainer on the CPU, or PaperNetwork<CudaExec<float>>
// with cuda::Trainer on the GPU (trainer_cuda.cu, built only with the CUDA
// backend: DEBLUR_TOOLS_CUDA). Both read and write the same model and
// checkpoint files.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

#include <deblur/net/default_network.hpp>
#include <deblur/net/model_file.hpp>
#include <deblur/train/example_generator.hpp>
#include <deblur/train/trainer.hpp>
#include <deblur/train/training_example.hpp>

#include "device.hpp"

namespace deblur::tools {

class TrainerBackend {
public:
    struct StepResult {
        double loss;
        std::size_t skipped;
    };
    virtual ~TrainerBackend() = default;
    virtual StepResult train_step(const train::ExampleGenerator& generator) = 0;
    virtual double validate(std::span<const train::TrainingExample> examples) = 0;
    virtual void save_model(const std::filesystem::path& file, const ModelMetadata& metadata) = 0;
    virtual void save_checkpoint(const std::filesystem::path& file, const ModelMetadata& metadata) = 0;
    virtual ModelMetadata load_checkpoint(const std::filesystem::path& file) = 0;
    virtual std::int64_t step() const = 0;
    virtual int kernel_size() const = 0;
    virtual std::size_t active_stages(std::int64_t step) const = 0;
};

// A network of type Net (seeded, then loaded from `init` when given) and its trainer.
template <class Net, template <class> class TrainerOf>
class TrainerOn final : public TrainerBackend {
public:
    TrainerOn(std::uint64_t seed, const std::filesystem::path& init, const train::TrainerOptions& options)
        : net_(seed), trainer_(loaded(net_, init), options) {}

    StepResult train_step(const train::ExampleGenerator& generator) override {
        const auto r = trainer_.train_step(generator);
        return {r.loss, r.skipped};
    }
    double validate(std::span<const train::TrainingExample> examples) override { return trainer_.validate(examples); }
    void save_model(const std::filesystem::path& file, const ModelMetadata& metadata) override {
        deblur::save_model(net_, file, metadata);
    }
    void save_checkpoint(const std::filesystem::path& file, const ModelMetadata& metadata) override {
        trainer_.save_checkpoint(file, metadata);
    }
    ModelMetadata load_checkpoint(const std::filesystem::path& file) override { return trainer_.load_checkpoint(file); }
    std::int64_t step() const override { return trainer_.step(); }
    int kernel_size() const override { return trainer_.kernel_size(); }
    std::size_t active_stages(std::int64_t step) const override { return trainer_.active_stages(step); }

private:
    static Net& loaded(Net& net, const std::filesystem::path& init) {
        if (!init.empty()) load_model(net, init);
        return net;
    }

    Net net_;
    TrainerOf<Net> trainer_;
};

#if DEBLUR_TOOLS_CUDA
std::unique_ptr<TrainerBackend> make_cuda_trainer(std::uint64_t seed, const std::filesystem::path& init,
                                                  const train::TrainerOptions& options);  // trainer_cuda.cu
#endif

inline std::unique_ptr<TrainerBackend> make_trainer(const std::string& device, std::uint64_t seed,
                                                    const std::filesystem::path& init,
                                                    const train::TrainerOptions& options) {
    if (!use_cuda(device)) return std::make_unique<TrainerOn<DefaultNetwork, train::Trainer>>(seed, init, options);
#if DEBLUR_TOOLS_CUDA
    return make_cuda_trainer(seed, init, options);
#else
    throw built_without_cuda();
#endif
}

}  // namespace deblur::tools
