#pragma once
// Non-blind deconvolution with a hyper-Laplacian gradient prior (Krishnan &
// Fergus, NIPS 2009): the final sharp image from a blurry image and a kernel,
//
//     min_x 1/2 || M (k * x - y) ||^2 + lambda sum |Dx x|^alpha + |Dy x|^alpha
//
// (convolution as in blur.hpp; intensities in [0, 1], which the prior's scale
// assumes). Half-quadratic splitting introduces w ~ D x with a penalty
// lambda beta/2 || D x - w ||^2 whose beta grows from beta_start by beta_rate
// per outer iteration; each iteration solves
//   - the w-subproblem per pixel (HyperLaplacianShrinkage, tabulated per beta
//     in a ShrinkageTable for alpha < 1), and
//   - the x-subproblem, the quadratic
//       (mu K'MK + D'D) x = mu K'M y + D'w,   mu = 1 / (lambda beta).
//
// The schedule is half_quadratic_splitting.hpp's, shared with the EFF solver.
//
// Boundaries: x lives on a periodic canvas larger than the image by the kernel
// size on every side (an FFT-friendly size). M selects the observed pixels,
// the image itself: the band around it is unknown, so x may extend past the
// image borders as the true scene does, and nothing wraps around. This is
// what keeps the result from ringing at the borders of a photo. Clipped
// highlights (DeconvOptions::saturation) are left out of M as well.
//   - estimate_boundary (default): the masked x-subproblem is solved by
//     conjugate gradients preconditioned with its circulant part
//     (mu K'K + D'D, inverted exactly by FFT), warm-started from the previous
//     x; each CG step costs two FFTs (boundary_iterations steps per x-update).
//   - otherwise M = I on a canvas whose band is a smooth periodic fill of the
//     image (periodic_extension.hpp), and the x-subproblem is solved exactly in
//     the Fourier domain as in Krishnan & Fergus: about half the FFTs, but
//     the fill is not data, and the borders come out worse (DeconvOptions).
// The result is cropped back to the blurry image's size.
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "../blur/real_fft_size.hpp"
#include "../core/openmp.hpp"
#include "../core/tensor.hpp"
#include "../fft/buffer.hpp"
#include "../fft/fftw.hpp"
#include "deconv_options.hpp"
#include "fourier_terms.hpp"
#include "half_quadratic_splitting.hpp"
#include "periodic_extension.hpp"

namespace deblur {

// Keeps its canvas size, spectra and buffers between calls: repeated calls on
// images and kernels of one size allocate nothing and reuse the FFT plans.
// The conjugate-gradient updates are fused so that each step reads every
// spectrum about twice (the passes are memory-bound: at 2048^2 one pass over
// a spectrum costs about as much as a transform). On canvases of 640^2 and
// more the passes run on OpenMP's threads, over blocks of rows handed out
// dynamically (statically split passes ran slower than one thread once
// another process shared the cores: each waited for its preempted half;
// BENCHMARKS.md, "Threaded deconvolution passes"); sums are kept per row
// and added in row order, so the
// result does not depend on the thread count. FFTW threads the transforms
// (fftw.hpp).
template <class T, class Fft = fft::Fftw>
class HyperLaplacianDeconvolver {
public:
    using scalar = T;

    explicit HyperLaplacianDeconvolver(DeconvOptions options = {}) { set_options(options); }

    const DeconvOptions& options() const { return options_; }
    void set_options(const DeconvOptions& options) {
        options.validate();
        options_ = options;
    }

    // The deblurred H x W image for an H x W blurry image.
    xt::xtensor<T, 2> deconvolve(const xt::xtensor<T, 2>& blurry, const xt::xtensor<T, 2>& kernel) {
        xt::xtensor<T, 2> out = xt::xtensor<T, 2>::from_shape(blurry.shape());
        fft::advise_huge_pages(out.data(), out.size() * sizeof(T));  // before its first touch
        prepare(blurry.shape(0), blurry.shape(1), kernel);
        solve(blurry.data(), out.data());
        return out;
    }

