#pragma once
// The paper's architecture (Section 5): three scales for 17, 25 and 33 px
// kernels, three stages each; every stage extracts features with 32 filters,
// tanh, a recombination to 32 images, tanh, and a recombination to 2P
// gradient-like images (P = 2, and P = 4 in the third stage). The filter size
// is not given in the paper; 9 x 9 here.
//
// To try another architecture, write another alias like these: the type is the
// whole architecture, and model files record it.
#include "../core/exec.hpp"
#include "../layers/chain.hpp"
#include "../layers/conv.hpp"
#include "../layers/image_quotient.hpp"
#include "../layers/quotient.hpp"
#include "../layers/recombine.hpp"
#include "../layers/tanh.hpp"
#include "multi_scale.hpp"
#include "scale.hpp"
#include "stage.hpp"

namespace deblur {

template <int P, class E = DefaultExec>
using PaperFeatures = Chain<Conv<32, 9, E>, Tanh<E>, Recombine<32, E>, Tanh<E>, Recombine<2 * P, E>>;

template <int K, int P, class E = DefaultExec>
using PaperStage = Stage<PaperFeatures<P, E>, Quotient<K, E>, ImageQuotient<E>>;

template <int K, class E = DefaultExec>
using PaperScale = Scale<K, PaperStage<K, 2, E>, PaperStage<K, 2, E>, PaperStage<K, 4, E>>;

template <class E = DefaultExec>
using PaperNetwork = MultiScale<PaperScale<17, E>, PaperScale<25, E>, PaperScale<33, E>>;

using DefaultNetwork = PaperNetwork<>;

}  // namespace deblur
