#pragma once
// The efficient filter flow (EFF) forward model of spatially-varying blur
// (Hirsch, Sra, Schoelkopf & Harmeling, CVPR 2010; used by the paper's
// Section 5.3): the sharp image x is cut into the overlapping, windowed
// patches of an EFFGrid (eff_grid.hpp; the windows sum to one), each patch is
// blurred with its own kernel, and the results are added:
//
//     y = sum_p  k_p * (w_p . x),
//
// with `*` the convolution of blur.hpp (kernel origin at (Kh/2, Kw/2)) and `.`
// the pixel-wise product. Written out, with (off_r, off_c) as in blur.hpp,
//
//     y[r][c] = sum_p sum_{a,b} k_p[a][b] w_p[r + off_r - a][c + off_c - b] x[r + off_r - a][c + off_c - b],
//
// x being zero outside the image. The windows live on x (the sharp image), so
// with one kernel everywhere the model is exactly the uniform blur:
// sum_p k * (w_p . x) = k * (sum_p w_p . x) = k * x, at every pixel.
//
// Border modes (BlurMode):
//   - valid: y has (H-Kh+1) x (W-Kw+1) pixels, those whose whole footprint lies
//     in x (off = K-1). This is the model of a photo in this library's blind
//     deblurring: training pairs are 'valid' blurs of larger sharp crops, and
//     the non-blind deconvolution solves for a latent canvas larger than the
//     blurry image, of which only the 'valid' part is observed. An EFF model
//     of a photo y is an EFFGrid over the (Hy+Kh-1) x (Wy+Kw-1) latent image.
//   - same: y has H x W pixels, x taken as zero outside (off = K/2); for
//     operators on same-sized maps (e.g. feature images in kernel estimation).
//   - circular is not supported (patches do not wrap around).
//
// Operators (A = A(k), linear in x and in the kernels k = (k_p)):
//   - apply:           y = A x;
//   - apply_adjoint:   x = A^T g (the transpose with respect to x);
//   - kernel_gradient: d<A(k) x, g>/dk_p for every patch p (the transpose of
//     k -> A(k) x), which kernel estimation with the EFF model needs.
// Each patch goes through the FFT policy (padded to one even 7-smooth size,
// real_fft_size.hpp, large enough for a linear convolution of the largest
// patch) or, for small kernels, a direct sum (BlurMethod; `automatic` picks
// the faster by a cost model). set_kernels transforms the kernels once, so
// repeated apply/apply_adjoint (e.g. conjugate gradients for x) cost two
// transforms per patch. Spectra and scratch buffers are kept between calls;
// an EFFBlur object is therefore not to be shared between threads.
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "../core/tensor.hpp"
#include "../fft/fftw.hpp"
#include "blur_method.hpp"
#include "blur_mode.hpp"
#include "eff_grid.hpp"
#include "real_fft_size.hpp"

namespace deblur {

template <class T, class Fft = fft::Fftw>
class EFFBlur {
    static_assert(std::is_floating_point_v<T>, "deblur::EFFBlur: the scalar type must be float or double");

public:
    using scalar = T;

