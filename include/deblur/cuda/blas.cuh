#pragma once
// Blas: the cuBLAS calls the CUDA layers need (column-major GEMM and GEMV in
// float and double), on one cuBLAS handle per host thread, enqueued on
// current_stream(). Row-major C x P feature maps are column-major P x C
// matrices with leading dimension P; the layers' comments give the mapping.
#include <cublas_v2.h>

#include "error.cuh"
#include "stream_scope.cuh"

namespace deblur::cuda {

class Blas {
public:
    // The calling thread's handle, bound to current_stream().
    static cublasHandle_t handle() {
        thread_local Handle h;
        check(cublasSetStream(h.get(), current_stream()), "cublasSetStream");
        return h.get();
    }

    // C = alpha op(A) op(B) + beta C, column-major; op(A) is m x k, op(B) k x n.
    static void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                     const float* b, int ldb, float beta, float* c, int ldc) {
        check(cublasSgemm(handle(), op(trans_a), op(trans_b), m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc),
              "cublasSgemm");
    }
    static void gemm(bool trans_a, bool trans_b, int m, int n, int k, double alpha, const double* a, int lda,
                     const double* b, int ldb, double beta, double* c, int ldc) {
        check(cublasDgemm(handle(), op(trans_a), op(trans_b), m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc),
              "cublasDgemm");
    }

    // y = alpha op(A) x + beta y, column-major A of m x n (as stored).
    static void gemv(bool trans_a, int m, int n, float alpha, const float* a, int lda, const float* x, float beta,
                     float* y) {
        check(cublasSgemv(handle(), op(trans_a), m, n, &alpha, a, lda, x, 1, &beta, y, 1), "cublasSgemv");
    }
    static void gemv(bool trans_a, int m, int n, double alpha, const double* a, int lda, const double* x,
                     double beta, double* y) {
        check(cublasDgemv(handle(), op(trans_a), m, n, &alpha, a, lda, x, 1, &beta, y, 1), "cublasDgemv");
    }

private:
    static cublasOperation_t op(bool trans) { return trans ? CUBLAS_OP_T : CUBLAS_OP_N; }

    // Created on a thread's first call, destroyed when the thread ends (the
    // main thread's before static destructors, so the runtime is still up).
    class Handle {
    public:
        Handle() {
            check(cublasCreate(&handle_), "cublasCreate");
            // alpha/beta are host scalars; results are deterministic without atomics.
            check(cublasSetPointerMode(handle_, CUBLAS_POINTER_MODE_HOST), "cublasSetPointerMode");
        }
        ~Handle() { cublasDestroy(handle_); }
        Handle(const Handle&) = delete;
        Handle& operator=(const Handle&) = delete;
        cublasHandle_t get() const { return handle_; }

    private:
        cublasHandle_t handle_ = nullptr;
    };
};

}  // namespace deblur::cuda
