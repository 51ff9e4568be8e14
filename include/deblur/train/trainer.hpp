#pragma once
// Training of one scale of a network (Section 3.3): L2 loss between the
// estimated and the true kernel, ADADELTA, minibatches computed in parallel
// over examples (one network replica per OpenMP thread, and over processes
// with a ProcessGroup such as MpiProcessGroup), stage-wise pre-training, and
// outlier rejection (examples whose error is above `outlier_factor` times
// the running mean are not back-propagated). The examples' gradients are
// added in example order (BatchGradients), so a step gives the same
// parameters, bit for bit, for any number of threads and processes.
//
// Stage schedule for a scale of S stages with `stage_steps` = N:
//   steps [0, N)                  stage 1 alone;
//   [N, N + freeze_steps)         stages 1-2 run, only stage 2 learns;
//   [N + freeze_steps, 2N)        stages 1-2 learn end to end; and so on,
// the last stage being trained end to end until `steps`.
//
// Spatially-varying networks (EFFNetwork with a grid set; the replicas are
// copies of `net`, so they keep its grid) train the same way on FieldExample
// batches (Example = FieldExample): the loss then compares the whole kernel
// field (kernel_loss).
//
// Coarser scales (already trained) run in front but are fixed. Everything a
// step does depends only on (seed, step) and the parameters and optimiser
// state, which checkpoints store: a resumed run continues exactly.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <span>
#include <stdexcept>
#include <vector>

#include "../net/model_file.hpp"
#include "../net/parameters.hpp"
#include "adadelta.hpp"
#include "batch_gradients.hpp"
#include "checkpoint_file.hpp"
#include "example_generator.hpp"
#include "host_training.hpp"
#include "kernel_loss.hpp"
#include "process_group.hpp"
#include "training_example.hpp"

namespace deblur::train {

struct TrainerOptions {
    std::size_t scale = 0;              // which scale learns
    std::size_t batch = 16;             // examples per step
    std::int64_t stage_steps = 20000;   // steps before the next stage is added
    std::int64_t freeze_steps = 1000;   // steps a new stage learns alone
    double outlier_factor = 10;         // skip examples with error > factor x running mean
    AdadeltaOptions optimiser{};
};

// Device: what runs the network and the optimiser (HostTraining: the CPU,
// threads over examples; cuda::CudaTraining: the GPU). Trainer keeps what is
// the same everywhere: the stage schedule, the batch and its share per
// process, the outlier test, the exchange and the order of the sum, the
// running mean, validation and checkpoints. (The default is fully qualified:
// nvcc's front end looks it up where Trainer is passed as a template
// template argument.)
template <class Net, class Example = TrainingExample, class Device = ::deblur::train::HostTraining<Net, Example>>
class Trainer {
public:
    using scalar = typename Net::scalar;

    // `group`: the processes training together (mpi_process_group.hpp); it
    // must outlive the trainer. Every process constructs its trainer the
    // same way (same seed, same --init) and calls train_step and validate
    // in step.
    Trainer(Net& net, TrainerOptions options, const ProcessGroup& group = single_process())
        : options_(checked(options)), group_(&group), device_(net, options.scale, options.optimiser) {
        stage_count_ = device_.stage_count();
    }

    int kernel_size() const { return Net::kernel_sizes[options_.scale]; }
    std::int64_t step() const { return step_; }
    double running_mean() const { return running_mean_; }

    // Stages that run, and the first stage that learns, at `step`.
    std::size_t active_stages(std::int64_t step) const {
        return std::min<std::size_t>(stage_count_, static_cast<std::size_t>(step / options_.stage_steps) + 1);
    }
    std::size_t first_learning_stage(std::int64_t step) const {
        const std::size_t p = active_stages(step) - 1;
        const bool frozen = p > 0 && step - static_cast<std::int64_t>(p) * options_.stage_steps < options_.freeze_steps;
        return frozen ? p : 0;
    }

    struct StepResult {
        double loss;         // mean kernel error (kernel_loss) over the batch
        std::size_t skipped;  // outliers not back-propagated
    };

