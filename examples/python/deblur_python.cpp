// The Python module `deblur`: the embedding API (<deblur/deblur.hpp>) on
// NumPy arrays, and image files through deblur::io.
//
//   import deblur
//   result = deblur.blind_deblur(photo)          # H x W or H x W x C; uint8, uint16 or float32
//   result.sharp, result.kernel, result.noise, result.warning, result.seconds
//
// An array is read where it lies: its strides become the ImageView's (any
// positive strides, e.g. a[::2, ::2] or a transposed array); an array the
// view cannot describe (negative or zero strides, overlapping samples) is
// copied first. The result is a new C-contiguous array of the input's shape
// and dtype. The computation runs without the GIL; a progress callback is
// called with it (and Ctrl-C stops a call at its next progress step).
//
// Built by examples/python/CMakeLists.txt (pybind11); tests: test_deblur.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <deblur/deblur.hpp>
#include <deblur/io/read_image.hpp>
#include <deblur/io/write_image.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace py = pybind11;

namespace {

// --- Arrays as image views ----------------------------------------------------

std::string shape_text(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

std::string dtype_text(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

// The array's height, width and channels: H x W (1 channel) or H x W x C with C = 1, 3 or 4.
std::array<std::size_t, 3> image_shape(const py::array& a, const char* who, bool two_channels_too = false) {
    if (a.ndim() != 2 && a.ndim() != 3)
        throw py::value_error(std::string(who) + ": expected an image array of shape (H, W) or (H, W, C), got " +
                              std::to_string(a.ndim()) + "-D shape " + shape_text(a));
    const auto c = a.ndim() == 3 ? std::size_t(a.shape(2)) : 1;
    if (c != 1 && c != 3 && c != 4 && !(two_channels_too && c == 2))
        throw py::value_error(std::string(who) + ": the last axis holds " + std::to_string(c) +
                              " channels (shape " + shape_text(a) + "); expected 1 (gray), 3 (RGB) or 4 (RGBA)");
    if (a.shape(0) == 0 || a.shape(1) == 0) throw py::value_error(std::string(who) + ": empty image, shape " + shape_text(a));
    return {std::size_t(a.shape(0)), std::size_t(a.shape(1)), c};
}

template <class T>
bool has_dtype(const py::array& a) {
    return py::isinstance<py::array_t<T>>(a);  // equivalent dtype, native byte order
}

// Calls f(T{}) for the array's sample type T (uint8, uint16 or float32).
template <class F>
decltype(auto) with_sample_type(const py::array& a, const char* who, F&& f) {
    if (has_dtype<std::uint8_t>(a)) return f(std::uint8_t{});
    if (has_dtype<std::uint16_t>(a)) return f(std::uint16_t{});
    if (has_dtype<float>(a)) return f(float{});
    throw py::type_error(std::string(who) + ": the array's dtype is " + dtype_text(a) +
                         "; expected uint8, uint16 or float32 (e.g. a.astype(numpy.float32), values in [0, 1])");
}

// An array of samples T seen as an ImageView, keeping the array (or its copy) alive.
template <class T>
struct ImageArray {
    py::array array;  // what the view reads: the caller's array, or a C-contiguous copy of it
    std::vector<py::ssize_t> shape;  // the caller's shape, for the result
    deblur::ImageView<const T> view;
};

// Whether strides (in elements) describe the image without two samples on one
// element: the test of ImageView's constructor, which then cannot fail.
bool strides_nest(std::array<std::array<py::ssize_t, 2>, 3> axes) {
    std::sort(axes.begin(), axes.end());
    py::ssize_t span = 1;
    for (const auto& [stride, extent] : axes) {
        if (extent == 1) continue;
        if (stride < span) return false;
        span = stride * extent;
    }
    return true;
}

template <class T>
ImageArray<T> image_array(const py::array& in, const char* who) {
    const auto dims = image_shape(in, who);
    const std::size_t h = dims[0], w = dims[1], c = dims[2];
    py::array a = in;
    const auto strides = [&](const py::array& x) {
        std::array<py::ssize_t, 3> s{x.strides(0), x.strides(1), x.ndim() == 3 ? x.strides(2) : py::ssize_t(sizeof(T))};
        for (auto& v : s) v = v % py::ssize_t(sizeof(T)) ? -1 : v / py::ssize_t(sizeof(T));
        return s;
    };
    auto s = strides(a);
    const auto usable = [&] {
        const py::ssize_t extents[3] = {py::ssize_t(h), py::ssize_t(w), py::ssize_t(c)};
        for (int i = 0; i < 3; ++i)
            if (s[i] < 0 || (s[i] == 0 && extents[i] > 1)) return false;
        return strides_nest({{{s[1], extents[1]}, {s[0], extents[0]}, {s[2], extents[2]}}});
    };
    if (!usable()) {
        a = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(in);
        if (!a) throw py::error_already_set();
        s = strides(a);
    }
    std::vector<py::ssize_t> shape(in.shape(), in.shape() + in.ndim());
    const deblur::ImageView<const T> view(static_cast<const T*>(a.data()), w, h, c, std::size_t(s[1]), std::size_t(s[0]),
                                          std::size_t(s[2]));
    return {std::move(a), std::move(shape), view};
}

// A new C-contiguous array of `shape` holding the image.
template <class T>
py::array to_array(const deblur::ImageBuffer<T>& image, const std::vector<py::ssize_t>& shape) {
    py::array_t<T> out(shape);
    const auto v = image.view();
    const std::size_t h = v.height(), w = v.width(), c = v.channels();
    T* p = out.mutable_data();
    for (std::size_t y = 0; y < h; ++y)
        for (std::size_t x = 0; x < w; ++x)
            for (std::size_t k = 0; k < c; ++k) p[(y * w + x) * c + k] = v(y, x, k);
    return out;
}

py::array kernel_array(const xt::xtensor<float, 2>& kernel) {
    const auto rows = py::ssize_t(kernel.shape(0)), cols = py::ssize_t(kernel.shape(1));
    py::array_t<float> out({rows, cols});
    auto k = out.mutable_unchecked<2>();
    for (py::ssize_t i = 0; i < rows; ++i)
        for (py::ssize_t j = 0; j < cols; ++j) k(i, j) = kernel(std::size_t(i), std::size_t(j));
    return out;
}

// A blur kernel from Python: a 2-D array of numbers with odd sides, finite,
// with a positive sum; it is normalised to sum 1.
xt::xtensor<float, 2> kernel_from(const py::object& object, const char* who) {
    const auto k = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(object);
    if (!k) throw py::type_error(std::string(who) + ": the kernel must be a 2-D array of numbers");
    if (k.ndim() != 2)
        throw py::value_error(std::string(who) + ": the kernel must be a 2-D array, got shape " + shape_text(k));
    const auto rows = std::size_t(k.shape(0)), cols = std::size_t(k.shape(1));
    if (rows % 2 == 0 || cols % 2 == 0)
        throw py::value_error(std::string(who) + ": the kernel must have odd height and width (its centre is a pixel), got " +
                              std::to_string(rows) + " x " + std::to_string(cols) +
                              "; pad it with a row or column of zeros");
    xt::xtensor<float, 2> kernel = xt::empty<float>({rows, cols});
    double sum = 0;
    const auto r = k.unchecked<2>();
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j) {
            const float v = r(py::ssize_t(i), py::ssize_t(j));
            if (!std::isfinite(v)) throw py::value_error(std::string(who) + ": the kernel contains NaN or infinity");
            kernel(i, j) = v;
            sum += v;
        }
    if (!(sum > 0)) throw py::value_error(std::string(who) + ": the kernel's sum must be positive (it is normalised to 1)");
    kernel /= float(sum);
    return kernel;
}

// --- Options and progress ---------------------------------------------------

deblur::BlindDeblurOptions blind_options(std::optional<double> noise, int kernel_size, double gamma, bool refine,
                                         const char* who) {
    deblur::BlindDeblurOptions o;
    if (noise) {
        if (!(*noise >= 0) || !std::isfinite(*noise))
            throw py::value_error(std::string(who) + ": noise must be None (estimated) or a finite value >= 0");
        o.noise = *noise;
    }
    if (kernel_size < 0) throw py::value_error(std::string(who) + ": kernel_size must be 0 (automatic) or positive");
    o.kernel_size = kernel_size;
    o.gamma = gamma;  // checked by the library
    o.refine = refine;
    return o;
}

// The C++ progress function: with the GIL held, looks for Ctrl-C (and other
// signals) and calls the Python callable, if any. Its exceptions propagate
// through the library, which stops at once, and reach the caller.
class Progress {
public:
    Progress(py::object callback, const char* who) : callback_(std::move(callback)) {
        if (!callback_.is_none() && !PyCallable_Check(callback_.ptr()))
            throw py::type_error(std::string(who) + ": progress must be None or a callable taking a str");
    }
    // Refers to this object: valid while it lives (the length of the call).
    std::function<void(const std::string&)> function() const {
        return [this](const std::string& line) {
            py::gil_scoped_acquire gil;
            if (PyErr_CheckSignals() != 0) throw py::error_already_set();
            if (callback_.is_none()) return;
            PyObject* text = PyUnicode_DecodeUTF8(line.data(), py::ssize_t(line.size()), "replace");
            if (!text) throw py::error_already_set();
            callback_(py::reinterpret_steal<py::str>(text));
        };
    }

private:
    py::object callback_;
};

// --- Results -------------------------------------------------------------------

struct DeblurResult {
    py::array sharp;
    py::array kernel;
    double noise = 0;
    std::string warning;
    double seconds = 0;
    py::dict timings;
};

struct KernelResult {
    py::array kernel;
    bool reliable = true;
    std::string note;
    double noise = 0;
};

// --- The Deblurrer ---------------------------------------------------------------

// deblur::Deblurrer with a lock: one call at a time (taken after the GIL is
// released, so that a waiting thread never holds the GIL).
class PyDeblurrer {
public:
    PyDeblurrer(const std::optional<std::filesystem::path>& model_path, int threads)
        : deblurrer_(model_path ? deblur::Model::from_file(*model_path) : deblur::Model::default_model(), threads) {}

    DeblurResult deblur(const py::array& a, std::optional<double> noise, int kernel_size, double gamma, bool refine,
                        const py::object& progress) {
        const char* who = "deblur.blind_deblur";
        deblur::BlindDeblurOptions options = blind_options(noise, kernel_size, gamma, refine, who);
        const Progress lines(progress, who);
        options.progress = lines.function();
        return with_sample_type(a, who, [&](auto sample) {
            using T = decltype(sample);
            const ImageArray<T> image = image_array<T>(a, who);
            deblur::ImageDeblurResult<T> r;
            {
                py::gil_scoped_release released;
                const std::lock_guard lock(mutex_);
                r = deblurrer_.deblur(image.view, options);
            }
            DeblurResult out;
            out.sharp = to_array(r.sharp, image.shape);
            out.kernel = kernel_array(r.kernel);
            out.noise = r.noise;
            out.warning = r.warning;
            out.seconds = r.timings.total().wall;
            out.timings["preparation"] = r.timings.preparation.wall;
            out.timings["network"] = r.timings.network.wall;
            out.timings["refinement"] = r.timings.refinement.wall;
            out.timings["deconvolution"] = r.timings.deconvolution.wall;
            return out;
        });
    }

    KernelResult estimate_kernel(const py::array& a, std::optional<double> noise, int kernel_size, double gamma,
                                 bool refine, const py::object& progress) {
        const char* who = "deblur.estimate_kernel";
        deblur::BlindDeblurOptions options = blind_options(noise, kernel_size, gamma, refine, who);
        const Progress lines(progress, who);
        options.progress = lines.function();
        return with_sample_type(a, who, [&](auto sample) {
            using T = decltype(sample);
            const ImageArray<T> image = image_array<T>(a, who);
            deblur::KernelEstimate e;
            {
                py::gil_scoped_release released;
                const std::lock_guard lock(mutex_);
                e = deblurrer_.estimate_kernel(image.view, options);
            }
            return KernelResult{kernel_array(e.kernel), e.reliable, e.note, e.noise};
        });
    }

    py::array deconvolve(const py::array& a, const py::object& kernel, double noise) {
        const char* who = "deblur.deconvolve";
        if (!(noise >= 0) || !std::isfinite(noise)) throw py::value_error(std::string(who) + ": noise must be a finite value >= 0");
        const deblur::DeconvOptions options = deblur::DeconvOptions::for_noise(noise);
        const xt::xtensor<float, 2> k = kernel_from(kernel, who);
        return with_sample_type(a, who, [&](auto sample) {
            using T = decltype(sample);
            const ImageArray<T> image = image_array<T>(a, who);
            if (k.shape(0) > image.view.height() || k.shape(1) > image.view.width())
                throw py::value_error(std::string(who) + ": the kernel (" + std::to_string(k.shape(0)) + " x " +
                                      std::to_string(k.shape(1)) + ") is larger than the image " + shape_text(a));
            deblur::ImageBuffer<T> out;
            {
                py::gil_scoped_release released;
                const std::lock_guard lock(mutex_);
                out = deblurrer_.deconvolve(image.view, k, options);
            }
            return to_array(out, image.shape);
        });
    }

    void release_buffers() {
        py::gil_scoped_release released;
        const std::lock_guard lock(mutex_);
        deblurrer_.release_buffers();
    }
    bool holds_buffers() {
        py::gil_scoped_release released;
        const std::lock_guard lock(mutex_);
        return deblurrer_.holds_buffers();
    }
    int threads() const { return deblurrer_.threads(); }
    std::string model_name() const { return deblurrer_.model().name(); }

private:
    std::mutex mutex_;
    deblur::Deblurrer deblurrer_;
};

// The Deblurrer behind the module's functions: made at import, never
// destroyed (it outlives the interpreter's teardown), also deblur.default_deblurrer.
py::object& default_deblurrer() {
    static auto* d = new py::object(py::cast(new PyDeblurrer(std::nullopt, 0), py::return_value_policy::take_ownership));
    return *d;
}
PyDeblurrer& shared() { return default_deblurrer().cast<PyDeblurrer&>(); }

// --- Image files ---------------------------------------------------------------------

py::array read_image(const std::filesystem::path& path, bool alpha) {
    deblur::io::Image image;
    {
        py::gil_scoped_release released;
        image = deblur::io::read_image(path, alpha ? deblur::io::Alpha::keep : deblur::io::Alpha::drop);
    }
    const auto& p = image.pixels;
    const std::size_t c = p.shape(0), h = p.shape(1), w = p.shape(2);
    std::vector<py::ssize_t> shape{py::ssize_t(h), py::ssize_t(w)};
    if (c > 1) shape.push_back(py::ssize_t(c));
    py::array_t<float> out(shape);
    float* o = out.mutable_data();
    for (std::size_t k = 0; k < c; ++k)
        for (std::size_t y = 0; y < h; ++y)
            for (std::size_t x = 0; x < w; ++x) o[(y * w + x) * c + k] = p(k, y, x);
    return out;
}

void write_image(const std::filesystem::path& path, const py::array& a, std::optional<int> bits) {
    const char* who = "deblur.write_image";
    const auto dims = image_shape(a, who, true);
    const std::size_t h = dims[0], w = dims[1], c = dims[2];
    std::optional<deblur::io::SampleType> sample;
    if (bits) {
        if (*bits == 8) sample = deblur::io::SampleType::uint8;
        else if (*bits == 16) sample = deblur::io::SampleType::uint16;
        else if (*bits == 32) sample = deblur::io::SampleType::float32;
        else throw py::value_error(std::string(who) + ": bits must be None, 8, 16 or 32 (float)");
    }
    const bool pfm = deblur::io::format_from_extension(path) == deblur::io::ImageFormat::pfm;
    deblur::Tensor<float> pixels = deblur::Tensor<float>::from_shape({c, h, w});
    with_sample_type(a, who, [&](auto s) {
        using T = decltype(s);
        // Integer samples keep their depth (PFM holds floats only); float32: the format's default.
        if (!bits && !std::is_same_v<T, float> && !pfm)
            sample = std::is_same_v<T, std::uint8_t> ? deblur::io::SampleType::uint8 : deblur::io::SampleType::uint16;
        const float scale = std::is_same_v<T, float> ? 1.0f : float(std::numeric_limits<T>::max());
        const auto* base = static_cast<const char*>(a.data());
        const py::ssize_t sy = a.strides(0), sx = a.strides(1), sc = a.ndim() == 3 ? a.strides(2) : 0;
        for (std::size_t k = 0; k < c; ++k)
            for (std::size_t y = 0; y < h; ++y)
                for (std::size_t x = 0; x < w; ++x) {
                    T v;
                    std::memcpy(&v, base + py::ssize_t(y) * sy + py::ssize_t(x) * sx + py::ssize_t(k) * sc, sizeof(T));
                    pixels(k, y, x) = float(v) / scale;
                }
    });
    py::gil_scoped_release released;
    deblur::io::write_image(path, pixels, sample);
}

const char* const shared_note =
    "The module's functions share one Deblurrer, deblur.default_deblurrer (made at import, all cores): its buffers\n"
    "are kept between calls, and calls from several threads take turns. For parallel work give each thread its\n"
    "own deblur.Deblurrer.";

}  // namespace

PYBIND11_MODULE(deblur, m) {
    m.doc() = R"(Learned blind deconvolution of camera shake on NumPy arrays.

Images are arrays of shape (H, W) or (H, W, C) with C = 1 (gray), 3 (RGB) or 4
(RGBA: the alpha channel is passed through unchanged), of dtype uint8
(0..255), uint16 (0..65535) or float32 (nominally 0..1). Any strides are read
where they lie (views such as a[::2, ::2] or a transposed array included).
Results are new arrays of the input's shape and dtype.

    import deblur
    photo = deblur.read_image("blurry.png")      # float32 in [0, 1]
    result = deblur.blind_deblur(photo)
    deblur.write_image("sharp.png", result.sharp)
    print(result.kernel.shape, result.noise, result.warning)

C++ errors arrive as Python exceptions: ValueError for invalid arguments,
TypeError for unsupported dtypes, deblur.ModelError (a RuntimeError) for a
model file that cannot be used, deblur.ImageError (an OSError) for an image
file that cannot be read or written.)";

