// A Stage's parts play fixed roles (layers/layer.hpp): a feature layer in the
// kernel module's place is refused by the KernelModule constraint.
// EXPECT: KernelModule
#include <deblur/net/stage.hpp>

#include <deblur/layers/chain.hpp>
#include <deblur/layers/conv.hpp>
#include <deblur/layers/image_quotient.hpp>
#include <deblur/layers/recombine.hpp>

int main() {
    deblur::Stage<deblur::Chain<deblur::Conv<4, 3>, deblur::Recombine<2>>, deblur::Conv<1, 3>, deblur::ImageQuotient<>> stage;
    (void)stage;
}
