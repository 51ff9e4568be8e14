#pragma once
// main() of the CUDA tests: without a CUDA device they print why and exit
// with 77, which CTest reports as "skipped" (SKIP_RETURN_CODE). Include first,
// in exactly one file per test program.
#define DOCTEST_CONFIG_IMPLEMENT
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <deblur/cuda/error.cuh>

#include <cstdio>

int main(int argc, char** argv) {
    if (!deblur::cuda::device_available()) {
        std::printf("no CUDA device: GPU tests skipped\n");
        return 77;
    }
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess)
        std::printf("CUDA device 0: %s (compute capability %d.%d)\n", prop.name, prop.major, prop.minor);
    doctest::Context context(argc, argv);
    return context.run();
}
