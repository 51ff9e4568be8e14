#pragma once
// Classical refinement of a blur kernel: coarse-to-fine alternating
// minimisation with an L0 gradient prior on the latent image (Xu, Zheng & Jia
// 2013; Pan, Hu, Su & Yang 2014), started from a given kernel (the network's
// estimate) instead of a delta. At each pyramid level, `iterations` times:
//
//   latent  S = argmin ||k * S - y||^2 + lambda ||grad S||_0
//             (half-quadratic splitting, beta = 2 lambda ... beta_max, x beta_rate per step),
//   kernel  k = argmin ||grad S * k - grad y||^2 + gamma ||k||^2
//             over the selected edges of S only (Cho & Lee 2009: the strongest
//             gradients, a threshold that decays per alternation; select_edges)
//             (closed form in the Fourier domain; on the kernel's support by
//             conjugate gradients, warm-started from the current kernel, on the
//             support_levels finest levels of low-noise images, or on all
//             levels with support_solver), then k >= 0, values below
//             `prune` of the peak (with tail_prune: only where not connected
//             to a larger value; prune_kernel.hpp) and 8-connected pieces
//             holding less than `min_component` of the mass removed, sum 1;
//   lambda /= lambda_decay (not below lambda_min).
//
// polish() runs the finest level again on a chosen kernel (polish_passes
// times, lambda scaled by polish_lambda).
//
// The L0 latent keeps only strong, step-like edges, which is what makes the
// kernel update well posed; it is never the final image (that is the
// hyper-Laplacian deconvolution of the full photo). Everything runs on a
// periodic canvas holding the smoothly extended image (periodic_extension.hpp).
// Convolution conventions are those of blur.hpp.
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstddef>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "../blur/center_kernel.hpp"
#include "../blur/prune_kernel.hpp"
#include "../blur/real_fft_size.hpp"
#include "../deconv/deconv_options.hpp"
#include "../deconv/fourier_terms.hpp"
#include "../deconv/periodic_extension.hpp"
#include "../fft/buffer.hpp"
#include "../fft/fftw.hpp"
#include "../net/linear_resize.hpp"

namespace deblur {

struct KernelRefinerOptions {
    int iterations = 10;          // latent/kernel alternations per pyramid level (fewer lose quality, more gain none; BENCHMARKS.md)
    double lambda = 2e-3;         // L0 weight at the start of each level (intensities in [0, 1]); see BENCHMARKS.md
    double lambda_decay = 1.1;    // lambda shrinks by this factor per alternation ...
    double lambda_min = 1e-4;     // ... down to this
    double kernel_weight = 50;    // gamma: Tikhonov weight of the kernel update (sums over pixels); see BENCHMARKS.md
    double prune = 0.05;          // kernel values below this fraction of the peak are set to zero
    double min_component = 0.1;   // 8-connected kernel pieces with less mass are removed
    // Hysteresis: values down to tail_prune of the peak, but not below
    // tail_noise times the RMS of the update's negative values (its noise),
    // are kept where 8-connected to a value above `prune`: the faint tail of
    // a long blur survives, noise does not. 0: off, all below `prune` is cut
    // (BENCHMARKS.md "Tail pruning"). Images that get the support solver use
    // support_tail_noise instead: the sharper update's faint tails fall below
    // 2.5.
    double tail_prune = 0.02;
    double tail_noise = 2.5;
    double beta_rate = 2;         // half-quadratic penalty growth per latent step (beta = 2 lambda ... beta_max)
    double beta_max = 1e3;        // the last latent step's penalty (Xu et al., Pan et al.: 1e5; BENCHMARKS.md)
    double coarsest_kernel = 9;   // kernel size (px) at the coarsest pyramid level
    double level_ratio = 1.4142135623730951;  // image and kernel scale between levels
    // Kernel update restricted to the kernel's support (conjugate gradients,
    // as Cho & Lee 2009 and Pan et al. 2016) instead of the closed form on the
    // whole canvas; its Tikhonov weight is support_kernel_weight. It runs on
    // the finest support_levels levels of images whose noise (refine's
    // `noise`) is known and at most support_max_noise, or on every level of
    // any image with support_solver. The closed form's cropped minimiser is
    // smoother (thicker kernels) than the true blur; the support solver
    // sharpens it, and on the finest level only it does not fail as it does
    // from the coarsest one. It needs clean images: it wins on Levin (noise
    // ~0.002) and loses from noise 0.005 on (BENCHMARKS.md, "The kernel
    // update on its support at the finest level").
    int support_levels = 1;
    double support_max_noise = 0.004;
    double support_tail_noise = 2;
    bool support_solver = false;
    double support_kernel_weight = 2;
    int solver_iterations = 20;
    // Cho & Lee's edge selection for the kernel update: only the latent's
    // gradients above a threshold (set on the blurry image so that each of 4
    // directions keeps edge_pixels x kernel-size pixels, then / edge_decay per
    // alternation), and only inside the image, not on the canvas' smooth extension.
    bool select_edges = true;  // better kernels on Levin than all gradients (BENCHMARKS.md, "Edge selection")
    double edge_pixels = 20;
    double edge_decay = 1.1;
    // Clipped highlights: with select_edges, no gradient within the kernel's
    // radius of a pixel at `saturation` (the top of the range; as
    // DeconvOptions::is_clipped) is used: the blur of a lamp is cut off
    // there, which no kernel explains. Infinity: off.
    double saturation = 1;
    // polish(): further passes of the finest level on a chosen kernel, each
    // from the blurry image (latent, edge threshold, lambda schedule) with
    // the previous pass's kernel and lambda times polish_lambda: a start far
    // closer to the blur than the coarser level's kernel, and a weaker L0
    // weight that leaves the latent more of the edges the kernel update
    // needs (BENCHMARKS.md, "Polishing the chosen kernel").
    int polish_passes = 1;
    double polish_lambda = 0.4;

