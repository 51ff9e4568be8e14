#pragma once
// The execution policy a layer or a network is instantiated with: the scalar
// type, the device it runs on and the FFT backend, by default the device's
// (FFTW on the host; cuFFT on a CUDA GPU, deblur/cuda/cuda_exec.cuh). It is
// chosen once at the top of a network type and passed down to every layer
// (see `rebind_t`). The CUDA layers are the layers' specialisations for
// Device = Cuda, so another FFT backend (another host library, or
// fft::ReferenceDft as a test oracle) is a plain swap of the third argument.
#include <type_traits>

namespace deblur {

namespace fft {
class Fftw;  // fft/fftw.hpp, included by the layers that transform
}

struct Host {};  // the CPU
struct Cuda {};  // a CUDA GPU (deblur/cuda/, with the CUDA backend)

// The FFT backend of a device unless a policy names another.
template <class Device>
struct default_fft;
template <>
struct default_fft<Host> {
    using type = fft::Fftw;
};
template <class Device>
using default_fft_t = typename default_fft<Device>::type;

template <class Scalar, class Device = Host, class Fft = default_fft_t<Device>>
struct Exec {
    static_assert(std::is_floating_point_v<Scalar>, "deblur::Exec: the scalar type must be float or double");
    using scalar = Scalar;
    using device = Device;
    using fft = Fft;
};

using DefaultExec = Exec<float>;

// `rebind_t<Net, E>`: the same architecture instantiated with execution policy E
// (e.g. the float network as a double one for gradient checks). Every layer and
// composite defines `template <class E> using rebind = ...;`.
template <class Layer, class E>
using rebind_t = typename Layer::template rebind<E>;

}  // namespace deblur
