#pragma once
// All parameters of a network as one flat vector, in the order of
// for_each_param_block: what an optimiser, a checkpoint or a gradient check
// works on. `select(scale, stage)` restricts to the blocks that are trained.
#include <cstddef>
#include <functional>
#include <span>
#include <stdexcept>
#include <vector>

namespace deblur {

using BlockFilter = std::function<bool(std::size_t scale, std::size_t stage)>;

inline bool all_blocks(std::size_t, std::size_t) { return true; }

template <class Net>
std::size_t parameter_count(Net& net, const BlockFilter& select = all_blocks) {
    std::size_t n = 0;
    net.for_each_param_block([&](std::size_t j, std::size_t s, auto p, auto) {
        if (select(j, s)) n += p.size();
    });
    return n;
}

template <class Net, class T>
void get_parameters(Net& net, std::vector<T>& out, const BlockFilter& select = all_blocks) {
    out.clear();
    net.for_each_param_block([&](std::size_t j, std::size_t s, auto p, auto) {
        if (select(j, s)) out.insert(out.end(), p.begin(), p.end());
    });
}

template <class Net, class T>
void get_gradients(Net& net, std::vector<T>& out, const BlockFilter& select = all_blocks) {
    out.clear();
    net.for_each_param_block([&](std::size_t j, std::size_t s, auto, auto g) {
        if (select(j, s)) out.insert(out.end(), g.begin(), g.end());
    });
}

// The gradients of the selected blocks into `out` (exactly as many values).
template <class Net, class T>
void copy_gradients(Net& net, std::span<T> out, const BlockFilter& select = all_blocks) {
    if (out.size() != parameter_count(net, select))
        throw std::invalid_argument("deblur::copy_gradients: wrong number of values");
    std::size_t at = 0;
    net.for_each_param_block([&](std::size_t j, std::size_t s, auto, auto g) {
        if (select(j, s))
            for (const auto& v : g) out[at++] = static_cast<T>(v);
    });
}

template <class Net, class T>
void set_parameters(Net& net, std::span<const T> values, const BlockFilter& select = all_blocks) {
    if (values.size() != parameter_count(net, select))
        throw std::invalid_argument("deblur::set_parameters: wrong number of values");
    std::size_t at = 0;
    net.for_each_param_block([&](std::size_t j, std::size_t s, auto p, auto) {
        if (!select(j, s)) return;
        for (auto& v : p) v = static_cast<std::remove_reference_t<decltype(v)>>(values[at++]);
    });
}

template <class Net>
void zero_gradients(Net& net) {
    net.for_each_param_block([](std::size_t, std::size_t, auto, auto g) {
        for (auto& v : g) v = 0;
    });
}

}  // namespace deblur
