// EXPECT: deblur::Recombine<M>: the number of output channels M must be positive
#include <deblur/layers/recombine.hpp>

int main() {
    deblur::Recombine<0> layer;
    (void)layer;
}
