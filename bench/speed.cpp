// speed: the paper's Table 1 on this machine — kernel estimation and full
// blind deblurring times for square images of 255, 800, 1024 and 2048 px with
// 17, 25 and 33 px camera-shake kernels — next to the paper's Matlab figures
// (kernel estimation only, Intel i5) and the FFT and GEMM rates of this run.
//
//   ./build/bench/speed                 # from the project root
//   ./build/bench/speed --sizes 255 1024 --repeats 5 --stages
//   ./build/bench/speed --device cuda --sizes 1024 2048 4096 --kernels 33
//
// Each image is a validation photo resized to N x N, blurred ('same') with a
// sampled kernel and noise sigma 0.01. "estimate" is what blind_deblur spends
// before deconvolving: the noise estimate, choosing the estimation window
// (BlindDeblurOptions::estimation_size, 512 px), the network and the classical
// refinement; "full" adds the hyper-Laplacian deconvolution of the whole image.
// Times are the median of --repeats runs after one warm-up run (FFT plans),
// in wall seconds and in the process's CPU seconds (all its threads; steadier
// than wall time when other jobs share the cores). The stages come from
// blind_deblur's own timings (BlindDeblurResult::timings); --stages adds a
// table of them: noise estimate + estimation window, network, refinement,
// deconvolution, each wall / CPU.
// With --device cuda the network runs on the GPU (in "estimate" too) and a
// last column times the network alone on the whole N x N image (upload,
// network, kernel back to the host): the GPU figure of issue 8.
//
// --process measures what a user sees instead: whole runs of the deblur
// program (a fresh process each: start, model, FFT plans, reading and
// writing the files) on photos of 255 x 255 (gray), 1024 x 1024, 2048 x 2048,
// 12 MP and 50 MP (colour; mosaics of the --photo folder's photos enlarged
// 2x, so that a large photo has a real one's detail, blurred by a sampled
// camera-shake kernel, noise sigma 0.01, 8-bit PNG), with its defaults; median wall seconds of
// --process-runs runs and the peak resident memory, next to the warm library
// call (Deblurrer::deblur on the same image, median of --repeats after one
// warm-up) and the IPOL 243 peer (estimate-kernel given the true size, then
// deconv; built from ../shared/peers when missing) on the same files in the
// same run, with the ratio of the peer's time to the program's:
//
//   ./build/bench/speed --process 255 1024 2048 12mp 50mp
#include <CLI/CLI.hpp>
#include <deblur/core/openmp.hpp>

#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>
#include <xtensor/xbuilder.hpp>

#include <deblur/blur/blur.hpp>
#include <deblur/blur/motion_kernel_sampler.hpp>
#include <deblur/blur/noise.hpp>
#include <deblur/fft/fftw.hpp>
#include <deblur/io/color.hpp>
#include <deblur/io/read_image.hpp>
#include <deblur/io/write_image.hpp>
#include <deblur/net/linear_resize.hpp>
#include <deblur/pipeline/blind_deblur.hpp>

#include "../examples/tools/device.hpp"
#include "../examples/tools/fft_wisdom.hpp"
#include "../examples/tools/support_solver_options.hpp"
#include "process_run.hpp"

#ifndef DEBLUR_TOOL
#define DEBLUR_TOOL "build/examples/deblur"
#endif

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

template <class F>
double median_seconds(int repeats, F&& f) {
    f();  // warm-up: FFT plans, model file cache
    std::vector<double> t;
    for (int i = 0; i < repeats; ++i) {
        const auto start = Clock::now();
        f();
        t.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
    std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
    return t[t.size() / 2];
}

double median(std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
}

// Seconds of wall and process CPU time (all threads) since construction.
struct Stopwatch {
    Clock::time_point wall = Clock::now();
    std::clock_t cpu = std::clock();
    double wall_s() const { return std::chrono::duration<double>(Clock::now() - wall).count(); }
    double cpu_s() const { return static_cast<double>(std::clock() - cpu) / CLOCKS_PER_SEC; }
};

// Median wall and CPU seconds of one stage over the timed runs.
using Timings = deblur::BlindDeblurTimings;
std::string stage_cell(const std::vector<Timings>& runs, Timings::Stage Timings::*stage) {
    std::vector<double> wall, cpu;
    for (const auto& t : runs) {
        wall.push_back((t.*stage).wall);
        cpu.push_back((t.*stage).cpu);
    }
    char cell[64];
    std::snprintf(cell, sizeof cell, "%.3f / %.3f", median(wall), median(cpu));
    return cell;
}

// GFLOP/s of a float 1024^3 GEMM through Eigen (the convolutions' engine).
double gemm_gflops(int repeats) {
    const int n = 1024;
    Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, n), b = Eigen::MatrixXf::Random(n, n), c(n, n);
    const double s = median_seconds(repeats, [&] { c.noalias() = a * b; });
    return 2.0 * n * n * n / s * 1e-9;
}

