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
#include <string>
#include <vector>

#include "../core/openmp.hpp"
#include "../net/model_file.hpp"
#include "../net/parameters.hpp"
#include "adadelta.hpp"
#include "batch_gradients.hpp"
#include "checkpoint_file.hpp"
#include "example_generator.hpp"
#include "process_group.hpp"
#include "serial_eigen_products.hpp"
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

template <class Net, class Example = TrainingExample>
class Trainer {
public:
    using scalar = typename Net::scalar;
    using Tensor2 = xt::xtensor<float, 2>;

    // `group`: the processes training together (mpi_process_group.hpp); it
    // must outlive the trainer. Every process constructs its trainer the
    // same way (same seed, same --init) and calls train_step and validate
    // in step.
    Trainer(Net& net, TrainerOptions options, const ProcessGroup& group = single_process())
        : net_(net), options_(options), group_(&group) {
        if (options.scale >= Net::scale_count) throw std::invalid_argument("deblur::train::Trainer: no such scale");
        if (options.batch < 1) throw std::invalid_argument("deblur::train::Trainer: batch must be at least 1");
        if (options.stage_steps < 1 || options.freeze_steps < 0)
            throw std::invalid_argument("deblur::train::Trainer: stage_steps must be >= 1 and freeze_steps >= 0");
        stage_count_ = 0;
        net_.for_each_param_block([&](std::size_t j, std::size_t s, auto, auto) {
            if (j == options_.scale) stage_count_ = std::max(stage_count_, s + 1);
        });
        const int threads = std::max(1, omp_get_max_threads());
        replicas_.assign(static_cast<std::size_t>(threads), net_);
        optimiser_ = Adadelta<scalar>(parameter_count(net_, scale_filter()), options_.optimiser);
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
        gradients_.resize(options_.batch, parameter_count(net_, learns));
        std::vector<scalar> master;
        get_parameters(net_, master);
        const double threshold = running_mean_ > 0 ? options_.outlier_factor * running_mean_
                                                   : std::numeric_limits<double>::infinity();
        const auto used = [&](std::size_t i) {
            const double loss = gradients_.losses()[i];
            return std::isfinite(loss) && loss <= threshold;
        };
        const SerialEigenProducts serial_products;
DEBLUR_OMP(omp parallel)
        {
            Net& replica = replicas_[static_cast<std::size_t>(omp_get_thread_num())];
            set_parameters<Net, scalar>(replica, master);
            replica.set_active_stages(options_.scale, active);
            Tensor<scalar> blurry, grad;
DEBLUR_OMP(omp for schedule(dynamic, 1))
            for (std::ptrdiff_t b = 0; b < static_cast<std::ptrdiff_t>(batch_.size()); ++b) {
                const auto& ex = batch_[static_cast<std::size_t>(b)];
                const std::size_t i = first + static_cast<std::size_t>(b);
                to_tensor(ex.blurry, blurry);
                replica.forward(blurry, options_.scale);
                gradients_.set_loss(i, kernel_loss(replica.kernel(), ex.kernel, &grad));
                if (used(i)) {
                    zero_gradients(replica);
                    grad *= scalar(1) / static_cast<scalar>(options_.batch);
                    replica.backward(blurry, grad, false);
                    copy_gradients(replica, gradients_.gradient(i), learns);
                }
            }
        }
        const auto exchange_start = std::chrono::steady_clock::now();
        gradients_.gather(*group_);
        exchange_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - exchange_start).count();
        std::vector<scalar> total;
        gradients_.sum(used, total);
        // The optimiser keeps state for every parameter of the scale; a zero
        // gradient gives a zero ADADELTA update, so frozen stages stay put.
        std::vector<scalar> params, grads;
        get_parameters(net_, params, scale_filter());
        expand_to_scale(total, learns, grads);
        optimiser_.step(params, grads);
        set_parameters<Net, scalar>(net_, params, scale_filter());
        net_.set_active_stages(options_.scale, active);

