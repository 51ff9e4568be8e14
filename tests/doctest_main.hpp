#pragma once
// Each test file is its own executable: include this first in exactly one file.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
