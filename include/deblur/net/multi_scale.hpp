#pragma once
// The whole network: scales from the coarsest (smallest kernel) to the finest
// (Section 3.2). For a run that ends at scale L, scale j sees the blurry image
// shrunk by K_j / K_L, and every scale after the first also gets the previous
// scale's latent image upsampled to its size.
//
//   using Net = MultiScale<Scale<17, S1, S2, S3>, Scale<25, ...>, Scale<33, ...>>;
//
// Host or device tensors (the scales'); the resampling between scales is
// linear_resize_for<tensor> (deblur/cuda/linear_resize.cuh for the GPU).
#include <array>
#include <cmath>
#include <cstddef>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>

#include "linear_resize.hpp"
#include "scale.hpp"

namespace deblur {

template <class... Scales>
class MultiScale {
public:
    static_assert(sizeof...(Scales) > 0, "deblur::MultiScale needs at least one scale");
    static constexpr std::size_t scale_count = sizeof...(Scales);
    static constexpr std::array<int, scale_count> kernel_sizes{Scales::kernel_size...};
    static constexpr bool ascending() {
        for (std::size_t i = 1; i < scale_count; ++i)
            if (kernel_sizes[i] <= kernel_sizes[i - 1]) return false;
        return true;
    }
    static_assert(ascending(), "deblur::MultiScale: scales must go from the smallest kernel to the largest");

    using exec = typename std::tuple_element_t<0, std::tuple<Scales...>>::exec;
    using scalar = typename exec::scalar;
    using tensor = typename std::tuple_element_t<0, std::tuple<Scales...>>::tensor;
    template <class E2>
    using rebind = MultiScale<rebind_t<Scales, E2>...>;
    static std::string architecture_name() { return "MultiScale<" + join_architectures<Scales...>() + ">"; }

    MultiScale() = default;
    explicit MultiScale(std::uint64_t seed) { setup(seed); }

    // Random initial parameters (training starts here; a model file overwrites them).
    void setup(std::uint64_t seed) {
        std::mt19937_64 rng(seed);
        std::size_t i = 0;
        std::apply([&](auto&... scale) { (scale.setup(i++ > 0, rng), ...); }, scales_);
    }

    // Size of scale j's image when the run ends at scale `last` on an image of `n` pixels.
    static std::size_t scaled_size(std::size_t n, std::size_t j, std::size_t last) {
        const double f = static_cast<double>(kernel_sizes[j]) / kernel_sizes[last];
        return std::max<std::size_t>(static_cast<std::size_t>(kernel_sizes[j]), static_cast<std::size_t>(std::lround(n * f)));
    }

    // Runs scales 0..last; `blurry` (1 x H x W) is at the resolution of scale `last`.
    void forward(const tensor& blurry, std::size_t last = scale_count - 1) {
        forwarded_ = false;
        run(blurry, last, [](auto& scale, const tensor& b, const tensor* latent_in) { scale.forward(b, latent_in); });
        forwarded_ = true;
    }

    // The same kernels and latent images as forward, bit for bit, keeping no
    // intermediates for backward (one set of buffers for all stages): the
    // path for estimating kernels. backward needs a forward, not an infer.
    void infer(const tensor& blurry, std::size_t last = scale_count - 1) {
        forwarded_ = false;
        run(blurry, last, [this](auto& scale, const tensor& b, const tensor* latent_in) {
            scale.infer(b, latent_in, inference_buffers_);
        });
    }

    // Back-propagates dL/d(kernel of scale `last`) after forward(blurry, last).
    // With `through_coarser_scales` false only scale `last` gets gradients (the
    // coarser, already trained scales are fixed inputs).
    void backward(const tensor& blurry, const tensor& grad_kernel, bool through_coarser_scales = true) {
        if (!forwarded_) throw std::invalid_argument("deblur::MultiScale::backward: call forward() first (infer keeps no intermediates)");
        const std::size_t last = last_;
        for (std::size_t j = last + 1; j-- > 0;) {
            if (j < last && !through_coarser_scales) break;
            visit(j, [&](auto& scale) {
                const tensor& b = j < last ? blurry_[j] : blurry;
                const tensor* latent_in = j > 0 ? &latent_in_[j] : nullptr;
                tensor* g_latent_in = nullptr;
                if (j > 0 && through_coarser_scales) {
                    resize(grad_latent_in_[j], 1, b.shape(1), b.shape(2));
                    zero_fill(grad_latent_in_[j]);
                    g_latent_in = &grad_latent_in_[j];
                }
                const tensor* g_latent_out = nullptr;
                if (j < last) {  // the finer scale used this scale's latent image
                    const auto& out = scale.latent();
                    resize(grad_latent_out_[j], 1, out.shape(1), out.shape(2));
                    zero_fill(grad_latent_out_[j]);
                    grow_[j + 1].adjoint_add(grad_latent_in_[j + 1], grad_latent_out_[j]);
                    g_latent_out = &grad_latent_out_[j];
                }
                if (j == last) {
                    scale.backward(b, latent_in, grad_kernel, nullptr, g_latent_in);
                } else {
                    resize(zero_kernel_[j], scale.kernel().shape(0), kernel_sizes[j], kernel_sizes[j]);
                    zero_fill(zero_kernel_[j]);
                    scale.backward(b, latent_in, zero_kernel_[j], g_latent_out, g_latent_in);
                }
            });
        }
    }

