// train_speed: training throughput of the 3-stage 17 px network (scale 0 of
// DefaultNetwork, all stages learning end to end) at 128^2 and 256^2 crops,
// and the example generator's throughput alone, on this machine. Built with
// MPI, it runs as N processes under mpiexec, sharing each batch as
// `mpiexec -np N deblur-train` does, and reports the time spent exchanging
// gradients; bench/train_scaling.sh compares 1 and 2 processes.
//
//   ./build/bench/train_speed                 # from the project root
//   ./build/bench/train_speed --steps 20 --batch 16
//   mpiexec -np 2 -x OMP_NUM_THREADS=1 ./build/bench/train_speed --crops 128
//
// Examples/s = batch x timed steps / wall time, after warm-up steps that
// bring all three stages in (stage_steps = 1).
#include <CLI/CLI.hpp>
#include <deblur/core/openmp.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <vector>

#include <deblur/fft/fftw.hpp>
#include <deblur/net/default_network.hpp>
#include <deblur/net/parameters.hpp>
#include <deblur/train/example_generator.hpp>
#include <deblur/train/trainer.hpp>
#include <deblur/train/training_set.hpp>
#if DEBLUR_BENCH_MPI
#include <mpi.h>

#include <deblur/train/mpi_process_group.hpp>
#endif

int main(int argc, char** argv) {
    using namespace deblur;
    using Clock = std::chrono::steady_clock;
#if DEBLUR_BENCH_MPI
    MPI_Init(&argc, &argv);
    struct Finalize {
        ~Finalize() { MPI_Finalize(); }
    } finalize;
    const train::MpiProcessGroup mpi_group;
    const train::ProcessGroup& group = mpi_group;
#else
    const train::ProcessGroup& group = train::single_process();
#endif
    const bool first = group.rank() == 0;
    CLI::App app{"Training throughput of the 3-stage 17 px network"};
    std::filesystem::path train_dir = "../shared/data/train";
    std::vector<int> crops{128, 256};
    int steps = 10, warmup = 3, threads = 0;
    std::size_t batch = 8, images = 200;
    bool generation = true;
    app.add_option("--train-dir", train_dir, "Sharp training photos")->capture_default_str();
    app.add_option("--crops", crops, "Crop sizes")->capture_default_str();
    app.add_option("--steps", steps, "Timed steps per crop size")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--batch", batch, "Examples per step (all processes together)")->capture_default_str();
    app.add_option("--images", images, "Training photos loaded")->capture_default_str();
    app.add_option("--threads", threads, "Threads per process (0: all cores)")->capture_default_str();
    app.add_flag("!--no-generation", generation, "Leave out the generator-alone column");
    CLI11_PARSE(app, argc, argv);
    try {
        if (threads > 0) omp_set_num_threads(threads);
        fft::Fftw::set_threads(1);  // as deblur-train: parallel over examples
        train::TrainingSetOptions sopt;
        sopt.max_images = images;
        const train::TrainingSet photos(train_dir, sopt);
        if (first) {
            std::printf("%d process(es) x %d threads, batch %zu, %d timed steps after %d warm-up steps, %zu photos\n\n",
                        group.size(), omp_get_max_threads(), batch, steps, warmup, photos.size());
            std::printf("| crop | processes x threads | training (examples/s) | step (ms) | exchange (ms per step) | "
                        "gradients exchanged (KB per step) |%s\n|---|---|---|---|---|---|%s\n",
                        generation ? " generation alone (examples/s) |" : "", generation ? "---|" : "");
        }
        for (int crop : crops) {
            auto net = std::make_unique<DefaultNetwork>(1);
            train::TrainerOptions topt;
            topt.batch = batch;
            topt.stage_steps = 1;
            topt.freeze_steps = 0;
            topt.optimiser.learning_rate = 1.0;
            train::Trainer<DefaultNetwork> trainer(*net, topt, group);
            train::ExampleGeneratorOptions gopt;
            gopt.crop = crop;
            gopt.kernel_size = trainer.kernel_size();
            gopt.seed = 1;
            const train::ExampleGenerator generator(photos, gopt);
            for (int i = 0; i < warmup; ++i) trainer.train_step(generator);
            group.any(false);  // start the clock together
            const double exchange_before = trainer.exchange_seconds();
            auto start = Clock::now();
            for (int i = 0; i < steps; ++i) trainer.train_step(generator);
            const double train_s = std::chrono::duration<double>(Clock::now() - start).count();
            const double exchange_ms = 1e3 * (trainer.exchange_seconds() - exchange_before) / steps;
            // What every process receives per step: each example's gradient of the scale's parameters, float.
            const double exchanged_kb =
                group.size() > 1 ? static_cast<double>(batch * parameter_count(*net, [](std::size_t j, std::size_t) {
                                       return j == 0;
                                   }) * sizeof(float)) / 1024
                                 : 0;
            double gen_rate = 0;
            if (generation && first) {
                std::vector<train::TrainingExample> examples(batch);
                start = Clock::now();
                for (int i = 0; i < steps; ++i) generator.fill_batch(examples, 1000 + i);
                gen_rate = batch * steps / std::chrono::duration<double>(Clock::now() - start).count();
            }
            if (first) {
                std::printf("| %d x %d | %d x %d | %.1f | %.0f | %.2f | %.0f |", crop, crop, group.size(),
                            omp_get_max_threads(), batch * steps / train_s, 1e3 * train_s / steps, exchange_ms,
                            exchanged_kb);
                if (generation)
                    std::printf(" %.0f |\n", gen_rate);
                else
                    std::printf("\n");
                std::fflush(stdout);
            }
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "train_speed: " << e.what() << "\n";
#if DEBLUR_BENCH_MPI
        MPI_Abort(MPI_COMM_WORLD, 1);
#endif
        return 1;
    }
}
