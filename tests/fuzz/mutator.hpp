#pragma once
// A deterministic mutation fuzzer's mutator: from valid seed files it makes
// damaged ones, the way real corruption and hostile files look. Each input is
// one seed with 1, 2, 4 or 8 stacked mutations: bit flips, bytes set to
// boundary values, inserted / deleted / duplicated byte runs, truncation,
// splicing with another seed, and 1/2/4/8-byte fields overwritten with big,
// small or negative integers (file headers carry sizes and offsets there).
// The same seed gives the same inputs wherever the standard library is the
// same (libstdc++ here: std::uniform_int_distribution is its own).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace deblur::fuzz {

using Bytes = std::vector<unsigned char>;

class Mutator {
public:
    explicit Mutator(std::uint64_t seed, std::size_t max_size = 1 << 20) : rng_(seed), max_size_(max_size) {}

    std::mt19937_64& rng() { return rng_; }

    // A uniform integer in [0, n) (n > 0).
    std::size_t below(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
    bool one_in(std::size_t n) { return below(n) == 0; }

    // `seed` damaged; `other` is what a splice takes its tail from.
    Bytes mutate(const Bytes& seed, const Bytes& other) {
        Bytes b = seed;
        const std::size_t count = std::size_t{1} << below(4);
        for (std::size_t i = 0; i < count; ++i) mutate_once(b, other);
        if (b.size() > max_size_) b.resize(max_size_);
        return b;
    }

    void mutate_once(Bytes& b, const Bytes& other) {
        if (b.empty()) {
            b.push_back(static_cast<unsigned char>(below(256)));
            return;
        }
        switch (below(9)) {
            case 0: b[below(b.size())] ^= static_cast<unsigned char>(1u << below(8)); break;
            case 1: {
                static constexpr unsigned char interesting[] = {0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE, 0x10, 0x40};
                b[below(b.size())] = interesting[below(std::size(interesting))];
                break;
            }
            case 2: b[below(b.size())] += static_cast<unsigned char>(below(33) - 16); break;
            case 3: insert_run(b); break;
            case 4: erase_run(b); break;
            case 5: duplicate_run(b); break;
            case 6: b.resize(below(b.size())); break;  // truncation
            case 7: splice(b, other); break;
            default: overwrite_integer(b); break;
        }
    }

private:
    std::size_t run_length(std::size_t limit) {
        // Mostly short runs, sometimes long ones.
        const std::size_t n = one_in(4) ? 1 + below(1024) : 1 + below(16);
        return std::min(n, limit);
    }

    void insert_run(Bytes& b) {
        const std::size_t at = below(b.size() + 1), n = run_length(4096);
        Bytes run(n);
        const bool repeated = one_in(2);
        const auto fill = static_cast<unsigned char>(below(256));
        for (auto& c : run) c = repeated ? fill : static_cast<unsigned char>(below(256));
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), run.begin(), run.end());
    }

    void erase_run(Bytes& b) {
        const std::size_t at = below(b.size()), n = run_length(b.size() - at);
        b.erase(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + n));
    }

    void duplicate_run(Bytes& b) {
        const std::size_t from = below(b.size()), n = run_length(b.size() - from), to = below(b.size() + 1);
        const Bytes run(b.begin() + static_cast<std::ptrdiff_t>(from), b.begin() + static_cast<std::ptrdiff_t>(from + n));
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(to), run.begin(), run.end());
    }

    // This input's head, `other`'s tail.
    void splice(Bytes& b, const Bytes& other) {
        if (other.empty()) return;
        const std::size_t head = below(b.size() + 1), tail = below(other.size());
        b.resize(head);
        b.insert(b.end(), other.begin() + static_cast<std::ptrdiff_t>(tail), other.end());
    }

    // A 1, 2, 4 or 8-byte field, little- or big-endian, set to a value near a
    // boundary: what turns a size, count or offset into a lie.
    void overwrite_integer(Bytes& b) {
        static constexpr std::uint64_t values[] = {
            0, 1, 2, 3, 7, 8, 16, 255, 256, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 65500, 65535, 1000000,
            0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100000000, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000,
            0xFFFFFFFFFFFFFFFF,                        // -1 at any width
            0xFFFFFFFFFFFFFFFE, 0xFFFFFFFFFFFF0000,    // small negatives
            std::uint64_t{1} << 30, std::uint64_t{1} << 31, std::uint64_t{1} << 62};
        const std::size_t width = std::size_t{1} << below(4);
        if (b.size() < width) return;
        std::uint64_t v = values[below(std::size(values))];
        if (one_in(4)) v += below(9) - 4;  // off by a few
        const std::size_t at = below(b.size() - width + 1);
        const bool big_endian = one_in(2);
        for (std::size_t i = 0; i < width; ++i) {
            const std::size_t shift = 8 * (big_endian ? width - 1 - i : i);
            b[at + i] = static_cast<unsigned char>(v >> shift);
        }
    }

    std::mt19937_64 rng_;
    std::size_t max_size_;
};

}  // namespace deblur::fuzz
