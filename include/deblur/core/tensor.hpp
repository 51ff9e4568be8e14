#pragma once
// Images and feature maps are C x H x W tensors (channel, row, column), row-major.
#include <algorithm>
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

// The element-wise steps that composites (Stage, Scale) need, written for
// host tensors here and for device tensors in deblur/cuda/device_tensor.cuh
// (found by argument-dependent lookup), so one composite runs on either.

// Every value 0.
template <class T>
void zero_fill(Tensor<T>& t) {
    t.fill(T(0));
}

// dst's values [offset, offset + src.size()) = src's values (channel stacking).
template <class T>
void copy_into(const Tensor<T>& src, Tensor<T>& dst, std::size_t offset) {
    std::copy(src.data(), src.data() + src.size(), dst.data() + offset);
}

// dst += src's values [offset, offset + dst.size()) (one channel's gradient).
template <class T>
void add_from(const Tensor<T>& src, std::size_t offset, Tensor<T>& dst) {
    const T* g = src.data() + offset;
    T* out = dst.data();
    for (std::size_t i = 0; i < dst.size(); ++i) out[i] += g[i];
}

}  // namespace deblur