    void validate() const {
        if (iterations < 1) throw std::invalid_argument("deblur::KernelRefinerOptions: iterations must be at least 1");
        if (polish_passes < 0 || !(polish_lambda > 0))
            throw std::invalid_argument("deblur::KernelRefinerOptions: polish_passes must be >= 0, polish_lambda positive");
        if (!(lambda > 0) || !(lambda_min > 0) || !(lambda_decay >= 1) || !(kernel_weight > 0))
            throw std::invalid_argument("deblur::KernelRefinerOptions: lambda, lambda_min, kernel_weight must be positive, lambda_decay >= 1");
        if (!(prune >= 0 && prune < 1) || !(min_component >= 0 && min_component < 1))
            throw std::invalid_argument("deblur::KernelRefinerOptions: prune and min_component must be in [0, 1)");
        if (!(tail_prune >= 0 && tail_prune <= prune) || !(tail_noise >= 0))
            throw std::invalid_argument("deblur::KernelRefinerOptions: tail_prune must be in [0, prune], tail_noise >= 0");
        if (!(beta_rate > 1) || !(beta_max > 0))
            throw std::invalid_argument("deblur::KernelRefinerOptions: beta_rate must exceed 1, beta_max must be positive");
        if (!(coarsest_kernel >= 3) || !(level_ratio > 1))
            throw std::invalid_argument("deblur::KernelRefinerOptions: coarsest_kernel must be >= 3 and level_ratio > 1");
        if (!(support_kernel_weight > 0) || solver_iterations < 1 || support_levels < 0 || !(support_max_noise >= 0) ||
            !(support_tail_noise >= 0))
            throw std::invalid_argument("deblur::KernelRefinerOptions: support_kernel_weight must be positive, "
                                        "solver_iterations >= 1, support_levels, support_max_noise, support_tail_noise >= 0");
        if (!(edge_pixels > 0) || !(edge_decay >= 1) || std::isnan(saturation))
            throw std::invalid_argument("deblur::KernelRefinerOptions: edge_pixels must be positive, edge_decay >= 1, "
                                        "saturation a number");
    }
};

template <class T = float, class Fft = fft::Fftw>
class KernelRefiner {
public:
    using Kernel = xt::xtensor<T, 2>;
    using Image = xt::xtensor<T, 2>;

    explicit KernelRefiner(KernelRefinerOptions options = {}) { set_options(options); }
    const KernelRefinerOptions& options() const { return options_; }
    void set_options(const KernelRefinerOptions& options) {
        options.validate();
        options_ = options;
    }

    // Support for refining a kernel estimated with an n x n support: the
    // estimate may have missed faint tails, so the refinement gets room to grow.
    static int support_for(std::size_t n, double growth = 1.5) {
        return std::max(3, odd(static_cast<double>(n) * growth));
    }

    // A size x size kernel (odd, sum 1, centred) for the gray image `blurry`,
    // started from `initial` (any odd size; empty: a delta). The initial
    // kernel is resampled to the coarsest level's size. `noise`: the image's
    // noise standard deviation if known (< 0: unknown), for support_levels.
    Kernel refine(const Image& blurry, const Kernel& initial, int size, double noise = -1,
                  const std::function<void(const std::string&)>& progress = {}) {
        check_inputs(blurry, initial, size);
        const int levels = level_count(size);
        begin_image(blurry, size, noise, levels);
        Kernel k;
        for (int level = levels - 1; level >= 0; --level) {
            const Level at = level_geometry(blurry, size, level);
            k = level == levels - 1 ? start_kernel(initial, at.n, at.factor) : resample_kernel(k, at.n);
            if (progress)
                progress("refining the kernel at " + std::to_string(at.w) + " x " + std::to_string(at.h) + " (" +
                         std::to_string(at.n) + " px)");
            k = refine_level(level_image(blurry, at, level), k, options_.lambda);
        }
        return k;
    }

