#pragma once
// Loss curves as a PNG: training loss and validation loss against the step,
// log-scale y, on a white canvas with axes, grid and labels. Drawn by plain
// rasterisation into an RGB buffer (text from stb_easy_font), encoded with
// stb_image_write and written atomically, so a viewer polling the file during
// training never sees a half-written image.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "../core/atomic_file.hpp"
#include "training_log.hpp"

// stb's single-file libraries as static functions: every translation unit gets
// its own private copy, so including this header anywhere links without
// duplicate symbols. (If stb_image_write was already included, its functions
// are already declared and defined by whoever included it.)
#ifndef INCLUDE_STB_IMAGE_WRITE_H
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#undef STB_IMAGE_WRITE_IMPLEMENTATION
#undef STB_IMAGE_WRITE_STATIC
#endif
#include <stb/stb_easy_font.h>

namespace deblur::train {

// 8-bit RGB pixels, row-major, top row first.
struct RgbImage {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> pixels;  // width * height * 3
};

struct LossPlotOptions {
    int width = 900;
    int height = 540;
    std::string title = "kernel loss";
};

namespace detail {

using Rgb = std::array<std::uint8_t, 3>;

class Canvas {
public:
    Canvas(int width, int height) : image_{width, height, std::vector<std::uint8_t>(std::size_t(width) * height * 3, 255)} {}

    // Pixels outside the clip rectangle are left alone.
    void clip(int x0, int y0, int x1, int y1) { clip_ = {x0, y0, x1, y1}; }
    void unclip() { clip_ = {0, 0, image_.width - 1, image_.height - 1}; }

    void set(int x, int y, Rgb c) {
        if (x < clip_[0] || y < clip_[1] || x > clip_[2] || y > clip_[3]) return;
        std::uint8_t* p = &image_.pixels[(std::size_t(y) * image_.width + x) * 3];
        p[0] = c[0];
        p[1] = c[1];
        p[2] = c[2];
    }

    void fill_rect(int x0, int y0, int x1, int y1, Rgb c) {
        for (int y = y0; y <= y1; ++y)
            for (int x = x0; x <= x1; ++x) set(x, y, c);
    }

    // Bresenham line, `thickness` pixels wide (a square brush).
    void line(double xa, double ya, double xb, double yb, Rgb c, int thickness = 1) {
        const double limit = 1e6;  // keeps wildly off-canvas points from overflowing int
        int x0 = int(std::lround(std::clamp(xa, -limit, limit))), y0 = int(std::lround(std::clamp(ya, -limit, limit)));
        const int x1 = int(std::lround(std::clamp(xb, -limit, limit))), y1 = int(std::lround(std::clamp(yb, -limit, limit)));
        const int dx = std::abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
        const int dy = -std::abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
        const int lo = -(thickness - 1) / 2, hi = thickness / 2;
        for (int err = dx + dy;;) {
            fill_rect(x0 + lo, y0 + lo, x0 + hi, y0 + hi, c);
            if (x0 == x1 && y0 == y1) break;
            const int e2 = 2 * err;
            if (e2 >= dy) {
                err += dy;
                x0 += sx;
            }
            if (e2 <= dx) {
                err += dx;
                y0 += sy;
            }
        }
    }

    // Text with its top-left corner at (x, y); stb_easy_font glyphs are ~5x7 pixels per `scale`.
    void text(int x, int y, const std::string& s, Rgb c, int scale = 1) {
        std::string buffer = s;  // stb_easy_font takes a mutable char*
        std::vector<float> vertices(buffer.size() * 400 + 64);
        const int quads = stb_easy_font_print(0, 0, buffer.data(), nullptr, vertices.data(),
                                              int(vertices.size() * sizeof(float)));
        for (int q = 0; q < quads; ++q) {
            // Each quad is 4 vertices of (x, y, z, rgba) = 4 floats; corners 0 and 2 span it.
            const float* v = &vertices[std::size_t(q) * 16];
            const int qx0 = int(v[0]), qy0 = int(v[1]), qx1 = int(v[8]), qy1 = int(v[9]);
            fill_rect(x + qx0 * scale, y + qy0 * scale, x + qx1 * scale - 1, y + qy1 * scale - 1, c);
        }
    }

