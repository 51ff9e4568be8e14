// EXPECT: deblur::Conv<N, F>: the filter size F must be positive
#include <deblur/layers/conv.hpp>

int main() {
    deblur::Conv<4, 0> layer;
    (void)layer;
}
