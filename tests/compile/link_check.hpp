#pragma once
// The work both translation units of the link test do: the same template
// instances (a Tanh layer, an FFTW round trip) compiled in each unit.
#include <deblur/core/exec.hpp>
#include <deblur/core/tensor.hpp>
#include <deblur/fft/fftw.hpp>
#include <deblur/layers/tanh.hpp>

#include <cmath>
#include <complex>
#include <cstddef>
#include <vector>

namespace link_check {

struct Result {
    double value = 0;
    bool ok = false;
};

// The sum of tanh over a fixed image after an FFT round trip; ok when the round trip restores the image.
inline Result run() {
    const std::size_t h = 6, w = 10;
    auto image = deblur::make_tensor<float>(1, h, w);
    for (std::size_t i = 0; i < image.size(); ++i) image.data()[i] = std::sin(0.37f * static_cast<float>(i));
    std::vector<std::complex<float>> spectrum(h * (w / 2 + 1));
    auto back = deblur::make_tensor<float>(1, h, w);
    deblur::fft::Fftw::forward<float>(h, w, image.data(), spectrum.data());
    deblur::fft::Fftw::inverse<float>(h, w, spectrum.data(), back.data());
    Result r;
    r.ok = true;
    for (std::size_t i = 0; i < image.size(); ++i) {
        back.data()[i] /= static_cast<float>(h * w);
        if (std::abs(back.data()[i] - image.data()[i]) > 1e-5f) r.ok = false;
    }
    deblur::Tanh<deblur::Exec<float>> layer;
    deblur::Tensor<float> out;
    layer.forward(back, out);
    for (float v : out) r.value += v;
    return r;
}

Result run_in_a();
Result run_in_b();
std::size_t plans_seen_from_a();
std::size_t plans_seen_from_b();

}  // namespace link_check
