// EXPECT: deblur::Quotient<K>: the kernel size K must be odd and positive
// An even kernel has no centre pixel.
#include <deblur/layers/quotient.hpp>

int main() {
    deblur::Quotient<4> layer;
    (void)layer;
}
