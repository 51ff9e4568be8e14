// deblur: estimates the camera-shake kernel of a blurry photo and writes the
// sharp image plus the kernel as data: OUTPUT.kernel.png holds it at its own
// size, 16-bit, scaled to its maximum (deblur/io/kernel_file.hpp), so that
// `--kernel` or another program can read it back.
//
//   deblur shaken.jpg sharp.png            # writes sharp.png and sharp.kernel.png
//   deblur shaken.jpg sharp.png --kernel-out k.csv --kernel-preview k-big.png
//                                          # also the kernel as text, and magnified for looking at
//   deblur --kernel k.csv in.tif out.tif   # known kernel (.png, .tif, .pfm, .csv): non-blind only
//   deblur --nonuniform --grid 3x3 shaken.jpg sharp.png   # spatially-varying blur: sharp.kernels.png
//   deblur --device cuda shaken.jpg sharp.png   # the network on the GPU
#include <CLI/CLI.hpp>
#include <deblur/core/openmp.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <filesystem>
#include <iostream>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>
#include <unistd.h>

#include <deblur/core/atomic_file.hpp>
#include <deblur/fft/fftw.hpp>
#include <deblur/fft/shipped_wisdom.hpp>
#include <deblur/io/color.hpp>
#include <deblur/io/kernel_file.hpp>
#include <deblur/io/read_image.hpp>
#include <deblur/io/write_image.hpp>
#include <deblur/net/model_error.hpp>
#include <deblur/net/model.hpp>
#include <deblur/pipeline/deblurrer.hpp>
#include <deblur/pipeline/nonuniform_deblur.hpp>

#include "command_line.hpp"
#include "device.hpp"
#include "fft_wisdom.hpp"

