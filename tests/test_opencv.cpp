// deblur/opencv.hpp: cv::Mat in and out, OpenCV's BGR order respected, every
// supported type, and clear errors for the others. Images made here.
#include "doctest_main.hpp"

#include <deblur/opencv.hpp>

#include <opencv2/imgproc.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>

namespace {

// A 150 px colour scene (blue discs on a warm background, so B and R differ)
// blurred by a 7 px diagonal motion, as CV_8UC3 in BGR order.
cv::Mat blurry_bgr() {
    cv::Mat sharp(150, 150, CV_8UC3, cv::Scalar(40, 120, 200));
    std::mt19937 rng(3);
    for (int i = 0; i < 30; ++i) {
        const cv::Point centre(int(rng() % 150), int(rng() % 150));
        cv::circle(sharp, centre, 3 + int(rng() % 12), cv::Scalar(230, 90 + double(rng() % 100), 30), cv::FILLED);
        cv::rectangle(sharp, centre, centre + cv::Point(4, 25), cv::Scalar(10, 10, 10), cv::FILLED);
    }
    cv::Mat kernel = cv::Mat::zeros(7, 7, CV_32F);
    for (int i = 0; i < 7; ++i) kernel.at<float>(i, i) = 1.0f / 7;
    cv::Mat blurry;
    cv::filter2D(sharp, blurry, -1, kernel, cv::Point(-1, -1), 0, cv::BORDER_REFLECT);
    return blurry;
}

}  // namespace

TEST_CASE("a BGR matrix comes back in its type, size and channel order, deblurred as its RGB buffer would be") {
    const cv::Mat bgr = blurry_bgr();
    deblur::Deblurrer deblurrer;
    const auto result = deblur::opencv::deblur(deblurrer, bgr);
    REQUIRE(result.warning.empty());
    CHECK(result.sharp.type() == CV_8UC3);
    CHECK(result.sharp.size() == bgr.size());
    CHECK(result.kernel.type() == CV_32F);
    CHECK(result.kernel.rows % 2 == 1);
    CHECK(cv::sum(result.kernel)[0] == doctest::Approx(1.0).epsilon(1e-4));

    // The same pixels as an interleaved RGB buffer through ImageView.
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    const auto direct = deblurrer.deblur(deblur::ImageView<const std::uint8_t>(rgb.ptr<std::uint8_t>(), 150, 150, 3));
    std::size_t differ = 0;
    for (int r = 0; r < 150; ++r)
        for (int c = 0; c < 150; ++c)
            for (int k = 0; k < 3; ++k)  // BGR in the result, RGB in the buffer
                differ += result.sharp.at<cv::Vec3b>(r, c)[k] != direct.sharp.view()(std::size_t(r), std::size_t(c), std::size_t(2 - k));
    CHECK(differ == 0);
}

TEST_CASE("16-bit BGRA keeps its alpha, float gray works, other types are refused") {
    const cv::Mat bgr = blurry_bgr();
    cv::Mat bgra, bgra16;
    cv::cvtColor(bgr, bgra, cv::COLOR_BGR2BGRA);
    for (int r = 0; r < bgra.rows; ++r)
        for (int c = 0; c < bgra.cols; ++c) bgra.at<cv::Vec4b>(r, c)[3] = std::uint8_t((r * 7 + c) % 256);
    bgra.convertTo(bgra16, CV_16U, 257.0);
    deblur::Deblurrer deblurrer;
    const auto result = deblur::opencv::deblur(deblurrer, bgra16);
    CHECK(result.sharp.type() == CV_16UC4);
    std::size_t alpha_kept = 0;
    for (int r = 0; r < bgra16.rows; ++r)
        for (int c = 0; c < bgra16.cols; ++c) alpha_kept += result.sharp.at<cv::Vec4w>(r, c)[3] == bgra16.at<cv::Vec4w>(r, c)[3];
    CHECK(alpha_kept == std::size_t(bgra16.total()));

    cv::Mat gray, gray32;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    gray.convertTo(gray32, CV_32F, 1 / 255.0);
    CHECK(deblur::opencv::deblur(deblurrer, gray32).sharp.type() == CV_32FC1);

    CHECK_THROWS_WITH_AS(deblur::opencv::deblur(deblurrer, cv::Mat(20, 20, CV_64FC1)),
                         "deblur::opencv: samples must be CV_8U, CV_16U or CV_32F", std::invalid_argument);
    CHECK_THROWS_WITH_AS(deblur::opencv::deblur(deblurrer, cv::Mat(20, 20, CV_8UC2)),
                         "deblur::opencv: 2 channels: expected 1, 3 or 4", std::invalid_argument);
    CHECK_THROWS_WITH_AS(deblur::opencv::deblur(deblurrer, cv::Mat()), "deblur::opencv: empty matrix", std::invalid_argument);
}