    // Every channel of a C x H x W image, with the same kernel.
    Tensor<T> deconvolve(const Tensor<T>& blurry, const xt::xtensor<T, 2>& kernel) {
        Tensor<T> out = Tensor<T>::from_shape(blurry.shape());
        fft::advise_huge_pages(out.data(), out.size() * sizeof(T));
        const std::size_t h = blurry.shape(1), w = blurry.shape(2);
        prepare(h, w, kernel);
        for (std::size_t c = 0; c < blurry.shape(0); ++c) solve(blurry.data() + c * h * w, out.data() + c * h * w);
        return out;
    }

    // Canvases of at least this many pixels get threaded passes: on a 576^2
    // canvas two threads gained nothing on an idle machine and were ~25 %
    // slower with another process on a core; from 640^2 they were faster.
    static constexpr std::size_t min_threaded_size = 640 * 640;

    // Canvas (padded transform) size of the last call.
    std::size_t canvas_rows() const { return ph_; }
    std::size_t canvas_cols() const { return pw_; }

private:
    using complex = std::complex<T>;
    using rbuf = fft::Buffer<T>;
    using cbuf = fft::Buffer<complex>;

    void prepare(std::size_t h, std::size_t w, const xt::xtensor<T, 2>& kernel) {
        const std::size_t kh = kernel.shape(0), kw = kernel.shape(1);
        if (h == 0 || w == 0) throw std::invalid_argument("deblur::HyperLaplacianDeconvolver: empty image");
        if (kh == 0 || kw == 0) throw std::invalid_argument("deblur::HyperLaplacianDeconvolver: empty kernel");
        double sum = 0;
        for (T v : kernel) {
            if (!std::isfinite(static_cast<double>(v)))
                throw std::invalid_argument("deblur::HyperLaplacianDeconvolver: the kernel contains NaN or infinity");
            sum += v;
        }
        if (!(sum > 0)) throw std::invalid_argument("deblur::HyperLaplacianDeconvolver: the kernel must have a positive sum");
        const std::size_t ph = real_fft_size(h + 2 * kh), pw = real_fft_size(w + 2 * kw);
        h_ = h;
        w_ = w;
        if (ph != ph_ || pw != pw_) {
            const std::size_t n = ph * pw, nc = ph * (pw / 2 + 1);
            ph_ = pw_ = 0;  // until every buffer has its size (resize may throw)
            for (rbuf* v : {&x_, &work_}) v->resize(n);
            for (cbuf* v : {&kernel_f_, &data_f_, &x_f_, &kmk_x_f_, &r_f_, &p_f_, &q_f_}) v->resize(nc);
            gradient_power_.resize(nc);
            inv_den_.resize(nc);
            gradient_power_spectrum(ph, pw, gradient_power_.data());
            row_sums_.resize(ph);
            ph_ = ph;
            pw_ = pw;
            wc_ = pw / 2 + 1;
        }
        // Inside a parallel region (e.g. validation over examples) the caller's threads are busy.
        threads_ = ph_ * pw_ >= min_threaded_size && !omp_in_parallel() ? std::max(1, omp_get_max_threads()) : 1;
        kernel_spectrum<Fft>(kernel, ph_, pw_, work_.data(), kernel_f_.data());
    }

    // body(r0, r1) for the canvas rows [r0, r1) of every block; blocks go to
    // the threads as they finish the previous one (see the class comment).
    template <class Body>
    void for_rows(std::size_t rows, const Body& body) const {
        constexpr std::size_t block = 16;
        const auto blocks = static_cast<std::ptrdiff_t>((rows + block - 1) / block);
DEBLUR_OMP(omp parallel for schedule(dynamic) num_threads(threads_) if (threads_ > 1))
        for (std::ptrdiff_t b = 0; b < blocks; ++b)
            body(static_cast<std::size_t>(b) * block, std::min(rows, static_cast<std::size_t>(b + 1) * block));
    }

    // The sum of row_sums_, in row order.
    double sum_of_rows() const {
        double s = 0;
        for (std::size_t u = 0; u < ph_; ++u) s += row_sums_[u];
        return s;
    }

    // Sum over the full spectrum of a real canvas from a row of its half
    // spectrum (Parseval): columns 0 and, for even widths, pw/2 appear once,
    // the others twice. `term(v)` is the summand at column v; `row` their sum.
    template <class Term>
    double full_spectrum_sum(double row, const Term& term) const {
        double s = 2 * row - term(0);
        if (pw_ % 2 == 0) s -= term(wc_ - 1);
        return s;
    }

