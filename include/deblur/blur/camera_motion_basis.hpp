#pragma once
// The camera-motion basis of spatially-varying blur (Hirsch, Schuler,
// Harmeling & Schoelkopf, ICCV 2011) and the projection of a kernel field onto
// it, Eq. (9) of the paper's Section 5.3:
//
//     k_est = B T_eta(mu),   mu = the non-negative coefficients that fit k_direct.
//
// Model. A camera that, during the exposure, spends the fraction w_j of the
// time in pose j of a CameraPoseGrid (camera_pose_grid.hpp) blurs the sharp
// image into sum_j w_j (x moved by pose j). Around the centre q_p of patch p of
// an EFFGrid the pose moves the image by d_j(q_p), so the local kernel is
//
//     k_p = sum_j w_j delta(d_j(q_p)),
//
// each delta rasterised bilinearly into the Kh x Kw support at the position
// (Kh/2 + d_row, Kw/2 + d_col) of the convolution convention of blur.hpp
// (kernel origin at (Kh/2, Kw/2); a delta image convolved with k gives k, so
// a point of the sharp image appears displaced by d). B : w -> (k_p) is linear,
// with one column per pose and at most four taps per (pose, patch); taps that
// fall outside the support are dropped (the kernel model cannot see them), so
// a pose that moves some patch by more than the support holds contributes
// less than 1 there. Bilinear rasterisation puts the centre of mass of each
// delta exactly at d while the four taps are inside.
//
// Storage: B is kept sparse, by pose (column): the flat field index
// (p * Kh + a) * Kw + b and the weight of every non-zero tap, at most
// 4 * poses * patches entries (216 k taps, 2.6 MB in double, for the default
// grid of K = 17 on 4 x 4 patches: 4335 poses). apply (B w) scatters, adjoint
// (B^T k) gathers; both touch each stored tap once (about 0.1 ms each there;
// building the basis about 30 ms, a projection of 200 iterations about 35 ms).
//
// Projection (`project`), in three steps:
//   1. fit: mu = argmin_{w >= 0} ||B w - k||^2 by accelerated projected
//      gradient (FISTA with the projection onto w >= 0 and gradient-based
//      adaptive restart, O'Donoghue & Candes 2015) for a fixed number of
//      iterations, step 1/L with L >= ||B^T B|| (computed once, see below),
//      starting from the best non-negative multiple of B^T k. Why not an
//      active-set NNLS (Lawson-Hanson): it solves a dense least-squares
//      problem on the active set at every step, hopeless with thousands of
//      poses; projected gradient needs only the two sparse products, and a
//      fixed iteration count gives a fixed cost per call (the residual of the
//      fit, not w itself, is what matters: neighbouring poses give nearly
//      the same kernels, so w is ill-determined but B w converges fast).
//      The paper writes mu = sum_r (B^(r))^T k_direct^(r), the adjoint alone;
//      that smears the motion over all overlapping poses (B is far from
//      orthogonal), so the coefficients are fitted instead. `adjoint` gives
//      the paper's literal mu.
//   2. T_eta (Eq. 9): keep the ceil(eta * poses) coefficients of largest
//      magnitude, set the rest to zero (ties broken by the lower pose index).
//      eta = 1 keeps all; the paper shows eta = 0.0314. T_eta is what
//      removes noise: with eta = 1 only w >= 0 constrains the fit, which
//      then keeps the positive part of the noise spread over the support, and
//      after normalisation that mass dims the true taps (measured for a
//      5-pose trajectory, K = 17 on 4 x 4 patches, noise of 10 % of the
//      field's norm: 13 % error with eta = 1, 4 % with eta = 0.01).
//   3. k = B T_eta(mu), each kernel normalised to sum 1. A kernel with no
//      positive mass left (no kept pose reaches that patch's support) becomes
//      the delta at the origin, and is counted in Projection::empty_patches.
//
// L: B^T B has non-negative entries, so a few power iterations from the
// all-ones vector v give the Collatz-Wielandt bound
// L = max_i (B^T B v)_i / v_i >= ||B^T B||, an upper bound at every iteration
// (over the poses with taps; the others are decoupled zeros).
//
// The basis is immutable after construction; its const members may be called
// from several threads at once.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "../core/tensor.hpp"
#include "camera_pose_grid.hpp"
#include "eff_grid.hpp"

namespace deblur {

template <class T>
class CameraMotionBasis {
    static_assert(std::is_floating_point_v<T>, "deblur::CameraMotionBasis: the scalar type must be float or double");

public:
    using scalar = T;

