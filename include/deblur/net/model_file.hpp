#pragma once
// Versioned binary model files (all integers little-endian):
//
//   "DEBLURNN"             8-byte magic
//   u32 version            (1)
//   u32 n, n bytes         architecture text (architecture_of<Net>())
//   u32 n, n bytes         metadata, "key=value" lines (noise level, training steps, ...)
//   u32 blocks             parameter block count, then one u64 length per block
//   f32 ...                all parameters, block after block
//   u64 checksum           FNV-1a 64 of every byte before it
//
// Files are written atomically (temporary file in the same folder, then
// rename), so a crash never leaves a half-written model. Loading checks
// everything before it changes the network: a file that does not fit leaves
// the network as it was and throws ModelError.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "../core/atomic_file.hpp"
#include "architecture.hpp"
#include "model_bytes.hpp"
#include "model_error.hpp"

namespace deblur {

static_assert(std::endian::native == std::endian::little, "deblur model files assume a little-endian machine");

namespace detail {

inline std::uint64_t fnv1a(const unsigned char* data, std::size_t n) {
    std::uint64_t h = 1469598103934665603ull;
    for (std::size_t i = 0; i < n; ++i) h = (h ^ data[i]) * 1099511628211ull;
    return h;
}

class ByteWriter {
public:
    template <class V>
    void put(V v) {
        unsigned char b[sizeof(V)];
        std::memcpy(b, &v, sizeof(V));
        for (unsigned char c : b) bytes.push_back(c);
    }
    void put_string(const std::string& s) {
        put(static_cast<std::uint32_t>(s.size()));
        for (char c : s) bytes.push_back(static_cast<unsigned char>(c));
    }
    std::vector<unsigned char> bytes;
};

class ByteReader {
public:
    ByteReader(std::span<const unsigned char> bytes, std::size_t end, std::string file)
        : bytes_(bytes), end_(end), file_(std::move(file)) {}
    template <class V>
    V get(const char* what) {
        need(sizeof(V), what);
        V v;
        std::memcpy(&v, bytes_.data() + pos_, sizeof(V));
        pos_ += sizeof(V);
        return v;
    }
    std::string get_string(const char* what) {
        const auto n = get<std::uint32_t>(what);
        need(n, what);
        std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
        pos_ += n;
        return s;
    }
    void need(std::size_t n, const char* what) const {
        if (n > end_ - pos_) throw ModelError("model file " + file_ + ": truncated (in the " + what + ")");
    }
    std::size_t position() const { return pos_; }

private:
    std::span<const unsigned char> bytes_;
    std::size_t end_, pos_ = 0;
    std::string file_;
};

// A model saved during stage-wise pre-training (train/trainer.hpp) records how
// many stages of its last trained scale were running ("trained_scales",
// "active_stages"); the stages after those hold untrained parameters and must
// stay off when the model is used. Returns {scale, stages}, or nothing when
// the file does not say.
template <class Net>
std::optional<std::pair<std::size_t, std::size_t>> trained_stages(Net& net, const std::map<std::string, std::string>& meta,
                                                                  const std::string& file) {
    const auto scales = meta.find("trained_scales"), stages = meta.find("active_stages");
    if (scales == meta.end() || stages == meta.end()) return std::nullopt;
    const auto number = [&](const std::string& text) -> std::size_t {
        std::size_t used = 0, n = 0;
        try {
            n = std::stoul(text, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != text.size()) throw ModelError("model file " + file + ": bad metadata value '" + text + "'");
        return n;
    };
    const std::size_t scale = number(scales->second), n = number(stages->second);
    std::size_t stage_count = 0;
    net.for_each_param_block([&](std::size_t j, std::size_t s, auto, auto) {
        if (j + 1 == scale) stage_count = std::max(stage_count, s + 1);
    });
    if (scale < 1 || n < 1 || n > stage_count)
        throw ModelError("model file " + file + ": metadata trained_scales=" + scales->second + ", active_stages=" +
                         stages->second + " do not fit the network");
    return std::pair{scale - 1, n};
}

inline constexpr char model_magic[8] = {'D', 'E', 'B', 'L', 'U', 'R', 'N', 'N'};
inline constexpr std::uint32_t model_version = 1;

}  // namespace detail

using ModelMetadata = std::map<std::string, std::string>;

// `Net` is a MultiScale network (a single-scale one is MultiScale<Scale<...>>).
// The bytes of a model file of the network: its parameters (as float32) and
// architecture (e.g. for Model::from_bytes, or a resource of a program).
template <class Net>
std::vector<unsigned char> encode_model(Net& net, const ModelMetadata& metadata = {}) {
    detail::ByteWriter w;
    for (char c : detail::model_magic) w.bytes.push_back(static_cast<unsigned char>(c));
    w.put(detail::model_version);
    w.put_string(architecture_of<Net>());
    std::string meta;
    for (const auto& [k, v] : metadata) {
        if (k.find_first_of("=\n") != std::string::npos || v.find('\n') != std::string::npos)
            throw ModelError("model metadata keys may not contain '=' or newlines, values no newlines");
        meta += k + "=" + v + "\n";
    }
    w.put_string(meta);
    std::vector<std::uint64_t> sizes;
    net.for_each_param_block([&](std::size_t, std::size_t, auto params, auto) { sizes.push_back(params.size()); });
    w.put(static_cast<std::uint32_t>(sizes.size()));
    for (auto n : sizes) w.put(n);
    net.for_each_param_block([&](std::size_t, std::size_t, auto params, auto) {
        for (auto v : params) w.put(static_cast<float>(v));
    });
    w.put(detail::fnv1a(w.bytes.data(), w.bytes.size()));
    return std::move(w.bytes);
}

// Writes encode_model's bytes to `path`, atomically.
template <class Net>
void save_model(Net& net, const std::filesystem::path& path, const ModelMetadata& metadata = {}) {
    const auto bytes = encode_model(net, metadata);
    try {
        write_file_atomically(path, bytes);
    } catch (const FileWriteError& e) {
        throw ModelError("model file " + path.string() + ": cannot write (" + e.problem() + ")");
    }
}

// Loads parameters into `net` (which must be set up with the same
// architecture) from the bytes of a model file, `name` naming them in errors
// (the file's path, or e.g. "the embedded default model"), and returns the
// metadata. Throws ModelError, leaving `net` unchanged, if the bytes are
// truncated, corrupt or do not match.
template <class Net>
ModelMetadata load_model(Net& net, std::span<const unsigned char> bytes, const std::string& name) {
    const std::string& file = name;
    if (bytes.size() < 8 + 4 + 8 || std::memcmp(bytes.data(), detail::model_magic, 8) != 0)
        throw ModelError("model file " + file + ": not a deblur model (bad magic)");
    const std::size_t body = bytes.size() - 8;
    std::uint64_t stored;
    std::memcpy(&stored, bytes.data() + body, 8);
    detail::ByteReader r(bytes, body, file);
    r.get<std::uint64_t>("magic");
    const auto version = r.get<std::uint32_t>("version");
    if (version != detail::model_version)
        throw ModelError("model file " + file + ": unsupported version " + std::to_string(version));
    if (stored != detail::fnv1a(bytes.data(), body))
        throw ModelError("model file " + file + ": checksum mismatch (the file is corrupt or truncated)");
    const std::string arch = r.get_string("architecture");
    if (arch != architecture_of<Net>())
        throw ModelError("model file " + file + ": made for architecture " + arch + ", but the network is " +
                         architecture_of<Net>());
    const std::string meta_text = r.get_string("metadata");
    std::vector<std::uint64_t> expected;
    net.for_each_param_block([&](std::size_t, std::size_t, auto params, auto) { expected.push_back(params.size()); });
    const auto blocks = r.get<std::uint32_t>("block count");
    if (blocks != expected.size())
        throw ModelError("model file " + file + ": has " + std::to_string(blocks) + " parameter blocks, the network " +
                         std::to_string(expected.size()));
    std::uint64_t total = 0;
    for (std::uint32_t b = 0; b < blocks; ++b) {
        const auto n = r.get<std::uint64_t>("block sizes");
        if (n != expected[b])
            throw ModelError("model file " + file + ": parameter block " + std::to_string(b) + " has " +
                             std::to_string(n) + " values, the network " + std::to_string(expected[b]));
        total += n;
    }
    r.need(total * sizeof(float), "parameters");
    if (r.position() + total * sizeof(float) != body)
        throw ModelError("model file " + file + ": unexpected bytes after the parameters");
    std::vector<float> values(total);
    std::memcpy(values.data(), bytes.data() + r.position(), total * sizeof(float));
    for (float v : values)
        if (!std::isfinite(v)) throw ModelError("model file " + file + ": parameters contain NaN or infinity");

    ModelMetadata meta;
    std::istringstream lines(meta_text);
    for (std::string line; std::getline(lines, line);)
        if (auto eq = line.find('='); eq != std::string::npos) meta[line.substr(0, eq)] = line.substr(eq + 1);
    const auto active = detail::trained_stages(net, meta, file);

    std::size_t at = 0;  // all checks passed: now change the network
    net.for_each_param_block([&](std::size_t, std::size_t, auto params, auto) {
        for (auto& v : params) v = static_cast<std::remove_reference_t<decltype(v)>>(values[at++]);
    });
    if (active) net.set_active_stages(active->first, active->second);
    return meta;
}

// The bytes of a model file; throws ModelError if it cannot be read.
inline std::vector<unsigned char> read_model_file(const std::filesystem::path& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw ModelError("model file " + path.string() + ": is a directory");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ModelError("model file " + path.string() + ": cannot open");
    std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw ModelError("model file " + path.string() + ": cannot read");
    return bytes;
}

// The file's bytes as a ModelBytes named by its path.
inline ModelBytes read_model_bytes(const std::filesystem::path& path) {
    auto storage = std::make_shared<const std::vector<unsigned char>>(read_model_file(path));
    return ModelBytes{path.string(), *storage, storage};
}

// load_model above, on the file at `path`.
template <class Net>
ModelMetadata load_model(Net& net, const std::filesystem::path& path) {
    return load_model(net, read_model_file(path), path.string());
}

}  // namespace deblur
