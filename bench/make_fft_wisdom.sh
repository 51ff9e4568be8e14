#!/usr/bin/env bash
# Measures the FFT plans (FFTW_MEASURE) of the transforms the deblur program
# makes on the usual photos, and writes them as FFTW wisdom to
# models/fftw-wisdom-float.txt, which the library compiles in and imports
# (<deblur/fft/shipped_wisdom.hpp>): those sizes then get measured plans
# without planning time. Run it from the project root after a build, on a
# quiet machine of the kind the wisdom is for (the shipped file: the 2-core
# AVX-512 CI kind), then rebuild. The photos: Levin's 255^2 images, the
# README's sample, the real photos and bench/speed's 1024^2, 2048^2 and 12 MP
# colour photos, with the program's default threads (all cores).
#   bench/make_fft_wisdom.sh [OUT]       # OUT defaults to models/fftw-wisdom-float.txt
set -euo pipefail
out=${1:-models/fftw-wisdom-float.txt}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
wisdom=$work/wisdom.txt
./build/bench/speed --process 1024 2048 12mp --process-runs 1 --peer-max-mp 0 --keep --work "$work/photos" > /dev/null
photos=(examples/sample-blurry.png ../shared/data/levin/im*_blurry.png ../shared/data/real/*.* "$work"/photos/*-blurry.png)
for photo in "${photos[@]}"; do
  case $photo in *.md) continue ;; esac
  echo "== $photo"
  ./build/examples/deblur -q --fft-wisdom "$wisdom" "$photo" "$work/out.png"
done
cp "$wisdom" "$out"
echo "wrote $out ($(wc -c < "$out") bytes)"
