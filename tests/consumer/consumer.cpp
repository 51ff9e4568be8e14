// Uses the installed headers through deblur::deblur: an FFT round trip and a
// Tanh layer. Exits 0 when both give the expected numbers.
#if __has_include(<deblur/deblur.hpp>)
#include <deblur/deblur.hpp>
#else
#include <deblur/core/exec.hpp>
#include <deblur/core/tensor.hpp>
#include <deblur/fft/fftw.hpp>
#include <deblur/layers/tanh.hpp>
#endif

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <vector>

int main() {
    const std::size_t h = 12, w = 10;
    auto image = deblur::make_tensor<double>(1, h, w);
    for (std::size_t i = 0; i < image.size(); ++i) image.data()[i] = std::cos(0.3 * static_cast<double>(i));

    std::vector<std::complex<double>> spectrum(h * (w / 2 + 1));
    auto back = deblur::make_tensor<double>(1, h, w);
    deblur::fft::Fftw::forward<double>(h, w, image.data(), spectrum.data());
    deblur::fft::Fftw::inverse<double>(h, w, spectrum.data(), back.data());
    double fft_error = 0;
    for (std::size_t i = 0; i < image.size(); ++i)
        fft_error = std::max(fft_error, std::abs(back.data()[i] / double(h * w) - image.data()[i]));

    deblur::Tanh<deblur::Exec<double>> layer;
    deblur::Tensor<double> out;
    layer.forward(image, out);
    double tanh_error = 0;
    for (std::size_t i = 0; i < image.size(); ++i)
        tanh_error = std::max(tanh_error, std::abs(out.data()[i] - std::tanh(image.data()[i])));

    std::printf("consumer: FFT round-trip error %.3g, Tanh error %.3g\n", fft_error, tanh_error);
    return fft_error < 1e-12 && tanh_error == 0 ? 0 : 1;
}
