#pragma once
#include <stdexcept>
#include <string>

namespace deblur {

// A model file that cannot be used: missing, truncated, corrupt, or made for
// another architecture. The message names the file and the problem.
class ModelError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace deblur
