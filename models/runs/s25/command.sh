#!/usr/bin/env bash
# The 25 px scale (scale 1) of DefaultNetwork, started from models/default.dbm
# (its 17 px scale). Run from models/runs/ with the trainer built from
# examples/tools/train.cpp; pass --resume to continue from s25/checkpoint.dbm.
# Usage: nohup nice -n 19 bash s25/command.sh [--resume] >> s25/train.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
trainer=${DEBLUR_TRAIN:-../../build/examples/deblur-train}
exec "$trainer" --out s25 --scale 1 --init ../default.dbm --steps 100000 --batch 8 \
  --learning-rate 1.0 --stage-steps 4000 --freeze-steps 500 --val-every 500 --val-images 40 --crop 128 \
  --train-dir ../../../shared/data/train --val-dir ../../../shared/data/val "$@"
