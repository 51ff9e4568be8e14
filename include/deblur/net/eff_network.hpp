#pragma once
// The paper's network for spatially-varying blur (Section 5.3): the default
// architecture (default_network.hpp) with the kernel and image estimators of
// every stage replaced by their EFF counterparts, so each stage estimates a
// kernel field (one K x K kernel per patch of an EFF grid) instead of one
// kernel. Written out, the whole architecture is
//
//   MultiScale<Scale<17, Stage<Chain<Conv<32,9>, Tanh, Recombine<32>, Tanh, Recombine<4>>, EFFQuotient<17>, EFFImageQuotient>,
//                        Stage<Chain<Conv<32,9>, Tanh, Recombine<32>, Tanh, Recombine<4>>, EFFQuotient<17>, EFFImageQuotient>,
//                        Stage<Chain<Conv<32,9>, Tanh, Recombine<32>, Tanh, Recombine<8>>, EFFQuotient<17>, EFFImageQuotient>>,
//              Scale<25, ... the same with EFFQuotient<25> ...>,
//              Scale<33, ... the same with EFFQuotient<33> ...>>
//
// The feature layers are the uniform network's, and EFFImageQuotient keeps
// ImageQuotient's one parameter (log beta_x), so the parameter blocks of both
// networks have the same order and sizes: the uniform model's parameters load
// into this network unchanged (load_model_parameters.hpp), and with a 1 x 1
// grid it computes exactly what the uniform network computes.
//
// The patch grid is a run-time setting (set_grid below), the same for every
// stage of every scale; model files do not record it.
#include <cstddef>
#include <utility>

#include "../core/exec.hpp"
#include "../layers/eff_image_quotient.hpp"
#include "../layers/eff_quotient.hpp"
#include "default_network.hpp"
#include "multi_scale.hpp"
#include "scale.hpp"
#include "stage.hpp"

namespace deblur {

template <int K, int P, class E = DefaultExec>
using PaperEFFStage = Stage<PaperFeatures<P, E>, EFFQuotient<K, E>, EFFImageQuotient<E>>;

template <int K, class E = DefaultExec>
using PaperEFFScale = Scale<K, PaperEFFStage<K, 2, E>, PaperEFFStage<K, 2, E>, PaperEFFStage<K, 4, E>>;

template <class E = DefaultExec>
using PaperEFFNetwork = MultiScale<PaperEFFScale<17, E>, PaperEFFScale<25, E>, PaperEFFScale<33, E>>;

using EFFNetwork = PaperEFFNetwork<>;

// Sets the patch grid (patches per axis) of every stage of every scale.
template <int K, class... Stages>
void set_grid(Scale<K, Stages...>& scale, std::size_t grid_rows, std::size_t grid_cols) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (scale.template stage<I>().set_grid(grid_rows, grid_cols), ...);
    }(std::index_sequence_for<Stages...>{});
}

template <class... Scales>
void set_grid(MultiScale<Scales...>& net, std::size_t grid_rows, std::size_t grid_cols) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (set_grid(net.template scale<I>(), grid_rows, grid_cols), ...);
    }(std::index_sequence_for<Scales...>{});
}

}  // namespace deblur