    // The model for images of the grid's size and kernels of kernel_rows x kernel_cols.
    EFFBlur(const EFFGrid& grid, std::size_t kernel_rows, std::size_t kernel_cols, BlurMode mode,
            BlurMethod method = BlurMethod::automatic)
        : grid_(grid), kh_(kernel_rows), kw_(kernel_cols), mode_(mode) {
        const std::size_t h = grid.rows(), w = grid.cols();
        if (kh_ == 0 || kw_ == 0) throw std::invalid_argument("deblur::EFFBlur: empty kernel");
        if (mode == BlurMode::circular)
            throw std::invalid_argument("deblur::EFFBlur: circular mode is not supported (use 'valid' or 'same')");
        if (mode == BlurMode::valid) {
            if (kh_ > h || kw_ > w)
                throw std::invalid_argument("deblur::EFFBlur: a 'valid' model needs kernels (" + size_string(kh_, kw_) +
                                            ") no larger than the image (" + size_string(h, w) + ")");
            out_h_ = h - kh_ + 1;
            out_w_ = w - kw_ + 1;
            off_r_ = static_cast<std::ptrdiff_t>(kh_ - 1);
            off_c_ = static_cast<std::ptrdiff_t>(kw_ - 1);
        } else {
            out_h_ = h;
            out_w_ = w;
            off_r_ = static_cast<std::ptrdiff_t>(kh_ / 2);
            off_c_ = static_cast<std::ptrdiff_t>(kw_ / 2);
        }
        for (std::size_t i = 0; i < grid.grid_rows(); ++i)
            row_windows_.emplace_back(grid.row_window(i).begin(), grid.row_window(i).end());
        for (std::size_t j = 0; j < grid.grid_cols(); ++j)
            col_windows_.emplace_back(grid.col_window(j).begin(), grid.col_window(j).end());
        ph_ = real_fft_size(grid.max_patch_rows() + kh_ - 1);
        pw_ = real_fft_size(grid.max_patch_cols() + kw_ - 1);
        nc_ = ph_ * (pw_ / 2 + 1);
        use_fft_ = method == BlurMethod::fft || (method == BlurMethod::automatic && prefers_fft());
        if (!use_fft_) partial_.assign(kw_ * grid.max_patch_cols(), T(0));
        patch_.assign(use_fft_ ? ph_ * pw_ : grid.max_patch_rows() * grid.max_patch_cols(), T(0));
        if (use_fft_) {
            spectrum_.assign(nc_, {});
            spectrum2_.assign(nc_, {});
        }
    }

    const EFFGrid& grid() const { return grid_; }
    BlurMode mode() const { return mode_; }
    std::size_t patches() const { return grid_.patches(); }
    std::size_t kernel_rows() const { return kh_; }
    std::size_t kernel_cols() const { return kw_; }
    // Sizes of x (the input of apply) and y (its output).
    std::size_t in_rows() const { return grid_.rows(); }
    std::size_t in_cols() const { return grid_.cols(); }
    std::size_t out_rows() const { return out_h_; }
    std::size_t out_cols() const { return out_w_; }
    // Whether the FFT path is used (BlurMethod, or the cost model's choice).
    bool uses_fft() const { return use_fft_; }
    // The padded transform size of every patch (FFT path).
    std::size_t fft_rows() const { return ph_; }
    std::size_t fft_cols() const { return pw_; }

    // The kernel field: patches() x Kh x Kw, kernel p for patch p = i * grid_cols + j.
    void set_kernels(const Tensor<T>& kernels) {
        if (kernels.shape(0) != patches() || kernels.shape(1) != kh_ || kernels.shape(2) != kw_)
            throw std::invalid_argument("deblur::EFFBlur: the kernel field must be " + std::to_string(patches()) +
                                        " x " + size_string(kh_, kw_) + ", got " + std::to_string(kernels.shape(0)) +
                                        " x " + size_string(kernels.shape(1), kernels.shape(2)));
        kernels_ = kernels;
        if (use_fft_) {
            kernel_f_.resize(patches() * nc_);
            for (std::size_t p = 0; p < patches(); ++p) {
                std::fill(patch_.begin(), patch_.end(), T(0));
                const T* k = kernels_.data() + p * kh_ * kw_;
                for (std::size_t a = 0; a < kh_; ++a)
                    for (std::size_t b = 0; b < kw_; ++b) patch_[a * pw_ + b] = k[a * kw_ + b];
                Fft::template forward<T>(ph_, pw_, patch_.data(), kernel_f_.data() + p * nc_);
            }
        }
        has_kernels_ = true;
    }
    bool has_kernels() const { return has_kernels_; }
    const Tensor<T>& kernels() const { return kernels_; }

