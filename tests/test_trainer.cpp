#include "doctest_main.hpp"
#include "temp_dir.hpp"
#include "noise_photo.hpp"

#include <deblur/net/default_network.hpp>
#include <deblur/net/parameters.hpp>
#include <deblur/train/trainer.hpp>
#include <deblur/train/training_set.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace deblur;

namespace {

template <int K>
using TinyStage = Stage<Chain<Conv<2, 3>, Tanh<>, Recombine<2>>, Quotient<K>, ImageQuotient<>>;
using TinyNet = MultiScale<Scale<9, TinyStage<9>, TinyStage<9>>>;
using Image = xt::xtensor<float, 2>;

using deblur::test::noise_photo;
using deblur::test::TempDir;

train::TrainingSet photos() { return train::TrainingSet({noise_photo(64, 1), noise_photo(72, 2), noise_photo(80, 3)}); }

train::ExampleGeneratorOptions data_options() {
    train::ExampleGeneratorOptions o;
    o.crop = 24;
    o.kernel_size = 9;
    o.seed = 5;
    return o;
}

train::TrainerOptions trainer_options() {
    train::TrainerOptions o;
    o.batch = 3;
    o.stage_steps = 3;  // stage 2 joins at step 3 ...
    o.freeze_steps = 1;  // ... and learns alone for one step
    return o;
}

std::vector<float> parameters_of(TinyNet& net, std::size_t stage) {
    std::vector<float> out;
    net.for_each_param_block([&](std::size_t, std::size_t s, auto p, auto) {
        if (s == stage) out.insert(out.end(), p.begin(), p.end());
    });
    return out;
}

}  // namespace

TEST_CASE("the stage schedule: stage 1 alone, then stage 2 learning alone, then both") {
    const auto set = photos();
    const train::ExampleGenerator generator(set, data_options());
    TinyNet net(1);
    train::Trainer<TinyNet> trainer(net, trainer_options());
    CHECK(trainer.active_stages(0) == 1);
    CHECK(trainer.active_stages(2) == 1);
    CHECK(trainer.active_stages(3) == 2);
    CHECK(trainer.first_learning_stage(3) == 1);
    CHECK(trainer.first_learning_stage(4) == 0);
    CHECK(trainer.active_stages(100) == 2);  // never more than the scale has

    const auto stage2_before = parameters_of(net, 1);
    for (int i = 0; i < 3; ++i) trainer.train_step(generator);
    CHECK(parameters_of(net, 1) == stage2_before);  // not running yet: untouched
    const auto stage1 = parameters_of(net, 0);
    trainer.train_step(generator);  // step 3: stage 2 learns alone
    CHECK(parameters_of(net, 0) == stage1);
    CHECK(parameters_of(net, 1) != stage2_before);
    trainer.train_step(generator);  // step 4: end to end
    CHECK(parameters_of(net, 0) != stage1);
}

TEST_CASE("a run resumed from a checkpoint continues exactly as the uninterrupted run") {
    TempDir dir;
    const auto set = photos();
    const train::ExampleGenerator generator(set, data_options());

    TinyNet straight_net(7);
    train::Trainer<TinyNet> straight(straight_net, trainer_options());
    std::vector<double> straight_losses;
    for (int i = 0; i < 6; ++i) straight_losses.push_back(straight.train_step(generator).loss);

    const auto checkpoint = dir.path / "checkpoint.dbm";
    {
        TinyNet first_net(7);
        train::Trainer<TinyNet> first(first_net, trainer_options());
        for (int i = 0; i < 4; ++i) first.train_step(generator);
        first.save_checkpoint(checkpoint, {{"note", "kept"}});
    }
    TinyNet resumed_net(99);  // other initial parameters: the checkpoint must replace them all
    train::Trainer<TinyNet> resumed(resumed_net, trainer_options());
    const auto meta = resumed.load_checkpoint(checkpoint);
    CHECK(meta.at("note") == "kept");
    CHECK(resumed.step() == 4);
    for (int i = 4; i < 6; ++i) CHECK(resumed.train_step(generator).loss == straight_losses[i]);

    std::vector<float> a, b;
    get_parameters(straight_net, a);
    get_parameters(resumed_net, b);
    CHECK(a == b);
}

TEST_CASE("a checkpoint whose optimiser state is missing, truncated or foreign is refused clearly") {
    TempDir dir;
    const auto set = photos();
    const train::ExampleGenerator generator(set, data_options());
    TinyNet net(3);
    train::Trainer<TinyNet> trainer(net, trainer_options());
    trainer.train_step(generator);
    const auto checkpoint = dir.path / "c.dbm", opt = dir.path / "c.dbm.opt";
    trainer.save_checkpoint(checkpoint, {});

    auto state = [&] {
        std::ifstream in(opt, std::ios::binary);
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    }();
    const auto write = [&](const std::string& bytes) {
        std::ofstream out(opt, std::ios::binary | std::ios::trunc);
        out << bytes;
    };
    TinyNet other(4);
    train::Trainer<TinyNet> loader(other, trainer_options());
    write(state.substr(0, state.size() - 3));
    CHECK_THROWS_AS(loader.load_checkpoint(checkpoint), ModelError);
    write("DEBLUROPT0" + state.substr(10));
    CHECK_THROWS_AS(loader.load_checkpoint(checkpoint), ModelError);
    std::string other_step = state;
    other_step[10] ^= 1;  // the step of another checkpoint
    write(other_step);
    CHECK_THROWS_AS(loader.load_checkpoint(checkpoint), ModelError);
    fs::remove(opt);
    CHECK_THROWS_AS(loader.load_checkpoint(checkpoint), ModelError);
    write(state);
    CHECK_NOTHROW(loader.load_checkpoint(checkpoint));
    CHECK(loader.step() == 1);
}
