#pragma once
// Blind kernel estimation with a trained network, for images of any blur
// size up to a few times the network's largest kernel.
//
// Size rule (kernel_size = 0, automatic): run the network at full resolution
// up to its smallest trained scale, then, while the estimated kernel reaches
// the border of its support (more than 5 % of its mass in the outer sixth),
// up to the next larger one: a large scale's kernel is a blob wider than a
// small blur, so each blur gets the smallest scale that holds it. If even
// the largest trained scale's kernel fills its support, the blur is larger
// than the network can see, so shrink the image by sqrt(2) and try again (at
// most 4 times, i.e. blurs up to 4x the largest kernel), and scale the
// kernel back up. If no support fits, the kernel with the least mass at the
// border is kept. The kernel is finally cropped to its visible support
// (crop_kernel_to_support: values above 2 % of the peak, plus 2 px).
// With kernel_size = N given: the smallest trained scale of at least N px at
// full resolution, else the largest on an image shrunk once so that N fits.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <type_traits>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "../blur/center_kernel.hpp"
#include "../blur/crop_kernel.hpp"
#include "../net/default_network.hpp"
#include "../net/linear_resize.hpp"
#include "../net/model_bytes.hpp"
#include "../net/model_file.hpp"

namespace deblur {

template <class Net = DefaultNetwork>
class KernelEstimator {
public:
    using Kernel = xt::xtensor<float, 2>;
    using Progress = std::function<void(const std::string&)>;

    // Loads the model (a file, or its bytes); throws ModelError if it is
    // missing, corrupt or of another architecture.
    explicit KernelEstimator(const std::filesystem::path& model) : KernelEstimator(read_model_bytes(model)) {}
    explicit KernelEstimator(const ModelBytes& model) {
        net_.setup(0);
        metadata_ = load_model(net_, model.bytes, model.name);
        // Models trained scale by scale record how many scales are trained.
        trained_scales_ = Net::scale_count;
        if (auto it = metadata_.find("trained_scales"); it != metadata_.end())
            trained_scales_ = std::clamp<std::size_t>(std::stoul(it->second), 1, Net::scale_count);
    }

    const ModelMetadata& metadata() const { return metadata_; }
    int largest_kernel() const { return Net::kernel_sizes[trained_scales_ - 1]; }

    // Estimated kernel (odd size, non-negative, sum 1, centred) of a gray image.
    Kernel estimate(const xt::xtensor<float, 2>& gray, int kernel_size = 0, const Progress& progress = {}) {
        const int kmax = largest_kernel();
        if (kernel_size < 0) throw std::invalid_argument("deblur::KernelEstimator: kernel size must be positive");
        const std::size_t largest = trained_scales_ - 1;
        if (kernel_size > 0) {
            for (std::size_t scale = 0; scale < largest; ++scale)
                if (Net::kernel_sizes[scale] >= kernel_size) return crop_kernel_to_support(estimate_at(gray, 1.0, scale, progress));
            const double factor = std::min(1.0, double(kmax) / kernel_size);
            return crop_kernel_to_support(estimate_at(gray, factor, largest, progress));
        }
        Kernel k = estimate_at(gray, 1.0, 0, progress);
        double outer = kernel_outer_mass(k);
        // A larger support's kernel replaces the current one if it has less
        // mass at the border; so when none fits (a noisy estimate fills every
        // support), the best-fitting one is kept, not the largest (which gave
        // ratios of 50-200 in deblur-validate at sigma 0.05).
        const auto try_larger = [&](double factor, std::size_t scale) {
            Kernel larger = estimate_at(gray, factor, scale, progress);
            const double larger_outer = kernel_outer_mass(larger);
            if (larger_outer < outer) k = std::move(larger), outer = larger_outer;
        };
        for (std::size_t scale = 1; scale <= largest && outer > fit_mass; ++scale) {
            if (!large_enough(gray, 1.0, scale)) break;
            try_larger(1.0, scale);
        }
        for (double factor = 1 / std::sqrt(2.0); outer > fit_mass && factor > 0.2; factor /= std::sqrt(2.0)) {
            if (!large_enough(gray, factor, largest)) break;  // keep the best estimate the image allows
            try_larger(factor, largest);
        }
        return crop_kernel_to_support(k);
    }

private:
    static constexpr double fit_mass = 0.05;  // a kernel fits its support with at most this mass at the border

