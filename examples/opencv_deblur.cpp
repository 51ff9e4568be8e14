// deblur-opencv: a photo read and written by OpenCV, deblurred in memory.
//
//   deblur-opencv shaken.jpg sharp.png
#include <deblur/opencv.hpp>

#include <opencv2/imgcodecs.hpp>

#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: deblur-opencv INPUT OUTPUT\n");
        return 2;
    }
    try {
        const cv::Mat photo = cv::imread(argv[1], cv::IMREAD_UNCHANGED);  // BGR(A), 8 or 16 bit
        if (photo.empty()) throw std::runtime_error(std::string(argv[1]) + ": cannot read");
        deblur::Deblurrer deblurrer;
        deblur::BlindDeblurOptions options;
        options.progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
        const auto result = deblur::opencv::deblur(deblurrer, photo, options);
        if (!result.warning.empty()) std::fprintf(stderr, "warning: %s\n", result.warning.c_str());
        if (!cv::imwrite(argv[2], result.sharp)) throw std::runtime_error(std::string(argv[2]) + ": cannot write");
        std::printf("%s: %d px kernel, noise %.4f\n", argv[2], result.kernel.rows, result.noise);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "deblur-opencv: %s\n", e.what());
        return 1;
    }
}
