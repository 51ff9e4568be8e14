#pragma once
// Training checkpoint files, shared by train::Trainer and cuda::Trainer so a
// run checkpointed on one device resumes on the other: the model file (the
// parameters, with "step", "running_mean" and "scale" in its metadata) and
// beside it "<model>.opt", the optimiser state (little-endian):
//
//   "DEBLUROPT2"   10-byte magic
//   i64 step       the step of the model file beside it
//   u64 n, n f64   the optimiser's state
//   u64 checksum   FNV-1a 64 of every byte before it (as in model files)
//
// Both files are written atomically; loading checks that they belong together
// and that neither is corrupt or truncated. The first format, "DEBLUROPT1",
// had no checksum: a flipped bit went unnoticed. It is refused (the runs in
// models/runs were re-saved as DEBLUROPT2 once, payload unchanged).
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../core/atomic_file.hpp"
#include "../net/model_error.hpp"
#include "../net/model_file.hpp"

namespace deblur::train {

namespace detail {

inline constexpr char optimiser_magic[] = "DEBLUROPT2";
inline constexpr char optimiser_magic_v1[] = "DEBLUROPT1";  // no checksum: refused
inline constexpr std::size_t optimiser_magic_size = sizeof optimiser_magic - 1;

inline std::filesystem::path optimiser_path(const std::filesystem::path& model_path) {
    auto p = model_path;
    p += ".opt";
    return p;
}

template <class V>
void append(std::string& s, V v) {
    s.append(reinterpret_cast<const char*>(&v), sizeof(V));
}

// The model file's checksum (FNV-1a 64) over `bytes`.
inline std::uint64_t checksum(std::string_view bytes) {
    return deblur::detail::fnv1a(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

// Called only after the checksum and the total size were checked.
template <class V>
V read(const std::string& s, std::size_t& at) {
    V v;
    std::memcpy(&v, s.data() + at, sizeof(V));
    at += sizeof(V);
    return v;
}

// A number of the model file's metadata: text that is not one is a flaw of
// the file like any other (ModelError, not std::invalid_argument).
template <class V>
V metadata_number(const ModelMetadata& meta, const std::string& key, const std::filesystem::path& model_path) {
    const std::string& text = meta.at(key);
    V v{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size())
        throw ModelError("checkpoint " + model_path.string() + ": bad metadata value " + key + "=" + text);
    return v;
}

}  // namespace detail

struct Checkpoint {
    std::int64_t step = 0;
    double running_mean = 0;
    std::vector<double> optimiser_state;
    ModelMetadata metadata;
};

// `optimiser_state`: any range of numbers (stored as f64).
template <class Net, class State>
void save_checkpoint_files(Net& net, const std::filesystem::path& model_path, ModelMetadata metadata,
                           std::size_t scale, std::int64_t step, double running_mean, const State& optimiser_state) {
    char mean[64];
    std::snprintf(mean, sizeof mean, "%.17g", running_mean);  // reads back exactly
    metadata["step"] = std::to_string(step);
    metadata["running_mean"] = mean;
    metadata["scale"] = std::to_string(scale);
    save_model(net, model_path, metadata);
    std::string bytes = detail::optimiser_magic;
    detail::append(bytes, static_cast<std::int64_t>(step));
    detail::append(bytes, static_cast<std::uint64_t>(std::size(optimiser_state)));
    for (auto v : optimiser_state) detail::append(bytes, static_cast<double>(v));
    detail::append(bytes, detail::checksum(bytes));
    write_file_atomically(detail::optimiser_path(model_path), bytes);
}

// Loads the parameters into `net` and returns the rest; throws ModelError if
// the files are not a checkpoint of `scale` with `optimiser_size` state values.
template <class Net>
Checkpoint load_checkpoint_files(Net& net, const std::filesystem::path& model_path, std::size_t scale,
                                 std::size_t optimiser_size) {
    Checkpoint c;
    c.metadata = load_model(net, model_path);
    const auto& meta = c.metadata;
    if (!meta.count("step") || !meta.count("running_mean") || !meta.count("scale") ||
        detail::metadata_number<std::size_t>(meta, "scale", model_path) != scale)
        throw ModelError("checkpoint " + model_path.string() + ": not a checkpoint of scale " + std::to_string(scale));
    c.step = detail::metadata_number<std::int64_t>(meta, "step", model_path);
    c.running_mean = detail::metadata_number<double>(meta, "running_mean", model_path);
    const auto opt = detail::optimiser_path(model_path);
    const std::string file = "checkpoint optimiser state " + opt.string();
    std::ifstream in(opt, std::ios::binary);
    if (!in) throw ModelError(file + ": cannot open");
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::size_t magic = detail::optimiser_magic_size, header = magic + 8 + 8, checksum = 8;
    if (bytes.compare(0, magic, detail::optimiser_magic_v1) == 0)
        throw ModelError(file + ": old format DEBLUROPT1 without a checksum (this version reads DEBLUROPT2)");
    if (bytes.compare(0, magic, detail::optimiser_magic) != 0)
        throw ModelError(file + ": not an optimiser state (bad magic)");
    if (bytes.size() < header + checksum) throw ModelError(file + ": truncated");
    // Every byte before the checksum counts, so any flipped bit or cut is caught here.
    const std::size_t body = bytes.size() - checksum;
    std::size_t at = body;
    if (detail::read<std::uint64_t>(bytes, at) != detail::checksum(std::string_view(bytes).substr(0, body)))
        throw ModelError(file + ": checksum mismatch (the file is corrupt or truncated)");
    at = magic;
    const auto saved_step = detail::read<std::int64_t>(bytes, at);
    const auto n = detail::read<std::uint64_t>(bytes, at);
    if (n > (body - header) / sizeof(double) || body != header + n * sizeof(double))
        throw ModelError(file + ": size does not match its value count");
    if (saved_step != c.step || n != optimiser_size)
        throw ModelError("checkpoint " + model_path.string() + ": optimiser state does not match the model");
    c.optimiser_state.resize(n);
    for (auto& v : c.optimiser_state) v = detail::read<double>(bytes, at);
    return c;
}

}  // namespace deblur::train
