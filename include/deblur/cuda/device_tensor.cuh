#pragma once
// DeviceTensor<T>: a C x H x W tensor (channel, row, column; row-major, the
// layout of deblur::Tensor) in GPU memory. What the CUDA layers take and
// return; deblur/cuda/transfer.cuh copies to and from host tensors.
#include <array>
#include <cstddef>

#include "device_buffer.cuh"

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

// deblur::resize for device tensors (found by argument-dependent lookup).
template <class T>
void resize(DeviceTensor<T>& t, std::size_t channels, std::size_t rows, std::size_t cols) {
    if (t.shape(0) != channels || t.shape(1) != rows || t.shape(2) != cols) t.resize(channels, rows, cols);
}

}  // namespace deblur::cuda
