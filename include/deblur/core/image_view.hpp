#pragma once
// A non-owning view of a caller's image buffer, so that the library reads
// and writes images where they already are (a camera frame, a decoder's
// output, a NumPy array, a cv::Mat):
//
//   deblur::ImageView<const std::uint8_t> in(rgb, width, height, 3);        // interleaved RGBRGB..., rows packed
//   deblur::ImageView<float> out = deblur::ImageView<float>::planar(p, width, height, 1);
//
// T is the sample type: std::uint8_t (0..255), std::uint16_t (0..65535) or
// float (nominally 0..1), const for input. Channels: 1 (gray), 3 (RGB) or 4
// (RGBA: the alpha channel is passed through, not deblurred). Strides are in
// elements (samples), not bytes: from one pixel to the next in a row, from
// one row to the next, and from one channel to the next; interleaved and
// planar layouts, padded rows and views into a larger image are all strides.
// The constructor checks the shape and that no two samples share an element.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace deblur {

template <class T>
class ImageView {
public:
    using value_type = std::remove_const_t<T>;
    static_assert(std::is_same_v<value_type, std::uint8_t> || std::is_same_v<value_type, std::uint16_t> ||
                      std::is_same_v<value_type, float>,
                  "deblur::ImageView: samples are std::uint8_t, std::uint16_t or float");

    // The general form: strides in elements.
    ImageView(T* data, std::size_t width, std::size_t height, std::size_t channels, std::size_t pixel_stride,
              std::size_t row_stride, std::size_t channel_stride)
        : data_(data), width_(width), height_(height), channels_(channels), pixel_stride_(pixel_stride),
          row_stride_(row_stride), channel_stride_(channel_stride) {
        check();
    }

    // Interleaved samples (RGBRGB...), rows `row_stride` elements apart (0: packed, width * channels).
    ImageView(T* data, std::size_t width, std::size_t height, std::size_t channels, std::size_t row_stride = 0)
        : ImageView(data, width, height, channels, channels, row_stride ? row_stride : width * channels, 1) {}

    // One plane per channel (RRR...GGG...BBB...), rows `row_stride` elements
    // apart (0: width) and planes `plane_stride` apart (0: height * row_stride).
    static ImageView planar(T* data, std::size_t width, std::size_t height, std::size_t channels,
                            std::size_t row_stride = 0, std::size_t plane_stride = 0) {
        const std::size_t rows = row_stride ? row_stride : width;
        return ImageView(data, width, height, channels, 1, rows, plane_stride ? plane_stride : rows * height);
    }

    // A read-only view of the same samples.
    operator ImageView<const value_type>() const
        requires(!std::is_const_v<T>)
    {
        return {data_, width_, height_, channels_, pixel_stride_, row_stride_, channel_stride_};
    }

    T& operator()(std::size_t row, std::size_t col, std::size_t channel) const {
        return data_[row * row_stride_ + col * pixel_stride_ + channel * channel_stride_];
    }

    T* data() const { return data_; }
    std::size_t width() const { return width_; }
    std::size_t height() const { return height_; }
    std::size_t channels() const { return channels_; }
    // Channels that are deblurred: all but an alpha channel.
    std::size_t color_channels() const { return channels_ == 4 ? 3 : channels_; }
    std::size_t pixel_stride() const { return pixel_stride_; }
    std::size_t row_stride() const { return row_stride_; }
    std::size_t channel_stride() const { return channel_stride_; }
    // Whether the channels of a pixel lie next to each other (RGBRGB...), rather than in planes.
    bool interleaved() const { return channels_ == 1 || channel_stride_ < pixel_stride_; }

private:
    void check() const {
        const auto fail = [](const std::string& what) { throw std::invalid_argument("deblur::ImageView: " + what); };
        if (!data_) fail("no data (null pointer)");
        if (width_ == 0 || height_ == 0) fail("empty image (" + std::to_string(width_) + " x " + std::to_string(height_) + ")");
        if (channels_ != 1 && channels_ != 3 && channels_ != 4)
            fail(std::to_string(channels_) + " channels: expected 1 (gray), 3 (RGB) or 4 (RGBA)");
        // The three axes, from the smallest stride up, must nest: each stride
        // at least the previous one times its extent, so no two samples overlap.
        std::array<std::array<std::size_t, 2>, 3> axes{{{pixel_stride_, width_}, {row_stride_, height_}, {channel_stride_, channels_}}};
        std::sort(axes.begin(), axes.end());
        std::size_t span = 1;
        for (const auto& [stride, extent] : axes) {
            if (extent == 1) continue;
            if (stride < span)
                fail("strides (pixel " + std::to_string(pixel_stride_) + ", row " + std::to_string(row_stride_) +
                     ", channel " + std::to_string(channel_stride_) + ") make samples overlap for " +
                     std::to_string(width_) + " x " + std::to_string(height_) + " x " + std::to_string(channels_));
            span = stride * extent;
        }
    }

    T* data_;
    std::size_t width_, height_, channels_;
    std::size_t pixel_stride_, row_stride_, channel_stride_;
};

}  // namespace deblur