// Milliseconds of one forward real FFT of n x n floats through the FFT policy.
double fft_ms(std::size_t n, int repeats) {
    deblur::fft::Fftw::vector<float> in(n * n, 0.5f);
    deblur::fft::Fftw::vector<std::complex<float>> out(n * (n / 2 + 1));
    return 1e3 * median_seconds(repeats, [&] { deblur::fft::Fftw::forward<float>(n, n, in.data(), out.data()); });
}

// A photo of --process: its size, colour, and the blur it is given.
struct ProcessCase {
    std::string name;
    std::size_t rows, cols;
    bool colour;
    int kernel;  // px
};

const std::vector<ProcessCase> process_cases{
    {"255", 255, 255, false, 23},     {"1024", 1024, 1024, true, 33}, {"2048", 2048, 2048, true, 33},
    {"12mp", 3000, 4000, true, 33},   {"50mp", 5773, 8660, true, 33}};

struct ProcessOptions {
    std::vector<std::string> cases;
    int runs = 5, peer_runs = 1, repeats = 3;
    double peer_max_mp = 1e9;
    bool keep = false;  // keep the blurry photos in `work`
    fs::path tool = DEBLUR_TOOL, ipol = "/tmp/ipol243-build", peers = "../shared/peers", work = "/tmp/deblur-speed";
};

std::string cell(double v, const char* format) {
    if (!std::isfinite(v)) return "failed";
    char buf[32];
    std::snprintf(buf, sizeof buf, format, v);
    return buf;
}

// The median wall time (NaN if any run failed) and the largest peak memory of `runs` runs of each command in turn.
std::pair<double, double> time_commands(const std::vector<std::vector<std::string>>& commands, int runs, const fs::path& log) {
    std::vector<double> seconds;
    double peak = 0;
    for (int i = 0; i < runs; ++i) {
        double total = 0;
        for (const auto& command : commands) {
            const auto r = bench::run_process(command, log);
            total += r.seconds;
            peak = std::max(peak, r.peak_mb);
        }
        if (!std::isfinite(total)) return {NAN, NAN};
        seconds.push_back(total);
    }
    return {median(seconds), peak};
}

// A colour rows x cols photo with the detail of a real one at every size: the
// photos of `files` (in turn, from the first) enlarged 2x and laid side by side.
deblur::Tensor<float> mosaic(const std::vector<fs::path>& files, std::size_t rows, std::size_t cols) {
    using namespace deblur;
    Tensor<float> out = xt::zeros<float>({std::size_t(3), rows, cols});
    std::size_t next = 0, top = 0;
    while (top < rows) {
        std::size_t left = 0, band = 0;
        while (left < cols) {
            Tensor<float> p = io::read_image(files[next++ % files.size()]).pixels, big;
            if (p.shape(0) == 1) p = xt::concatenate(xt::xtuple(p, p, p), 0);
            LinearResize<float>(p.shape(1), p.shape(2), 2 * p.shape(1), 2 * p.shape(2)).apply(p, big);
            const std::size_t h = std::min(big.shape(1), rows - top), w = std::min(big.shape(2), cols - left);
            xt::view(out, xt::range(0, 3), xt::range(top, top + h), xt::range(left, left + w)) =
                xt::view(big, xt::range(0, 3), xt::range(0, h), xt::range(0, w));
            left += w;
            band = std::max(band, h);
        }
        top += band;
    }
    return xt::clip(out, 0.0f, 1.0f);
}

