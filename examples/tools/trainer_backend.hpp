#pragma once
// deblur-train's trainer behind one interface, for `--device cpu|cuda`: the
// default network with train::Trainer on the CPU, or PaperNetwork<CudaExec<float>>
// with cuda::Trainer on the GPU (trainer_cuda.cu, built only with the CUDA
// backend: DEBLUR_TOOLS_CUDA). Both read and write the same model and
// checkpoint files. `--nonuniform`: the spatially-varying EFFNetwork with a
// grid, trained on kernel fields (FieldTrainerBackend, CPU only).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

#include <deblur/net/copy_scales.hpp>
#include <deblur/net/default_network.hpp>
#include <deblur/net/eff_network.hpp>
#include <deblur/net/load_model_parameters.hpp>
#include <deblur/net/model_error.hpp>
#include <deblur/net/model_file.hpp>
#include <deblur/train/example_generator.hpp>
#include <deblur/train/field_example.hpp>
#include <deblur/train/field_example_generator.hpp>
#include <deblur/train/process_group.hpp>
#include <deblur/train/trainer.hpp>
#include <deblur/train/training_example.hpp>

#include "device.hpp"

namespace deblur::tools {

template <class Generator, class Example>
class TrainerBackendOf {
public:
    using generator_type = Generator;
    using example_type = Example;
    struct StepResult {
        double loss;
        std::size_t skipped;
    };
    virtual ~TrainerBackendOf() = default;
    virtual StepResult train_step(const Generator& generator) = 0;
    virtual double validate(std::span<const Example> examples) = 0;
    virtual void save_model(const std::filesystem::path& file, const ModelMetadata& metadata) = 0;
    virtual void save_checkpoint(const std::filesystem::path& file, const ModelMetadata& metadata) = 0;
    virtual ModelMetadata load_checkpoint(const std::filesystem::path& file) = 0;
    virtual std::int64_t step() const = 0;
    virtual int kernel_size() const = 0;
    virtual std::size_t active_stages(std::int64_t step) const = 0;
    virtual double exchange_seconds() const = 0;  // with the other processes, in all steps so far
};

using TrainerBackend = TrainerBackendOf<train::ExampleGenerator, train::TrainingExample>;
using FieldTrainerBackend = TrainerBackendOf<train::FieldExampleGenerator, train::FieldExample>;

// A network's start from `init`: a model file of its own architecture.
template <class Net>
void load_init(Net& net, const std::filesystem::path& init, std::size_t /*grid*/) {
    if (!init.empty()) load_model(net, init);
}

// `init` with the trained scales of `coarser` (as many as its metadata's
// trained_scales, all if it does not say) in place of its own, written to
// `out`: e.g. a noise-specific model's 17 px scale under the default's larger
// ones, so that the next scale trains on the latent images it will be fed.
template <class Net>
void compose_init(const std::filesystem::path& init, const std::filesystem::path& coarser,
                  const std::filesystem::path& out) {
    auto net = std::make_unique<Net>(1), from = std::make_unique<Net>(1);
    if (!init.empty()) load_model(*net, init);
    const ModelMetadata meta = load_model(*from, coarser);
    std::size_t scales = Net::scale_count;
    if (auto it = meta.find("trained_scales"); it != meta.end()) {
        try {
            scales = std::stoul(it->second);
        } catch (const std::exception&) {
            throw ModelError("model file " + coarser.string() + ": bad trained_scales '" + it->second + "'");
        }
    }
    copy_scales(*from, *net, scales);
    save_model(*net, out, {{"composed_from", init.string() + " + " + coarser.string() + " (first " +
                                                 std::to_string(scales) + " scales)"}});
}

// The spatially-varying network: an EFF model (e.g. an earlier fine-tune) or a
// uniform model's parameters (the same blocks); then the training grid, which
// the trainer's replicas copy.
template <class E>
void load_init(PaperEFFNetwork<E>& net, const std::filesystem::path& init, std::size_t grid) {
    if (!init.empty()) {
        try {
            load_model(net, init);
        } catch (const ModelError& eff_error) {
            try {
                load_model_parameters<PaperNetwork<E>>(net, init);
            } catch (const ModelError&) {
                throw eff_error;  // neither: the EFF architecture's message
            }
        }
    }
    set_grid(net, grid, grid);
}

// A network of type Net (seeded, then loaded from `init` when given, see
// load_init; `grid` only for a spatially-varying network) and its trainer.
template <class Net, template <class> class TrainerOf, class Backend = TrainerBackend>
class TrainerOn final : public Backend {
public:
    using StepResult = typename Backend::StepResult;
    TrainerOn(std::uint64_t seed, const std::filesystem::path& init, const train::TrainerOptions& options,
              const train::ProcessGroup& group, std::size_t grid = 1)
        : net_(seed), trainer_(loaded(net_, init, grid), options, group) {}

    StepResult train_step(const typename Backend::generator_type& generator) override {
        const auto r = trainer_.train_step(generator);
        return {r.loss, r.skipped};
    }
    double validate(std::span<const typename Backend::example_type> examples) override {
        return trainer_.validate(examples);
    }
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
    double exchange_seconds() const override { return trainer_.exchange_seconds(); }

private:
    static Net& loaded(Net& net, const std::filesystem::path& init, std::size_t grid) {
        load_init(net, init, grid);
        return net;
    }

    Net net_;
    TrainerOf<Net> trainer_;
};

#if DEBLUR_TOOLS_CUDA
std::unique_ptr<TrainerBackend> make_cuda_trainer(std::uint64_t seed, const std::filesystem::path& init,
                                                  const train::TrainerOptions& options,
                                                  const train::ProcessGroup& group);  // trainer_cuda.cu
#endif

// `group`: the processes training together (train::single_process() alone).
inline std::unique_ptr<TrainerBackend> make_trainer(const std::string& device, std::uint64_t seed,
                                                    const std::filesystem::path& init,
                                                    const train::TrainerOptions& options,
                                                    const train::ProcessGroup& group) {
    if (!use_cuda(device))
        return std::make_unique<TrainerOn<DefaultNetwork, train::Trainer>>(seed, init, options, group);
#if DEBLUR_TOOLS_CUDA
    return make_cuda_trainer(seed, init, options, group);
#else
    throw built_without_cuda();
#endif
}

template <class N>
using FieldTrainer = train::Trainer<N, train::FieldExample>;

// The spatially-varying network on a grid x grid estimation grid (CPU).
inline std::unique_ptr<FieldTrainerBackend> make_field_trainer(std::uint64_t seed, const std::filesystem::path& init,
                                                               const train::TrainerOptions& options,
                                                               const train::ProcessGroup& group, std::size_t grid) {
    return std::make_unique<TrainerOn<EFFNetwork, FieldTrainer, FieldTrainerBackend>>(seed, init, options, group, grid);
}

}  // namespace deblur::tools
