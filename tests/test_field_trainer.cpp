// train::Trainer on a spatially-varying network (a tiny EFF network with a
// grid) and FieldExample batches: the field loss and its gradient through the
// network, a step on a fixed batch, exact resume.
#include "doctest_main.hpp"
#include "temp_dir.hpp"
#include "noise_photo.hpp"

#include <deblur/net/default_network.hpp>
#include <deblur/net/eff_network.hpp>
#include <deblur/net/load_model_parameters.hpp>
#include <deblur/net/parameters.hpp>
#include <deblur/pipeline/eff_kernel_estimator.hpp>
#include <deblur/testing/gradcheck.hpp>
#include <deblur/train/field_example_generator.hpp>
#include <deblur/train/trainer.hpp>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace deblur;

namespace {

template <int K, class E>
using TinyEFFStage = Stage<Chain<Conv<2, 3, E>, Tanh<E>, Recombine<4, E>>, EFFQuotient<K, E>, EFFImageQuotient<E>>;
template <class E = Exec<float>>
using TinyEFFNet = MultiScale<Scale<9, TinyEFFStage<9, E>, TinyEFFStage<9, E>>>;
using Image = xt::xtensor<float, 2>;

using deblur::test::noise_photo;
using deblur::test::TempDir;

train::TrainingSet photos() { return train::TrainingSet({noise_photo(64, 1), noise_photo(72, 2), noise_photo(80, 3)}); }

train::FieldExampleGeneratorOptions data_options() {
    train::FieldExampleGeneratorOptions o;
    o.data.crop = 36;
    o.data.kernel_size = 9;
    o.data.seed = 5;
    o.grid = 2;
    o.true_grid = 4;
    return o;
}

train::TrainerOptions trainer_options() {
    train::TrainerOptions o;
    o.batch = 3;
    o.stage_steps = 3;
    o.freeze_steps = 1;
    o.optimiser.learning_rate = 1.0;
    return o;
}

// Always the same batch: a step's loss then measures the parameters alone.
struct FixedBatch {
    std::vector<train::FieldExample> examples;
    void fill_batch(std::vector<train::FieldExample>& batch, std::uint64_t, std::uint64_t first) const {
        for (std::size_t i = 0; i < batch.size(); ++i) batch[i] = examples[(first + i) % examples.size()];
    }
};

}  // namespace

TEST_CASE("the field loss is the mean over the local kernels of the squared error; its gradient matches finite differences") {
    using T = train::Trainer<TinyEFFNet<Exec<double>>, train::FieldExample>;
    std::mt19937 rng(3);
    std::uniform_real_distribution<double> u(0, 1);
    auto estimate = make_tensor<double>(4, 5, 5);
    xt::xtensor<float, 3> truth = xt::xtensor<float, 3>::from_shape({4, 5, 5});
    for (auto& v : estimate) v = u(rng);
    for (auto& v : truth) v = static_cast<float>(u(rng));
    double sum = 0;
    for (std::size_t i = 0; i < truth.size(); ++i) sum += std::pow(estimate.data()[i] - truth.data()[i], 2);
    Tensor<double> grad;
    CHECK(T::kernel_loss(estimate, truth, &grad) == doctest::Approx(sum / 4).epsilon(1e-14));
    std::vector<double> x(estimate.begin(), estimate.end()), g(grad.begin(), grad.end());
    const double err = testing::check_gradient(x, g, [&] {
        std::copy(x.begin(), x.end(), estimate.begin());
        return T::kernel_loss(estimate, truth, nullptr);
    });
    CHECK(err < 1e-8);
    CHECK_THROWS_AS(T::kernel_loss(make_tensor<double>(1, 5, 5), truth, nullptr), std::invalid_argument);
}

