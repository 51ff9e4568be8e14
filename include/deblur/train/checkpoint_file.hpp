#pragma once
// Training checkpoint files, shared by train::Trainer and cuda::Trainer so a
// run checkpointed on one device resumes on the other: the model file (the
// parameters, with "step", "running_mean" and "scale" in its metadata) and
// beside it "<model>.opt", the optimiser state:
//
//   "DEBLUROPT1"   10-byte magic
//   i64 step       the step of the model file beside it
//   u64 n, n f64   the optimiser's state
//
// Both files are written atomically; loading checks that they belong together.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../core/atomic_file.hpp"
#include "../net/model_error.hpp"
#include "../net/model_file.hpp"

namespace deblur::train {

namespace detail {

inline constexpr char optimiser_magic[] = "DEBLUROPT1";
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

template <class V>
V read(const std::string& s, std::size_t& at) {
    if (s.size() < at + sizeof(V)) throw ModelError("checkpoint optimiser state is truncated");
    V v;
    std::memcpy(&v, s.data() + at, sizeof(V));
    at += sizeof(V);
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
        std::stoul(meta.at("scale")) != scale)
        throw ModelError("checkpoint " + model_path.string() + ": not a checkpoint of scale " + std::to_string(scale));
    c.step = std::stoll(meta.at("step"));
    c.running_mean = std::stod(meta.at("running_mean"));
    const auto opt = detail::optimiser_path(model_path);
    std::ifstream in(opt, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::size_t at = detail::optimiser_magic_size;
    if (bytes.size() < at || bytes.compare(0, at, detail::optimiser_magic) != 0)
        throw ModelError("checkpoint " + opt.string() + ": missing or not an optimiser state");
    const auto saved_step = detail::read<std::int64_t>(bytes, at);
    const auto n = detail::read<std::uint64_t>(bytes, at);
    if (saved_step != c.step || n != optimiser_size || bytes.size() != at + n * sizeof(double))
        throw ModelError("checkpoint " + model_path.string() + ": optimiser state does not match the model");
    c.optimiser_state.resize(n);
    for (auto& v : c.optimiser_state) v = detail::read<double>(bytes, at);
    return c;
}

}  // namespace deblur::train