    // work_ = Dx' wx + Dy' wy with (wx, wy) = shrink of the periodic forward
    // differences of scale * x_ (the w-subproblem and the adjoint in one
    // pass; each thread keeps the shrunk gradients of two rows in rows_).
    template <class Shrink>
    void shrink_adjoint(const Shrink& shrink, T scale) {
        const std::size_t ph = ph_, pw = pw_;
        const T* x = x_.data();
        rows_.resize(3 * pw * static_cast<std::size_t>(threads_));
        auto vertical = [&](std::size_t r, T* g) {
            const T* xr = x + r * pw;
            const T* xd = x + ((r + 1) % ph) * pw;
            for (std::size_t c = 0; c < pw; ++c) g[c] = shrink(scale * (xd[c] - xr[c]));
        };
        for_rows(ph, [&](std::size_t r0, std::size_t r1) {
            T* gx = rows_.data() + 3 * pw * static_cast<std::size_t>(omp_get_thread_num());
            T* gy = gx + pw;
            T* gy_up = gy + pw;  // shrunk vertical differences of the row above
            vertical((r0 + ph - 1) % ph, gy_up);
            for (std::size_t r = r0; r < r1; ++r) {
                const T* xr = x + r * pw;
                for (std::size_t c = 0; c + 1 < pw; ++c) gx[c] = shrink(scale * (xr[c + 1] - xr[c]));
                gx[pw - 1] = shrink(scale * (xr[0] - xr[pw - 1]));
                vertical(r, gy);
                T* d = work_.data() + r * pw;
                d[0] = gx[pw - 1] - gx[0] + gy_up[0] - gy[0];
                for (std::size_t c = 1; c < pw; ++c) d[c] = gx[c - 1] - gx[c] + gy_up[c] - gy[c];
                std::swap(gy, gy_up);
            }
        });
    }

    // q = K'MK p for q = K p on entry: back to the canvas, mask (and the
    // 1/(ph pw) of the unnormalised inverse), forward again; the caller
    // multiplies by conj(K) in its next pass.
    void masked_round_trip(cbuf& q) {
        const std::size_t ph = ph_, pw = pw_, h = h_, w = w_;
        const T inv_n = T(1) / static_cast<T>(ph * pw);
        fft::inverse_destroying<Fft>(ph, pw, q.data(), work_.data());
        T* work = work_.data();
        for_rows(ph, [&](std::size_t r0, std::size_t r1) {
            for (std::size_t r = r0; r < r1; ++r) {
                T* row = work + r * pw;
                const std::size_t seen = r < h ? w : 0;
                if (holes_) {
                    const T* observed = observed_.data() + r * w;
                    for (std::size_t c = 0; c < seen; ++c) row[c] *= inv_n * observed[c];
                } else {
                    for (std::size_t c = 0; c < seen; ++c) row[c] *= inv_n;
                }
                for (std::size_t c = seen; c < pw; ++c) row[c] = T(0);
            }
        });
        Fft::template forward<T>(ph, pw, work_.data(), q.data());
    }

