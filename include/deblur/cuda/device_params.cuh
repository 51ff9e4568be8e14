#pragma once
// DeviceParams<T>: a layer's parameters and their gradients in GPU memory,
// with the host accessors of the layer protocol (copies). Used by the CUDA
// Conv and Recombine.
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "device_buffer.cuh"

namespace deblur::cuda {

template <class T>
class DeviceParams {
public:
    // Uploads initial values; the gradients start at zero.
    void assign(const std::vector<T>& host) {
        params_.upload(host.data(), host.size());
        grads_.resize(host.size());
        grads_.zero();
    }

    std::size_t size() const { return params_.size(); }
    // Device memory.
    std::span<T> params() { return {params_.data(), params_.size()}; }
    std::span<T> grads() { return {grads_.data(), grads_.size()}; }
    const T* params_data() const { return params_.data(); }
    T* grads_data() { return grads_.data(); }

    // Host copies (get_* wait for the current stream).
    void get_params(std::span<T> dst, const char* who) const {
        check_size(dst.size(), who, "get_params");
        params_.download(dst.data());
    }
    void set_params(std::span<const T> src, const char* who) {
        check_size(src.size(), who, "set_params");
        params_.upload(src.data(), src.size());
    }
    void get_grads(std::span<T> dst, const char* who) const {
        check_size(dst.size(), who, "get_param_grads");
        grads_.download(dst.data());
    }
    void set_grads(std::span<const T> src, const char* who) {
        check_size(src.size(), who, "set_param_grads");
        grads_.upload(src.data(), src.size());
    }
    void zero_grads() { grads_.zero(); }

private:
    void check_size(std::size_t n, const char* who, const char* where) const {
        if (n != params_.size())
            throw std::invalid_argument(std::string(who) + "::" + where + ": expected " +
                                        std::to_string(params_.size()) + " values, got " + std::to_string(n));
    }

    DeviceBuffer<T> params_;
    DeviceBuffer<T> grads_;
};

}  // namespace deblur::cuda
