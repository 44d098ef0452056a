#!/usr/bin/env python3
"""Load a tapegan run into PyTorch and, optionally, check its samples against PyTorch.

DEVELOPMENT / INTEROPERABILITY TOOL (tapegan never needs Python).

    pip install torch safetensors numpy
    python3 scripts/torch_load.py RUN_DIR
    tapegan sample --run RUN_DIR --n 16 --out /tmp/s.npy
    python3 scripts/torch_load.py RUN_DIR --samples /tmp/s.npy

The first form reads RUN_DIR/config.toml, builds the preset's generator and discriminator
with scripts/torch_models.py, loads checkpoint/generator.safetensors and
checkpoint/discriminator.safetensors with `load_state_dict(strict=True)` and prints a summary.

With --samples FILE.npy it also reads FILE_noise.npy (and FILE_labels.npy for conditional
presets), both written by `tapegan sample ... --out FILE.npy`, recomputes G(noise[, labels])
in eval mode and compares: it exits with status 1 if the largest difference relative to the
largest sample magnitude exceeds --tol (default 1e-4).
"""

import argparse
import os
import sys
import tomllib

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import build  # noqa: E402


def checkpoint_dir(run):
    """checkpoint/, or checkpoint.old/ if a crash in the middle of a save left only that."""
    for name in ("checkpoint", "checkpoint.old"):
        d = os.path.join(run, name)
        if os.path.isdir(d):
            return d
    sys.exit(f"{run}: no checkpoint in this run directory (checkpoint/ is missing)")


def load_net(model, path):
    """Strict load; returns the file's metadata and a one-line description of its contents."""
    state = load_file(path)
    model.load_state_dict(state, strict=True)
    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
    dtypes = sorted({str(t.dtype).replace("torch.", "") for t in state.values()})
    for k, t in state.items():
        expected = torch.int64 if k.endswith("num_batches_tracked") else torch.float32
        if t.dtype != expected:
            sys.exit(f"{path}: '{k}' is {t.dtype}, expected {expected}")
    params = sum(p.numel() for p in model.parameters())
    return meta, f"{len(state)} tensors ({', '.join(dtypes)}), {params:,} parameters"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", help="run directory (holds config.toml and checkpoint/)")
    ap.add_argument("--samples", help="FILE.npy written by `tapegan sample --out FILE.npy`")
    ap.add_argument("--tol", type=float, default=1e-4, help="largest relative difference allowed")
    ap.add_argument("--float32", action="store_true",
                    help="recompute in float32 (default: float64, a reference without rounding noise)")
    ap.add_argument("-v", "--verbose", action="store_true", help="also print the models")
    args = ap.parse_args()

    config = os.path.join(args.run, "config.toml")
    if not os.path.isfile(config):
        sys.exit(f"{args.run}: no config.toml here (is it a run directory written by `tapegan train`?)")
    with open(config, "rb") as f:
        cfg = tomllib.load(f)
    preset = cfg["preset"]
    G, D = build(preset, cfg)
    ckpt = checkpoint_dir(args.run)
    g_meta, g_desc = load_net(G, os.path.join(ckpt, "generator.safetensors"))
    d_meta, d_desc = load_net(D, os.path.join(ckpt, "discriminator.safetensors"))
    G.eval()
    D.eval()

    print(f"run        {args.run}")
    print(f"preset     {preset}   z_dim {cfg['z_dim']}   noise {cfg.get('noise')}   "
          f"step {g_meta.get('step', '?')}   format {g_meta.get('format', '?')}   "
          f"tapegan {g_meta.get('tapegan_version', '?')}")
    print(f"generator  {g_desc}   (loaded strictly)")
    print(f"critic     {d_desc}   (loaded strictly)")
    if args.verbose:
        print(G)
        print(D)
    if not args.samples:
        return 0

    stem = args.samples[:-4] if args.samples.endswith(".npy") else args.samples
    ours = np.load(args.samples)
    noise = np.load(stem + "_noise.npy")
    labels_path = stem + "_labels.npy"
    conditional = G.embed is not None
    labels = None
    if conditional:
        if not os.path.exists(labels_path):
            sys.exit(f"{labels_path} is missing: {preset} is conditional")
        # int64 labels; older runs wrote them as float32.
        labels = torch.from_numpy(np.rint(np.load(labels_path)).astype(np.int64))

    dtype = torch.float32 if args.float32 else torch.float64
    G.to(dtype)
    D.to(dtype)
    with torch.no_grad():
        ref = G(torch.from_numpy(noise).to(dtype), labels)
        scores = D(ref, labels)
    ref = ref.double().numpy()
    if ref.shape != ours.shape:
        print(f"FAIL shape: tapegan {ours.shape}, PyTorch {ref.shape}")
        return 1
    diff = np.abs(ours.astype(np.float64) - ref)
    scale = max(float(np.abs(ref).max()), 1e-12)
    max_abs = float(diff.max())
    rel = max_abs / scale
    ok = rel <= args.tol
    print(f"samples    {args.samples}: {ours.shape} ({ours.dtype}), noise {noise.shape}"
          + (f", labels {sorted(set(labels.tolist()))}" if labels is not None else ""))
    print(f"critic on the PyTorch samples: mean {scores.double().mean().item():.6g}, shape {tuple(scores.shape)}")
    print(f"max |tapegan - PyTorch| = {max_abs:.3e}   relative to max |sample| {scale:.4f}: {rel:.3e}   "
          f"(tolerance {args.tol:g})   {'OK' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