    // Preconditioned CG on (mu K'MK + D'D) X = F(D'w) + mu K'My, the first
    // term in r_f_ on entry, warm-started from x_f_. K'MK x is carried along
    // in kmk_x_f_ (updated with every step), so the starting residual for a
    // new mu and right-hand side costs no transform. The preconditioner is
    // the circulant part, 1 / (mu |K|^2 + |D|^2), in inv_den_; z = r inv_den_
    // is never stored.
    void solve_masked(T mu, int iterations) {
        const std::size_t ph = ph_, wc = wc_;
        const T* gp = gradient_power_.data();
        T* inv_den = inv_den_.data();
        const complex* K = kernel_f_.data();
        const complex* data = data_f_.data();
        complex *x = x_f_.data(), *kmk_x = kmk_x_f_.data(), *r = r_f_.data(), *p = p_f_.data(), *q = q_f_.data();

        double* row_sums = row_sums_.data();
        auto z_dot_r = [&](std::size_t u, double row) {  // <r, z> of spectrum row u from its half-row sum
            return full_spectrum_sum(row, [&](std::size_t v) { return double(inv_den[u * wc + v]) * std::norm(r[u * wc + v]); });
        };

        // r = rhs - A x, p = z, q = K p, rz = <r, z>.
        for_rows(ph, [&](std::size_t u0, std::size_t u1) {
            for (std::size_t u = u0; u < u1; ++u) {
                double row = 0;
                for (std::size_t i = u * wc; i < (u + 1) * wc; ++i) {
                    const T d = T(1) / (mu * std::norm(K[i]) + gp[i]);
                    inv_den[i] = d;
                    const complex ri = r[i] + mu * (data[i] - kmk_x[i]) - gp[i] * x[i];
                    r[i] = ri;
                    p[i] = d * ri;
                    q[i] = complex_mul(p[i], K[i]);
                    row += static_cast<double>(d) * std::norm(ri);
                }
                row_sums[u] = z_dot_r(u, row);
            }
        });
        double rz = sum_of_rows();
        for (int it = 0; it < iterations && rz > 0; ++it) {
            masked_round_trip(q_f_);
            // q = K'MK p (finishing the round trip); pap = <p, A p>, A p = mu q + |D|^2 p.
            for_rows(ph, [&](std::size_t u0, std::size_t u1) {
                for (std::size_t u = u0; u < u1; ++u) {
                    auto term = [&](std::size_t i) { return re_dot(p[i], mu * q[i] + gp[i] * p[i]); };
                    double row = 0;
                    for (std::size_t i = u * wc; i < (u + 1) * wc; ++i) {
                        q[i] = complex_mul_conj(K[i], q[i]);
                        row += term(i);
                    }
                    row_sums[u] = full_spectrum_sum(row, [&](std::size_t v) { return term(u * wc + v); });
                }
            });
            const double pap = sum_of_rows();
            if (!(pap > 0)) break;
            const T step = static_cast<T>(rz / pap);
            if (it + 1 == iterations) {  // the last step needs no new residual
                for_rows(ph, [&](std::size_t u0, std::size_t u1) {
                    for (std::size_t i = u0 * wc; i < u1 * wc; ++i) {
                        x[i] += step * p[i];
                        kmk_x[i] += step * q[i];
                    }
                });
                break;
            }
            for_rows(ph, [&](std::size_t u0, std::size_t u1) {
                for (std::size_t u = u0; u < u1; ++u) {
                    double row = 0;
                    for (std::size_t i = u * wc; i < (u + 1) * wc; ++i) {
                        x[i] += step * p[i];
                        kmk_x[i] += step * q[i];
                        r[i] -= step * (mu * q[i] + gp[i] * p[i]);
                        row += static_cast<double>(inv_den[i]) * std::norm(r[i]);
                    }
                    row_sums[u] = z_dot_r(u, row);
                }
            });
            const double rz_next = sum_of_rows();
            const T momentum = static_cast<T>(rz_next / rz);
            rz = rz_next;
            // p = z + momentum p, q = K p (the start of the next round trip).
            for_rows(ph, [&](std::size_t u0, std::size_t u1) {
                for (std::size_t i = u0 * wc; i < u1 * wc; ++i) {
                    p[i] = inv_den[i] * r[i] + momentum * p[i];
                    q[i] = complex_mul(p[i], K[i]);
                }
            });
        }
    }

    // Real part of conj(a) b, the summand of the inner product of two real
    // canvases given by their half spectra (times the Parseval weight).
    static double re_dot(complex a, complex b) {
        return static_cast<double>(a.real()) * b.real() + static_cast<double>(a.imag()) * b.imag();
    }

