// EXPECT: deblur::Conv<N, F>: the number of filters N must be positive
// A convolution layer with no filters is a configuration error caught at compile time.
#include <deblur/layers/conv.hpp>

int main() {
    deblur::Conv<0, 3> layer;
    (void)layer;
}
