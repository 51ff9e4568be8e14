#!/usr/bin/env bash
# The 33 px scale (scale 2) of DefaultNetwork, started from s25/best.dbm
# (its trained 17 and 25 px scales). Run from models/runs/ with the trainer built from
# examples/tools/train.cpp; pass --resume to continue from s33/checkpoint.dbm.
# Usage: nohup nice -n 19 bash s33/command.sh [--resume] >> s33/train.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
trainer=${DEBLUR_TRAIN:-../../build/examples/deblur-train}
exec "$trainer" --out s33 --scale 2 --init s25/best.dbm --steps 100000 --batch 8 \
  --learning-rate 1.0 --stage-steps 4000 --freeze-steps 500 --val-every 500 --val-images 40 --crop 128 \
  --train-dir ../../../shared/data/train --val-dir ../../../shared/data/val "$@"
