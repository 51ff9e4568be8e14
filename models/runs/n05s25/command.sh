#!/usr/bin/env bash
# The 25 px scale (scale 1) of noise-0.05.dbm: DefaultNetwork's 25 px scale
# (models/default.dbm, trained at sigma 0.01) fine-tuned at sigma 0.05, all
# stages learning from the first step, on the latent images of the noise
# model's own 17 px scale (--init-coarser). Run from models/runs/ with the
# trainer built from examples/tools/train.cpp; pass --resume to continue from
# n05s25/checkpoint.dbm.
# Usage: nohup nice -n 19 bash n05s25/command.sh [--resume] >> n05s25.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
trainer=${DEBLUR_TRAIN:-../../build/examples/deblur-train}
exec "$trainer" --out n05s25 --scale 1 --init ../default.dbm --init-coarser ../noise-0.05.dbm --noise 0.05 \
  --steps 30000 --batch 8 --learning-rate 0.5 --stage-steps 1 --freeze-steps 0 --val-every 500 --val-images 40 \
  --crop 128 --train-dir ../../../shared/data/train --val-dir ../../../shared/data/val "$@"
