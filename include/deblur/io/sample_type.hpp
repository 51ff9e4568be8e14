#pragma once
// How the samples of an image are stored when it is written.
#include <string_view>

namespace deblur::io {

enum class SampleType {
    uint8,    // round(clamp(v, 0, 1) * 255)
    uint16,   // round(clamp(v, 0, 1) * 65535)
    float32,  // v as it is (NaN and infinity are refused)
};

inline std::string_view sample_type_name(SampleType type) {
    switch (type) {
        case SampleType::uint8: return "8-bit";
        case SampleType::uint16: return "16-bit";
        case SampleType::float32: return "32-bit float";
    }
    return "unknown";
}

}  // namespace deblur::io