    static int text_width(const std::string& s, int scale = 1) {
        std::string buffer = s;
        return stb_easy_font_width(buffer.data()) * scale;
    }

    RgbImage& image() { return image_; }

private:
    RgbImage image_;
    std::array<int, 4> clip_{0, 0, image_.width - 1, image_.height - 1};
};

// A "nice" tick spacing (1, 2 or 5 times a power of ten) giving about `count` ticks over `range`.
inline double nice_tick(double range, int count) {
    const double raw = range / std::max(count, 1);
    const double p = std::pow(10.0, std::floor(std::log10(raw)));
    for (double m : {1.0, 2.0, 5.0})
        if (m * p >= raw) return m * p;
    return 10 * p;
}

inline std::string format_tick(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

}  // namespace detail

// The plot as pixels (see write_loss_plot).
inline RgbImage render_loss_plot(std::span<const LogRecord> records, const LossPlotOptions& options = {}) {
    using detail::Rgb;
    if (options.width < 200 || options.height < 150)
        throw std::invalid_argument("deblur::train::render_loss_plot: the canvas must be at least 200 x 150");
    const Rgb black{0, 0, 0}, grid{225, 225, 225}, minor_grid{242, 242, 242}, text_gray{60, 60, 60};
    const Rgb loss_color{31, 119, 180}, val_color{230, 110, 0};
    detail::Canvas canvas(options.width, options.height);
    const int left = 70, right = options.width - 20, top = 34, bottom = options.height - 44;

    // Data ranges: steps on x, log10 of the positive finite losses on y (whole decades).
    double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo;
    double v_lo = std::numeric_limits<double>::infinity(), v_hi = -v_lo;
    for (const auto& r : records) {
        x_lo = std::min(x_lo, double(r.step));
        x_hi = std::max(x_hi, double(r.step));
        for (double v : {r.loss, r.val_loss})
            if (std::isfinite(v) && v > 0) {
                v_lo = std::min(v_lo, v);
                v_hi = std::max(v_hi, v);
            }
    }
    if (!(x_lo <= x_hi)) x_lo = 0, x_hi = 1;
    if (x_hi == x_lo) x_hi = x_lo + 1;
    if (!(v_lo <= v_hi)) v_lo = 1e-3, v_hi = 1;
    double y_lo = std::floor(std::log10(v_lo)), y_hi = std::ceil(std::log10(v_hi));
    if (y_hi <= y_lo) y_hi = y_lo + 1;

    auto px = [&](double step) { return left + (step - x_lo) / (x_hi - x_lo) * (right - left); };
    auto py = [&](double value) { return bottom - (std::log10(value) - y_lo) / (y_hi - y_lo) * (bottom - top); };

    // Grid and tick labels: decades on y (with 2..9 minor lines, labelled too when
    // the plot spans a single decade), nice round steps on x.
    const bool label_minor = (y_hi - y_lo) <= 1;
    for (int d = int(y_lo); d <= int(y_hi); ++d) {
        for (int m = 1; m <= 9 && (m == 1 || d < int(y_hi)); ++m) {
            const double value = m * std::pow(10.0, d);
            const int y = int(std::lround(py(value)));
            canvas.line(left, y, right, y, m == 1 ? grid : minor_grid);
            if (m == 1 || (label_minor && (m == 2 || m == 5))) {
                char buf[32];
                if (m == 1)
                    std::snprintf(buf, sizeof buf, "1e%d", d);
                else
                    std::snprintf(buf, sizeof buf, "%de%d", m, d);
                const std::string label = buf;
                canvas.text(left - 8 - detail::Canvas::text_width(label), y - 3, label, text_gray);
                canvas.line(left - 5, y, left, y, black);
            }
        }
    }
    const double dx = detail::nice_tick(x_hi - x_lo, 8);
    for (double s = std::ceil(x_lo / dx) * dx; s <= x_hi + 1e-9 * dx; s += dx) {
        const int x = int(std::lround(px(s)));
        canvas.line(x, top, x, bottom, grid);
        canvas.line(x, bottom, x, bottom + 5, black);
        const std::string label = detail::format_tick(s);
        canvas.text(x - detail::Canvas::text_width(label) / 2, bottom + 9, label, text_gray);
    }
    canvas.line(left, top, left, bottom, black);
    canvas.line(left, bottom, right, bottom, black);
    canvas.line(right, top, right, bottom, black);
    canvas.line(left, top, right, top, black);
    canvas.text(left, 10, options.title, black, 2);
    const std::string xlabel = "step";
    canvas.text((left + right - detail::Canvas::text_width(xlabel, 2)) / 2, bottom + 24, xlabel, black, 2);

    // The curves.
    canvas.clip(left + 1, top + 1, right - 1, bottom - 1);
    auto draw_series = [&](double LogRecord::*field, Rgb color, int thickness, bool markers) {
        bool have_previous = false;
        double x_prev = 0, y_prev = 0;
        for (const auto& r : records) {
            const double v = r.*field;
            if (std::isnan(v)) continue;  // not measured at this step: join the neighbours
            if (!(std::isfinite(v) && v > 0)) {
                have_previous = false;  // cannot be shown on a log scale: break the line
                continue;
            }
            const double x = px(double(r.step)), y = py(v);
            if (have_previous) canvas.line(x_prev, y_prev, x, y, color, thickness);
            if (markers) {
                const int xi = int(std::lround(x)), yi = int(std::lround(y));
                canvas.fill_rect(xi - 2, yi - 2, xi + 2, yi + 2, color);
            }
            x_prev = x, y_prev = y, have_previous = true;
        }
    };
    draw_series(&LogRecord::loss, loss_color, 1, records.size() == 1);
    draw_series(&LogRecord::val_loss, val_color, 2, true);
    canvas.unclip();

    // Legend, top right inside the frame.
    const int lx = right - 120, ly = top + 10;
    canvas.fill_rect(lx - 8, ly - 6, right - 8, ly + 30, Rgb{255, 255, 255});
    canvas.line(lx, ly, lx + 24, ly, loss_color, 2);
    canvas.text(lx + 32, ly - 4, "loss", black);
    canvas.line(lx, ly + 18, lx + 24, ly + 18, val_color, 2);
    canvas.fill_rect(lx + 10, ly + 16, lx + 14, ly + 20, val_color);
    canvas.text(lx + 32, ly + 14, "val loss", black);
    return std::move(canvas.image());
}

// Encodes an RGB image as PNG bytes.
inline std::string encode_png(const RgbImage& image) {
    if (image.width <= 0 || image.height <= 0 ||
        image.pixels.size() != std::size_t(image.width) * std::size_t(image.height) * 3)
        throw std::invalid_argument("deblur::train::encode_png: pixel buffer does not match the size");
    std::string bytes;
    auto sink = [](void* context, void* data, int size) {
        static_cast<std::string*>(context)->append(static_cast<const char*>(data), std::size_t(size));
    };
    if (!stbi_write_png_to_func(sink, &bytes, image.width, image.height, 3, image.pixels.data(), image.width * 3))
        throw std::runtime_error("deblur::train::encode_png: stb_image_write failed");
    return bytes;
}

// Renders the loss curves of `records` and writes them to `path` as PNG (atomically).
inline void write_loss_plot(const std::filesystem::path& path, std::span<const LogRecord> records,
                            const LossPlotOptions& options = {}) {
    write_file_atomically(path, encode_png(render_loss_plot(records, options)));
}

}  // namespace deblur::train