    py::register_exception<deblur::ModelError>(m, "ModelError", PyExc_RuntimeError);
    py::register_exception<deblur::io::ImageError>(m, "ImageError", PyExc_OSError);

    py::class_<DeblurResult>(m, "DeblurResult", "What blind_deblur returns.")
        .def_readonly("sharp", &DeblurResult::sharp,
                      "The deblurred image: the input's shape and dtype (the input's values when `warning` is set).")
        .def_readonly("kernel", &DeblurResult::kernel,
                      "The blur kernel, float32 (rows, cols): odd sides, sum 1, convolution convention.")
        .def_readonly("noise", &DeblurResult::noise, "The noise level (standard deviation, intensities in [0, 1]) used.")
        .def_readonly("warning", &DeblurResult::warning,
                      "Empty when the image was deblurred; otherwise why it was returned unchanged.")
        .def_readonly("seconds", &DeblurResult::seconds, "Total wall time of the call's stages, in seconds.")
        .def_readonly("timings", &DeblurResult::timings,
                      "Wall seconds by stage: preparation, network, refinement, deconvolution.")
        .def("__repr__", [](const DeblurResult& r) {
            std::ostringstream s;
            s << "<deblur.DeblurResult sharp " << shape_text(r.sharp) << " " << dtype_text(r.sharp) << ", kernel "
              << r.kernel.shape(0) << " x " << r.kernel.shape(1) << ", noise " << r.noise << ", " << r.seconds << " s"
              << (r.warning.empty() ? "" : ", warning: " + r.warning) << ">";
            return s.str();
        });