// The --process table (see the top of this file).
void process_table(const ProcessOptions& o, const std::vector<fs::path>& files, deblur::Deblurrer& deblurrer) {
    using namespace deblur;
    fs::create_directories(o.work);
    const fs::path log = o.work / "runs.log";
    std::string peer_reason;
    const fs::path estimate_kernel = o.ipol / "estimate-kernel", deconv = o.ipol / "deconv";
    if (!(fs::exists(estimate_kernel) && fs::exists(deconv))) {
        std::fprintf(stderr, "building IPOL 243 into %s\n", o.ipol.c_str());
        const auto r = bench::run_process({"/bin/sh", (o.peers / "build_ipol243.sh").string(), (o.peers / "ipol243").string(),
                                           o.ipol.string()}, o.work / "ipol-build.log");
        if (!std::isfinite(r.seconds)) peer_reason = "its build failed, see " + (o.work / "ipol-build.log").string();
    }
    std::printf("Whole runs of %s (defaults; median of %d runs) and of IPOL 243 (median of %d), "
                "the warm library call (median of %d); threads %d\n\n",
                o.tool.filename().c_str(), o.runs, o.peer_runs, o.repeats, omp_get_max_threads());
    std::printf("| photo | blur (px) | deblur program (s) | its peak memory (MB) | warm library call (s) | "
                "IPOL 243 (s) | its peak memory (MB) | IPOL / program time |\n|---|---|---|---|---|---|---|---|\n");
    std::mt19937_64 rng(11);
    for (const auto& name : o.cases) {
        const auto c = std::find_if(process_cases.begin(), process_cases.end(), [&](const auto& p) { return p.name == name; });
        if (c == process_cases.end()) throw std::invalid_argument("--process: no photo size " + name + " (255, 1024, 2048, 12mp, 50mp)");
        std::fprintf(stderr, "making the %s photo\n", c->name.c_str());
        Tensor<float> image = mosaic(files, c->rows, c->cols);
        if (!c->colour) image = io::to_gray(image);
        const auto kernel = MotionKernelSampler{}.sample<float>(c->kernel, rng);
        for (std::size_t ch = 0; ch < image.shape(0); ++ch) {
            xt::xtensor<float, 2> plane = xt::view(image, ch, xt::all(), xt::all());
            plane = blur(plane, kernel, BlurMode::same);
            add_gaussian_noise(plane, 0.01, rng);
            xt::view(image, ch, xt::all(), xt::all()) = xt::clip(plane, 0.0f, 1.0f);
        }
        const fs::path blurry = o.work / (c->name + "-blurry.png");
        io::write_image(blurry, image);
        image = io::read_image(blurry).pixels;  // what the programs read

        std::fprintf(stderr, "timing the deblur program on %s\n", blurry.c_str());
        const auto [tool_s, tool_mb] =
            time_commands({{o.tool.string(), "-q", blurry.string(), (o.work / (c->name + "-deblurred.png")).string()}}, o.runs, log);
        std::fprintf(stderr, "timing the library call\n");
        const double warm_s = median_seconds(o.repeats, [&] { deblurrer.deblur(image, BlindDeblurOptions{}); });
        deblurrer.release_buffers();
        double ipol_s = NAN, ipol_mb = NAN;
        std::string ipol_cell, ipol_mb_cell, ratio_cell;
        const double mp = double(c->rows) * double(c->cols) / 1e6;
        if (!peer_reason.empty() || mp > o.peer_max_mp) {
            ipol_cell = ipol_mb_cell = ratio_cell = peer_reason.empty() ? "not run (--peer-max-mp)" : "n/a: " + peer_reason;
        } else {
            std::fprintf(stderr, "timing IPOL 243\n");
            const fs::path k = o.work / (c->name + "-ipol-kernel.tif");
            std::tie(ipol_s, ipol_mb) =
                time_commands({{estimate_kernel.string(), std::to_string(c->kernel), blurry.string(), k.string()},
                               {deconv.string(), blurry.string(), k.string(), (o.work / (c->name + "-ipol.png")).string()}},
                              o.peer_runs, log);
            ipol_cell = cell(ipol_s, "%.2f");
            ipol_mb_cell = cell(ipol_mb, "%.0f");
            ratio_cell = cell(ipol_s / tool_s, "%.1f");
        }
        std::printf("| %zu x %zu %s | %d | %s | %s | %s | %s | %s | %s |\n", c->cols, c->rows, c->colour ? "colour" : "gray",
                    c->kernel, cell(tool_s, "%.2f").c_str(), cell(tool_mb, "%.0f").c_str(), cell(warm_s, "%.2f").c_str(),
                    ipol_cell.c_str(), ipol_mb_cell.c_str(), ratio_cell.c_str());
        std::fflush(stdout);
        if (!o.keep) fs::remove(blurry);
    }
}

}  // namespace