    struct Projection {
        std::vector<T> coefficients;  // T_eta(mu), one per pose
        Tensor<T> kernels;            // B T_eta(mu), each kernel summing to 1
        std::size_t kept = 0;         // coefficients T_eta kept (ceil(eta * poses))
        std::size_t empty_patches = 0;  // kernels with no mass left, set to the delta at the origin
        double fit_residual = 0;      // ||B mu - k|| / ||k|| of step 1, before T_eta and normalisation
    };

    CameraMotionBasis(const EFFGrid& grid, const CameraPoseGrid& poses, std::size_t kernel_rows,
                      std::size_t kernel_cols)
        : grid_(grid), poses_(poses), kh_(kernel_rows), kw_(kernel_cols) {
        if (kh_ == 0 || kw_ == 0) throw std::invalid_argument("deblur::CameraMotionBasis: empty kernel");
        const std::size_t n_field = grid.patches() * kh_ * kw_;
        if (n_field > std::numeric_limits<std::uint32_t>::max())
            throw std::invalid_argument("deblur::CameraMotionBasis: the kernel field is too large (" +
                                        std::to_string(n_field) + " values)");
        build();
        lipschitz_ = lipschitz_bound(20);
    }

    const EFFGrid& grid() const { return grid_; }
    const CameraPoseGrid& poses() const { return poses_; }
    std::size_t size() const { return poses_.size(); }  // number of poses (coefficients)
    std::size_t patches() const { return grid_.patches(); }
    std::size_t kernel_rows() const { return kh_; }
    std::size_t kernel_cols() const { return kw_; }
    std::size_t stored_taps() const { return index_.size(); }
    // The step constant L >= ||B^T B|| of the fit.
    double lipschitz() const { return lipschitz_; }

    // k = B w: w has size() entries; k is resized to patches() x Kh x Kw if needed.
    void apply(const std::vector<T>& w, Tensor<T>& k) const {
        check_coefficients(w, "apply");
        resize(k, patches(), kh_, kw_);
        k.fill(T(0));
        T* kd = k.data();
        for (std::size_t j = 0; j < size(); ++j) {
            const T wj = w[j];
            if (wj == T(0)) continue;
            for (std::size_t e = begin_[j]; e < begin_[j + 1]; ++e) kd[index_[e]] += wj * weight_[e];
        }
    }
    Tensor<T> apply(const std::vector<T>& w) const {
        Tensor<T> k;
        apply(w, k);
        return k;
    }

    // w = B^T k: k is patches() x Kh x Kw; w is resized to size().
    void adjoint(const Tensor<T>& k, std::vector<T>& w) const {
        check_field(k, "adjoint");
        w.resize(size());
        const T* kd = k.data();
        for (std::size_t j = 0; j < size(); ++j) {
            T s = T(0);
            for (std::size_t e = begin_[j]; e < begin_[j + 1]; ++e) s += weight_[e] * kd[index_[e]];
            w[j] = s;
        }
    }
    std::vector<T> adjoint(const Tensor<T>& k) const {
        std::vector<T> w;
        adjoint(k, w);
        return w;
    }

    // Step 1: mu = argmin_{w >= 0} ||B w - k||^2, `iterations` FISTA steps (see the header comment).
    std::vector<T> fit(const Tensor<T>& k, std::size_t iterations = 200) const {
        check_field(k, "fit");
        for (const T v : k)
            if (!std::isfinite(v))
                throw std::invalid_argument("deblur::CameraMotionBasis: fit: the kernel field holds a non-finite value");
        const std::size_t n = size();
        std::vector<T> w = adjoint(k);
        for (T& v : w) v = std::max(v, T(0));
        // The best multiple alpha w: alpha = <B w, k> / ||B w||^2.
        Tensor<T> bw = apply(w);
        const double num = dot(bw, k), den = dot(bw, bw);
        const T alpha = den > 0 ? static_cast<T>(num / den) : T(0);
        for (T& v : w) v *= alpha;
        if (!(lipschitz_ > 0)) return w;  // no pose reaches any support: B = 0
        const T step = static_cast<T>(1.0 / lipschitz_);
        std::vector<T> y = w, w_new(n), g(n);
        Tensor<T> r;
        double t = 1;
        for (std::size_t it = 0; it < iterations; ++it) {
            apply(y, r);
            r -= k;
            adjoint(r, g);
            double restart = 0;  // <gradient at y, w_new - w>: > 0 means the momentum points uphill
            for (std::size_t j = 0; j < n; ++j) {
                w_new[j] = std::max(T(0), y[j] - step * g[j]);
                restart += static_cast<double>(g[j]) * static_cast<double>(w_new[j] - w[j]);
            }
            if (restart > 0) t = 1;
            const double t_new = 0.5 * (1.0 + std::sqrt(1.0 + 4.0 * t * t));
            const T beta = static_cast<T>((t - 1.0) / t_new);
            for (std::size_t j = 0; j < n; ++j) {
                y[j] = w_new[j] + beta * (w_new[j] - w[j]);
                w[j] = w_new[j];
            }
            t = t_new;
        }
        return w;
    }

