#pragma once
// Fuzzing every file reader of the library (PNG, JPEG, TIFF, PFM, model
// files, training checkpoints) with mutated seed files (mutator.hpp,
// seeds.hpp). The contract under test: each input either decodes into a
// consistent result or is refused with the reader's documented error
// (io::ImageError, ModelError); anything else is a failure: another
// exception, an inconsistent image, an input slower than the time limit or
// one that raises the process's peak memory above the memory limit (a header
// claiming a huge image must be refused before the pixels are allocated).
// Crashes and sanitizer reports end the process: the caller saves the input
// first (bench/fuzz.cpp). Used by bench/fuzz.cpp and tests/test_fuzz.cpp.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include <deblur/io/read_image.hpp>
#include <deblur/io/write_image.hpp>
#include <deblur/net/default_network.hpp>
#include <deblur/net/model_error.hpp>
#include <deblur/net/model_file.hpp>
#include <deblur/train/checkpoint_file.hpp>

#include "../temp_dir.hpp"
#include "mutator.hpp"
#include "seeds.hpp"

namespace deblur::fuzz {

// The files one read takes: an image or model file, or a checkpoint's two.
using Input = std::vector<Bytes>;

enum class Outcome { decoded, refused };

struct ReadResult {
    ReadResult(Outcome o = Outcome::refused, std::uint64_t n = 0) : outcome(o), samples(n) {}
    Outcome outcome;
    std::uint64_t samples;  // a decoded image's size: a big image may take longer
};

// A decoded result that breaks the reader's own promises.
class ContractViolation : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

struct Reader {
    std::string name;
    std::vector<std::string> suffixes;  // the file name ending of each part of an input, to save it
    std::vector<Input> seeds;           // valid files: each must decode
    std::vector<Input> huge;            // headers claiming huge sizes: each must be refused
    // Optional, after each mutation: e.g. recompute a checksum so that the damage reaches the parser.
    std::function<void(Input&, Mutator&)> fix_up;
    // Reads one input; throws only what is not the reader's documented error.
    std::function<ReadResult(const Input&)> read;
    std::shared_ptr<test::TempDir> dir;  // where model and checkpoint inputs are written to be read
};

inline void write_bytes(const std::filesystem::path& file, const Bytes& b) {
    // A new file each time: ext4 flushes a file truncated and rewritten on
    // close, which would make every input wait for the disk.
    std::filesystem::remove(file);
    std::ofstream out(file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    if (!out) throw std::runtime_error("fuzz: cannot write " + file.string());
}

inline Bytes read_bytes(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// What read_image promises about a decoded image.
inline void check_image(const io::Image& image) {
    const auto& info = image.info;
    const auto& p = image.pixels;
    if (info.channels < 1 || info.channels > 4 || info.height == 0 || info.width == 0)
        throw ContractViolation("decoded an image of " + std::to_string(info.channels) + " x " +
                                std::to_string(info.height) + " x " + std::to_string(info.width));
    if (p.shape(0) != info.channels || p.shape(1) != info.height || p.shape(2) != info.width)
        throw ContractViolation("the pixels' shape does not match the image info");
    if (info.has_alpha != (info.channels == 2 || info.channels == 4))
        throw ContractViolation("has_alpha does not match the channel count");
    for (float v : p)
        if (!std::isfinite(v) || (!info.floating_point && (v < 0.0f || v > 1.0f)))
            throw ContractViolation("decoded a sample " + std::to_string(v) + " outside the promised range");
}

inline ReadResult read_image_input(const Input& in, const char* name) {
    io::Image image;
    try {
        image = io::decode_image(in[0], name, io::Alpha::keep);
    } catch (const io::ImageError&) {
        return Outcome::refused;
    }
    check_image(image);
    return {Outcome::decoded, image.pixels.size()};
}

inline Reader image_reader(std::string name, std::vector<Bytes> seeds, std::vector<Bytes> huge) {
    Reader r;
    r.suffixes = {"." + name};
    for (auto& s : seeds) r.seeds.push_back({std::move(s)});
    for (auto& h : huge) r.huge.push_back({std::move(h)});
    r.read = [file = "fuzz-input." + name](const Input& in) { return read_image_input(in, file.c_str()); };
    r.name = std::move(name);
    return r;
}

inline Reader png_reader() {
    Reader r = image_reader("png", png_seeds(),
                            {png_claiming(0x7FFFFFFF, 1), png_claiming(1, 0x7FFFFFFF), png_claiming(0xFFFFFFFF, 0xFFFFFFFF),
                             png_claiming(1000000, 1000000), png_claiming(65536, 65536), png_claiming(32768, 32768)});
    // libpng checks each chunk's CRC: half the mutants get theirs fixed.
    r.fix_up = [](Input& in, Mutator& m) {
        if (m.one_in(2)) fix_png_crcs(in[0]);
    };
    return r;
}

inline Reader jpeg_reader() {
    return image_reader("jpeg", jpeg_seeds(),
                        {jpeg_claiming(65535, 65535), jpeg_claiming(65500, 65500), jpeg_claiming(65500, 16000),
                         jpeg_claiming(1, 65500), jpeg_claiming(0, 16)});
}

inline Reader tiff_reader() {
    const auto seeds = tiff_seeds();
    std::vector<Bytes> huge;
    // Strips (the library's own writer), big-endian tiles, libtiff's RGBA reader (palette).
    for (const Bytes& s : {seeds[0], seeds[4], seeds[8]})
        for (auto [w, h] : {std::pair<std::uint32_t, std::uint32_t>{0xFFFFFFFF, 0xFFFFFFFF}, {1u << 20, 1u << 20},
                            {32768, 32768}, {16384, 16384}, {1, 0x7FFFFFFF}})
            huge.push_back(tiff_claiming(s, w, h));
    // Many samples per pixel: the stored image is huge, the decoded one is not.
    huge.push_back(tiff_with_tag(tiff_claiming(seeds[8], 64013, 10), TIFFTAG_SAMPLESPERPIXEL, 8193));
    huge.push_back(tiff_with_tag(seeds[0], TIFFTAG_SAMPLESPERPIXEL, 65535));
    return image_reader("tiff", seeds, huge);
}

inline Reader pfm_reader() {
    std::vector<Bytes> huge;
    for (const char* header : {"Pf\n32768 32768\n-1\n", "PF\n32768 32768\n-1\n", "Pf\n1073741824 1\n-1\n",
                               "Pf\n4294967296 4294967296\n-1\n", "PF\n18446744073709551615 18446744073709551615\n-1\n",
                               "Pf\n18446744073709551616 1\n-1\n"}) {
        Bytes b = text_bytes(header);
        b.resize(b.size() + 64, 0x3F);
        huge.push_back(b);
    }
    return image_reader("pfm", pfm_seeds(), huge);
}

// A small network of two stages (the model file's metadata then says which run).
template <int K>
using FuzzStage = Stage<Chain<Conv<2, 3>, Tanh<>, Recombine<2>>, Quotient<K>, ImageQuotient<>>;
using FuzzNet = MultiScale<Scale<5, FuzzStage<5>, FuzzStage<5>>>;

inline constexpr std::size_t checkpoint_optimiser_size = 24;

// The offsets of a model file's length fields, for the huge headers.
struct ModelLayout {
    std::size_t architecture_length = 12, metadata_length, block_count, first_block_size;
};
inline ModelLayout model_layout(const Bytes& b) {
    ModelLayout l;
    std::uint32_t n = 0;
    std::memcpy(&n, b.data() + 12, 4);
    l.metadata_length = 16 + n;
    std::memcpy(&n, b.data() + l.metadata_length, 4);
    l.block_count = l.metadata_length + 4 + n;
    l.first_block_size = l.block_count + 4;
    return l;
}

inline std::vector<Bytes> huge_model_headers(const Bytes& model) {
    const ModelLayout l = model_layout(model);
    return {with_field(model, l.architecture_length, 0xFFFFFFFF, 4), with_field(model, l.metadata_length, 0x7FFFFFFF, 4),
            with_field(model, l.block_count, 0xFFFFFFFF, 4), with_field(model, l.first_block_size, std::uint64_t{1} << 62, 8),
            with_field(model, l.first_block_size, 0xFFFFFFFFFFFFFFFF, 8)};
}

// Half the mutants of a model or optimiser file get a valid checksum.
inline void fix_checksum(Bytes& file, Mutator& m) {
    if (m.one_in(2)) fix_fnv_checksum(file);
}

inline Reader model_reader() {
    Reader r;
    r.name = "model";
    r.suffixes = {".dbm"};
    r.dir = std::make_shared<test::TempDir>("deblur-fuzz");
    const auto file = r.dir->path / "model.dbm";
    FuzzNet net(1);
    save_model(net, file, {{"noise", "0.01"}, {"trained_scales", "1"}, {"active_stages", "1"}});
    r.seeds.push_back({read_bytes(file)});
    save_model(net, file);
    r.seeds.push_back({read_bytes(file)});
    for (auto& h : huge_model_headers(r.seeds[0][0])) r.huge.push_back({std::move(h)});
    r.fix_up = [](Input& in, Mutator& m) { fix_checksum(in[0], m); };
    // One network for all inputs: a load reads only its structure before it succeeds.
    r.read = [file, net = std::make_shared<FuzzNet>(2)](const Input& in) {
        write_bytes(file, in[0]);
        try {
            load_model(*net, file);
        } catch (const ModelError&) {
            return Outcome::refused;
        }
        return Outcome::decoded;
    };
    return r;
}

// A checkpoint is read through train::load_checkpoint_files (the trainers'
// loader), whatever the optimiser file's format is.
inline Reader checkpoint_reader() {
    Reader r;
    r.name = "checkpoint";
    r.suffixes = {".dbm", ".dbm.opt"};
    r.dir = std::make_shared<test::TempDir>("deblur-fuzz");
    const auto file = r.dir->path / "checkpoint.dbm", opt = r.dir->path / "checkpoint.dbm.opt";
    FuzzNet net(1);
    std::vector<double> state(checkpoint_optimiser_size);
    for (std::size_t i = 0; i < state.size(); ++i) state[i] = 0.25 * static_cast<double>(i);
    train::save_checkpoint_files(net, file, {{"trained_scales", "1"}, {"active_stages", "2"}}, 0, 1234, 0.125, state);
    r.seeds.push_back({read_bytes(file), read_bytes(opt)});
    const Bytes model = r.seeds[0][0], optimiser = r.seeds[0][1];
    for (auto& h : huge_model_headers(model)) r.huge.push_back({std::move(h), optimiser});
    // The optimiser file's value count (after the 10-byte magic and the step).
    for (std::uint64_t n : {std::uint64_t{1} << 61, ~std::uint64_t{0}}) r.huge.push_back({model, with_field(optimiser, 18, n, 8)});
    r.fix_up = [](Input& in, Mutator& m) {
        fix_checksum(in[0], m);
        fix_checksum(in[1], m);
    };
    r.read = [file, opt, net = std::make_shared<FuzzNet>(2)](const Input& in) {
        write_bytes(file, in[0]);
        write_bytes(opt, in[1]);
        try {
            train::load_checkpoint_files(*net, file, 0, checkpoint_optimiser_size);
        } catch (const ModelError&) {
            return Outcome::refused;
        }
        return Outcome::decoded;
    };
    return r;
}

inline const std::vector<std::string>& reader_names() {
    static const std::vector<std::string> names = {"png", "jpeg", "tiff", "pfm", "model", "checkpoint"};
    return names;
}

inline Reader make_reader(const std::string& name) {
    if (name == "png") return png_reader();
    if (name == "jpeg") return jpeg_reader();
    if (name == "tiff") return tiff_reader();
    if (name == "pfm") return pfm_reader();
    if (name == "model") return model_reader();
    if (name == "checkpoint") return checkpoint_reader();
    throw std::invalid_argument("no reader named '" + name + "'");
}

// --- The run ---------------------------------------------------------------------

struct Limits {
    // Per input, and per 10^7 samples of a bigger decoded image (a small file
    // may hold a big image, and decoding it is work, not a hang).
    double seconds_per_input = 1.0;
    // The process's peak resident memory, plus 16 bytes per sample of a decoded
    // image (its file, decoded samples and floats).
    double memory_mb = 1024;
};

struct Stats {
    std::size_t inputs = 0, decoded = 0, refused = 0, failures = 0;
    std::size_t huge = 0, huge_refused = 0;
    double seconds = 0, slowest_ms = 0;
    std::size_t slowest_index = 0;
    std::string first_failure;
};

inline double peak_memory_mb() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

// Input `index` of a run, in order: the seeds, the huge headers, then mutants.
// Inputs depend on (seed, reader) and the index only through one random stream.
class InputSource {
public:
    InputSource(const Reader& r, std::uint64_t seed)
        : reader_(r),
          mutator_(seed ^ deblur::detail::fnv1a(reinterpret_cast<const unsigned char*>(r.name.data()), r.name.size())) {}

    Input next() {
        const std::size_t i = count_++;
        if (i < reader_.seeds.size()) return reader_.seeds[i];
        if (i < reader_.seeds.size() + reader_.huge.size()) return reader_.huge[i - reader_.seeds.size()];
        Input in = reader_.seeds[mutator_.below(reader_.seeds.size())];
        const Input& other = reader_.seeds[mutator_.below(reader_.seeds.size())];
        // One part of a two-file input is damaged, sometimes both.
        const std::size_t part = mutator_.below(in.size());
        in[part] = mutator_.mutate(in[part], other[part]);
        if (in.size() > 1 && mutator_.one_in(8)) {
            const std::size_t second = (part + 1) % in.size();
            in[second] = mutator_.mutate(in[second], other[second]);
        }
        if (reader_.fix_up) reader_.fix_up(in, mutator_);
        return in;
    }

private:
    const Reader& reader_;
    Mutator mutator_;
    std::size_t count_ = 0;
};

// Called with each failing input, its index and what went wrong.
using FailureHandler = std::function<void(const Input&, std::size_t, const std::string&)>;

// Runs `inputs` inputs through `r`. `before` sees each input before it is
// read (to save it should the process die on it).
inline Stats fuzz_reader(const Reader& r, std::size_t inputs, std::uint64_t seed, const Limits& limits,
                         const FailureHandler& on_failure, const std::function<void(const Input&)>& before = {}) {
    using Clock = std::chrono::steady_clock;
    Stats stats;
    InputSource source(r, seed);
    const std::size_t must_decode = r.seeds.size(), huge_end = r.seeds.size() + r.huge.size();
    const auto start = Clock::now();
    for (std::size_t i = 0; i < inputs; ++i) {
        const Input in = source.next();
        if (before) before(in);
        const double memory_before = peak_memory_mb();
        const auto t0 = Clock::now();
        std::string failure;
        ReadResult result;
        try {
            result = r.read(in);
        } catch (const std::exception& e) {
            failure = std::string("threw ") + typeid(e).name() + " (not the documented error): " + e.what();
        } catch (...) {
            failure = "threw something that is not a std::exception";
        }
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        const double memory_after = peak_memory_mb();
        const Outcome outcome = result.outcome;
        const double samples = static_cast<double>(result.samples);
        const double limit_ms = 1e3 * limits.seconds_per_input * std::max(1.0, samples / 1e7);
        const double limit_mb = limits.memory_mb + 16 * samples / (1 << 20);
        if (ms > stats.slowest_ms) {
            stats.slowest_ms = ms;
            stats.slowest_index = i;
        }
        if (failure.empty() && i < must_decode && outcome != Outcome::decoded) failure = "a valid seed file was refused";
        if (failure.empty() && i >= must_decode && i < huge_end && outcome != Outcome::refused)
            failure = "a header claiming a huge image was not refused";
        if (failure.empty() && ms > limit_ms)
            failure = "took " + std::to_string(ms) + " ms (limit " + std::to_string(limit_ms) + ")";
        if (failure.empty() && memory_after > limit_mb && memory_after > memory_before)
            failure = "raised the peak memory to " + std::to_string(memory_after) + " MB (limit " +
                      std::to_string(limit_mb) + ")";
        ++stats.inputs;
        if (i >= must_decode && i < huge_end) {
            ++stats.huge;
            stats.huge_refused += outcome == Outcome::refused && failure.empty();
        }
        if (!failure.empty()) {
            ++stats.failures;
            if (stats.first_failure.empty()) stats.first_failure = "input " + std::to_string(i) + ": " + failure;
            if (on_failure) on_failure(in, i, failure);
        } else if (outcome == Outcome::decoded) {
            ++stats.decoded;
        } else {
            ++stats.refused;
        }
    }
    stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return stats;
}

}  // namespace deblur::fuzz