    void solve(const T* blurry, T* out) {
        for (std::size_t i = 0; i < h_ * w_; ++i)
            if (!std::isfinite(static_cast<double>(blurry[i])))
                throw std::invalid_argument("deblur::HyperLaplacianDeconvolver: the blurry image contains NaN or infinity");
        const std::size_t ph = ph_, pw = pw_, h = h_, w = w_;
        const bool masked = options_.estimate_boundary;
        complex *K = kernel_f_.data(), *data = data_f_.data(), *x_f = x_f_.data(), *r = r_f_.data();
        // Start from the blurry image, smoothly extended over the canvas.
        periodic_extension(blurry, h, w, x_.data(), ph, pw);
        Fft::template forward<T>(ph, pw, x_.data(), x_f);
        // Data term K'M y (masked: the image with a zero band) or K' y_extended (unmasked).
        if (masked) {
            // Clipped highlights are not data (DeconvOptions::saturation).
            holes_ = false;
            const double saturation = options_.saturation;
            for (std::size_t i = 0; i < h * w && !holes_; ++i) holes_ = DeconvOptions::is_clipped(blurry[i], saturation);
            if (holes_) {
                observed_.resize(h * w);
                for (std::size_t i = 0; i < h * w; ++i) observed_[i] = DeconvOptions::is_clipped(blurry[i], saturation) ? T(0) : T(1);
            }
            T* work = work_.data();
            for (std::size_t row = 0; row < ph; ++row) {
                T* d = work + row * pw;
                const std::size_t seen = row < h ? w : 0;
                for (std::size_t c = 0; c < seen; ++c) d[c] = holes_ ? blurry[row * w + c] * observed_[row * w + c] : blurry[row * w + c];
                for (std::size_t c = seen; c < pw; ++c) d[c] = T(0);
            }
            Fft::template forward<T>(ph, pw, work_.data(), data);
        }
        const complex* y_f = masked ? data : x_f;
        complex* kmk_x = kmk_x_f_.data();
        const std::size_t wc = wc_;
        for_rows(ph, [&](std::size_t u0, std::size_t u1) {
            for (std::size_t i = u0 * wc; i < u1 * wc; ++i) {
                data[i] = complex_mul_conj(K[i], y_f[i]);
                if (masked) kmk_x[i] = complex_mul(x_f[i], K[i]);
            }
        });
        if (masked) {
            masked_round_trip(kmk_x_f_);
            for_rows(ph, [&](std::size_t u0, std::size_t u1) {
                for (std::size_t i = u0 * wc; i < u1 * wc; ++i) kmk_x[i] = complex_mul_conj(K[i], kmk_x[i]);
            });
        }

        // x_ holds x times `scale` (the inverse transform is unnormalised; the
        // factor is applied where x_ is read rather than in a pass of its own).
        T scale = T(1);
        const auto w_step = [&](const auto& shrink) {
            shrink_adjoint(shrink, scale);
            Fft::template forward<T>(ph, pw, work_.data(), r);  // F(D'w)
        };
        const auto x_step = [&](T mu) {
            if (masked) {
                solve_masked(mu, options_.boundary_iterations);
            } else {
                const T* gp = gradient_power_.data();
                for_rows(ph, [&](std::size_t u0, std::size_t u1) {
                    for (std::size_t i = u0 * wc; i < u1 * wc; ++i)
                        x_f[i] = (r[i] + mu * data[i]) * (T(1) / (mu * std::norm(K[i]) + gp[i]));
                });
            }
            Fft::template inverse<T>(ph, pw, x_f, x_.data());
            scale = T(1) / static_cast<T>(ph * pw);
        };
        detail::half_quadratic_splitting<T>(options_, table_, w_step, x_step);
        for (std::size_t row = 0; row < h; ++row)
            for (std::size_t c = 0; c < w; ++c) out[row * w + c] = scale * x_[row * pw + c];
    }

    DeconvOptions options_;
    std::size_t h_ = 0, w_ = 0, ph_ = 0, pw_ = 0, wc_ = 0;
    int threads_ = 1;  // for the passes over the canvas
    rbuf x_, work_, rows_;
    bool holes_ = false;  // the channel being solved has clipped pixels: observed_ marks the others (1) in h x w
    rbuf observed_;
    std::vector<double> row_sums_;  // per-row partial sums of the CG's inner products
    // Half spectra: the kernel, K'My, x, K'MK x, the CG residual, direction and K'MK direction.
    cbuf kernel_f_, data_f_, x_f_, kmk_x_f_, r_f_, p_f_, q_f_;
    rbuf gradient_power_, inv_den_;
    std::optional<ShrinkageTable<T>> table_;
};

// One-off convenience: deconvolve `blurry` with `kernel` (see the class above).
template <class T, class Fft = fft::Fftw>
xt::xtensor<T, 2> deconvolve(const xt::xtensor<T, 2>& blurry, const xt::xtensor<T, 2>& kernel,
                             const DeconvOptions& options = {}) {
    HyperLaplacianDeconvolver<T, Fft> solver(options);
    return solver.deconvolve(blurry, kernel);
}

}  // namespace deblur
