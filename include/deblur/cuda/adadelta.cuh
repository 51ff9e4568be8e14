#pragma once
// cuda::Adadelta<T>: the ADADELTA step of deblur::train::Adadelta
// (deblur/train/adadelta.hpp; same options, same update, same state layout)
// on parameters and gradients in device memory, with its running averages on
// the device too. For a CUDA network the parameters are the layers' own
// storage (MultiScale::for_each_param_storage, see blocks_of).
//
// step() waits for the device once: like the CPU optimiser it checks every
// gradient first and throws, changing nothing, if one is not finite. That is
// one host round trip per optimiser step, outside forward and backward.
#include <cmath>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "../net/parameters.hpp"
#include "../train/adadelta.hpp"
#include "device_buffer.cuh"
#include "error.cuh"
#include "for_each_index.cuh"
#include "stream_scope.cuh"

namespace deblur::cuda {

namespace detail {

template <class T>
__device__ inline T device_sqrt(T x) {
    if constexpr (sizeof(T) == sizeof(float))
        return sqrtf(x);
    else
        return sqrt(x);
}

template <class T>
struct FlagNonFinite {
    const T* grads;
    int* flag;
    __device__ void operator()(std::size_t i) const {
        if (!isfinite(grads[i])) *flag = 1;
    }
};

// The update of train::Adadelta::step, element by element.
template <class T>
struct AdadeltaUpdate {
    T* params;
    const T* grads;
    T* mean_g2;
    T* mean_dx2;
    T rho, one_minus_rho, eps, lr;
    __device__ void operator()(std::size_t i) const {
        const T g = grads[i];
        mean_g2[i] = rho * mean_g2[i] + one_minus_rho * g * g;
        const T dx = -device_sqrt(mean_dx2[i] + eps) / device_sqrt(mean_g2[i] + eps) * g;
        mean_dx2[i] = rho * mean_dx2[i] + one_minus_rho * dx * dx;
        params[i] += lr * dx;
    }
};

}  // namespace detail

template <class T>
class Adadelta {
public:
    using scalar = T;

    // A span of parameters and their gradients, both in device memory.
    struct Block {
        T* params;
        const T* grads;
        std::size_t size;
    };

    explicit Adadelta(std::size_t parameter_count, train::AdadeltaOptions options = {}) : options_(options) {
        train::Adadelta<T> validate(0, options);  // the CPU optimiser's checks and messages
        (void)validate;
        n_ = parameter_count;
        state_.resize(2 * n_);
        state_.zero();
        flag_.resize(1);
    }

    std::size_t size() const { return n_; }
    const train::AdadeltaOptions& options() const { return options_; }
    void set_learning_rate(double lr) {
        if (!(lr >= 0) || !std::isfinite(lr))
            throw std::invalid_argument("deblur::cuda::Adadelta: learning_rate must be finite and >= 0");
        options_.learning_rate = lr;
    }

    // One update of device parameters with device gradients (n values each).
    void step(std::span<T> params, std::span<const T> grads) {
        if (params.size() != grads.size())
            throw std::invalid_argument("deblur::cuda::Adadelta: parameters and gradients differ in size");
        const Block block{params.data(), grads.data(), params.size()};
        step(std::span<const Block>(&block, 1));
    }

    // One update of blocks that together are the n parameters, in order (the
    // running averages of block b follow those of block b - 1).
    void step(std::span<const Block> blocks) {
        std::size_t total = 0;
        for (const Block& b : blocks) total += b.size;
        if (total != n_)
            throw std::invalid_argument("deblur::cuda::Adadelta: expected " + std::to_string(n_) +
                                        " parameters, got " + std::to_string(total));
        flag_.zero();
        for (const Block& b : blocks) for_each_index(b.size, detail::FlagNonFinite<T>{b.grads, flag_.data()});
        int bad = 0;
        flag_.download(&bad);  // waits for the stream
        if (bad) throw std::invalid_argument("deblur::cuda::Adadelta: non-finite gradient");
        const T rho = T(options_.decay), one_minus_rho = T(1 - options_.decay);
        const T eps = T(options_.epsilon), lr = T(options_.learning_rate);
        std::size_t at = 0;
        for (const Block& b : blocks) {
            for_each_index(b.size, detail::AdadeltaUpdate<T>{b.params, b.grads, state_.data() + at,
                                                             state_.data() + n_ + at, rho, one_minus_rho, eps, lr});
            at += b.size;
        }
        ++steps_;
    }

    // The device storage of the parameter blocks of `net` that `select`
    // keeps, in for_each_param_block order (a CUDA network's layers).
    template <class Net>
    static std::vector<Block> blocks_of(Net& net, const BlockFilter& select = all_blocks) {
        std::vector<Block> blocks;
        net.for_each_param_storage([&](std::size_t j, std::size_t s, std::span<T> p, std::span<T> g) {
            if (select(j, s)) blocks.push_back({p.data(), g.data(), p.size()});
        });
        return blocks;
    }

    std::size_t steps() const { return steps_; }

    // Host copy of the running averages: E[g^2] for every parameter, then E[dx^2].
    std::vector<T> state() const {
        std::vector<T> host(state_.size());
        state_.download(host.data());
        return host;
    }
    void set_state(std::span<const T> state, std::size_t steps_taken = 0) {
        if (state.size() != 2 * n_)
            throw std::invalid_argument("deblur::cuda::Adadelta: state has " + std::to_string(state.size()) +
                                        " values, expected " + std::to_string(2 * n_));
        for (const T v : state)
            if (!(v >= 0) || !std::isfinite(v))
                throw std::invalid_argument("deblur::cuda::Adadelta: state values must be finite and >= 0");
        state_.upload(state.data(), state.size());
        steps_ = steps_taken;
    }

    void reset() {
        state_.zero();
        steps_ = 0;
    }

private:
    train::AdadeltaOptions options_;
    std::size_t n_ = 0;
    std::size_t steps_ = 0;
    DeviceBuffer<T> state_;
    DeviceBuffer<int> flag_;
};

}  // namespace deblur::cuda
