#pragma once
// The execution policy a layer or a network is instantiated with: the scalar
// type and the FFT backend. It is chosen once at the top of a network type and
// passed down to every layer (see `rebind_t`).
#include <concepts>
#include <type_traits>

#include "../fft/fftw.hpp"

namespace deblur {

template <class Scalar, class FftBackend = fft::Fftw>
struct Exec {
    static_assert(std::is_floating_point_v<Scalar>, "deblur::Exec: the scalar type must be float or double");
    using scalar = Scalar;
    using fft = FftBackend;
};

using DefaultExec = Exec<float>;

// `rebind_t<Net, E>`: the same architecture instantiated with execution policy E
// (e.g. the float network as a double one for gradient checks). Every layer and
// composite defines `template <class E> using rebind = ...;`.
template <class Layer, class E>
using rebind_t = typename Layer::template rebind<E>;

}  // namespace deblur
