#pragma once
// Building a model from the scales of two: e.g. a noise-specific model's
// trained 17 px scale under the default model's larger ones, the start of
// that noise model's next scale (deblur-train --init-coarser).
#include <algorithm>
#include <cstddef>
#include <vector>

namespace deblur {

// Copies the parameters of the first `count` scales of `from` into `to`, a
// network of the same type (MultiScale); the other scales of `to` are left
// as they are. A count above the network's scale count copies every scale.
template <class Net>
void copy_scales(Net& from, Net& to, std::size_t count) {
    std::vector<std::vector<double>> blocks;  // float or double parameters, copied exactly
    from.for_each_param_block([&](std::size_t scale, std::size_t, auto params, auto) {
        if (scale < count) blocks.emplace_back(params.begin(), params.end());
    });
    std::size_t b = 0;
    to.for_each_param_block([&](std::size_t scale, std::size_t, auto params, auto) {
        if (scale >= count) return;
        std::copy(blocks[b].begin(), blocks[b].end(), params.begin());
        ++b;
    });
}

}  // namespace deblur
