#pragma once
#include <atomic>
#include <functional>
#include <stdexcept>
#include <string>

namespace deblur {

// Thrown by a call whose cancellation flag (BlindDeblurOptions::cancel) was
// set: the call stops before its next step and changes nothing it was given.
class Cancelled : public std::runtime_error {
public:
    Cancelled() : std::runtime_error("deblur: cancelled") {}
};

namespace detail {

// `progress` preceded by a look at `cancel`: the pipeline calls its progress
// function between steps (never inside a parallel region), so that is where
// a cancellation takes effect.
inline std::function<void(const std::string&)> checking_cancel(std::function<void(const std::string&)> progress,
                                                                const std::atomic<bool>* cancel) {
    if (!cancel) return progress;
    return [progress = std::move(progress), cancel](const std::string& line) {
        if (cancel->load(std::memory_order_relaxed)) throw Cancelled();
        if (progress) progress(line);
    };
}

}  // namespace detail
}  // namespace deblur
