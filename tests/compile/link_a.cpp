// Two translation units that include every public header, linked into one
// program: a header that defines a non-inline function or variable breaks the
// link, and state meant to be process-wide (the FFT plan cache) must be one
// object seen from both units.
#include "all_headers.hpp"

#include <cstdio>
#include <cstdlib>

#include "link_check.hpp"

namespace link_check {
Result run_in_a() { return run(); }
}  // namespace link_check

int main() {
    const auto a = link_check::run_in_a();
    const auto b = link_check::run_in_b();
    const std::size_t plans_a = link_check::plans_seen_from_a();
    const std::size_t plans_b = link_check::plans_seen_from_b();
    std::printf("a: %.9g (%zu plans), b: %.9g (%zu plans)\n", a.value, plans_a, b.value, plans_b);
    if (!(a.value == b.value) || !a.ok || !b.ok) {
        std::puts("the two translation units computed different results");
        return EXIT_FAILURE;
    }
    if (plans_a != plans_b || plans_a == 0) {
        std::puts("the FFT plan cache is not shared between translation units");
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}

namespace link_check {
std::size_t plans_seen_from_a() { return deblur::fft::Fftw::cached_plans<float>(); }
}  // namespace link_check
