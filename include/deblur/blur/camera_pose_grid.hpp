#pragma once
// A grid of camera poses for spatially-varying camera-shake blur (the motion
// basis of Hirsch, Schuler, Harmeling & Schoelkopf, ICCV 2011, which the
// paper's Section 5.3 projects its local kernels onto): in-plane translations
// and an in-plane rotation, the grid being the product of three axes
//
//     tx in translations_x, ty in translations_y, theta in rotations.
//
// A pose moves the image point q = (row, col) to
//
//     q' = R(theta) (q - centre) + centre + (ty, tx),
//
// rotating in (x = col - centre_col, y = row - centre_row) coordinates by
//
//     x' = cos(theta) x - sin(theta) y,   y' = sin(theta) x + cos(theta) y.
//
// Rows point down, so a positive theta turns the image clockwise as displayed
// (a point right of the centre moves down). tx, ty are in pixels (columns,
// rows), theta in radians. The displacement of q is d(q) = q' - q; the camera
// motion basis (camera_motion_basis.hpp) turns it into local kernels.
//
// Pose j of the grid is (tx[a], ty[b], theta[c]) with
// j = (c * translations_y().size() + b) * translations_x().size() + a
// (the x translation fastest, the rotation slowest).
//
// The default grid for a kernel size Kh x Kw on an EFFGrid (`for_kernel`):
//   - translations: every integer displacement that the Kh x Kw support can
//     hold around its origin (Kh/2, Kw/2), i.e. ty in [-(Kh/2), Kh-1-Kh/2] and
//     tx in [-(Kw/2), Kw-1-Kw/2] in 1 px steps (-8..8 for K = 17, -8..7 for
//     K = 16). Whole pixels make a pure translation a single tap, the exact
//     basis of a uniform blur kernel; finer steps add nothing that bilinear
//     combinations of neighbours cannot represent (a fractional translation's
//     bilinear raster is exactly such a combination).
//   - rotations: symmetric about 0, up to the angle theta_max that moves the
//     image corner farthest from the centre by h = (min(Kh, Kw) - 1) / 2 px,
//     rounded down (the largest displacement the support holds in every
//     direction): the chord 2 R_corner sin(theta_max / 2) = h. Larger angles
//     would move the corners beyond the support. The step is the angle that
//     moves the patch centre farthest from the centre (R_patch) by about 1 px,
//     2 R_patch sin(step / 2) <= 1, chosen as theta_max / n with n the
//     smallest whole number of steps per side that satisfies it: at the patch
//     centres, where the basis samples the motion, neighbouring rotations
//     then differ by at most one pixel, like neighbouring translations. A
//     grid whose only patch centre is the rotation centre has no rotations
//     but 0 (they would not change any kernel).
// For K = 17 on a 4 x 4 grid over 256 x 256 pixels: 17 x 17 translations and
// 15 rotations (+-0.0444 rad in steps of 0.0063, 0.86 px at the farthest
// patch centre), 4335 poses.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "eff_grid.hpp"

namespace deblur {

class CameraPoseGrid {
public:
    struct Pose {
        double tx, ty, theta;  // columns, rows (pixels); radians
    };

    // The product grid of the three axes, rotating about (centre_row, centre_col).
    CameraPoseGrid(std::vector<double> translations_x, std::vector<double> translations_y,
                   std::vector<double> rotations, double centre_row, double centre_col)
        : tx_(std::move(translations_x)),
          ty_(std::move(translations_y)),
          theta_(std::move(rotations)),
          centre_row_(centre_row),
          centre_col_(centre_col) {
        check_axis(tx_, "translations_x");
        check_axis(ty_, "translations_y");
        check_axis(theta_, "rotations");
        if (!std::isfinite(centre_row) || !std::isfinite(centre_col))
            throw std::invalid_argument("deblur::CameraPoseGrid: the rotation centre must be finite");
    }

