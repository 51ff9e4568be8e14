#include "doctest_main.hpp"

#include <deblur/train/adadelta.hpp>

#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

using deblur::train::Adadelta;
using deblur::train::AdadeltaOptions;

// f(x) = x0^2 + 2 x1^2, gradient (2 x0, 4 x1).
static std::array<double, 2> gradient(const std::array<double, 2>& x) { return {2 * x[0], 4 * x[1]}; }

TEST_CASE("Adadelta matches two hand-computed steps") {
    // rho = 0.95, eps = 1e-6, lr = 0.01, x = (1, -3). Step 1 for x0:
    //   g = 2, E[g^2] = 0.05 * 4 = 0.2, dx = -sqrt(1e-6) / sqrt(0.200001) * 2 = -4.4721248e-3,
    //   E[dx^2] = 0.05 * dx^2 = 9.99995e-7, x0 = 1 + 0.01 dx = 0.99995527875.
    // Values below were computed independently (Python, double precision).
    Adadelta<double> opt(2, AdadeltaOptions{.learning_rate = 0.01, .decay = 0.95, .epsilon = 1e-6});
    std::array<double, 2> x{1.0, -3.0};

    auto g = gradient(x);
    opt.step(x, std::span<const double>(g));
    CHECK(x[0] == doctest::Approx(0.999955278752253).epsilon(1e-14));
    CHECK(x[1] == doctest::Approx(-2.9999552786435557).epsilon(1e-14));
    CHECK(opt.state()[0] == doctest::Approx(0.2).epsilon(1e-14));
    CHECK(opt.state()[1] == doctest::Approx(7.2).epsilon(1e-14));
    CHECK(opt.state()[2] == doctest::Approx(9.99995000025e-07).epsilon(1e-12));
    CHECK(opt.state()[3] == doctest::Approx(9.999998611111307e-07).epsilon(1e-12));

    g = gradient(x);
    opt.step(x, std::span<const double>(g));
    CHECK(x[0] == doctest::Approx(0.9999099887723695).epsilon(1e-14));
    CHECK(x[1] == doctest::Approx(-2.999909987894303).epsilon(1e-14));
    CHECK(opt.state()[0] == doctest::Approx(0.38998211190089954).epsilon(1e-13));
    CHECK(opt.state()[3] == doctest::Approx(1.9756258519864923e-06).epsilon(1e-12));
    CHECK(opt.steps() == 2);
}

TEST_CASE_TEMPLATE("Adadelta converges on an ill-conditioned quadratic", T, float, double) {
    // f(x) = 1/2 sum a_i (x_i - c_i)^2 with curvatures over four decades.
    const std::size_t n = 8;
    std::vector<T> a(n), c(n), x(n, T(0)), g(n);
    for (std::size_t i = 0; i < n; ++i) {
        a[i] = T(std::pow(10.0, -2.0 + 4.0 * double(i) / double(n - 1)));
        c[i] = T(i % 2 ? 1.5 : -2.0);
    }
    auto loss = [&] {
        double f = 0;
        for (std::size_t i = 0; i < n; ++i) f += 0.5 * double(a[i]) * std::pow(double(x[i] - c[i]), 2);
        return f;
    };
    const double initial = loss();
    Adadelta<T> opt(n, AdadeltaOptions{.learning_rate = 1.0, .decay = 0.95, .epsilon = 1e-6});
    for (int step = 0; step < 3000; ++step) {
        for (std::size_t i = 0; i < n; ++i) g[i] = a[i] * (x[i] - c[i]);
        opt.step(x, std::span<const T>(g));
    }
    const double final_loss = loss();
    MESSAGE("Adadelta quadratic loss: " << initial << " -> " << final_loss);
    CHECK(final_loss < 1e-6 * initial);
    for (std::size_t i = 0; i < n; ++i) CHECK(double(x[i]) == doctest::Approx(double(c[i])).epsilon(1e-2));
}

TEST_CASE("Adadelta with the paper's learning rate 0.01 decreases the loss steadily") {
    std::vector<double> x{1.0, -3.0};
    Adadelta<double> opt(2);  // defaults: lr 0.01, decay 0.95, eps 1e-6
    double previous = x[0] * x[0] + 2 * x[1] * x[1];
    for (int step = 0; step < 200; ++step) {
        auto g = gradient({x[0], x[1]});
        opt.step(x, std::span<const double>(g.data(), 2));
        const double f = x[0] * x[0] + 2 * x[1] * x[1];
        REQUIRE(f < previous);
        previous = f;
    }
}

TEST_CASE("Adadelta resumes exactly from a saved state") {
    const std::size_t n = 5;
    std::mt19937_64 rng(7);
    std::normal_distribution<float> d;
    std::vector<std::vector<float>> grads(20, std::vector<float>(n));
    for (auto& g : grads)
        for (auto& v : g) v = d(rng);

    std::vector<float> straight(n, 0.5f);
    Adadelta<float> a(n);
    for (const auto& g : grads) a.step(straight, g);

    std::vector<float> resumed(n, 0.5f);
    Adadelta<float> b(n);
    for (std::size_t s = 0; s < 10; ++s) b.step(resumed, grads[s]);
    const std::vector<float> saved(b.state().begin(), b.state().end());
    Adadelta<float> c(n);
    c.set_state(saved, b.steps());
    for (std::size_t s = 10; s < grads.size(); ++s) c.step(resumed, grads[s]);

    CHECK(c.steps() == a.steps());
    for (std::size_t i = 0; i < n; ++i) CHECK(resumed[i] == straight[i]);  // bit-identical
    for (std::size_t i = 0; i < 2 * n; ++i) CHECK(c.state()[i] == a.state()[i]);
}

TEST_CASE("Adadelta rejects bad input without changing its state") {
    CHECK_THROWS_AS(Adadelta<double>(3, AdadeltaOptions{.decay = 1.0}), std::invalid_argument);
    CHECK_THROWS_AS(Adadelta<double>(3, AdadeltaOptions{.epsilon = 0.0}), std::invalid_argument);
    CHECK_THROWS_AS(Adadelta<double>(3, AdadeltaOptions{.learning_rate = -1.0}), std::invalid_argument);

    Adadelta<double> opt(3);
    std::vector<double> x(3, 1.0), g(3, 0.5), short_g(2, 0.5);
    CHECK_THROWS_AS(opt.step(x, short_g), std::invalid_argument);
    g[1] = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_AS(opt.step(x, g), std::invalid_argument);
    CHECK(opt.steps() == 0);
    for (double v : opt.state()) CHECK(v == 0.0);
    for (double v : x) CHECK(v == 1.0);
    CHECK_THROWS_AS(opt.set_state(std::vector<double>(5, 0.0)), std::invalid_argument);
    CHECK_THROWS_AS(opt.set_state(std::vector<double>(6, -1.0)), std::invalid_argument);
}
