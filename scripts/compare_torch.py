#!/usr/bin/env python3
"""Side-by-side speed of one training iteration: PyTorch on the CPU versus tapegan.

DEVELOPMENT TOOL (needs `pip install torch`); tapegan itself never needs Python.

    python3 scripts/compare_torch.py [--threads 2] [--presets mlp-gan,dcgan-28] [--skip-tapegan]
    python3 scripts/compare_torch.py --device cuda --bench-exe PATH   # on a CUDA GPU

For every preset it times the same iteration tapegan runs (same networks from
scripts/torch_models.py, same batch size, losses, optimizers and iteration shape: shared
forward, separate D/G steps, or n_critic critic steps with weight clipping or a gradient
penalty), then runs `cargo bench --bench train_step` in the same session and prints both
times and their ratio (tapegan / PyTorch). Run it on a quiet machine: both sides share it.
With `--device cuda` PyTorch runs eagerly in FP32 on the GPU (TF32 off, so both sides do the
same arithmetic) and every timed iteration ends with a device synchronisation.
`--bench-exe` runs an already built train_step bench binary instead of `cargo bench` (for
machines without a Rust toolchain).
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import PRESETS, build  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def preset_config(name):
    """The preset's defaults, read from `tapegan` itself (a tiny run's config.toml)."""
    import tomllib

    import tempfile

    exe = os.path.join(ROOT, "target", "release", "tapegan")
    # A fresh run directory each time: tapegan refuses to start over an existing run.
    with tempfile.TemporaryDirectory(prefix=f"compare-cfg-{name}-") as tmp:
        out = os.path.join(tmp, "run")
        run = subprocess.run([exe, "train", "--preset", name, "--steps", "1", "--out", out,
                              "-q", "--set", "limit=600", "--set", "sample_every=0"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if run.returncode != 0:
            sys.exit(f"error: reading the {name} preset's settings failed:\n{run.stderr}")
        with open(os.path.join(out, "config.toml"), "rb") as f:
            return tomllib.load(f)


def noise(cfg, n):
    if cfg["noise"] == "uniform":
        return torch.rand(n, cfg["z_dim"]) * 2 - 1
    return torch.randn(n, cfg["z_dim"])


def image_shape(name, cfg):
    if name.startswith("toy"):
        return (2,)
    side = 64 if name in ("dcgan-64", "sagan-64", "dcgan-celeba") else 28
    return (cfg["channels"], side, side)


def d_loss(kind, real, fake, t_real, t_fake):
    if kind == "softmax-ce":
        ones = torch.ones(real.shape[0], dtype=torch.long)
        return F.cross_entropy(real, ones) + F.cross_entropy(fake, torch.zeros_like(ones))
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(real, t_real) + F.binary_cross_entropy_with_logits(fake, t_fake)
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    return fake.mean() - real.mean()


def g_loss(kind, fake):
    if kind == "softmax-ce":
        return F.cross_entropy(fake, torch.ones(fake.shape[0], dtype=torch.long))
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    return -fake.mean()


def iteration(name, cfg, G, D, og, od, x, labels):
    b = cfg["batch"]
    kind = cfg["loss"]
    cond = labels if name == "mlp-cwgan-gp" else None
    call = (lambda net, v, l: net(v, l)) if cond is not None else (lambda net, v, l: net(v))
    t_real, t_fake = torch.ones(b, 1), torch.zeros(b, 1)
    if kind in ("wgan", "wgan-gp"):
        for _ in range(cfg["n_critic"]):
            with torch.no_grad():
                fake = call(G, noise(cfg, b), cond)
            loss = call(D, fake, cond).mean() - call(D, x, cond).mean()
            if kind == "wgan-gp":
                shape = x.shape if cfg["gp_epsilon"] == "per-element" else (b,) + (1,) * (x.dim() - 1)
                eps = torch.rand(shape)
                xh = (fake + eps * (x - fake)).requires_grad_(True)
                (g,) = torch.autograd.grad(call(D, xh, cond).sum(), xh, create_graph=True)
                norm = (g.reshape(b, -1).pow(2).sum(1) + 1e-12).sqrt()
                loss = loss + cfg["gp_lambda"] * ((norm - 1) ** 2).mean()
            od.zero_grad()
            loss.backward()
            od.step()
            if cfg["clip"] > 0:
                with torch.no_grad():
                    for p in D.parameters():
                        p.clamp_(-cfg["clip"], cfg["clip"])
        gl = torch.randint(0, 10, (b,)) if cond is not None else None
        loss = -call(D, call(G, noise(cfg, b), gl), gl).mean()
        og.zero_grad()
        loss.backward()
        og.step()
        return
    if cfg["shared_forward"]:
        fake = G(noise(cfg, b))
        df, dr = D(fake), D(x)
        ld, lg = d_loss(kind, dr, df, t_real, t_fake), g_loss(kind, df)
        gd = torch.autograd.grad(ld, list(D.parameters()), retain_graph=True)
        gg = torch.autograd.grad(lg, list(G.parameters()))
        for p, g in zip(D.parameters(), gd):
            p.grad = g
        for p, g in zip(G.parameters(), gg):
            p.grad = g
        od.step()
        og.step()
        return
    with torch.no_grad():
        fake = G(noise(cfg, b))
    ld = d_loss(kind, D(x), D(fake), t_real, t_fake)
    od.zero_grad()
    ld.backward()
    od.step()
    lg = g_loss(kind, D(G(noise(cfg, b))))
    og.zero_grad()
    lg.backward()
    og.step()


def sync():
    if torch.cuda.is_available() and torch.get_default_device().type == "cuda":
        torch.cuda.synchronize()


def time_torch(name):
    cfg = preset_config(name)
    G, D = build(name, cfg)
    G.train()
    D.train()
    betas = (cfg["beta1"], cfg["beta2"])
    og = torch.optim.Adam(G.parameters(), cfg["lr_g"], betas=betas, eps=cfg["adam_eps"])
    od = torch.optim.Adam(D.parameters(), cfg["lr_d"], betas=betas, eps=cfg["adam_eps"])
    x = torch.rand((cfg["batch"],) + image_shape(name, cfg)) * 2 - 1
    labels = torch.randint(0, 10, (cfg["batch"],))
    for _ in range(3):  # warm-up: allocator, cuDNN algorithm choice
        iteration(name, cfg, G, D, og, od, x, labels)
    sync()
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < 3.0 and len(times) < 100):
        t = time.perf_counter()
        iteration(name, cfg, G, D, og, od, x, labels)
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def time_tapegan(names, bench_exe):
    cmd = [bench_exe, "--bench"] if bench_exe else ["cargo", "bench", "--bench", "train_step", "--"]
    cmd += sorted(names)  # the bench's row filters: only the presets compared run
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    print(out)
    ms = {}
    for line in out.splitlines():
        m = re.match(r"^(\S+)\s+(\d+)\s+([\d.]+)\s", line)
        if m and m.group(1) in names:
            ms[m.group(1)] = float(m.group(3))
    return ms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--presets", default=",".join(PRESETS))
    ap.add_argument("--skip-tapegan", action="store_true")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--bench-exe", help="a built train_step bench binary to run instead of cargo")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_default_device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    names = [p for p in args.presets.split(",") if p]
    torch_ms = {n: time_torch(n) for n in names}
    tg = {} if args.skip_tapegan else time_tapegan(set(names), args.bench_exe)
    where = torch.cuda.get_device_name() if args.device == "cuda" else f"{args.threads} threads"
    print(f"PyTorch {torch.__version__} on {args.device} ({where}); tapegan from the train_step bench")
    print(f"{'preset':<15} {'PyTorch ms':>11} {'tapegan ms':>11} {'ratio':>7}")
    for n in names:
        t = tg.get(n)
        ratio = f"{t / torch_ms[n]:.2f}" if t else "-"
        print(f"{n:<15} {torch_ms[n]:>11.1f} {t if t else float('nan'):>11.1f} {ratio:>7}")


if __name__ == "__main__":
    main()
