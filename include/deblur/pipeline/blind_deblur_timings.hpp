#pragma once
// Where blind_deblur spent its time, stage by stage (BlindDeblurResult::timings;
// bench/speed --stages prints them). Each stage has its wall time and the
// process's CPU time (all its threads: FFTW's helpers count, other processes
// on the machine do not, so the CPU figure is the steadier one under load).
#include <chrono>
#include <ctime>
#include <initializer_list>

namespace deblur {

struct BlindDeblurTimings {
    struct Stage {
        double wall = 0, cpu = 0;  // seconds
    };
    Stage preparation;    // gamma, luminance, noise estimate, estimation window
    Stage network;        // the network's kernel (KernelEstimator or options.network)
    Stage refinement;     // KernelRefiner, both supports when the kernel is regrown
    Stage deconvolution;  // the hyper-Laplacian deconvolution of every channel (and the gamma back)

    Stage estimate() const { return sum({preparation, network, refinement}); }
    Stage total() const { return sum({preparation, network, refinement, deconvolution}); }

private:
    static Stage sum(std::initializer_list<Stage> stages) {
        Stage s;
        for (const Stage& t : stages) {
            s.wall += t.wall;
            s.cpu += t.cpu;
        }
        return s;
    }
};

namespace detail {

// Adds the time since the last lap (or construction) to a stage.
class StageClock {
public:
    StageClock() { restart(); }
    void lap(BlindDeblurTimings::Stage* stage) {
        const auto wall = std::chrono::steady_clock::now();
        const std::clock_t cpu = std::clock();  // process CPU time (CLOCK_PROCESS_CPUTIME_ID on Linux)
        if (stage) {
            stage->wall += std::chrono::duration<double>(wall - wall_).count();
            stage->cpu += static_cast<double>(cpu - cpu_) / CLOCKS_PER_SEC;
        }
        wall_ = wall;
        cpu_ = cpu;
    }
    void restart() { lap(nullptr); }

private:
    std::chrono::steady_clock::time_point wall_;
    std::clock_t cpu_ = 0;
};

}  // namespace detail
}  // namespace deblur
