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
//   deblur-train --out runs/s17 ... --resume      # continue a cut-off run
//   deblur-train --out runs/s17 ... --overwrite   # start it again from scratch
//   mpirun -np 4 deblur-train --out runs/s17 ...  # 4 processes share each batch
//     (built with MPI; the same parameters, bit for bit, as one process)
//
// Failures (a bad option, missing photos, a corrupt checkpoint, an --out that
// already holds a run without --resume or --overwrite) give one
// "deblur-train: ..." line and exit status 1, found before any work where
// possible, and leave no new run folder behind.
#include <CLI/CLI.hpp>
#include <deblur/core/openmp.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <deblur/fft/fftw.hpp>
#include <deblur/net/default_network.hpp>
#include <deblur/net/eff_network.hpp>
#include <deblur/train/example_generator.hpp>
#include <deblur/train/field_example_generator.hpp>
#include <deblur/train/field_validation_set.hpp>
#include <deblur/train/loss_plot.hpp>
#include <deblur/train/progress_line.hpp>
#include <deblur/train/trainer.hpp>
#include <deblur/train/training_log.hpp>
#include <deblur/train/training_set.hpp>
#include <deblur/train/validation_set.hpp>

#include "command_line.hpp"
#include "processes.hpp"
#include "trainer_backend.hpp"

namespace {

namespace fs = std::filesystem;

std::atomic<bool> stop_requested{false};
void on_signal(int) { stop_requested = true; }

// The files a run writes into --out: what makes a folder "hold a run", and
// all that --overwrite removes (a command.sh or notes beside them stay).
const std::vector<std::string> run_files{"best.dbm", "checkpoint.dbm", "checkpoint.dbm.opt",
                                         "log.csv",  "loss.png",       "init.dbm"};

std::vector<std::string> run_files_in(const fs::path& dir) {
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto& name : run_files)
        if (fs::exists(dir / name, ec)) found.push_back(name);
    return found;
}

// A folder of photos, checked before anything is loaded or created.
void require_photos(const std::string& option, const fs::path& folder) {
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) throw std::invalid_argument(option + " " + folder.string() + ": no such folder");
    if (deblur::train::TrainingSet::image_files(folder).empty())
        throw std::invalid_argument(option + " " + folder.string() + ": no PNG, JPEG, TIFF or PFM file in it");
}

// Builds a data object from photos; its std::invalid_argument names the option and folder.
template <class Make>
auto about(const std::string& option, const fs::path& folder, Make make) {
    try {
        return make();
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(option + " " + folder.string() + ": " + e.what());
    }
}

// The outermost folder that create_directories(dir) will make; empty when dir exists.
fs::path first_missing(const fs::path& dir) {
    fs::path missing;
    std::error_code ec;
    for (fs::path p = fs::absolute(dir).lexically_normal(); !fs::exists(p, ec); p = p.parent_path()) {
        missing = p;
        if (p == p.parent_path()) break;
    }
    return missing;
}

// A run folder this run creates is removed again if the run fails before its
// first step (a bad --init, unusable photos, a CUDA error): a failed start
// leaves nothing behind.
struct NewFolderGuard {
    fs::path created;  // empty: the folder was there before
    bool keep = false;
    ~NewFolderGuard() {
        std::error_code ignored;
        if (!keep && !created.empty()) fs::remove_all(created, ignored);
    }
};

}  // namespace

