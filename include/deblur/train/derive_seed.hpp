#pragma once
// Independent random streams from one user seed: example i of training step s
// uses a generator seeded with derive_seed(seed, s, i), so a batch is the same
// whichever thread makes which example, and any example can be regenerated alone.
#include <cstdint>
#include <initializer_list>

namespace deblur::train {

// SplitMix64's finaliser: a bijection that scatters nearby inputs far apart.
constexpr std::uint64_t splitmix64(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// A seed for the stream named by (seed, a, b, ...): each value is folded in
// through splitmix64, so the order of the values matters.
constexpr std::uint64_t derive_seed(std::uint64_t seed, std::initializer_list<std::uint64_t> path) {
    std::uint64_t h = splitmix64(seed);
    for (std::uint64_t v : path) h = splitmix64(h ^ splitmix64(v + 0x632BE59BD9B4E019ull));
    return h;
}

}  // namespace deblur::train
