#pragma once
// Linear image resampling between the scales of a multi-scale network, with
// its exact adjoint for back-propagation. Each axis is a sparse matrix of
// triangle-filter weights; when shrinking, the filter is widened by the
// inverse factor so that downsampling averages (antialiasing) instead of
// aliasing. deblur/cuda/linear_resize.cuh applies the same weights to device
// tensors.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <vector>

#include "../core/tensor.hpp"

namespace deblur {

template <class T>
class LinearResize {
public:
    // Input sample `index` with weight `weight`.
    struct Tap {
        std::size_t index;
        T weight;
    };
    using Taps = std::vector<std::vector<Tap>>;

    LinearResize() = default;
    LinearResize(std::size_t in_rows, std::size_t in_cols, std::size_t out_rows, std::size_t out_cols)
        : in_rows_(in_rows), in_cols_(in_cols), out_rows_(out_rows), out_cols_(out_cols),
          rows_(weights(in_rows, out_rows)), cols_(weights(in_cols, out_cols)) {}

    std::size_t in_rows() const { return in_rows_; }
    std::size_t in_cols() const { return in_cols_; }
    std::size_t out_rows() const { return out_rows_; }
    std::size_t out_cols() const { return out_cols_; }
    // The taps of every output row (of R) and column (of C).
    const Taps& row_taps() const { return rows_; }
    const Taps& col_taps() const { return cols_; }

    // out = R in C^T for every channel.
    void apply(const Tensor<T>& in, Tensor<T>& out) {
        check(in, in_rows_, in_cols_, "input");
        resize(out, in.shape(0), out_rows_, out_cols_);
        resize(tmp_, 1, in_rows_, out_cols_);
        for (std::size_t ch = 0; ch < in.shape(0); ++ch) {
            const T* src = in.data() + ch * in_rows_ * in_cols_;
            T* dst = out.data() + ch * out_rows_ * out_cols_;
            T* tmp = tmp_.data();
            for (std::size_t r = 0; r < in_rows_; ++r)
                for (std::size_t c = 0; c < out_cols_; ++c) {
                    T s = 0;
                    for (const auto& [i, w] : cols_[c]) s += w * src[r * in_cols_ + i];
                    tmp[r * out_cols_ + c] = s;
                }
            for (std::size_t r = 0; r < out_rows_; ++r) {
                T* row = dst + r * out_cols_;
                std::fill(row, row + out_cols_, T(0));
                for (const auto& [i, w] : rows_[r])
                    for (std::size_t c = 0; c < out_cols_; ++c) row[c] += w * tmp[i * out_cols_ + c];
            }
        }
    }

    // grad_in += R^T grad_out C (the adjoint of apply).
    void adjoint_add(const Tensor<T>& grad_out, Tensor<T>& grad_in) {
        check(grad_out, out_rows_, out_cols_, "output gradient");
        check(grad_in, in_rows_, in_cols_, "input gradient");
        resize(tmp_, 1, in_rows_, out_cols_);
        for (std::size_t ch = 0; ch < grad_out.shape(0); ++ch) {
            const T* g = grad_out.data() + ch * out_rows_ * out_cols_;
            T* gi = grad_in.data() + ch * in_rows_ * in_cols_;
            T* tmp = tmp_.data();
            std::fill(tmp, tmp + in_rows_ * out_cols_, T(0));
            for (std::size_t r = 0; r < out_rows_; ++r)
                for (const auto& [i, w] : rows_[r])
                    for (std::size_t c = 0; c < out_cols_; ++c) tmp[i * out_cols_ + c] += w * g[r * out_cols_ + c];
            for (std::size_t r = 0; r < in_rows_; ++r)
                for (std::size_t c = 0; c < out_cols_; ++c)
                    for (const auto& [i, w] : cols_[c]) gi[r * in_cols_ + i] += w * tmp[r * out_cols_ + c];
        }
    }

private:
    static void check(const Tensor<T>& t, std::size_t rows, std::size_t cols, const char* what) {
        if (t.shape(1) != rows || t.shape(2) != cols)
            throw std::invalid_argument(std::string("deblur::LinearResize: ") + what + " has the wrong size");
    }

    // Weights of output sample o: a triangle filter centred on the matching
    // input position (pixel centres aligned), widened when shrinking,
    // renormalised at the borders (which replicates the edge).
    static Taps weights(std::size_t in, std::size_t out) {
        if (in == 0 || out == 0) throw std::invalid_argument("deblur::LinearResize: empty image");
        Taps taps(out);
        const double scale = static_cast<double>(in) / static_cast<double>(out);
        const double support = std::max(1.0, scale);
        for (std::size_t o = 0; o < out; ++o) {
            const double centre = (static_cast<double>(o) + 0.5) * scale - 0.5;
            const auto lo = static_cast<long>(std::floor(centre - support));
            const auto hi = static_cast<long>(std::ceil(centre + support));
            double total = 0;
            for (long i = lo; i <= hi; ++i) {
                const double w = std::max(0.0, 1.0 - std::abs(static_cast<double>(i) - centre) / support);
                if (w <= 0) continue;
                const auto idx = static_cast<std::size_t>(std::clamp<long>(i, 0, static_cast<long>(in) - 1));
                taps[o].push_back({idx, static_cast<T>(w)});
                total += w;
            }
            for (auto& t : taps[o]) t.weight = static_cast<T>(t.weight / total);
        }
        return taps;
    }

    std::size_t in_rows_ = 0, in_cols_ = 0, out_rows_ = 0, out_cols_ = 0;
    Taps rows_, cols_;
    Tensor<T> tmp_;
};

// The resampler of a tensor type (MultiScale's): LinearResize for host
// tensors; deblur/cuda/linear_resize.cuh adds device tensors.
template <class TensorType>
struct linear_resize_for;
template <class T>
struct linear_resize_for<Tensor<T>> {
    using type = LinearResize<T>;
};

}  // namespace deblur
