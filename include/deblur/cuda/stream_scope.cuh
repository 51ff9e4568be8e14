#pragma once
// The CUDA stream that deblur's device work of the calling thread goes to.
//
// Every CUDA layer, CuFft and Blas enqueue on `current_stream()` of the
// calling host thread (initially the default stream, 0). A StreamScope sets
// it for its lifetime:
//
//   cudaStream_t s; cudaStreamCreate(&s);
//   { deblur::cuda::StreamScope on(s); layer.forward(in, out); }
//
// Work is asynchronous: results are ready after cudaStreamSynchronize(s) or a
// download (DeviceBuffer::download synchronises). A layer object owns scratch
// buffers, so one layer object must not be used on two streams at once (as a
// CPU layer object must not be used by two threads at once).
#include <cuda_runtime.h>

namespace deblur::cuda {

namespace detail {
inline cudaStream_t& thread_stream() {
    thread_local cudaStream_t stream = nullptr;
    return stream;
}
}  // namespace detail

inline cudaStream_t current_stream() { return detail::thread_stream(); }

class StreamScope {
public:
    explicit StreamScope(cudaStream_t stream) : saved_(detail::thread_stream()) { detail::thread_stream() = stream; }
    ~StreamScope() { detail::thread_stream() = saved_; }
    StreamScope(const StreamScope&) = delete;
    StreamScope& operator=(const StreamScope&) = delete;

private:
    cudaStream_t saved_;
};

}  // namespace deblur::cuda
