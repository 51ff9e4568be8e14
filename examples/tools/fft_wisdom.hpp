#pragma once
// --fft-wisdom FILE of the programs: FFT plans measured once (FFTW_MEASURE)
// and kept in a file, so that later runs on the same sizes skip the planning.
#include <exception>
#include <filesystem>
#include <string>

#include <deblur/fft/fftw.hpp>

namespace deblur::tools {

// Measured plans from now on, starting from those in `file` when it exists; a
// file that is not FFTW wisdom is reported through `say` and replaced later.
template <class Say>
void load_fft_wisdom(const std::filesystem::path& file, const Say& say) {
    fft::Fftw::set_measure(true);
    try {
        say(fft::Fftw::load_wisdom(file) ? "FFT plans from " + file.string()
                                         : "measuring FFT plans (seconds per new size), kept in " + file.string());
    } catch (const std::exception& e) {
        say(std::string(e.what()) + "; measuring new plans");
    }
}

// Writes the plans measured so far to `file`; a failure is reported, not thrown
// (the program's own results are already written).
template <class Say>
void save_fft_wisdom(const std::filesystem::path& file, const Say& say) {
    try {
        fft::Fftw::save_wisdom(file);
    } catch (const std::exception& e) {
        say(std::string("cannot keep the FFT plans: ") + e.what());
    }
}

}  // namespace deblur::tools