    // y = A x: x is in_rows() x in_cols(); y is resized to out_rows() x out_cols() if needed.
    void apply(const xt::xtensor<T, 2>& x, xt::xtensor<T, 2>& y) {
        require_kernels("apply");
        check_shape(x, in_rows(), in_cols(), "apply: the image");
        if (&y == &x) throw std::invalid_argument("deblur::EFFBlur: apply: the output must not alias the input");
        resize_to(y, out_h_, out_w_);
        std::fill(y.begin(), y.end(), T(0));
        for (std::size_t p = 0; p < patches(); ++p) {
            const Patch pt = patch_geometry(p);
            const T* k = kernels_.data() + p * kh_ * kw_;
            if (use_fft_) {
                load_windowed(x, pt, pw_);
                Fft::template forward<T>(ph_, pw_, patch_.data(), spectrum_.data());
                const std::complex<T>* kf = kernel_f_.data() + p * nc_;
                for (std::size_t n = 0; n < nc_; ++n) spectrum_[n] *= kf[n];
                Fft::template inverse<T>(ph_, pw_, spectrum_.data(), patch_.data());
                // Full linear convolution of the patch: row u lands on y row r0 + u - off_r.
                const T scale = T(1) / static_cast<T>(ph_ * pw_);  // the inverse transform is unnormalised
                for (std::size_t u = 0; u < pt.h + kh_ - 1; ++u) {
                    const std::ptrdiff_t r = static_cast<std::ptrdiff_t>(pt.r0 + u) - off_r_;
                    if (r < 0 || r >= static_cast<std::ptrdiff_t>(out_h_)) continue;
                    const auto [v_lo, v_hi] = out_span(pt.c0, pt.w + kw_ - 1, off_c_, out_w_);
                    T* yr = y.data() + static_cast<std::size_t>(r) * out_w_;
                    const T* fr = patch_.data() + u * pw_;
                    for (std::ptrdiff_t v = v_lo; v < v_hi; ++v)
                        yr[static_cast<std::ptrdiff_t>(pt.c0) + v - off_c_] += scale * fr[v];
                }
            } else {
                load_windowed(x, pt, pt.w);
                // y[r0 + u + a - off_r][c0 + v + b - off_c] += k[a][b] z[u][v]
                for (std::size_t a = 0; a < kh_; ++a)
                    for (std::size_t u = 0; u < pt.h; ++u) {
                        const std::ptrdiff_t r = static_cast<std::ptrdiff_t>(pt.r0 + u + a) - off_r_;
                        if (r < 0 || r >= static_cast<std::ptrdiff_t>(out_h_)) continue;
                        T* yr = y.data() + static_cast<std::size_t>(r) * out_w_;
                        const T* zr = patch_.data() + u * pt.w;
                        for (std::size_t b = 0; b < kw_; ++b) {
                            const T kv = k[a * kw_ + b];
                            const std::ptrdiff_t shift = static_cast<std::ptrdiff_t>(pt.c0 + b) - off_c_;
                            const auto [v_lo, v_hi] = out_span_shifted(shift, pt.w, out_w_);
                            T* ys = yr + shift;
                            for (std::ptrdiff_t v = v_lo; v < v_hi; ++v) ys[v] += kv * zr[v];
                        }
                    }
            }
        }
    }

    xt::xtensor<T, 2> apply(const xt::xtensor<T, 2>& x) {
        xt::xtensor<T, 2> y;
        apply(x, y);
        return y;
    }

