#pragma once
#include <cstddef>
#include <vector>

#include "image_view.hpp"

namespace deblur {

// An image that owns its samples: what the library returns for an ImageView
// input, in the input's sample type and layout (interleaved or planar,
// without the input's row padding).
template <class T>
class ImageBuffer {
public:
    ImageBuffer() = default;
    // Zeros, laid out as `like`: interleaved or planar, packed.
    template <class U>
    explicit ImageBuffer(const ImageView<U>& like)
        : samples_(like.width() * like.height() * like.channels()), width_(like.width()), height_(like.height()),
          channels_(like.channels()), interleaved_(like.interleaved()) {}

    ImageView<T> view() { return make_view<T>(samples_.data()); }
    ImageView<const T> view() const { return make_view<const T>(samples_.data()); }
    const std::vector<T>& samples() const { return samples_; }
    std::vector<T>& samples() { return samples_; }
    bool empty() const { return samples_.empty(); }

private:
    template <class V, class P>
    ImageView<V> make_view(P* data) const {
        if (interleaved_) return ImageView<V>(data, width_, height_, channels_);
        return ImageView<V>::planar(data, width_, height_, channels_);
    }

    std::vector<T> samples_;
    std::size_t width_ = 0, height_ = 0, channels_ = 0;
    bool interleaved_ = true;
};

}  // namespace deblur
