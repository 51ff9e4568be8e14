#pragma once
// Random camera-shake kernels, as in Section 3.3 of the paper: the x- and
// y-coordinates of a trajectory are two independent draws from a Gaussian
// process on t in [0, 1] with the Matern nu = 3/2 covariance
//
//     k(t, t') = sigma_f^2 (1 + sqrt(3) |t - t'| / l) exp(-sqrt(3) |t - t'| / l),
//
// l = 0.3, sigma_f = 1/4, scaled to the kernel size, rasterised, centred by
// its centre of mass and normalised to sum 1.
//
// Scaling rule (the paper only says "scaled to a fixed blur kernel size"):
// one unit of GP coordinate is `extent` * (K - 1) pixels, so with sigma_f = 1/4
// the +-2 sigma_f band [-1/2, 1/2] spans the K x K support and trajectories
// vary in length like the GP does. A trajectory that would reach closer than
// one pixel to the border (after centring) is shrunk until it fits, so no
// mass is ever clipped. `fill_support` instead scales every trajectory to
// that largest size.
//
// Rasterisation: the trajectory is sampled at `samples` times, joined by line
// segments, and each segment is cut into pieces of at most 1/4 pixel whose
// midpoints are splatted bilinearly with weight proportional to their share
// of time (the shutter is open uniformly in time, so slow parts get more
// mass). Bilinear splatting preserves the first moment exactly, so the kernel's
// centre of mass is the trajectory's time-average, which is placed exactly on
// the origin (K/2, K/2): the centroid is centred to rounding error.
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>
#include <xtensor/xtensor.hpp>

namespace deblur {

struct MotionKernelOptions {
    double length_scale = 0.3;  // l of the Matern covariance, in units of the exposure time
    double sigma_f = 0.25;      // signal standard deviation of each coordinate
    int samples = 128;          // points of the trajectory on [0, 1]
    double extent = 1.0;        // pixels per GP unit, as a fraction of K - 1 (ignored when fill_support)
    bool fill_support = false;  // scale every trajectory to the largest size that fits
};

class MotionKernelSampler {
public:
    explicit MotionKernelSampler(MotionKernelOptions options = {}) : options_(options) {
        if (!(options.length_scale > 0) || !(options.sigma_f > 0) || !(options.extent > 0) ||
            !std::isfinite(options.length_scale) || !std::isfinite(options.sigma_f) || !std::isfinite(options.extent))
            throw std::invalid_argument("deblur::MotionKernelSampler: length_scale, sigma_f and extent must be positive");
        if (options.samples < 2)
            throw std::invalid_argument("deblur::MotionKernelSampler: needs at least 2 trajectory samples");
        const int n = options.samples;
        covariance_.resize(n, n);
        for (int i = 0; i < n; ++i)
            for (int j = 0; j < n; ++j) covariance_(i, j) = matern32(time(i) - time(j));
        // Matern 3/2 on a dense grid is ill-conditioned: add the smallest diagonal
        // jitter that makes the Cholesky factorisation succeed.
        const double var = options.sigma_f * options.sigma_f;
        for (double jitter = 1e-10;; jitter *= 10) {
            if (factorise(jitter * var)) break;
            if (jitter > 1e-3) throw std::runtime_error("deblur::MotionKernelSampler: covariance is not positive definite");
        }
    }

    const MotionKernelOptions& options() const { return options_; }
    double time(int i) const { return static_cast<double>(i) / (options_.samples - 1); }

    // The covariance k(t, t') of the GP and its (jittered) Cholesky factor.
    double matern32(double dt) const {
        const double a = std::sqrt(3.0) * std::abs(dt) / options_.length_scale;
        return options_.sigma_f * options_.sigma_f * (1 + a) * std::exp(-a);
    }
    const Eigen::MatrixXd& covariance() const { return covariance_; }
    const Eigen::MatrixXd& cholesky_factor() const { return cholesky_; }

    // One trajectory in GP units: column 0 = x (horizontal), column 1 = y (vertical).
    template <class Rng>
    Eigen::MatrixX2d sample_trajectory(Rng& rng) const {
        std::normal_distribution<double> normal;
        const int n = options_.samples;
        Eigen::MatrixX2d z(n, 2), out(n, 2);
        for (int d = 0; d < 2; ++d)
            for (int i = 0; i < n; ++i) z(i, d) = normal(rng);
        // out = L z, written out (see factorise for why not an Eigen product).
        for (int i = 0; i < n; ++i)
            for (int d = 0; d < 2; ++d) {
                double s = 0;
                for (int k = 0; k <= i; ++k) s += cholesky_(i, k) * z(k, d);
                out(i, d) = s;
            }
        return out;
    }

    // A K x K kernel: non-negative, sum 1, centre of mass at (K/2, K/2).
    template <class T = float, class Rng>
    xt::xtensor<T, 2> sample(int K, Rng& rng) const {
        if (K < 3) throw std::invalid_argument("deblur::MotionKernelSampler: kernel size must be at least 3, got " + std::to_string(K));
        return rasterise<T>(sample_trajectory(rng), K);
    }