    // x = A^T g: g is out_rows() x out_cols(); x is resized to in_rows() x in_cols() if needed.
    void apply_adjoint(const xt::xtensor<T, 2>& g, xt::xtensor<T, 2>& x) {
        require_kernels("apply_adjoint");
        check_shape(g, out_h_, out_w_, "apply_adjoint: the output-side image");
        if (&g == &x) throw std::invalid_argument("deblur::EFFBlur: apply_adjoint: the output must not alias the input");
        resize_to(x, in_rows(), in_cols());
        std::fill(x.begin(), x.end(), T(0));
        const std::size_t W = in_cols();
        for (std::size_t p = 0; p < patches(); ++p) {
            const Patch pt = patch_geometry(p);
            const T* k = kernels_.data() + p * kh_ * kw_;
            const T* wr = row_windows_[pt.i].data();
            const T* wc = col_windows_[pt.j].data();
            if (use_fft_) {
                // Correlate the region of g this patch reaches with k: conj(K) in Fourier space.
                load_reach(g, pt);
                Fft::template forward<T>(ph_, pw_, patch_.data(), spectrum_.data());
                const std::complex<T>* kf = kernel_f_.data() + p * nc_;
                for (std::size_t n = 0; n < nc_; ++n) spectrum_[n] *= std::conj(kf[n]);
                Fft::template inverse<T>(ph_, pw_, spectrum_.data(), patch_.data());
                const T scale = T(1) / static_cast<T>(ph_ * pw_);  // the inverse transform is unnormalised
                for (std::size_t u = 0; u < pt.h; ++u) {
                    T* xr = x.data() + (pt.r0 + u) * W + pt.c0;
                    const T* zr = patch_.data() + u * pw_;
                    const T wu = scale * wr[u];
                    for (std::size_t v = 0; v < pt.w; ++v) xr[v] += wu * wc[v] * zr[v];
                }
            } else {
                // z[u][v] = sum_{a,b} k[a][b] g[r0 + u + a - off_r][c0 + v + b - off_c]
                std::fill(patch_.begin(), patch_.begin() + static_cast<std::ptrdiff_t>(pt.h * pt.w), T(0));
                for (std::size_t a = 0; a < kh_; ++a)
                    for (std::size_t u = 0; u < pt.h; ++u) {
                        const std::ptrdiff_t r = static_cast<std::ptrdiff_t>(pt.r0 + u + a) - off_r_;
                        if (r < 0 || r >= static_cast<std::ptrdiff_t>(out_h_)) continue;
                        const T* gr = g.data() + static_cast<std::size_t>(r) * out_w_;
                        T* zr = patch_.data() + u * pt.w;
                        for (std::size_t b = 0; b < kw_; ++b) {
                            const T kv = k[a * kw_ + b];
                            const std::ptrdiff_t shift = static_cast<std::ptrdiff_t>(pt.c0 + b) - off_c_;
                            const auto [v_lo, v_hi] = out_span_shifted(shift, pt.w, out_w_);
                            const T* gs = gr + shift;
                            for (std::ptrdiff_t v = v_lo; v < v_hi; ++v) zr[v] += kv * gs[v];
                        }
                    }
                for (std::size_t u = 0; u < pt.h; ++u) {
                    T* xr = x.data() + (pt.r0 + u) * W + pt.c0;
                    const T* zr = patch_.data() + u * pt.w;
                    for (std::size_t v = 0; v < pt.w; ++v) xr[v] += wr[u] * wc[v] * zr[v];
                }
            }
        }
    }

    xt::xtensor<T, 2> apply_adjoint(const xt::xtensor<T, 2>& g) {
        xt::xtensor<T, 2> x;
        apply_adjoint(g, x);
        return x;
    }