    // `kernel` (odd, square: the support refine() gave it) after
    // polish_passes more passes of the finest level (see the options);
    // unchanged when polish_passes is 0.
    Kernel polish(const Image& blurry, const Kernel& kernel, double noise = -1,
                  const std::function<void(const std::string&)>& progress = {}) {
        if (kernel.size() == 0 || kernel.shape(0) != kernel.shape(1))
            throw std::invalid_argument("deblur::KernelRefiner: the kernel to polish must be square");
        const int size = static_cast<int>(kernel.shape(0));
        check_inputs(blurry, kernel, size);
        if (options_.polish_passes == 0) return kernel;
        begin_image(blurry, size, noise, level_count(size));
        const Level at = level_geometry(blurry, size, 0);
        if (progress)
            progress("polishing the kernel at " + std::to_string(at.w) + " x " + std::to_string(at.h) + " (" +
                     std::to_string(size) + " px, " + std::to_string(options_.polish_passes) +
                     (options_.polish_passes == 1 ? " pass)" : " passes)"));
        const Image y = level_image(blurry, at, 0);
        Kernel k = kernel;
        for (int pass = 0; pass < options_.polish_passes; ++pass)
            k = refine_level(y, k, options_.lambda * options_.polish_lambda);
        return k;
    }

private:
    using rvec = fft::Buffer<T>;
    using cvec = fft::Buffer<std::complex<T>>;

    // The element-wise passes stay on one thread: the canvases are at most
    // ~600^2, where OpenMP's barriers (hundreds per level) cost more than
    // they save once another process shares the cores (measured 4x slower
    // under load); FFTW still threads the transforms from 512^2 (fftw.hpp).

    static int odd(double x) { return 2 * static_cast<int>(std::floor(x / 2)) + 1; }

    static void check_inputs(const Image& blurry, const Kernel& initial, int size) {
        if (size < 3 || size % 2 == 0) throw std::invalid_argument("deblur::KernelRefiner: the kernel size must be odd and >= 3");
        if (blurry.shape(0) < 2 * std::size_t(size) || blurry.shape(1) < 2 * std::size_t(size))
            throw std::invalid_argument("deblur::KernelRefiner: the image must be at least twice the kernel size");
        if (initial.size() > 0 && (initial.shape(0) % 2 == 0 || initial.shape(1) % 2 == 0))
            throw std::invalid_argument("deblur::KernelRefiner: the initial kernel must have odd sides");
        for (T v : blurry)
            if (!std::isfinite(static_cast<double>(v)))
                throw std::invalid_argument("deblur::KernelRefiner: the image contains NaN or infinity");
    }

    int level_count(int size) const {
        return std::max(1, 1 + static_cast<int>(std::floor(std::log(size / options_.coarsest_kernel) / std::log(options_.level_ratio))));
    }

    // A pyramid level: the image's scale, the kernel's size and the image's size there.
    struct Level {
        double factor;
        int n;
        std::size_t h, w;
    };
    Level level_geometry(const Image& blurry, int size, int level) const {
        const double factor = std::pow(options_.level_ratio, -level);
        const int n = level == 0 ? size : std::max(3, odd(size * factor));
        return {factor, n, std::max<std::size_t>(2 * n, std::size_t(std::lround(blurry.shape(0) * factor))),
                std::max<std::size_t>(2 * n, std::size_t(std::lround(blurry.shape(1) * factor)))};
    }

    // Per image: the kernel update's tail rule, the buffers, the clipped
    // pixels and the edge threshold (Cho & Lee's, set on the coarsest level).
    void begin_image(const Image& blurry, int size, double noise, int levels) {
        low_noise_ = noise >= 0 && noise <= options_.support_max_noise;
        const bool any_on_support = options_.support_solver || (low_noise_ && options_.support_levels > 0);
        tail_noise_ = any_on_support ? options_.support_tail_noise : options_.tail_noise;
        // The finest level's canvas is the largest: allocating it first spares
        // the coarser levels' fresh pages (each level would grow the buffers).
        reserve(real_fft_size(blurry.shape(0) + size), real_fft_size(blurry.shape(1) + size));
        // Clipped pixels, found at full resolution: a coarse level's average
        // of a clipped plateau need not reach the saturation level.
        const auto is_clipped = [&](T v) { return DeconvOptions::is_clipped(v, options_.saturation); };
        clipped_ = Image();
        if (options_.select_edges && std::any_of(blurry.begin(), blurry.end(), is_clipped)) {
            clipped_ = Image::from_shape(blurry.shape());
            std::transform(blurry.begin(), blurry.end(), clipped_.begin(), [&](T v) { return is_clipped(v) ? T(1) : T(0); });
        }
        const Level coarsest = level_geometry(blurry, size, levels - 1);
        edge_threshold_ = initial_edge_threshold(resize_image(blurry, coarsest.h, coarsest.w), coarsest.n, options_.edge_pixels);
    }

