#pragma once
// The one header an embedder needs:
//
//   #include <deblur/deblur.hpp>
//
//   deblur::Deblurrer deblurrer;   // the shipped model, compiled in: no file is opened
//   deblur::ImageView<const std::uint8_t> photo(rgb, width, height, 3);   // interleaved, packed rows
//   auto result = deblurrer.deblur(photo);
//   // result.sharp (same type and layout as the input), result.kernel,
//   // result.noise, result.timings, result.warning (non-empty: returned unchanged, and why)
//
// Types: ImageView (core/image_view.hpp), ImageBuffer (core/image_buffer.hpp),
// Model (net/model.hpp: default_model, from_file, from_bytes), Deblurrer
// (pipeline/deblurrer.hpp: deblur, estimate_kernel, deconvolve, with the
// options of pipeline/blind_deblur_options.hpp and deconv/deconv_options.hpp),
// Cancelled (core/cancelled.hpp), and the one-call blind_deblur, estimate_kernel
// and deconvolve on the library's float tensors (pipeline/blind_deblur.hpp).
// Needs deblur::deblur only (Eigen, xtensor, FFTW, OpenMP); reading and
// writing image files is deblur::io (deblur/io/).
#include "core/cancelled.hpp"
#include "core/image_buffer.hpp"
#include "core/image_conversion.hpp"
#include "core/image_view.hpp"
#include "deconv/deconv_options.hpp"
#include "net/model.hpp"
#include "net/model_error.hpp"
#include "pipeline/blind_deblur.hpp"
#include "pipeline/blind_deblur_options.hpp"
#include "pipeline/deblurrer.hpp"
