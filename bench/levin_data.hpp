#pragma once
// Reading the Levin et al. 2009 benchmark (../shared/data/levin/README.md):
// 4 images x 8 camera-shake kernels, 255 x 255 gray, float PFM.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include <deblur/io/read_image.hpp>

namespace levin {

// The data's kernels are stored for correlation; they are rotated by 180
// degrees into the convolution convention of deblur/blur/blur.hpp.
inline xt::xtensor<float, 2> read_kernel(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) throw std::runtime_error("cannot read " + file.string());
    std::vector<std::vector<double>> rows;
    for (std::string line; std::getline(in, line);) {
        std::istringstream ss(line);
        std::vector<double> row;
        for (double v; ss >> v;) row.push_back(v);
        if (!row.empty()) rows.push_back(row);
    }
    const std::size_t n = rows.size();
    if (n == 0 || n % 2 == 0 || rows[0].size() != n) throw std::runtime_error(file.string() + ": not an odd square kernel");
    xt::xtensor<float, 2> k = xt::xtensor<float, 2>::from_shape({n, n});
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t c = 0; c < n; ++c) k(n - 1 - r, n - 1 - c) = float(rows.at(r).at(c));
    return k;
}

inline xt::xtensor<float, 2> read_gray(const std::filesystem::path& file) {
    const auto image = deblur::io::read_image(file);
    return xt::view(image.pixels, 0, xt::all(), xt::all());
}

// "im{i}_ker{j}", the stem of the benchmark's files for image i and kernel j.
inline std::string stem(int image, int kernel) {
    return "im" + std::to_string(image) + "_ker" + std::to_string(kernel);
}

}  // namespace levin
