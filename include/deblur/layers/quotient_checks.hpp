#pragma once
// The input shapes the quotient layers accept, checked in one place for the
// CPU layers and their CUDA specialisations (which cannot check values on the
// host: the CPU layers also reject NaN and infinity).
#include <cstddef>
#include <stdexcept>
#include <string>

namespace deblur::detail {

// Quotient<K>: 2P x H x W feature maps, P >= 1, H and W at least K.
inline void check_quotient_maps(std::size_t channels, std::size_t h, std::size_t w, int k) {
    if (channels < 2 || channels % 2 != 0)
        throw std::invalid_argument("deblur::Quotient: needs an even number (>= 2) of input channels, got " +
                                    std::to_string(channels));
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

}  // namespace deblur::detail
