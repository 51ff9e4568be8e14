#pragma once
// HyperLaplacianShrinkage tabulated for one beta (Krishnan & Fergus' lookup
// table): the solver shrinks every gradient of the canvas at every iteration,
// and a table lookup is several times cheaper than the Newton solve for
// alpha < 1. The table covers |v| in (tau, max_abs] (above the threshold the
// minimiser is smooth in v; the jump at tau is kept exact by starting the
// table at tau), and values beyond max_abs fall back to the exact solve.
// Linear interpolation between 4097 nodes on (tau, 1] is accurate to 2.3e-6
// at worst (alpha 0.8, beta 181; checked against the exact solve in
// test_deconv), far below the gradient magnitudes that matter.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <vector>

#include "shrinkage.hpp"

namespace deblur {

template <class T>
class ShrinkageTable {
public:
    explicit ShrinkageTable(const HyperLaplacianShrinkage<T>& exact, double max_abs = 1.0, std::size_t intervals = 4096)
        : exact_(exact), max_abs_(max_abs) {
        if (intervals < 1) throw std::invalid_argument("deblur::ShrinkageTable: needs at least one interval");
        if (!(max_abs > 0) || !std::isfinite(max_abs)) throw std::invalid_argument("deblur::ShrinkageTable: max_abs must be positive");
        values_.resize(intervals + 1);
        rebuild(exact);
    }

    // Re-tabulate for another (alpha, beta), reusing the storage.
    void rebuild(const HyperLaplacianShrinkage<T>& exact) {
        exact_ = exact;
        threshold_ = exact.threshold();
        const std::size_t intervals = values_.size() - 1;
        const double hi = std::max(max_abs_, 2 * threshold_);
        step_ = (hi - threshold_) / static_cast<double>(intervals);
        inv_step_ = 1 / step_;
        last_ = static_cast<double>(intervals);
        // The first node is the right-hand limit at tau (the minimiser itself is 0 there).
        values_[0] = exact_.jump();
        for (std::size_t i = 1; i <= intervals; ++i) values_[i] = exact_.magnitude(threshold_ + step_ * static_cast<double>(i));
    }

    double threshold() const { return threshold_; }

    T operator()(T v) const {
        const double a = std::abs(static_cast<double>(v));
        if (!(a > threshold_)) return T(0);
        const double pos = (a - threshold_) * inv_step_;
        if (pos >= last_) return exact_(v);  // beyond the table
        const auto i = static_cast<std::size_t>(pos);
        const double f = pos - static_cast<double>(i);
        const double u = values_[i] + f * (values_[i + 1] - values_[i]);
        return static_cast<T>(v < T(0) ? -u : u);
    }

private:
    HyperLaplacianShrinkage<T> exact_;
    double max_abs_, threshold_ = 0, step_ = 0, inv_step_ = 0, last_ = 0;
    std::vector<double> values_;
};

}  // namespace deblur
