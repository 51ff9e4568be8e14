// EXPECT: deblur::Chain needs at least one layer
#include <deblur/layers/chain.hpp>

int main() {
    deblur::Chain<> chain;
    (void)chain;
}
