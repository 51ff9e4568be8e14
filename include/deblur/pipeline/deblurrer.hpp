#pragma once
// The library's entry point for programs that deblur more than once:
//
//   deblur::Deblurrer deblurrer;                          // the embedded default model, all cores
//   auto result = deblurrer.deblur(deblur::ImageView<const std::uint8_t>(rgb, w, h, 3));
//   result.sharp.view(), result.kernel, result.noise, result.warning
//
// deblur() estimates the kernel once on the luminance (on the window with the
// most edges of a large photo) with the model's network, refines it
// classically (KernelRefiner, unless options.refine is off) and deconvolves
// every colour channel with it (hyper-Laplacian prior). An image it cannot
// estimate a blur from reliably (texture-free, or kernels on neighbouring
// supports that disagree) comes back unchanged, with `warning` saying why.
// estimate_kernel() and deconvolve() are the two halves alone.
//
// A Deblurrer owns its model, its threads setting and every buffer the
// pipeline reuses between calls (networks, solver canvases and spectra: some
// 100 MB per thread after a large photo, freed by release_buffers() or the
// destructor); the library keeps no other state between calls, apart from
// FFTW's plan cache. One Deblurrer serves one call at a time: give
// each thread its own (they may run concurrently; FFTW planning is serialised
// inside). A call is stopped between steps through BlindDeblurOptions::cancel
// (deblur::Cancelled).
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "../core/cancelled.hpp"
#include "../core/image_buffer.hpp"
#include "../core/image_conversion.hpp"
#include "../core/image_view.hpp"
#include "../core/openmp.hpp"
#include "../core/tensor.hpp"
#include "../deconv/deconv_options.hpp"
#include "../fft/fftw.hpp"
#include "../net/model.hpp"
#include "blind_deblur_options.hpp"
#include "blind_deblur_result.hpp"
#include "blind_deblur_timings.hpp"
#include "estimation_window.hpp"
#include "image_deblur_result.hpp"
#include "kernel_estimate.hpp"
#include "noise_level.hpp"
#include "workspace.hpp"

namespace deblur {

// Net: the network's type. Deblurrer uses the paper's (DefaultNetwork); a
// researcher's own architecture is BasicDeblurrer<MyNet>, with a model made
// for it (Model::from_bytes<MyNet>, Model::from_file<MyNet>).
template <class Net = DefaultNetwork>
class BasicDeblurrer {
public:
    // threads: for this Deblurrer's calls (OpenMP's count on the calling
    // thread, and FFTW's, which is the process's: Deblurrers with different
    // settings running at once share it); 0 leaves the settings as they are.
    explicit BasicDeblurrer(Model model = Model::default_model(), int threads = 0) : model_(std::move(model)), threads_(threads) {
        if (threads < 0) throw std::invalid_argument("deblur::Deblurrer: threads must be 0 (as set) or positive");
    }

    const Model& model() const { return model_; }
    int threads() const { return threads_; }
    // Frees the buffers and networks kept between calls; the next call rebuilds them, with the same results.
    void release_buffers() { workspace_.clear(); }
    // Whether anything is kept between calls.
    bool holds_buffers() const { return !workspace_.empty(); }

    // --- On the library's C x H x W float tensors (values in [0, 1]) ---

    BlindDeblurResult deblur(const Tensor<float>& image, const BlindDeblurOptions& options = {}) {
        const ThreadsScope scope(threads_);
        const BlindDeblurOptions o = prepared(options);
        detail::StageClock clock;
        detail::check_image(image, "deblur::Deblurrer::deblur");
        BlindDeblurResult result;
        Tensor<float> linear;
        KernelEstimate estimate = estimate_on_linear(image, o, linear, result.noise, &result.timings);
        result.kernel = std::move(estimate.kernel);
        if (!estimate.reliable) {
            result.warning = estimate.note + "; the image is returned unchanged";
            result.sharp = image;
            return result;
        }
        clock.restart();
        say(o, "kernel " + std::to_string(result.kernel.shape(0)) + " x " + std::to_string(result.kernel.shape(1)) +
                   "; deconvolving " + std::to_string(image.shape(0)) + " channel(s)");
        result.sharp = deconvolve_checked(o.gamma == 1 ? image : linear, result.kernel, DeconvOptions::for_noise(result.noise));
        if (o.gamma != 1) result.sharp = xt::pow(xt::clip(result.sharp, 0.0f, 1.0f), float(1 / o.gamma));
        clock.lap(&result.timings.deconvolution);
        return result;
    }

    // The kernel of a gray image (intensities in [0, 1], linear) with noise
    // level `noise`, as deblur() finds it on its estimation window.
    KernelEstimate estimate_kernel(const xt::xtensor<float, 2>& gray, double noise, const BlindDeblurOptions& options = {}) {
        const ThreadsScope scope(threads_);
        if (!(noise >= 0) || !std::isfinite(noise))
            throw std::invalid_argument("deblur::Deblurrer::estimate_kernel: the noise level must be finite and at least 0");
        detail::check_image(gray, "deblur::Deblurrer::estimate_kernel");
        return detail::estimate_kernel(gray, noise, prepared(options), model_, workspace_, nullptr);
    }

    // Non-blind deconvolution of every channel with a known kernel (odd sides, sum 1).
    Tensor<float> deconvolve(const Tensor<float>& image, const xt::xtensor<float, 2>& kernel, const DeconvOptions& options) {
        const ThreadsScope scope(threads_);
        detail::check_image(image, "deblur::Deblurrer::deconvolve");
        return deconvolve_checked(image, kernel, options);
    }

