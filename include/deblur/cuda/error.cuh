#pragma once
// Errors of the CUDA runtime, cuFFT and cuBLAS, as exceptions
// (deblur::cuda::Error, a std::runtime_error).
//
// The headers in deblur/cuda/ (*.cuh) compile only in nvcc translation units;
// CMake builds them only when CUDA is found (target deblur::cuda).
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cufft.h>

#include <stdexcept>
#include <string>

namespace deblur::cuda {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

inline void check(cudaError_t status, const char* what) {
    if (status != cudaSuccess)
        throw Error(std::string("deblur::cuda: ") + what + ": " + cudaGetErrorName(status) + " (" +
                    cudaGetErrorString(status) + ")");
}

inline void check(cufftResult status, const char* what) {
    if (status != CUFFT_SUCCESS)
        throw Error(std::string("deblur::cuda: ") + what + ": cuFFT error " + std::to_string(static_cast<int>(status)));
}

inline void check(cublasStatus_t status, const char* what) {
    if (status != CUBLAS_STATUS_SUCCESS)
        throw Error(std::string("deblur::cuda: ") + what + ": " + cublasGetStatusString(status));
}

// Whether a usable CUDA device is present (false without a driver, too).
inline bool device_available() {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        (void)cudaGetLastError();  // clear the sticky "no driver" error
        return false;
    }
    return count > 0;
}

// Throws Error with a clear message when device_available() is false.
inline void require_device() {
    if (!device_available()) throw Error("no CUDA device found (the driver reports none, or no driver is installed)");
}

}  // namespace deblur::cuda
