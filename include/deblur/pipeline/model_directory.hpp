#pragma once
// Where the shipped models are: $DEBLUR_MODEL_DIR if set, else the folder the
// CMake target points at (the source tree's models/ in a build, the installed
// share/deblur/models after `cmake --install`).
#include <cstdlib>
#include <filesystem>

namespace deblur {

inline std::filesystem::path model_directory() {
    if (const char* env = std::getenv("DEBLUR_MODEL_DIR"); env && *env) return env;
#ifdef DEBLUR_DEFAULT_MODEL_DIR
    return DEBLUR_DEFAULT_MODEL_DIR;
#else
    return "models";
#endif
}

// The shipped model for a noise level: the noise-specific one when the noise
// is closer to 0.05 than to 0.01 and that model exists, else the default.
inline std::filesystem::path default_model_for_noise(double sigma) {
    const auto dir = model_directory();
    if (sigma > 0.03 && std::filesystem::exists(dir / "noise-0.05.dbm")) return dir / "noise-0.05.dbm";
    return dir / "default.dbm";
}

}  // namespace deblur
