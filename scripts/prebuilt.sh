#!/usr/bin/env bash
# Tests and benchmarks on a GPU machine that has no Rust toolchain, from binaries built here.
#
#   scripts/prebuilt.sh build                 # here: release tapegan, benches and test binaries,
#                                             # stripped, into target/prebuilt.tar.xz (~25 MB)
#   scripts/prebuilt.sh run SECTION...        # there, in a copy of this checkout holding the
#                                             # tarball: tests kernels conv layers train_step
#                                             # compare profile train
#
# `run` writes one log per section to $OUT (default /tmp/prebuilt-out) and a summary line per
# section to $OUT/summary.txt. The binaries look for goldens and shaders under the checkout
# path they were built in, so `run` links that path to the current checkout when it differs.
# `compare` needs python3 with PyTorch (CUDA) and runs scripts/compare_torch.py --device cuda.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
PKG=target/prebuilt.tar.xz

build() {
  set -eo pipefail
  local dir=target/prebuilt/bin
  rm -rf target/prebuilt && mkdir -p "$dir"
  { cargo bench --no-run --message-format=json; cargo test --release --no-run --message-format=json
    cargo build --release --bins --message-format=json; } 2>/dev/null |
    python3 -c '
import json, sys
seen = set()
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") != "compiler-artifact" or not m.get("executable"):
        continue
    kind, name = m["target"]["kind"][0], m["target"]["name"]
    if m["profile"]["test"] and kind == "bin":
        continue  # the unit tests of main.rs
    if (kind, name) not in seen:
        seen.add((kind, name))
        print(kind, name, m["executable"])
' | while read -r kind name exe; do strip -o "$dir/$kind-$name" "$exe"; done
  echo "$ROOT" > target/prebuilt/built-in
  tar -C target -cJf "$PKG" prebuilt && rm -rf target/prebuilt
  ls -la "$PKG"
}

run() {
  tar -C target -xJf "$PKG" || { echo "no $PKG: run 'scripts/prebuilt.sh build' first"; exit 1; }
  local B=$ROOT/target/prebuilt/bin built
  built=$(cat target/prebuilt/built-in)
  if [ "$built" != "$ROOT" ] && [ ! -e "$built" ]; then mkdir -p "$(dirname "$built")"; ln -s "$ROOT" "$built"; fi
  mkdir -p target/release && cp "$B/bin-tapegan" target/release/tapegan
  local nv=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  [ -f $nv ] && [ -z "${VK_DRIVER_FILES:-}" ] && export VK_DRIVER_FILES=$nv
  OUT=${OUT:-/tmp/prebuilt-out}; mkdir -p "$OUT"
  local sum=$OUT/summary.txt; : > "$sum"
  "$B/bin-tapegan" devices 2>&1 | tee -a "$sum"
  for s in "$@"; do
    local log=$OUT/$s.log t0; t0=$(date +%s)
    case $s in
      tests)
        for t in "$B"/test-* "$B"/lib-tapegan; do
          echo "== $(basename "$t")" >> "$log"
          timeout 300 "$t" --test-threads 4 >> "$log" 2>&1
          echo "$(basename "$t"): rc=$? $(grep -h '^test result' "$log" | tail -1)" | tee -a "$sum"
        done;;
      kernels|conv|layers|train_step|operand_loads) timeout 400 "$B/bench-$s" --bench > "$log" 2>&1;;
      compare) timeout 500 python3 scripts/compare_torch.py --device cuda \
                 --bench-exe "$B/bench-train_step" > "$log" 2>&1;;
      profile) (cd /tmp && for p in dcgan-28 dcgan-64 sagan-64; do
                 timeout 100 "$ROOT/target/release/tapegan" profile --preset $p --steps 3; done) > "$log" 2>&1;;
      train) timeout 300 target/release/tapegan train --preset dcgan-28 --steps 3000 \
               --out /tmp/prebuilt-dcgan28 > "$log" 2>&1;;
      *) echo "unknown section $s"; continue;;
    esac
    echo "[$s] rc=$? $(( $(date +%s) - t0 )) s" | tee -a "$sum"
  done
}

case ${1:-} in
  build) build;;
  run) shift; run "$@";;
  *) sed -n 2,13p "$0"; exit 2;;
esac
