#include "doctest_main.hpp"
#include "temp_dir.hpp"
#include "data_parallel_run.hpp"
#include "noise_photo.hpp"
#include "thread_process_group.hpp"

#include <deblur/core/openmp.hpp>
#include <deblur/net/default_network.hpp>
#include <deblur/net/parameters.hpp>
#include <deblur/train/trainer.hpp>
#include <deblur/train/training_set.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
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

TEST_CASE("N processes with a global batch give the parameters of one process, bit for bit, for any thread count") {
    const int steps = 8;
    const auto one = test::data_parallel_run(train::single_process(), 5, steps);
    CHECK(one.skipped > 0);  // the outlier path is exercised
    const int threads = omp_get_max_threads();
    omp_set_num_threads(threads == 1 ? 2 : 1);
    const auto other_threads = test::data_parallel_run(train::single_process(), 5, steps);
    omp_set_num_threads(threads);
    CHECK(other_threads.parameters == one.parameters);
    CHECK(other_threads.validation == one.validation);
    // 2 and 3 processes share the 5 examples unevenly; with 7 one has none.
    // Eigen's thread setting is one per process: set before the "processes"
    // start, so that their trainers need not change it.
    Eigen::setNbThreads(1);
    for (int n : {2, 3, 7}) {
        CAPTURE(n);
        test::ThreadProcessGroup::Team team(n);
        std::vector<test::DataParallelRun> results(static_cast<std::size_t>(n));
        std::vector<std::thread> processes;
        for (int r = 0; r < n; ++r)
            processes.emplace_back([&, r] {
                const test::ThreadProcessGroup group(team, r);
                results[static_cast<std::size_t>(r)] = test::data_parallel_run(group, 5, steps);
            });
        for (auto& p : processes) p.join();
        for (const auto& r : results) {
            CHECK(r.parameters == one.parameters);
            CHECK(r.losses == one.losses);
            CHECK(r.validation == one.validation);
            CHECK(r.skipped == one.skipped);
        }
    }
    Eigen::setNbThreads(0);
}

// The paper's 17 px scale (products large enough for Eigen to plan them in
// parallel) gives the same parameters under 1 and 2 threads.
TEST_CASE("the default network trains to the same parameters under 1 and 2 threads") {
    const auto set = photos();
    auto data = data_options();
    data.kernel_size = 17;
    data.crop = 34;
    const train::ExampleGenerator generator(set, data);
    const auto run = [&](int threads) {
        omp_set_num_threads(threads);
        auto net = std::make_unique<DefaultNetwork>(1);
        auto options = trainer_options();
        options.batch = 2;
        train::Trainer<DefaultNetwork> trainer(*net, options);
        for (int i = 0; i < 3; ++i) trainer.train_step(generator);
        std::vector<float> p;
        get_parameters(*net, p);
        return p;
    };
    const int threads = omp_get_max_threads();
    const auto one = run(1), two = run(2);
    omp_set_num_threads(threads);
    CHECK(one == two);
}

TEST_CASE("a process group's shares cover the batch in rank order") {
    test::ThreadProcessGroup::Team team(3);
    const test::ThreadProcessGroup first(team, 0), last(team, 2);
    CHECK(first.share(7) == std::pair<std::size_t, std::size_t>{0, 2});
    CHECK(last.share(7) == std::pair<std::size_t, std::size_t>{4, 7});
    CHECK(last.share_of(1, 7) == std::pair<std::size_t, std::size_t>{2, 4});
    CHECK(first.share(2) == std::pair<std::size_t, std::size_t>{0, 0});
    CHECK(train::single_process().share(5) == std::pair<std::size_t, std::size_t>{0, 5});
}

