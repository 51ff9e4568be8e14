#pragma once
// What a Deblurrer keeps between calls (deblurrer.hpp): the networks it built
// from its model, with their buffers, so repeated calls (frames, benchmarks)
// neither reload a network nor fault in fresh pages for every layer; and the
// deconvolver and refiners, whose buffers (some 100 MB of canvases and
// spectra per tile and thread for a large photo, TiledDeconvolver; a few MB
// per refiner) would otherwise be faulted in afresh
// on every call, which measured ~3 ms per MB on the 2-core machine. They stay
// allocated at the size of the largest image seen, until clear().
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "../deconv/deconv_options.hpp"
#include "../deconv/tiled_deconvolver.hpp"
#include "../net/default_network.hpp"
#include "../net/model_bytes.hpp"
#include "kernel_estimator.hpp"
#include "kernel_refiner.hpp"

namespace deblur::detail {

// Net: the network's type (DefaultNetwork, or a researcher's own; KernelEstimator<Net>).
template <class Net = DefaultNetwork>
class Workspace {
public:
    // The network of `model`, built on first use. Networks are told apart by
    // their bytes' address (kept alive here, so it cannot be reused).
    KernelEstimator<Net>& estimator(const ModelBytes& model) {
        auto& entry = estimators_[model.bytes.data()];
        if (!entry.second || entry.first.bytes.size() != model.bytes.size()) {
            entry.second.reset();  // a failed load below must not leave a stale entry
            entry.second = std::make_unique<KernelEstimator<Net>>(model);
            entry.first = model;
        }
        return *entry.second;
    }

    TiledDeconvolver<float>& deconvolver(const DeconvOptions& options) {
        if (!deconvolver_) deconvolver_ = std::make_unique<TiledDeconvolver<float>>();
        deconvolver_->set_options(options);
        return *deconvolver_;
    }

    // `count` refiners with `options` (the ladder refines supports in parallel, one per refiner).
    std::vector<KernelRefiner<float>*> refiners(const KernelRefinerOptions& options, std::size_t count) {
        while (refiners_.size() < count) refiners_.push_back(std::make_unique<KernelRefiner<float>>());
        std::vector<KernelRefiner<float>*> out;
        for (std::size_t i = 0; i < count; ++i) {
            refiners_[i]->set_options(options);
            out.push_back(refiners_[i].get());
        }
        return out;
    }

    // Whether anything is kept (for tests).
    bool empty() const { return estimators_.empty() && !deconvolver_ && refiners_.empty(); }
    void clear() { *this = Workspace(); }

private:
    std::map<const unsigned char*, std::pair<ModelBytes, std::unique_ptr<KernelEstimator<Net>>>> estimators_;
    std::unique_ptr<TiledDeconvolver<float>> deconvolver_;
    std::vector<std::unique_ptr<KernelRefiner<float>>> refiners_;
};

}  // namespace deblur::detail
