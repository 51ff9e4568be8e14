#pragma once
// A network type's architecture as text, e.g.
// "MultiScale<Scale<17,Stage<Chain<Conv<32,9>,Tanh,Recombine<32>,Tanh,Recombine<4>>,Quotient<17>,ImageQuotient>>>".
// Model files store it so that loading into a different architecture fails
// with a message that shows both. architecture_of<L>() (layers/layer.hpp) is
// L::architecture_name(): every layer names itself and a composite joins its
// parts' names, so a new layer touches no list here. This header brings the
// library's layers and network types with it.
#include "../layers/chain.hpp"
#include "../layers/conv.hpp"
#include "../layers/eff_image_quotient.hpp"
#include "../layers/eff_quotient.hpp"
#include "../layers/image_quotient.hpp"
#include "../layers/layer.hpp"
#include "../layers/quotient.hpp"
#include "../layers/recombine.hpp"
#include "../layers/tanh.hpp"
#include "multi_scale.hpp"
#include "scale.hpp"
#include "stage.hpp"
