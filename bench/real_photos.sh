#!/usr/bin/env bash
# Deblurs every photo of ../shared/data/real with the default settings and
# writes OUT/<name>.png, OUT/<name>.kernel.png (the kernel as data, at its own
# size: deblur --kernel or deblur::io::read_kernel read it) and
# OUT/<name>.kernel-preview.png (the kernel magnified), for judging by eye
# (these photos have no ground truth). Usage, from the project root after a build:
#   bench/real_photos.sh [OUT]            # OUT defaults to real-results/
set -euo pipefail
out=${1:-real-results}
mkdir -p "$out"
for photo in ../shared/data/real/*.jpg ../shared/data/real/*.png ../shared/data/real/*.tif; do
  name=$(basename "${photo%.*}")
  echo "== $name"
  ./build/examples/deblur "$photo" "$out/$name.png" --kernel-preview "$out/$name.kernel-preview.png" 2>&1 | grep -E "noise|kernels on|warning|kernel [0-9]|wrote"
done
