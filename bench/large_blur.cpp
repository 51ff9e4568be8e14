// large_blur: blind deblurring of large camera shake (kernels 31-75 px) on
// colour photos of at least 640 px, the tool as a user runs it next to the
// IPOL 243 peer, in one run (issue "Large blur and no failures", item 5).
//
//   ./build/bench/large_blur                          # from the project root
//   ./build/bench/large_blur --photos 2 --sizes 31    # a quick check
//
// Data: --photos photos of ../shared/data/val/bsds500 (sorted by name, evenly
// spaced; never trained on), colour, upsampled (LinearResize, bilinear) so
// that the blurry image's short side is --size px: the sharp photo is
// (size + K - 1) px on its short side and is blurred 'valid', so the blurry
// image has no zero-padded border (as a real photo) and the truth is the
// sharp photo's centre crop. Photo i gets the kernel size --sizes[i % n].
//
// Kernels: CameraShakeSampler (the camera trajectory with in-plane rotation,
// not the training data's MotionKernelSampler GP), default translation 0.5
// and rotation 0.7, seed --seed + i. Its local kernel at the image corner
// where the blur reaches farthest is applied to the whole photo (a uniform
// blur, as the tool assumes): the sampler shrinks the trajectory until that
// corner's kernel just fits K x K, so the blur spans nearly the whole support,
// and the rotation's lever arm bends it unlike the training kernels.
//
// Blurry image: valid blur of each channel, Gaussian noise (--noise), clipped
// to [0, 1], written as a 16-bit PNG into --work, which every program reads.
// The clipped set (--clipped on) repeats each photo with highlights: the
// sharp photo scaled so that 2.5 % of its pixels exceed 1 (gain at most 3)
// plus 8 small bright discs (radius 3 px, value 4: street lights), blurred,
// noised, then clipped (saturation after the blur, as in a camera); its truth
// is the scaled sharp photo clipped to [0, 1].
//
// Methods, each run as a separate program, timed as the user sees it (wall
// seconds of the whole process: start, reading, model loading, writing):
//   - blurry: the blurry input itself;
//   - tool: `deblur IN OUT` with its defaults (the built deblur-cli);
//   - tool true k: `deblur --kernel TRUE.pfm IN OUT` (the tool's non-blind
//     deconvolution with the true kernel: what the blind part could reach);
//   - IPOL 243: `estimate-kernel K IN k.tif` given the true kernel size, then
//     `deconv IN k.tif OUT.tif` (its TV deconvolution); single-threaded.
//     Built into --ipol from ../shared/peers when missing.
// Score: PSNR over the three colour channels (their mean squared error)
// against the truth, after the best shift of the result (integer within
// +-max-shift px, then quarter pixels around it, bilinear; found on the
// luminance), on the interior K/2 + 10 px from each side. Kernel similarity
// (eval/kernel_similarity.hpp) of the tool's kernel (read back from its
// OUTPUT.kernel.png, 16-bit) and of IPOL's kernel with the true one; "extent" is
// the side of the bounding box of a kernel's taps above 5 % of its peak,
// "span" that of all its taps; "tool supports" are the kernel supports the
// tool tried, read from its progress lines (tool_supports).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <fstream>
#include <random>
#include <regex>
#include <string>
#include <vector>
#include <xtensor/xview.hpp>

#include <deblur/blur/blur.hpp>
#include <deblur/blur/camera_shake_sampler.hpp>
#include <deblur/blur/noise.hpp>
#include <deblur/eval/kernel_similarity.hpp>
#include <deblur/io/kernel_file.hpp>
#include <deblur/io/read_image.hpp>
#include <deblur/io/write_image.hpp>
#include <deblur/net/linear_resize.hpp>

#ifndef DEBLUR_TOOL
#define DEBLUR_TOOL "build/examples/deblur"
#endif

