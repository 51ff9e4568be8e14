"""Deblur a photo with the Python module `deblur`.

    PYTHONPATH=build/examples/python python3 examples/python/example.py [blurry.png [sharp.png]]

Without arguments it deblurs examples/sample-blurry.png and writes
sample-deblurred.png in the current folder.
"""
import os
import sys

import deblur

here = os.path.dirname(os.path.abspath(__file__))
source = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "sample-blurry.png")
target = sys.argv[2] if len(sys.argv) > 2 else "sample-deblurred.png"

photo = deblur.read_image(source)  # float32 in [0, 1]: (H, W) gray or (H, W, 3) colour
print(f"{source}: {photo.shape[1]} x {photo.shape[0]}, {1 if photo.ndim == 2 else photo.shape[2]} channel(s)")

# gamma=2.2 suits a typical camera JPEG (sRGB); 1.0 (the default) linear data such as the synthetic sample.
result = deblur.blind_deblur(photo, gamma=1.0, progress=lambda line: print("  " + line))

deblur.write_image(target, result.sharp)  # 8-bit PNG (bits=16 for 16-bit)
rows, cols = result.kernel.shape
print(f"kernel {cols} x {rows}, noise {result.noise:.4f}, {result.seconds:.2f} s")
print(f"warning: {result.warning}" if result.warning else f"wrote {target}")
