// Uses the installed io headers through deblur::io: writes a 16-bit PNG and a
// float TIFF into the directory given as the argument and reads them back.
#include <deblur/io/read_image.hpp>
#include <deblur/io/write_image.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: consumer_io <directory>\n");
        return 2;
    }
    const std::filesystem::path dir = argv[1];
    auto image = deblur::make_tensor<float>(3, 9, 7);
    for (std::size_t i = 0; i < image.size(); ++i) image.data()[i] = static_cast<float>(i % 65536) / 65535.0f;
    try {
        deblur::io::write_image(dir / "consumer.png", image, deblur::io::SampleType::uint16);
        deblur::io::write_image(dir / "consumer.tif", image, deblur::io::SampleType::float32);
        const auto png = deblur::io::read_image(dir / "consumer.png").pixels;
        const auto tif = deblur::io::read_image(dir / "consumer.tif").pixels;
        float error = 0;
        for (std::size_t i = 0; i < image.size(); ++i)
            error = std::max({error, std::abs(png.data()[i] - image.data()[i]), std::abs(tif.data()[i] - image.data()[i])});
        std::printf("consumer_io: PNG/TIFF round-trip error %.3g\n", error);
        return error <= 0.5f / 65535 ? 0 : 1;
    } catch (const deblur::io::ImageError& e) {
        std::fprintf(stderr, "consumer_io: %s\n", e.what());
        return 1;
    }
}
