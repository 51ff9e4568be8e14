#pragma once
// The patch grid of the efficient filter flow (EFF) model (Hirsch, Sra,
// Schoelkopf & Harmeling, CVPR 2010): an H x W image is covered by a regular
// grid of grid_rows x grid_cols overlapping patches, each with a window, and
// the windows sum to one at every pixel (a partition of unity), so that
//
//     x = sum_p w_p . x    (. the pixel-wise product).
//
// The windows are separable, w_p(r, c) = u_i(r) v_j(c) for the patch
// p = i * grid_cols + j, and each 1-D family sums to one on its own. Along an
// axis of length L with n patches the patch centres are the cell centres
//
//     t_i = (i + 1/2) L / n - 1/2,   spacing s = L / n,
//
// and u_i(t) = shape(|t - t_i| / s) for |t - t_i| < s, zero beyond, with the
// outermost windows held at 1 between their centre and the image border
// (nothing else covers those pixels). Shapes:
//   - hann (default): shape(d) = cos^2(pi d / 2), smooth (C^1);
//   - bartlett:       shape(d) = 1 - d, the tent of linear interpolation.
// Adjacent windows overlap by one cell (50 %), so at any pixel at most two
// windows per axis (four patches) are non-zero. Both shapes sum to one
// analytically (cos^2 + sin^2, (1 - d) + d); the stored values are divided by
// their computed sum so that the partition holds to rounding.
//
// Patch i covers the rows where u_i > 0, [row_begin(i), row_end(i)): about
// 2L/n rows inside, 1.5L/n at the borders.
#include <cmath>
#include <cstddef>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

namespace deblur {

class EFFGrid {
public:
    enum class Window { hann, bartlett };

    EFFGrid(std::size_t rows, std::size_t cols, std::size_t grid_rows, std::size_t grid_cols,
            Window window = Window::hann)
        : rows_(rows), cols_(cols), grid_rows_(grid_rows), grid_cols_(grid_cols), window_(window) {
        if (rows == 0 || cols == 0) throw std::invalid_argument("deblur::EFFGrid: empty image");
        if (grid_rows == 0 || grid_cols == 0)
            throw std::invalid_argument("deblur::EFFGrid: the grid needs at least one patch per axis");
        if (grid_rows > rows || grid_cols > cols)
            throw std::invalid_argument("deblur::EFFGrid: a " + std::to_string(grid_rows) + " x " +
                                        std::to_string(grid_cols) + " grid does not fit a " + std::to_string(rows) +
                                        " x " + std::to_string(cols) + " image (at most one patch per pixel)");
        rows_axis_ = make_axis(rows, grid_rows, window);
        cols_axis_ = make_axis(cols, grid_cols, window);
    }

    std::size_t rows() const { return rows_; }
    std::size_t cols() const { return cols_; }
    std::size_t grid_rows() const { return grid_rows_; }
    std::size_t grid_cols() const { return grid_cols_; }
    std::size_t patches() const { return grid_rows_ * grid_cols_; }
    Window window() const { return window_; }

    // Patch index p of grid cell (i, j), and back.
    std::size_t patch(std::size_t i, std::size_t j) const { return i * grid_cols_ + j; }
    std::size_t grid_row(std::size_t p) const { return p / grid_cols_; }
    std::size_t grid_col(std::size_t p) const { return p % grid_cols_; }

    // Extent of grid row i ([row_begin, row_end)) and grid column j.
    std::size_t row_begin(std::size_t i) const { return rows_axis_.begin.at(i); }
    std::size_t row_end(std::size_t i) const { return rows_axis_.end.at(i); }
    std::size_t col_begin(std::size_t j) const { return cols_axis_.begin.at(j); }
    std::size_t col_end(std::size_t j) const { return cols_axis_.end.at(j); }
    // The largest patch (in rows, in columns).
    std::size_t max_patch_rows() const { return rows_axis_.max_extent; }
    std::size_t max_patch_cols() const { return cols_axis_.max_extent; }

    // Centre of grid row i / column j in pixel coordinates (may be fractional).
    double row_centre(std::size_t i) const { return centre(rows_, grid_rows_, i); }
    double col_centre(std::size_t j) const { return centre(cols_, grid_cols_, j); }

    // 1-D windows: u_i(r) and v_j(c), zero outside the patch's extent.
    double row_weight(std::size_t i, std::size_t r) const { return rows_axis_.weight(i, r); }
    double col_weight(std::size_t j, std::size_t c) const { return cols_axis_.weight(j, c); }
    // The 2-D window of patch p at pixel (r, c).
    double weight(std::size_t p, std::size_t r, std::size_t c) const {
        return row_weight(grid_row(p), r) * col_weight(grid_col(p), c);
    }
    // The window values of grid row i over its extent (row_end - row_begin values), likewise columns.
    const std::vector<double>& row_window(std::size_t i) const { return rows_axis_.values.at(i); }
    const std::vector<double>& col_window(std::size_t j) const { return cols_axis_.values.at(j); }

    friend bool operator==(const EFFGrid& a, const EFFGrid& b) {
        return a.rows_ == b.rows_ && a.cols_ == b.cols_ && a.grid_rows_ == b.grid_rows_ &&
               a.grid_cols_ == b.grid_cols_ && a.window_ == b.window_;
    }

private:
    struct Axis {
        std::vector<std::size_t> begin, end;
        std::vector<std::vector<double>> values;  // per patch, over [begin, end)
        std::size_t max_extent = 0;

        double weight(std::size_t i, std::size_t t) const {
            if (t < begin.at(i) || t >= end[i]) return 0.0;
            return values[i][t - begin[i]];
        }
    };

    static double centre(std::size_t length, std::size_t n, std::size_t i) {
        return (static_cast<double>(i) + 0.5) * static_cast<double>(length) / static_cast<double>(n) - 0.5;
    }

    static Axis make_axis(std::size_t length, std::size_t n, Window window) {
        const double s = static_cast<double>(length) / static_cast<double>(n);
        auto raw = [&](std::size_t i, std::size_t t) {
            const double tt = static_cast<double>(t), ci = centre(length, n, i);
            if ((i == 0 && tt <= ci) || (i + 1 == n && tt >= ci)) return 1.0;
            const double d = std::abs(tt - ci) / s;
            if (d >= 1.0) return 0.0;
            if (window == Window::bartlett) return 1.0 - d;
            const double cs = std::cos(0.5 * std::numbers::pi * d);
            return cs * cs;
        };
        // Values for every (patch, pixel), normalised per pixel; then each patch's extent.
        std::vector<double> all(n * length);
        for (std::size_t t = 0; t < length; ++t) {
            double sum = 0;
            for (std::size_t i = 0; i < n; ++i) sum += all[i * length + t] = raw(i, t);
            for (std::size_t i = 0; i < n; ++i) all[i * length + t] /= sum;  // sum > 0: the nearest centre is < s away
        }
        Axis a;
        a.begin.resize(n);
        a.end.resize(n);
        a.values.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            const double* u = all.data() + i * length;
            std::size_t b = 0, e = length;
            while (b < length && u[b] == 0.0) ++b;
            while (e > b && u[e - 1] == 0.0) --e;
            a.begin[i] = b;
            a.end[i] = e;
            a.values[i].assign(u + b, u + e);
            if (e - b > a.max_extent) a.max_extent = e - b;
        }
        return a;
    }

    std::size_t rows_, cols_, grid_rows_, grid_cols_;
    Window window_;
    Axis rows_axis_, cols_axis_;
};

}  // namespace deblur
