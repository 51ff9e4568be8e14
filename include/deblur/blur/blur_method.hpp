#pragma once

namespace deblur {

// How `blur` computes the sum: `automatic` picks whichever of the two is
// expected to be faster for the image and kernel sizes; both give the same
// result up to rounding. Forcing one is for tests and benchmarks.
enum class BlurMethod { automatic, direct, fft };

}  // namespace deblur