    py::class_<KernelResult>(m, "KernelEstimate", "What estimate_kernel returns.")
        .def_readonly("kernel", &KernelResult::kernel,
                      "The blur kernel, float32 (rows, cols): odd sides, sum 1, convolution convention.")
        .def_readonly("reliable", &KernelResult::reliable,
                      "False for a texture-free image and when the kernels on neighbouring supports disagree.")
        .def_readonly("note", &KernelResult::note, "Why the estimate is not reliable (empty when it is).")
        .def_readonly("noise", &KernelResult::noise, "The noise level the kernel was estimated with.")
        .def("__repr__", [](const KernelResult& r) {
            std::ostringstream s;
            s << "<deblur.KernelEstimate kernel " << r.kernel.shape(0) << " x " << r.kernel.shape(1) << ", reliable "
              << (r.reliable ? "True" : "False") << ", noise " << r.noise << (r.note.empty() ? "" : ", note: " + r.note) << ">";
            return s.str();
        });

    static const std::string deblur_doc = R"(Blind deblurring: estimates the camera-shake kernel and deconvolves every colour channel with it.

a: array (H, W) or (H, W, C), C = 1, 3 or 4; uint8, uint16 or float32.
noise: the noise level (standard deviation, intensities in [0, 1]); None estimates it.
kernel_size: the kernel's side in pixels; 0 chooses it automatically.
gamma: the input's gamma (2.2 for a typical JPEG, 1 for linear data).
refine: refine the network's kernel classically (slower, usually better).
progress: None or a callable taking a str, called with a line on each step.
Returns a DeblurResult (sharp, kernel, noise, warning, seconds, timings). An
image the blur cannot be estimated from reliably comes back unchanged, with
`warning` saying why.)";
    static const std::string estimate_doc = R"(The kernel blind_deblur would use for this image, without deconvolving.