namespace {

namespace fs = std::filesystem;

// Output samples keep the input's precision where the output format allows it.
deblur::io::SampleType output_sample_type(const deblur::io::ImageInfo& in, const fs::path& out) {
    using deblur::io::SampleType;
    const auto format = deblur::io::format_from_extension(out);
    if (format == deblur::io::ImageFormat::pfm) return SampleType::float32;  // PFM stores nothing else
    if (in.floating_point) return format == deblur::io::ImageFormat::png ? SampleType::uint16 : SampleType::float32;
    return in.bit_depth > 8 ? SampleType::uint16 : SampleType::uint8;
}

// The kernel as a picture to look at (--kernel-preview): scaled to its
// maximum, each tap an n x n block.
deblur::Tensor<float> kernel_picture(const xt::xtensor<float, 2>& k) {
    const std::size_t n = std::max<std::size_t>(1, 256 / k.shape(0));
    auto pic = deblur::make_tensor<float>(1, k.shape(0) * n, k.shape(1) * n);
    const float peak = xt::amax(k)();
    for (std::size_t r = 0; r < pic.shape(1); ++r)
        for (std::size_t c = 0; c < pic.shape(2); ++c) pic(0, r, c) = k(r / n, c / n) / peak;
    return pic;
}

// The kernel field as a picture: the local kernels on their grid (as they lie
// on the photo), each scaled to its own maximum and magnified, separated by
// gray lines.
deblur::Tensor<float> kernel_field_picture(const deblur::Tensor<float>& field, std::size_t rows, std::size_t cols) {
    const std::size_t k = field.shape(1), n = std::max<std::size_t>(1, 128 / k), tile = k * n, gap = 3;
    auto pic = deblur::make_tensor<float>(1, rows * tile + (rows + 1) * gap, cols * tile + (cols + 1) * gap, 0.3f);
    for (std::size_t p = 0; p < rows * cols; ++p) {
        const xt::xtensor<float, 2> kp = xt::view(field, p, xt::all(), xt::all());
        const float peak = std::max(xt::amax(kp)(), 1e-12f);
        const std::size_t r0 = gap + (p / cols) * (tile + gap), c0 = gap + (p % cols) * (tile + gap);
        for (std::size_t r = 0; r < tile; ++r)
            for (std::size_t c = 0; c < tile; ++c) pic(0, r0 + r, c0 + c) = kp(r / n, c / n) / peak;
    }
    return pic;
}

// "RxC" (e.g. 3x3) as patches per axis.
std::pair<std::size_t, std::size_t> parse_grid(const std::string& text) {
    const auto bad = [&] {
        return std::invalid_argument("--grid " + text + ": expected ROWSxCOLS with whole numbers from 1 to 16, e.g. 3x3");
    };
    const auto x = text.find_first_of("xX");
    if (x == std::string::npos || x == 0 || x + 1 == text.size()) throw bad();
    const std::string a = text.substr(0, x), b = text.substr(x + 1);
    for (const std::string& part : {a, b})
        if (part.size() > 2 || part.find_first_not_of("0123456789") != std::string::npos) throw bad();
    const std::size_t rows = std::stoul(a), cols = std::stoul(b);
    if (rows < 1 || cols < 1 || rows > 16 || cols > 16) throw bad();
    return {rows, cols};
}

fs::path folder_of(const fs::path& file) { return file.has_parent_path() ? file.parent_path() : fs::path("."); }

// Whether two paths name one file (through links too); false when either is missing.
bool same_file(const fs::path& a, const fs::path& b) {
    std::error_code ec;
    return fs::exists(a, ec) && fs::exists(b, ec) && fs::equivalent(a, b, ec) && !ec;
}

// A file the run writes besides the result: what goes in it, its name, what
// it is called in messages and, once the work is done, its contents.
struct Output {
    enum class Content { kernel, kernel_field, kernel_preview } content;
    fs::path file;
    std::string role;
    std::vector<unsigned char> bytes = {};
};

// Fails before any work on an output the run could not write or must not
// overwrite: a wrong extension (`kernel_data`: those of kernel files, .csv
// too), a missing or read-only folder, the input itself are reported at once
// (naming the user's file), not after minutes.
void check_writable(const fs::path& file, const fs::path& input, bool kernel_data = false) {
    using deblur::io::ImageError;
    const auto format = deblur::io::format_from_extension(file);
    if (kernel_data ? !deblur::io::kernel_format_from_extension(file)
                    : !format || *format == deblur::io::ImageFormat::jpeg)
        throw ImageError(file, std::string("cannot be written: the extension must be .png, .tif, .tiff") +
                                   (kernel_data ? ", .pfm or .csv" : " or .pfm"));
    const fs::path folder = folder_of(file);
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) throw ImageError(file, "cannot be written: no folder " + folder.string());
    if (fs::is_directory(file, ec)) throw ImageError(file, "cannot be written: it is a directory");
    if (same_file(file, input))
        throw ImageError(file, "is the input photo: choose another output name, so that the photo is not lost");
    try {
        deblur::check_file_writable(file);
    } catch (const deblur::FileWriteError& e) {
        throw ImageError(file, e.problem());
    }
}

