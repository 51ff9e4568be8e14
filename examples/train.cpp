// deblur-train: trains one scale of the default network (Section 3.3) with
// checkpoints every few minutes; `--resume` continues a cut-off run exactly.
//
//   deblur-train --out runs/s17 --scale 0 --steps 60000
//   deblur-train --out runs/s25 --scale 1 --init runs/s17/best.dbm --steps 60000
//   deblur-train --out runs/n05-s25 --scale 1 --init models/default.dbm
//       --init-coarser models/noise-0.05.dbm --noise 0.05   # a noise model's next scale
//   deblur-train --device cuda --out runs/s17 --scale 0    # on the GPU (CUDA builds)
//   deblur-train --nonuniform --grid 3 --init models/default.dbm --out runs/eff --crop 160
//     # the spatially-varying EFFNetwork on kernel fields of camera shake with
//     # rotation (issue 7; starts from a uniform model's parameters)
#include <CLI/CLI.hpp>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>

#include <deblur/fft/fftw.hpp>
#include <deblur/net/default_network.hpp>
#include <deblur/train/example_generator.hpp>
#include <deblur/train/field_example_generator.hpp>
#include <deblur/train/field_validation_set.hpp>
#include <deblur/train/loss_plot.hpp>
#include <deblur/train/progress_line.hpp>
#include <deblur/train/trainer.hpp>
#include <deblur/train/training_log.hpp>
#include <deblur/train/validation_set.hpp>

#include "trainer_backend.hpp"

namespace {
std::atomic<bool> stop_requested{false};
void on_signal(int) { stop_requested = true; }
}  // namespace

