#pragma once
// The kernel estimation module (Eq. 3-4, Appendix A): the K x K kernel k~ that
// best explains the blurry-like maps y~_i as blurs of the sharp-like maps x~_i,
//
//   k~ = F^-1[ sum_i conj(F x~_i) . F y~_i / (sum_i |F x~_i|^2 + beta_k) ],
//
// cropped to K x K around the origin, negatives set to zero and normalised to
// sum 1. Convention: y~ = k * x~ (convolution), the kernel's origin is its
// centre [K/2][K/2].
//
// Input: 2P x H x W feature maps, channels [0, P) the sharp-like x~_i and
// [P, 2P) the blurry-like y~_i (the order in which Recombine<2P> emits them).
// Output: 1 x K x K.
//
// Steps: every map is weighted by a Barthann window (it fades to zero at the
// borders, which hides the wrap-around of the circular model), zero-padded to
// FFT-friendly sizes, and the quotient is taken there. beta_k = 1e-4 is for
// numerical stability only and is not learned (Section 3.1.2). The math is
// detail::PatchQuotient's (patch_quotient.hpp) with one patch, the whole map:
// EFFQuotient is the same core with one patch per EFF window.
//
// Degenerate case: when no cropped value is positive the normalisation is
// undefined; the layer then outputs a delta kernel (1 at the centre) and
// backward contributes zero gradient (the output is locally constant).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "../core/exec.hpp"
#include "../core/tensor.hpp"
#include "../fft/fftw.hpp"  // the default policy's FFT backend
#include "barthann.hpp"
#include "patch_quotient.hpp"
#include "shape_checks.hpp"

namespace deblur {

template <int K, class E = DefaultExec>
class Quotient {
    static_assert(K > 0 && K % 2 == 1, "deblur::Quotient<K>: the kernel size K must be odd and positive");

public:
    using exec = E;
    using scalar = typename E::scalar;
    template <class E2>
    using rebind = Quotient<K, E2>;
    static std::string architecture_name() { return "Quotient<" + std::to_string(K) + ">"; }

    static constexpr int kernel_size = K;
    static constexpr double beta_k = detail::PatchQuotient<K, E>::beta_k;

    static constexpr bool accepts_channels(int c) { return c >= 2 && c % 2 == 0; }
    std::size_t kernel_count() const { return 1; }  // one kernel for the whole image

    void setup(std::size_t in_channels, std::mt19937_64&) { detail::check_quotient_channels(in_channels, "Quotient"); }

    void forward(const Tensor<scalar>& in, Tensor<scalar>& out) {
        compute(in);
        resize(out, 1, K, K);
        std::copy(core_.kernel(0), core_.kernel(0) + std::size_t(K) * K, out.data());
    }

    // Adds d<grad_out, out>/d in into grad_in. The spectra of the last forward
    // are reused when `in` is unchanged since then, recomputed otherwise.
    void backward(const Tensor<scalar>& in, const Tensor<scalar>&, const Tensor<scalar>& grad_out,
                  Tensor<scalar>& grad_in) {
        if (grad_out.shape(0) != 1 || grad_out.shape(1) != std::size_t(K) || grad_out.shape(2) != std::size_t(K))
            throw std::invalid_argument("deblur::Quotient: backward needs a 1 x K x K output gradient");
        if (grad_in.shape() != in.shape())
            throw std::invalid_argument("deblur::Quotient: backward needs grad_in of the input's shape");
        if (!core_.holds(in)) compute(in);
        core_.backward(grad_out, grad_in);
    }

    std::span<scalar> params() { return {}; }
    std::span<scalar> param_grads() { return {}; }

    // Whether the last forward fell back to the delta kernel.
    bool degenerate() const { return core_.degenerate(0); }

private:
    void check_input(const Tensor<scalar>& in) const {
        detail::check_quotient_maps(in.shape(0), in.shape(1), in.shape(2), K);
        if (!std::all_of(in.begin(), in.end(), [](scalar v) { return std::isfinite(v); }))
            throw std::invalid_argument("deblur::Quotient: the feature maps contain NaN or infinity");
    }

    void compute(const Tensor<scalar>& in) {
        check_input(in);
        const std::size_t h = in.shape(1), w = in.shape(2);
        if (core_.patch_count() == 0 || core_.rows() != h || core_.cols() != w) {
            typename detail::PatchQuotient<K, E>::Patch whole;  // the whole map, Barthann-weighted
            whole.row_weight = barthann_weights<scalar>(h);
            whole.col_weight = barthann_weights<scalar>(w);
            core_.set_patches(h, w, {std::move(whole)});
        }
        core_.compute(in);
    }

    detail::PatchQuotient<K, E> core_;
};

}  // namespace deblur