    // The default grid for Kh x Kw kernels on `grid` (see the header comment),
    // rotating about the image centre ((rows - 1) / 2, (cols - 1) / 2).
    static CameraPoseGrid for_kernel(const EFFGrid& grid, std::size_t kernel_rows, std::size_t kernel_cols) {
        if (kernel_rows == 0 || kernel_cols == 0)
            throw std::invalid_argument("deblur::CameraPoseGrid: empty kernel");
        const double cr = 0.5 * (static_cast<double>(grid.rows()) - 1.0);
        const double cc = 0.5 * (static_cast<double>(grid.cols()) - 1.0);
        double r_patch = 0;
        for (std::size_t i = 0; i < grid.grid_rows(); ++i)
            for (std::size_t j = 0; j < grid.grid_cols(); ++j)
                r_patch = std::max(r_patch, std::hypot(grid.row_centre(i) - cr, grid.col_centre(j) - cc));
        const double r_corner = std::hypot(cr, cc);
        const double h = std::floor(0.5 * (static_cast<double>(std::min(kernel_rows, kernel_cols)) - 1.0));
        std::vector<double> rotations{0.0};
        if (r_patch > 1e-9 && h > 0) {
            const double theta_max = 2.0 * std::asin(std::min(1.0, h / (2.0 * r_corner)));
            const double step_max = 2.0 * std::asin(std::min(1.0, 1.0 / (2.0 * r_patch)));
            const auto n = static_cast<std::size_t>(std::ceil(theta_max / step_max - 1e-9));
            rotations = axis(n, theta_max / static_cast<double>(n));
        }
        return CameraPoseGrid(translation_axis(kernel_cols), translation_axis(kernel_rows), std::move(rotations), cr,
                              cc);
    }

    std::size_t size() const { return tx_.size() * ty_.size() * theta_.size(); }
    const std::vector<double>& translations_x() const { return tx_; }
    const std::vector<double>& translations_y() const { return ty_; }
    const std::vector<double>& rotations() const { return theta_; }
    double centre_row() const { return centre_row_; }
    double centre_col() const { return centre_col_; }

    // Pose j (x translation fastest, rotation slowest), and the index of (a, b, c).
    Pose pose(std::size_t j) const {
        if (j >= size())
            throw std::out_of_range("deblur::CameraPoseGrid: pose " + std::to_string(j) + " of " +
                                    std::to_string(size()));
        const std::size_t a = j % tx_.size(), b = (j / tx_.size()) % ty_.size(), c = j / (tx_.size() * ty_.size());
        return {tx_[a], ty_[b], theta_[c]};
    }
    std::size_t index(std::size_t a, std::size_t b, std::size_t c) const { return (c * ty_.size() + b) * tx_.size() + a; }
    // Index of the rotation axis entry of pose j.
    std::size_t rotation_index(std::size_t j) const { return j / (tx_.size() * ty_.size()); }

    // The displacement (rows, cols) that pose p gives the image point (row, col).
    std::pair<double, double> displacement(const Pose& p, double row, double col) const {
        const double x = col - centre_col_, y = row - centre_row_;
        const double c = std::cos(p.theta), s = std::sin(p.theta);
        return {s * x + (c - 1.0) * y + p.ty, (c - 1.0) * x - s * y + p.tx};
    }

private:
    static void check_axis(const std::vector<double>& v, const char* what) {
        if (v.empty()) throw std::invalid_argument(std::string("deblur::CameraPoseGrid: ") + what + " is empty");
        for (double t : v)
            if (!std::isfinite(t))
                throw std::invalid_argument(std::string("deblur::CameraPoseGrid: ") + what +
                                            " holds a non-finite value");
    }

    // Integer displacements the support of size k holds around its origin k/2.
    static std::vector<double> translation_axis(std::size_t k) {
        std::vector<double> v;
        const auto lo = -static_cast<double>(k / 2);
        for (std::size_t i = 0; i < k; ++i) v.push_back(lo + static_cast<double>(i));
        return v;
    }

    // -n..n times step.
    static std::vector<double> axis(std::size_t n, double step) {
        std::vector<double> v;
        for (std::size_t i = 0; i <= 2 * n; ++i)
            v.push_back((static_cast<double>(i) - static_cast<double>(n)) * step);
        return v;
    }

    std::vector<double> tx_, ty_, theta_;
    double centre_row_, centre_col_;
};

}  // namespace deblur