int main(int argc, char** argv) {
    using namespace deblur;
    using Net = DefaultNetwork;
    namespace fs = std::filesystem;

    CLI::App app{"Train one scale of the deblur network on synthetic camera shake (" + architecture_of<Net>() + ")"};
    fs::path out_dir = "train-runs/run", train_dir = "../shared/data/train", val_dir = "../shared/data/val", init,
             init_coarser;
    train::TrainerOptions topt;
    train::ExampleGeneratorOptions gopt;
    std::int64_t steps = 60000;
    int val_every = 500, val_images = 30, val_crop = 128, threads = 0, log_every = 20;
    double checkpoint_minutes = 3;
    std::uint64_t seed = 1;
    bool resume = false;
    std::string device = "cpu";
    bool nonuniform = false;
    std::size_t grid = 3;
    app.add_option("--out", out_dir, "Run folder: checkpoint, best model, CSV log, loss curve")->capture_default_str();
    app.add_option("--scale", topt.scale, "Scale to train (0 = 17 px, 1 = 25 px, 2 = 33 px)")->capture_default_str();
    app.add_option("--init", init, "Model file to start from (e.g. the trained coarser scales)");
    app.add_option("--init-coarser", init_coarser,
                   "Model file whose trained scales replace those of --init (e.g. a noise-specific 17 px scale)");
    app.add_option("--steps", steps, "Total training steps")->capture_default_str();
    app.add_option("--batch", topt.batch, "Examples per step")->capture_default_str();
    app.add_option("--stage-steps", topt.stage_steps, "Steps before the next stage is added")->capture_default_str();
    app.add_option("--freeze-steps", topt.freeze_steps, "Steps a new stage learns alone")->capture_default_str();
    app.add_option("--learning-rate", topt.optimiser.learning_rate, "ADADELTA learning rate")->capture_default_str();
    app.add_option("--decay", topt.optimiser.decay, "ADADELTA decay")->capture_default_str();
    app.add_option("--crop", gopt.crop, "Blurry crop size in pixels")->capture_default_str();
    app.add_option("--noise", gopt.noise_sigma, "Noise standard deviation (images in [0,1])")->capture_default_str();
    app.add_option("--train-dir", train_dir, "Sharp training photos")->capture_default_str();
    app.add_option("--val-dir", val_dir, "Validation photos (never trained on)")->capture_default_str();
    app.add_option("--val-images", val_images, "Validation images used")->capture_default_str();
    app.add_option("--val-crop", val_crop, "Validation crop size")->capture_default_str();
    app.add_option("--val-every", val_every, "Steps between validations")->capture_default_str();
    app.add_option("--checkpoint-minutes", checkpoint_minutes, "Minutes between checkpoints")->capture_default_str();
    app.add_option("--seed", seed, "Random seed (data and initial parameters)")->capture_default_str();
    app.add_option("--threads", threads, "Threads (0: all cores)")->capture_default_str();
    app.add_flag("--resume", resume, "Continue the run in --out from its checkpoint");
    app.add_option("--device", device, "cpu, or cuda: the network and its optimiser on the GPU (same files)")
        ->capture_default_str();
    app.add_flag("--nonuniform", nonuniform,
                 "Train the spatially-varying network (EFFNetwork) on kernel fields of camera shake with rotation");
    app.add_option("--grid", grid, "--nonuniform: estimation grid (patches per axis)")->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    try {
        if (threads > 0) omp_set_num_threads(threads);
        fft::Fftw::set_threads(1);  // parallel over examples, not inside transforms
        if (nonuniform && tools::use_cuda(device)) throw std::runtime_error("--nonuniform trains on the CPU only");
        if (nonuniform && !init_coarser.empty()) throw std::runtime_error("--init-coarser is for the uniform network");
        const auto checkpoint = out_dir / "checkpoint.dbm", best = out_dir / "best.dbm";
        double best_val = std::numeric_limits<double>::infinity();

        // Creates the run folder, resumes when asked; for either kind of trainer.
        auto start = [&](auto& trainer) {
            fs::create_directories(out_dir);
            if (resume) {
                if (!fs::exists(checkpoint)) throw std::runtime_error("--resume: no checkpoint in " + out_dir.string());
                auto meta = trainer.load_checkpoint(checkpoint);
                if (meta.count("best_val")) best_val = std::stod(meta.at("best_val"));
                std::cerr << "resumed at step " << trainer.step() << "\n";
            }
            gopt.kernel_size = trainer.kernel_size();
            gopt.seed = seed;
        };
        // The training loop: steps, validation, log, checkpoints.
        auto run = [&](auto& trainer, const auto& generator, const auto val_examples) {
            train::TrainingLog log(out_dir / "log.csv");
            log.truncate_after(trainer.step());
            std::signal(SIGINT, on_signal);
            std::signal(SIGTERM, on_signal);

            auto metadata = [&] {
                ModelMetadata m{{"noise", std::to_string(gopt.noise_sigma)}, {"crop", std::to_string(gopt.crop)},
                                {"seed", std::to_string(seed)}, {"best_val", std::to_string(best_val)},
                                {"trained_scales", std::to_string(topt.scale + 1)},
                                {"active_stages", std::to_string(trainer.active_stages(std::max<std::int64_t>(trainer.step() - 1, 0)))}};
                if (nonuniform) m["grid"] = std::to_string(grid);  // the training grid (set_grid is a run-time setting)
                return m;
            };
            train::ProgressLine progress(steps);
            using clock = std::chrono::steady_clock;
            auto last_checkpoint = clock::now(), window_start = clock::now();
            const double elapsed_before = log.elapsed_before();
            const auto run_start = clock::now();
            double window_loss = 0, val_loss = std::numeric_limits<double>::quiet_NaN();
            std::int64_t window_steps = 0;
            while (trainer.step() < steps && !stop_requested) {
                const auto r = trainer.train_step(generator);
                window_loss += r.loss;
                ++window_steps;
                const std::int64_t step = trainer.step();
                const bool validate_now = step % val_every == 0 || step == steps;
                if (validate_now) {
                    val_loss = trainer.validate(val_examples);
                    if (val_loss < best_val) {
                        best_val = val_loss;
                        trainer.save_model(best, metadata());
                    }
                }
                if (step % log_every == 0 || validate_now) {
                    const double secs = std::chrono::duration<double>(clock::now() - window_start).count();
                    const double rate = window_steps * static_cast<double>(topt.batch) / secs;
                    log.append({step, window_loss / window_steps, validate_now ? val_loss : std::nan(""), rate,
                                elapsed_before + std::chrono::duration<double>(clock::now() - run_start).count()});
                    progress.update(step, window_loss / window_steps, val_loss, rate);
                    window_loss = 0;
                    window_steps = 0;
                    window_start = clock::now();
                    if (validate_now) train::write_loss_plot(out_dir / "loss.png", log.records());
                }
                if (std::chrono::duration<double>(clock::now() - last_checkpoint).count() > 60 * checkpoint_minutes) {
                    trainer.save_checkpoint(checkpoint, metadata());
                    last_checkpoint = clock::now();
                }
            }
            trainer.save_checkpoint(checkpoint, metadata());
            progress.finish();
            std::cerr << (stop_requested ? "stopped" : "finished") << " at step " << trainer.step()
                      << "; best validation kernel error " << best_val << " (" << best << ")\n";
        };

        if (nonuniform) {
            const auto backend = tools::make_field_trainer(seed, init, topt, grid);
            start(*backend);
            std::cerr << "loading training photos from " << train_dir << " ...\n";
            train::TrainingSet photos(train_dir);
            train::FieldExampleGeneratorOptions fopt;
            fopt.data = gopt;
            fopt.grid = grid;
            const train::FieldExampleGenerator generator(photos, fopt);
            train::FieldExampleGeneratorOptions vopt = fopt;
            vopt.data.crop = val_crop;
            vopt.data.seed = 0x5EED'7A11'DA7Eull;  // fixed: the same examples for every run
            const train::FieldValidationSet validation(val_dir, vopt, static_cast<std::size_t>(val_images), 0, train_dir);
            std::cerr << photos.size() << " training photos, " << validation.size() << " validation fields ("
                      << grid << "x" << grid << " grid), kernel " << backend->kernel_size() << " px, "
                      << omp_get_max_threads() << " threads\n";
            run(*backend, generator, validation.examples());
        } else {
            if (!init_coarser.empty()) {
                fs::create_directories(out_dir);
                const fs::path composed = out_dir / "init.dbm";
                tools::compose_init<Net>(init, init_coarser, composed);
                init = composed;
            }
            const auto backend = tools::make_trainer(device, seed, init, topt);  // a bad --device fails before any file is made
            start(*backend);
            std::cerr << "loading training photos from " << train_dir << " ...\n";
            train::TrainingSet photos(train_dir);
            train::ExampleGenerator generator(photos, gopt);
            train::ValidationSetOptions vopt;
            vopt.kernel_sizes = {backend->kernel_size()};
            vopt.crop = val_crop;
            vopt.max_images = static_cast<std::size_t>(val_images);
            vopt.noise_sigma = gopt.noise_sigma;
            train::ValidationSet validation(val_dir, vopt, train_dir);
            const auto val_examples = validation.examples(backend->kernel_size());
            std::cerr << photos.size() << " training photos, " << val_examples.size() << " validation examples, kernel "
                      << backend->kernel_size() << " px, " << omp_get_max_threads() << " threads\n";
            run(*backend, generator, val_examples);
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "deblur-train: " << e.what() << "\n";
        return 1;
    }
}