    // grad[p] = d<A(k) x, g>/dk_p = sum over the patch of (w_p . x) correlated with g:
    //   grad[p][a][b] = sum_{r,c} g[r][c] (w_p . x)[r + off_r - a][c + off_c - b].
    // x is in_rows() x in_cols(), g out_rows() x out_cols(); grad is resized to
    // patches() x Kh x Kw if needed. Needs no kernels.
    void kernel_gradient(const xt::xtensor<T, 2>& x, const xt::xtensor<T, 2>& g, Tensor<T>& grad) {
        check_shape(x, in_rows(), in_cols(), "kernel_gradient: the image");
        check_shape(g, out_h_, out_w_, "kernel_gradient: the output-side image");
        resize(grad, patches(), kh_, kw_);
        for (std::size_t p = 0; p < patches(); ++p) {
            const Patch pt = patch_geometry(p);
            T* gk = grad.data() + p * kh_ * kw_;
            if (use_fft_) {
                load_windowed(x, pt, pw_);
                Fft::template forward<T>(ph_, pw_, patch_.data(), spectrum2_.data());
                load_reach(g, pt);
                Fft::template forward<T>(ph_, pw_, patch_.data(), spectrum_.data());
                for (std::size_t n = 0; n < nc_; ++n) spectrum_[n] *= std::conj(spectrum2_[n]);
                Fft::template inverse<T>(ph_, pw_, spectrum_.data(), patch_.data());
                const T scale = T(1) / static_cast<T>(ph_ * pw_);  // the inverse transform is unnormalised
                for (std::size_t a = 0; a < kh_; ++a)
                    for (std::size_t b = 0; b < kw_; ++b) gk[a * kw_ + b] = scale * patch_[a * pw_ + b];
            } else {
                load_windowed(x, pt, pt.w);
                // Row by row, so that a row of the patch and of g stay in cache for
                // every b; the products are summed over u element-wise per column v
                // (a vectorisable multiply-add, as in apply), and over v at the end.
                for (std::size_t a = 0; a < kh_; ++a) {
                    std::fill(partial_.begin(), partial_.end(), T(0));
                    for (std::size_t u = 0; u < pt.h; ++u) {
                        const std::ptrdiff_t r = static_cast<std::ptrdiff_t>(pt.r0 + u + a) - off_r_;
                        if (r < 0 || r >= static_cast<std::ptrdiff_t>(out_h_)) continue;
                        const T* gr = g.data() + static_cast<std::size_t>(r) * out_w_;
                        const T* zr = patch_.data() + u * pt.w;
                        for (std::size_t b = 0; b < kw_; ++b) {
                            const std::ptrdiff_t shift = static_cast<std::ptrdiff_t>(pt.c0 + b) - off_c_;
                            const auto [v_lo, v_hi] = out_span_shifted(shift, pt.w, out_w_);
                            const T* gs = gr + shift;
                            T* acc = partial_.data() + b * grid_.max_patch_cols();
                            for (std::ptrdiff_t v = v_lo; v < v_hi; ++v) acc[v] += zr[v] * gs[v];
                        }
                    }
                    for (std::size_t b = 0; b < kw_; ++b) {
                        const T* acc = partial_.data() + b * grid_.max_patch_cols();
                        T s = T(0);
                        for (std::size_t v = 0; v < pt.w; ++v) s += acc[v];
                        gk[a * kw_ + b] = s;
                    }
                }
            }
        }
    }

    Tensor<T> kernel_gradient(const xt::xtensor<T, 2>& x, const xt::xtensor<T, 2>& g) {
        Tensor<T> grad;
        kernel_gradient(x, g, grad);
        return grad;
    }

private:
    using rvec = typename Fft::template vector<T>;
    using cvec = typename Fft::template vector<std::complex<T>>;

    struct Patch {
        std::size_t i, j;  // grid row and column
        std::size_t r0, c0, h, w;
    };

    static std::string size_string(std::size_t h, std::size_t w) { return std::to_string(h) + "x" + std::to_string(w); }

    static void check_shape(const xt::xtensor<T, 2>& a, std::size_t h, std::size_t w, const char* what) {
        if (a.shape(0) != h || a.shape(1) != w)
            throw std::invalid_argument(std::string("deblur::EFFBlur: ") + what + " must be " + size_string(h, w) +
                                        ", got " + size_string(a.shape(0), a.shape(1)));
    }

    static void resize_to(xt::xtensor<T, 2>& a, std::size_t h, std::size_t w) {
        if (a.shape(0) != h || a.shape(1) != w) a.resize({h, w});
    }

    void require_kernels(const char* what) const {
        if (!has_kernels_)
            throw std::logic_error(std::string("deblur::EFFBlur: ") + what + " before set_kernels");
    }

    Patch patch_geometry(std::size_t p) const {
        const std::size_t i = grid_.grid_row(p), j = grid_.grid_col(p);
        return {i, j, grid_.row_begin(i), grid_.col_begin(j), grid_.row_end(i) - grid_.row_begin(i),
                grid_.col_end(j) - grid_.col_begin(j)};
    }

