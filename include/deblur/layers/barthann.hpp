#pragma once
// The Barthann (Bartlett-Hann) window, symmetric form as in
// scipy.signal.windows.barthann:
//
//   w(n) = 0.62 - 0.48 |f| + 0.38 cos(2 pi f),   f = n / (N - 1) - 1/2,
//
// which is 1 in the middle and exactly 0 at both ends. The quotient layers
// weight their input maps with the separable 2-D window w(r) w(c) so that the
// maps fade to zero at the borders: this hides the wrap-around that the
// Fourier-domain (circular) solution would otherwise see there.
#include <cmath>
#include <cstddef>
#include <numbers>
#include <vector>

namespace deblur {

// Entry n of the length-`length` window (a single sample is 1).
inline double barthann(std::size_t length, std::size_t n) {
    if (length <= 1) return 1.0;
    const double f = static_cast<double>(n) / static_cast<double>(length - 1) - 0.5;
    const double w = 0.62 - 0.48 * std::abs(f) + 0.38 * std::cos(2.0 * std::numbers::pi * f);
    return w > 0.0 ? w : 0.0;  // the end points evaluate to -1e-17, not 0
}

// The separable 2-D window of one map size. It is recomputed only when the size
// changes, so a layer that keeps one as a member does no work on repeated calls.
template <class T>
class BarthannWindow2D {
public:
    void resize(std::size_t rows, std::size_t cols) {
        if (rows == row_.size() && cols == col_.size()) return;
        row_.resize(rows);
        col_.resize(cols);
        for (std::size_t r = 0; r < rows; ++r) row_[r] = static_cast<T>(barthann(rows, r));
        for (std::size_t c = 0; c < cols; ++c) col_[c] = static_cast<T>(barthann(cols, c));
    }

    std::size_t rows() const { return row_.size(); }
    std::size_t cols() const { return col_.size(); }
    T row(std::size_t r) const { return row_[r]; }
    T col(std::size_t c) const { return col_[c]; }
    T operator()(std::size_t r, std::size_t c) const { return row_[r] * col_[c]; }

private:
    std::vector<T> row_, col_;
};

}  // namespace deblur