// Two outputs of one name would overwrite each other: refused before any
// work. `outputs`: the files and what they are called in messages.
void check_distinct(const std::vector<std::pair<fs::path, std::string>>& outputs) {
    const auto key = [](const fs::path& file) {
        std::error_code ec;
        const fs::path canonical = fs::weakly_canonical(fs::absolute(file, ec), ec);
        return ec ? fs::absolute(file, ec).lexically_normal() : canonical;
    };
    for (std::size_t i = 0; i < outputs.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (key(outputs[i].first) == key(outputs[j].first) || same_file(outputs[i].first, outputs[j].first))
                throw deblur::io::ImageError(outputs[i].first, "is named as " + outputs[j].second + " and as " +
                                                                   outputs[i].second + ": give each output its own name");
}

// The option values, before any work: one "deblur:" line naming the option.
void check_options(const CLI::App& app, const deblur::BlindDeblurOptions& options, int threads, double eta) {
    using namespace deblur::tools;
    if (options.kernel_size != 0 && (options.kernel_size < 3 || options.kernel_size % 2 == 0))
        throw UsageError("--kernel-size " + std::to_string(options.kernel_size) +
                         ": expected 0 (automatic) or an odd number of pixels from 3");
    if (app.count("--noise")) require_in_range("--noise", options.noise, 0, 1);
    require_positive("--gamma", options.gamma, 10);
    require_count("--estimation-size", static_cast<long long>(options.estimation_size), 64, 1 << 16);
    require_threads("--threads", threads);
    if (app.count("--eta")) require_positive("--eta", eta, 1);
}

// A given kernel size must fit the window it is estimated on: the refinement
// needs an image at least twice the kernel.
void check_kernel_size(const deblur::BlindDeblurOptions& options, std::size_t width, std::size_t height) {
    const std::size_t side = std::min({width, height, options.estimation_size});
    const int largest = static_cast<int>(side / 2) % 2 ? static_cast<int>(side / 2) : static_cast<int>(side / 2) - 1;
    if (options.kernel_size > 0 && options.kernel_size > largest)
        throw deblur::tools::UsageError("--kernel-size " + std::to_string(options.kernel_size) + ": at most " +
                                        std::to_string(std::max(largest, 0)) + " px for a " + std::to_string(width) +
                                        " x " + std::to_string(height) + " image (half its estimation window)");
}

// Writes the result and the other outputs so that a failure changes none of
// them: the others go to hidden names first and take their places only once
// the result is written (each write is atomic on its own; only a rename that
// fails after another succeeded, unlikely in folders checked writable before
// the work, would leave some replaced). Errors name the user's files, not the
// hidden ones.
void write_outputs(const fs::path& output, const std::vector<unsigned char>& sharp, const std::vector<Output>& others) {
    std::vector<fs::path> pending;
    std::deque<deblur::detail::TemporaryFileGuard> guards;  // removed by a signal until renamed
    try {
        for (const Output& o : others) {
            pending.push_back(deblur::detail::temporary_sibling(o.file, 0));
            guards.emplace_back(pending.back());
            try {
                deblur::write_file_atomically(pending.back(), o.bytes);
            } catch (const deblur::FileWriteError& e) {
                throw deblur::io::ImageError(o.file, e.problem());
            }
        }
        deblur::io::write_file_atomically(output, sharp);
        for (std::size_t i = 0; i < others.size(); ++i) {
            std::error_code ec;
            fs::rename(pending[i], others[i].file, ec);
            if (ec) throw deblur::io::ImageError(others[i].file, "cannot replace the file: " + ec.message());
        }
    } catch (...) {
        std::error_code ignored;
        for (const fs::path& p : pending) fs::remove(p, ignored);
        throw;
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Blind deblurring of camera shake with a learned kernel estimator"};
    fs::path input, output, kernel_file, kernel_out, kernel_preview, model_file;
    deblur::BlindDeblurOptions options;
    int threads = 0;
    fs::path wisdom_file;
    bool quiet = false;
    bool nonuniform = false;
    std::string grid_text = "3x3";
    deblur::NonuniformDeblurOptions nonuniform_options;
    std::string device = "cpu";
    app.add_option("input", input, "Blurry photo (PNG, JPEG, TIFF or PFM)")->required();
    app.add_option("output", output,
                   "Sharp result (.png, .tif or .pfm); the kernel goes to OUTPUT.kernel.png, at its own size, 16-bit, "
                   "scaled to its maximum")
        ->required();
    app.add_option("--kernel-size", options.kernel_size,
                   "Largest blur in pixels: 0 (choose automatically) or odd, from 3 to half the image")
        ->capture_default_str();
    app.add_option("--noise", options.noise, "Noise standard deviation, 0..1 (default: estimated from the image)");
    app.add_option("--model", model_file, "Model file (default: the shipped models, built into the program; by noise level)");
    app.add_option("--kernel", kernel_file,
                   "Use this kernel instead of estimating one: an image (.png, .tif, .pfm, ...; colour is taken as gray) "
                   "or .csv text (one row per line), normalised to sum 1");
    app.add_option("--kernel-out", kernel_out,
                   "Also write the kernel to this file: .png (16-bit, scaled to its maximum), .tif, .tiff or .pfm "
                   "(float, sum 1) or .csv (text, one row per line, sum 1)");
    app.add_option("--kernel-preview", kernel_preview,
                   "Write the kernel magnified to this .png, .tif or .pfm for looking at (each tap a block, scaled to "
                   "its maximum, 8-bit)");
    app.add_option("--gamma", options.gamma, "Gamma of the input, above 0 and at most 10 (2.2 for most JPEGs; 1: linear data)")
        ->capture_default_str();
    app.add_option("--estimation-size", options.estimation_size,
                   "Window of the photo the kernel is estimated on, 64 to 65536 px")
        ->capture_default_str();
    app.add_option("--threads", threads, "Threads (0: all cores)")->capture_default_str();
    app.add_flag("!--no-refine", options.refine,
                 "Use the network's kernel as it is (default: refine it classically, see README)");
    app.add_flag("--nonuniform", nonuniform,
                 "Spatially-varying blur (camera rotation): one kernel per patch of --grid; the kernel field goes to "
                 "OUTPUT.kernels.png");
    app.add_option("--grid", grid_text, "Patches per axis for --nonuniform, ROWSxCOLS")->capture_default_str();
    app.add_option("--eta", nonuniform_options.eta, "For --nonuniform: fraction of camera-motion coefficients kept (0..1]")
        ->capture_default_str();
    app.add_option("--device", device, "Where the network runs: cpu, or cuda (the GPU; the rest stays on the CPU)")
        ->capture_default_str();
    app.add_option("--fft-wisdom", wisdom_file,
                   "Measure the FFT plans (FFTW_MEASURE) and keep them in this file: seconds of planning on the "
                   "first run of an image size, faster transforms on every later one (BENCHMARKS.md)");
    bool shipped_plans = false;
    app.add_flag("--shipped-fft-plans", shipped_plans,
                 "Use the FFT plans measured for the usual sizes on the CI machine kind (compiled in): faster, but "
                 "the results round differently (BENCHMARKS.md, \"Memory and FFT plans\")");
    app.add_flag("-q,--quiet", quiet, "No progress output");
    if (const auto status = deblur::tools::parse_command_line(app, argc, argv, "deblur")) return *status;

    const auto start = std::chrono::steady_clock::now();
    const auto say = [&](const std::string& line) {
        if (quiet) return;
        const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::cerr << "[" << std::fixed << std::setprecision(1) << t << " s] " << line << "\n";
    };
    try {
        check_options(app, options, threads, nonuniform_options.eta);
        if (threads > 0) omp_set_num_threads(threads);
        deblur::fft::Fftw::set_threads(threads > 0 ? threads : omp_get_max_threads());
        if (shipped_plans && !deblur::fft::import_shipped_wisdom())
            say("the shipped FFT plans are for another FFTW version: not used");
        if (!wisdom_file.empty()) deblur::tools::load_fft_wisdom(wisdom_file, say);
        options.progress = say;
        options.network = deblur::tools::network_for_device(device);
        auto kernel_output = output;
        kernel_output.replace_extension(nonuniform ? ".kernels.png" : ".kernel.png");
        if (!nonuniform && (app.count("--grid") || app.count("--eta")))
            throw std::invalid_argument("--grid and --eta apply to --nonuniform only");
        if (nonuniform && !kernel_file.empty()) throw std::invalid_argument("--kernel and --nonuniform exclude each other");
        if (nonuniform && (!kernel_out.empty() || !kernel_preview.empty()))
            throw std::invalid_argument("--kernel-out and --kernel-preview write one kernel: not with --nonuniform, whose "
                                        "kernel field goes to OUTPUT.kernels.png");
        if (nonuniform) std::tie(nonuniform_options.grid_rows, nonuniform_options.grid_cols) = parse_grid(grid_text);
        // The files written besides the result (their contents come after the work).
        using Content = Output::Content;
        std::vector<Output> others{nonuniform ? Output{Content::kernel_field, kernel_output, "OUTPUT.kernels.png"}
                                              : Output{Content::kernel, kernel_output, "OUTPUT.kernel.png"}};
        if (!kernel_out.empty()) others.push_back({Content::kernel, kernel_out, "--kernel-out"});
        if (!kernel_preview.empty()) others.push_back({Content::kernel_preview, kernel_preview, "--kernel-preview"});
        check_writable(output, input);
        std::vector<std::pair<fs::path, std::string>> names{{output, "OUTPUT"}};
        for (const Output& o : others) {
            check_writable(o.file, input, o.content == Content::kernel);
            names.emplace_back(o.file, o.role);
        }
        check_distinct(names);
        // The model is read and checked before any work.
        const auto model = model_file.empty() ? deblur::Model::default_model() : deblur::Model::from_file(model_file);
        deblur::Deblurrer deblurrer(model);
        xt::xtensor<float, 2> kernel;
        if (!kernel_file.empty()) kernel = deblur::io::read_kernel(kernel_file);
        deblur::remove_stale_temporaries(folder_of(output));
        for (const Output& o : others) deblur::remove_stale_temporaries(folder_of(o.file));
        deblur::remove_temporaries_on_signals();

        say("reading " + input.string());
        const auto image = deblur::io::read_image(input);
        say(std::to_string(image.info.width) + " x " + std::to_string(image.info.height) + ", " +
            std::to_string(image.pixels.shape(0)) + " channel(s), " + std::to_string(image.info.bit_depth) + " bit");
        check_kernel_size(options, image.info.width, image.info.height);

        deblur::Tensor<float> picture;
        deblur::Tensor<float> sharp;
        // Errors about the image itself (too small, ...) name the input file.
        const auto about_input = [&](auto&& work) {
            try {
                work();
            } catch (const std::invalid_argument& e) {
                throw std::invalid_argument(input.string() + ": " + e.what());
            }
        };
        if (!kernel_file.empty()) {
            about_input([&] {
                const double noise =
                    options.noise >= 0 ? options.noise : deblur::estimate_channel_noise_level(image.pixels);
                say("deconvolving with the given " + std::to_string(kernel.shape(0)) + " x " +
                    std::to_string(kernel.shape(1)) + " kernel");
                const deblur::Tensor<float> linear = deblur::io::apply_gamma(image.pixels, options.gamma);
                sharp = deblur::io::apply_gamma(
                    deblur::Tensor<float>(xt::clip(deblurrer.deconvolve(linear, kernel, deblur::DeconvOptions::for_noise(noise)),
                                                   0.0f, 1.0f)),
                    1 / options.gamma);
            });
        } else if (nonuniform) {
            about_input([&] {
                nonuniform_options.base = options;
                auto result = deblur::nonuniform_deblur(image.pixels, nonuniform_options, model);
                if (!result.warning.empty()) std::cerr << "deblur: warning: " << input.string() << ": " << result.warning << "\n";
                picture = kernel_field_picture(result.kernels, result.grid_rows, result.grid_cols);
                sharp = std::move(result.sharp);
            });
        } else {
            about_input([&] {
                auto result = deblurrer.deblur(image.pixels, options);
                if (!result.warning.empty()) std::cerr << "deblur: warning: " << input.string() << ": " << result.warning << "\n";
                kernel = result.kernel;
                sharp = std::move(result.sharp);
            });
        }
        if (!image.info.floating_point) sharp = xt::clip(sharp, 0.0f, 1.0f);
        const auto format = deblur::io::format_from_extension(output);
        std::string written = output.string();
        for (Output& o : others) {
            if (o.content == Content::kernel) {
                o.bytes = deblur::io::encode_kernel(kernel, o.file);
            } else {  // pictures, 8-bit where the format allows
                const auto picture_format = *deblur::io::format_from_extension(o.file);
                o.bytes = deblur::io::encode_image(o.content == Content::kernel_field ? picture : kernel_picture(kernel),
                                                   picture_format, deblur::io::default_sample_type(picture_format), o.file);
            }
            written += (&o == &others.back() ? " and " : ", ") + o.file.string();
        }
        write_outputs(output, deblur::io::encode_image(sharp, *format, output_sample_type(image.info, output), output),
                      others);
        say("wrote " + written);
        if (!wisdom_file.empty()) deblur::tools::save_fft_wisdom(wisdom_file, say);
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "deblur: " << e.what() << "\n";
        return 1;
    }
}