TEST_CASE("a checkpoint whose optimiser state is missing, truncated, corrupt or foreign is refused clearly") {
    TempDir dir;
    const auto set = photos();
    const train::ExampleGenerator generator(set, data_options());
    TinyNet net(3);
    train::Trainer<TinyNet> trainer(net, trainer_options());
    trainer.train_step(generator);
    const auto checkpoint = dir.path / "c.dbm", opt = dir.path / "c.dbm.opt";
    const auto read = [&] {
        std::ifstream in(opt, std::ios::binary);
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    const auto write = [&](const std::string& bytes) {
        std::ofstream out(opt, std::ios::binary | std::ios::trunc);
        out << bytes;
    };
    // The state of step 2 beside the model of step 1: files of two checkpoints.
    TinyNet twin_net(3);
    train::Trainer<TinyNet> twin(twin_net, trainer_options());
    twin.train_step(generator);
    twin.train_step(generator);
    twin.save_checkpoint(checkpoint, {});
    const std::string later_state = read();
    trainer.save_checkpoint(checkpoint, {});
    const std::string state = read();
    REQUIRE(state.compare(0, 10, "DEBLUROPT2") == 0);

    TinyNet other(4);
    train::Trainer<TinyNet> loader(other, trainer_options());
    const auto refused = [&](const std::string& bytes, const std::string& message) {
        write(bytes);
        CAPTURE(message);
        CHECK_THROWS_WITH_AS(loader.load_checkpoint(checkpoint), doctest::Contains(message.c_str()), ModelError);
    };
    refused(state.substr(0, state.size() - 3), "checksum mismatch");
    refused(state.substr(0, 20), "truncated");
    refused("", "not an optimiser state");
    refused("DEBLUROPT0" + state.substr(10), "not an optimiser state");
    refused(later_state, "does not match the model");
    // The first format had no checksum: refused, saying so.
    refused("DEBLUROPT1" + state.substr(10, state.size() - 18), "DEBLUROPT1");
    // Any flipped bit (one per byte, each bit position in turn) is caught, and
    // every file named in the message is the optimiser state.
    for (std::size_t i = 0; i < state.size(); ++i) {
        std::string flipped = state;
        flipped[i] = static_cast<char>(flipped[i] ^ (1 << (i % 8)));
        write(flipped);
        CAPTURE(i);
        CHECK_THROWS_WITH_AS(loader.load_checkpoint(checkpoint), doctest::Contains(opt.string().c_str()), ModelError);
    }
    CHECK(loader.step() == 0);  // nothing was loaded
    fs::remove(opt);
    CHECK_THROWS_WITH_AS(loader.load_checkpoint(checkpoint), doctest::Contains("cannot open"), ModelError);
    write(state);
    CHECK_NOTHROW(loader.load_checkpoint(checkpoint));
    CHECK(loader.step() == 1);
}

// The runs committed in models/runs must stay resumable (their optimiser
// states were converted once from the checksum-less DEBLUROPT1).
TEST_CASE("the committed training runs' checkpoints load") {
    const fs::path runs = fs::path(DEBLUR_SOURCE_DIR) / "models" / "runs";
    REQUIRE(fs::is_directory(runs));  // in the repository
    for (const auto& entry : fs::directory_iterator(runs)) {
        const fs::path checkpoint = entry.path() / "checkpoint.dbm";
        if (!fs::is_regular_file(checkpoint)) continue;
        CAPTURE(checkpoint);
        DefaultNetwork probe(1);
        const auto meta = load_model(probe, checkpoint);
        train::TrainerOptions options;
        options.scale = std::stoul(meta.at("scale"));
        auto net = std::make_unique<DefaultNetwork>(1);
        train::Trainer<DefaultNetwork> trainer(*net, options);
        CHECK_NOTHROW(trainer.load_checkpoint(checkpoint));
        CHECK(trainer.step() == std::stoll(meta.at("step")));
    }
}

// Training must lower the kernel error on examples it does not train on: 1000
// steps of the tiny network's first stage (ADADELTA at the paper's rate 1),
// validated on 12 fixed examples (a step the generator never reaches in training). A trainer that stepped the wrong way,
// or not at all, leaves the error where it started.
TEST_CASE("training lowers the validation kernel error" * doctest::skip(unoptimised_build)) {
    const auto set = photos();
    const train::ExampleGenerator generator(set, data_options());
    std::vector<train::TrainingExample> held_out;
    for (std::uint64_t i = 0; i < 12; ++i) held_out.push_back(generator.example_at(1'000'000, i));
    TinyNet net(3);
    auto options = trainer_options();
    options.stage_steps = 1'000'000;  // the first stage only
    options.batch = 8;
    options.optimiser.learning_rate = 1;
    train::Trainer<TinyNet> trainer(net, options);
    const double before = trainer.validate(held_out);
    for (int i = 0; i < 1000; ++i) trainer.train_step(generator);
    const double after = trainer.validate(held_out);
    MESSAGE("validation kernel error " << before << " -> " << after);
    // Measured 0.0818 -> 0.061-0.064 with 1-3 threads (-22 to -25 %). After
    // 300 steps the gain depended on the threads and on the build's rounding
    // (-4 % to -17 %): too early to judge.
    CHECK(after < 0.9 * before);
}
