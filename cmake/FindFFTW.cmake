# FindFFTW: FFTW 3 in float and double with the threads variants.
# Debian's libfftw3-dev ships no CMake package, so look for the libraries.
# Defines the imported target FFTW::FFTW (fftw3, fftw3f and their _threads).
include(FindPackageHandleStandardArgs)
find_path(FFTW_INCLUDE_DIR fftw3.h)
foreach(lib fftw3 fftw3f fftw3_threads fftw3f_threads)
  string(TOUPPER ${lib} var)
  find_library(${var}_LIBRARY ${lib})
endforeach()
find_package_handle_standard_args(FFTW REQUIRED_VARS FFTW_INCLUDE_DIR
  FFTW3_LIBRARY FFTW3F_LIBRARY FFTW3_THREADS_LIBRARY FFTW3F_THREADS_LIBRARY)
if(FFTW_FOUND AND NOT TARGET FFTW::FFTW)
  find_package(Threads REQUIRED)
  add_library(FFTW::FFTW INTERFACE IMPORTED)
  set_target_properties(FFTW::FFTW PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${FFTW_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${FFTW3_THREADS_LIBRARY};${FFTW3F_THREADS_LIBRARY};${FFTW3_LIBRARY};${FFTW3F_LIBRARY};Threads::Threads")
endif()
mark_as_advanced(FFTW_INCLUDE_DIR FFTW3_LIBRARY FFTW3F_LIBRARY FFTW3_THREADS_LIBRARY FFTW3F_THREADS_LIBRARY)