    // Columns v in [0, n) of a patch row whose output column c0 + v - off lies in [0, out_w).
    static std::pair<std::ptrdiff_t, std::ptrdiff_t> out_span(std::size_t c0, std::size_t n, std::ptrdiff_t off,
                                                              std::size_t out_w) {
        return out_span_shifted(static_cast<std::ptrdiff_t>(c0) - off, n, out_w);
    }
    // Columns v in [0, n) with shift + v in [0, out_w).
    static std::pair<std::ptrdiff_t, std::ptrdiff_t> out_span_shifted(std::ptrdiff_t shift, std::size_t n,
                                                                      std::size_t out_w) {
        const std::ptrdiff_t lo = std::max<std::ptrdiff_t>(0, -shift);
        const std::ptrdiff_t hi = std::min<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(n),
                                                           static_cast<std::ptrdiff_t>(out_w) - shift);
        return {lo, std::max(lo, hi)};
    }

    // patch_ = w_p . x over the patch, rows `stride` apart; with the FFT stride
    // the rest of the padded buffer is zero.
    void load_windowed(const xt::xtensor<T, 2>& x, const Patch& pt, std::size_t stride) {
        const T* wr = row_windows_[pt.i].data();
        const T* wc = col_windows_[pt.j].data();
        if (use_fft_) std::fill(patch_.begin(), patch_.end(), T(0));
        const std::size_t W = in_cols();
        for (std::size_t u = 0; u < pt.h; ++u) {
            const T* xr = x.data() + (pt.r0 + u) * W + pt.c0;
            T* zr = patch_.data() + u * stride;
            for (std::size_t v = 0; v < pt.w; ++v) zr[v] = wr[u] * wc[v] * xr[v];
        }
    }

    // patch_ (padded) = the part of g that the full convolution of the patch
    // reaches: row u, column v holds g[r0 + u - off_r][c0 + v - off_c] for
    // u < h + Kh - 1, v < w + Kw - 1 (zero where that is outside g), zero beyond.
    void load_reach(const xt::xtensor<T, 2>& g, const Patch& pt) {
        std::fill(patch_.begin(), patch_.end(), T(0));
        const auto [v_lo, v_hi] = out_span(pt.c0, pt.w + kw_ - 1, off_c_, out_w_);
        for (std::size_t u = 0; u < pt.h + kh_ - 1; ++u) {
            const std::ptrdiff_t r = static_cast<std::ptrdiff_t>(pt.r0 + u) - off_r_;
            if (r < 0 || r >= static_cast<std::ptrdiff_t>(out_h_)) continue;
            const T* gr = g.data() + static_cast<std::size_t>(r) * out_w_ + static_cast<std::ptrdiff_t>(pt.c0) - off_c_;
            T* zr = patch_.data() + u * pw_;
            for (std::ptrdiff_t v = v_lo; v < v_hi; ++v) zr[v] = gr[v];
        }
    }

    // Cost model as in blur.hpp (~0.06 ns per direct multiply-add, ~0.3 ns per
    // n log2 n of a padded transform): the FFT path costs two transforms per
    // patch once the kernels are transformed.
    bool prefers_fft() const {
        double direct = 0;
        for (std::size_t p = 0; p < patches(); ++p) {
            const Patch pt = patch_geometry(p);
            direct += static_cast<double>(pt.h) * static_cast<double>(pt.w) * static_cast<double>(kh_ * kw_);
        }
        const double n = static_cast<double>(ph_) * static_cast<double>(pw_);
        const double fft = static_cast<double>(patches()) * 4.0 * n * std::log2(n + 1.0);
        return fft < direct;
    }

    EFFGrid grid_;
    std::size_t kh_, kw_;
    BlurMode mode_;
    std::size_t out_h_ = 0, out_w_ = 0;
    std::ptrdiff_t off_r_ = 0, off_c_ = 0;
    std::size_t ph_ = 0, pw_ = 0, nc_ = 0;
    bool use_fft_ = false;
    bool has_kernels_ = false;
    std::vector<std::vector<T>> row_windows_, col_windows_;
    Tensor<T> kernels_;
    rvec patch_;                 // windowed patch / reach of g / inverse transform (FFT: ph x pw)
    cvec spectrum_, spectrum2_;  // per-call spectra (FFT path)
    cvec kernel_f_;              // patches() spectra of the kernels, nc_ each
    std::vector<T> partial_;     // column sums per kernel column b (direct kernel_gradient)
};

}  // namespace deblur
