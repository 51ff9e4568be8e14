#pragma once

namespace deblur {

// How `blur` treats the image border (see blur.hpp for the exact formulas).
//  - valid:    only outputs whose whole kernel footprint lies inside the image;
//              an H x W image and a Kh x Kw kernel give (H-Kh+1) x (W-Kw+1).
//              This is how training pairs are made: blur a larger sharp crop
//              'valid', so the blurry image never sees a wrapped or zero border.
//  - same:     H x W output, the image is taken as zero outside its support.
//  - circular: H x W output, the image is taken as periodic (wraps around).
enum class BlurMode { valid, same, circular };

}  // namespace deblur
