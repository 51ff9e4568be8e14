#pragma once
// FFT plans shipped with the library: FFTW wisdom measured (FFTW_MEASURE) for
// the transform sizes of the default pipeline on the CI machine kind (2
// cores, AVX-512), compiled in from models/fftw-wisdom-float.txt
// (bench/make_fft_wisdom.sh makes it). Once imported, plans for those sizes
// are measured-quality at no planning cost, since FFTW_ESTIMATE takes any
// wisdom it has; other sizes are estimated as before. FFTW ignores wisdom of
// another version, and falls back to planning where the wisdom names an
// algorithm this CPU cannot run.
#include <deblur/fft/embedded_wisdom.hpp>

#include "fftw.hpp"

namespace deblur::fft {

// Imports the shipped wisdom into FFTW's single-precision planner, once per
// process; true when FFTW took it (the same FFTW version). Opt-in (the tool's
// --shipped-fft-plans): the refinement amplifies rounding, so other plans
// can give some photos another kernel. Imported wisdom is used instead of
// measuring those sizes when a program also measures (Fftw::set_measure).
inline bool import_shipped_wisdom() {
    static const bool imported = Fftw::import_wisdom<float>(::deblur::detail::embedded_models::fft_wisdom_float);
    return imported;
}

}  // namespace deblur::fft