    // One ADADELTA step on the batch for the current step number; `generator`
    // fills a std::vector<Example> (ExampleGenerator, FieldExampleGenerator).
    // With a process group of N, this process makes and back-propagates its
    // share of the batch; every process then adds all examples' gradients in
    // example order and takes the same step.
    template <class Generator = ExampleGenerator>
    StepResult train_step(const Generator& generator) {
        const auto [first, last] = group_->share(options_.batch);
        batch_.resize(last - first);
        generator.fill_batch(batch_, static_cast<std::uint64_t>(step_), first);
        const std::size_t active = active_stages(step_), first_learning = first_learning_stage(step_);
        const auto learns = [&](std::size_t j, std::size_t s) {
            return j == options_.scale && s >= first_learning && s < active;
        };
        gradients_.resize(options_.batch, device_.gradient_count(learns));
        const double threshold = running_mean_ > 0 ? options_.outlier_factor * running_mean_
                                                   : std::numeric_limits<double>::infinity();
        const auto used = [&](std::size_t i) {
            const double loss = gradients_.losses()[i];
            return std::isfinite(loss) && loss <= threshold;
        };
        device_.example_gradients(std::span<const Example>(batch_), first, options_.batch, active, learns, used,
                                  gradients_);
        const auto exchange_start = std::chrono::steady_clock::now();
        gradients_.gather(*group_);
        exchange_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - exchange_start).count();
        std::vector<scalar> total;
        gradients_.sum(used, total);
        device_.step(total, learns);
        device_.set_active_stages(active);

        const auto losses = gradients_.loss_summary(used);
        if (losses.used > 0)
            running_mean_ = running_mean_ > 0 ? 0.99 * running_mean_ + 0.01 * losses.used_mean : losses.used_mean;
        ++step_;
        return {losses.mean, options_.batch - losses.used};
    }

    // Mean kernel error on fixed examples, with the network as it is now
    // (each process of the group runs its share; the same figure on all).
    double validate(std::span<const Example> examples) {
        const std::size_t active = active_stages(std::max<std::int64_t>(step_ - 1, 0));
        const auto [first, last] = group_->share(examples.size());
        std::vector<double> losses(examples.size());
        device_.validation_losses(examples, first, last, active, losses);
        group_->all_gather_shares(std::span<double>(losses), losses.size(), 1);
        double sum = 0;
        for (double l : losses) sum += l;  // in example order: the same sum for any thread or process count
        return examples.empty() ? std::numeric_limits<double>::quiet_NaN() : sum / static_cast<double>(examples.size());
    }

    // Seconds this process spent exchanging gradients and losses with the
    // others in train_step (zero work, a copy at most, in a group of one).
    double exchange_seconds() const { return exchange_seconds_; }

    // Checkpoint = model file (parameters, step, running mean) + optimiser
    // state, both atomic; the same files from every device.
    void save_checkpoint(const std::filesystem::path& model_path, ModelMetadata metadata) {
        save_checkpoint_files(device_.net(), model_path, std::move(metadata), options_.scale, step_, running_mean_,
                              device_.optimiser_state());
    }

    // Restores a checkpoint written by save_checkpoint; returns its metadata.
    ModelMetadata load_checkpoint(const std::filesystem::path& model_path) {
        auto c = load_checkpoint_files(device_.net(), model_path, options_.scale, device_.optimiser_state_size());
        const std::vector<scalar> state(c.optimiser_state.begin(), c.optimiser_state.end());
        device_.set_optimiser_state(state, static_cast<std::size_t>(c.step));
        step_ = c.step;
        running_mean_ = c.running_mean;
        device_.set_active_stages(active_stages(std::max<std::int64_t>(step_ - 1, 0)));
        return c.metadata;
    }

    // The loss (kernel_loss.hpp).
    template <class Truth>
    static double kernel_loss(const Tensor<scalar>& estimate, const Truth& truth, Tensor<scalar>* grad) {
        return train::kernel_loss(estimate, truth, grad);
    }

private:
    static TrainerOptions checked(const TrainerOptions& options) {
        if (options.scale >= Net::scale_count) throw std::invalid_argument("deblur::train::Trainer: no such scale");
        if (options.batch < 1) throw std::invalid_argument("deblur::train::Trainer: batch must be at least 1");
        if (options.stage_steps < 1 || options.freeze_steps < 0)
            throw std::invalid_argument("deblur::train::Trainer: stage_steps must be >= 1 and freeze_steps >= 0");
        return options;
    }

    TrainerOptions options_;
    const ProcessGroup* group_;
    Device device_;
    std::size_t stage_count_ = 0;
    std::vector<Example> batch_;  // this process's share of the step's examples
    BatchGradients<scalar> gradients_;
    double exchange_seconds_ = 0;
    std::int64_t step_ = 0;
    double running_mean_ = 0;
};

}  // namespace deblur::train