    // The blurry image at a level, with that level's kernel update set up.
    Image level_image(const Image& blurry, const Level& at, int level) {
        on_support_ = options_.support_solver || (low_noise_ && level < options_.support_levels);
        mark_clipped_surroundings(clipped_.size() ? resize_image(clipped_, at.h, at.w) : Image(), std::size_t(at.n / 2 + 1));
        return resize_image(blurry, at.h, at.w);
    }

    static Image resize_image(const Image& img, std::size_t h, std::size_t w) {
        if (img.shape(0) == h && img.shape(1) == w) return img;
        Tensor<T> in = make_tensor<T>(1, img.shape(0), img.shape(1)), out;
        std::copy(img.begin(), img.end(), in.begin());
        LinearResize<T>(img.shape(0), img.shape(1), h, w).apply(in, out);
        return xt::view(out, 0, xt::all(), xt::all());
    }

    // Non-negative, sum 1, centred n x n kernel from any odd kernel.
    static Kernel resample_kernel(const Kernel& k, int n) {
        Tensor<T> in = make_tensor<T>(1, k.shape(0), k.shape(1)), out;
        std::copy(k.begin(), k.end(), in.begin());
        LinearResize<T>(k.shape(0), k.shape(1), n, n).apply(in, out);
        Kernel r = xt::maximum(xt::view(out, 0, xt::all(), xt::all()), T(0));
        const T sum = xt::sum(r)();
        if (!(sum > 0)) return delta(n);
        r /= sum;
        return center_on_whole_pixels(r);
    }

    static Kernel delta(int n) {
        Kernel d = xt::zeros<T>({std::size_t(n), std::size_t(n)});
        d(n / 2, n / 2) = T(1);
        return d;
    }

    // The initial kernel at the coarsest level: its pixels are full-resolution
    // pixels, so it is shrunk by the level's factor, then centred in n x n.
    static Kernel start_kernel(const Kernel& initial, int n, double factor) {
        if (initial.size() == 0) return delta(n);
        const int m = std::max(1, odd(static_cast<double>(std::max(initial.shape(0), initial.shape(1))) * factor));
        const Kernel small = m == 1 ? delta(1) : resample_kernel(initial, m);
        Kernel out = xt::zeros<T>({std::size_t(n), std::size_t(n)});
        for (int r = 0; r < m; ++r)
            for (int c = 0; c < m; ++c) {
                const int rr = r - m / 2 + n / 2, cc = c - m / 2 + n / 2;
                if (rr >= 0 && cc >= 0 && rr < n && cc < n) out(rr, cc) = small(r, c);
            }
        const T sum = xt::sum(out)();
        return sum > 0 ? Kernel(out / sum) : delta(n);
    }

    // Room for canvases of up to ph x pw (prepare sets the sizes).
    void reserve(std::size_t ph, std::size_t pw) {
        for (rvec* v : {&canvas_, &latent_}) v->resize(ph * pw);
        for (rvec* v : {&grad_power_, &k_power_}) v->resize(ph * (pw / 2 + 1));
        for (cvec* v : {&y_f_, &yx_f_, &yy_f_, &k_f_, &ky_f_, &s_f_, &dx_f_, &dy_f_, &work_f_, &sx_f_, &sy_f_}) v->resize(ph * (pw / 2 + 1));
    }

    void prepare(std::size_t h, std::size_t w, std::size_t n) {
        ph_ = real_fft_size(h + n);
        pw_ = real_fft_size(w + n);
        const std::size_t nr = ph_ * pw_, nc = ph_ * (pw_ / 2 + 1);
        for (rvec* v : {&canvas_, &latent_}) v->resize(nr);
        for (cvec* v : {&y_f_, &yx_f_, &yy_f_, &k_f_, &ky_f_, &s_f_, &dx_f_, &dy_f_, &work_f_, &sx_f_, &sy_f_}) v->resize(nc);
        grad_power_.resize(nc);
        k_power_.resize(nc);
        gradient_power_spectrum(ph_, pw_, grad_power_.data());
        // Transfer functions of the forward differences: impulse responses
        // x[c+1] - x[c] -> taps +1 at -1 and -1 at 0, wrapped on the canvas.
        std::fill(canvas_.begin(), canvas_.end(), T(0));
        canvas_[0] = T(-1);
        canvas_[pw_ - 1] = T(1);
        Fft::template forward<T>(ph_, pw_, canvas_.data(), dx_f_.data());
        std::fill(canvas_.begin(), canvas_.end(), T(0));
        canvas_[0] = T(-1);
        canvas_[(ph_ - 1) * pw_] = T(1);
        Fft::template forward<T>(ph_, pw_, canvas_.data(), dy_f_.data());
    }

