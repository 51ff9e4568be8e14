#include "doctest_main.hpp"

#include <deblur/blur/camera_motion_basis.hpp>
#include <deblur/blur/camera_pose_grid.hpp>
#include <deblur/blur/center_kernel.hpp>
#include <deblur/blur/eff_grid.hpp>

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <cstddef>
#include <numbers>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>
#include <xtensor/xview.hpp>

using deblur::CameraMotionBasis;
using deblur::CameraPoseGrid;
using deblur::EFFGrid;
using deblur::Tensor;

// ---------------------------------------------------------------- helpers

struct WeightedPose {
    double tx, ty, theta, weight;
};

// The kernel field of a camera trajectory, written out independently of the
// library: the patch centre q, as a complex number col + i row about the
// centre, is rotated by exp(i theta) and translated; the displacement is
// splatted bilinearly at (Kh/2, Kw/2) + d, taps outside the support dropped.
static Tensor<double> reference_field(const EFFGrid& grid, double centre_row, double centre_col, std::size_t kh,
                                      std::size_t kw, const std::vector<WeightedPose>& trajectory) {
    Tensor<double> k = deblur::make_tensor<double>(grid.patches(), kh, kw);
    for (std::size_t p = 0; p < grid.patches(); ++p) {
        const std::complex<double> q(grid.col_centre(grid.grid_col(p)) - centre_col,
                                     grid.row_centre(grid.grid_row(p)) - centre_row);
        for (const WeightedPose& s : trajectory) {
            const std::complex<double> d = q * std::polar(1.0, s.theta) - q + std::complex<double>(s.tx, s.ty);
            const double pr = static_cast<double>(kh / 2) + d.imag(), pc = static_cast<double>(kw / 2) + d.real();
            const long r0 = static_cast<long>(std::floor(pr)), c0 = static_cast<long>(std::floor(pc));
            for (long r = r0; r <= r0 + 1; ++r)
                for (long c = c0; c <= c0 + 1; ++c) {
                    if (r < 0 || c < 0 || r >= static_cast<long>(kh) || c >= static_cast<long>(kw)) continue;
                    const double v = (1 - std::abs(pr - static_cast<double>(r))) * (1 - std::abs(pc - static_cast<double>(c)));
                    k(p, static_cast<std::size_t>(r), static_cast<std::size_t>(c)) += s.weight * v;
                }
        }
    }
    return k;
}

static double norm(const Tensor<double>& a) {
    double s = 0;
    for (double v : a) s += v * v;
    return std::sqrt(s);
}

static double relative_error(const Tensor<double>& a, const Tensor<double>& b) {
    Tensor<double> d = a - b;
    return norm(d) / norm(b);
}

static Tensor<double> random_field(std::size_t patches, std::size_t kh, std::size_t kw, unsigned seed, double lo = -1) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> d(lo, 1);
    Tensor<double> k = Tensor<double>::from_shape({patches, kh, kw});
    for (auto& v : k) v = d(rng);
    return k;
}

