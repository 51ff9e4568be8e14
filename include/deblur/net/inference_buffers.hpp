#pragma once
// The buffers a network's inference (MultiScale::infer) runs through: one set
// for all its stages and scales, since inference keeps nothing for backward.
// Sized by the first image and reused for every later one of that size.
#include <array>

namespace deblur {

template <class Tensor>
struct InferenceBuffers {
    Tensor input;                        // a stage's stacked [blurry, latent]
    Tensor features;                     // its feature maps
    std::array<Tensor, 2> intermediates;  // the feature chain's layers, in turn (Chain::infer)
};

}  // namespace deblur