    Kernel refine_level(const Image& y, Kernel k, double lambda) {
        const std::size_t h = y.shape(0), w = y.shape(1), n = k.shape(0);
        prepare(h, w, n);
        const std::size_t nc = y_f_.size();
        periodic_extension(y.data(), h, w, canvas_.data(), ph_, pw_);
        std::copy(canvas_.begin(), canvas_.end(), latent_.begin());
        image_h_ = h;
        image_w_ = w;
        if (options_.select_edges) {  // the blurry image's gradients inside the image only
            masked_gradients(canvas_.data(), T(0), gx_, gy_);
            Fft::template forward<T>(ph_, pw_, gx_.data(), yx_f_.data());
            Fft::template forward<T>(ph_, pw_, gy_.data(), yy_f_.data());
        }
        Fft::template forward<T>(ph_, pw_, canvas_.data(), y_f_.data());
        if (!options_.select_edges)
            for (std::size_t i = 0; i < nc; ++i) {
                yx_f_[i] = complex_mul(dx_f_[i], y_f_[i]);
                yy_f_[i] = complex_mul(dy_f_[i], y_f_[i]);
            }
        T threshold = edge_threshold_;
        for (int it = 0; it < options_.iterations; ++it) {
            l0_latent(k, lambda);
            k = estimate_kernel(k, threshold);
            lambda = std::max(options_.lambda_min, lambda / options_.lambda_decay);
            threshold /= static_cast<T>(options_.edge_decay);
        }
        return k;
    }

    // Forward differences of a canvas image inside the image (rows < h - 1,
    // columns < w - 1), zero elsewhere and where |grad|^2 < threshold;
    // returns how many pixels are kept, and the largest |grad|^2 in `strongest`.
    std::size_t masked_gradients(const T* img, T threshold, rvec& gx, rvec& gy, T* strongest = nullptr) const {
        const std::size_t pw = pw_, nr = ph_ * pw_;
        gx.resize(nr);
        gy.resize(nr);
        std::fill(gx.begin(), gx.end(), T(0));
        std::fill(gy.begin(), gy.end(), T(0));
        std::size_t kept = 0;
        T largest = 0;
        const unsigned char* unusable = unusable_.empty() ? nullptr : unusable_.data();
        for (std::size_t r = 0; r + 1 < image_h_; ++r)
            for (std::size_t c = 0; c + 1 < image_w_; ++c) {
                if (unusable && unusable[r * image_w_ + c]) continue;
                const T v = img[r * pw + c], dx = img[r * pw + c + 1] - v, dy = img[(r + 1) * pw + c] - v;
                const T energy = dx * dx + dy * dy;
                largest = std::max(largest, energy);
                if (energy < threshold) continue;
                gx[r * pw + c] = dx;
                gy[r * pw + c] = dy;
                ++kept;
            }
        if (strongest) *strongest = largest;
        return kept;
    }

    // unusable_ (h x w, row-major): 1 within `radius` px (a square) of a
    // pixel where `clipped` (this level's resized 0/1 map of clipped pixels)
    // is positive; left empty when `clipped` is. Two passes of a sliding
    // count, so the cost does not grow with the radius.
    void mark_clipped_surroundings(const Image& clipped, std::size_t radius) {
        unusable_.clear();
        if (clipped.size() == 0) return;
        const std::size_t h = clipped.shape(0), w = clipped.shape(1);
        std::vector<unsigned char> rows(h * w);
        const auto spread = [](const auto& at, std::size_t n, std::size_t radius, const auto& set) {
            std::size_t count = 0;  // clipped among at(0 .. i + radius) minus those before i - radius
            for (std::size_t i = 0; i < std::min(n, radius); ++i) count += at(i);
            for (std::size_t i = 0; i < n; ++i) {
                if (i + radius < n) count += at(i + radius);
                if (i > radius) count -= at(i - radius - 1);
                set(i, count > 0);
            }
        };
        for (std::size_t r = 0; r < h; ++r)
            spread([&](std::size_t c) { return std::size_t(clipped(r, c) > 0); }, w, radius,
                   [&](std::size_t c, bool v) { rows[r * w + c] = v; });
        unusable_.assign(h * w, 0);
        for (std::size_t c = 0; c < w; ++c)
            spread([&](std::size_t r) { return std::size_t(rows[r * w + c]); }, h, radius,
                   [&](std::size_t r, bool v) { unusable_[r * w + c] = v; });
    }