    // Step 2: T_eta keeps the ceil(eta * size) entries of largest magnitude (ties: lower index first).
    static std::vector<T> threshold(const std::vector<T>& w, double eta) {
        if (!(eta > 0.0 && eta <= 1.0))
            throw std::invalid_argument("deblur::CameraMotionBasis: eta must lie in (0, 1], got " +
                                        std::to_string(eta));
        const std::size_t keep = kept_count(w.size(), eta);
        std::vector<std::size_t> order(w.size());
        std::iota(order.begin(), order.end(), std::size_t(0));
        const auto larger = [&](std::size_t a, std::size_t b) {
            const T ma = std::abs(w[a]), mb = std::abs(w[b]);
            return ma > mb || (ma == mb && a < b);
        };
        std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(keep), order.end(), larger);
        std::vector<T> out(w.size(), T(0));
        for (std::size_t i = 0; i < keep; ++i) out[order[i]] = w[order[i]];
        return out;
    }
    static std::size_t kept_count(std::size_t n, double eta) {
        const auto keep = static_cast<std::size_t>(std::ceil(eta * static_cast<double>(n) - 1e-9));
        return std::min(n, std::max<std::size_t>(keep, n > 0 ? 1 : 0));
    }

    // Step 3: each kernel divided by its sum; a kernel whose sum is not positive
    // becomes the delta at the origin (Kh/2, Kw/2). Returns the number of those.
    std::size_t normalise(Tensor<T>& k) const {
        check_field(k, "normalise");
        std::size_t empty = 0;
        const std::size_t kk = kh_ * kw_;
        for (std::size_t p = 0; p < patches(); ++p) {
            T* kp = k.data() + p * kk;
            double s = 0;
            for (std::size_t i = 0; i < kk; ++i) s += kp[i];
            if (s > 0 && std::isfinite(s)) {
                const T inv = static_cast<T>(1.0 / s);
                for (std::size_t i = 0; i < kk; ++i) kp[i] *= inv;
            } else {
                std::fill(kp, kp + kk, T(0));
                kp[(kh_ / 2) * kw_ + kw_ / 2] = T(1);
                ++empty;
            }
        }
        return empty;
    }

    // Eq. (9): fit, T_eta, re-evaluate and normalise.
    Projection project(const Tensor<T>& k, double eta = 1.0, std::size_t iterations = 200) const {
        if (!(eta > 0.0 && eta <= 1.0))
            throw std::invalid_argument("deblur::CameraMotionBasis: eta must lie in (0, 1], got " +
                                        std::to_string(eta));
        Projection out;
        const std::vector<T> mu = fit(k, iterations);
        apply(mu, out.kernels);
        const double norm_k = std::sqrt(dot(k, k));
        Tensor<T> diff = out.kernels - k;
        out.fit_residual = norm_k > 0 ? std::sqrt(dot(diff, diff)) / norm_k : 0.0;
        out.coefficients = threshold(mu, eta);
        out.kept = kept_count(size(), eta);
        apply(out.coefficients, out.kernels);
        out.empty_patches = normalise(out.kernels);
        return out;
    }

private:
    void check_coefficients(const std::vector<T>& w, const char* what) const {
        if (w.size() != size())
            throw std::invalid_argument(std::string("deblur::CameraMotionBasis: ") + what + ": expected " +
                                        std::to_string(size()) + " coefficients (one per pose), got " +
                                        std::to_string(w.size()));
    }

    void check_field(const Tensor<T>& k, const char* what) const {
        if (k.shape(0) != patches() || k.shape(1) != kh_ || k.shape(2) != kw_)
            throw std::invalid_argument(std::string("deblur::CameraMotionBasis: ") + what +
                                        ": the kernel field must be " + std::to_string(patches()) + " x " +
                                        std::to_string(kh_) + "x" + std::to_string(kw_) + ", got " +
                                        std::to_string(k.shape(0)) + " x " + std::to_string(k.shape(1)) + "x" +
                                        std::to_string(k.shape(2)));
    }