    // Outputs of the last forward.
    const tensor& kernel() const { return kernel(last_); }
    const tensor& latent() const { return latent(last_); }
    const tensor& kernel(std::size_t j) const {
        const tensor* k = nullptr;
        const_visit(j, [&](const auto& scale) { k = &scale.kernel(); });
        return *k;
    }
    const tensor& latent(std::size_t j) const {
        const tensor* l = nullptr;
        const_visit(j, [&](const auto& scale) { l = &scale.latent(); });
        return *l;
    }
    std::size_t last_scale_run() const { return last_; }

    template <std::size_t I>
    auto& scale() { return std::get<I>(scales_); }

    // Calls f(scale_index, stage_index, params, grads) for every parameter
    // block, in a fixed order, with host spans (for a CUDA network, copies
    // that are written back to the device after f).
    template <class F>
    void for_each_param_block(F&& f) {
        for_each_scale([&](auto& scale, std::size_t j) {
            scale.for_each_param_block([&](std::size_t s, auto p, auto g) { f(j, s, p, g); });
        });
    }

    // The same blocks as the layers' own storage: device spans for a CUDA
    // network (for device code such as cuda::Adadelta), host spans otherwise.
    template <class F>
    void for_each_param_storage(F&& f) {
        for_each_scale([&](auto& scale, std::size_t j) {
            scale.for_each_param_storage([&](std::size_t s, auto p, auto g) { f(j, s, p, g); });
        });
    }

    // Active stages per scale (stage-wise pre-training).
    void set_active_stages(std::size_t scale_index, std::size_t n) {
        visit(scale_index, [&](auto& scale) { scale.set_active_stages(n); });
    }

private:
    // Scales 0..last, each given its blurry image and the previous scale's
    // latent image resized to it; run_scale(scale, blurry, latent_in) runs one.
    template <class RunScale>
    void run(const tensor& blurry, std::size_t last, RunScale&& run_scale) {
        if (last >= scale_count) throw std::invalid_argument("deblur::MultiScale: no such scale");
        if (blurry.shape(0) != 1)
            throw std::invalid_argument("deblur::MultiScale: the blurry image must be 1 x H x W");
        if (blurry.shape(1) < static_cast<std::size_t>(kernel_sizes[last]) ||
            blurry.shape(2) < static_cast<std::size_t>(kernel_sizes[last]))
            throw std::invalid_argument("deblur::MultiScale: the image is smaller than the kernel");
        last_ = last;
        for_each_scale([&](auto& scale, std::size_t j) {
            if (j > last) return;
            const std::size_t h = scaled_size(blurry.shape(1), j, last), w = scaled_size(blurry.shape(2), j, last);
            const tensor* b = &blurry;
            if (j < last) {
                shrink_[j] = resizer(shrink_[j], blurry.shape(1), blurry.shape(2), h, w);
                shrink_[j].apply(blurry, blurry_[j]);
                b = &blurry_[j];
            }
            const tensor* latent_in = nullptr;
            if (j > 0) {
                const auto& prev = latent(j - 1);
                grow_[j] = resizer(grow_[j], prev.shape(1), prev.shape(2), h, w);
                grow_[j].apply(prev, latent_in_[j]);
                latent_in = &latent_in_[j];
            }
            run_scale(scale, *b, latent_in);
        });
    }

    using resampler = typename linear_resize_for<tensor>::type;
    static resampler& resizer(resampler& r, std::size_t ih, std::size_t iw, std::size_t oh, std::size_t ow) {
        if (r.in_rows() != ih || r.in_cols() != iw || r.out_rows() != oh || r.out_cols() != ow)
            r = resampler(ih, iw, oh, ow);
        return r;
    }
    template <class F>
    void for_each_scale(F&& f) {
        std::size_t j = 0;
        std::apply([&](auto&... scale) { ((f(scale, j), ++j), ...); }, scales_);
    }
    template <class F>
    void visit(std::size_t j, F&& f) {
        std::size_t i = 0;
        std::apply([&](auto&... scale) { ((i++ == j ? (f(scale), 0) : 0), ...); }, scales_);
    }
    template <class F>
    void const_visit(std::size_t j, F&& f) const {
        if (j >= scale_count) throw std::out_of_range("deblur::MultiScale: no such scale");
        std::size_t i = 0;
        std::apply([&](const auto&... scale) { ((i++ == j ? (f(scale), 0) : 0), ...); }, scales_);
    }

    std::tuple<Scales...> scales_;
    std::size_t last_ = scale_count - 1;
    bool forwarded_ = false;  // backward's intermediates are those of the latest run
    std::array<resampler, scale_count> shrink_, grow_;
    std::array<tensor, scale_count> blurry_, latent_in_, grad_latent_in_, grad_latent_out_, zero_kernel_;
    InferenceBuffers<tensor> inference_buffers_;
};

}  // namespace deblur
