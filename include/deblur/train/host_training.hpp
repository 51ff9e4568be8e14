#pragma once
// Trainer's device policy for a network on the CPU (train::Trainer's default;
// cuda::CudaTraining is the GPU's): what a training step does with the
// network, its gradients and the optimiser, while Trainer keeps the schedule,
// the batch, the outlier test and the exchange between processes.
//
// The examples of a batch run in parallel over OpenMP's threads, one network
// replica per thread (copies of the network, so a spatially-varying network's
// replicas keep its grid). Each example's gradient is written to its own row
// of BatchGradients, which Trainer adds in example order: the result does not
// depend on the thread count. Eigen is kept to one thread meanwhile
// (SerialEigenProducts): a product planned for two threads inside a
// one-thread region rounds differently.
#include <algorithm>
#include <cstddef>
#include <span>
#include <vector>

#include "../core/openmp.hpp"
#include "../core/tensor.hpp"
#include "../net/parameters.hpp"
#include "adadelta.hpp"
#include "batch_gradients.hpp"
#include "kernel_loss.hpp"
#include "serial_eigen_products.hpp"

namespace deblur::train {

template <class Net, class Example>
class HostTraining {
public:
    using scalar = typename Net::scalar;

    HostTraining(Net& net, std::size_t scale, const AdadeltaOptions& optimiser)
        : net_(net), scale_(scale),
          replicas_(static_cast<std::size_t>(std::max(1, omp_get_max_threads())), net),
          optimiser_(parameter_count(net, scale_filter()), optimiser) {}

    Net& net() { return net_; }

    // Stages of the trained scale.
    std::size_t stage_count() const {
        std::size_t count = 0;
        net_.for_each_param_block([&](std::size_t j, std::size_t s, auto, auto) {
            if (j == scale_) count = std::max(count, s + 1);
        });
        return count;
    }
    std::size_t gradient_count(const BlockFilter& learns) const { return parameter_count(net_, learns); }

    // Losses of `batch` (examples first, first + 1, ... of the global batch of
    // batch_size) into `gradients`, and the gradients of the learning blocks
    // of those that used(i) accepts (the mean over the global batch).
    template <class Used>
    void example_gradients(std::span<const Example> batch, std::size_t first, std::size_t batch_size,
                           std::size_t active, const BlockFilter& learns, const Used& used,
                           BatchGradients<scalar>& gradients) {
        const auto blurry = [&](std::size_t i) -> const auto& { return batch[i - first].blurry; };
        on_replicas(first, first + batch.size(), active, blurry,
                    [&](Net& replica, std::size_t i, const Tensor<scalar>& input, Tensor<scalar>& grad) {
                        gradients.set_loss(i, kernel_loss(replica.kernel(), batch[i - first].kernel, &grad));
                        if (!used(i)) return;
                        zero_gradients(replica);
                        grad *= scalar(1) / static_cast<scalar>(batch_size);
                        replica.backward(input, grad, false);
                        copy_gradients(replica, gradients.gradient(i), learns);
                    });
    }

    // Kernel losses of examples [first, last) into losses[first, last).
    void validation_losses(std::span<const Example> examples, std::size_t first, std::size_t last, std::size_t active,
                           std::vector<double>& losses) {
        const auto blurry = [&](std::size_t i) -> const auto& { return examples[i].blurry; };
        on_replicas(first, last, active, blurry, [&](Net& replica, std::size_t i, const Tensor<scalar>&, Tensor<scalar>&) {
            losses[i] = kernel_loss(replica.kernel(), examples[i].kernel, nullptr);
        });
    }

    // One ADADELTA step with the summed gradient of the learning blocks. The
    // optimiser keeps state for every parameter of the scale; a zero gradient
    // gives a zero update, so frozen stages stay put.
    void step(const std::vector<scalar>& total, const BlockFilter& learns) {
        std::vector<scalar> params, grads;
        get_parameters(net_, params, scale_filter());
        expand_to_scale(total, learns, grads);
        optimiser_.step(params, grads);
        set_parameters<Net, scalar>(net_, params, scale_filter());
    }

    void set_active_stages(std::size_t active) { net_.set_active_stages(scale_, active); }

    std::span<const scalar> optimiser_state() const { return optimiser_.state(); }
    std::size_t optimiser_state_size() const { return optimiser_.state().size(); }
    void set_optimiser_state(const std::vector<scalar>& state, std::size_t step) { optimiser_.set_state(state, step); }

private:
    BlockFilter scale_filter() const {
        const std::size_t scale = scale_;
        return [scale](std::size_t j, std::size_t) { return j == scale; };
    }

    // Gradients of the learning blocks, placed in a vector over the whole scale (zeros elsewhere).
    void expand_to_scale(const std::vector<scalar>& learning, const BlockFilter& learns, std::vector<scalar>& out) {
        out.clear();
        std::size_t at = 0;
        net_.for_each_param_block([&](std::size_t j, std::size_t s, auto p, auto) {
            if (j != scale_) return;
            for (std::size_t i = 0; i < p.size(); ++i) out.push_back(learns(j, s) ? learning[at++] : scalar(0));
        });
    }

    // For i in [begin, end), spread over OpenMP's threads: the thread's replica
    // (the network's parameters, `active` stages) runs forward on blurry(i),
    // then body(replica, i, that input, a scratch tensor of the thread).
    template <class Blurry, class Body>
    void on_replicas(std::size_t begin, std::size_t end, std::size_t active, const Blurry& blurry, const Body& body) {
        std::vector<scalar> master;
        get_parameters(net_, master);
        const SerialEigenProducts serial_products;
DEBLUR_OMP(omp parallel)
        {
            Net& replica = replicas_[static_cast<std::size_t>(omp_get_thread_num())];
            set_parameters<Net, scalar>(replica, master);
            replica.set_active_stages(scale_, active);
            Tensor<scalar> input, scratch;
DEBLUR_OMP(omp for schedule(dynamic, 1))
            for (std::ptrdiff_t i = static_cast<std::ptrdiff_t>(begin); i < static_cast<std::ptrdiff_t>(end); ++i) {
                const auto& image = blurry(static_cast<std::size_t>(i));
                resize(input, 1, image.shape(0), image.shape(1));
                std::copy(image.begin(), image.end(), input.begin());
                replica.forward(input, scale_);
                body(replica, static_cast<std::size_t>(i), input, scratch);
            }
        }
    }

    Net& net_;
    std::size_t scale_;
    std::vector<Net> replicas_;
    Adadelta<scalar> optimiser_;
};

}  // namespace deblur::train