template <class F>
static std::string error_of(F&& f) {
    try {
        f();
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "(no std::invalid_argument)";
}

// The nearest pose of the grid to (tx, ty, theta).
static std::size_t nearest_pose(const CameraPoseGrid& g, double tx, double ty, double theta) {
    auto nearest = [](const std::vector<double>& axis, double v) {
        std::size_t best = 0;
        for (std::size_t i = 1; i < axis.size(); ++i)
            if (std::abs(axis[i] - v) < std::abs(axis[best] - v)) best = i;
        return best;
    };
    return g.index(nearest(g.translations_x(), tx), nearest(g.translations_y(), ty), nearest(g.rotations(), theta));
}

// ---------------------------------------------------------------- pose grid

TEST_CASE("CameraPoseGrid::for_kernel: translations fill the support, rotations reach the corner by K/2 in ~1 px steps") {
    const EFFGrid grid(256, 256, 4, 4);
    const CameraPoseGrid poses = CameraPoseGrid::for_kernel(grid, 17, 17);
    CHECK(poses.centre_row() == 127.5);
    CHECK(poses.centre_col() == 127.5);
    REQUIRE(poses.translations_x().size() == 17);
    CHECK(poses.translations_x().front() == -8);
    CHECK(poses.translations_x().back() == 8);
    CHECK(poses.translations_y() == poses.translations_x());

    const std::vector<double>& th = poses.rotations();
    REQUIRE(th.size() % 2 == 1);
    CHECK(th[th.size() / 2] == 0.0);
    const double r_corner = std::hypot(127.5, 127.5), r_patch = std::hypot(96.0, 96.0);
    CHECK(2 * r_corner * std::sin(th.back() / 2) == doctest::Approx(8.0).epsilon(1e-12));
    CHECK(th.front() == doctest::Approx(-th.back()).epsilon(1e-12));
    const double step_px = 2 * r_patch * std::sin((th[1] - th[0]) / 2);  // farthest patch centre, one step
    CHECK(step_px <= 1.0);
    CHECK(step_px > 0.8);
    CHECK(poses.size() == 17 * 17 * th.size());
    MESSAGE("K = 17, 4 x 4 patches on 256 x 256: ", th.size(), " rotations up to ", th.back(), " rad, step ",
            th[1] - th[0], " rad (", step_px, " px at the farthest patch centre), ", poses.size(), " poses");

    // Even sizes: the support holds displacements -K/2 .. K/2 - 1; rectangular kernels per axis.
    const CameraPoseGrid even = CameraPoseGrid::for_kernel(grid, 16, 9);
    CHECK(even.translations_y().front() == -8);
    CHECK(even.translations_y().back() == 7);
    CHECK(even.translations_x().front() == -4);
    CHECK(even.translations_x().back() == 4);
    // h = (min(16, 9) - 1) / 2 = 4 px at the corner.
    CHECK(2 * r_corner * std::sin(even.rotations().back() / 2) == doctest::Approx(4.0).epsilon(1e-12));

    // One patch at the centre of rotation: rotations change no kernel, only 0 is kept.
    CHECK(CameraPoseGrid::for_kernel(EFFGrid(64, 48, 1, 1), 9, 9).rotations() == std::vector<double>{0.0});
    // The index order: x translation fastest, rotation slowest.
    const CameraPoseGrid::Pose p = poses.pose(poses.index(3, 5, 2));
    CHECK(p.tx == poses.translations_x()[3]);
    CHECK(p.ty == poses.translations_y()[5]);
    CHECK(p.theta == th[2]);
    CHECK(poses.rotation_index(poses.index(3, 5, 2)) == 2);
}

// ---------------------------------------------------------------- basis

TEST_CASE("CameraMotionBasis adjoint test in double: <B w, k> = <w, B^T k>") {
    const EFFGrid grid(96, 80, 3, 4);
    const CameraMotionBasis<double> basis(grid, CameraPoseGrid::for_kernel(grid, 9, 9), 9, 9);
    CHECK(basis.size() > 100);
    CHECK(basis.stored_taps() <= 4 * basis.size() * basis.patches());
    std::mt19937 rng(3);
    std::uniform_real_distribution<double> d(-1, 1);
    for (int trial = 0; trial < 3; ++trial) {
        std::vector<double> w(basis.size());
        for (double& v : w) v = d(rng);
        const Tensor<double> k = random_field(basis.patches(), 9, 9, 10 + static_cast<unsigned>(trial));
        const Tensor<double> bw = basis.apply(w);
        const std::vector<double> btk = basis.adjoint(k);
        double lhs = 0, rhs = 0, scale = 0;
        for (std::size_t i = 0; i < k.size(); ++i) {
            lhs += bw.data()[i] * k.data()[i];
            scale += std::abs(bw.data()[i] * k.data()[i]);
        }
        for (std::size_t j = 0; j < w.size(); ++j) rhs += w[j] * btk[j];
        CAPTURE(lhs);
        CAPTURE(rhs);
        CHECK(std::abs(lhs - rhs) <= 1e-12 * scale);
    }
}

TEST_CASE("CameraMotionBasis columns equal the trajectory rasterised independently, truncation included") {
    const EFFGrid grid(90, 120, 3, 4);
    const CameraPoseGrid poses = CameraPoseGrid::for_kernel(grid, 11, 9);
    const CameraMotionBasis<double> basis(grid, poses, 11, 9);
    std::mt19937 rng(5);
    std::uniform_int_distribution<std::size_t> pick(0, poses.size() - 1);
    for (int trial = 0; trial < 20; ++trial) {
        const std::size_t j = trial == 0 ? poses.size() - 1 : pick(rng);  // the last: largest shift and rotation
        std::vector<double> w(poses.size(), 0.0);
        w[j] = 1;
        const CameraPoseGrid::Pose p = poses.pose(j);
        const Tensor<double> ref = reference_field(grid, poses.centre_row(), poses.centre_col(), 11, 9,
                                                   {{p.tx, p.ty, p.theta, 1.0}});
        const Tensor<double> k = basis.apply(w);
        double worst = 0;
        for (std::size_t i = 0; i < k.size(); ++i) worst = std::max(worst, std::abs(k.data()[i] - ref.data()[i]));
        CAPTURE(j);
        CHECK(worst < 1e-12);
    }
}

TEST_CASE_TEMPLATE("a pure translation gives the same delta kernel at every patch", T, float, double) {
    const EFFGrid grid(96, 96, 3, 3);
    const CameraPoseGrid poses = CameraPoseGrid::for_kernel(grid, 9, 9);
    const CameraMotionBasis<T> basis(grid, poses, 9, 9);
    const std::size_t zero_theta = poses.rotations().size() / 2;
    // tx = +3 (columns), ty = -2 (rows): the delta at (4 - 2, 4 + 3).
    const std::size_t j = poses.index(4 + 3, 4 - 2, zero_theta);
    REQUIRE(poses.pose(j).tx == 3);
    REQUIRE(poses.pose(j).ty == -2);
    REQUIRE(poses.pose(j).theta == 0);
    std::vector<T> w(basis.size(), T(0));
    w[j] = T(1);
    const Tensor<T> k = basis.apply(w);
    for (std::size_t p = 0; p < basis.patches(); ++p)
        for (std::size_t a = 0; a < 9; ++a)
            for (std::size_t b = 0; b < 9; ++b) CHECK(k(p, a, b) == ((a == 2 && b == 7) ? T(1) : T(0)));

    // A fractional translation: the same four bilinear taps at every patch.
    const CameraPoseGrid frac({0.25}, {-0.5}, {0.0}, 47.5, 47.5);
    const CameraMotionBasis<T> fb(grid, frac, 5, 5);
    const Tensor<T> kf = fb.apply(std::vector<T>{T(1)});
    for (std::size_t p = 0; p < fb.patches(); ++p) {
        CHECK(kf(p, 1, 2) == doctest::Approx(0.5 * 0.75));
        CHECK(kf(p, 1, 3) == doctest::Approx(0.5 * 0.25));
        CHECK(kf(p, 2, 2) == doctest::Approx(0.5 * 0.75));
        CHECK(kf(p, 2, 3) == doctest::Approx(0.5 * 0.25));
        T s = 0;
        for (std::size_t a = 0; a < 5; ++a)
            for (std::size_t b = 0; b < 5; ++b) s += kf(p, a, b);
        CHECK(s == doctest::Approx(1.0));
    }
}

TEST_CASE("a rotation displaces each patch tangentially, by a chord that grows with the distance from the centre") {
    const EFFGrid grid(160, 160, 5, 5);  // patch centres 15.5, 47.5, ..., 143.5; the middle one is the centre 79.5
    const CameraPoseGrid poses = CameraPoseGrid::for_kernel(grid, 13, 13);
    const CameraMotionBasis<double> basis(grid, poses, 13, 13);
    const std::size_t c = poses.rotations().size() - 1;  // theta_max > 0: clockwise as displayed
    const double theta = poses.rotations()[c];
    REQUIRE(theta > 0);
    const std::size_t j = poses.index(6, 6, c);  // no translation
    std::vector<double> w(basis.size(), 0.0);
    w[j] = 1;
    const Tensor<double> k = basis.apply(w);
    std::vector<std::pair<double, double>> radius_and_shift;
    for (std::size_t p = 0; p < basis.patches(); ++p) {
        const xt::xtensor<double, 2> kp = xt::view(k, p, xt::all(), xt::all());
        double sum = 0;
        for (double v : kp) sum += v;
        REQUIRE(sum == doctest::Approx(1.0).epsilon(1e-12));  // inside the support everywhere
        const auto [cr, cc] = deblur::kernel_centroid(kp);
        const double dr = cr - 6, dc = cc - 6;  // centroid displacement from the origin
        const double y = grid.row_centre(grid.grid_row(p)) - 79.5, x = grid.col_centre(grid.grid_col(p)) - 79.5;
        const double radius = std::hypot(x, y), shift = std::hypot(dr, dc);
        CAPTURE(p);
        // The chord of the rotation: 2 R sin(theta / 2).
        CHECK(shift == doctest::Approx(2 * radius * std::sin(theta / 2)).epsilon(1e-9).scale(1e-12));
        if (radius > 0) {
            // The chord leans by theta / 2 from the tangent towards the centre: d . r / (|d| R) = -sin(theta / 2).
            CHECK((dr * y + dc * x) / (shift * radius) == doctest::Approx(-std::sin(theta / 2)).epsilon(1e-9));
            // Clockwise as displayed (rows down): the cross product x * dr - y * dc is positive.
            CHECK(x * dr - y * dc > 0);
        }
        radius_and_shift.emplace_back(radius, shift);
    }
    std::sort(radius_and_shift.begin(), radius_and_shift.end());
    for (std::size_t i = 1; i < radius_and_shift.size(); ++i)
        if (radius_and_shift[i].first > radius_and_shift[i - 1].first + 1e-9)
            CHECK(radius_and_shift[i].second > radius_and_shift[i - 1].second);
    CHECK(radius_and_shift.front().second == doctest::Approx(0).scale(1e-12));  // the centre patch: a delta at the origin
    CHECK(k(12, 6, 6) == doctest::Approx(1.0));
    // The right-hand middle patch (x = 64, y = 0) moves down (+rows), by 2 * 64 * sin(theta / 2) roughly.
    const auto [rr, rc] = deblur::kernel_centroid(xt::xtensor<double, 2>(xt::view(k, 14, xt::all(), xt::all())));
    CHECK(rr - 6 > 0.9 * 64 * theta);
    CHECK(std::abs(rc - 6) < 0.1);
}

// ---------------------------------------------------------------- projection

namespace {

// 96 x 96, 3 x 3 patches, 9 x 9 kernels: 9 x 9 translations, 7 rotations.
struct Setup {
    EFFGrid grid{96, 96, 3, 3};
    CameraPoseGrid poses = CameraPoseGrid::for_kernel(grid, 9, 9);
    CameraMotionBasis<double> basis{grid, poses, 9, 9};
};

// A short camera shake: a few poses of the grid (a sparse trajectory).
std::vector<WeightedPose> sparse_trajectory(const CameraPoseGrid& poses) {
    const double d = poses.rotations()[1] - poses.rotations()[0];
    return {{0, 0, 0, 0.3}, {1, 0, d, 0.2}, {1, 1, d, 0.2}, {2, 1, 2 * d, 0.15}, {2, 2, 2 * d, 0.15}};
}

// A smooth trajectory off the grid: 40 samples of a curve in (tx, ty, theta).
std::vector<WeightedPose> smooth_trajectory(const CameraPoseGrid& poses) {
    const double tmax = poses.rotations().back();
    std::vector<WeightedPose> t;
    for (int i = 0; i < 40; ++i) {
        const double s = (i + 0.5) / 40.0;
        t.push_back({-2.3 + 3.1 * s, 1.7 * std::sin(3 * s), tmax * (0.7 * s - 0.3), 1.0 / 40});
    }
    return t;
}

Tensor<double> add_noise(const Tensor<double>& k, double sigma, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> n(0, sigma);
    Tensor<double> out = k;
    for (double& v : out) v += n(rng);
    return out;
}

}  // namespace

TEST_CASE("projection recovers the kernel field of a camera trajectory, and removes most of added noise") {
    const Setup s;
    const std::vector<WeightedPose> traj = sparse_trajectory(s.poses);
    for (const WeightedPose& p : traj) REQUIRE(s.poses.pose(nearest_pose(s.poses, p.tx, p.ty, p.theta)).theta == doctest::Approx(p.theta));
    const Tensor<double> truth = reference_field(s.grid, s.poses.centre_row(), s.poses.centre_col(), 9, 9, traj);

    const auto clean = s.basis.project(truth);
    const double clean_error = relative_error(clean.kernels, truth);
    MESSAGE("sparse trajectory, no noise: relative kernel-field error ", clean_error, " (fit residual ",
            clean.fit_residual, ")");
    CHECK(clean_error < 0.02);

    // Noise of 30 % of the field's RMS. Without thresholding (eta = 1) only the
    // non-negativity removes noise: the positive part of the noise is fitted
    // and, after normalisation, dims the true taps. T_eta (Eq. 9) removes most.
    const double rms = norm(truth) / std::sqrt(static_cast<double>(truth.size()));
    for (unsigned seed = 1; seed <= 3; ++seed) {
        const Tensor<double> noisy = add_noise(truth, 0.3 * rms, seed);
        const double input_error = relative_error(noisy, truth);
        const double error = relative_error(s.basis.project(noisy).kernels, truth);
        const double sparse_error = relative_error(s.basis.project(noisy, 0.03).kernels, truth);
        MESSAGE("sparse trajectory, noise 0.3 rms: input error ", input_error, ", projected ", error,
                ", with eta = 0.03 ", sparse_error);
        CHECK(error < 0.9 * input_error);
        CHECK(sparse_error < 0.5 * input_error);
    }

    // Off the grid: a smooth trajectory with fractional translations and angles
    // between grid steps. The rotation steps move the farthest patch centre by
    // up to a pixel, so the basis blurs such kernels by up to a pixel there:
    // that is its resolution, not a failure of the fit.
    const Tensor<double> smooth =
        reference_field(s.grid, s.poses.centre_row(), s.poses.centre_col(), 9, 9, smooth_trajectory(s.poses));
    const auto smooth_proj = s.basis.project(smooth);
    const double smooth_error = relative_error(smooth_proj.kernels, smooth);
    const Tensor<double> noisy = add_noise(smooth, 0.3 * rms, 7);
    const double noisy_in = relative_error(noisy, smooth);
    const double noisy_out = relative_error(s.basis.project(noisy, 0.05).kernels, smooth);
    MESSAGE("smooth trajectory off the grid: error ", smooth_error, " (fit residual ", smooth_proj.fit_residual,
            "); with noise ", noisy_in, " -> ", noisy_out, " (eta = 0.05)");
    CHECK(smooth_error < 0.35);
    CHECK(noisy_out < noisy_in);
}

TEST_CASE("T_eta keeps the fraction eta of the largest coefficients") {
    using Basis = CameraMotionBasis<double>;
    const std::vector<double> w{0.1, 0.5, 0.0, 0.3, 0.2, 0.3};
    CHECK(Basis::threshold(w, 1.0) == w);
    CHECK(Basis::threshold(w, 0.34) == std::vector<double>{0, 0.5, 0, 0.3, 0, 0.3});  // ceil(2.04) = 3
    CHECK(Basis::threshold(w, 0.3) == std::vector<double>{0, 0.5, 0, 0.3, 0, 0});      // ceil(1.8) = 2, tie: lower index
    CHECK(Basis::threshold(w, 1e-6) == std::vector<double>{0, 0.5, 0, 0, 0, 0});       // at least one
    CHECK(Basis::threshold({-0.7, 0.5}, 0.5) == std::vector<double>{-0.7, 0});         // by magnitude
    CHECK(Basis::kept_count(4335, 0.0314) == 137);

    // In the projection: the kept coefficients are the largest of the fit, and
    // a small eta still describes the sparse trajectory well.
    const Setup s;
    const Tensor<double> truth =
        reference_field(s.grid, s.poses.centre_row(), s.poses.centre_col(), 9, 9, sparse_trajectory(s.poses));
    const double rms = norm(truth) / std::sqrt(static_cast<double>(truth.size()));
    const Tensor<double> noisy = add_noise(truth, 0.3 * rms, 11);
    const std::vector<double> mu = s.basis.fit(noisy);
    const double eta = 0.02;
    const auto proj = s.basis.project(noisy, eta);
    CHECK(proj.kept == Basis::kept_count(s.basis.size(), eta));
    std::size_t nonzero = 0;
    double smallest_kept = 1e300, largest_dropped = 0;
    for (std::size_t j = 0; j < mu.size(); ++j) {
        if (proj.coefficients[j] != 0) {
            ++nonzero;
            CHECK(proj.coefficients[j] == mu[j]);
            smallest_kept = std::min(smallest_kept, mu[j]);
        } else {
            largest_dropped = std::max(largest_dropped, mu[j]);
        }
    }
    CHECK(nonzero <= proj.kept);
    CHECK(smallest_kept >= largest_dropped);
    const double error = relative_error(proj.kernels, truth);
    MESSAGE("eta = ", eta, " (", proj.kept, " of ", s.basis.size(), " poses): error ", error, " (input ",
            relative_error(noisy, truth), ")");
    CHECK(error < 0.15);
}

TEST_CASE_TEMPLATE("projected kernels are non-negative and sum to one", T, float, double) {
    const EFFGrid grid(80, 96, 2, 3);
    const CameraMotionBasis<T> basis(grid, CameraPoseGrid::for_kernel(grid, 7, 7), 7, 7);
    Tensor<T> k = deblur::make_tensor<T>(basis.patches(), 7, 7);
    const Tensor<double> r = random_field(basis.patches(), 7, 7, 21, 0.0);
    std::copy(r.begin(), r.end(), k.begin());
    for (double eta : {1.0, 0.05, 1e-9}) {
        const auto proj = basis.project(k, eta, 100);
        CHECK(proj.empty_patches == 0);
        for (std::size_t p = 0; p < basis.patches(); ++p) {
            double s = 0;
            for (std::size_t a = 0; a < 7; ++a)
                for (std::size_t b = 0; b < 7; ++b) {
                    CHECK(proj.kernels(p, a, b) >= T(0));
                    s += proj.kernels(p, a, b);
                }
            CHECK(s == doctest::Approx(1.0).epsilon(std::is_same_v<T, float> ? 1e-5 : 1e-12));
        }
        for (T c : proj.coefficients) CHECK(c >= T(0));
    }
}

TEST_CASE("poses outside every support: B = 0, and the projection falls back to deltas at the origin") {
    const EFFGrid grid(40, 40, 2, 2);
    const CameraPoseGrid far({20.0}, {0.0}, {0.0}, 19.5, 19.5);  // 20 px: beyond a 5 x 5 support
    const CameraMotionBasis<double> basis(grid, far, 5, 5);
    CHECK(basis.stored_taps() == 0);
    CHECK(basis.lipschitz() == 0);
    const auto proj = basis.project(random_field(4, 5, 5, 2, 0.0));
    CHECK(proj.empty_patches == 4);
    for (std::size_t p = 0; p < 4; ++p) CHECK(proj.kernels(p, 2, 2) == 1.0);
}

TEST_CASE("the step constant bounds ||B^T B|| from above") {
    const Setup s;
    // Power iteration for the largest eigenvalue, many steps: the bound is not below it, and close.
    std::vector<double> v(s.basis.size(), 1.0);
    double lambda = 0;
    for (int it = 0; it < 300; ++it) {
        const std::vector<double> mv = s.basis.adjoint(s.basis.apply(v));
        double nv = 0, nmv = 0, vmv = 0;
        for (std::size_t j = 0; j < v.size(); ++j) {
            nv += v[j] * v[j];
            nmv += mv[j] * mv[j];
            vmv += v[j] * mv[j];
        }
        lambda = vmv / nv;
        for (std::size_t j = 0; j < v.size(); ++j) v[j] = mv[j] / std::sqrt(nmv);
    }
    CHECK(s.basis.lipschitz() >= lambda);
    CHECK(s.basis.lipschitz() < 1.05 * lambda);
}

TEST_CASE("CameraPoseGrid and CameraMotionBasis reject bad inputs with their names in the message") {
    auto grid_error = [](auto&& f) {
        const std::string e = error_of(f);
        CAPTURE(e);
        CHECK(e.find("deblur::CameraPoseGrid") != std::string::npos);
    };
    const double nan = std::numeric_limits<double>::quiet_NaN();
    grid_error([] { CameraPoseGrid({}, {0.0}, {0.0}, 0, 0); });
    grid_error([] { CameraPoseGrid({0.0}, {}, {0.0}, 0, 0); });
    grid_error([] { CameraPoseGrid({0.0}, {0.0}, {}, 0, 0); });
    grid_error([&] { CameraPoseGrid({0.0}, {nan}, {0.0}, 0, 0); });
    grid_error([&] { CameraPoseGrid({0.0}, {0.0}, {0.0}, nan, 0); });
    grid_error([] { CameraPoseGrid::for_kernel(EFFGrid(32, 32, 2, 2), 0, 5); });
    CHECK_THROWS_AS(CameraPoseGrid({0.0}, {0.0}, {0.0}, 0, 0).pose(1), std::out_of_range);

    auto basis_error = [](auto&& f, const char* what) {
        const std::string e = error_of(f);
        CAPTURE(e);
        CHECK(e.find("deblur::CameraMotionBasis") != std::string::npos);
        CHECK(e.find(what) != std::string::npos);
    };
    const EFFGrid grid(32, 32, 2, 2);
    const CameraPoseGrid poses = CameraPoseGrid::for_kernel(grid, 5, 5);
    basis_error([&] { CameraMotionBasis<double>(grid, poses, 5, 0); }, "empty kernel");
    const CameraMotionBasis<double> basis(grid, poses, 5, 5);
    basis_error([&] { basis.apply(std::vector<double>(basis.size() + 1)); }, "coefficients");
    basis_error([&] { basis.adjoint(random_field(3, 5, 5, 1)); }, "kernel field");
    basis_error([&] { basis.project(random_field(4, 5, 4, 1)); }, "kernel field");
    basis_error([&] { basis.project(random_field(4, 5, 5, 1), 0.0); }, "eta");
    basis_error([&] { basis.project(random_field(4, 5, 5, 1), 1.5); }, "eta");
    basis_error([&] { basis.project(random_field(4, 5, 5, 1), nan); }, "eta");
    basis_error([&] { CameraMotionBasis<double>::threshold({1.0}, -0.1); }, "eta");
    Tensor<double> bad = random_field(4, 5, 5, 1);
    bad(1, 2, 3) = nan;
    basis_error([&] { basis.fit(bad); }, "non-finite");
}
