#pragma once
// The CUDA backend of deblur: layers, networks' pieces and the optimiser
// (nvcc translation units only; CMake target deblur::cuda). What it covers:
// deblur/cuda/cuda_exec.cuh. The pipeline's GPU network estimate
// (network_estimator.cuh) and the GPU trainer (trainer.cuh) are included
// separately, as the CPU pipeline and trainer are.
#include "adadelta.cuh"
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
#include "image_quotient.cuh"
#include "linear_resize.cuh"
#include "quotient.cuh"
#include "recombine.cuh"
#include "spectral.cuh"
#include "stream_scope.cuh"
#include "tanh.cuh"
#include "transfer.cuh"
#include "unsupported.cuh"