    // --- On a caller's buffer: uint8, uint16 or float samples, any layout ---

    // The sharp image in the input's sample type and layout (alpha copied as it is).
    template <class T>
    ImageDeblurResult<std::remove_const_t<T>> deblur(const ImageView<T>& image, const BlindDeblurOptions& options = {}) {
        using V = std::remove_const_t<T>;
        const ImageView<const V> in = image;
        BlindDeblurResult r = deblur(to_tensor(in), options);
        ImageDeblurResult<V> out{ImageBuffer<V>(in), std::move(r.kernel), r.noise, r.timings, std::move(r.warning)};
        store(r.sharp, out.sharp.view());
        copy_alpha(in, out.sharp.view());
        return out;
    }

    // The kernel deblur() would use for this image (noise estimated unless options.noise is given).
    template <class T>
    KernelEstimate estimate_kernel(const ImageView<T>& image, const BlindDeblurOptions& options = {}) {
        const ThreadsScope scope(threads_);
        const ImageView<const std::remove_const_t<T>> in = image;
        Tensor<float> linear;
        double noise = 0;
        return estimate_on_linear(to_tensor(in), prepared(options), linear, noise, nullptr);
    }

    // deconvolve() above on a caller's buffer, the result in its sample type and layout.
    template <class T>
    ImageBuffer<std::remove_const_t<T>> deconvolve(const ImageView<T>& image, const xt::xtensor<float, 2>& kernel,
                                                   const DeconvOptions& options) {
        using V = std::remove_const_t<T>;
        const ImageView<const V> in = image;
        ImageBuffer<V> out(in);
        store(deconvolve(to_tensor(in), kernel, options), out.view());
        copy_alpha(in, out.view());
        return out;
    }

private:
    // Sets OpenMP's and FFTW's thread counts for one call, and restores them.
    class ThreadsScope {
    public:
        explicit ThreadsScope(int threads) : threads_(threads) {
            if (threads_ <= 0) return;
            saved_ = omp_get_max_threads();
            saved_fft_ = fft::Fftw::threads();
            omp_set_num_threads(threads_);
            fft::Fftw::set_threads(threads_);
        }
        ~ThreadsScope() {
            if (threads_ <= 0) return;
            omp_set_num_threads(saved_);
            fft::Fftw::set_threads(saved_fft_);
        }
        ThreadsScope(const ThreadsScope&) = delete;
        ThreadsScope& operator=(const ThreadsScope&) = delete;

    private:
        int threads_, saved_ = 0, saved_fft_ = 1;
    };

    static void say(const BlindDeblurOptions& o, const std::string& line) {
        if (o.progress) o.progress(line);
    }

    // The options with the cancellation check in front of every progress line (and one now).
    static BlindDeblurOptions prepared(const BlindDeblurOptions& options) {
        if (options.cancel && options.cancel->load()) throw Cancelled();
        BlindDeblurOptions o = options;
        o.progress = detail::checking_cancel(options.progress, options.cancel);
        if (!(o.gamma > 0) || !std::isfinite(o.gamma)) throw std::invalid_argument("deblur: gamma must be positive");
        return o;
    }

    // The kernel of `image` (any range, gamma `o.gamma`): `linear` receives
    // the image in linear light when o.gamma != 1, `noise` the channels' noise.
    KernelEstimate estimate_on_linear(const Tensor<float>& image, const BlindDeblurOptions& o, Tensor<float>& linear,
                                      double& noise, BlindDeblurTimings* timings) {
        detail::StageClock clock;
        if (o.gamma != 1) linear = xt::pow(xt::maximum(image, 0.0f), float(o.gamma));
        const Tensor<float>& lin = o.gamma == 1 ? image : linear;
        const auto gray = detail::luminance(lin);
        // The kernel is estimated on the luminance, with the luminance's noise;
        // the channels are deconvolved with theirs (lower in the luminance when
        // the channels' noise is independent). A given noise level serves both.
        const double gray_noise = o.noise >= 0 ? o.noise : estimate_noise_level(gray);
        noise = o.noise >= 0 || lin.shape(0) == 1 ? gray_noise : estimate_channel_noise_level(lin);
        if (o.noise < 0) say(o, "estimated noise level " + std::to_string(noise));
        const auto window = choose_estimation_window(gray, o.estimation_size);
        const xt::xtensor<float, 2> crop = xt::view(gray, xt::range(window.row, window.row + window.rows),
                                                    xt::range(window.col, window.col + window.cols));
        if (timings) clock.lap(&timings->preparation);
        return detail::estimate_kernel(crop, gray_noise, o, model_, workspace_, timings);
    }

    Tensor<float> deconvolve_checked(const Tensor<float>& image, const xt::xtensor<float, 2>& kernel, const DeconvOptions& options) {
        if (kernel.shape(0) % 2 == 0 || kernel.shape(1) % 2 == 0)
            throw std::invalid_argument("deblur::deconvolve: the kernel must have odd width and height");
        if (kernel.shape(0) > image.shape(1) || kernel.shape(1) > image.shape(2))
            throw std::invalid_argument("deblur::deconvolve: the image is smaller than the kernel");
        return workspace_.deconvolver(options).deconvolve(image, kernel);
    }

    Model model_;
    int threads_;
    detail::Workspace<Net> workspace_;
};

using Deblurrer = BasicDeblurrer<>;

}  // namespace deblur
