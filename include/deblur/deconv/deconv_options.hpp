#pragma once
// Settings of the hyper-Laplacian non-blind deconvolution (hyper_laplacian.hpp),
// which minimises, for intensities in [0, 1],
//
//     1/2 || k * x - y ||^2 + lambda * sum_pixels ( |Dx x|^alpha + |Dy x|^alpha ),
//
// the data term over the observed pixels only (estimate_boundary).
#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace deblur {

struct DeconvOptions {
    double lambda = 6.5e-4;       // prior weight (larger: smoother); lambda_for_noise(0.01)
    double alpha = 2.0 / 3.0;     // hyper-Laplacian exponent in (0, 1]; 1 is total variation
    double beta_start = 1;        // half-quadratic penalty weight, in Krishnan & Fergus' units
    double beta_rate = 2.8284271247461903;  // beta grows by 2 sqrt(2) per outer iteration
    int outer_iterations = 6;     // beta = 1, 2.8, 8, ..., 181 (Krishnan & Fergus: up to 2^8)
    int inner_iterations = 1;     // (w, x) updates per beta
    // Treat the blurry image as known only inside its borders (a masked data
    // term, the band around the image left unknown) rather than trusting a
    // smooth periodic fill there (see hyper_laplacian.hpp): it deconvolves
    // the Levin set better than the fill with true kernels, and 3 CG steps
    // per x-update are where more stop paying (BENCHMARKS.md, "Deconvolution").
    bool estimate_boundary = true;
    int boundary_iterations = 3;  // conjugate-gradient steps per masked x-update
    // Pixels of the blurry image at this value, the top of the range, are
    // clipped highlights (the sensor saturated after the blur): they are left
    // out of the data term like the band around the image, so that the result
    // need not ring to explain them (with estimate_boundary only; infinity:
    // every pixel is data). Evidence: bench/large_blur's clipped set
    // (BENCHMARKS.md, "Deconvolution").
    double saturation = 1;

    // Whether a pixel value is clipped at `level`: equal to it (within a
    // relative 1e-6; a 16-bit step is 1.5e-5). Values above the level are
    // not: a clipped photo has none, and data that exceed the range (e.g.
    // synthetic noise on a white area) were not clipped.
    template <class T>
    static bool is_clipped(T value, double level) {
        return std::isfinite(level) && std::abs(static_cast<double>(value) - level) <= 1e-6 * std::max(1.0, std::abs(level));
    }

    // The default options with the prior weight calibrated for Gaussian noise
    // of standard deviation sigma (intensities in [0, 1], alpha = 2/3).
    static DeconvOptions for_noise(double sigma) {
        if (!(sigma >= 0) || !std::isfinite(sigma))
            throw std::invalid_argument("deblur::DeconvOptions::for_noise: sigma must be finite and non-negative");
        DeconvOptions o;
        o.lambda = lambda_for_noise(sigma);
        return o;
    }

    // lambda = 4.5e-5 + 0.38 sigma^1.4, fitted to the PSNR-optimal lambda on the
    // 32 Levin et al. sharp images and kernels, blurred 'valid' (no wrap-around)
    // with sigma in {0, 0.0025, 0.005, 0.01, 0.02, 0.04} and deconvolved with the
    // true kernel (default options) over a sqrt(2)-spaced lambda grid. Optima
    // about 4.5e-5 (sigma 0), 1.2e-4, 2.5e-4, 6e-4, 1.6e-3, 4.2e-3 (sigma 0.04).
    // The constant term covers quantisation and model error without noise.
    static double lambda_for_noise(double sigma) {
        if (!(sigma >= 0) || !std::isfinite(sigma))
            throw std::invalid_argument("deblur::DeconvOptions::lambda_for_noise: sigma must be finite and non-negative");
        return 4.5e-5 + 0.38 * std::pow(sigma, 1.4);
    }

    void validate() const {
        if (!(lambda > 0) || !std::isfinite(lambda)) throw std::invalid_argument("deblur::DeconvOptions: lambda must be positive");
        if (!(alpha > 0 && alpha <= 1)) throw std::invalid_argument("deblur::DeconvOptions: alpha must be in (0, 1]");
        if (!(beta_start > 0) || !(beta_rate >= 1) || !std::isfinite(beta_start) || !std::isfinite(beta_rate))
            throw std::invalid_argument("deblur::DeconvOptions: beta_start must be positive and beta_rate at least 1");
        if (outer_iterations < 1 || inner_iterations < 1 || boundary_iterations < 1)
            throw std::invalid_argument("deblur::DeconvOptions: iteration counts must be at least 1");
        if (std::isnan(saturation)) throw std::invalid_argument("deblur::DeconvOptions: saturation must be a number");
    }
};

}  // namespace deblur
