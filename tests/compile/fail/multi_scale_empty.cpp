// EXPECT: deblur::MultiScale needs at least one scale
#include <deblur/net/multi_scale.hpp>

int main() {
    deblur::MultiScale<> net;
    (void)net;
}
