// Uses the installed library the way an embedder would: only
// <deblur/deblur.hpp> and deblur::deblur, an image in memory (interleaved
// 8-bit RGB) and the model built into the program; no file is opened.
// A scene of bars is blurred here by a known horizontal 9 px motion; the
// result must be closer to the sharp scene than the blurry input was.
#include <deblur/deblur.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

int main() {
    const std::size_t w = 180, h = 160, channels = 3, blur = 9;
    std::vector<double> sharp(w * h);
    for (std::size_t y = 0; y < h; ++y)
        for (std::size_t x = 0; x < w; ++x)
            sharp[y * w + x] = 0.2 + 0.6 * (((x / 13 + y / 29) % 3 == 0) ^ ((x * x + 2 * y * y) % 9973 < 3000));
    std::vector<std::uint8_t> rgb(w * h * channels);
    for (std::size_t y = 0; y < h; ++y)
        for (std::size_t x = 0; x < w; ++x) {
            double sum = 0;  // a 9 px horizontal motion blur, clamped at the border
            for (std::size_t k = 0; k < blur; ++k) sum += sharp[y * w + std::min(w - 1, std::max<std::size_t>(x + k, blur / 2) - blur / 2)];
            for (std::size_t c = 0; c < channels; ++c)
                rgb[(y * w + x) * channels + c] = static_cast<std::uint8_t>(std::lround(255 * sum / blur));
        }

    deblur::Deblurrer deblurrer;  // the embedded default model
    const deblur::ImageView<const std::uint8_t> photo(rgb.data(), w, h, channels);
    const auto result = deblurrer.deblur(photo);
    if (!result.warning.empty()) {
        std::printf("consumer: warning: %s\n", result.warning.c_str());
        return 1;
    }
    const auto out = result.sharp.view();
    double before = 0, after = 0;  // squared error inside a 20 px margin, green channel
    for (std::size_t y = 20; y + 20 < h; ++y)
        for (std::size_t x = 20; x + 20 < w; ++x) {
            const double truth = 255 * sharp[y * w + x];
            before += std::pow(photo(y, x, 1) - truth, 2);
            after += std::pow(out(y, x, 1) - truth, 2);
        }
    std::printf("consumer: %zu x %zu kernel, noise %.4f, squared error %.3g -> %.3g\n", result.kernel.shape(1),
                result.kernel.shape(0), result.noise, before, after);
    return out.channels() == channels && after < 0.7 * before ? 0 : 1;
}
