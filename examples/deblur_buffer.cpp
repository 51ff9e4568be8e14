// Deblurring an image that is already in memory, with the model built into
// the program: what a camera pipeline or an editor embedding deblur does.
// Only <deblur/deblur.hpp> (target deblur::deblur); no file is read.
//
// The "camera frame" here is 16-bit gray with padded rows (a stride of 256
// samples for 200 px), made by the program: a pattern shaken by a known
// diagonal motion of 7 px.
#include <deblur/deblur.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

int main() {
    const std::size_t width = 200, height = 150, stride = 256, shake = 7;
    const auto scene = [](std::size_t y, std::size_t x) {  // rings and stripes, values in [0.1, 0.9]
        const double r = std::hypot(double(x) - 90.0, double(y) - 70.0);
        return 0.5 + 0.4 * std::sin(0.35 * r) * (x / 25 % 2 ? 1.0 : -0.6);
    };
    std::vector<std::uint16_t> frame(height * stride, 0);
    for (std::size_t y = 0; y < height; ++y)
        for (std::size_t x = 0; x < width; ++x) {
            double sum = 0;  // the shake: the mean of the scene along a diagonal
            for (std::size_t k = 0; k < shake; ++k) sum += scene(y + k, x + k);
            frame[y * stride + x] = static_cast<std::uint16_t>(std::lround(65535 * sum / shake));
        }

    deblur::Deblurrer deblurrer;  // the shipped model, compiled in
    const deblur::ImageView<const std::uint16_t> view(frame.data(), width, height, 1, stride);
    deblur::BlindDeblurOptions options;
    options.progress = [](const std::string& line) { std::printf("  %s\n", line.c_str()); };
    const auto result = deblurrer.deblur(view, options);
    if (!result.warning.empty()) std::printf("warning: %s\n", result.warning.c_str());

    // The result is 16-bit gray too (rows packed). How close is it to the scene,
    // away from the borders (the scene as the shake saw it is shifted by 3 px)?
    const auto sharp = result.sharp.view();
    double before = 0, after = 0;
    for (std::size_t y = 15; y + 15 < height; ++y)
        for (std::size_t x = 15; x + 15 < width; ++x) {
            const double truth = scene(y + shake / 2, x + shake / 2);
            before += std::pow(view(y, x, 0) / 65535.0 - truth, 2);
            after += std::pow(sharp(y, x, 0) / 65535.0 - truth, 2);
        }
    std::printf("%zu x %zu kernel, noise %.4f, %.2f s; error %.1f -> %.1f (sum of squares)\n", result.kernel.shape(1),
                result.kernel.shape(0), result.noise, result.timings.total().wall, before, after);
    return after < before ? 0 : 1;
}
