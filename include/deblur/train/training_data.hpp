#pragma once
// Everything that makes training data: the in-memory photo set, the on-the-fly
// example generator and the fixed validation set.
#include "example_generator.hpp"
#include "gradient_fraction.hpp"
#include "training_example.hpp"
#include "training_set.hpp"
#include "validation_set.hpp"
