#pragma once
// One stage of the paper's network (Section 3.1, Fig. 1): feature extraction,
// kernel estimation by the Fourier quotient (Eq. 4), and the latent-image
// update (Eq. 5). The first stage of a network sees the blurry image only;
// every later stage sees [blurry, latent] stacked as two channels.
//
//   using FirstStage = Stage<Chain<Conv<32, 9>, Tanh<>, Recombine<32>, Tanh<>, Recombine<4>>,
//                            Quotient<17>, ImageQuotient<>>;
//
// The three parts play the roles of layers/layer.hpp: a FeatureLayer, a
// KernelModule and an ImageModule. Spatially-varying blur (Section 5.3): the
// same stage with EFFQuotient<K> (one kernel per EFF patch,
// layers/eff_quotient.hpp) and EFFImageQuotient<>
// (layers/eff_image_quotient.hpp) estimates a kernel field (kernel_count()
// = patches x K x K) instead of one kernel; set_grid(rows, cols) sets the
// patch grid of both.
//
// The tensors are the features' (layer_tensor_t): with CUDA layers
// (CudaExec) the stage runs on device tensors and nothing leaves the device.
#include <cstddef>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "../core/exec.hpp"
#include "../core/tensor.hpp"
#include "../layers/image_quotient.hpp"
#include "../layers/layer.hpp"
#include "../layers/quotient.hpp"
#include "inference_buffers.hpp"

namespace deblur {

template <FeatureLayer Features, KernelModule KernelPart, ImageModule ImagePart>
class Stage {
public:
    using exec = typename Features::exec;
    using scalar = typename exec::scalar;
    using tensor = layer_tensor_t<Features>;
    using features_type = Features;
    template <class E2>
    using rebind = Stage<rebind_t<Features, E2>, rebind_t<KernelPart, E2>, rebind_t<ImagePart, E2>>;
    static std::string architecture_name() { return "Stage<" + join_architectures<Features, KernelPart, ImagePart>() + ">"; }

    static constexpr int kernel_size = KernelPart::kernel_size;

    // Whether the stage can take `in_channels` input channels (1: blurry; 2: blurry and latent).
    static constexpr bool accepts_channels(int in_channels) {
        return KernelPart::accepts_channels(Features::output_channels(in_channels));
    }
    static_assert(accepts_channels(1) && accepts_channels(2),
                  "deblur::Stage: the feature layers must end in an even number of channels "
                  "(P sharp-like then P blurry-like images) for the Quotient layer");
    static_assert(std::is_same_v<typename KernelPart::exec, exec> && std::is_same_v<typename ImagePart::exec, exec>,
                  "deblur::Stage: all three modules must use the same execution policy");

    // `in_channels` is 1 for the very first stage of a network, 2 otherwise.
    void setup(std::size_t in_channels, std::mt19937_64& rng) {
        if (in_channels != 1 && in_channels != 2)
            throw std::invalid_argument("deblur::Stage: a stage takes 1 (blurry) or 2 (blurry, latent) channels");
        in_channels_ = in_channels;
        features_.setup(in_channels, rng);
    }
    std::size_t in_channels() const { return in_channels_; }

    // `latent_in` is null exactly for a stage set up with one channel.
    void forward(const tensor& blurry, const tensor* latent_in, tensor& kernel, tensor& latent_out) {
        stack_input(blurry, latent_in, input_);
        features_.forward(input_, feature_maps_);
        kernel_module_.forward(feature_maps_, kernel);
        image_module_.forward(kernel, blurry, latent_out);
    }

    // forward's kernel and latent image, bit for bit, through `buffers`
    // (shared with other stages), keeping nothing for backward.
    void infer(const tensor& blurry, const tensor* latent_in, tensor& kernel, tensor& latent_out,
               InferenceBuffers<tensor>& buffers) {
        stack_input(blurry, latent_in, buffers.input);
        if constexpr (requires { features_.infer(buffers.input, buffers.features, buffers.intermediates); })
            features_.infer(buffers.input, buffers.features, buffers.intermediates);
        else
            features_.forward(buffers.input, buffers.features);
        kernel_module_.forward(buffers.features, kernel);
        image_module_.forward(kernel, blurry, latent_out);
    }

