#pragma once
// OpenMP is optional: built without it (no -fopenmp), the library runs on
// one thread, and these stand-ins answer the few OpenMP queries it makes as
// a one-thread team would.
#ifdef _OPENMP
#include <omp.h>
#else
inline int omp_get_max_threads() { return 1; }
inline int omp_get_num_threads() { return 1; }
inline int omp_get_thread_num() { return 0; }
inline int omp_in_parallel() { return 0; }
inline void omp_set_num_threads(int) {}
#endif
