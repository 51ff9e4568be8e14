// train_speed: training throughput of the 3-stage 17 px network (scale 0 of
// DefaultNetwork, all stages learning end to end) at 128^2 and 256^2 crops,
// and the example generator's throughput alone, on this machine.
//
//   ./build/bench/train_speed                 # from the project root
//   ./build/bench/train_speed --steps 20 --batch 16
//
// Examples/s = batch x timed steps / wall time, after warm-up steps that
// bring all three stages in (stage_steps = 1).
#include <CLI/CLI.hpp>
#include <deblur/core/openmp.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <vector>

#include <deblur/fft/fftw.hpp>
#include <deblur/net/default_network.hpp>
#include <deblur/train/example_generator.hpp>
#include <deblur/train/trainer.hpp>
#include <deblur/train/training_set.hpp>

int main(int argc, char** argv) {
    using namespace deblur;
    using Clock = std::chrono::steady_clock;
    CLI::App app{"Training throughput of the 3-stage 17 px network"};
    std::filesystem::path train_dir = "../shared/data/train";
    std::vector<int> crops{128, 256};
    int steps = 10, warmup = 3, threads = 0;
    std::size_t batch = 8, images = 200;
    app.add_option("--train-dir", train_dir, "Sharp training photos")->capture_default_str();
    app.add_option("--crops", crops, "Crop sizes")->capture_default_str();
    app.add_option("--steps", steps, "Timed steps per crop size")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--batch", batch, "Examples per step")->capture_default_str();
    app.add_option("--images", images, "Training photos loaded")->capture_default_str();
    app.add_option("--threads", threads, "Threads (0: all cores)")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    try {
        if (threads > 0) omp_set_num_threads(threads);
        fft::Fftw::set_threads(1);  // as deblur-train: parallel over examples
        train::TrainingSetOptions sopt;
        sopt.max_images = images;
        const train::TrainingSet photos(train_dir, sopt);
        std::printf("threads %d, batch %zu, %d timed steps after %d warm-up steps, %zu photos\n\n", omp_get_max_threads(),
                    batch, steps, warmup, photos.size());
        std::printf("| crop | training (examples/s) | step (ms) | generation alone (examples/s) |\n|---|---|---|---|\n");
        for (int crop : crops) {
            DefaultNetwork net(1);
            train::TrainerOptions topt;
            topt.batch = batch;
            topt.stage_steps = 1;
            topt.freeze_steps = 0;
            topt.optimiser.learning_rate = 1.0;
            train::Trainer<DefaultNetwork> trainer(net, topt);
            train::ExampleGeneratorOptions gopt;
            gopt.crop = crop;
            gopt.kernel_size = trainer.kernel_size();
            gopt.seed = 1;
            const train::ExampleGenerator generator(photos, gopt);
            for (int i = 0; i < warmup; ++i) trainer.train_step(generator);
            auto start = Clock::now();
            for (int i = 0; i < steps; ++i) trainer.train_step(generator);
            const double train_s = std::chrono::duration<double>(Clock::now() - start).count();
            std::vector<train::TrainingExample> examples(batch);
            start = Clock::now();
            for (int i = 0; i < steps; ++i) generator.fill_batch(examples, 1000 + i);
            const double gen_s = std::chrono::duration<double>(Clock::now() - start).count();
            std::printf("| %d x %d | %.1f | %.0f | %.0f |\n", crop, crop, batch * steps / train_s, 1e3 * train_s / steps,
                        batch * steps / gen_s);
            std::fflush(stdout);
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "train_speed: " << e.what() << "\n";
        return 1;
    }
}
