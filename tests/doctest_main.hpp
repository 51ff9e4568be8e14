#pragma once
// Each test file is its own executable: include this first in exactly one file.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

// Cases that run the shipped model on real data take minutes in the
// sanitizers' unoptimised build: they skip themselves there (and run in Release).
#ifdef NDEBUG
inline constexpr bool unoptimised_build = false;
#else
inline constexpr bool unoptimised_build = true;
#endif
