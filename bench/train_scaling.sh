#!/usr/bin/env bash
# Data-parallel training on this machine: examples per second of the 17 px
# scale (bench/train_speed) as 1 process x 1 thread, 1 process x 2 threads
# (OpenMP) and 2 MPI processes x 1 thread, the scaling efficiency of the MPI
# run, and the time per step spent exchanging gradients between processes.
#
#   bash bench/train_scaling.sh [--crops 128] [--steps 20] [--batch 8] ...
#
# Run from the project root after building with MPI (libopenmpi-dev); the
# arguments go to every train_speed run. Needs ../shared/data/train.
set -euo pipefail
cd "$(dirname "$0")/.."
speed=./build/bench/train_speed
mpiexec=$(command -v mpiexec || true)
if [ ! -x "$speed" ] || [ -z "$mpiexec" ]; then
  echo "train_scaling: needs $speed built with MPI and mpiexec on PATH" >&2
  exit 1
fi
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--crops 128 --steps 20)
# Open MPI: allow root (CI machines), more processes than cores if asked.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) cores"
rows() { grep '^| [0-9]' || true; }
one_one=$("$speed" --threads 1 --no-generation "${args[@]}" | rows)
one_two=$("$speed" --threads 2 --no-generation "${args[@]}" | rows)
two_one=$("$mpiexec" -np 2 -x OMP_NUM_THREADS=1 "$speed" --threads 1 --no-generation "${args[@]}" | rows)
echo
echo "| crop | processes x threads | training (examples/s) | step (ms) | exchange (ms per step) | gradients exchanged (KB per step) |"
echo "|---|---|---|---|---|---|"
printf '%s\n%s\n%s\n' "$one_one" "$one_two" "$two_one"
echo
# Scaling efficiency per crop: examples/s of 2 processes / (2 x examples/s of 1 process), 1 thread each.
rate() { awk -F' [|] ' -v crop="$2" '$1 == "| " crop { print $3 }' <<< "$1"; }
for crop in $(awk -F' [|] ' '{ sub(/^[|] /, "", $1); print $1 }' <<< "$one_one" | tr ' ' '_'); do
  c=${crop//_/ }
  one=$(rate "$one_one" "$c"); two=$(rate "$two_one" "$c")
  awk -v c="$c" -v one="$one" -v two="$two" 'BEGIN {
    printf "scaling efficiency at %s: %.0f %% (2 processes x 1 thread %.1f examples/s, 1 process x 1 thread %.1f)\n", c, 100 * two / (2 * one), two, one }'
done
