#pragma once
// Random spatially-varying camera shake (issue 7, synthetic data): a camera
// trajectory of in-plane translations and an in-plane rotation, drawn from
// the Gaussian process of Section 3.3 (MotionKernelSampler: Matern 3/2,
// l = 0.3, sigma_f = 1/4, one draw per coordinate), and its local blur
// kernels anywhere in the image, e.g. at the patch centres of an EFF grid
// (the kernel field that EFFBlur applies).
//
// Geometry: as CameraPoseGrid (camera_pose_grid.hpp), a pose (tx, ty, theta)
// moves the image point q to R(theta) (q - centre) + centre + (ty, tx), and
// the local kernel at q is the time-average of the delta at the displacement
// d(t) = q'(t) - q, rasterised at (K/2 + d_row, K/2 + d_col) (the convolution
// convention of blur.hpp). The rotation centre is the image centre.
//
// Scaling (sizes in pixels of an image of `rows` x `cols` and K x K kernels):
//   - translation: one GP unit is `translation` * (K - 1) px, so the +-2
//     sigma_f band spans `translation` times the support (1: all of it);
//   - rotation: one GP unit is `rotation` * theta_full, theta_full being the
//     angle that moves the image corner farthest from the centre by K - 1 px
//     (1: rotation alone spans the support at the corners, none at the centre).
// The trajectory is then centred (time-averages of tx, ty, theta zero), so
// every local kernel has its centre of mass within a fraction of a pixel of
// the origin (exactly for the translation part; the rotation adds a
// second-order term, (cos theta - 1) |q - centre|), and shrunk by factors of
// 0.9 until the displacement at every image corner stays 1 px inside the
// support: no kernel anywhere in the image loses mass to the border.
//
// Rasterisation: consecutive trajectory samples are joined by straight pieces
// of at most 1/4 px at the point rendered, whose midpoints are splatted
// bilinearly with their share of the exposure time (as MotionKernelSampler).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "../core/tensor.hpp"
#include "eff_grid.hpp"
#include "motion_kernel_sampler.hpp"

namespace deblur {

struct CameraShakeOptions {
    double translation = 0.5;  // translation per GP unit, as a fraction of K - 1
    double rotation = 0.7;     // rotation per GP unit, as a fraction of the angle moving the farthest corner by K - 1
    MotionKernelOptions trajectory{};  // the GP of each coordinate (length scale, sigma_f, samples)
};

class CameraShakeSampler {
public:
    // Poses over the exposure, uniform in time; the rotation is about (centre_row, centre_col).
    struct Trajectory {
        std::vector<double> tx, ty, theta;  // columns, rows (pixels); radians
        double centre_row = 0, centre_col = 0;
        int kernel_size = 0;  // the support the trajectory was fitted into
    };

    explicit CameraShakeSampler(CameraShakeOptions options = {}) : options_(options), gp_(options.trajectory) {
        if (!(options.translation >= 0) || !(options.rotation >= 0) || !std::isfinite(options.translation) ||
            !std::isfinite(options.rotation) || !(options.translation + options.rotation > 0))
            throw std::invalid_argument(
                "deblur::CameraShakeSampler: translation and rotation must be finite, >= 0, and not both 0");
    }

    const CameraShakeOptions& options() const { return options_; }

    // A trajectory for an image of rows x cols whose local kernels fit K x K (K odd, >= 5).
    template <class Rng>
    Trajectory sample(std::size_t rows, std::size_t cols, int K, Rng& rng) const {
        if (K < 5 || K % 2 == 0)
            throw std::invalid_argument("deblur::CameraShakeSampler: the kernel size must be odd and at least 5, got " +
                                        std::to_string(K));
        if (rows == 0 || cols == 0) throw std::invalid_argument("deblur::CameraShakeSampler: empty image");
        Trajectory t;
        t.centre_row = 0.5 * (static_cast<double>(rows) - 1);
        t.centre_col = 0.5 * (static_cast<double>(cols) - 1);
        t.kernel_size = K;
        const auto xy = gp_.sample_trajectory(rng);
        const auto angle = gp_.sample_trajectory(rng);
        const double r_corner = std::max(1.0, std::hypot(t.centre_row, t.centre_col));
        const double theta_full = 2 * std::asin(std::min(1.0, (K - 1) / (2 * r_corner)));
        const double unit_t = options_.translation * (K - 1), unit_r = options_.rotation * theta_full;
        const auto n = static_cast<std::size_t>(xy.rows());
        t.tx.resize(n);
        t.ty.resize(n);
        t.theta.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            t.tx[i] = unit_t * xy(static_cast<Eigen::Index>(i), 0);
            t.ty[i] = unit_t * xy(static_cast<Eigen::Index>(i), 1);
            t.theta[i] = unit_r * angle(static_cast<Eigen::Index>(i), 0);
        }
        for (auto* v : {&t.tx, &t.ty, &t.theta}) {
            double mean = 0;
            for (double x : *v) mean += x;
            mean /= static_cast<double>(n);
            for (double& x : *v) x -= mean;
        }
        const double limit = K / 2 - 1.0;
        const double corners[4][2] = {{0, 0}, {0, double(cols - 1)}, {double(rows - 1), 0}, {double(rows - 1), double(cols - 1)}};
        for (int shrink = 0; shrink < 200; ++shrink) {
            double reach = 0;
            for (std::size_t i = 0; i < n; ++i)
                for (const auto& q : corners) {
                    const auto [dr, dc] = displacement(t, i, q[0], q[1]);
                    reach = std::max({reach, std::abs(dr), std::abs(dc)});
                }
            if (reach <= limit) return t;
            for (std::size_t i = 0; i < n; ++i) {
                t.tx[i] *= 0.9;
                t.ty[i] *= 0.9;
                t.theta[i] *= 0.9;
            }
        }
        throw std::logic_error("deblur::CameraShakeSampler: the trajectory does not shrink into the support");
    }

