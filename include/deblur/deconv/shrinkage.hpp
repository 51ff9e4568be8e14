#pragma once
// The w-subproblem of half-quadratic splitting with a hyper-Laplacian prior
// (Krishnan & Fergus, "Fast image deconvolution using hyper-Laplacian priors",
// NIPS 2009): for every gradient value v,
//
//     w*(v) = argmin_w |w|^alpha + beta/2 (w - v)^2,   0 < alpha <= 1.
//
// w* is 0 for |v| <= tau and otherwise the larger root u of the stationarity
// condition alpha u^(alpha-1) + beta (u - |v|) = 0 on (0, |v|), with the sign
// of v. The threshold tau is closed-form (Zuo et al., "A generalized iterated
// shrinkage algorithm for non-convex sparse coding", ICCV 2013):
//
//     tau = (2 (1-alpha)/beta)^(1/(2-alpha))
//           + (alpha/beta) (2 (1-alpha)/beta)^((alpha-1)/(2-alpha)).
//
// alpha = 1 is soft thresholding. For alpha = 1/2 and 2/3 the substitutions
// s = sqrt(u), resp. s = cbrt(u), turn the condition into the polynomials of
// Krishnan & Fergus,
//     alpha = 1/2:  beta s^3 - beta |v| s + 1/2 = 0,
//     alpha = 2/3:  beta s^4 - beta |v| s + 2/3 = 0,
// solved by Newton's method from s = sqrt(|v|), resp. cbrt(|v|), where the
// polynomial is positive and convex, so the iterates fall monotonically onto
// the larger root (no pow() per step; above tau the start is within a factor
// of 2 of the root, a handful of steps). Other alpha use Newton on u directly.
#include <cmath>
#include <stdexcept>

namespace deblur {

template <class T>
class HyperLaplacianShrinkage {
public:
    HyperLaplacianShrinkage(double alpha, double beta) : alpha_(alpha), beta_(beta) {
        if (!(alpha > 0 && alpha <= 1)) throw std::invalid_argument("deblur::HyperLaplacianShrinkage: alpha must be in (0, 1]");
        if (!(beta > 0) || !std::isfinite(beta)) throw std::invalid_argument("deblur::HyperLaplacianShrinkage: beta must be positive");
        if (alpha == 1) kind_ = Kind::soft;
        else if (std::abs(alpha - 0.5) < 1e-12) kind_ = Kind::half;
        else if (std::abs(alpha - 2.0 / 3.0) < 1e-12) kind_ = Kind::two_thirds;
        else kind_ = Kind::general;
        const double lam = 1 / beta;
        if (kind_ == Kind::soft) threshold_ = lam;
        else {
            const double base = 2 * lam * (1 - alpha);
            threshold_ = std::pow(base, 1 / (2 - alpha)) + lam * alpha * std::pow(base, (alpha - 1) / (2 - alpha));
        }
    }

    double alpha() const { return alpha_; }
    double beta() const { return beta_; }
    // |v| at or below which the minimiser is 0.
    double threshold() const { return threshold_; }

    T operator()(T v) const {
        const double u = magnitude(std::abs(static_cast<double>(v)));
        return static_cast<T>(v < T(0) ? -u : u);
    }

    // |w*| for |v| = a >= 0 (NaN gives 0).
    double magnitude(double a) const { return a > threshold_ ? larger_root(a) : 0.0; }

    // The non-zero minimiser where it first appears, the right-hand limit of
    // |w*| at |v| = tau (the size of the jump).
    double jump() const { return larger_root(threshold_); }

    // The scalar objective |w|^alpha + beta/2 (w - v)^2 (for tests and diagnostics).
    double objective(double w, double v) const {
        return std::pow(std::abs(w), alpha_) + 0.5 * beta_ * (w - v) * (w - v);
    }

private:
    // The larger root of alpha u^(alpha-1) + beta (u - a) = 0, valid for a >= tau.
    double larger_root(double a) const {
        switch (kind_) {
            case Kind::soft: return a - threshold_;
            case Kind::half: {
                double s = std::sqrt(a);
                for (int it = 0; it < max_steps; ++it) {
                    const double p = beta_ * s * (s * s - a) + 0.5, dp = beta_ * (3 * s * s - a);
                    const double step = p / dp;
                    s -= step;
                    if (step <= tolerance * s) break;
                }
                return s * s;
            }
            case Kind::two_thirds: {
                double s = std::cbrt(a);
                for (int it = 0; it < max_steps; ++it) {
                    const double s3 = s * s * s;
                    const double p = beta_ * s * (s3 - a) + 2.0 / 3.0, dp = beta_ * (4 * s3 - a);
                    const double step = p / dp;
                    s -= step;
                    if (step <= tolerance * s) break;
                }
                return s * s * s;
            }
            case Kind::general: break;
        }
        // g(u) = alpha u^(alpha-1) + beta (u - a) is convex on (0, a] with g(a) > 0.
        double u = a;
        for (int it = 0; it < max_steps; ++it) {
            const double pw = std::pow(u, alpha_ - 2);
            const double g = alpha_ * pw * u + beta_ * (u - a);
            const double dg = alpha_ * (alpha_ - 1) * pw + beta_;
            const double step = g / dg;
            u -= step;
            if (step <= tolerance * u) break;
        }
        return u;
    }

    enum class Kind { soft, half, two_thirds, general };
    static constexpr int max_steps = 30;
    static constexpr double tolerance = 1e-10;
    double alpha_, beta_;
    double threshold_ = 0;
    Kind kind_ = Kind::general;
};

}  // namespace deblur