    // Back-propagates the gradients of the loss with respect to this stage's
    // kernel and latent outputs (after a forward on the same input). Adds into
    // the parameter gradients and, when given, into *grad_latent_in.
    void backward(const tensor& blurry, const tensor* latent_in, const tensor& kernel, const tensor& latent_out,
                  const tensor& grad_kernel, const tensor& grad_latent_out, tensor* grad_latent_in) {
        (void)latent_in;
        grad_kernel_ = grad_kernel;
        reset(grad_blurry_, blurry);  // the blurry image is data: its gradient is dropped
        image_module_.backward(kernel, blurry, latent_out, grad_latent_out, grad_kernel_, grad_blurry_);
        reset(grad_features_, feature_maps_);
        kernel_module_.backward(feature_maps_, kernel, grad_kernel_, grad_features_);
        reset(grad_input_, input_);
        features_.backward(input_, feature_maps_, grad_features_, grad_input_);
        if (grad_latent_in) add_from(grad_input_, blurry.size(), *grad_latent_in);  // channel 1 is the latent image
    }

    // Calls f(params, grads) for every parameter block, in a fixed order
    // (the feature layers', the kernel module's, the image module's; layers
    // without parameters have no block, except the image module), with host
    // spans (model files, checkpoints, host optimisers): a CUDA layer's block
    // is copied to the host for f and back to the device after it.
    template <class F>
    void for_each_param_block(F&& f) {
        visit_param_layers([&](auto& layer) { with_host_params(layer, f); });
    }

    // The same blocks as the layers' own storage: device spans for CUDA
    // layers (for device code such as cuda::Adadelta), host spans otherwise.
    template <class F>
    void for_each_param_storage(F&& f) {
        visit_param_layers([&](auto& layer) { f(layer.params(), layer.param_grads()); });
    }

    Features& features() { return features_; }
    KernelPart& kernel_module() { return kernel_module_; }
    ImagePart& image_module() { return image_module_; }

    // The patch grid (patches per axis) of a spatially-varying stage: both
    // modules use the same grid counts, so kernel p is the same cell in both.
    void set_grid(std::size_t grid_rows, std::size_t grid_cols)
        requires requires(KernelPart& k, ImagePart& i) {
            k.set_grid(grid_rows, grid_cols);
            i.set_grid(grid_rows, grid_cols);
        }
    {
        kernel_module_.set_grid(grid_rows, grid_cols);
        image_module_.set_grid(grid_rows, grid_cols);
    }

private:
    // visit(layer) for the parameter blocks in their fixed order.
    template <class V>
    void visit_param_layers(const V& visit) {
        visit_feature_layers(features_, visit);
        if (layer_param_count(kernel_module_) > 0) visit(kernel_module_);
        visit(image_module_);  // always: model files have held its block from the start
    }

    // visit(layer) for the leaf layers with parameters, descending into nested chains.
    template <class L, class V>
    static void visit_feature_layers(L& layer, const V& visit) {
        if constexpr (requires { L::layer_count; })  // a Chain
            layer.for_each_layer([&](auto& inner) { visit_feature_layers(inner, visit); });
        else if (!layer.params().empty())
            visit(layer);
    }

    template <class L, class F>
    static void with_host_params(L& layer, F& f) {
        if constexpr (host_params_v<L>) {
            f(layer.params(), layer.param_grads());
        } else {
            std::vector<scalar> p(layer.num_params()), g(p.size());
            layer.get_params(p);
            layer.get_param_grads(g);
            f(std::span<scalar>(p), std::span<scalar>(g));
            layer.set_params(std::span<const scalar>(p));
            layer.set_param_grads(std::span<const scalar>(g));
        }
    }

    void stack_input(const tensor& blurry, const tensor* latent_in, tensor& input) const {
        if (blurry.shape(0) != 1) throw std::invalid_argument("deblur::Stage: the blurry image must have one channel");
        if ((latent_in != nullptr) != (in_channels_ == 2))
            throw std::invalid_argument("deblur::Stage: a latent image is given exactly to stages set up with 2 channels");
        if (latent_in && latent_in->shape() != blurry.shape())
            throw std::invalid_argument("deblur::Stage: the latent image must have the blurry image's size");
        resize(input, in_channels_, blurry.shape(1), blurry.shape(2));
        copy_into(blurry, input, 0);
        if (latent_in) copy_into(*latent_in, input, blurry.size());
    }

    static void reset(tensor& t, const tensor& like) {
        resize(t, like.shape(0), like.shape(1), like.shape(2));
        zero_fill(t);
    }

    std::size_t in_channels_ = 1;
    Features features_;
    KernelPart kernel_module_;
    ImagePart image_module_;
    tensor input_, feature_maps_, grad_features_, grad_input_, grad_kernel_, grad_blurry_;
};

}  // namespace deblur
