#pragma once
// The trained networks the pipeline uses, in memory:
//
//   deblur::Model::default_model()          // the shipped models, embedded in the program
//   deblur::Model::from_file("my.dbm")       // a model file (model_file.hpp)
//   deblur::Model::from_bytes(bytes, "name") // the bytes of one, e.g. from a resource
//
// The default model holds the three shipped networks: models/default.dbm
// (trained at noise 0.01), models/noise-0.05.dbm (used for images whose noise
// is above 0.03) and models/nonuniform.dbm (the spatially-varying network's
// parameters). Their bytes are compiled in (cmake/EmbedModels.cmake writes
// <deblur/net/embedded_models.hpp> into the build and install trees), so
// nothing is looked up on disk. A model from a file or bytes is one network,
// used at every noise level and for the field network too (its parameters
// load into the spatially-varying network).
//
// A Model is immutable and cheap to copy (the bytes are shared); each
// Deblurrer builds its own networks from it.
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <deblur/net/embedded_models.hpp>

#include "default_network.hpp"
#include "model_bytes.hpp"
#include "model_error.hpp"
#include "model_file.hpp"

namespace deblur {

class Model {
public:
    // Noise above this picks the noise-specific network of the default model.
    static constexpr double high_noise = 0.03;

    static Model default_model() {
        namespace data = detail::embedded_models;
        const auto embedded = [](const char* bytes, std::size_t size, const char* file) {
            return ModelBytes{std::string(file) + " (embedded)",
                              {reinterpret_cast<const unsigned char*>(bytes), size}, nullptr};
        };
        Model m(embedded(data::default_model, data::default_model_size, "models/default.dbm"));
        m.high_noise_ = embedded(data::noise_model, data::noise_model_size, "models/noise-0.05.dbm");
        m.field_ = embedded(data::field_model, data::field_model_size, "models/nonuniform.dbm");
        return m;
    }

    // Throws ModelError if the file cannot be read, is corrupt or was made
    // for another architecture than Net.
    template <class Net = DefaultNetwork>
    static Model from_file(const std::filesystem::path& file) {
        return Model(checked<Net>(read_model_bytes(file)));
    }

    // The bytes are copied; `name` names them in errors and progress lines.
    // Throws ModelError as from_file.
    template <class Net = DefaultNetwork>
    static Model from_bytes(std::span<const std::byte> bytes, std::string name = "(in memory)") {
        const auto* first = reinterpret_cast<const unsigned char*>(bytes.data());
        auto storage = std::make_shared<const std::vector<unsigned char>>(first, first + bytes.size());
        return Model(checked<Net>(ModelBytes{std::move(name), *storage, storage}));
    }

    // The uniform network for an image with this noise level.
    const ModelBytes& network_for_noise(double sigma) const {
        return sigma > high_noise && high_noise_ ? *high_noise_ : network_;
    }
    // The parameters of the spatially-varying network for this noise level:
    // the default model's field network up to high_noise, else the uniform one.
    const ModelBytes& field_network_for_noise(double sigma) const {
        return sigma <= high_noise && field_ ? *field_ : network_for_noise(sigma);
    }
    // The name of the network used at low noise (for messages).
    const std::string& name() const { return network_.name; }

private:
    explicit Model(ModelBytes network) : network_(std::move(network)) {}

    // `model`, once its bytes loaded into a Net.
    template <class Net>
    static ModelBytes checked(ModelBytes model) {
        auto net = std::make_unique<Net>();  // networks are large objects: not on the stack
        net->setup(0);
        load_model(*net, model.bytes, model.name);
        return model;
    }

    ModelBytes network_;
    std::optional<ModelBytes> high_noise_;
    std::optional<ModelBytes> field_;
};

}  // namespace deblur
