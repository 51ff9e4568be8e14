#pragma once
// The loss and loss gradient of every example of one training step, and
// their sum. Each process of a ProcessGroup fills the rows of its share of
// the batch; gather() gives every process all rows, and sum() adds the rows
// of the examples used (not outliers) in example order. One fixed order of additions
// makes a step's result the same, bit for bit, for any number of processes
// and threads (partial sums per process or thread would round differently).
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <stdexcept>
#include <vector>

#include "process_group.hpp"

namespace deblur::train {

template <class T>
class BatchGradients {
public:
    // `batch` examples, `params` gradient values each; the losses read NaN until set.
    void resize(std::size_t batch, std::size_t params) {
        batch_ = batch;
        params_ = params;
        gradients_.resize(batch * params);
        losses_.assign(batch, std::numeric_limits<double>::quiet_NaN());
    }
    std::size_t batch() const { return batch_; }
    std::size_t params() const { return params_; }

    std::span<T> gradient(std::size_t example) { return {gradients_.data() + example * params_, params_}; }
    void set_loss(std::size_t example, double loss) { losses_.at(example) = loss; }
    std::span<const double> losses() const { return losses_; }

    // Collective: afterwards every process holds every process's share.
    void gather(const ProcessGroup& group) {
        group.all_gather_shares(std::span<T>(gradients_), batch_, params_);
        group.all_gather_shares(std::span<double>(losses_), batch_, 1);
    }

    // The sum of the gradients of the examples i with used(i), in order of i
    // (zeros when none is). Rows of other examples are never read.
    template <class Used>
    void sum(const Used& used, std::vector<T>& out) const {
        out.assign(params_, T(0));
        for (std::size_t i = 0; i < batch_; ++i) {
            if (!used(i)) continue;
            const T* g = gradients_.data() + i * params_;
            for (std::size_t j = 0; j < params_; ++j) out[j] += g[j];
        }
    }

    // The step's losses: the mean over all examples (non-finite ones count
    // as 0), and the mean and number of the used ones (the mean is 0 when none is).
    struct LossSummary {
        double mean = 0, used_mean = 0;
        std::size_t used = 0;
    };
    template <class Used>
    LossSummary loss_summary(const Used& used) const {
        LossSummary s;
        double used_sum = 0;
        for (std::size_t i = 0; i < batch_; ++i) {
            const double loss = losses_[i];
            s.mean += std::isfinite(loss) ? loss : 0;
            if (used(i)) {
                used_sum += loss;
                ++s.used;
            }
        }
        s.mean /= static_cast<double>(batch_);
        if (s.used > 0) s.used_mean = used_sum / static_cast<double>(s.used);
        return s;
    }

private:
    std::size_t batch_ = 0, params_ = 0;
    std::vector<T> gradients_;
    std::vector<double> losses_;
};

}  // namespace deblur::train