    // The displacement (rows, cols) of the image point (row, col) at trajectory sample i.
    static std::pair<double, double> displacement(const Trajectory& t, std::size_t i, double row, double col) {
        const double x = col - t.centre_col, y = row - t.centre_row;
        const double c = std::cos(t.theta[i]), s = std::sin(t.theta[i]);
        return {s * x + (c - 1.0) * y + t.ty[i], (c - 1.0) * x - s * y + t.tx[i]};
    }

    // The local K x K kernel at the image point (row, col): non-negative, sum 1.
    template <class T = float>
    static xt::xtensor<T, 2> kernel_at(const Trajectory& t, double row, double col, int K) {
        if (K < 3 || K % 2 == 0)
            throw std::invalid_argument("deblur::CameraShakeSampler: the kernel size must be odd and at least 3");
        if (t.tx.size() < 2) throw std::invalid_argument("deblur::CameraShakeSampler: the trajectory is empty");
        std::vector<double> k(std::size_t(K) * K, 0.0);
        const std::size_t n = t.tx.size();
        const double segment_mass = 1.0 / static_cast<double>(n - 1);
        auto splat = [&](double dr, double dc, double mass) {
            const double pr = K / 2 + dr, pc = K / 2 + dc;
            const double r0 = std::floor(pr), c0 = std::floor(pc);
            for (int a = 0; a < 2; ++a)
                for (int b = 0; b < 2; ++b) {
                    const double r = r0 + a, c = c0 + b;
                    if (r < 0 || c < 0 || r >= K || c >= K) continue;
                    const double wgt = (1 - std::abs(pr - r)) * (1 - std::abs(pc - c));
                    k[static_cast<std::size_t>(r) * K + static_cast<std::size_t>(c)] += mass * wgt;
                }
        };
        for (std::size_t i = 0; i + 1 < n; ++i) {
            const auto [r0, c0] = displacement(t, i, row, col);
            const auto [r1, c1] = displacement(t, i + 1, row, col);
            const int pieces = std::max(1, static_cast<int>(std::ceil(4 * std::hypot(r1 - r0, c1 - c0))));
            for (int p = 0; p < pieces; ++p) {
                const double f = (p + 0.5) / pieces;
                splat(r0 + f * (r1 - r0), c0 + f * (c1 - c0), segment_mass / pieces);
            }
        }
        double sum = 0;
        for (double v : k) sum += v;
        if (!(sum > 0)) throw std::invalid_argument("deblur::CameraShakeSampler: the trajectory leaves the K x K support");
        xt::xtensor<T, 2> out = xt::zeros<T>({std::size_t(K), std::size_t(K)});
        for (std::size_t i = 0; i < k.size(); ++i) out.data()[i] = static_cast<T>(k[i] / sum);
        return out;
    }

    // The kernel field at the patch centres of `grid` (patches x K x K, EFFBlur's layout).
    template <class T = float>
    static Tensor<T> kernel_field(const Trajectory& t, const EFFGrid& grid, int K) {
        Tensor<T> field = make_tensor<T>(grid.patches(), std::size_t(K), std::size_t(K));
        for (std::size_t p = 0; p < grid.patches(); ++p) {
            const auto k = kernel_at<T>(t, grid.row_centre(grid.grid_row(p)), grid.col_centre(grid.grid_col(p)), K);
            std::copy(k.begin(), k.end(), field.data() + p * std::size_t(K) * K);
        }
        return field;
    }

    // The local kernel at the point (row, col) of the BLURRY image of a 'valid'
    // blur of the trajectory's image (blur.hpp): the blurry image is K - 1 px
    // smaller, its pixel (r, c) being the sharp image's (r + K/2, c + K/2).
    template <class T = float>
    static xt::xtensor<T, 2> valid_kernel_at(const Trajectory& t, double row, double col) {
        const int K = t.kernel_size;
        return kernel_at<T>(t, row + K / 2, col + K / 2, K);
    }

    // The kernel field (patches x K x K) at the patch centres of a grid over
    // the blurry image of a 'valid' blur (what a network estimating a field on
    // that image should find).
    template <class T = float>
    static Tensor<T> valid_kernel_field(const Trajectory& t, const EFFGrid& blurry_grid) {
        const auto K = static_cast<std::size_t>(t.kernel_size);
        Tensor<T> field = make_tensor<T>(blurry_grid.patches(), K, K);
        for (std::size_t p = 0; p < blurry_grid.patches(); ++p) {
            const auto k = valid_kernel_at<T>(t, blurry_grid.row_centre(blurry_grid.grid_row(p)),
                                              blurry_grid.col_centre(blurry_grid.grid_col(p)));
            std::copy(k.begin(), k.end(), field.data() + p * K * K);
        }
        return field;
    }

private:
    CameraShakeOptions options_;
    MotionKernelSampler gp_;
};

}  // namespace deblur