TEST_CASE("the field loss through a 2x2-grid network: parameter gradient matches finite differences") {
    using Net = TinyEFFNet<Exec<double>>;
    using T = train::Trainer<Net, train::FieldExample>;
    const auto set = photos();
    const auto e = train::FieldExampleGenerator(set, data_options()).example_at(0, 0);
    Net net(4);
    set_grid(net, 2, 2);
    auto blurry = make_tensor<double>(1, e.blurry.shape(0), e.blurry.shape(1));
    std::copy(e.blurry.begin(), e.blurry.end(), blurry.begin());
    Tensor<double> grad;
    net.forward(blurry);
    T::kernel_loss(net.kernel(), e.kernel, &grad);
    zero_gradients(net);
    net.backward(blurry, grad);
    std::vector<double> params, grads;
    get_parameters(net, params);
    get_gradients(net, grads);
    const double err = testing::check_gradient(params, grads, [&] {
        set_parameters<Net, double>(net, params);
        net.forward(blurry);
        return T::kernel_loss(net.kernel(), e.kernel, nullptr);
    }, 7, 200);
    MESSAGE("field loss parameter gradient relative error: " << err);
    CHECK(err < 1e-5);
}

TEST_CASE("training steps on a fixed batch of fields reduce its loss; the replicas keep the grid") {
    const auto set = photos();
    const train::FieldExampleGenerator generator(set, data_options());
    FixedBatch fixed{{generator.example_at(0, 0), generator.example_at(0, 1), generator.example_at(0, 2)}};
    TinyEFFNet<> net(2);
    set_grid(net, 2, 2);
    auto options = trainer_options();
    options.stage_steps = 1000;  // one stage, end to end
    train::Trainer<TinyEFFNet<>, train::FieldExample> trainer(net, options);
    const double before = trainer.validate(fixed.examples);
    double first = 0, last = 0;
    for (int i = 0; i < 30; ++i) {
        const double loss = trainer.train_step(fixed).loss;  // kernel fields of 4 patches, or kernel_loss throws
        if (i == 0) first = loss;
        last = loss;
    }
    CHECK(first == doctest::Approx(before).epsilon(1e-6));  // the same parameters, the same examples
    const double after = trainer.validate(fixed.examples);
    MESSAGE("fixed-batch field loss: " << before << " -> " << after);
    CHECK(after < before);
    CHECK(last < first);
}

TEST_CASE("a field training run resumed from a checkpoint continues exactly as the uninterrupted run") {
    TempDir dir;
    const auto set = photos();
    const train::FieldExampleGenerator generator(set, data_options());
    using T = train::Trainer<TinyEFFNet<>, train::FieldExample>;

    TinyEFFNet<> straight_net(7);
    set_grid(straight_net, 2, 2);
    T straight(straight_net, trainer_options());
    std::vector<double> straight_losses;
    for (int i = 0; i < 6; ++i) straight_losses.push_back(straight.train_step(generator).loss);

    const auto checkpoint = dir.path / "checkpoint.dbm";
    {
        TinyEFFNet<> first_net(7);
        set_grid(first_net, 2, 2);
        T first(first_net, trainer_options());
        for (int i = 0; i < 4; ++i) first.train_step(generator);
        first.save_checkpoint(checkpoint, {{"grid", "2"}});
    }
    TinyEFFNet<> resumed_net(99);
    set_grid(resumed_net, 2, 2);
    T resumed(resumed_net, trainer_options());
    CHECK(resumed.load_checkpoint(checkpoint).at("grid") == "2");
    CHECK(resumed.step() == 4);
    for (int i = 4; i < 6; ++i) CHECK(resumed.train_step(generator).loss == straight_losses[i]);
    std::vector<float> a, b;
    get_parameters(straight_net, a);
    get_parameters(resumed_net, b);
    CHECK(a == b);
}

TEST_CASE("a checkpoint of EFFNetwork started from the uniform model loads as a field model in the nonuniform pipeline") {
    TempDir dir;
    auto net = std::make_unique<EFFNetwork>(1);
    load_model_parameters<DefaultNetwork>(*net, fs::path(DEBLUR_SOURCE_DIR) / "models" / "default.dbm");
    set_grid(*net, 3, 3);
    train::TrainerOptions options;
    options.batch = 1;
    train::Trainer<EFFNetwork, train::FieldExample> trainer(*net, options);
    const auto file = dir.path / "field.dbm";
    trainer.save_checkpoint(file, {{"grid", "3"}, {"trained_scales", "1"}});
    EFFKernelEstimator<> estimator(file);  // what nonuniform_deblur loads (options.field_model)
    CHECK_FALSE(estimator.from_uniform_model());
    CHECK(estimator.metadata().at("grid") == "3");
    CHECK(estimator.largest_kernel() == 17);
}