Arguments as blind_deblur. Returns a KernelEstimate (kernel, reliable, note, noise).)";
    static const std::string deconvolve_doc = R"(Non-blind deconvolution of every colour channel with a known kernel.

a: array (H, W) or (H, W, C), C = 1, 3 or 4; uint8, uint16 or float32.
kernel: 2-D array of numbers with odd sides (convolution convention), normalised to sum 1 here.
noise: the image's noise level (standard deviation, intensities in [0, 1]); sets the prior's weight.
Returns an array of a's shape and dtype.)";

    py::class_<PyDeblurrer>(m, "Deblurrer", R"(A deblurrer that keeps its model, threads setting and buffers between calls.

Deblurrer(model_path=None, threads=0): model_path names a model file (.dbm);
None uses the shipped models, compiled into the module. threads: 0 uses all
cores (the process's OpenMP setting), n uses n for this Deblurrer's calls.
One call at a time: calls from several threads on one Deblurrer take turns.)")
        .def(py::init<const std::optional<std::filesystem::path>&, int>(), py::arg("model_path") = py::none(),
             py::arg("threads") = 0)
        .def("deblur", &PyDeblurrer::deblur, py::arg("a"), py::arg("noise") = py::none(), py::arg("kernel_size") = 0,
             py::arg("gamma") = 1.0, py::arg("refine") = true, py::arg("progress") = py::none(), deblur_doc.c_str())
        .def("estimate_kernel", &PyDeblurrer::estimate_kernel, py::arg("a"), py::arg("noise") = py::none(),
             py::arg("kernel_size") = 0, py::arg("gamma") = 1.0, py::arg("refine") = true,
             py::arg("progress") = py::none(), estimate_doc.c_str())
        .def("deconvolve", &PyDeblurrer::deconvolve, py::arg("a"), py::arg("kernel"), py::arg("noise") = 0.01,
             deconvolve_doc.c_str())
        .def("release_buffers", &PyDeblurrer::release_buffers,
             "Frees the buffers kept between calls; the next call rebuilds them, with the same results.")
        .def_property_readonly("holds_buffers", &PyDeblurrer::holds_buffers, "Whether buffers are kept between calls.")
        .def_property_readonly("threads", &PyDeblurrer::threads, "The threads setting (0: the process's).")
        .def_property_readonly("model_name", &PyDeblurrer::model_name, "The name of the model's low-noise network.");

    m.attr("default_deblurrer") = default_deblurrer();

    static const std::string blind_doc = deblur_doc + "\n\n" + shared_note;
    m.def(
        "blind_deblur",
        [](const py::array& a, std::optional<double> noise, int kernel_size, double gamma, bool refine,
           const py::object& progress) { return shared().deblur(a, noise, kernel_size, gamma, refine, progress); },
        py::arg("a"), py::arg("noise") = py::none(), py::arg("kernel_size") = 0, py::arg("gamma") = 1.0,
        py::arg("refine") = true, py::arg("progress") = py::none(), blind_doc.c_str());
    static const std::string estimate_fn_doc = estimate_doc + "\n\n" + shared_note;
    m.def(
        "estimate_kernel",
        [](const py::array& a, std::optional<double> noise, int kernel_size, double gamma, bool refine,
           const py::object& progress) { return shared().estimate_kernel(a, noise, kernel_size, gamma, refine, progress); },
        py::arg("a"), py::arg("noise") = py::none(), py::arg("kernel_size") = 0, py::arg("gamma") = 1.0,
        py::arg("refine") = true, py::arg("progress") = py::none(), estimate_fn_doc.c_str());
    static const std::string deconvolve_fn_doc = deconvolve_doc + "\n\n" + shared_note;
    m.def(
        "deconvolve",
        [](const py::array& a, const py::object& kernel, double noise) { return shared().deconvolve(a, kernel, noise); },
        py::arg("a"), py::arg("kernel"), py::arg("noise") = 0.01, deconvolve_fn_doc.c_str());

    m.def("read_image", &read_image, py::arg("path"), py::arg("alpha") = false,
          R"(Reads a PNG, JPEG, TIFF or PFM file (recognised by its contents) as a float32 array.

Returns shape (H, W) for a gray image, (H, W, C) otherwise; integer samples
scaled to [0, 1], float samples as stored. alpha=False drops an alpha
channel; True keeps it as the last channel. Raises deblur.ImageError (an
OSError) for a file that is missing, corrupt or of an unsupported format.)");
    m.def("write_image", &write_image, py::arg("path"), py::arg("a"), py::arg("bits") = py::none(),
          R"(Writes an array (H, W) or (H, W, C), C = 1 to 4, of dtype uint8, uint16 or float32 as an image file.

The format comes from the extension: .png (8/16-bit), .tif/.tiff (8/16-bit or
float), .pfm (float; 1 or 3 channels). bits=None keeps an integer array's
depth (uint8: 8, uint16: 16) and writes float32 arrays at the format's
default (PNG and TIFF 8-bit, PFM float); 8, 16 or 32 choose. Float values are
clamped to [0, 1] for integer formats. The write is atomic. Raises
deblur.ImageError (an OSError) on failure.)");
}
