#pragma once
// A network type's architecture as text, e.g.
// "MultiScale<Scale<17,Stage<Chain<Conv<32,9>,Tanh,Recombine<32>,Tanh,Recombine<4>>,Quotient<17>,ImageQuotient>>>".
// Model files store it so that loading into a different architecture fails
// with a message that shows both.
#include <string>

#include "../layers/chain.hpp"
#include "../layers/conv.hpp"
#include "../layers/eff_image_quotient.hpp"
#include "../layers/eff_quotient.hpp"
#include "../layers/image_quotient.hpp"
#include "../layers/quotient.hpp"
#include "../layers/recombine.hpp"
#include "../layers/tanh.hpp"
#include "multi_scale.hpp"
#include "scale.hpp"
#include "stage.hpp"

namespace deblur {

template <class L>
struct architecture;

template <class L>
std::string architecture_of() {
    return architecture<L>::name();
}

namespace detail {
template <class... Ls>
std::string join_architectures() {
    std::string s;
    ((s += (s.empty() ? "" : ",") + architecture_of<Ls>()), ...);
    return s;
}
}  // namespace detail

template <class E>
struct architecture<Tanh<E>> {
    static std::string name() { return "Tanh"; }
};
template <int N, int F, class E>
struct architecture<Conv<N, F, E>> {
    static std::string name() { return "Conv<" + std::to_string(N) + "," + std::to_string(F) + ">"; }
};
template <int M, class E>
struct architecture<Recombine<M, E>> {
    static std::string name() { return "Recombine<" + std::to_string(M) + ">"; }
};
template <int K, class E>
struct architecture<Quotient<K, E>> {
    static std::string name() { return "Quotient<" + std::to_string(K) + ">"; }
};
template <class E>
struct architecture<ImageQuotient<E>> {
    static std::string name() { return "ImageQuotient"; }
};
// The EFF layers' patch grid is set at run time (set_grid), so it is not part
// of the architecture: a model trained on one grid loads for any other.
template <int K, class E>
struct architecture<EFFQuotient<K, E>> {
    static std::string name() { return "EFFQuotient<" + std::to_string(K) + ">"; }
};
template <class E>
struct architecture<EFFImageQuotient<E>> {
    static std::string name() { return "EFFImageQuotient"; }
};
template <class... Ls>
struct architecture<Chain<Ls...>> {
    static std::string name() { return "Chain<" + detail::join_architectures<Ls...>() + ">"; }
};
template <class F, class Q, class I>
struct architecture<Stage<F, Q, I>> {
    static std::string name() { return "Stage<" + detail::join_architectures<F, Q, I>() + ">"; }
};
template <int K, class... Ss>
struct architecture<Scale<K, Ss...>> {
    static std::string name() { return "Scale<" + std::to_string(K) + "," + detail::join_architectures<Ss...>() + ">"; }
};
template <class... Ss>
struct architecture<MultiScale<Ss...>> {
    static std::string name() { return "MultiScale<" + detail::join_architectures<Ss...>() + ">"; }
};

}  // namespace deblur