int main(int argc, char** argv) {
    using namespace deblur;
    CLI::App app{"Speed of kernel estimation and full blind deblurring (the paper's Table 1)"};
    std::vector<int> sizes{255, 800, 1024, 2048}, kernels{17, 25, 33};
    fs::path photo = "../shared/data/val", model;
    int repeats = 3, threads = 0;
    std::string device = "cpu";
    bool stages = false;
    KernelRefinerOptions refinement;
    app.add_option("--sizes", sizes, "Image sizes (square)")->capture_default_str();
    app.add_option("--kernels", kernels, "Kernel sizes")->capture_default_str();
    app.add_option("--photo", photo, "A sharp photo, or a folder whose first photo is used")->capture_default_str();
    app.add_option("--model", model, "Model file (default: the shipped model)");
    app.add_option("--repeats", repeats, "Timed runs per cell (median)")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--threads", threads, "Threads (0: all cores)")->capture_default_str();
    app.add_option("--device", device, "Where the network runs: cpu or cuda")->capture_default_str();
    fs::path wisdom_file;
    app.add_option("--fft-wisdom", wisdom_file,
                   "Measured FFT plans (FFTW_MEASURE), kept in this file; planning happens in the untimed warm-up");
    app.add_flag("--stages", stages, "Add a table of the time per stage (wall / CPU)");
    app.add_option("--refine-iterations", refinement.iterations, "Refinement: alternations per level")->capture_default_str();
    app.add_option("--refine-beta-max", refinement.beta_max, "Refinement: the last latent step's half-quadratic penalty")
        ->capture_default_str();
    tools::add_support_solver_options(app, refinement);  // (the benchmark's images have noise 0.01)
    ProcessOptions process;
    app.add_option("--process", process.cases, "Whole runs of the deblur program instead: photo sizes 255, 1024, 2048, 12mp, 50mp");
    app.add_option("--process-runs", process.runs, "--process: runs of the program per photo (median)")
        ->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--peer-runs", process.peer_runs, "--process: runs of IPOL 243 per photo (median)")
        ->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--peer-max-mp", process.peer_max_mp, "--process: run IPOL 243 on photos up to this many megapixels")
        ->capture_default_str();
    app.add_option("--tool", process.tool, "--process: the deblur program")->capture_default_str();
    app.add_option("--ipol", process.ipol, "--process: IPOL 243 build folder (built there from --peers when missing)")
        ->capture_default_str();
    app.add_option("--peers", process.peers, "--process: the peers folder (build_ipol243.sh, ipol243/)")->capture_default_str();
    app.add_option("--work", process.work, "--process: folder for the photos and results")->capture_default_str();
    app.add_flag("--keep", process.keep, "--process: keep the blurry photos in --work");
    CLI11_PARSE(app, argc, argv);
    process.repeats = repeats;
    try {
        if (threads > 0) omp_set_num_threads(threads);
        fft::Fftw::set_threads(omp_get_max_threads());
        const auto say = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
        if (!wisdom_file.empty()) tools::load_fft_wisdom(wisdom_file, say);
        std::vector<fs::path> files{photo};
        if (fs::is_directory(photo)) {
            files.clear();
            for (const auto& e : fs::recursive_directory_iterator(photo)) {
                const auto ext = e.path().extension();
                if (e.is_regular_file() && (ext == ".jpg" || ext == ".png" || ext == ".tif")) files.push_back(e.path());
            }
            if (files.empty()) throw std::runtime_error("no photo in " + photo.string());
            std::sort(files.begin(), files.end());
            photo = files.front();
        }
        const auto network = tools::network_for_device(device);
        Deblurrer deblurrer(model.empty() ? Model::default_model() : Model::from_file(model));
        if (!process.cases.empty()) {
            process_table(process, files, deblurrer);
            return 0;
        }
        const auto gray = io::to_gray(io::read_image(photo).pixels);
        // Paper, Table 1: kernel estimation in Matlab on an Intel i5 (seconds).
        const std::map<std::pair<int, int>, double> paper{
            {{255, 17}, 1.1},  {{255, 25}, 1.2},  {{255, 33}, 1.6},  {{800, 17}, 5.2},   {{800, 25}, 14.3}, {{800, 33}, 10.7},
            {{1024, 17}, 9.5}, {{1024, 25}, 18.5}, {{1024, 33}, 22.6}, {{2048, 17}, 53.1}, {{2048, 25}, 89.1}, {{2048, 33}, 91.9}};

        std::printf("threads %d; photo %s; median of %d runs\n\n", omp_get_max_threads(), photo.filename().string().c_str(),
                    repeats);
        std::printf("| image | kernel | estimate (s) | full deblur (s) | estimate, CPU (s) | full deblur, CPU (s) | "
                    "paper, estimate in Matlab (s) | FFT of the image, one forward (ms) |%s\n"
                    "|---|---|---|---|---|---|---|---|%s\n",
                    network ? " network on the whole image, GPU (ms) |" : "", network ? "---|" : "");
        std::vector<std::string> stage_rows;
        std::mt19937_64 rng(7);
        for (int n : sizes) {
            Tensor<float> resized;
            LinearResize<float>(gray.shape(1), gray.shape(2), n, n).apply(gray, resized);
            const xt::xtensor<float, 2> sharp = xt::view(resized, 0, xt::all(), xt::all());
            const double fft = fft_ms(real_fft_size(n), repeats);
            for (int k : kernels) {
                const auto kernel = MotionKernelSampler{}.sample<float>(k, rng);
                xt::xtensor<float, 2> blurry = blur(sharp, kernel, BlurMode::same);
                add_gaussian_noise(blurry, 0.01, rng);
                Tensor<float> image = make_tensor<float>(1, n, n);
                std::copy(blurry.begin(), blurry.end(), image.begin());
                BlindDeblurOptions options;
                options.kernel_size = k;
                options.network = network;
                options.refinement = refinement;
                // Full = the call (and freeing its result); estimate and the
                // stages from the library's own timings.
                deblurrer.deblur(image, options);  // warm-up: FFT plans, the network, the solvers' buffers
                std::vector<double> full_wall, full_cpu;
                std::vector<Timings> runs;
                for (int i = 0; i < repeats; ++i) {
                    const Stopwatch watch;
                    runs.push_back(deblurrer.deblur(image, options).timings);
                    full_wall.push_back(watch.wall_s());
                    full_cpu.push_back(watch.cpu_s());
                }
                std::vector<double> estimate_wall, estimate_cpu;
                for (const auto& t : runs) {
                    estimate_wall.push_back(t.estimate().wall);
                    estimate_cpu.push_back(t.estimate().cpu);
                }
                const auto p = paper.find({n, k});
                std::printf("| %d x %d | %d | %.3f | %.3f | %.3f | %.3f | %s | %.2f |", n, n, k, median(estimate_wall),
                            median(full_wall), median(estimate_cpu), median(full_cpu),
                            p == paper.end() ? "-" : std::to_string(p->second).substr(0, 4).c_str(), fft);
                std::string row = "| " + std::to_string(n) + " x " + std::to_string(n) + " | " + std::to_string(k) + " |";
                for (auto stage : {&Timings::preparation, &Timings::network, &Timings::refinement, &Timings::deconvolution})
                    row += " " + stage_cell(runs, stage) + " |";
                stage_rows.push_back(row);
                if (network) {
                    const ModelBytes& bytes = deblurrer.model().network_for_noise(0.01);
                    std::printf(" %.1f |", 1e3 * median_seconds(repeats, [&] { network(blurry, bytes, k, {}); }));
                }
                std::printf("\n");
                std::fflush(stdout);
            }
        }
        if (stages) {
            std::printf("\nPer stage, median wall / CPU (s):\n\n"
                        "| image | kernel | noise estimate + window | network | refinement | deconvolution |\n"
                        "|---|---|---|---|---|---|\n");
            for (const auto& row : stage_rows) std::printf("%s\n", row.c_str());
        }
        std::printf("\nGEMM (Eigen, float, 1024^3): %.1f GFLOP/s\n", gemm_gflops(repeats));
        if (!wisdom_file.empty()) tools::save_fft_wisdom(wisdom_file, say);
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "speed: " << e.what() << "\n";
        return 1;
    }
}
