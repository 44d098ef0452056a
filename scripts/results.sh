#!/usr/bin/env bash
# Reproduces docs/RESULTS.md: trains every preset for the stated number of steps on the shipped
# data, evaluates it with `tapegan eval`, and copies the final sample grid and metrics.json into
# docs/results/. Runs go to $RUNS (default /tmp/tapegan-results). One preset: pass its name.
#
#   scripts/results.sh                  # all presets, in the order of the table
#   scripts/results.sh toy-wgan-clip    # one
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-/tmp/tapegan-results}
cargo build --release --quiet
BIN=target/release/tapegan

# preset  steps  extra arguments
PLAN="
mlp-gan-small  3000
toy-wgan-clip  3000
mlp-gan        500
dcgan-28       600   --batch 16
toy-wgan-gp    300
wgan-gp-28     100
mlp-wgan-gp    400
mlp-cwgan-gp   400
dcgan-64       12
dcgan-celeba   4
sagan-64       4
"

echo "$PLAN" | while read -r preset steps extra; do
  [ -z "$preset" ] && continue
  if [ $# -gt 0 ] && [[ " $* " != *" $preset "* ]]; then continue; fi
  out="$RUNS/$preset"
  rm -rf "$out"
  start=$(date +%s.%N)
  # shellcheck disable=SC2086
  $BIN train --preset "$preset" --steps "$steps" --out "$out" --sample-every 0 -q $extra
  mid=$(date +%s.%N)
  $BIN eval --run "$out" > "$out/eval.txt"
  end=$(date +%s.%N)
  if [ -f "$out/toy/final_samples.png" ]; then
    cp "$out/toy/final_samples.png" "docs/results/$preset.png"
  else
    cp "$out/samples/final.png" "docs/results/$preset.png"
  fi
  cp "$out/metrics.json" "docs/results/$preset.json"
  printf '%s steps=%s train_s=%.0f eval_s=%.0f\n' "$preset" "$steps" \
    "$(echo "$mid - $start" | bc)" "$(echo "$end - $mid" | bc)" | tee -a "$RUNS/times.txt"
done
