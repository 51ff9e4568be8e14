#pragma once
// Fast L2 non-blind deconvolution (Wiener filter with a gradient prior):
//
//     x = argmin 1/2 || k * x - y ||^2 + weight/2 ( ||Dx x||^2 + ||Dy x||^2 )
//       = F^-1[ conj(K) Y / (|K|^2 + weight (|F Dx|^2 + |F Dy|^2)) ],
//
// one forward and one inverse transform on the smoothly padded periodic canvas
// of periodic_extension.hpp (padding by the kernel size on every side). Cheap
// previews and intermediate estimates; it rings more than the sparse-prior
// HyperLaplacianDeconvolver, which gives the final image.
#include <cmath>
#include <complex>
#include <cstddef>
#include <stdexcept>
#include <xtensor/xtensor.hpp>

#include "../blur/real_fft_size.hpp"
#include "../fft/fftw.hpp"
#include "fourier_terms.hpp"
#include "periodic_extension.hpp"

namespace deblur {

// Weight for Gaussian noise of standard deviation sigma (intensities in [0, 1]):
// 3e-3 + 2.5 sigma, fitted like DeconvOptions::lambda_for_noise (32 Levin
// images and kernels, 'valid' blur, true kernel); PSNR-optimal weights on a
// factor-2 grid were 3.2e-3, 1.3e-2, 2.6e-2, 5.1e-2, 0.1 for sigma = 0, 0.005,
// 0.01, 0.02, 0.04.
inline double l2_weight_for_noise(double sigma) {
    if (!(sigma >= 0) || !std::isfinite(sigma))
        throw std::invalid_argument("deblur::l2_weight_for_noise: sigma must be finite and non-negative");
    return 3e-3 + 2.5 * sigma;
}

// The default weight is l2_weight_for_noise(0.01).
template <class T, class Fft = fft::Fftw>
xt::xtensor<T, 2> deconvolve_l2(const xt::xtensor<T, 2>& blurry, const xt::xtensor<T, 2>& kernel, double weight = 0.028) {
    const std::size_t h = blurry.shape(0), w = blurry.shape(1), kh = kernel.shape(0), kw = kernel.shape(1);
    if (h == 0 || w == 0 || kh == 0 || kw == 0) throw std::invalid_argument("deblur::deconvolve_l2: empty image or kernel");
    if (!(weight > 0) || !std::isfinite(weight)) throw std::invalid_argument("deblur::deconvolve_l2: weight must be positive");
    double sum = 0;
    for (T v : kernel) sum += v;
    if (!(sum > 0) || !std::isfinite(sum)) throw std::invalid_argument("deblur::deconvolve_l2: the kernel needs a positive, finite sum");
    const std::size_t ph = real_fft_size(h + 2 * kh), pw = real_fft_size(w + 2 * kw), nc = ph * (pw / 2 + 1);
    // Per-thread scratch that only grows: fresh pages for every call cost more
    // than the two transforms on small images.
    thread_local typename Fft::template vector<T> canvas, grad_power;
    thread_local typename Fft::template vector<std::complex<T>> kf, yf;
    if (canvas.size() < ph * pw) canvas.resize(ph * pw);
    if (kf.size() < nc) {
        grad_power.resize(nc);
        kf.resize(nc);
        yf.resize(nc);
    }
    kernel_spectrum<Fft>(kernel, ph, pw, canvas.data(), kf.data());
    gradient_power_spectrum(ph, pw, grad_power.data());
    periodic_extension(blurry.data(), h, w, canvas.data(), ph, pw);
    Fft::template forward<T>(ph, pw, canvas.data(), yf.data());
    const T wt = static_cast<T>(weight);
    for (std::size_t i = 0; i < nc; ++i) yf[i] = complex_mul_conj(kf[i], yf[i]) / (std::norm(kf[i]) + wt * grad_power[i]);
    Fft::template inverse<T>(ph, pw, yf.data(), canvas.data());
    const T inv_n = T(1) / static_cast<T>(ph * pw);  // the inverse transform is unnormalised
    xt::xtensor<T, 2> out = xt::xtensor<T, 2>::from_shape({h, w});
    for (std::size_t r = 0; r < h; ++r)
        for (std::size_t c = 0; c < w; ++c) out(r, c) = canvas[r * pw + c] * inv_n;
    return out;
}

}  // namespace deblur