    // Cho & Lee's starting threshold on |grad|^2 of the blurry image: the
    // largest value that keeps at least max(pixels_per_size n, 10) pixels in each of four
    // gradient directions.
    static T initial_edge_threshold(const Image& y, std::size_t n, double pixels_per_size) {
        const std::size_t h = y.shape(0), w = y.shape(1);
        std::vector<T> bins[4];
        for (std::size_t r = 0; r + 1 < h; ++r)
            for (std::size_t c = 0; c + 1 < w; ++c) {
                const T dx = y(r, c + 1) - y(r, c), dy = y(r + 1, c) - y(r, c);
                if (dx == 0 && dy == 0) continue;
                const bool same_sign = (dx >= 0) == (dy >= 0), steep = std::abs(dy) >= std::abs(dx);
                bins[(same_sign ? 0 : 2) + (steep ? 1 : 0)].push_back(dx * dx + dy * dy);
            }
        const auto need = std::max<std::size_t>(static_cast<std::size_t>(pixels_per_size * n), 10);
        T threshold = std::numeric_limits<T>::max();
        for (auto& b : bins) {
            if (b.size() < need) return T(0);
            std::nth_element(b.begin(), b.begin() + (need - 1), b.end(), std::greater<T>());
            threshold = std::min(threshold, b[need - 1]);
        }
        return threshold;
    }

    // S = argmin ||k * S - y||^2 + lambda ||grad S||_0 on the canvas,
    // warm-started from latent_. The spectrum of the last step is left in
    // s_f_ for the kernel update.
    void l0_latent(const Kernel& k, double lambda) {
        const std::size_t ph = ph_, pw = pw_, nr = ph * pw, nc = y_f_.size();
        const T inv_n = T(1) / static_cast<T>(nr);
        kernel_spectrum<Fft>(k, ph, pw, canvas_.data(), k_f_.data());
        for (std::size_t i = 0; i < nc; ++i) {  // K'y and |K|^2 do not change with beta
            ky_f_[i] = complex_mul_conj(k_f_[i], y_f_[i]);
            k_power_[i] = std::norm(k_f_[i]);
        }
        const double beta_max = options_.beta_max;
        if (!(2 * lambda < beta_max)) std::fill(s_f_.begin(), s_f_.end(), std::complex<T>{});  // no step: S = 0
        for (double beta = 2 * lambda; beta < beta_max; beta *= options_.beta_rate) {
            const bool last = !(beta * options_.beta_rate < beta_max);
            const std::size_t kept = thresholded_gradient_adjoint(static_cast<T>(lambda / beta));
            // Gradient steps that keep no edge (the first few: lambda / beta
            // is large) have D'g = 0, whose transform needs no FFT.
            const T b = static_cast<T>(beta);
            std::complex<T>* s_f = last ? s_f_.data() : work_f_.data();
            if (kept > 0) {
                Fft::template forward<T>(ph, pw, canvas_.data(), work_f_.data());
                for (std::size_t i = 0; i < nc; ++i)
                    s_f[i] = (ky_f_[i] + b * work_f_[i]) * (T(1) / (k_power_[i] + b * grad_power_[i]));
            } else {
                for (std::size_t i = 0; i < nc; ++i) s_f[i] = ky_f_[i] * (T(1) / (k_power_[i] + b * grad_power_[i]));
            }
            if (last) Fft::template inverse<T>(ph, pw, s_f, latent_.data());
            else fft::inverse_destroying<Fft>(ph, pw, s_f, latent_.data());
            // (A separate pass: folding the scale into the gradients lets the
            // compiler fuse multiply-adds, which changes the refined kernel.)
            T* latent = latent_.data();
            for (std::size_t i = 0; i < nr; ++i) latent[i] *= inv_n;
        }
    }

    // canvas_ = Dx' gx + Dy' gy, where (gx, gy) is the gradient of the latent
    // image where |grad|^2 >= threshold and 0 elsewhere (the L0 step), in one
    // pass; returns the number of pixels kept.
    std::size_t thresholded_gradient_adjoint(T threshold) {
        const std::size_t ph = ph_, pw = pw_;
        const T* s = latent_.data();
        T* out = canvas_.data();
        rows_.resize(3 * pw);
        T* hx = rows_.data();  // this row's kept gradients
        T* vy = hx + pw;
        T* vu = vy + pw;  // the vertical ones of the row above
        // Kept gradients of row r; returns how many.
        auto gradients = [&](std::size_t r, T* gx, T* gy) {
            const T* sr = s + r * pw;
            const T* down = s + ((r + 1) % ph) * pw;
            auto at = [&](std::size_t c, T right) {
                const T dx = right - sr[c], dy = down[c] - sr[c];
                const bool keep = dx * dx + dy * dy >= threshold;
                gx[c] = keep ? dx : T(0);
                gy[c] = keep ? dy : T(0);
                return std::size_t(keep);
            };
            std::size_t n = 0;
            for (std::size_t c = 0; c + 1 < pw; ++c) n += at(c, sr[c + 1]);  // (vectorised)
            return n + at(pw - 1, sr[0]);
        };
        gradients(ph - 1, hx, vu);
        std::size_t kept = 0;
        for (std::size_t r = 0; r < ph; ++r) {
            kept += gradients(r, hx, vy);
            T* d = out + r * pw;
            d[0] = hx[pw - 1] - hx[0] + vu[0] - vy[0];
            for (std::size_t c = 1; c < pw; ++c) d[c] = hx[c - 1] - hx[c] + vu[c] - vy[c];
            std::swap(vy, vu);
        }
        return kept;
    }

