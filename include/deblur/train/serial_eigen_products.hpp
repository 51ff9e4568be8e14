#pragma once
// While alive, Eigen's matrix products run on the calling thread only
// (Eigen::setNbThreads(1)); afterwards Eigen's setting is as before. The
// trainers parallelise over examples: a layer's product inside that
// parallel region would otherwise pick its blocking from the process's
// OpenMP thread count (Eigen plans a parallel product even where it then
// gets one thread), and the same example would round differently under 1
// and under 2 threads. Not for concurrent use from several threads that
// each make one: Eigen's setting is one per process.
#include <Eigen/Core>

#include "../core/openmp.hpp"

namespace deblur::train {

class SerialEigenProducts {
public:
    SerialEigenProducts() : before_(Eigen::nbThreads()), automatic_(before_ == omp_get_max_threads()) {
        if (before_ != 1) Eigen::setNbThreads(1);
    }
    ~SerialEigenProducts() {
        if (before_ != 1) Eigen::setNbThreads(automatic_ ? 0 : before_);  // 0: follow OpenMP again
    }
    SerialEigenProducts(const SerialEigenProducts&) = delete;
    SerialEigenProducts& operator=(const SerialEigenProducts&) = delete;

private:
    int before_;
    bool automatic_;
};

}  // namespace deblur::train
