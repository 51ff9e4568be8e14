#pragma once
#include <cstddef>
#include <filesystem>

#include "blind_deblur_options.hpp"
#include "kernel_field_refiner.hpp"

namespace deblur {

// Settings of nonuniform_deblur (nonuniform_deblur.hpp). `base` holds what the
// uniform pipeline also uses (noise, gamma, estimation window, refinement
// settings, progress); the networks come from nonuniform_deblur's Model.
struct NonuniformDeblurOptions {
    BlindDeblurOptions base;
    std::size_t grid_rows = 3, grid_cols = 3;  // EFF patches per axis
    // Step 1's refinement with base.refinement.tail_prune as given; off by
    // default (tail_prune = 0 there): the field started from such a kernel
    // deconvolves worse (BENCHMARKS.md, "Experiments that decided a default").
    bool uniform_tail_pruning = false;
    std::filesystem::path field_model;  // the network of step 2; empty: the Model's field network
    bool refine_patches = false;        // step 3: refine each local kernel classically on its patch ...
    bool start_from_uniform = false;    // ... started from step 1's kernel instead of the network's local kernel,
    KernelRefinerOptions patch_refinement;  // ... with these settings
    double min_similarity = 0.6;        // local kernels less similar than this to step 1's kernel are replaced by it (0: off)
    // Step 4: refine the field in the camera-motion basis (kernel_field_refiner.hpp),
    // started from step 1's kernel everywhere or from the field of steps 2-3.
    bool refine_field = true;
    bool field_from_uniform = true;
    KernelFieldRefinerOptions field_refinement;
    double min_field_similarity = 0.85; // a refined field less similar (mean) to step 1's kernel is replaced by it
    bool project = true;                // step 4: project the field onto the camera-motion basis
    double eta = 0.03;                  // fraction of motion-basis coefficients T_eta keeps (Eq. 9; the paper shows 0.0314)
    std::size_t projection_iterations = 200;  // FISTA steps of the basis fit
    std::size_t max_network_side = 1024;      // the field network runs on the image shrunk to at most this (longer side)
    int cg_iterations = 6;              // conjugate-gradient steps per x-update of the EFF deconvolution
};

}  // namespace deblur