    // k = argmin ||grad S * k - grad y||^2 + gamma ||k||^2, cropped, pruned, normalised, centred.
    Kernel estimate_kernel(const Kernel& previous, T edge_threshold) {
        const std::size_t n = previous.shape(0);
        latent_gradient_spectra(edge_threshold);
        Kernel k = on_support_ ? solve_on_support(previous) : solve_on_canvas(n);
        T peak = 0;
        double negative_power = 0;  // the update's negative values measure its noise
        std::size_t negatives = 0;
        for (T& v : k) {
            if (v < 0) {
                negative_power += double(v) * v;
                ++negatives;
            }
            v = std::max(T(0), v);
            peak = std::max(peak, v);
        }
        if (!(peak > 0)) return previous;
        double cut = options_.prune;
        if (options_.tail_prune > 0) {
            const double noise = negatives ? std::sqrt(negative_power / negatives) : 0.0;
            cut = std::min(options_.prune, std::max(options_.tail_prune, tail_noise_ * noise / peak));
        }
        prune_kernel(k, cut * peak, options_.prune * peak, options_.min_component);
        const T sum = xt::sum(k)();
        if (!(sum > 0) || !std::isfinite(static_cast<double>(sum))) return previous;
        k /= sum;
        return center_on_whole_pixels(k);
    }

    // sx_f_, sy_f_: spectra of the latent's gradients (the selected edges only with select_edges).
    void latent_gradient_spectra(T edge_threshold) {
        if (options_.select_edges) {
            // No edge above the threshold: lower it by steps of 0.81 until the
            // strongest gradient passes. The steps are counted, and the
            // threshold never goes below that gradient: on a flat latent
            // (strongest 0) a denormal threshold times 0.81 rounds to itself
            // and an open-ended loop would never end.
            T strongest = 0;
            if (masked_gradients(latent_.data(), edge_threshold, gx_, gy_, &strongest) == 0 && edge_threshold > 0) {
                for (int step = 0; step < 256 && edge_threshold > strongest; ++step) edge_threshold *= T(0.81);
                masked_gradients(latent_.data(), std::min(edge_threshold, strongest), gx_, gy_);
            }
            Fft::template forward<T>(ph_, pw_, gx_.data(), sx_f_.data());
            Fft::template forward<T>(ph_, pw_, gy_.data(), sy_f_.data());
        } else {
            for (std::size_t i = 0; i < y_f_.size(); ++i) {
                sx_f_[i] = complex_mul(dx_f_[i], s_f_[i]);
                sy_f_[i] = complex_mul(dy_f_[i], s_f_[i]);
            }
        }
    }

    // The closed-form minimiser on the whole canvas, cropped to n x n.
    Kernel solve_on_canvas(std::size_t n) {
        const std::size_t nc = y_f_.size();
        const T gamma = static_cast<T>(options_.kernel_weight);
        for (std::size_t i = 0; i < nc; ++i)
            work_f_[i] = (complex_mul_conj(sx_f_[i], yx_f_[i]) + complex_mul_conj(sy_f_[i], yy_f_[i])) *
                         (T(1) / (std::norm(sx_f_[i]) + std::norm(sy_f_[i]) + gamma));
        fft::inverse_destroying<Fft>(ph_, pw_, work_f_.data(), canvas_.data());
        return crop(canvas_.data(), n, T(1));
    }

