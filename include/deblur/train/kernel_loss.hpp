#pragma once
// The training loss: the sum of squared differences between the estimated
// kernels (P x K x K; P = 1 for a uniform network, one per patch for a field)
// and the true ones (any shape of the same size, same order), divided by P:
// the mean over the local kernels, so that the loss, the outlier threshold and
// the validation figures read as one kernel's error whatever the grid (and
// ADADELTA does not care for a constant factor). Writes its gradient when
// `grad` is given.
#include <cstddef>
#include <stdexcept>
#include <type_traits>

#include "../core/tensor.hpp"

namespace deblur::train {

template <class T, class Truth>
double kernel_loss(const Tensor<T>& estimate, const Truth& truth, std::type_identity_t<Tensor<T>>* grad) {
    if (estimate.size() != truth.size()) throw std::invalid_argument("deblur::train: kernel sizes differ");
    if (grad) resize(*grad, estimate.shape(0), estimate.shape(1), estimate.shape(2));
    const double patches = static_cast<double>(estimate.shape(0));  // exact division by 1 when uniform
    double loss = 0;
    for (std::size_t i = 0; i < truth.size(); ++i) {
        const double d = double(estimate.data()[i]) - double(truth.data()[i]);
        loss += d * d;
        if (grad) grad->data()[i] = static_cast<T>(2 * d / patches);
    }
    return loss / patches;
}

}  // namespace deblur::train
