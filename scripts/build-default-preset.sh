#!/usr/bin/env bash
# Builds the embedded default preset, models/presets/default.cpreset, from the stems-dev set plus
# rendered training stems (../shared/tools/render-stems). The held-out pieces are stems-dev's test
# split (bach-bwv14-5, bach-bwv253, bach-bwv285, bach-bwv292, bach-bwv420); demo/guide.flac is
# the soprano of bach-bwv253, which the preset never trains on. The corpus is the bass (target)
# stems of the stems-dev training and validation pieces only, which keeps the file under 30 MB.
#
#   DEV=../shared/data/stems-dev TRAIN=/path/to/stems-train scripts/build-default-preset.sh
#
# TRAIN is made with (about 4 min on 2 cores; --exclude-dev keeps stems-dev's pieces and the
# chorales sharing a tune with them out of it):
#   python render_stems.py --out "$TRAIN" --minutes 200 --seed 20250611 --exclude-dev
# Training takes at most 2 x 13 minutes (one model per look-ahead) on 2 cores. The live model
# (L = 0) hears a 60 ms reaction window of each guide segment (docs/results/live.md, "Choosing the reaction window W").
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=${DEV:-../shared/data/stems-dev}
TRAIN=${TRAIN:-../data/stems-train}
OUT=${OUT:-models/presets/default.cpreset}
cargo build --release -p counterpart-models
target/release/counterpart build-preset "$DEV" --extra-stems "$TRAIN" \
  --k 16 --lookahead 1,0 --reaction-ms 60 --minutes-limit 13 --history-noise 0.95 --label-init 0.8 \
  --name "Chorale Bass (dev stems)" --author "Counterpart developers" \
  --description "Melody-to-bass (primary pairs) of Bach chorales, Palestrina, Monteverdi and Corelli played by General MIDI wind and brass instruments: the guide is the upper part, the companion the part below it. Trained on stems-dev and rendered stems-train pieces; corpus: the stems-dev training basses." \
  --licence LicenseRef-research-only -o "$OUT" "$@"
