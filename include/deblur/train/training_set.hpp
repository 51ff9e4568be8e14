#pragma once
// The sharp photographs training crops are cut from, decoded once and kept in
// memory as gray float images in [0, 1] (colour is converted to luminance,
// BT.601). A folder is searched recursively for PNG, JPEG, TIFF and PFM files;
// the files are taken in sorted path order, so the set (and with it every
// seeded example) does not depend on the order the file system lists them in.
// The 800 images of data/train take about 300 MB.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "../core/openmp.hpp"
#include "../io/color.hpp"
#include "../io/read_image.hpp"

namespace deblur::train {

struct TrainingSetOptions {
    std::size_t max_images = 0;  // 0: every image; otherwise the first N in sorted path order
};

class TrainingSet {
public:
    using Image = xt::xtensor<float, 2>;

    // Image files of `folder` and its subfolders. Throws std::invalid_argument if the folder
    // does not exist or holds no image file, and io::ImageError if a file cannot be decoded.
    explicit TrainingSet(const std::filesystem::path& folder, TrainingSetOptions options = {}) {
        paths_ = image_files(folder);
        if (paths_.empty())
            throw std::invalid_argument("deblur::train::TrainingSet: no PNG, JPEG, TIFF or PFM file under " +
                                        folder.string());
        if (options.max_images > 0 && paths_.size() > options.max_images) paths_.resize(options.max_images);
        images_.resize(paths_.size());
        // Decoding dominates start-up; files are independent, so decode them in parallel.
        std::vector<std::exception_ptr> errors(paths_.size());
        const auto n = static_cast<std::ptrdiff_t>(paths_.size());
DEBLUR_OMP(omp parallel for schedule(dynamic, 4))
        for (std::ptrdiff_t i = 0; i < n; ++i) {
            try {
                images_[i] = load_gray(paths_[i]);
            } catch (...) {
                errors[i] = std::current_exception();
            }
        }
        for (const auto& e : errors)
            if (e) std::rethrow_exception(e);
    }

    // Images already in memory (e.g. for tests); `names` may be empty.
    explicit TrainingSet(std::vector<Image> images, std::vector<std::filesystem::path> names = {})
        : images_(std::move(images)), paths_(std::move(names)) {
        if (paths_.empty())
            for (std::size_t i = 0; i < images_.size(); ++i) paths_.emplace_back("image" + std::to_string(i));
        if (paths_.size() != images_.size())
            throw std::invalid_argument("deblur::train::TrainingSet: " + std::to_string(images_.size()) + " images but " +
                                        std::to_string(paths_.size()) + " names");
        for (const auto& im : images_)
            if (im.size() == 0) throw std::invalid_argument("deblur::train::TrainingSet: empty image");
    }

    std::size_t size() const { return images_.size(); }
    const Image& image(std::size_t i) const { return images_.at(i); }
    const std::vector<Image>& images() const { return images_; }
    // The file each image came from (or its given name).
    const std::filesystem::path& path(std::size_t i) const { return paths_.at(i); }
    const std::vector<std::filesystem::path>& paths() const { return paths_; }

    std::size_t bytes() const {
        std::size_t b = 0;
        for (const auto& im : images_) b += im.size() * sizeof(float);
        return b;
    }

    // The readable image files under `folder` (recursively), sorted.
    static std::vector<std::filesystem::path> image_files(const std::filesystem::path& folder) {
        namespace fs = std::filesystem;
        if (!fs::is_directory(folder))
            throw std::invalid_argument("deblur::train::TrainingSet: " + folder.string() + " is not a folder");
        std::vector<fs::path> files;
        for (const auto& entry : fs::recursive_directory_iterator(folder, fs::directory_options::follow_directory_symlink))
            if (entry.is_regular_file() && is_image_name(entry.path())) files.push_back(entry.path());
        std::sort(files.begin(), files.end());
        return files;
    }

    // One file as a gray image in [0, 1] (values of float formats are kept as stored).
    static Image load_gray(const std::filesystem::path& file) {
        const auto gray = io::to_gray(io::read_image(file).pixels);
        Image out = Image::from_shape({gray.shape(1), gray.shape(2)});
        std::copy(gray.data(), gray.data() + out.size(), out.data());
        return out;
    }

private:
    static bool is_image_name(const std::filesystem::path& p) {
        std::string ext = p.extension().string();
        for (auto& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".tif" || ext == ".tiff" || ext == ".pfm";
    }

    std::vector<Image> images_;
    std::vector<std::filesystem::path> paths_;
};

}  // namespace deblur::train
