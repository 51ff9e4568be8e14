#pragma once
// Scratch storage for the FFT solvers: SIMD-aligned (FFTW's fast plans need
// it) and, unlike std::vector, left uninitialised when it grows. A canvas of
// a large photo is tens of MB per array; zero-filling a dozen of them on
// every call would cost about a third of a 2048^2 deconvolution (memset plus
// the page faults). Every user writes each element before reading it.
// Buffers of a huge page (2 MB) or more ask Linux for transparent huge pages
// (their size rounded up to whole huge pages): on the 2-core machine the
// first touch of fresh memory cost 3-10 ms per MB in 4 kB pages (a page
// fault each; several transforms' worth for one canvas) and ~0.1 ms in 2 MB
// pages. The threshold is one huge page so that the 5-7 MB spectra of a
// 1024^2 deconvolution get them too (BENCHMARKS.md, "Memory and FFT plans").
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <type_traits>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace deblur::fft {

// Asks Linux for transparent huge pages on the whole 2 MB pages inside
// [p, p + bytes), for large memory allocated elsewhere and not touched yet
// (such as an output image); a hint, nothing elsewhere.
inline void advise_huge_pages([[maybe_unused]] void* p, [[maybe_unused]] std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    constexpr std::uintptr_t page = std::uintptr_t(2) << 20;
    const auto begin = (reinterpret_cast<std::uintptr_t>(p) + page - 1) / page * page;
    const auto end = (reinterpret_cast<std::uintptr_t>(p) + bytes) / page * page;
    if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#endif
}

template <class U>
class Buffer {
    static_assert(std::is_trivially_copyable_v<U> && std::is_trivially_destructible_v<U>,
                  "deblur::fft::Buffer holds plain numbers");

public:
    Buffer() = default;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    Buffer(Buffer&& other) noexcept : data_(other.data_), size_(other.size_), capacity_(other.capacity_) {
        other.data_ = nullptr;
        other.size_ = other.capacity_ = 0;
    }
    Buffer& operator=(Buffer&& other) noexcept {
        std::swap(data_, other.data_);
        std::swap(size_, other.size_);
        std::swap(capacity_, other.capacity_);
        return *this;
    }
    ~Buffer() { std::free(data_); }

    // n elements with unspecified values (the old ones only if n fits the capacity).
    void resize(std::size_t n) {
        if (n > capacity_) {
            void* p = allocate(n * sizeof(U));
            std::free(data_);
            data_ = static_cast<U*>(p);
            capacity_ = n;
        }
        size_ = n;
    }
    // Gives the memory back.
    void clear() {
        std::free(data_);
        data_ = nullptr;
        size_ = capacity_ = 0;
    }

    std::size_t size() const { return size_; }
    U* data() { return data_; }
    const U* data() const { return data_; }
    U& operator[](std::size_t i) { return data_[i]; }
    const U& operator[](std::size_t i) const { return data_[i]; }
    U* begin() { return data_; }
    U* end() { return data_ + size_; }
    const U* begin() const { return data_; }
    const U* end() const { return data_ + size_; }

private:
    static constexpr std::size_t simd_alignment = 64, huge_page = std::size_t(2) << 20;

    static void* allocate(std::size_t bytes) {
        const std::size_t alignment = bytes >= huge_page ? huge_page : simd_alignment;
        bytes = (bytes + alignment - 1) / alignment * alignment;  // aligned_alloc wants a multiple
        void* p = std::aligned_alloc(alignment, bytes);
        if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
        if (alignment == huge_page) madvise(p, bytes, MADV_HUGEPAGE);  // a hint: failure is harmless
#endif
        return p;
    }

    U* data_ = nullptr;
    std::size_t size_ = 0, capacity_ = 0;
};

}  // namespace deblur::fft