    // Rasterise a given trajectory (GP units) into a K x K kernel, as `sample` does.
    template <class T = float>
    xt::xtensor<T, 2> rasterise(const Eigen::MatrixX2d& trajectory, int K) const {
        if (K < 3) throw std::invalid_argument("deblur::MotionKernelSampler: kernel size must be at least 3, got " + std::to_string(K));
        const Eigen::Index n = trajectory.rows();
        if (n < 2) throw std::invalid_argument("deblur::MotionKernelSampler: a trajectory needs at least 2 points");
        // Time-average of the piecewise-linear path = mean of the segment midpoints.
        // (Plain loops: Eigen's vectorised reductions draw the same GCC 12 false
        // positives as noted at factorise.)
        double mean[2] = {0, 0};
        for (Eigen::Index i = 0; i + 1 < n; ++i)
            for (int d = 0; d < 2; ++d) mean[d] += 0.5 * (trajectory(i, d) + trajectory(i + 1, d));
        for (double& m : mean) m /= static_cast<double>(n - 1);
        Eigen::MatrixX2d centred(n, 2);
        double reach = 0;  // vertices bound the polyline
        for (Eigen::Index i = 0; i < n; ++i)
            for (int d = 0; d < 2; ++d) {
                centred(i, d) = trajectory(i, d) - mean[d];
                reach = std::max(reach, std::abs(centred(i, d)));
            }
        // Farthest a point may be from the origin so that its splat stays one pixel
        // inside the support on both sides (K/2 is the origin for odd and even K).
        const double radius = static_cast<double>(std::min(K / 2, K - 1 - K / 2) - 1);
        double scale = options_.fill_support ? radius / reach : options_.extent * (K - 1);
        if (!(reach > 0) || radius <= 0) scale = 0;  // a static camera: a delta kernel
        else scale = std::min(scale, radius / reach);

        std::vector<double> acc(static_cast<std::size_t>(K) * K, 0.0);
        const double origin = static_cast<double>(K / 2);
        auto splat = [&](double x, double y, double mass) {
            const double fx = std::floor(x), fy = std::floor(y);
            const double ax = x - fx, ay = y - fy;
            const auto c = static_cast<int>(fx), r = static_cast<int>(fy);
            auto add = [&](int rr, int cc, double m) {
                if (rr >= 0 && rr < K && cc >= 0 && cc < K) acc[static_cast<std::size_t>(rr) * K + cc] += m;
            };
            add(r, c, mass * (1 - ay) * (1 - ax));
            add(r, c + 1, mass * (1 - ay) * ax);
            add(r + 1, c, mass * ay * (1 - ax));
            add(r + 1, c + 1, mass * ay * ax);
        };
        const double segment_mass = 1.0 / static_cast<double>(n - 1);
        for (Eigen::Index i = 0; i + 1 < n; ++i) {
            const Eigen::RowVector2d a = centred.row(i) * scale, b = centred.row(i + 1) * scale;
            const int pieces = std::max(1, static_cast<int>(std::ceil((b - a).norm() / 0.25)));
            for (int p = 0; p < pieces; ++p) {
                const Eigen::RowVector2d m = a + (b - a) * ((p + 0.5) / pieces);
                splat(origin + m(0), origin + m(1), segment_mass / pieces);
            }
        }
        double sum = 0;
        for (double v : acc) sum += v;
        xt::xtensor<T, 2> kernel = xt::xtensor<T, 2>::from_shape({static_cast<std::size_t>(K), static_cast<std::size_t>(K)});
        for (std::size_t i = 0; i < acc.size(); ++i) kernel.data()[i] = static_cast<T>(acc[i] / sum);
        return kernel;
    }

private:
    // Plain Cholesky of covariance + jitter I into cholesky_ (lower); false when
    // not positive definite. A 128 x 128 factorisation costs nothing, and Eigen's
    // blocked LLT and GEMM kernels draw GCC 12 -Wmaybe-uninitialized false
    // positives from the AVX-512 intrinsics under -march=native.
    bool factorise(double jitter) {
        const Eigen::Index n = covariance_.rows();
        cholesky_.setZero(n, n);
        for (Eigen::Index j = 0; j < n; ++j) {
            double d = covariance_(j, j) + jitter;
            for (Eigen::Index k = 0; k < j; ++k) d -= cholesky_(j, k) * cholesky_(j, k);
            if (!(d > 0)) return false;
            const double ljj = std::sqrt(d);
            cholesky_(j, j) = ljj;
            for (Eigen::Index i = j + 1; i < n; ++i) {
                double s = covariance_(i, j);
                for (Eigen::Index k = 0; k < j; ++k) s -= cholesky_(i, k) * cholesky_(j, k);
                cholesky_(i, j) = s / ljj;
            }
        }
        return true;
    }

    MotionKernelOptions options_;
    Eigen::MatrixXd covariance_;
    Eigen::MatrixXd cholesky_;
};

}  // namespace deblur
