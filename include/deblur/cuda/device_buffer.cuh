#pragma once
// DeviceBuffer<T>: a contiguous array in GPU memory (RAII over cudaMalloc /
// cudaFree), the storage of DeviceTensor and of CuFft::vector.
//
// Like std::vector it grows and keeps its contents (new elements are NOT
// initialised) and never shrinks its allocation; unlike it, elements are not
// accessible from the host: use upload/download. Copies and uploads are
// enqueued on current_stream(); download() synchronises that stream.
#include <cuda_runtime.h>
#include <thrust/device_ptr.h>

#include <cstddef>
#include <utility>

#include "error.cuh"
#include "stream_scope.cuh"

namespace deblur::cuda {

template <class T>
class DeviceBuffer {
public:
    using value_type = T;

    DeviceBuffer() = default;
    explicit DeviceBuffer(std::size_t n) { resize(n); }
    ~DeviceBuffer() { release(); }

    DeviceBuffer(const DeviceBuffer& other) : DeviceBuffer(other.size_) { copy_from(other); }
    DeviceBuffer& operator=(const DeviceBuffer& other) {
        if (this != &other) {
            resize(other.size_);
            copy_from(other);
        }
        return *this;
    }
    DeviceBuffer(DeviceBuffer&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)),
          size_(std::exchange(other.size_, 0)),
          capacity_(std::exchange(other.capacity_, 0)) {}
    DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
        if (this != &other) {
            release();
            data_ = std::exchange(other.data_, nullptr);
            size_ = std::exchange(other.size_, 0);
            capacity_ = std::exchange(other.capacity_, 0);
        }
        return *this;
    }

    // Size n; the first min(n, size()) elements are kept, the others are uninitialised.
    void resize(std::size_t n) {
        if (n > capacity_) {
            T* fresh = nullptr;
            check(cudaMalloc(reinterpret_cast<void**>(&fresh), n * sizeof(T)), "cudaMalloc");
            if (size_ > 0) {
                const cudaError_t status =
                    cudaMemcpyAsync(fresh, data_, size_ * sizeof(T), cudaMemcpyDeviceToDevice, current_stream());
                if (status != cudaSuccess) {
                    cudaFree(fresh);
                    check(status, "cudaMemcpyAsync (DeviceBuffer::resize)");
                }
            }
            release();  // cudaFree waits for the copy
            data_ = fresh;
            capacity_ = n;
        }
        size_ = n;
    }

    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    T* data() { return data_; }
    const T* data() const { return data_; }
    thrust::device_ptr<T> begin() { return thrust::device_pointer_cast(data_); }
    thrust::device_ptr<T> end() { return thrust::device_pointer_cast(data_ + size_); }
    thrust::device_ptr<const T> begin() const { return thrust::device_pointer_cast(static_cast<const T*>(data_)); }
    thrust::device_ptr<const T> end() const { return thrust::device_pointer_cast(static_cast<const T*>(data_ + size_)); }

    // Resizes to n and copies n values from host memory.
    void upload(const T* host, std::size_t n) {
        resize(n);
        if (n > 0)
            check(cudaMemcpyAsync(data_, host, n * sizeof(T), cudaMemcpyHostToDevice, current_stream()),
                  "cudaMemcpyAsync (upload)");
    }

    // Copies all size() values to host memory; waits for the stream.
    void download(T* host) const {
        if (size_ == 0) return;
        check(cudaMemcpyAsync(host, data_, size_ * sizeof(T), cudaMemcpyDeviceToHost, current_stream()),
              "cudaMemcpyAsync (download)");
        check(cudaStreamSynchronize(current_stream()), "cudaStreamSynchronize (download)");
    }

    // All bytes zero (0.0 for floating point).
    void zero() {
        if (size_ > 0) check(cudaMemsetAsync(data_, 0, size_ * sizeof(T), current_stream()), "cudaMemsetAsync");
    }

private:
    void copy_from(const DeviceBuffer& other) {
        if (size_ > 0)
            check(cudaMemcpyAsync(data_, other.data_, size_ * sizeof(T), cudaMemcpyDeviceToDevice, current_stream()),
                  "cudaMemcpyAsync (DeviceBuffer copy)");
    }
    void release() noexcept {
        if (data_) cudaFree(data_);
        data_ = nullptr;
        capacity_ = 0;
        size_ = 0;
    }

    T* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
};

}  // namespace deblur::cuda
