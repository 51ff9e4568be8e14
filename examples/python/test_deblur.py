"""Tests of the Python module `deblur` (deblur_python.cpp) on arrays made here.

Run from this folder with the built module on the path:

    PYTHONPATH=../../build/examples/python python3 -m unittest -v test_deblur

(CTest does so: ctest -L python.) The scene is soft discs and bars blurred
'valid' by a 13 px camera-shake path with a little noise: 160 x 160 px, a
fraction of a second per blind deblurring.
"""
import os
import tempfile
import threading
import unittest

import numpy as np

import deblur


def motion_kernel(size=13, seed=3):
    """A smooth camera-shake path splatted bilinearly into size x size, sum 1."""
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, 3)
    t = np.linspace(0, 1, 200)
    span = size - 3
    x = 0.35 * span * np.sin(1.2 * np.pi * t + phase[0]) + 0.15 * span * np.sin(2.6 * np.pi * t + phase[1])
    y = 0.35 * span * np.cos(np.pi * t + phase[2]) + 0.1 * span * t
    x += size // 2 - (x.max() + x.min()) / 2
    y += size // 2 - (y.max() + y.min()) / 2
    k = np.zeros((size, size))
    for xi, yi in zip(x, y):
        x0, y0 = int(np.floor(xi)), int(np.floor(yi))
        fx, fy = xi - x0, yi - y0
        k[y0:y0 + 2, x0:x0 + 2] += np.outer([1 - fy, fy], [1 - fx, fx])
    return (k / k.sum()).astype(np.float32)


def scene(n=172, seed=5):
    """Soft discs and upright bars of random grey levels on black, n x n float32."""
    rng = np.random.default_rng(seed)
    sharp = np.zeros((n, n), np.float32)
    yy, xx = np.mgrid[0:n, 0:n]
    for i in range(40):
        cy, cx, r, v = rng.uniform(0, n), rng.uniform(0, n), 4 + 14 * rng.uniform(), rng.uniform()
        if i % 2:
            inside = (np.abs(yy - cy) < r) & (np.abs(xx - cx) < r / 3)
        else:
            inside = np.hypot(yy - cy, xx - cx) < r
        sharp[inside] = 0.15 + 0.7 * v
    return sharp


def blur_valid(image, kernel):
    """The 'valid' convolution of a 2-D image with a kernel (no wrap-around, no padding)."""
    kh, kw = kernel.shape
    h, w = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    out = np.zeros((h, w))
    for i in range(kh):
        for j in range(kw):
            out += kernel[i, j] * image[kh - 1 - i:kh - 1 - i + h, kw - 1 - j:kw - 1 - j + w]
    return out


def psnr(a, b):
    return -10 * np.log10(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))


class DeblurTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.kernel = motion_kernel()
        sharp = scene()
        r = cls.kernel.shape[0] // 2
        cls.sharp = sharp[r:-r, r:-r]  # what the blurry pixels show, sharp
        blurry = blur_valid(sharp, cls.kernel) + np.random.default_rng(1).normal(0, 0.003, cls.sharp.shape)
        cls.blurry = np.clip(blurry, 0, 1).astype(np.float32)  # 160 x 160
        cls.gray8 = np.round(cls.blurry * 255).astype(np.uint8)

    def check_kernel(self, kernel):
        self.assertIsInstance(kernel, np.ndarray)
        self.assertEqual(kernel.dtype, np.float32)
        self.assertEqual(kernel.ndim, 2)
        self.assertEqual(kernel.shape[0], kernel.shape[1])
        self.assertEqual(kernel.shape[0] % 2, 1)
        self.assertAlmostEqual(float(kernel.sum()), 1.0, places=4)
        self.assertGreaterEqual(float(kernel.min()), 0.0)

    # --- blind_deblur: shapes, dtypes, layouts ---------------------------------

    def test_uint8_gray(self):
        result = deblur.blind_deblur(self.gray8)
        self.assertEqual(result.sharp.shape, self.gray8.shape)
        self.assertEqual(result.sharp.dtype, np.uint8)
        self.assertEqual(result.warning, "")
        self.check_kernel(result.kernel)
        self.assertGreaterEqual(result.kernel.shape[0], 9)
        self.assertIsInstance(result.noise, float)
        self.assertGreater(result.noise, 0.0)
        self.assertLess(result.noise, 0.02)
        self.assertGreater(result.seconds, 0.0)
        self.assertEqual(set(result.timings), {"preparation", "network", "refinement", "deconvolution"})
        self.assertGreater(np.count_nonzero(result.sharp != self.gray8), self.gray8.size // 2)
        self.assertIn("DeblurResult", repr(result))

    def test_uint16_rgb(self):
        rgb = np.stack([self.blurry * 0.9, self.blurry, self.blurry * 0.8], axis=2)
        rgb16 = np.round(rgb * 65535).astype(np.uint16)
        result = deblur.blind_deblur(rgb16)
        self.assertEqual(result.sharp.shape, rgb16.shape)
        self.assertEqual(result.sharp.dtype, np.uint16)
        self.assertEqual(result.warning, "")
        self.check_kernel(result.kernel)

    def test_float32_rgba_keeps_alpha(self):
        alpha = np.random.default_rng(2).uniform(0, 1, self.blurry.shape).astype(np.float32)
        rgba = np.dstack([self.blurry, self.blurry, self.blurry, alpha])
        result = deblur.blind_deblur(rgba)
        self.assertEqual(result.sharp.shape, rgba.shape)
        self.assertEqual(result.sharp.dtype, np.float32)
        np.testing.assert_array_equal(result.sharp[..., 3], alpha)
        self.assertFalse(np.array_equal(result.sharp[..., 0], self.blurry))

    def test_non_contiguous_input_equals_contiguous_copy(self):
        h, w = self.gray8.shape
        padded = np.full((2 * h, 2 * w), 255, np.uint8)  # every other row and column is not the image
        padded[::2, ::2] = self.gray8
        view = padded[::2, ::2]
        self.assertFalse(view.flags.c_contiguous)
        strided = deblur.blind_deblur(view)
        packed = deblur.blind_deblur(np.ascontiguousarray(view))
        np.testing.assert_array_equal(strided.kernel, packed.kernel)
        np.testing.assert_array_equal(strided.sharp, packed.sharp)
        self.assertTrue(strided.sharp.flags.c_contiguous)

    def test_transposed_and_planar_inputs(self):
        transposed = self.gray8.T  # pixels a row apart, rows one sample apart
        a = deblur.estimate_kernel(transposed)
        b = deblur.estimate_kernel(np.ascontiguousarray(transposed))
        np.testing.assert_array_equal(a.kernel, b.kernel)
        # Planar RGB (channel planes) seen as H x W x 3, and a reversed view (copied inside).
        planes = np.stack([self.blurry, self.blurry * 0.5, self.blurry * 0.25])
        planar = planes.transpose(1, 2, 0)
        np.testing.assert_array_equal(deblur.deconvolve(planar, self.kernel, 0.003),
                                      deblur.deconvolve(np.ascontiguousarray(planar), self.kernel, 0.003))
        reversed_rows = self.gray8[::-1]
        np.testing.assert_array_equal(deblur.deconvolve(reversed_rows, self.kernel, 0.003),
                                      deblur.deconvolve(reversed_rows.copy(), self.kernel, 0.003))
        single = self.gray8[:, :, np.newaxis]  # H x W x 1 stays so
        self.assertEqual(deblur.deconvolve(single, self.kernel, 0.003).shape, single.shape)

    # --- estimate_kernel and deconvolve -------------------------------------------

    def test_estimate_kernel(self):
        estimate = deblur.estimate_kernel(self.gray8)
        self.check_kernel(estimate.kernel)
        self.assertTrue(estimate.reliable)
        self.assertEqual(estimate.note, "")
        self.assertGreater(estimate.noise, 0.0)
        given = deblur.estimate_kernel(self.gray8, noise=0.003, kernel_size=15)
        self.check_kernel(given.kernel)
        self.assertEqual(given.noise, 0.003)
        flat = deblur.estimate_kernel(np.full((64, 64), 0.5, np.float32))
        self.assertFalse(flat.reliable)
        self.assertNotEqual(flat.note, "")
        self.assertEqual(flat.kernel.shape, (1, 1))

    def test_deconvolve_with_true_kernel_sharpens(self):
        restored = deblur.deconvolve(self.blurry, self.kernel, noise=0.003)
        self.assertEqual(restored.shape, self.blurry.shape)
        self.assertEqual(restored.dtype, np.float32)
        before, after = psnr(self.blurry, self.sharp), psnr(restored, self.sharp)
        self.assertGreater(after, before + 6, f"PSNR {before:.1f} dB blurry, {after:.1f} dB deconvolved")
        # uint8 in, uint8 out; an unnormalised float64 kernel is normalised.
        restored8 = deblur.deconvolve(self.gray8, self.kernel.astype(np.float64) * 3)
        self.assertEqual(restored8.dtype, np.uint8)
        self.assertGreater(psnr(restored8 / 255.0, self.sharp), before + 6)

    # --- progress, threads, the Deblurrer class ---------------------------------

    def test_progress_lines_are_strings(self):
        lines = []
        deblur.estimate_kernel(self.gray8, progress=lines.append)
        self.assertGreater(len(lines), 0)
        self.assertTrue(all(isinstance(line, str) and line for line in lines))

    def test_exception_in_progress_propagates(self):
        def stop(line):
            raise KeyError("stop here")

        with self.assertRaises(KeyError):
            deblur.estimate_kernel(self.gray8, progress=stop)
        self.check_kernel(deblur.estimate_kernel(self.gray8).kernel)  # the shared Deblurrer still works

    def test_calls_from_threads_take_turns(self):
        expected = deblur.estimate_kernel(self.gray8).kernel
        results, lines = [None, None], [[], []]

        def work(i):
            results[i] = deblur.estimate_kernel(self.gray8, progress=lines[i].append).kernel

        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for i in range(2):
            np.testing.assert_array_equal(results[i], expected)
            self.assertGreater(len(lines[i]), 0)

    def test_deblurrer_object(self):
        d = deblur.Deblurrer(threads=1)
        self.assertEqual(d.threads, 1)
        self.assertIn("default.dbm", d.model_name)
        self.assertFalse(d.holds_buffers)
        result = d.deblur(self.gray8, noise=0.003)
        self.assertEqual(result.sharp.shape, self.gray8.shape)
        self.assertEqual(result.noise, 0.003)
        self.assertTrue(d.holds_buffers)
        self.check_kernel(d.estimate_kernel(self.gray8, noise=0.003).kernel)
        self.assertEqual(d.deconvolve(self.gray8, result.kernel, 0.003).shape, self.gray8.shape)
        d.release_buffers()
        self.assertFalse(d.holds_buffers)
        self.assertIsInstance(deblur.default_deblurrer, deblur.Deblurrer)

    # --- errors -----------------------------------------------------------------------

    def test_errors(self):
        img = self.gray8
        for dtype in (np.float64, np.int32, np.bool_, np.int8):
            with self.assertRaises(TypeError, msg=str(dtype)):
                deblur.blind_deblur(img.astype(dtype))
        with self.assertRaises(TypeError):
            deblur.deconvolve(img.astype(np.float64), self.kernel)
        with self.assertRaisesRegex(ValueError, "2 channels"):
            deblur.blind_deblur(np.zeros((32, 32, 2), np.uint8))
        with self.assertRaisesRegex(ValueError, "4-D"):
            deblur.blind_deblur(np.zeros((2, 32, 32, 3), np.uint8))
        with self.assertRaises(ValueError):
            deblur.estimate_kernel(np.zeros(32, np.uint8))
        with self.assertRaises(ValueError):
            deblur.estimate_kernel(np.zeros((0, 32), np.uint8))
        with self.assertRaisesRegex(ValueError, "odd"):
            deblur.deconvolve(img, np.ones((4, 4), np.float32))
        with self.assertRaises(ValueError):
            deblur.deconvolve(img, np.ones((3, 3, 3), np.float32))
        with self.assertRaises(ValueError):
            deblur.deconvolve(img, np.zeros((3, 3), np.float32))
        with self.assertRaises(ValueError):
            deblur.deconvolve(img[:8, :8], np.ones((9, 9), np.float32))
        with self.assertRaises(ValueError):
            deblur.deconvolve(img, self.kernel, noise=-0.1)
        with self.assertRaises(ValueError):
            deblur.blind_deblur(img, noise=-1.0)
        with self.assertRaises(ValueError):
            deblur.blind_deblur(img, gamma=0.0)
        with self.assertRaises(ValueError):
            deblur.blind_deblur(img, kernel_size=-3)
        nan = self.blurry.copy()
        nan[5, 7] = np.nan
        with self.assertRaisesRegex(ValueError, "NaN"):
            deblur.estimate_kernel(nan)
        with self.assertRaises(TypeError):
            deblur.estimate_kernel(img, progress=5)
        with self.assertRaises(ValueError):
            deblur.Deblurrer(threads=-1)
        with self.assertRaises(deblur.ModelError) as caught:
            deblur.Deblurrer(model_path="no-such-model.dbm")
        self.assertIsInstance(caught.exception, RuntimeError)
        self.assertIn("no-such-model.dbm", str(caught.exception))

    # --- image files ------------------------------------------------------------------

    def test_read_write_round_trips(self):
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "gray.png")
            deblur.write_image(path, self.gray8)
            back = deblur.read_image(path)
            self.assertEqual(back.dtype, np.float32)
            self.assertEqual(back.shape, self.gray8.shape)
            np.testing.assert_allclose(back, self.gray8 / 255.0, atol=1e-6)

            rgb16 = (np.random.default_rng(3).uniform(0, 1, (20, 30, 3)) * 65535).astype(np.uint16)
            path = os.path.join(folder, "rgb16.png")
            deblur.write_image(path, rgb16)
            np.testing.assert_allclose(deblur.read_image(path), rgb16 / 65535.0, atol=1e-6)

            rgba = np.random.default_rng(4).integers(0, 256, (10, 12, 4), dtype=np.uint8)
            path = os.path.join(folder, "rgba.png")
            deblur.write_image(path, rgba[::-1])  # any strides
            self.assertEqual(deblur.read_image(path).shape, (10, 12, 3))
            np.testing.assert_allclose(deblur.read_image(path, alpha=True), rgba[::-1] / 255.0, atol=1e-6)

            path = os.path.join(folder, "float.pfm")
            deblur.write_image(path, self.blurry)
            np.testing.assert_array_equal(deblur.read_image(path), self.blurry)

            with self.assertRaises(deblur.ImageError) as caught:
                deblur.read_image(os.path.join(folder, "missing.png"))
            self.assertIsInstance(caught.exception, OSError)
            with open(os.path.join(folder, "junk.png"), "wb") as f:
                f.write(b"not an image at all")
            with self.assertRaises(OSError):
                deblur.read_image(os.path.join(folder, "junk.png"))
            with self.assertRaises(deblur.ImageError):
                deblur.write_image(os.path.join(folder, "out.xyz"), self.gray8)
            with self.assertRaises(TypeError):
                deblur.write_image(os.path.join(folder, "out.png"), self.blurry.astype(np.float64))


if __name__ == "__main__":
    unittest.main()
