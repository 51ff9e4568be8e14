#pragma once
// DeviceLinearResize<T>: LinearResize (deblur/net/linear_resize.hpp) on device
// tensors, with the same weights and its exact adjoint; MultiScale uses it
// between the scales of a CUDA network (linear_resize_for<DeviceTensor<T>>).
//
// Each axis is a sparse matrix in compressed rows, uploaded once: R and C for
// apply (out = R in C^T), their transposes for adjoint_add (grad_in +=
// R^T grad_out C). Every output value is a gather, so there are no atomics
// and results are deterministic.
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "../net/linear_resize.hpp"
#include "device_buffer.cuh"
#include "device_tensor.cuh"
#include "for_each_index.cuh"

namespace deblur::cuda {

namespace detail {

// A sparse matrix in compressed rows on the device.
template <class T>
struct SparseRows {
    DeviceBuffer<std::size_t> offsets, index;
    DeviceBuffer<T> weight;

    void assign(const typename LinearResize<T>::Taps& rows) {
        std::vector<std::size_t> o{0}, i;
        std::vector<T> w;
        for (const auto& taps : rows) {
            for (const auto& tap : taps) {
                i.push_back(tap.index);
                w.push_back(tap.weight);
            }
            o.push_back(i.size());
        }
        offsets.upload(o.data(), o.size());
        index.upload(i.data(), i.size());
        weight.upload(w.data(), w.size());
    }
};

// The transpose of `rows` (n_in lists of (output, weight)), outputs ascending.
template <class T>
typename LinearResize<T>::Taps transpose(const typename LinearResize<T>::Taps& rows, std::size_t n_in) {
    typename LinearResize<T>::Taps t(n_in);
    for (std::size_t o = 0; o < rows.size(); ++o)
        for (const auto& tap : rows[o]) t[tap.index].push_back({o, tap.weight});
    return t;
}

// out[ch][r][c] = sum over column taps of c of w * in[ch][r][i] (in: rows x in_cols).
template <class T>
struct GatherColumns {
    const T* in;
    T* out;
    const std::size_t* offsets;
    const std::size_t* index;
    const T* weight;
    std::size_t in_cols, out_cols;
    __device__ void operator()(std::size_t idx) const {
        const std::size_t row = idx / out_cols, c = idx % out_cols;
        T s = T(0);
        for (std::size_t k = offsets[c]; k < offsets[c + 1]; ++k) s += weight[k] * in[row * in_cols + index[k]];
        out[idx] = s;
    }
};

// out[ch][r][c] = sum over row taps of r of w * in[ch][i][c] (in: in_rows x cols per channel).
template <class T>
struct GatherRows {
    const T* in;
    T* out;
    const std::size_t* offsets;
    const std::size_t* index;
    const T* weight;
    std::size_t in_rows, out_rows, cols;
    __device__ void operator()(std::size_t idx) const {
        const std::size_t ch = idx / (out_rows * cols), rest = idx % (out_rows * cols), r = rest / cols,
                          c = rest % cols;
        T s = T(0);
        for (std::size_t k = offsets[r]; k < offsets[r + 1]; ++k)
            s += weight[k] * in[(ch * in_rows + index[k]) * cols + c];
        out[idx] = s;
    }
};

}  // namespace detail

template <class T>
class DeviceLinearResize {
public:
    DeviceLinearResize() = default;
    DeviceLinearResize(std::size_t in_rows, std::size_t in_cols, std::size_t out_rows, std::size_t out_cols)
        : in_rows_(in_rows), in_cols_(in_cols), out_rows_(out_rows), out_cols_(out_cols) {
        const LinearResize<T> host(in_rows, in_cols, out_rows, out_cols);
        rows_.assign(host.row_taps());
        cols_.assign(host.col_taps());
        rows_t_.assign(detail::transpose<T>(host.row_taps(), in_rows));
        cols_t_.assign(detail::transpose<T>(host.col_taps(), in_cols));
    }

    std::size_t in_rows() const { return in_rows_; }
    std::size_t in_cols() const { return in_cols_; }
    std::size_t out_rows() const { return out_rows_; }
    std::size_t out_cols() const { return out_cols_; }

    // out = R in C^T for every channel.
    void apply(const DeviceTensor<T>& in, DeviceTensor<T>& out) {
        check(in, in_rows_, in_cols_, "input");
        const std::size_t channels = in.shape(0);
        resize(out, channels, out_rows_, out_cols_);
        tmp_.resize(channels * in_rows_ * out_cols_);
        for_each_index(tmp_.size(), detail::GatherColumns<T>{in.data(), tmp_.data(), cols_.offsets.data(),
                                                              cols_.index.data(), cols_.weight.data(), in_cols_,
                                                              out_cols_});
        for_each_index(out.size(), detail::GatherRows<T>{tmp_.data(), out.data(), rows_.offsets.data(),
                                                          rows_.index.data(), rows_.weight.data(), in_rows_,
                                                          out_rows_, out_cols_});
    }

    // grad_in += R^T grad_out C (the adjoint of apply).
    void adjoint_add(const DeviceTensor<T>& grad_out, DeviceTensor<T>& grad_in) {
        check(grad_out, out_rows_, out_cols_, "output gradient");
        check(grad_in, in_rows_, in_cols_, "input gradient");
        const std::size_t channels = grad_out.shape(0);
        tmp_.resize(channels * in_rows_ * out_cols_);
        for_each_index(tmp_.size(), detail::GatherRows<T>{grad_out.data(), tmp_.data(), rows_t_.offsets.data(),
                                                           rows_t_.index.data(), rows_t_.weight.data(), out_rows_,
                                                           in_rows_, out_cols_});
        tmp2_.resize(channels * in_rows_ * in_cols_);
        for_each_index(tmp2_.size(), detail::GatherColumns<T>{tmp_.data(), tmp2_.data(), cols_t_.offsets.data(),
                                                               cols_t_.index.data(), cols_t_.weight.data(),
                                                               out_cols_, in_cols_});
        for_each_index(grad_in.size(), detail::AddValues<T>{tmp2_.data(), grad_in.data()});
    }

private:
    static void check(const DeviceTensor<T>& t, std::size_t rows, std::size_t cols, const char* what) {
        if (t.shape(1) != rows || t.shape(2) != cols)
            throw std::invalid_argument(std::string("deblur::cuda::DeviceLinearResize: ") + what +
                                        " has the wrong size");
    }

    std::size_t in_rows_ = 0, in_cols_ = 0, out_rows_ = 0, out_cols_ = 0;
    detail::SparseRows<T> rows_, cols_, rows_t_, cols_t_;
    DeviceBuffer<T> tmp_, tmp2_;
};

}  // namespace deblur::cuda

namespace deblur {

template <class T>
struct linear_resize_for<cuda::DeviceTensor<T>> {
    using type = cuda::DeviceLinearResize<T>;
};

}  // namespace deblur
