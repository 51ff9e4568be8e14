#pragma once
// A short training run of a tiny network, as one process of a data-parallel
// group (train::ProcessGroup): what the tests of the trainer's "N processes
// give the parameters of one" guarantee compare, bit for bit.
#include <cstddef>
#include <cstdint>
#include <vector>

#include <deblur/net/multi_scale.hpp>
#include <deblur/net/parameters.hpp>
#include <deblur/net/scale.hpp>
#include <deblur/net/stage.hpp>
#include <deblur/layers/chain.hpp>
#include <deblur/layers/conv.hpp>
#include <deblur/layers/image_quotient.hpp>
#include <deblur/layers/quotient.hpp>
#include <deblur/layers/recombine.hpp>
#include <deblur/layers/tanh.hpp>
#include <deblur/train/example_generator.hpp>
#include <deblur/train/process_group.hpp>
#include <deblur/train/trainer.hpp>
#include <deblur/train/training_set.hpp>

#include "noise_photo.hpp"

namespace deblur::test {

struct DataParallelRun {
    std::vector<float> parameters;
    std::vector<double> losses, validation;  // per step
    std::size_t skipped = 0;                 // outliers, all steps
};

// `steps` steps of a global batch of `batch` (stage 2 joins at step 3),
// outliers above 1.2 x the running mean skipped (so that some are),
// validated on 7 held-out examples after each step.
inline DataParallelRun data_parallel_run(const train::ProcessGroup& group, std::size_t batch, int steps) {
    using Stage9 = Stage<Chain<Conv<2, 3>, Tanh<>, Recombine<2>>, Quotient<9>, ImageQuotient<>>;
    using Net = MultiScale<Scale<9, Stage9, Stage9>>;
    const train::TrainingSet set({noise_photo(64, 1), noise_photo(72, 2), noise_photo(80, 3)});
    train::ExampleGeneratorOptions data;
    data.crop = 24;
    data.kernel_size = 9;
    data.seed = 5;
    const train::ExampleGenerator generator(set, data);
    std::vector<train::TrainingExample> held_out;
    for (std::uint64_t i = 0; i < 7; ++i) held_out.push_back(generator.example_at(1'000'000, i));
    train::TrainerOptions options;
    options.batch = batch;
    options.stage_steps = 3;
    options.freeze_steps = 1;
    options.outlier_factor = 1.2;
    Net net(11);
    train::Trainer<Net> trainer(net, options, group);
    DataParallelRun r;
    for (int i = 0; i < steps; ++i) {
        const auto step = trainer.train_step(generator);
        r.losses.push_back(step.loss);
        r.skipped += step.skipped;
        r.validation.push_back(trainer.validate(held_out));
    }
    get_parameters(net, r.parameters);
    return r;
}

}  // namespace deblur::test