namespace {

namespace fs = std::filesystem;
using Image = deblur::Tensor<float>;  // C x H x W
using Plane = xt::xtensor<float, 2>;
using Kernel = xt::xtensor<float, 2>;
constexpr double nan = std::numeric_limits<double>::quiet_NaN();

Plane luminance(const Image& x) {
    return 0.299f * xt::view(x, 0, xt::all(), xt::all()) + 0.587f * xt::view(x, 1, xt::all(), xt::all()) +
           0.114f * xt::view(x, 2, xt::all(), xt::all());
}

// Sum of squared differences of `estimate` moved by (dr, dc) (bilinear) against
// `truth` on the interior `border` px from each side, over the planes given.
double shifted_ssd(const Image& estimate, const Image& truth, double dr, double dc, int border) {
    const int h = int(truth.shape(1)), w = int(truth.shape(2));
    const int r0 = int(std::floor(dr)), c0 = int(std::floor(dc));
    const double fr = dr - r0, fc = dc - c0;
    const double w00 = (1 - fr) * (1 - fc), w01 = (1 - fr) * fc, w10 = fr * (1 - fc), w11 = fr * fc;
    double ssd = 0;
    for (std::size_t ch = 0; ch < truth.shape(0); ++ch)
        for (int r = border; r < h - border; ++r)
            for (int c = border; c < w - border; ++c) {
                const int rr = r + r0, cc = c + c0;
                const double v = w00 * estimate(ch, rr, cc) + w01 * estimate(ch, rr, cc + 1) +
                                 w10 * estimate(ch, rr + 1, cc) + w11 * estimate(ch, rr + 1, cc + 1);
                const double d = v - truth(ch, r, c);
                ssd += d * d;
            }
    return ssd;
}

struct Score {
    double psnr = nan, dr = 0, dc = 0;
};

// PSNR after the best shift: integer steps first (cheap), then quarter pixels
// within +-0.75 px of the best, both on the luminance; the PSNR is on RGB.
Score aligned_psnr(const Image& estimate, const Image& truth, int max_shift, int border) {
    if (estimate.shape() != truth.shape()) return {};
    Image ye = Image::from_shape({1, truth.shape(1), truth.shape(2)}), yt = ye;
    xt::view(ye, 0, xt::all(), xt::all()) = luminance(estimate);
    xt::view(yt, 0, xt::all(), xt::all()) = luminance(truth);
    Score best;
    double lowest = std::numeric_limits<double>::infinity();
    const auto consider = [&](double dr, double dc) {
        const double ssd = shifted_ssd(ye, yt, dr, dc, border);
        if (ssd < lowest) lowest = ssd, best.dr = dr, best.dc = dc;
    };
    for (int dr = -max_shift; dr <= max_shift; ++dr)
        for (int dc = -max_shift; dc <= max_shift; ++dc) consider(dr, dc);
    const double r0 = best.dr, c0 = best.dc;
    for (int i = -3; i <= 3; ++i)
        for (int j = -3; j <= 3; ++j)
            if (std::abs(r0 + i / 4.0) <= max_shift && std::abs(c0 + j / 4.0) <= max_shift) consider(r0 + i / 4.0, c0 + j / 4.0);
    const double pixels = 3.0 * double(truth.shape(1) - 2 * border) * double(truth.shape(2) - 2 * border);
    best.psnr = 10 * std::log10(pixels / shifted_ssd(estimate, truth, best.dr, best.dc, border));
    return best;
}

// Side of the bounding box of the taps above `fraction` of the peak (5 %: the
// visible blur, as the tool's pruning; 0: all of the trajectory).
int extent(const Kernel& k, float fraction = 0.05f) {
    const float peak = xt::amax(k)();
    int r_lo = int(k.shape(0)), r_hi = -1, c_lo = int(k.shape(1)), c_hi = -1;
    for (int r = 0; r < int(k.shape(0)); ++r)
        for (int c = 0; c < int(k.shape(1)); ++c)
            if (k(r, c) > fraction * peak) r_lo = std::min(r_lo, r), r_hi = std::max(r_hi, r), c_lo = std::min(c_lo, c), c_hi = std::max(c_hi, c);
    return r_hi < 0 ? 0 : std::max(r_hi - r_lo, c_hi - c_lo) + 1;
}

// The kernel supports the tool tried, from its progress lines: the network's
// (its "estimating the kernel ... (N px support)" lines), then the support
// ladder's comparisons ("kernels on A and B px supports: similarity S[, the
// larger fills its support]") as A-B:S, 'f' when the larger filled its
// support, and "unreliable" when no two agreed (the photo returned
// unchanged), e.g. "17 / 35-53:0.69f 53-79:0.92".
std::string tool_supports(const fs::path& log) {
    std::ifstream in(log);
    const std::regex network(R"(estimating the kernel at \d+ x \d+ \((\d+) px support\))"),
        pair(R"(kernels on (\d+) and (\d+) px supports: similarity (\d\.\d\d))"), fills(R"(the larger fills its support)"),
        unreliable(R"(could not be estimated reliably)");
    std::string nets, ladder, line;
    std::smatch m;
    while (std::getline(in, line)) {
        if (std::regex_search(line, m, network)) nets += (nets.empty() ? "" : ",") + m[1].str();
        if (std::regex_search(line, m, pair))
            ladder += (ladder.empty() ? "" : " ") + m[1].str() + "-" + m[2].str() + ":" + m[3].str() +
                      (std::regex_search(line, fills) ? "f" : "");
        if (std::regex_search(line, unreliable)) ladder += " unreliable";
    }
    return nets + " / " + ladder;
}

// A command's wall seconds, or NaN when it fails (its output is in `log`).
double run(const std::string& command, const fs::path& log) {
    const auto start = std::chrono::steady_clock::now();
    const int status = std::system((command + " >'" + log.string() + "' 2>&1").c_str());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return status == 0 ? seconds : nan;
}

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

// The sharp photo, colour, upsampled so that its short side is `short_side`.
Image load_photo(const fs::path& file, std::size_t short_side) {
    Image x = deblur::io::read_image(file).pixels;
    if (x.shape(0) == 1) x = xt::concatenate(xt::xtuple(x, x, x), 0);
    const double scale = double(short_side) / double(std::min(x.shape(1), x.shape(2)));
    const auto rows = std::size_t(std::lround(double(x.shape(1)) * scale));
    const auto cols = std::size_t(std::lround(double(x.shape(2)) * scale));
    Image out;
    deblur::LinearResize<float>(x.shape(1), x.shape(2), rows, cols).apply(x, out);
    return xt::clip(out, 0.0f, 1.0f);
}

// The local kernel of the trajectory at the image corner where it spans the most.
Kernel corner_kernel(const deblur::CameraShakeSampler::Trajectory& t, std::size_t rows, std::size_t cols, int K) {
    Kernel best;
    for (const double r : {0.0, double(rows - 1)})
        for (const double c : {0.0, double(cols - 1)}) {
            Kernel k = deblur::CameraShakeSampler::kernel_at<float>(t, r, c, K);
            if (best.size() == 0 || extent(k) > extent(best)) best = k;
        }
    return best;
}

// Highlights (the clipped set): a gain that puts 2.5 % of the pixels above 1
// (at most 3), and `lights` bright discs of radius 3 px at seeded places.
Image with_highlights(const Image& sharp, std::mt19937_64& rng, int lights = 8) {
    std::vector<float> brightest(sharp.shape(1) * sharp.shape(2));
    for (std::size_t p = 0; p < brightest.size(); ++p)
        brightest[p] = std::max({sharp.data()[p], sharp.data()[brightest.size() + p], sharp.data()[2 * brightest.size() + p]});
    auto q = brightest.begin() + std::ptrdiff_t(0.975 * double(brightest.size()));
    std::nth_element(brightest.begin(), q, brightest.end());
    const float gain = std::clamp(1.0f / std::max(*q, 1e-3f), 1.0f, 3.0f);
    Image out = sharp * gain;
    std::uniform_int_distribution<int> row(20, int(sharp.shape(1)) - 21), col(20, int(sharp.shape(2)) - 21);
    for (int l = 0; l < lights; ++l) {
        const int r0 = row(rng), c0 = col(rng);
        for (int r = -3; r <= 3; ++r)
            for (int c = -3; c <= 3; ++c)
                if (r * r + c * c <= 9)
                    for (std::size_t ch = 0; ch < 3; ++ch) out(ch, std::size_t(r0 + r), std::size_t(c0 + c)) = 4.0f;
    }
    return out;
}

struct Row {
    std::string photo;
    std::string supports;
    int K = 0, true_span = 0, true_extent = 0, tool_size = 0, tool_extent = 0, ipol_extent = 0;
    double clipped_fraction = 0;
    Score blurry, tool, truek, ipol;
    double tool_s = nan, truek_s = nan, ipol_s = nan, tool_sim = nan, ipol_sim = nan;
};

std::string cell(double v, const char* format = "%.2f") {
    if (!std::isfinite(v)) return "fail";
    char s[32];
    std::snprintf(s, sizeof s, format, v);
    return s;
}

void print_rows(const std::vector<Row>& rows, bool ipol, int max_shift) {
    std::printf("| photo | K | true kernel: span / extent | clipped px | blurry | tool (gain) | tool true k (gain) | IPOL 243 (gain) | "
                "tool kernel: size / extent / similarity | tool supports: network / ladder | IPOL kernel: extent / similarity | "
                "s: tool / true k / IPOL |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    const auto with_gain = [&](const Score& s, double blurry) {
        if (!std::isfinite(s.psnr)) return std::string("fail");
        // '*': the best shift is at the search limit (the result may be shifted farther).
        const bool edge = std::abs(s.dr) >= max_shift || std::abs(s.dc) >= max_shift;
        return cell(s.psnr) + " (" + cell(s.psnr - blurry, "%+.2f") + ")" + (edge ? "*" : "");
    };
    for (const Row& r : rows) {
        std::printf("| %s | %d | %d / %d | %s %% | %.2f | %s | %s | %s | %d / %d / %s | %s | %s | %s / %s / %s |\n", r.photo.c_str(),
                    r.K, r.true_span, r.true_extent, cell(100 * r.clipped_fraction, "%.1f").c_str(), r.blurry.psnr,
                    with_gain(r.tool, r.blurry.psnr).c_str(), with_gain(r.truek, r.blurry.psnr).c_str(),
                    ipol ? with_gain(r.ipol, r.blurry.psnr).c_str() : "n/a", r.tool_size, r.tool_extent,
                    cell(r.tool_sim, "%.3f").c_str(), r.supports.c_str(),
                    ipol ? (std::to_string(r.ipol_extent) + " / " + cell(r.ipol_sim, "%.3f")).c_str() : "n/a",
                    cell(r.tool_s, "%.1f").c_str(), cell(r.truek_s, "%.1f").c_str(), ipol ? cell(r.ipol_s, "%.1f").c_str() : "n/a");
    }
    std::printf("\n");
}

void print_summary(const std::vector<Row>& rows, bool ipol) {
    struct Method {
        const char* name;
        Score Row::*score;
        double Row::*seconds;
    };
    std::vector<Method> methods{{"tool", &Row::tool, &Row::tool_s}, {"tool, true kernel", &Row::truek, &Row::truek_s}};
    if (ipol) methods.push_back({"IPOL 243 (true size)", &Row::ipol, &Row::ipol_s});
    double blurry = 0;
    for (const Row& r : rows) blurry += r.blurry.psnr;
    std::printf("| method | photos | mean PSNR (dB) | mean gain over blurry (dB) | min gain (dB) | worse than blurry | "
                "failed runs | mean s / photo |\n|---|---|---|---|---|---|---|---|\n");
    std::printf("| blurry input | %zu | %.2f | 0 | | | | |\n", rows.size(), blurry / double(rows.size()));
    for (const auto& m : methods) {
        int n = 0, worse = 0, failed = 0;
        double psnr = 0, gain = 0, low = std::numeric_limits<double>::infinity(), seconds = 0;
        for (const Row& r : rows) {
            const double p = (r.*m.score).psnr;
            if (!std::isfinite(p) || !std::isfinite(r.*m.seconds)) {
                ++failed;  // a failed run counts as no gain and as worse than the input
                ++worse;
                low = std::min(low, 0.0);
                continue;
            }
            ++n;
            psnr += p;
            gain += p - r.blurry.psnr;
            low = std::min(low, p - r.blurry.psnr);
            worse += p < r.blurry.psnr;
            seconds += r.*m.seconds;
        }
        const double all = double(rows.size());  // failures count as 0 dB gain
        std::printf("| %s | %d | %s | %+.2f | %+.2f | %d | %d | %s |\n", m.name, n, cell(psnr / n).c_str(), gain / all, low, worse,
                    failed, cell(seconds / n, "%.1f").c_str());
    }
    if (ipol) {
        double d = 0;
        int n = 0, below = 0;
        for (const Row& r : rows)
            if (std::isfinite(r.tool.psnr) && std::isfinite(r.ipol.psnr)) d += r.tool.psnr - r.ipol.psnr, ++n, below += r.tool.psnr < r.ipol.psnr;
        if (n > 0) std::printf("\ntool minus IPOL 243: %+.2f dB on average over %d photos; the tool below IPOL on %d\n", d / n, n, below);
    }
    // Per kernel size: mean gains.
    std::map<int, std::vector<const Row*>> by_size;
    for (const Row& r : rows) by_size[r.K].push_back(&r);
    std::printf("\n| K (px) | photos | tool gain | tool true k gain | IPOL gain | tool kernel extent (true) |\n|---|---|---|---|---|---|\n");
    for (const auto& [K, rs] : by_size) {
        double g[3] = {0, 0, 0}, ext = 0, true_ext = 0;
        for (const Row* r : rs) {
            const Score* s[3] = {&r->tool, &r->truek, &r->ipol};
            for (int i = 0; i < 3; ++i) g[i] += std::isfinite(s[i]->psnr) ? s[i]->psnr - r->blurry.psnr : 0;
            ext += r->tool_extent;
            true_ext += r->true_extent;
        }
        const double n = double(rs.size());
        std::printf("| %d | %zu | %+.2f | %+.2f | %s | %.0f (%.0f) |\n", K, rs.size(), g[0] / n, g[1] / n,
                    ipol ? cell(g[2] / n, "%+.2f").c_str() : "n/a", ext / n, true_ext / n);
    }
    std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Large blur (31-75 px): the deblur tool vs IPOL 243 on upsampled colour photos, PSNR and seconds"};
    fs::path data = "../shared/data/val/bsds500", work = "/tmp/large-blur", tool = DEBLUR_TOOL, ipol_dir = "/tmp/ipol243-build",
             peers = "../shared/peers";
    std::size_t photos = 12, size = 640;
    std::vector<int> sizes{31, 43, 55, 75};
    double noise = 0.01, translation = 0.5, rotation = 0.7;
    std::uint64_t seed = 1;
    int max_shift = 12;
    bool clipped = true, use_ipol = true;
    app.add_option("--data", data, "Folder of the photos")->capture_default_str();
    app.add_option("--photos", photos, "Photos used (evenly spaced over the sorted folder)")->capture_default_str();
    app.add_option("--size", size, "Short side of the blurry photo (px)")->capture_default_str();
    app.add_option("--sizes", sizes, "Kernel sizes (odd px), one per photo in turn")->capture_default_str();
    app.add_option("--noise", noise, "Gaussian noise standard deviation")->capture_default_str();
    app.add_option("--translation", translation, "Trajectory translation scale (CameraShakeOptions)")->capture_default_str();
    app.add_option("--rotation", rotation, "Trajectory rotation scale (CameraShakeOptions)")->capture_default_str();
    app.add_option("--seed", seed, "Seed (photo i uses seed + i)")->capture_default_str();
    app.add_option("--max-shift", max_shift, "Largest alignment shift (px) before the PSNR")->capture_default_str();
    app.add_option("--clipped", clipped, "Also the set with clipped highlights")->capture_default_str();
    app.add_option("--work", work, "Folder for the blurry PNGs, kernels and results")->capture_default_str();
    app.add_option("--tool", tool, "The deblur program")->capture_default_str();
    app.add_option("--ipol", ipol_dir, "IPOL 243 build folder (built there from --peers when missing)")->capture_default_str();
    app.add_option("--peers", peers, "The peers folder (build_ipol243.sh, ipol243/)")->capture_default_str();
    app.add_flag("!--no-ipol", use_ipol, "Skip IPOL 243");
    CLI11_PARSE(app, argc, argv);
    for (int K : sizes)
        if (K < 5 || K % 2 == 0) {
            std::fprintf(stderr, "large_blur: --sizes: %d is not an odd size of at least 5\n", K);
            return 1;
        }
    try {
        fs::create_directories(work);
        std::vector<fs::path> files;
        for (const auto& e : fs::directory_iterator(data))
            if (e.path().extension() == ".jpg" || e.path().extension() == ".png") files.push_back(e.path());
        std::sort(files.begin(), files.end());
        if (files.empty() || photos == 0) throw std::runtime_error("no photos in " + data.string());
        photos = std::min(photos, files.size());
        if (!fs::exists(tool)) throw std::runtime_error("no deblur program at " + tool.string() + " (--tool)");

        // IPOL 243: build it when missing; "n/a" with the reason when that fails.
        std::string ipol_reason = use_ipol ? "" : "--no-ipol";
        const fs::path estimate_kernel = ipol_dir / "estimate-kernel", deconv = ipol_dir / "deconv";
        if (use_ipol && !(fs::exists(estimate_kernel) && fs::exists(deconv))) {
            std::fprintf(stderr, "building IPOL 243 into %s\n", ipol_dir.c_str());
            if (!std::isfinite(run(quoted(peers / "build_ipol243.sh") + " " + quoted(peers / "ipol243") + " " + quoted(ipol_dir),
                                   work / "ipol-build.log")))
                ipol_reason = "its build failed, see " + (work / "ipol-build.log").string();
        }
        const bool ipol = ipol_reason.empty();

        const auto started = std::chrono::steady_clock::now();
        deblur::CameraShakeOptions shake;
        shake.translation = translation;
        shake.rotation = rotation;
        const deblur::CameraShakeSampler sampler(shake);
        std::vector<Row> normal_rows, clipped_rows;
        for (std::size_t i = 0; i < photos; ++i) {
            const fs::path file = files[i * files.size() / photos];
            const int K = sizes[i % sizes.size()];
            const std::size_t k = std::size_t(K);
            const Image photo = load_photo(file, size + k - 1);
            std::mt19937_64 rng(seed + i);
            const auto trajectory = sampler.sample(photo.shape(1), photo.shape(2), K, rng);
            const Kernel kernel = corner_kernel(trajectory, photo.shape(1), photo.shape(2), K);
            const fs::path kernel_file = work / (file.stem().string() + "-true-kernel.pfm");
            Image kernel_image = Image::from_shape({1, k, k});
            xt::view(kernel_image, 0, xt::all(), xt::all()) = kernel;
            deblur::io::write_image(kernel_file, kernel_image);
            deblur::io::write_image(work / (file.stem().string() + "-true-kernel.png"), Image(kernel_image / xt::amax(kernel)()));  // to look at

            for (const bool highlights : {false, true}) {
                if (highlights && !clipped) continue;
                Image sharp = highlights ? with_highlights(photo, rng) : photo;
                Image blurry = deblur::blur(sharp, kernel, deblur::BlurMode::valid);
                deblur::add_gaussian_noise(blurry, noise, rng);
                blurry = xt::clip(blurry, 0.0f, 1.0f);
                const std::size_t h = blurry.shape(1), w = blurry.shape(2);
                const Image truth = xt::clip(xt::view(sharp, xt::all(), xt::range(k / 2, k / 2 + h), xt::range(k / 2, k / 2 + w)), 0.0f, 1.0f);

                const std::string stem = file.stem().string() + (highlights ? "-clipped" : "");
                const fs::path input = work / (stem + "-blurry.png");
                deblur::io::write_image(input, blurry, deblur::io::SampleType::uint16);
                const Image stored = deblur::io::read_image(input).pixels;  // what the programs read
                const int border = std::max(K / 2 + 10, max_shift + 2);  // clear of the frame's ringing and the shifts
                Row row;
                row.photo = file.filename().string();
                row.K = K;
                row.true_extent = extent(kernel);
                row.true_span = extent(kernel, 0);
                row.clipped_fraction = double(xt::sum(xt::cast<double>(xt::amax(stored, {0}) >= 1.0f))()) / double(h * w);
                row.blurry = aligned_psnr(stored, truth, max_shift, border);
                const auto score = [&](const fs::path& result, double scale = 1) {
                    try {
                        return aligned_psnr(Image(deblur::io::read_image(result).pixels * float(scale)), truth, max_shift, border);
                    } catch (const std::exception&) {
                        return Score{};  // missing or unreadable: a failed run
                    }
                };

                const fs::path out = work / (stem + "-tool.png"), out_true = work / (stem + "-tool-true-k.png");
                row.tool_s = run(quoted(tool) + " " + quoted(input) + " " + quoted(out), work / (stem + "-tool.log"));
                if (std::isfinite(row.tool_s)) {
                    row.tool = score(out);
                    try {
                        const Kernel estimate = deblur::io::read_kernel(fs::path(out).replace_extension(".kernel.png"));
                        row.tool_size = int(estimate.shape(0));
                        row.tool_extent = extent(estimate);
                        row.tool_sim = deblur::kernel_similarity(estimate, kernel);
                    } catch (const deblur::io::ImageError&) {
                        // missing or unreadable: no kernel figures for this row
                    }
                    row.supports = tool_supports(work / (stem + "-tool.log"));
                }
                row.truek_s = run(quoted(tool) + " --kernel " + quoted(kernel_file) + " " + quoted(input) + " " + quoted(out_true),
                                  work / (stem + "-tool-true-k.log"));
                if (std::isfinite(row.truek_s)) row.truek = score(out_true);
                if (ipol) {
                    const fs::path k_est = work / (stem + "-ipol-kernel.tif"), out_ipol = work / (stem + "-ipol.tif");
                    row.ipol_s = run(quoted(estimate_kernel) + " " + std::to_string(K) + " " + quoted(input) + " " + quoted(k_est) +
                                         " && " + quoted(deconv) + " " + quoted(input) + " " + quoted(k_est) + " " + quoted(out_ipol),
                                     work / (stem + "-ipol.log"));
                    if (std::isfinite(row.ipol_s)) {
                        // Its float TIFF keeps the input's range as its reader saw it: 16-bit PNG values 0..65535.
                        row.ipol = score(out_ipol, 1.0 / 65535);
                        const Image k_ipol = deblur::io::read_image(k_est).pixels;
                        const Kernel k2 = xt::view(k_ipol, 0, xt::all(), xt::all());
                        row.ipol_extent = extent(k2);
                        if (xt::amax(k2)() > 0) row.ipol_sim = deblur::kernel_similarity(k2, kernel);
                    }
                }
                (highlights ? clipped_rows : normal_rows).push_back(row);
                std::fprintf(stderr, "%s K %d: blurry %.2f, tool %.2f (%.1f s), true k %.2f, IPOL %.2f (%.1f s)\n", stem.c_str(), K,
                             row.blurry.psnr, row.tool.psnr, row.tool_s, row.truek.psnr, row.ipol.psnr, row.ipol_s);
            }
        }
        const double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() / 60;

        std::printf("Large blur: %zu photos of %s, blurry short side %zu px (upsampled), kernels", photos, data.c_str(), size);
        for (int K : sizes) std::printf(" %d", K);
        std::printf(" px (CameraShakeSampler corner kernel, translation %.2f, rotation %.2f, seed %llu), noise %.3f; "
                    "PSNR on RGB after the best shift (+-%d px, 0.25 px), border K/2 + 10; %.1f min\n",
                    translation, rotation, static_cast<unsigned long long>(seed), noise, max_shift, minutes);
        if (!ipol) std::printf("IPOL 243: n/a (%s)\n", ipol_reason.c_str());
        std::printf("\n## Without saturation\n\n");
        print_rows(normal_rows, ipol, max_shift);
        print_summary(normal_rows, ipol);
        if (clipped) {
            std::printf("## Clipped highlights (gain to 2.5 %% above 1, 8 lights, clipped after the blur)\n\n");
            print_rows(clipped_rows, ipol, max_shift);
            print_summary(clipped_rows, ipol);
        }
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "large_blur: %s\n", e.what());
        return 1;
    }
}