        const auto losses = gradients_.loss_summary(used);
        if (losses.used > 0)
            running_mean_ = running_mean_ > 0 ? 0.99 * running_mean_ + 0.01 * losses.used_mean : losses.used_mean;
        ++step_;
        return {losses.mean, options_.batch - losses.used};
    }

    // Mean kernel error on fixed examples, with the network as it is now
    // (each process of the group runs its share; the same figure on all).
    double validate(std::span<const Example> examples) {
        std::vector<scalar> master;
        get_parameters(net_, master);
        const std::size_t active = active_stages(std::max<std::int64_t>(step_ - 1, 0));
        const auto [first, last] = group_->share(examples.size());
        std::vector<double> losses(examples.size());
        const SerialEigenProducts serial_products;
DEBLUR_OMP(omp parallel)
        {
            Net& replica = replicas_[static_cast<std::size_t>(omp_get_thread_num())];
            set_parameters<Net, scalar>(replica, master);
            replica.set_active_stages(options_.scale, active);
            Tensor<scalar> blurry;
DEBLUR_OMP(omp for schedule(dynamic, 1))
            for (std::ptrdiff_t i = static_cast<std::ptrdiff_t>(first); i < static_cast<std::ptrdiff_t>(last); ++i) {
                to_tensor(examples[static_cast<std::size_t>(i)].blurry, blurry);
                replica.forward(blurry, options_.scale);
                losses[static_cast<std::size_t>(i)] =
                    kernel_loss(replica.kernel(), examples[static_cast<std::size_t>(i)].kernel, nullptr);
            }
        }
        group_->all_gather_shares(std::span<double>(losses), losses.size(), 1);
        double sum = 0;
        for (double l : losses) sum += l;  // in example order: the same sum for any thread or process count
        return examples.empty() ? std::numeric_limits<double>::quiet_NaN() : sum / static_cast<double>(examples.size());
    }

    // Seconds this process spent exchanging gradients and losses with the
    // others in train_step (zero work, a copy at most, in a group of one).
    double exchange_seconds() const { return exchange_seconds_; }

    // Checkpoint = model file (parameters, step, running mean) + optimiser state, both atomic.
    void save_checkpoint(const std::filesystem::path& model_path, ModelMetadata metadata) {
        save_checkpoint_files(net_, model_path, std::move(metadata), options_.scale, step_, running_mean_,
                              optimiser_.state());
    }

    // Restores a checkpoint written by save_checkpoint; returns its metadata.
    ModelMetadata load_checkpoint(const std::filesystem::path& model_path) {
        auto c = load_checkpoint_files(net_, model_path, options_.scale, optimiser_.state().size());
        const std::vector<scalar> state(c.optimiser_state.begin(), c.optimiser_state.end());
        optimiser_.set_state(state, static_cast<std::size_t>(c.step));
        step_ = c.step;
        running_mean_ = c.running_mean;
        net_.set_active_stages(options_.scale, active_stages(std::max<std::int64_t>(step_ - 1, 0)));
        return c.metadata;
    }

    // Sum of squared differences between the estimated kernels (P x K x K; P = 1
    // for a uniform network, one per patch for a field) and the true ones (any
    // shape of the same size, same order), divided by P: the mean over the
    // local kernels, so that the loss, the outlier threshold and validation
    // figures read as one kernel's error whatever the grid (and ADADELTA does
    // not care for a constant factor). Writes its gradient.
    template <class Truth>
    static double kernel_loss(const Tensor<scalar>& estimate, const Truth& truth, Tensor<scalar>* grad) {
        if (estimate.size() != truth.size()) throw std::invalid_argument("deblur::train: kernel sizes differ");
        if (grad) resize(*grad, estimate.shape(0), estimate.shape(1), estimate.shape(2));
        const double patches = static_cast<double>(estimate.shape(0));  // exact division by 1 when uniform
        double loss = 0;
        for (std::size_t i = 0; i < truth.size(); ++i) {
            const double d = double(estimate.data()[i]) - double(truth.data()[i]);
            loss += d * d;
            if (grad) grad->data()[i] = static_cast<scalar>(2 * d / patches);
        }
        return loss / patches;
    }

private:
    BlockFilter scale_filter() const {
        const std::size_t scale = options_.scale;
        return [scale](std::size_t j, std::size_t) { return j == scale; };
    }

    // Gradients of the learning blocks, placed in a vector over the whole scale (zeros elsewhere).
    void expand_to_scale(const std::vector<scalar>& learning, const BlockFilter& learns, std::vector<scalar>& out) {
        out.clear();
        std::size_t at = 0;
        net_.for_each_param_block([&](std::size_t j, std::size_t s, auto p, auto) {
            if (j != options_.scale) return;
            for (std::size_t i = 0; i < p.size(); ++i) out.push_back(learns(j, s) ? learning[at++] : scalar(0));
        });
    }
    static void to_tensor(const Tensor2& image, Tensor<scalar>& out) {
        resize(out, 1, image.shape(0), image.shape(1));
        std::copy(image.begin(), image.end(), out.begin());
    }

    Net& net_;
    TrainerOptions options_;
    std::size_t stage_count_ = 0;
    std::vector<Net> replicas_;
    Adadelta<scalar> optimiser_{0};
    const ProcessGroup* group_;
    std::vector<Example> batch_;  // this process's share of the step's examples
    BatchGradients<scalar> gradients_;
    double exchange_seconds_ = 0;
    std::int64_t step_ = 0;
    double running_mean_ = 0;
};

}  // namespace deblur::train
