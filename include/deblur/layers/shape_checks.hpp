#pragma once
// The input shapes the layers accept, checked in one place for the CPU layers
// and their CUDA specialisations (which cannot check values on the host: the
// CPU layers also reject NaN and infinity). Shapes are C x H x W arrays (an
// xtensor's shape or a DeviceTensor's).
#include <cstddef>
#include <stdexcept>
#include <string>

namespace deblur::detail {

// A layer set up for `channels` input channels (Conv, Recombine): the input
// has them (and setup() was called); `layer` and `where` name the call.
template <class Shape>
void check_input_channels(const Shape& in, std::size_t channels, const char* layer, const char* where) {
    const std::string who = std::string("deblur::") + layer + "::" + where;
    if (channels == 0) throw std::invalid_argument(who + ": call setup() first");
    if (in[0] != channels)
        throw std::invalid_argument(who + ": the input has " + std::to_string(in[0]) + " channels, setup() was given " +
                                    std::to_string(channels));
}

// Conv<M, F>: as check_input_channels, and the image at least F x F.
template <class Shape>
void check_conv_input(const Shape& in, std::size_t channels, std::size_t f, const char* where) {
    check_input_channels(in, channels, "Conv", where);
    if (in[1] < f || in[2] < f)
        throw std::invalid_argument(std::string("deblur::Conv::") + where + ": the image (" + std::to_string(in[1]) +
                                    " x " + std::to_string(in[2]) + ") is smaller than the filter (" +
                                    std::to_string(f) + ")");
}

// A layer's backward (Conv, Recombine): grad_out of the output's shape
// (channels x rows x cols), grad_in of the input's.
template <class Shape>
void check_backward_shapes(const Shape& in, const Shape& grad_out, const Shape& grad_in, std::size_t channels,
                           std::size_t rows, std::size_t cols, const char* layer) {
    if (grad_out[0] != channels || grad_out[1] != rows || grad_out[2] != cols)
        throw std::invalid_argument(std::string("deblur::") + layer +
                                    "::backward: grad_out must have the shape of the output");
    if (grad_in != in)
        throw std::invalid_argument(std::string("deblur::") + layer + "::backward: grad_in must have the shape of the input");
}

// The kernel quotients (Quotient, EFFQuotient; `layer` names it): 2P input channels, P >= 1.
inline void check_quotient_channels(std::size_t channels, const char* layer) {
    if (channels < 2 || channels % 2 != 0)
        throw std::invalid_argument(std::string("deblur::") + layer + ": needs an even number (>= 2) of input channels, got " +
                                    std::to_string(channels));
}

// Quotient<K>: 2P x H x W feature maps, P >= 1, H and W at least K.
inline void check_quotient_maps(std::size_t channels, std::size_t h, std::size_t w, int k) {
    check_quotient_channels(channels, "Quotient");
    if (h < std::size_t(k) || w < std::size_t(k))
        throw std::invalid_argument("deblur::Quotient: the feature maps (" + std::to_string(h) + " x " +
                                    std::to_string(w) + ") are smaller than the kernel (" + std::to_string(k) + ")");
}

// ImageQuotient: a 1 x K x K kernel (K odd) and a 1 x H x W blurry image, H and W at least K.
inline void check_image_quotient_shapes(std::size_t kernel_channels, std::size_t kernel_rows, std::size_t kernel_cols,
                                        std::size_t image_channels, std::size_t h, std::size_t w) {
    const std::size_t k = kernel_rows;
    if (kernel_channels != 1 || kernel_cols != k || k % 2 == 0)
        throw std::invalid_argument("deblur::ImageQuotient: the kernel must be 1 x K x K with K odd");
    if (image_channels != 1) throw std::invalid_argument("deblur::ImageQuotient: the blurry image must have one channel");
    if (h < k || w < k)
        throw std::invalid_argument("deblur::ImageQuotient: the blurry image (" + std::to_string(h) + " x " +
                                    std::to_string(w) + ") is smaller than the kernel (" + std::to_string(k) + ")");
}

// ImageQuotient::backward: each gradient has the shape of what it is the gradient of.
template <class Shape>
void check_image_quotient_gradients(const Shape& kernel, const Shape& blurry, const Shape& grad_latent,
                                    const Shape& grad_kernel, const Shape& grad_blurry) {
    if (grad_latent != blurry)
        throw std::invalid_argument("deblur::ImageQuotient: grad_latent must have the blurry image's shape");
    if (grad_kernel != kernel) throw std::invalid_argument("deblur::ImageQuotient: grad_kernel must have the kernel's shape");
    if (grad_blurry != blurry)
        throw std::invalid_argument("deblur::ImageQuotient: grad_blurry must have the blurry image's shape");
}

}  // namespace deblur::detail