    // The minimiser among n x n kernels: (C' F^-1 M F C + gamma) k = C' F^-1 b
    // by conjugate gradients from the previous kernel (C: the support on the
    // canvas, M = |F Sx|^2 + |F Sy|^2, b = conj(F Sx) F Yx + conj(F Sy) F Yy).
    // C' F^-1 M F C x correlates x with the gradients' autocorrelation
    // F^-1 M, of which only the lags within +-(n - 1) reach the support: the
    // operator runs on a canvas of 3n - 2 (or more) instead of the image's.
    Kernel solve_on_support(const Kernel& previous) {
        const std::size_t n = previous.shape(0), nc = y_f_.size();
        const T inv_n = T(1) / static_cast<T>(ph_ * pw_), gamma = static_cast<T>(options_.support_kernel_weight);
        for (std::size_t i = 0; i < nc; ++i) {
            work_f_[i] = complex_mul_conj(sx_f_[i], yx_f_[i]) + complex_mul_conj(sy_f_[i], yy_f_[i]);
            k_power_[i] = std::norm(sx_f_[i]) + std::norm(sy_f_[i]);
        }
        fft::inverse_destroying<Fft>(ph_, pw_, work_f_.data(), canvas_.data());
        const Kernel b = crop(canvas_.data(), n, inv_n);
        // The autocorrelation's lags within +-(n - 1), on the small canvas.
        const std::size_t q = real_fft_size(3 * n - 2), qc = q * (q / 2 + 1);  // at most the image canvas (h, w >= 2n)
        for (std::size_t i = 0; i < nc; ++i) work_f_[i] = {k_power_[i], T(0)};
        fft::inverse_destroying<Fft>(ph_, pw_, work_f_.data(), canvas_.data());
        const Kernel lags = crop(canvas_.data(), 2 * n - 1, inv_n);
        small_.resize(q * q);
        small_f_.resize(qc);
        small_power_.resize(qc);
        place(lags, small_.data(), q);
        Fft::template forward<T>(q, q, small_.data(), small_f_.data());
        const T inv_q = T(1) / static_cast<T>(q * q);
        for (std::size_t i = 0; i < qc; ++i) small_power_[i] = small_f_[i].real() * inv_q;  // real: the lags are symmetric
        auto apply = [&](const Kernel& x) {  // (C' F^-1 M F C + gamma) x
            place(x, small_.data(), q);
            Fft::template forward<T>(q, q, small_.data(), small_f_.data());
            for (std::size_t i = 0; i < qc; ++i) small_f_[i] *= small_power_[i];
            fft::inverse_destroying<Fft>(q, q, small_f_.data(), small_.data());
            Kernel out = crop(small_.data(), q, q, n, T(1));
            out += gamma * x;
            return out;
        };
        Kernel x = previous;
        Kernel r = b - apply(x), p = r;
        double rs = xt::sum(r * r)();
        for (int it = 0; it < options_.solver_iterations && std::sqrt(rs) > 1e-5; ++it) {
            const Kernel ap = apply(p);
            const double alpha = rs / double(xt::sum(p * ap)());
            x += static_cast<T>(alpha) * p;
            r -= static_cast<T>(alpha) * ap;
            const double rs_new = xt::sum(r * r)();
            p = r + static_cast<T>(rs_new / rs) * p;
            rs = rs_new;
        }
        return x;
    }

    // `k` (odd sides) centred on the origin of a q x q canvas, zero elsewhere.
    static void place(const Kernel& k, T* canvas, std::size_t q) {
        std::fill(canvas, canvas + q * q, T(0));
        const std::size_t m = k.shape(0);
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < m; ++j) canvas[((i + q - m / 2) % q) * q + (j + q - m / 2) % q] = k(i, j);
    }

    // The n x n window around the origin of an h x w canvas (the image's by default), times scale.
    static Kernel crop(const T* canvas, std::size_t h, std::size_t w, std::size_t n, T scale) {
        Kernel k = Kernel::from_shape({n, n});
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < n; ++j) k(i, j) = scale * canvas[((i + h - n / 2) % h) * w + (j + w - n / 2) % w];
        return k;
    }
    Kernel crop(const T* canvas, std::size_t n, T scale) const { return crop(canvas, ph_, pw_, n, scale); }

    // Moves the centre of mass to within half a pixel of the origin by a whole
    // pixel shift: a fractional (interpolated) shift would blur the kernel a
    // little at every alternation.
    static Kernel center_on_whole_pixels(const Kernel& k) {
        const auto [cr, cc] = kernel_centroid(k);
        const auto n = static_cast<std::ptrdiff_t>(k.shape(0));
        const auto dr = static_cast<std::ptrdiff_t>(std::lround(double(n / 2) - cr));
        const auto dc = static_cast<std::ptrdiff_t>(std::lround(double(n / 2) - cc));
        if (dr == 0 && dc == 0) return k;
        Kernel out = xt::zeros<T>(k.shape());
        for (std::ptrdiff_t r = 0; r < n; ++r)
            for (std::ptrdiff_t c = 0; c < n; ++c) {
                const std::ptrdiff_t rr = r + dr, cc2 = c + dc;
                if (rr >= 0 && cc2 >= 0 && rr < n && cc2 < n) out(rr, cc2) = k(r, c);
            }
        const T sum = xt::sum(out)();
        return sum > 0 ? Kernel(out / sum) : k;
    }

    KernelRefinerOptions options_;
    std::size_t ph_ = 0, pw_ = 0;
    std::size_t image_h_ = 0, image_w_ = 0;
    T edge_threshold_ = 0;
    bool low_noise_ = false;   // this image's noise allows the support solver
    bool on_support_ = false;  // this level's kernel update: solve_on_support
    double tail_noise_ = 0;    // this image's tail_noise or support_tail_noise
    rvec canvas_, latent_, grad_power_, k_power_, rows_, gx_, gy_, small_, small_power_;
    Image clipped_;  // this image's clipped pixels (1), empty when none
    std::vector<unsigned char> unusable_;  // this level's pixels near clipped highlights (mark_clipped_surroundings)
    cvec y_f_, yx_f_, yy_f_, k_f_, ky_f_, s_f_, dx_f_, dy_f_, work_f_, sx_f_, sy_f_, small_f_;
};

}  // namespace deblur
