#pragma once
// DeviceTensor<T>: a C x H x W tensor (channel, row, column; row-major, the
// layout of deblur::Tensor) in GPU memory. What the CUDA layers take and
// return; deblur/cuda/transfer.cuh copies to and from host tensors.
#include <array>
#include <cstddef>

#include "device_buffer.cuh"
#include "error.cuh"
#include "for_each_index.cuh"
#include "stream_scope.cuh"

namespace deblur::cuda {

template <class T>
class DeviceTensor {
public:
    using value_type = T;
    using shape_type = std::array<std::size_t, 3>;

    DeviceTensor() = default;
    DeviceTensor(std::size_t channels, std::size_t rows, std::size_t cols) { resize(channels, rows, cols); }

    // Reuses the allocation when it is large enough; contents are then unspecified.
    void resize(std::size_t channels, std::size_t rows, std::size_t cols) {
        shape_ = {channels, rows, cols};
        buffer_.resize(channels * rows * cols);
    }

    const shape_type& shape() const { return shape_; }
    std::size_t shape(std::size_t axis) const { return shape_[axis]; }
    std::size_t size() const { return buffer_.size(); }
    T* data() { return buffer_.data(); }
    const T* data() const { return buffer_.data(); }
    DeviceBuffer<T>& buffer() { return buffer_; }
    const DeviceBuffer<T>& buffer() const { return buffer_; }

    void zero() { buffer_.zero(); }

private:
    shape_type shape_{0, 0, 0};
    DeviceBuffer<T> buffer_;
};

// deblur::resize, zero_fill, copy_into and add_from (deblur/core/tensor.hpp)
// for device tensors, found by argument-dependent lookup, so the composites
// (Chain, Stage, Scale) run unchanged on them. Asynchronous, on current_stream().
template <class T>
void resize(DeviceTensor<T>& t, std::size_t channels, std::size_t rows, std::size_t cols) {
    if (t.shape(0) != channels || t.shape(1) != rows || t.shape(2) != cols) t.resize(channels, rows, cols);
}

template <class T>
void zero_fill(DeviceTensor<T>& t) {
    t.zero();
}

// dst's values [offset, offset + src.size()) = src's values.
template <class T>
void copy_into(const DeviceTensor<T>& src, DeviceTensor<T>& dst, std::size_t offset) {
    if (src.size() == 0) return;
    check(cudaMemcpyAsync(dst.data() + offset, src.data(), src.size() * sizeof(T), cudaMemcpyDeviceToDevice,
                          current_stream()),
          "cudaMemcpyAsync (copy_into)");
}

namespace detail {
template <class T>
struct AddValues {
    const T* src;
    T* dst;
    __device__ void operator()(std::size_t i) const { dst[i] += src[i]; }
};
}  // namespace detail

// dst += src's values [offset, offset + dst.size()).
template <class T>
void add_from(const DeviceTensor<T>& src, std::size_t offset, DeviceTensor<T>& dst) {
    for_each_index(dst.size(), detail::AddValues<T>{src.data() + offset, dst.data()});
}

}  // namespace deblur::cuda
