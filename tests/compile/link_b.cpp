// The second translation unit of the link test (see link_a.cpp).
#include "all_headers.hpp"
#include "link_check.hpp"

namespace link_check {
Result run_in_b() { return run(); }
std::size_t plans_seen_from_b() { return deblur::fft::Fftw::cached_plans<float>(); }
}  // namespace link_check
