#pragma once
// Images and feature maps are C x H x W tensors (channel, row, column), row-major.
#include <cstddef>
#include <xtensor/xtensor.hpp>

namespace deblur {

template <class T>
using Tensor = xt::xtensor<T, 3>;

// A tensor of the given shape, every value `value`.
template <class T>
Tensor<T> make_tensor(std::size_t channels, std::size_t rows, std::size_t cols, T value = T(0)) {
    Tensor<T> t = Tensor<T>::from_shape({channels, rows, cols});
    t.fill(value);
    return t;
}

// Resize `t` to the shape (reusing its memory when the size does not change).
template <class T>
void resize(Tensor<T>& t, std::size_t channels, std::size_t rows, std::size_t cols) {
    if (t.shape(0) != channels || t.shape(1) != rows || t.shape(2) != cols) t.resize({channels, rows, cols});
}

}  // namespace deblur