    // The kernel of network scale `last` (and the coarser ones it builds on)
    // on the image shrunk by `factor`, scaled back to full resolution.
    Kernel estimate_at(const xt::xtensor<float, 2>& gray, double factor, std::size_t last, const Progress& progress) {
        const int k = Net::kernel_sizes[last];
        const auto h = static_cast<std::size_t>(std::lround(gray.shape(0) * factor));
        const auto w = static_cast<std::size_t>(std::lround(gray.shape(1) * factor));
        if (!large_enough(gray, factor, last))
            throw std::invalid_argument("deblur::KernelEstimator: the image (" + std::to_string(gray.shape(0)) + " x " +
                                        std::to_string(gray.shape(1)) + ") is too small for a " +
                                        std::to_string(int(std::lround(k / factor))) + " px kernel");
        if (progress)
            progress("estimating the kernel at " + std::to_string(w) + " x " + std::to_string(h) + " (" +
                     std::to_string(int(std::lround(k / factor))) + " px support)");
        Tensor<float> input = make_tensor<float>(1, gray.shape(0), gray.shape(1));
        std::copy(gray.begin(), gray.end(), input.begin());
        Tensor<float> blurry;
        LinearResize<float>(gray.shape(0), gray.shape(1), h, w).apply(input, blurry);
        Tensor<float> kernel = run_network(blurry, last);
        if (factor < 1) {  // back to full resolution
            const auto n = static_cast<std::size_t>(std::lround(k / factor)) | 1u;
            Tensor<float> big;
            LinearResize<float>(k, k, n, n).apply(kernel, big);
            kernel = big;
        }
        Kernel out = xt::view(kernel, 0, xt::all(), xt::all());
        out = xt::maximum(out, 0.0f);
        const float sum = xt::sum(out)();
        if (!(sum > 0)) throw std::runtime_error("deblur::KernelEstimator: the network found no kernel");
        out /= sum;
        return center_kernel(out);
    }

    // The network's kernel of `blurry`. A network on device tensors (a CUDA
    // network, deblur/cuda/) gets the image uploaded and returns only its
    // kernel to the host, at the end.
    Tensor<float> run_network(const Tensor<float>& blurry, std::size_t last) {
        if constexpr (std::is_same_v<typename Net::tensor, Tensor<float>>) {
            infer(net_, blurry, last);
            return net_.kernel();
        } else {
            copy_to_device(blurry, net_input_);  // deblur/cuda/transfer.cuh, by argument-dependent lookup
            infer(net_, net_input_, last);
            Tensor<float> kernel;
            copy_to_host(net_.kernel(), kernel);
            return kernel;
        }
    }

    // The network's inference path (no intermediates kept for training), or
    // forward for a network type without one.
    template <class N, class T>
    static void infer(N& net, const T& blurry, std::size_t last) {
        if constexpr (requires { net.infer(blurry, last); })
            net.infer(blurry, last);
        else
            net.forward(blurry, last);
    }

    // Network scale `scale` needs an image of at least twice its kernel size.
    bool large_enough(const xt::xtensor<float, 2>& gray, double factor, std::size_t scale) const {
        const double k = Net::kernel_sizes[scale];
        return gray.shape(0) * factor >= 2 * k && gray.shape(1) * factor >= 2 * k;
    }

    Net net_;
    typename Net::tensor net_input_;  // device networks only
    ModelMetadata metadata_;
    std::size_t trained_scales_ = Net::scale_count;
};

}  // namespace deblur