int main(int argc, char** argv) {
    using namespace deblur;
    const tools::Processes processes(argc, argv);
    const train::ProcessGroup& group = processes.group();
    const bool first = processes.first();
    using Net = DefaultNetwork;
    static_assert(Net::kernel_sizes == EFFNetwork::kernel_sizes, "both networks train the same kernel sizes");

    CLI::App app{"Train one scale of the deblur network on synthetic camera shake (" + architecture_of<Net>() + ")"};
    fs::path out_dir = "train-runs/run", train_dir = "../shared/data/train", val_dir = "../shared/data/val", init,
             init_coarser;
    train::TrainerOptions topt;
    train::ExampleGeneratorOptions gopt;
    // Whole numbers are read as long long and range-checked before use, so a
    // negative value is reported as given, not wrapped into a huge unsigned one.
    long long steps = 60000, scale = 0, batch = static_cast<long long>(topt.batch), stage_steps = topt.stage_steps,
              freeze_steps = topt.freeze_steps, crop = gopt.crop, val_every = 500, val_images = 30, val_crop = 128,
              threads = 0, grid = 3;
    const int log_every = 20;
    double checkpoint_minutes = 3;
    std::uint64_t seed = 1;
    bool resume = false, overwrite = false, nonuniform = false;
    std::string device = "cpu";
    app.add_option("--out", out_dir, "Run folder: checkpoint, best model, CSV log, loss curve")->capture_default_str();
    app.add_option("--scale", scale, "Scale to train (0 = 17 px, 1 = 25 px, 2 = 33 px)")->capture_default_str();
    app.add_option("--init", init, "Model file to start from (e.g. the trained coarser scales)");
    app.add_option("--init-coarser", init_coarser,
                   "Model file whose trained scales replace those of --init (e.g. a noise-specific 17 px scale)");
    app.add_option("--steps", steps, "Total training steps")->capture_default_str();
    app.add_option("--batch", batch, "Examples per step (1 to 4096)")->capture_default_str();
    app.add_option("--stage-steps", stage_steps, "Steps before the next stage is added")->capture_default_str();
    app.add_option("--freeze-steps", freeze_steps, "Steps a new stage learns alone")->capture_default_str();
    app.add_option("--learning-rate", topt.optimiser.learning_rate, "ADADELTA learning rate")->capture_default_str();
    app.add_option("--decay", topt.optimiser.decay, "ADADELTA decay, above 0 and below 1")->capture_default_str();
    app.add_option("--crop", crop, "Blurry crop size in pixels (twice the kernel to 1024)")->capture_default_str();
    app.add_option("--noise", gopt.noise_sigma, "Noise standard deviation (images in [0,1])")->capture_default_str();
    app.add_option("--train-dir", train_dir, "Sharp training photos")->capture_default_str();
    app.add_option("--val-dir", val_dir, "Validation photos (never trained on)")->capture_default_str();
    app.add_option("--val-images", val_images, "Validation images used (--nonuniform: validation fields)")
        ->capture_default_str();
    app.add_option("--val-crop", val_crop, "Validation crop size (twice the kernel to 1024)")->capture_default_str();
    app.add_option("--val-every", val_every, "Steps between validations")->capture_default_str();
    app.add_option("--checkpoint-minutes", checkpoint_minutes, "Minutes between checkpoints")->capture_default_str();
    app.add_option("--seed", seed, "Random seed (data and initial parameters)")->capture_default_str();
    app.add_option("--threads", threads, "Threads (0: all cores)")->capture_default_str();
    app.add_flag("--resume", resume, "Continue the run in --out from its checkpoint");
    app.add_flag("--overwrite", overwrite, "Start again in an --out that holds a run (its run files are removed)");
    app.add_option("--device", device, "cpu, or cuda: the network and its optimiser on the GPU (same files)")
        ->capture_default_str();
    app.add_flag("--nonuniform", nonuniform,
                 "Train the spatially-varying network (EFFNetwork) on kernel fields of camera shake with rotation");
    app.add_option("--grid", grid, "--nonuniform: estimation grid (patches per axis, 1 to 16)")->capture_default_str();
    if (const auto status = tools::parse_command_line(app, argc, argv, "deblur-train")) return *status;

    try {
        // Every option value, before any work: one line naming the option.
        constexpr long long many = 1'000'000'000;
        tools::require_count("--scale", scale, 0, static_cast<long long>(Net::scale_count) - 1);
        const int kernel = Net::kernel_sizes[static_cast<std::size_t>(scale)];
        tools::require_count("--steps", steps, 1, many);
        tools::require_count("--batch", batch, 1, 4096);
        tools::require_count("--stage-steps", stage_steps, 1, many);
        tools::require_count("--freeze-steps", freeze_steps, 0, many);
        tools::require_positive("--learning-rate", topt.optimiser.learning_rate, 1000);
        if (!(topt.optimiser.decay > 0 && topt.optimiser.decay < 1))
            throw tools::UsageError("--decay " + tools::shown(topt.optimiser.decay) +
                                    ": expected a number above 0 and below 1");
        // A kernel is estimated from the image around it: at least twice its size.
        tools::require_count("--crop", crop, 2 * kernel, 1024);
        tools::require_in_range("--noise", gopt.noise_sigma, 0, 1);
        tools::require_count("--val-images", val_images, 1, 100000);
        tools::require_count("--val-crop", val_crop, 2 * kernel, 1024);
        tools::require_count("--val-every", val_every, 1, many);
        tools::require_positive("--checkpoint-minutes", checkpoint_minutes, 1e6);
        tools::require_threads("--threads", threads);
        tools::require_count("--grid", grid, 1, 16);
        if (app.count("--grid") && !nonuniform) throw tools::UsageError("--grid applies to --nonuniform only");
        if (resume && overwrite) throw tools::UsageError("--resume and --overwrite exclude each other");
        if (nonuniform && tools::use_cuda(device)) throw tools::UsageError("--nonuniform trains on the CPU only");
        if (nonuniform && !init_coarser.empty()) throw tools::UsageError("--init-coarser is for the uniform network");
#if !DEBLUR_TOOLS_CUDA
        if (tools::use_cuda(device)) throw tools::built_without_cuda();
#endif
        for (const auto& [option, file] : {std::pair{"--init", init}, std::pair{"--init-coarser", init_coarser}})
            if (!file.empty() && !fs::is_regular_file(file))
                throw tools::UsageError(std::string(option) + " " + file.string() + ": no such file");
        topt.scale = static_cast<std::size_t>(scale);
        topt.batch = static_cast<std::size_t>(batch);
        topt.stage_steps = stage_steps;
        topt.freeze_steps = freeze_steps;
        gopt.crop = static_cast<int>(crop);
        gopt.kernel_size = kernel;
        gopt.seed = seed;

        // The run folder: a finished or cut-off run is never overwritten by accident.
        const auto checkpoint = out_dir / "checkpoint.dbm", best = out_dir / "best.dbm";
        if (fs::exists(out_dir) && !fs::is_directory(out_dir))
            throw std::invalid_argument("--out " + out_dir.string() + ": not a folder");
        if (resume && !fs::exists(checkpoint)) throw std::invalid_argument("--resume: no checkpoint in " + out_dir.string());
        if (const auto found = run_files_in(out_dir); !resume && !overwrite && !found.empty()) {
            std::string names;
            for (const auto& n : found) names += (names.empty() ? "" : ", ") + n;
            throw std::invalid_argument("--out " + out_dir.string() + " already holds a run (" + names +
                                        "): add --resume to continue it or --overwrite to start again");
        }
        // The photos, before the run folder is made: a wrong folder leaves nothing behind.
        require_photos("--train-dir", train_dir);
        require_photos("--val-dir", val_dir);
        if (train::ValidationSet::overlaps(val_dir, train_dir))
            throw std::invalid_argument("--val-dir " + val_dir.string() + " overlaps --train-dir " + train_dir.string() +
                                        ": validation photos must never be trained on");

        if (threads > 0) omp_set_num_threads(static_cast<int>(threads));
        fft::Fftw::set_threads(1);  // parallel over examples, not inside transforms
        double best_val = std::numeric_limits<double>::infinity();

        // Nothing is printed until every check has passed, so that a failure
        // is the one "deblur-train:" line. The run folder is made first (the
        // trainer may compose its --init there), and removed again if this run
        // made it and fails before training. With several processes the
        // first makes and writes all files; the others only read.
        NewFolderGuard new_folder;
        if (first) {
            new_folder.created = first_missing(out_dir);
            fs::create_directories(out_dir);
        }
        auto resume_if_asked = [&](auto& trainer) {
            if (resume) {
                auto meta = trainer.load_checkpoint(checkpoint);
                if (meta.count("best_val")) best_val = std::stod(meta.at("best_val"));
            }
        };
        // The training loop: steps, validation, log, checkpoints.
        auto run = [&](auto& trainer, const auto& generator, const auto val_examples, const std::string& summary) {
            // Only now, with the trainer made and the data loaded, an overwritten
            // run's files go (--init may have named one of them): once every
            // process has read its files.
            processes.wait_for_all();
            if (overwrite && first)
                for (const auto& name : run_files_in(out_dir))
                    if (!(name == "init.dbm" && !init_coarser.empty())) fs::remove(out_dir / name);  // just composed
            new_folder.keep = true;  // training starts: what it writes stays
            if (first && resume) std::cerr << "resumed at step " << trainer.step() << "\n";
            if (first)
                std::cerr << summary << ", "
                          << (group.size() > 1 ? std::to_string(group.size()) + " processes x " : std::string())
                          << omp_get_max_threads() << " threads\n";
            std::optional<train::TrainingLog> log;
            if (first) {
                log.emplace(out_dir / "log.csv");
                log->truncate_after(trainer.step());
            }
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
            const double elapsed_before = log ? log->elapsed_before() : 0;
            const double exchange_before = trainer.exchange_seconds();
            const std::int64_t first_step = trainer.step();
            const auto run_start = clock::now();
            double window_loss = 0, val_loss = std::numeric_limits<double>::quiet_NaN();
            std::int64_t window_steps = 0;
            // A stop asked of any process stops all after the same step.
            while (trainer.step() < steps && !group.any(stop_requested)) {
                const auto r = trainer.train_step(generator);
                window_loss += r.loss;
                ++window_steps;
                const std::int64_t step = trainer.step();
                const bool validate_now = step % val_every == 0 || step == steps;
                if (validate_now) {
                    val_loss = trainer.validate(val_examples);
                    if (val_loss < best_val) {
                        best_val = val_loss;
                        if (first) trainer.save_model(best, metadata());
                    }
                }
                if (first && (step % log_every == 0 || validate_now)) {
                    const double secs = std::chrono::duration<double>(clock::now() - window_start).count();
                    const double rate = window_steps * static_cast<double>(topt.batch) / secs;
                    log->append({step, window_loss / window_steps, validate_now ? val_loss : std::nan(""), rate,
                                elapsed_before + std::chrono::duration<double>(clock::now() - run_start).count()});
                    progress.update(step, window_loss / window_steps, val_loss, rate);
                    window_loss = 0;
                    window_steps = 0;
                    window_start = clock::now();
                    if (validate_now) train::write_loss_plot(out_dir / "loss.png", log->records());
                }
                if (first &&
                    std::chrono::duration<double>(clock::now() - last_checkpoint).count() > 60 * checkpoint_minutes) {
                    trainer.save_checkpoint(checkpoint, metadata());
                    last_checkpoint = clock::now();
                }
            }
            if (!first) return;
            trainer.save_checkpoint(checkpoint, metadata());
            progress.finish();
            std::cerr << (trainer.step() < steps ? "stopped" : "finished") << " at step " << trainer.step()
                      << "; best validation kernel error " << best_val << " (" << best << ")\n";
            if (group.size() > 1 && trainer.step() > first_step)
                std::cerr << "exchange between the processes: "
                          << 1e3 * (trainer.exchange_seconds() - exchange_before) /
                                 static_cast<double>(trainer.step() - first_step)
                          << " ms per step\n";
        };

        if (nonuniform) {
            const auto trainer = tools::make_field_trainer(seed, init, topt, group, static_cast<std::size_t>(grid));
            resume_if_asked(*trainer);
            const train::TrainingSet photos(train_dir);
            train::FieldExampleGeneratorOptions fopt;
            fopt.data = gopt;
            fopt.grid = static_cast<std::size_t>(grid);
            const auto generator = about("--train-dir", train_dir, [&] { return train::FieldExampleGenerator(photos, fopt); });
            train::FieldExampleGeneratorOptions vopt = fopt;
            vopt.data.crop = static_cast<int>(val_crop);
            vopt.data.seed = 0x5EED'7A11'DA7Eull;  // fixed: the same examples for every run
            const auto validation = about("--val-dir", val_dir, [&] {
                return train::FieldValidationSet(val_dir, vopt, static_cast<std::size_t>(val_images), 0, train_dir);
            });
            run(*trainer, generator, validation.examples(),
                std::to_string(photos.size()) + " training photos, " + std::to_string(validation.size()) +
                    " validation fields (" + std::to_string(grid) + "x" + std::to_string(grid) + " grid), kernel " +
                    std::to_string(kernel) + " px");
        } else {
            if (!init_coarser.empty()) {
                const fs::path composed = out_dir / "init.dbm";
                if (first) tools::compose_init<Net>(init, init_coarser, composed);
                processes.wait_for_all();  // written before any process reads it
                init = composed;
            }
            const auto trainer = tools::make_trainer(device, seed, init, topt, group);
            resume_if_asked(*trainer);
            const train::TrainingSet photos(train_dir);
            const auto generator = about("--train-dir", train_dir, [&] { return train::ExampleGenerator(photos, gopt); });
            train::ValidationSetOptions vopt;
            vopt.kernel_sizes = {kernel};
            vopt.crop = static_cast<int>(val_crop);
            vopt.max_images = static_cast<std::size_t>(val_images);
            vopt.noise_sigma = gopt.noise_sigma;
            // Throws when no photo gives an example (all too small or too flat).
            const auto validation = about("--val-dir", val_dir, [&] { return train::ValidationSet(val_dir, vopt, train_dir); });
            const auto val_examples = validation.examples(kernel);
            run(*trainer, generator, val_examples,
                std::to_string(photos.size()) + " training photos, " + std::to_string(val_examples.size()) +
                    " validation examples, kernel " + std::to_string(kernel) + " px");
        }
        return 0;
    } catch (const std::exception& e) {
        return processes.fail(e.what());
    }
}
