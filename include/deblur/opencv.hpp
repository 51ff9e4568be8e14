#pragma once
// OpenCV matrices in and out (target deblur::opencv, built when OpenCV is found):
//
//   #include <deblur/opencv.hpp>
//   deblur::Deblurrer deblurrer;
//   auto result = deblur::opencv::deblur(deblurrer, cv::imread("shaken.jpg"));   // BGR, CV_8UC3
//   cv::imwrite("sharp.png", result.sharp);
//
// Matrices of CV_8U, CV_16U or CV_32F with 1, 3 or 4 channels, in OpenCV's
// order (BGR, BGRA): the colour channels are put in RGB order for the
// library (its luminance weighs them as R, G, B) and back, so the result has
// the input's type, size and channel order; alpha is passed through.
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "deblur.hpp"

namespace deblur::opencv {

// What deblur() returns: the sharp image as a cv::Mat of the input's type and
// channel order, the kernel as a CV_32F matrix, and the other fields of
// ImageDeblurResult.
struct MatDeblurResult {
    cv::Mat sharp;
    cv::Mat kernel;
    double noise = 0;
    BlindDeblurTimings timings;
    std::string warning;
};

namespace detail {

inline void check(const cv::Mat& image) {
    if (image.empty()) throw std::invalid_argument("deblur::opencv: empty matrix");
    if (image.dims != 2) throw std::invalid_argument("deblur::opencv: expected a 2-D matrix");
    const int depth = image.depth(), channels = image.channels();
    if (depth != CV_8U && depth != CV_16U && depth != CV_32F)
        throw std::invalid_argument("deblur::opencv: samples must be CV_8U, CV_16U or CV_32F");
    if (channels != 1 && channels != 3 && channels != 4)
        throw std::invalid_argument("deblur::opencv: " + std::to_string(channels) + " channels: expected 1, 3 or 4");
}

// `bgr` with its colour channels in RGB order (the same matrix for gray).
inline cv::Mat to_rgb(const cv::Mat& bgr) {
    if (bgr.channels() == 1) return bgr;
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, bgr.channels() == 4 ? cv::COLOR_BGRA2RGBA : cv::COLOR_BGR2RGB);
    return rgb;
}

inline cv::Mat to_bgr(const cv::Mat& rgb) {
    if (rgb.channels() == 1) return rgb.clone();
    cv::Mat bgr;
    cv::cvtColor(rgb, bgr, rgb.channels() == 4 ? cv::COLOR_RGBA2BGRA : cv::COLOR_RGB2BGR);
    return bgr;
}

inline cv::Mat kernel_mat(const xt::xtensor<float, 2>& kernel) {
    cv::Mat k(int(kernel.shape(0)), int(kernel.shape(1)), CV_32F);
    for (int r = 0; r < k.rows; ++r)
        for (int c = 0; c < k.cols; ++c) k.at<float>(r, c) = kernel(std::size_t(r), std::size_t(c));
    return k;
}

template <class T>
MatDeblurResult deblur_as(Deblurrer& deblurrer, const cv::Mat& bgr, const BlindDeblurOptions& options) {
    const cv::Mat rgb = to_rgb(bgr);
    const ImageView<const T> view(rgb.ptr<T>(), std::size_t(rgb.cols), std::size_t(rgb.rows), std::size_t(rgb.channels()),
                                  rgb.step1());
    auto result = deblurrer.deblur(view, options);
    const cv::Mat sharp(rgb.rows, rgb.cols, rgb.type(), result.sharp.samples().data());  // interleaved, packed
    return {to_bgr(sharp), kernel_mat(result.kernel), result.noise, result.timings, std::move(result.warning)};
}

}  // namespace detail

// Deblurs a BGR, BGRA or gray matrix with `deblurrer` (see Deblurrer::deblur).
inline MatDeblurResult deblur(Deblurrer& deblurrer, const cv::Mat& image, const BlindDeblurOptions& options = {}) {
    detail::check(image);
    switch (image.depth()) {
    case CV_8U: return detail::deblur_as<std::uint8_t>(deblurrer, image, options);
    case CV_16U: return detail::deblur_as<std::uint16_t>(deblurrer, image, options);
    default: return detail::deblur_as<float>(deblurrer, image, options);
    }
}

}  // namespace deblur::opencv
