#pragma once
// cuda::Trainer<Net>: train::Trainer (deblur/train/trainer.hpp) for a CUDA
// network such as PaperNetwork<CudaExec<float>>. Same stage schedule, L2
// kernel loss, outlier rejection, ADADELTA (cuda::Adadelta on the layers'
// device storage) and checkpoint files (model file + "DEBLUROPT2" optimiser
// state), so a run checkpointed on one device resumes on the other.
//
// The examples of a batch run one after another on the device (the CPU
// trainer spreads them over threads). Per example the blurry image goes up,
// the K x K kernel comes back and its loss gradient goes up again (the
// outlier test needs the loss on the host), and the example's parameter
// gradient comes back: as in train::Trainer, the host adds the examples'
// gradients in example order (train::BatchGradients), gathered from every
// process of a ProcessGroup through host memory, and uploads the sum for
// ADADELTA. So N processes give the parameters of one, bit for bit.
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

#include "../net/model_file.hpp"
#include "../net/parameters.hpp"
#include "../train/batch_gradients.hpp"
#include "../train/checkpoint_file.hpp"
#include "../train/example_generator.hpp"
#include "../train/process_group.hpp"
#include "../train/trainer.hpp"
#include "../train/training_example.hpp"
#include "adadelta.cuh"
#include "transfer.cuh"

namespace deblur::cuda {

template <class Net>
class Trainer {
public:
    using scalar = typename Net::scalar;
    using StepResult = typename train::Trainer<Net>::StepResult;

    // `group`: the processes training together; it must outlive the trainer.
    Trainer(Net& net, train::TrainerOptions options, const train::ProcessGroup& group = train::single_process())
        : net_(net), options_(options), group_(&group) {
        if (options.scale >= Net::scale_count) throw std::invalid_argument("deblur::cuda::Trainer: no such scale");
        if (options.batch < 1) throw std::invalid_argument("deblur::cuda::Trainer: batch must be at least 1");
        if (options.stage_steps < 1 || options.freeze_steps < 0)
            throw std::invalid_argument("deblur::cuda::Trainer: stage_steps must be >= 1 and freeze_steps >= 0");
        net_.for_each_param_storage([&](std::size_t j, std::size_t s, auto, auto) {
            if (j == options_.scale) stage_count_ = std::max(stage_count_, s + 1);
        });
        optimiser_ = Adadelta<scalar>(parameter_count(net_, scale_filter()), options_.optimiser);
    }

    int kernel_size() const { return Net::kernel_sizes[options_.scale]; }
    std::int64_t step() const { return step_; }
    double running_mean() const { return running_mean_; }

    // The schedule of train::Trainer.
    std::size_t active_stages(std::int64_t step) const {
        return std::min<std::size_t>(stage_count_, static_cast<std::size_t>(step / options_.stage_steps) + 1);
    }
    std::size_t first_learning_stage(std::int64_t step) const {
        const std::size_t p = active_stages(step) - 1;
        const bool frozen = p > 0 && step - static_cast<std::int64_t>(p) * options_.stage_steps < options_.freeze_steps;
        return frozen ? p : 0;
    }

    StepResult train_step(const train::ExampleGenerator& generator) {
        const auto [first, last] = group_->share(options_.batch);
        batch_.resize(last - first);
        generator.fill_batch(batch_, static_cast<std::uint64_t>(step_), first);
        const std::size_t active = active_stages(step_), first_learning = first_learning_stage(step_);
        const auto learns = [&](std::size_t j, std::size_t s) {
            return j == options_.scale && s >= first_learning && s < active;
        };
        const double threshold = running_mean_ > 0 ? options_.outlier_factor * running_mean_
                                                   : std::numeric_limits<double>::infinity();
        const auto used = [&](std::size_t i) {
            const double loss = gradients_.losses()[i];
            return std::isfinite(loss) && loss <= threshold;
        };
        net_.set_active_stages(options_.scale, active);
        gradients_.resize(options_.batch, gradient_count(learns));
        for (std::size_t i = first; i < last; ++i) {
            const auto& ex = batch_[i - first];
            gradients_.set_loss(i, forward(ex, &grad_));
            if (!used(i)) continue;
            zero_device_gradients([](std::size_t, std::size_t) { return true; });
            grad_ *= scalar(1) / static_cast<scalar>(options_.batch);
            copy_to_device(grad_, device_grad_);
            net_.backward(device_blurry_, device_grad_, false);
            download_gradients(gradients_.gradient(i), learns);
        }
        const auto exchange_start = std::chrono::steady_clock::now();
        gradients_.gather(*group_);
        exchange_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - exchange_start).count();
        std::vector<scalar> total;
        gradients_.sum(used, total);
        // Only the learning stages of the scale move: the others get a zero
        // gradient, hence a zero ADADELTA update (as in train::Trainer).
        zero_device_gradients([](std::size_t, std::size_t) { return true; });
        upload_gradients(total, learns);
        optimiser_.step(Adadelta<scalar>::blocks_of(net_, scale_filter()));
        const auto losses = gradients_.loss_summary(used);
        if (losses.used > 0)
            running_mean_ = running_mean_ > 0 ? 0.99 * running_mean_ + 0.01 * losses.used_mean : losses.used_mean;
        ++step_;
        return {losses.mean, options_.batch - losses.used};
    }

