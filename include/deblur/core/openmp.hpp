#pragma once
// OpenMP is optional: built without it (no -fopenmp), the library runs on
// one thread, these stand-ins answer the few OpenMP queries it makes as a
// one-thread team would, and DEBLUR_OMP(omp ...) drops its directives
// (written as a macro so that a build without OpenMP has no unknown pragmas).
#ifdef _OPENMP
#include <omp.h>
#define DEBLUR_OMP(directive) _Pragma(#directive)
#else
#define DEBLUR_OMP(directive)
inline int omp_get_max_threads() { return 1; }
inline int omp_get_num_threads() { return 1; }
inline int omp_get_num_procs() { return 1; }
inline int omp_get_thread_num() { return 0; }
inline int omp_in_parallel() { return 0; }
inline void omp_set_num_threads(int) {}
#endif
