#pragma once
// The CUDA backend of deblur, all of it (nvcc translation units only; CMake
// target deblur::cuda). What it covers: deblur/cuda/cuda_exec.cuh.
#include "blas.cuh"
#include "conv.cuh"
#include "cuda_exec.cuh"
#include "cufft.cuh"
#include "device_buffer.cuh"
#include "device_params.cuh"
#include "device_tensor.cuh"
#include "error.cuh"
#include "for_each_index.cuh"
#include "host_layer.cuh"
#include "recombine.cuh"
#include "stream_scope.cuh"
#include "tanh.cuh"
#include "transfer.cuh"
#include "unsupported.cuh"
