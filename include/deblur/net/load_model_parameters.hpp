#pragma once
// Loads a model file made for one architecture (`FileNet`) into a network of
// another whose parameter blocks have the same order and sizes, e.g. the
// uniform model (DefaultNetwork) into the spatially-varying EFFNetwork
// (eff_network.hpp): the feature layers and beta_x are shared, only the
// parameter-free quotient layers differ. The file is read and checked as
// load_model does (architecture FileNet, checksum, sizes); then the blocks
// are compared one by one, and a mismatch throws ModelError before `net`
// changes. Returns the file's metadata. From a file's bytes or its path.
#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model_error.hpp"
#include "model_file.hpp"
#include "parameters.hpp"

namespace deblur {

template <class FileNet, class Net>
ModelMetadata load_model_parameters(Net& net, std::span<const unsigned char> bytes, const std::string& name) {
    auto source = std::make_unique<FileNet>();  // networks are large objects: not on the stack
    source->setup(0);
    ModelMetadata metadata = load_model(*source, bytes, name);
    std::vector<std::size_t> from, to;
    source->for_each_param_block([&](std::size_t, std::size_t, auto p, auto) { from.push_back(p.size()); });
    net.for_each_param_block([&](std::size_t, std::size_t, auto p, auto) { to.push_back(p.size()); });
    if (from != to)
        throw ModelError("model file " + name + ": its parameter blocks (" + std::to_string(from.size()) +
                         ") do not match the network's (" + std::to_string(to.size()) + ") block for block");
    std::vector<typename FileNet::scalar> values;
    get_parameters(*source, values);
    set_parameters<Net, typename FileNet::scalar>(net, values);
    return metadata;
}

// load_model_parameters above, on the file at `path`.
template <class FileNet, class Net>
ModelMetadata load_model_parameters(Net& net, const std::filesystem::path& path) {
    return load_model_parameters<FileNet>(net, read_model_file(path), path.string());
}

}  // namespace deblur