    static double dot(const Tensor<T>& a, const Tensor<T>& b) {
        double s = 0;
        for (std::size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a.data()[i]) * static_cast<double>(b.data()[i]);
        return s;
    }

    void build() {
        const std::size_t n = poses_.size(), np = patches();
        const auto H = static_cast<std::ptrdiff_t>(kh_), W = static_cast<std::ptrdiff_t>(kw_);
        begin_.assign(1, 0);
        begin_.reserve(n + 1);
        index_.reserve(4 * n * np);
        weight_.reserve(4 * n * np);
        for (std::size_t j = 0; j < n; ++j) {
            const CameraPoseGrid::Pose pose = poses_.pose(j);
            for (std::size_t p = 0; p < np; ++p) {
                const auto [dr, dc] =
                    poses_.displacement(pose, grid_.row_centre(grid_.grid_row(p)), grid_.col_centre(grid_.grid_col(p)));
                const double pr = static_cast<double>(kh_ / 2) + dr, pc = static_cast<double>(kw_ / 2) + dc;
                // Far outside: no tap (and no overflow in the conversion below).
                if (!(pr > -1.0 && pr < static_cast<double>(kh_) && pc > -1.0 && pc < static_cast<double>(kw_)))
                    continue;
                const double fr0 = std::floor(pr), fc0 = std::floor(pc);
                const double fr = pr - fr0, fc = pc - fc0;
                const auto r0 = static_cast<std::ptrdiff_t>(fr0), c0 = static_cast<std::ptrdiff_t>(fc0);
                const double wr[2] = {1.0 - fr, fr}, wc[2] = {1.0 - fc, fc};
                for (std::ptrdiff_t a = 0; a < 2; ++a)
                    for (std::ptrdiff_t b = 0; b < 2; ++b) {
                        const std::ptrdiff_t r = r0 + a, c = c0 + b;
                        const double v = wr[a] * wc[b];
                        if (v == 0.0 || r < 0 || r >= H || c < 0 || c >= W) continue;
                        index_.push_back(static_cast<std::uint32_t>((p * kh_ + static_cast<std::size_t>(r)) * kw_ +
                                                                    static_cast<std::size_t>(c)));
                        weight_.push_back(static_cast<T>(v));
                    }
            }
            begin_.push_back(index_.size());
        }
        index_.shrink_to_fit();
        weight_.shrink_to_fit();
    }

    // Collatz-Wielandt upper bound on ||B^T B|| after `iterations` power steps (header comment).
    double lipschitz_bound(std::size_t iterations) const {
        const std::size_t n = size();
        std::vector<double> v(n), mv(n), field(patches() * kh_ * kw_);
        for (std::size_t j = 0; j < n; ++j) v[j] = begin_[j + 1] > begin_[j] ? 1.0 : 0.0;
        double bound = 0;
        for (std::size_t it = 0; it <= iterations; ++it) {
            std::fill(field.begin(), field.end(), 0.0);
            for (std::size_t j = 0; j < n; ++j)
                for (std::size_t e = begin_[j]; e < begin_[j + 1]; ++e)
                    field[index_[e]] += v[j] * static_cast<double>(weight_[e]);
            double top = 0;
            bound = 0;
            for (std::size_t j = 0; j < n; ++j) {
                double s = 0;
                for (std::size_t e = begin_[j]; e < begin_[j + 1]; ++e)
                    s += static_cast<double>(weight_[e]) * field[index_[e]];
                mv[j] = s;
                if (v[j] > 0) bound = std::max(bound, s / v[j]);
                top = std::max(top, s);
            }
            if (!(top > 0)) return 0.0;
            for (std::size_t j = 0; j < n; ++j) v[j] = mv[j] / top;
        }
        return bound * (1.0 + 1e-6);  // rounding margin
    }

    EFFGrid grid_;
    CameraPoseGrid poses_;
    std::size_t kh_, kw_;
    std::vector<std::size_t> begin_;    // taps of pose j: [begin_[j], begin_[j + 1])
    std::vector<std::uint32_t> index_;  // flat field index (p * Kh + a) * Kw + b
    std::vector<T> weight_;             // bilinear weight
    double lipschitz_ = 0;
};

}  // namespace deblur