    double validate(std::span<const train::TrainingExample> examples) {
        net_.set_active_stages(options_.scale, active_stages(std::max<std::int64_t>(step_ - 1, 0)));
        const auto [first, last] = group_->share(examples.size());
        std::vector<double> losses(examples.size());
        for (std::size_t i = first; i < last; ++i) losses[i] = forward(examples[i], nullptr);
        group_->all_gather_shares(std::span<double>(losses), losses.size(), 1);
        double sum = 0;
        for (double l : losses) sum += l;
        return examples.empty() ? std::numeric_limits<double>::quiet_NaN() : sum / static_cast<double>(examples.size());
    }

    // Seconds spent exchanging gradients and losses with the other processes in train_step.
    double exchange_seconds() const { return exchange_seconds_; }

    // Files of train::Trainer::save_checkpoint (train/checkpoint_file.hpp).
    void save_checkpoint(const std::filesystem::path& model_path, ModelMetadata metadata) {
        train::save_checkpoint_files(net_, model_path, std::move(metadata), options_.scale, step_, running_mean_,
                                     optimiser_.state());
    }

    ModelMetadata load_checkpoint(const std::filesystem::path& model_path) {
        auto c = train::load_checkpoint_files(net_, model_path, options_.scale, 2 * optimiser_.size());
        const std::vector<scalar> state(c.optimiser_state.begin(), c.optimiser_state.end());
        optimiser_.set_state(state, static_cast<std::size_t>(c.step));
        step_ = c.step;
        running_mean_ = c.running_mean;
        net_.set_active_stages(options_.scale, active_stages(std::max<std::int64_t>(step_ - 1, 0)));
        return c.metadata;
    }

private:
    // Runs the network on one example; returns its kernel loss and, when
    // asked, writes the loss gradient (host) for backward.
    double forward(const train::TrainingExample& ex, Tensor<scalar>* grad) {
        deblur::resize(blurry_, 1, ex.blurry.shape(0), ex.blurry.shape(1));
        std::copy(ex.blurry.begin(), ex.blurry.end(), blurry_.begin());
        copy_to_device(blurry_, device_blurry_);
        net_.forward(device_blurry_, options_.scale);
        copy_to_host(net_.kernel(), kernel_);  // waits for the device
        return train::Trainer<Net>::kernel_loss(kernel_, ex.kernel, grad);
    }

    template <class Select>
    void zero_device_gradients(const Select& select) {
        net_.for_each_param_storage([&](std::size_t j, std::size_t s, std::span<scalar>, std::span<scalar> g) {
            if (select(j, s) && !g.empty())
                check(cudaMemsetAsync(g.data(), 0, g.size() * sizeof(scalar), current_stream()), "cudaMemsetAsync");
        });
    }

    // Parameters in the selected blocks (counted on the device storage: the
    // host view of for_each_param_block copies every block both ways).
    std::size_t gradient_count(const BlockFilter& select) {
        std::size_t n = 0;
        net_.for_each_param_storage([&](std::size_t j, std::size_t s, std::span<scalar>, std::span<scalar> g) {
            if (select(j, s)) n += g.size();
        });
        return n;
    }

    // The device gradients of the selected blocks into `out` (waits for the device), and back.
    void download_gradients(std::span<scalar> out, const BlockFilter& select) {
        std::size_t at = 0;
        net_.for_each_param_storage([&](std::size_t j, std::size_t s, std::span<scalar>, std::span<scalar> g) {
            if (!select(j, s) || g.empty()) return;
            check(cudaMemcpyAsync(out.data() + at, g.data(), g.size() * sizeof(scalar), cudaMemcpyDeviceToHost,
                                  current_stream()),
                  "cudaMemcpyAsync");
            at += g.size();
        });
        check(cudaStreamSynchronize(current_stream()), "cudaStreamSynchronize");
        if (at != out.size()) throw std::logic_error("deblur::cuda::Trainer: gradient sizes differ");
    }
    void upload_gradients(std::span<const scalar> in, const BlockFilter& select) {
        std::size_t at = 0;
        net_.for_each_param_storage([&](std::size_t j, std::size_t s, std::span<scalar>, std::span<scalar> g) {
            if (!select(j, s) || g.empty()) return;
            check(cudaMemcpyAsync(g.data(), in.data() + at, g.size() * sizeof(scalar), cudaMemcpyHostToDevice,
                                  current_stream()),
                  "cudaMemcpyAsync");
            at += g.size();
        });
        // `in` may go before the copies ran: wait for them.
        check(cudaStreamSynchronize(current_stream()), "cudaStreamSynchronize");
        if (at != in.size()) throw std::logic_error("deblur::cuda::Trainer: gradient sizes differ");
    }

    BlockFilter scale_filter() const {
        const std::size_t scale = options_.scale;
        return [scale](std::size_t j, std::size_t) { return j == scale; };
    }

    Net& net_;
    train::TrainerOptions options_;
    std::size_t stage_count_ = 0;
    Adadelta<scalar> optimiser_{0};
    const train::ProcessGroup* group_;
    std::vector<train::TrainingExample> batch_;  // this process's share of the step's examples
    train::BatchGradients<scalar> gradients_;
    double exchange_seconds_ = 0;
    Tensor<scalar> blurry_, kernel_, grad_;
    DeviceTensor<scalar> device_blurry_, device_grad_;
    std::int64_t step_ = 0;
    double running_mean_ = 0;
};

}  // namespace deblur::cuda
