#pragma once
// cuda::Trainer<Net>: train::Trainer (deblur/train/trainer.hpp) for a CUDA
// network such as PaperNetwork<CudaExec<float>>, with cuda::CudaTraining as its
// device policy. The same trainer, so the same stage schedule, L2 kernel loss,
// outlier rejection, and checkpoint files (model file + "DEBLUROPT2"
// optimiser state): a run checkpointed on one device resumes on the other.
// ADADELTA runs on the layers' device storage (cuda::Adadelta).
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
#include <cstddef>
#include <span>
#include <stdexcept>
#include <vector>

#include "../net/parameters.hpp"
#include "../train/batch_gradients.hpp"
#include "../train/kernel_loss.hpp"
#include "../train/trainer.hpp"
#include "../train/training_example.hpp"
#include "adadelta.cuh"
#include "transfer.cuh"

namespace deblur::cuda {

// train::Trainer's device policy for a CUDA network (see train/host_training.hpp
// for the protocol).
template <class Net>
class CudaTraining {
public:
    using scalar = typename Net::scalar;
    using Example = train::TrainingExample;

    CudaTraining(Net& net, std::size_t scale, const train::AdadeltaOptions& optimiser)
        : net_(net), scale_(scale), optimiser_(gradient_count(scale_filter()), optimiser) {}

    Net& net() { return net_; }

    // Stages of the trained scale (counted on the device storage: the host
    // view of for_each_param_block copies every block both ways).
    std::size_t stage_count() {
        std::size_t count = 0;
        net_.for_each_param_storage([&](std::size_t j, std::size_t s, auto, auto) {
            if (j == scale_) count = std::max(count, s + 1);
        });
        return count;
    }

    // Parameters in the selected blocks.
    std::size_t gradient_count(const BlockFilter& select) {
        std::size_t n = 0;
        net_.for_each_param_storage([&](std::size_t j, std::size_t s, std::span<scalar>, std::span<scalar> g) {
            if (select(j, s)) n += g.size();
        });
        return n;
    }

    // The examples one after another on the device; each one's loss and (when
    // used) its gradient, staged through the host, into `gradients`.
    template <class Used>
    void example_gradients(std::span<const Example> batch, std::size_t first, std::size_t batch_size,
                           std::size_t active, const BlockFilter& learns, const Used& used,
                           train::BatchGradients<scalar>& gradients) {
        net_.set_active_stages(scale_, active);
        for (std::size_t b = 0; b < batch.size(); ++b) {
            const std::size_t i = first + b;
            gradients.set_loss(i, forward(batch[b], &grad_));
            if (!used(i)) continue;
            zero_device_gradients();
            grad_ *= scalar(1) / static_cast<scalar>(batch_size);
            copy_to_device(grad_, device_grad_);
            net_.backward(device_blurry_, device_grad_, false);
            download_gradients(gradients.gradient(i), learns);
        }
    }

    void validation_losses(std::span<const Example> examples, std::size_t first, std::size_t last, std::size_t active,
                           std::vector<double>& losses) {
        net_.set_active_stages(scale_, active);
        for (std::size_t i = first; i < last; ++i) losses[i] = forward(examples[i], nullptr);
    }

    // The summed gradient goes up; only the learning stages of the scale move:
    // the others get a zero gradient, hence a zero ADADELTA update.
    void step(const std::vector<scalar>& total, const BlockFilter& learns) {
        zero_device_gradients();
        upload_gradients(total, learns);
        optimiser_.step(Adadelta<scalar>::blocks_of(net_, scale_filter()));
    }

    void set_active_stages(std::size_t active) { net_.set_active_stages(scale_, active); }

    std::vector<scalar> optimiser_state() const { return optimiser_.state(); }
    std::size_t optimiser_state_size() const { return 2 * optimiser_.size(); }
    void set_optimiser_state(const std::vector<scalar>& state, std::size_t step) { optimiser_.set_state(state, step); }

private:
    // Runs the network on one example; returns its kernel loss and, when
    // asked, writes the loss gradient (host) for backward.
    double forward(const Example& ex, Tensor<scalar>* grad) {
        deblur::resize(blurry_, 1, ex.blurry.shape(0), ex.blurry.shape(1));
        std::copy(ex.blurry.begin(), ex.blurry.end(), blurry_.begin());
        copy_to_device(blurry_, device_blurry_);
        net_.forward(device_blurry_, scale_);
        copy_to_host(net_.kernel(), kernel_);  // waits for the device
        return train::kernel_loss(kernel_, ex.kernel, grad);
    }

    void zero_device_gradients() {
        net_.for_each_param_storage([&](std::size_t, std::size_t, std::span<scalar>, std::span<scalar> g) {
            if (!g.empty())
                check(cudaMemsetAsync(g.data(), 0, g.size() * sizeof(scalar), current_stream()), "cudaMemsetAsync");
        });
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
        if (at != out.size()) throw std::logic_error("deblur::cuda::CudaTraining: gradient sizes differ");
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
        if (at != in.size()) throw std::logic_error("deblur::cuda::CudaTraining: gradient sizes differ");
    }

    BlockFilter scale_filter() const {
        const std::size_t scale = scale_;
        return [scale](std::size_t j, std::size_t) { return j == scale; };
    }

    Net& net_;
    std::size_t scale_;
    Adadelta<scalar> optimiser_;
    Tensor<scalar> blurry_, kernel_, grad_;
    DeviceTensor<scalar> device_blurry_, device_grad_;
};

// train::Trainer on the GPU.
template <class Net>
using Trainer = train::Trainer<Net, train::TrainingExample, CudaTraining<Net>>;

}  // namespace deblur::cuda
