#pragma once
// One scale of the network: stages that all estimate K x K kernels, run in
// sequence, each refining the previous stage's latent image (Section 3.2).
// Stages can be switched on one by one for the paper's stage-wise
// pre-training (`set_active_stages`). Host or device tensors: the stages'.
#include <array>
#include <cstddef>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

#include "stage.hpp"

namespace deblur {

template <int K, class... Stages>
class Scale {
public:
    static_assert(sizeof...(Stages) > 0, "deblur::Scale needs at least one stage");
    static_assert(((Stages::kernel_size == K) && ...),
                  "deblur::Scale<K, ...>: every stage's Quotient must estimate K x K kernels");
    using first_stage = std::tuple_element_t<0, std::tuple<Stages...>>;
    using exec = typename first_stage::exec;
    using scalar = typename exec::scalar;
    using tensor = typename first_stage::tensor;
    template <class E2>
    using rebind = Scale<K, rebind_t<Stages, E2>...>;
    static std::string architecture_name() { return "Scale<" + std::to_string(K) + "," + join_architectures<Stages...>() + ">"; }

    static constexpr int kernel_size = K;
    static constexpr std::size_t stage_count = sizeof...(Stages);

    // `has_latent_input`: false for the coarsest scale (blurry image only).
    void setup(bool has_latent_input, std::mt19937_64& rng) {
        has_latent_input_ = has_latent_input;
        std::size_t i = 0;
        std::apply([&](auto&... stage) { (stage.setup((i++ == 0 && !has_latent_input) ? 1 : 2, rng), ...); }, stages_);
    }
    bool has_latent_input() const { return has_latent_input_; }

    void set_active_stages(std::size_t n) {
        if (n < 1 || n > stage_count) throw std::invalid_argument("deblur::Scale: active stages out of range");
        active_ = n;
    }
    std::size_t active_stages() const { return active_; }

    void forward(const tensor& blurry, const tensor* latent_in) {
        for_active([&](auto& stage, std::size_t i) {
            stage.forward(blurry, i == 0 ? latent_in : &latents_[i - 1], kernels_[i], latents_[i]);
        });
    }

    // forward's kernels and latent images through shared buffers (Stage::infer).
    void infer(const tensor& blurry, const tensor* latent_in, InferenceBuffers<tensor>& buffers) {
        for_active([&](auto& stage, std::size_t i) {
            stage.infer(blurry, i == 0 ? latent_in : &latents_[i - 1], kernels_[i], latents_[i], buffers);
        });
    }

    // Gradients of the loss with respect to the final kernel and (optional, e.g.
    // when a finer scale uses it) the final latent image; adds into the
    // parameter gradients and, when given, into *grad_latent_in.
    void backward(const tensor& blurry, const tensor* latent_in, const tensor& grad_kernel,
                  const tensor* grad_latent_out, tensor* grad_latent_in) {
        for (std::size_t j = active_; j-- > 0;) {
            auto& g_latent = grad_latents_[j];
            if (j + 1 == active_) {
                if (grad_latent_out) {
                    g_latent = *grad_latent_out;
                } else {
                    resize(g_latent, 1, blurry.shape(1), blurry.shape(2));
                    zero_fill(g_latent);
                }
            }
            const tensor* g_kernel = &grad_kernel;
            if (j + 1 != active_) {  // only the last active stage's kernel is in the loss
                // (one kernel, or one per patch for a spatially-varying stage)
                resize(zero_kernel_, kernels_[j].shape(0), K, K);
                zero_fill(zero_kernel_);
                g_kernel = &zero_kernel_;
            }
            tensor* g_in = grad_latent_in;
            if (j > 0) {
                resize(grad_latents_[j - 1], 1, blurry.shape(1), blurry.shape(2));
                zero_fill(grad_latents_[j - 1]);
                g_in = &grad_latents_[j - 1];
            }
            visit(j, [&](auto& stage) {
                stage.backward(blurry, j == 0 ? latent_in : &latents_[j - 1], kernels_[j], latents_[j], *g_kernel,
                               g_latent, g_in);
            });
        }
    }

    const tensor& kernel() const { return kernels_[active_ - 1]; }
    const tensor& latent() const { return latents_[active_ - 1]; }
    const tensor& stage_kernel(std::size_t i) const { return kernels_.at(i); }
    const tensor& stage_latent(std::size_t i) const { return latents_.at(i); }

    template <std::size_t I>
    auto& stage() { return std::get<I>(stages_); }

    // Calls f(stage_index, params, grads) for every parameter block (host spans).
    template <class F>
    void for_each_param_block(F&& f) {
        std::size_t i = 0;
        std::apply([&](auto&... stage) {
            ((stage.for_each_param_block([&](auto p, auto g) { f(i, p, g); }), ++i), ...);
        }, stages_);
    }

    // The same with the layers' own storage (device spans for CUDA layers).
    template <class F>
    void for_each_param_storage(F&& f) {
        std::size_t i = 0;
        std::apply([&](auto&... stage) {
            ((stage.for_each_param_storage([&](auto p, auto g) { f(i, p, g); }), ++i), ...);
        }, stages_);
    }

private:
    template <class F>
    void for_active(F&& f) {
        std::size_t i = 0;
        std::apply([&](auto&... stage) { ((i < active_ ? (f(stage, i), ++i) : i), ...); }, stages_);
    }
    template <class F>
    void visit(std::size_t j, F&& f) {
        std::size_t i = 0;
        std::apply([&](auto&... stage) { ((i++ == j ? (f(stage), 0) : 0), ...); }, stages_);
    }

    std::tuple<Stages...> stages_;
    bool has_latent_input_ = false;
    std::size_t active_ = stage_count;
    std::array<tensor, stage_count> kernels_, latents_, grad_latents_;
    tensor zero_kernel_;
};

}  // namespace deblur
