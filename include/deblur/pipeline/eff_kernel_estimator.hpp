#pragma once
// Kernel-field estimation with the spatially-varying network (EFFNetwork,
// net/eff_network.hpp): one K x K kernel per patch of an R x C grid over the
// image, from one forward pass.
//
// Model files: an EFFNetwork model (trained with kernel fields), or a uniform
// model (DefaultNetwork, e.g. models/default.dbm), whose parameters load
// unchanged (the feature layers and beta_x are the same; load_model_parameters.hpp).
//
// Size: the network's largest trained scale estimates Kn px kernels (17 px for
// the shipped model); for a field of `support` px kernels the image is shrunk
// by Kn / support (never enlarged), and further, if needed, so that its longer
// side is at most `max_side` px (the cost grows with the area), and each local
// kernel is scaled back up to support x support. Each local kernel is then
// clipped at zero, normalised, and its centre of mass moved onto the origin:
// the translation ambiguity is global (one latent image), and the centred
// local kernels of a centred camera trajectory all have their centre of mass
// at the origin to within a fraction of a pixel (camera_shake_sampler.hpp),
// so centring each kernel keeps the field consistent.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "../blur/center_kernel.hpp"
#include "../core/tensor.hpp"
#include "../net/default_network.hpp"
#include "../net/eff_network.hpp"
#include "../net/linear_resize.hpp"
#include "../net/load_model_parameters.hpp"
#include "../net/model_bytes.hpp"
#include "../net/model_error.hpp"
#include "../net/model_file.hpp"

namespace deblur {

template <class Net = EFFNetwork, class UniformNet = DefaultNetwork>
class EFFKernelEstimator {
public:
    using Progress = std::function<void(const std::string&)>;

    // Loads an EFF model or a uniform model of the same feature layout; throws
    // ModelError (the EFF architecture's message) if it is neither.
    explicit EFFKernelEstimator(const std::filesystem::path& model) : EFFKernelEstimator(read_model_bytes(model)) {}
    explicit EFFKernelEstimator(const ModelBytes& model) : net_(std::make_unique<Net>()) {
        net_->setup(0);
        try {
            metadata_ = load_model(*net_, model.bytes, model.name);
        } catch (const ModelError& eff_error) {
            try {
                metadata_ = load_model_parameters<UniformNet>(*net_, model.bytes, model.name);
                from_uniform_ = true;
            } catch (const ModelError&) {
                throw eff_error;
            }
        }
        trained_scales_ = Net::scale_count;
        if (auto it = metadata_.find("trained_scales"); it != metadata_.end())
            trained_scales_ = std::clamp<std::size_t>(std::stoul(it->second), 1, Net::scale_count);
    }

    const ModelMetadata& metadata() const { return metadata_; }
    // Whether the file was a uniform model (its parameters in the EFF network).
    bool from_uniform_model() const { return from_uniform_; }
    int largest_kernel() const { return Net::kernel_sizes[trained_scales_ - 1]; }
    // The image scale the network runs at for a field of `support` px kernels on an h x w image.
    double factor(std::size_t h, std::size_t w, int support, std::size_t max_side) const {
        double f = std::min(1.0, double(largest_kernel()) / double(support));
        f = std::min(f, double(max_side) / double(std::max(h, w)));
        return f;
    }

    // grid_rows x grid_cols kernels of support x support (odd) px for a gray image.
    Tensor<float> estimate(const xt::xtensor<float, 2>& gray, std::size_t grid_rows, std::size_t grid_cols, int support,
                           std::size_t max_side = 1024, const Progress& progress = {}) {
        if (support < 3 || support % 2 == 0)
            throw std::invalid_argument("deblur::EFFKernelEstimator: the kernel support must be odd and at least 3");
        const std::size_t last = trained_scales_ - 1;
        const int kn = Net::kernel_sizes[last];
        const double f = factor(gray.shape(0), gray.shape(1), support, max_side);
        const auto h = static_cast<std::size_t>(std::lround(double(gray.shape(0)) * f));
        const auto w = static_cast<std::size_t>(std::lround(double(gray.shape(1)) * f));
        if (h < 2 * std::size_t(kn) || w < 2 * std::size_t(kn))
            throw std::invalid_argument("deblur::EFFKernelEstimator: the image (" + std::to_string(gray.shape(0)) + " x " +
                                        std::to_string(gray.shape(1)) + ") is too small for " +
                                        std::to_string(support) + " px kernels");
        if (progress)
            progress("estimating a " + std::to_string(grid_rows) + " x " + std::to_string(grid_cols) +
                     " kernel field at " + std::to_string(w) + " x " + std::to_string(h));
        Tensor<float> input = make_tensor<float>(1, gray.shape(0), gray.shape(1)), blurry;
        std::copy(gray.begin(), gray.end(), input.begin());
        LinearResize<float>(gray.shape(0), gray.shape(1), h, w).apply(input, blurry);
        set_grid(*net_, grid_rows, grid_cols);
        net_->infer(blurry, last);
        const Tensor<float>& field = net_->kernel();
        const std::size_t patches = grid_rows * grid_cols, s = std::size_t(support), kk = std::size_t(kn) * kn;
        Tensor<float> out = make_tensor<float>(patches, s, s);
        LinearResize<float> grow{std::size_t(kn), std::size_t(kn), s, s};
        Tensor<float> one = make_tensor<float>(1, std::size_t(kn), std::size_t(kn)), big;
        for (std::size_t p = 0; p < patches; ++p) {
            std::copy(field.data() + p * kk, field.data() + (p + 1) * kk, one.data());
            xt::xtensor<float, 2> k;
            if (std::size_t(kn) != s) {
                grow.apply(one, big);
                k = xt::view(big, 0, xt::all(), xt::all());
            } else {
                k = xt::view(one, 0, xt::all(), xt::all());
            }
            k = xt::maximum(k, 0.0f);
            const float sum = xt::sum(k)();
            if (!(sum > 0)) {  // nothing left: the delta (EFFQuotient's own fallback)
                k.fill(0.0f);
                k(s / 2, s / 2) = 1.0f;
            } else {
                k /= sum;
                k = center_kernel(k);
            }
            xt::view(out, p, xt::all(), xt::all()) = k;
        }
        return out;
    }

private:
    std::unique_ptr<Net> net_;
    ModelMetadata metadata_;
    bool from_uniform_ = false;
    std::size_t trained_scales_ = Net::scale_count;
};

}  // namespace deblur
