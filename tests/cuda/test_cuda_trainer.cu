// cuda::Trainer against train::Trainer: the same steps (stage schedule, loss,
// outlier test, ADADELTA) on the same examples give the same losses and
// parameters, and a checkpoint written on the GPU resumes on the CPU.
#include "cuda_test_main.cuh"

#include <deblur/cuda/cuda.cuh>
#include <deblur/cuda/trainer.cuh>
#include <deblur/net/parameters.hpp>
#include <deblur/train/trainer.hpp>
#include <deblur/train/training_set.hpp>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace deblur;

template <class E>
using SmallStage = Stage<Chain<Conv<3, 3, E>, Tanh<E>, Recombine<4, E>>, Quotient<9, E>, ImageQuotient<E>>;
template <class E>
using SmallNet = MultiScale<Scale<9, SmallStage<E>, SmallStage<E>>>;

xt::xtensor<float, 2> textured_image(std::size_t h, std::size_t w, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0, 1);
    xt::xtensor<float, 2> im = xt::xtensor<float, 2>::from_shape({h, w});
    for (auto& v : im) v = u(rng);
    return im;
}

template <class Net>
std::vector<double> parameters_of(Net& net) {
    std::vector<typename Net::scalar> p;
    get_parameters(net, p);
    return {p.begin(), p.end()};
}

}  // namespace

TEST_CASE("cuda::Trainer takes train::Trainer's steps, and its checkpoints resume on the CPU") {
    train::TrainingSet set({textured_image(60, 70, 1), textured_image(64, 50, 2), textured_image(90, 90, 3)});
    train::ExampleGeneratorOptions g;
    g.crop = 24;
    g.kernel_size = 9;
    g.seed = 11;
    train::ExampleGenerator generator(set, g);
    train::TrainerOptions options;
    options.batch = 3;
    options.stage_steps = 2;  // stage 2 joins at step 2, alone at first (frozen stage 1)
    options.freeze_steps = 1;

    SmallNet<Exec<double>> cpu_net(5);
    SmallNet<CudaExec<double>> gpu_net(5);
    train::Trainer<SmallNet<Exec<double>>> cpu(cpu_net, options);
    deblur::cuda::Trainer<SmallNet<CudaExec<double>>> gpu(gpu_net, options);
    for (int step = 0; step < 5; ++step) {
        CAPTURE(step);
        const auto a = cpu.train_step(generator);
        const auto b = gpu.train_step(generator);
        CHECK(b.loss == doctest::Approx(a.loss).epsilon(1e-9));
        CHECK(b.skipped == a.skipped);
    }
    CHECK(gpu.step() == cpu.step());
    CHECK(gpu.running_mean() == doctest::Approx(cpu.running_mean()).epsilon(1e-9));
    const auto pc = parameters_of(cpu_net), pg = parameters_of(gpu_net);
    REQUIRE(pc.size() == pg.size());
    for (std::size_t i = 0; i < pc.size(); ++i) CHECK(pg[i] == doctest::Approx(pc[i]).epsilon(1e-8));

    std::vector<train::TrainingExample> examples(4);
    generator.fill_batch(examples, 1000);
    CHECK(gpu.validate(examples) == doctest::Approx(cpu.validate(examples)).epsilon(1e-9));

    const auto dir = std::filesystem::temp_directory_path() / ("deblur-cuda-trainer-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir);
    gpu.save_checkpoint(dir / "checkpoint.dbm", {});
    SmallNet<Exec<double>> resumed_net(99);
    train::Trainer<SmallNet<Exec<double>>> resumed(resumed_net, options);
    resumed.load_checkpoint(dir / "checkpoint.dbm");
    CHECK(resumed.step() == gpu.step());
    const auto pr = parameters_of(resumed_net);
    for (std::size_t i = 0; i < pr.size(); ++i) CHECK(pr[i] == doctest::Approx(pg[i]).epsilon(1e-6));  // float32 file
    const auto next_cpu = resumed.train_step(generator);
    const auto next_gpu = gpu.train_step(generator);
    CHECK(next_gpu.loss == doctest::Approx(next_cpu.loss).epsilon(1e-4));
    std::filesystem::remove_all(dir);
}
