#!/usr/bin/env python3
"""Per-kernel GPU time of two `tapegan profile` traces, side by side.

    python3 scripts/compare_profiles.py BEFORE.json AFTER.json [--top 25] [--halve-before]

Both files are the Chrome traces `tapegan profile --preset NAME --steps N` writes (run with
the same preset and step count). For every kernel variant it prints the dispatch count and
the total milliseconds in each trace, their ratio (before / after), and the excess: AFTER's
time minus what it should be (BEFORE's, or half of it with `--halve-before`), largest
first.

Two uses:
- Two builds: profile with each binary, compare (`--top` limits the rows).
- Thread scaling on a CPU adapter: profile once with `LP_NUM_THREADS=1` and once with the
  default threads, then compare with `--halve-before` (two threads should halve every
  kernel). A kernel that scales clearly worse than the rest points at idle threads (lavapipe
  gives each thread an equal count of consecutive workgroups, whatever they cost) or at
  cache lines written from both cores (docs/PERFORMANCE.md, "What lavapipe rewards").

Standard library only.
"""

import argparse
import collections
import json
import sys


def kernel_times(path):
    """{variant: [dispatches, total ms]} of one trace."""
    try:
        with open(path) as f:
            trace = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"error: cannot read the trace {path}: {e}")
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    times = collections.defaultdict(lambda: [0, 0.0])
    for e in events:
        variant = e.get("args", {}).get("variant")
        if variant is not None and "dur" in e:
            times[variant][0] += 1
            times[variant][1] += e["dur"] / 1e3  # trace durations are in µs
    if not times:
        sys.exit(f"error: {path} holds no kernel events; is it a `tapegan profile` trace?")
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--top", type=int, default=25, help="rows to print (default 25)")
    ap.add_argument(
        "--halve-before",
        action="store_true",
        help="expect AFTER to take half of BEFORE (one thread against two)",
    )
    args = ap.parse_args()
    before, after = kernel_times(args.before), kernel_times(args.after)
    expect = 2.0 if args.halve_before else 1.0
    rows = []
    for k, (n, ms) in after.items():
        n0, ms0 = before.get(k, (0, 0.0))
        rows.append((ms - ms0 / expect, k, n0, ms0, n, ms))
    rows.sort(reverse=True)
    t0 = sum(v[1] for v in before.values())
    t1 = sum(v[1] for v in after.values())
    print(f"total: {t0:.1f} ms → {t1:.1f} ms ({t0 / t1:.2f}×)")
    print(f"{'kernel':<58} {'n':>5} {'before ms':>10} {'after ms':>10} {'ratio':>6} {'excess':>8}")
    for excess, k, n0, ms0, n, ms in rows[: args.top]:
        ratio = f"{ms0 / ms:.2f}" if ms > 0 and ms0 > 0 else "-"
        label = k if len(k) <= 58 else k[:57] + "…"
        print(f"{label:<58} {n:>5} {ms0:>10.1f} {ms:>10.1f} {ratio:>6} {excess:>8.1f}")
    missing = [k for k in before if k not in after]
    if missing:
        print(f"{len(missing)} kernel variants only in {args.before}")


if __name__ == "__main__":
    main()
