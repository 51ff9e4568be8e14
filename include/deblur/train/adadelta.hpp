#pragma once
// ADADELTA (M. D. Zeiler, "ADADELTA: An Adaptive Learning Rate Method", 2012),
// the optimiser of Section 3.3 ("learning rate 0.01, decay rate 0.95").
//
// Per parameter, with rho = decay:
//   E[g^2]  <- rho E[g^2]  + (1 - rho) g^2
//   dx       = -sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) * g
//   E[dx^2] <- rho E[dx^2] + (1 - rho) dx^2
//   x       <- x + learning_rate * dx
// Zeiler's algorithm has no learning rate; like most toolboxes (Caffe's
// AdaDelta with base_lr) we multiply the step by one and keep the running
// average of the *unscaled* dx, so learning_rate = 1 is the paper's method.
// epsilon defaults to Zeiler's 1e-6: it sets the size of the first steps
// (about learning_rate * sqrt(eps / (1 - rho)) per parameter) and keeps the
// quotient finite where a gradient is always zero.
//
// The running averages are the whole state: `state()` / `set_state()` save and
// restore them so a resumed training run continues exactly.
#include <cmath>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace deblur::train {

struct AdadeltaOptions {
    double learning_rate = 0.01;
    double decay = 0.95;  // rho, the weight of the past in the running averages
    double epsilon = 1e-6;
};

template <class T>
class Adadelta {
    static_assert(std::is_floating_point_v<T>, "deblur::train::Adadelta: T must be a floating-point type");

public:
    using scalar = T;

    explicit Adadelta(std::size_t parameter_count, AdadeltaOptions options = {})
        : options_(options), state_(2 * parameter_count, T(0)), n_(parameter_count) {
        if (!(options.learning_rate >= 0) || !std::isfinite(options.learning_rate))
            throw std::invalid_argument("deblur::train::Adadelta: learning_rate must be finite and >= 0");
        if (!(options.decay >= 0 && options.decay < 1))
            throw std::invalid_argument("deblur::train::Adadelta: decay must be in [0, 1)");
        if (!(options.epsilon > 0) || !std::isfinite(options.epsilon))
            throw std::invalid_argument("deblur::train::Adadelta: epsilon must be finite and > 0");
    }

    std::size_t size() const { return n_; }
    const AdadeltaOptions& options() const { return options_; }
    // Lowering the learning rate mid-training (a schedule) keeps the averages.
    void set_learning_rate(double lr) {
        if (!(lr >= 0) || !std::isfinite(lr))
            throw std::invalid_argument("deblur::train::Adadelta: learning_rate must be finite and >= 0");
        options_.learning_rate = lr;
    }

    // One update of `params` with `grads` (the gradient of the loss). A
    // non-finite gradient throws before anything changes, so one bad example
    // cannot poison the running averages.
    void step(std::span<T> params, std::span<const T> grads) {
        if (params.size() != n_ || grads.size() != n_)
            throw std::invalid_argument("deblur::train::Adadelta: expected " + std::to_string(n_) +
                                        " parameters and gradients, got " + std::to_string(params.size()) + " and " +
                                        std::to_string(grads.size()));
        for (const T g : grads)
            if (!std::isfinite(g)) throw std::invalid_argument("deblur::train::Adadelta: non-finite gradient");
        const T rho = T(options_.decay), one_minus_rho = T(1 - options_.decay);
        const T eps = T(options_.epsilon), lr = T(options_.learning_rate);
        T* mean_g2 = state_.data();
        T* mean_dx2 = state_.data() + n_;
        for (std::size_t i = 0; i < n_; ++i) {
            const T g = grads[i];
            mean_g2[i] = rho * mean_g2[i] + one_minus_rho * g * g;
            const T dx = -std::sqrt(mean_dx2[i] + eps) / std::sqrt(mean_g2[i] + eps) * g;
            mean_dx2[i] = rho * mean_dx2[i] + one_minus_rho * dx * dx;
            params[i] += lr * dx;
        }
        ++steps_;
    }

    // Number of steps taken (restored by set_state).
    std::size_t steps() const { return steps_; }

    // The running averages, E[g^2] for every parameter followed by E[dx^2].
    std::span<const T> state() const { return state_; }
    void set_state(std::span<const T> state, std::size_t steps_taken = 0) {
        if (state.size() != state_.size())
            throw std::invalid_argument("deblur::train::Adadelta: state has " + std::to_string(state.size()) +
                                        " values, expected " + std::to_string(state_.size()));
        for (const T v : state)
            if (!(v >= 0) || !std::isfinite(v))
                throw std::invalid_argument("deblur::train::Adadelta: state values must be finite and >= 0");
        state_.assign(state.begin(), state.end());
        steps_ = steps_taken;
    }

    // Forget the history (e.g. when parameters are added for a new stage).
    void reset() {
        state_.assign(state_.size(), T(0));
        steps_ = 0;
    }

private:
    AdadeltaOptions options_;
    std::vector<T> state_;
    std::size_t n_;
    std::size_t steps_ = 0;
};

}  // namespace deblur::train
