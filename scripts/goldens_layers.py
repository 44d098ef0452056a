#!/usr/bin/env python3
"""Golden values for tapegan's layer and optimizer tests, computed with PyTorch.

DEVELOPMENT TOOL ONLY. The tests (tests/layers/, tests/optim.rs) and CI read the committed
files tests/goldens/layer_*.safetensors and tests/goldens/optim_*.safetensors and never need
Python. Rerun this script only when a case is added or changed, and commit its outputs:

    pip install torch safetensors       # PyTorch CPU is enough
    python3 scripts/goldens_layers.py   # rewrites tests/goldens/layer_* and optim_* only

It deletes and rewrites only the files whose names start with `layer_` or `optim_`; the other
goldens (scripts/goldens.py, scripts/goldens_conv.py) are left alone.

Every tensor is stored as float32. References are computed in float64 from inputs and initial
parameters that were first rounded to float32, so the engine and the reference start from the
same values; hyperparameters are rounded to float32 too (the engine's kernels take f32
constants). Every case has its own seed (derived from its name), so adding a case does not
change the others.

Key conventions (the Rust tests document which keys each case uses):
    sd.<key>     a PyTorch state_dict entry (the test loads it with `load_state_dict`); integer
                 buffers (`num_batches_tracked`) are stored as float32 scalars
    x, gout, …   inputs and the upstream gradient (grad_outputs) of the backward pass
    out          forward output
    grad.<k>     gradient of sum(out * gout) with respect to k
    cfg.<k>      hyperparameters of an optimizer case (scalars)

Keras conventions that PyTorch does not implement (biased running variance in batch norm,
Adam's ε outside the bias correction, time decay of the learning rate) are written out by hand
below, next to the PyTorch computation they replace.
"""

import os
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "goldens")
PREFIXES = ("layer_", "optim_")
torch.set_default_dtype(torch.float64)

WRITTEN = []


def gen(name):
    """A generator seeded from the case name: cases are independent of each other."""
    return torch.Generator().manual_seed(zlib.crc32(name.encode()))


def f32r(t):
    """Rounds to float32 and back: the exact values the engine will see."""
    return t.to(torch.float32).to(torch.float64)


def f32s(x):
    """A Python float rounded to float32 (hyperparameters)."""
    return float(np.float32(x))


def randn(g, *shape, scale=1.0):
    return f32r(torch.randn(tuple(shape), generator=g, dtype=torch.float64) * scale)


def uniform(g, lo, hi, *shape):
    return f32r(lo + (hi - lo) * torch.rand(tuple(shape), generator=g, dtype=torch.float64))


def save(name, tensors):
    assert name.startswith(PREFIXES), name
    out = {}
    for k, v in tensors.items():
        if not torch.is_tensor(v):
            v = torch.tensor(float(v))
        out[k] = v.detach().to(torch.float32).contiguous().clone()
    path = os.path.join(OUT_DIR, f"{name}.safetensors")
    save_file(out, path)
    WRITTEN.append((name, os.path.getsize(path)))


def state_dict(module):
    """A copy of the module's state_dict as `sd.<key>` float tensors (state_dict() aliases the
    live buffers, which later training steps update in place)."""
    return {f"sd.{k}": v.to(torch.float64).clone() for k, v in module.state_dict().items()}


def grads_of(out, gout, named):
    """{grad.<name>: d sum(out * gout) / d tensor} for (name, tensor) in named."""
    names = [k for k, _ in named]
    gs = torch.autograd.grad(out, [t for _, t in named], gout)
    return {f"grad.{k}": g for k, g in zip(names, gs)}


def load_params(module, g, scales):
    """Overwrites the module's parameters with f32-rounded draws (scale per name)."""
    with torch.no_grad():
        for k, p in module.named_parameters():
            p.copy_(randn(g, *p.shape, scale=scales.get(k, 0.5)))


# ----------------------------------------------------------------------------------------------
# Linear, Embedding
# ----------------------------------------------------------------------------------------------


def linear_cases():
    for name, bias in [("layer_linear", True), ("layer_linear_nobias", False)]:
        g = gen(name)
        lin = nn.Linear(5, 3, bias=bias)
        load_params(lin, g, {"weight": 0.5, "bias": 0.3})
        x = randn(g, 4, 5).requires_grad_(True)
        out = lin(x)
        gout = randn(g, *out.shape)
        named = [("x", x)] + list(lin.named_parameters())
        t = {"x": x, "out": out, "gout": gout, **state_dict(lin), **grads_of(out, gout, named)}
        save(name, t)


def embedding_case():
    name = "layer_embedding"
    g = gen(name)
    emb = nn.Embedding(6, 4)
    load_params(emb, g, {"weight": 1.0})
    labels = torch.tensor([1, 3, 1, 0, 5, 3, 1, 2])  # 1 three times, 3 twice, 4 never
    out = emb(labels)
    gout = randn(g, *out.shape)
    t = {"labels": labels.double(), "out": out, "gout": gout, **state_dict(emb)}
    t.update(grads_of(out, gout, list(emb.named_parameters())))
    save(name, t)


# ----------------------------------------------------------------------------------------------
# Batch norm
# ----------------------------------------------------------------------------------------------


def batch_norm_case(name, shape, keras=False):
    """Three training steps on different batches, then an eval forward.

    Keys: sd.* (initial state: weight, bias, running_mean, running_var, num_batches_tracked),
    x0, x1, x2 (training batches), gout, out (training forward on x0), grad.{x,weight,bias}
    (of that first forward), running_mean, running_var, num_batches_tracked (after the three
    steps), x_eval, out_eval.

    PyTorch case: nn.BatchNorm1d/2d with eps 1e-5, momentum 0.1 (unbiased running variance).
    Keras case: eps 1e-3 and momentum 0.01 (Keras momentum 0.99) with the BIASED batch variance
    in running_var, which PyTorch cannot do: the running statistics are computed by hand
    (running = (1 − m)·running + m·batch_stat) and the eval forward uses them through
    F.batch_norm. The training forward and its gradients are PyTorch's (they do not involve the
    running variance).
    """
    g = gen(name)
    c = shape[1]
    eps, momentum = (1e-3, 0.01) if keras else (1e-5, 0.1)
    eps, momentum = f32s(eps), f32s(momentum)
    cls = nn.BatchNorm1d if len(shape) == 2 else nn.BatchNorm2d
    bn = cls(c, eps=eps, momentum=momentum)
    with torch.no_grad():
        bn.weight.copy_(f32r(1.0 + randn(g, c, scale=0.3)))
        bn.bias.copy_(randn(g, c, scale=0.3))
        bn.running_mean.copy_(randn(g, c, scale=0.2))
        bn.running_var.copy_(uniform(g, 0.5, 1.5, c))
    t = state_dict(bn)
    bshape = [1, c] + [1] * (len(shape) - 2)
    xs = [f32r(randn(g, *shape, scale=1.5) + randn(g, *bshape, scale=2.0)) for _ in range(3)]
    axes = [d for d in range(len(shape)) if d != 1]
    count = xs[0].numel() // c
    rm, rv = bn.running_mean.clone(), bn.running_var.clone()
    bn.train()
    for i, x in enumerate(xs):
        x = x.clone().requires_grad_(True)
        out = bn(x)
        if i == 0:
            gout = randn(g, *out.shape)
            named = [("x", x), ("weight", bn.weight), ("bias", bn.bias)]
            t.update({"out": out, "gout": gout, **grads_of(out, gout, named)})
        # The running statistics by hand (PyTorch: unbiased variance; Keras: biased).
        mean = x.detach().mean(dim=axes)
        var_b = x.detach().var(dim=axes, unbiased=False)
        var_run = var_b if keras else var_b * count / (count - 1)
        rm = (1 - momentum) * rm + momentum * mean
        rv = (1 - momentum) * rv + momentum * var_run
        t[f"x{i}"] = x
    if not keras:
        torch.testing.assert_close(rm, bn.running_mean, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(rv, bn.running_var, rtol=1e-12, atol=1e-12)
        assert bn.num_batches_tracked.item() == 3
    x_eval = f32r(randn(g, *shape) + randn(g, *bshape))
    bn.eval()
    out_eval = F.batch_norm(x_eval, rm, rv, bn.weight, bn.bias, training=False, eps=eps)
    if not keras:
        torch.testing.assert_close(out_eval, bn(x_eval), rtol=1e-12, atol=1e-12)
    t.update(
        {
            "running_mean": rm,
            "running_var": rv,
            "num_batches_tracked": torch.tensor(3.0),
            "x_eval": x_eval,
            "out_eval": out_eval,
        }
    )
    save(name, t)


# ----------------------------------------------------------------------------------------------
# Normalisation followed by a (leaky) ReLU: the pair the engine fuses into one op
# ----------------------------------------------------------------------------------------------


def norm_leaky_case(name, kind, shape, slope):
    """nn.BatchNorm2d (training, random affine) or nn.InstanceNorm2d, then F.leaky_relu(slope)
    (slope 0: ReLU). tapegan runs the pair as one fused op inside a Sequential.

    First order: out, grad.{x, weight, bias} of sum(out * gout); running_mean / running_var
    after that forward (batch norm).
    Second order, a miniature WGAN-GP critic: h = M·x over channels, d_n = Σ r ⊙ act(norm(h))_n,
    g1 = ∂Σd/∂x (create_graph), norms_n = ‖g1_n‖, gp = mean((norms − 1)²); grad2.{x, M, weight,
    bias} are ∂gp/∂·. The weight and bias of the second part are the same module's.
    """
    g = gen(name)
    n, c = shape[0], shape[1]
    slope = f32s(slope)
    if kind == "batch":
        norm = nn.BatchNorm2d(c)
        with torch.no_grad():
            norm.weight.copy_(f32r(1.0 + randn(g, c, scale=0.3)))
            norm.bias.copy_(randn(g, c, scale=0.5))
    else:
        norm = nn.InstanceNorm2d(c)
    norm.train()
    t = state_dict(norm)
    x = f32r(randn(g, *shape, scale=1.5) + randn(g, 1, c, 1, 1)).requires_grad_(True)
    out = F.leaky_relu(norm(x), slope)
    gout = randn(g, *out.shape)
    named = [("x", x)] + list(norm.named_parameters())
    t.update({"x": x, "out": out, "gout": gout, **grads_of(out, gout, named)})
    if kind == "batch":
        t["running_mean"] = norm.running_mean.clone()
        t["running_var"] = norm.running_var.clone()

    m = randn(g, c, c, scale=0.6).requires_grad_(True)
    r = randn(g, *shape[1:])
    hh = torch.einsum("cd,ndhw->nchw", m, x)
    d = (F.leaky_relu(norm(hh), slope) * r).sum(dim=(1, 2, 3))
    (g1,) = torch.autograd.grad(d.sum(), x, create_graph=True)
    norms = g1.square().sum(dim=(1, 2, 3)).sqrt()
    gp = (norms - 1).square().mean()
    wrt = [x, m] + [p for _, p in norm.named_parameters()]
    g2 = torch.autograd.grad(gp, wrt)
    t.update({"M": m, "r": r, "d": d, "g1": g1, "norms": norms, "gp": gp})
    names = ["x", "M"] + [k for k, _ in norm.named_parameters()]
    t.update({f"grad2.{k}": v for k, v in zip(names, g2)})
    # Both branches of the activation must be taken.
    assert 0 < int((norm(x) > 0).sum()) < x.numel(), name
    save(name, t)


def norm_third_order_case(name, slope):
    """Third-order gradients through nn.InstanceNorm2d (slope None) or InstanceNorm2d followed
    by F.leaky_relu(slope): they differentiate the normalisation's recorded second-order rule.

    y = block(x), s1 = Σ y ⊙ r, g1 = ∂s1/∂x (create_graph); s2 = Σ q ⊙ g1 ⊙ g1 (non-linear in
    g1), g2 = ∂s2/∂x (create_graph); s3 = Σ v ⊙ g2, g3 = ∂s3/∂x.
    Keys: x, r, q, v, y, g1, g2, g3.
    """
    g = gen(name)
    shape = (2, 3, 4, 4) if slope is None else (2, 3, 7, 7)
    c = shape[1]
    slope = None if slope is None else f32s(slope)
    inorm = nn.InstanceNorm2d(c)

    def manual_in(t):
        # PyTorch's InstanceNorm2d (batch_norm underneath) has no third-order derivative
        # ("batch_norm does not support 3rd+ order derivatives"), so g3 is taken through the
        # same function written out: biased variance per (sample, channel), eps 1e-5. It is
        # checked against nn.InstanceNorm2d below up to second order.
        mu = t.mean(dim=(2, 3), keepdim=True)
        var = (t - mu).square().mean(dim=(2, 3), keepdim=True)
        return (t - mu) / torch.sqrt(var + inorm.eps)

    def orders(norm, x, third):
        y = norm(x) if slope is None else F.leaky_relu(norm(x), slope)
        (g1,) = torch.autograd.grad((y * r).sum(), x, create_graph=True)
        (g2,) = torch.autograd.grad((q * g1 * g1).sum(), x, create_graph=True)
        if not third:
            return y, g1, g2
        (g3,) = torch.autograd.grad((v * g2).sum(), x)
        return y, g1, g2, g3

    x = f32r(randn(g, *shape, scale=1.5) + randn(g, 1, c, 1, 1)).requires_grad_(True)
    r = randn(g, *shape)
    q = randn(g, *shape)
    v = randn(g, *shape)
    # s1 = Σ y ⊙ r, s2 = Σ q ⊙ g1 ⊙ g1, s3 = Σ v ⊙ g2.
    y, g1, g2, g3 = orders(manual_in, x, True)
    for got, want in zip((y, g1, g2), orders(inorm, x, False)):
        assert torch.allclose(got, want, rtol=1e-9, atol=1e-9), name
    if slope is not None:
        # Both branches of the activation must be taken.
        assert 0 < int((inorm(x) > 0).sum()) < x.numel(), name
    save(name, {"x": x, "r": r, "q": q, "v": v, "y": y, "g1": g1, "g2": g2, "g3": g3})


# ----------------------------------------------------------------------------------------------
# Instance norm, with the double backward of a WGAN-GP critic
# ----------------------------------------------------------------------------------------------


def instance_norm_case():
    """InstanceNorm2d (no affine, eps 1e-5).

    First order: out = IN(x), grad.x of sum(out * gout).
    Second order, a miniature WGAN-GP critic: h = M·x over channels (a 1×1 convolution with the
    upstream parameter M [C, C]), d_n = Σ r ⊙ IN(h)_n per sample, g1 = ∂Σd/∂x (create_graph),
    norms_n = ‖g1_n‖, gp = mean((norms − 1)²); grad2.x and grad2.M are ∂gp/∂x and ∂gp/∂M.
    """
    name = "layer_instance_norm"
    g = gen(name)
    n, c, h, w = 2, 3, 4, 4
    x = f32r(randn(g, n, c, h, w, scale=1.5) + randn(g, 1, c, 1, 1)).requires_grad_(True)
    inorm = nn.InstanceNorm2d(c)
    out = inorm(x)
    gout = randn(g, *out.shape)
    t = {"x": x, "out": out, "gout": gout, **grads_of(out, gout, [("x", x)])}

    m = randn(g, c, c, scale=0.6).requires_grad_(True)
    r = randn(g, c, h, w)
    hh = torch.einsum("cd,ndhw->nchw", m, x)
    d = (inorm(hh) * r).sum(dim=(1, 2, 3))
    (g1,) = torch.autograd.grad(d.sum(), x, create_graph=True)
    norms = g1.square().sum(dim=(1, 2, 3)).sqrt()
    gp = (norms - 1).square().mean()
    g2x, g2m = torch.autograd.grad(gp, [x, m])
    t.update({"M": m, "r": r, "d": d, "g1": g1, "norms": norms, "gp": gp})
    t.update({"grad2.x": g2x, "grad2.M": g2m})
    save(name, t)


# ----------------------------------------------------------------------------------------------
# Activation modules: double backward through Linear → activation
# ----------------------------------------------------------------------------------------------


def activation_cases():
    """nn.Sequential(Linear(5, 3), act): g1 = ∂Σ(out ⊙ gout)/∂x with create_graph,
    s = Σ g1 ⊙ v, grad2.{x, 0.weight, 0.bias} = ∂s/∂·. Slopes other than those of the op-level
    goldens (leaky 0.3, elu 1.0) so the module's parameter reaches the kernel."""
    for name, act in [("layer_act_leaky_relu", nn.LeakyReLU(0.2)), ("layer_act_elu", nn.ELU(0.5))]:
        g = gen(name)
        seq = nn.Sequential(nn.Linear(5, 3), act)
        load_params(seq, g, {"0.weight": 0.5, "0.bias": 0.3})
        x = randn(g, 4, 5)
        # Keep pre-activations off the kink at 0.
        for _ in range(50):
            z = seq[0](x)
            if (z.abs() > 0.02).all():
                break
            x = randn(g, 4, 5)
        assert (seq[0](x).abs() > 0.02).all(), name
        x = x.requires_grad_(True)
        out = seq(x)
        gout = randn(g, *out.shape)
        v = randn(g, *x.shape)
        (g1,) = torch.autograd.grad(out, x, gout, create_graph=True)
        s = (g1 * v).sum()
        named = [("x", x)] + list(seq.named_parameters())
        g2 = torch.autograd.grad(s, [p for _, p in named], allow_unused=True)
        g2 = [torch.zeros_like(p) if q is None else q for q, (_, p) in zip(g2, named)]
        t = {"x": x, "out": out, "gout": gout, "v": v, "g1": g1, "s": s, **state_dict(seq)}
        t.update({f"grad2.{k}": q for (k, _), q in zip(named, g2)})
        save(name, t)


# ----------------------------------------------------------------------------------------------
# Spectral norm
# ----------------------------------------------------------------------------------------------


def spectral_norm_cases():
    """torch.nn.utils.spectral_norm (one power iteration per training forward, eps 1e-12) on a
    Linear [5, 7], a Conv2d weight [4, 3, 3, 3] and a ConvTranspose2d weight [3, 4, 3, 3]
    (in 3, out 4; PyTorch picks dim 1 for ConvTranspose).

    Keys: weight_orig, u0, v0 (loaded into the layer), r (a fixed tensor of the weight's shape);
    after one training forward: u1, v1, sigma1 = u1·W v1, weight1 = W/σ, grad1 (∂Σ(weight1 ⊙ r)/
    ∂weight_orig, u and v held constant as PyTorch does); after five training forwards in all:
    u5, v5, sigma5, weight5. An eval forward then uses u5, v5 unchanged, so its weight is weight5.
    """
    cases = [
        ("layer_sn_linear", nn.Linear(7, 5), torch.zeros(2, 7), 0),
        ("layer_sn_conv", nn.Conv2d(3, 4, 3), torch.zeros(1, 3, 5, 5), 0),
        ("layer_sn_convt", nn.ConvTranspose2d(3, 4, 3), torch.zeros(1, 3, 3, 3), 1),
    ]
    for name, mod, dummy, dim in cases:
        g = gen(name)
        w0 = randn(g, *mod.weight.shape, scale=0.5)
        mod = torch.nn.utils.spectral_norm(mod)
        hdim = w0.shape[dim]
        wdim = w0.numel() // hdim
        u0 = f32r(F.normalize(randn(g, hdim), dim=0))
        v0 = f32r(F.normalize(randn(g, wdim), dim=0))
        with torch.no_grad():
            mod.weight_orig.copy_(w0)
            mod.weight_u.copy_(u0)
            mod.weight_v.copy_(v0)
        r = randn(g, *w0.shape)
        wmat = w0.movedim(dim, 0).reshape(hdim, -1)
        t = {"weight_orig": w0, "u0": u0, "v0": v0, "r": r}
        mod.train()
        for step in range(1, 6):
            mod(dummy)
            u, v = mod.weight_u.clone(), mod.weight_v.clone()
            if step in (1, 5):
                sigma = torch.dot(u, wmat @ v)
                weight = mod.weight
                torch.testing.assert_close(weight, w0 / sigma, rtol=1e-12, atol=1e-12)
                t.update({f"u{step}": u, f"v{step}": v, f"sigma{step}": sigma, f"weight{step}": weight})
            if step == 1:
                (grad1,) = torch.autograd.grad((mod.weight * r).sum(), mod.weight_orig)
                t["grad1"] = grad1
        mod.eval()
        mod(dummy)
        assert torch.equal(mod.weight_u, t["u5"]) and torch.equal(mod.weight_v, t["v5"])
        torch.testing.assert_close(mod.weight, t["weight5"], rtol=1e-12, atol=1e-12)
        save(name, t)


# ----------------------------------------------------------------------------------------------
# Self-attention (SPEC §9)
# ----------------------------------------------------------------------------------------------


class SelfAttention(nn.Module):
    """SPEC §9's block, written like src/nn/attention.rs: S = qᵀk [B, N, N] (row i: query
    position i, column j: key position j), A = softmax over the last axis (the key positions),
    o = v·Aᵀ, out = x + γ·o."""

    def __init__(self, c):
        super().__init__()
        self.query_conv = nn.Conv2d(c, c // 8, 1)
        self.key_conv = nn.Conv2d(c, c // 8, 1)
        self.value_conv = nn.Conv2d(c, c, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        b, c, h, w = x.shape
        n = h * w
        q = self.query_conv(x).view(b, -1, n)
        k = self.key_conv(x).view(b, -1, n)
        v = self.value_conv(x).view(b, -1, n)
        s = torch.bmm(q.permute(0, 2, 1), k)
        a = torch.softmax(s, dim=-1)
        o = torch.bmm(v, a.permute(0, 2, 1)).view(b, c, h, w)
        return x + self.gamma * o, a


def attention_case():
    """C 16 (C/8 = 2), 4×4, batch 2, γ = 0.7. Keys: sd.*, x, out, attn [B, N, N], gout,
    grad.x, grad.<parameter> for every parameter (query_conv.weight … gamma)."""
    name = "layer_attention"
    g = gen(name)
    sa = SelfAttention(16)
    load_params(sa, g, {"query_conv.weight": 0.35, "key_conv.weight": 0.35, "value_conv.weight": 0.3})
    with torch.no_grad():
        sa.gamma.fill_(f32s(0.7))
    x = randn(g, 2, 16, 4, 4).requires_grad_(True)
    out, attn = sa(x)
    gout = randn(g, *out.shape)
    named = [("x", x)] + list(sa.named_parameters())
    t = {"x": x, "out": out, "attn": attn, "gout": gout, **state_dict(sa)}
    t.update(grads_of(out, gout, named))
    save(name, t)


# ----------------------------------------------------------------------------------------------
# State-dict names and shapes
# ----------------------------------------------------------------------------------------------


def state_dict_cases():
    """The state_dict of a PyTorch twin of each layer (values included, so the test can load
    them). layer_keys_sn_conv / _sn_convt exist for the shapes of weight_u and weight_v."""
    torch.manual_seed(zlib.crc32(b"layer_keys"))
    twins = {
        "layer_keys_linear": nn.Linear(5, 3),
        "layer_keys_bn2d": nn.BatchNorm2d(4),
        "layer_keys_embedding": nn.Embedding(10, 6),
        "layer_keys_sn_linear": torch.nn.utils.spectral_norm(nn.Linear(5, 3)),
        "layer_keys_sn_conv": torch.nn.utils.spectral_norm(nn.Conv2d(3, 4, 3)),
        "layer_keys_sn_convt": torch.nn.utils.spectral_norm(nn.ConvTranspose2d(3, 4, 3)),
        "layer_keys_attention": SelfAttention(16),
        "layer_keys_sequential": nn.Sequential(
            nn.Linear(5, 8), nn.LeakyReLU(0.2), nn.BatchNorm1d(8), nn.Linear(8, 2), nn.Tanh()
        ),
    }
    for name, m in twins.items():
        with torch.no_grad():
            for p in m.parameters():
                p.copy_(f32r(p))
        if isinstance(m, nn.BatchNorm2d):
            m.train()
            m(torch.randn(4, 4, 2, 2))  # non-trivial running statistics, num_batches_tracked 1
        save(name, state_dict(m))


# ----------------------------------------------------------------------------------------------
# Optimizers
# ----------------------------------------------------------------------------------------------

# algo: 0 PyTorch Adam, 1 Keras Adam (by hand), 2 RMSprop, 3 SGD.
OPTIM_CASES = {
    "optim_adam_b05": dict(algo=0, lr=0.01, beta1=0.5, beta2=0.999, eps=1e-8),
    "optim_adam_b0": dict(algo=0, lr=0.01, beta1=0.0, beta2=0.9, eps=1e-8),
    "optim_adam_wd": dict(algo=0, lr=0.01, beta1=0.5, beta2=0.999, eps=1e-8, weight_decay=0.1),
    "optim_adam_keras": dict(algo=1, lr=0.01, beta1=0.5, beta2=0.999, eps=1e-7),
    "optim_adam_keras_decay": dict(algo=1, lr=0.01, beta1=0.5, beta2=0.999, eps=1e-7, decay=0.1),
    "optim_rmsprop": dict(algo=2, lr=0.01, alpha=0.9, eps=1e-7),
    "optim_rmsprop_momentum": dict(algo=2, lr=0.01, alpha=0.99, eps=1e-8, momentum=0.9),
    "optim_rmsprop_clip": dict(algo=2, lr=0.005, alpha=0.9, eps=1e-7, clip=0.01),
    "optim_rmsprop_decay": dict(algo=2, lr=0.01, alpha=0.9, eps=1e-7, decay=0.1),
    "optim_sgd": dict(algo=3, lr=0.1),
    "optim_sgd_momentum": dict(algo=3, lr=0.1, momentum=0.9),
    "optim_sgd_momentum_wd": dict(algo=3, lr=0.1, momentum=0.9, weight_decay=0.05),
}
CFG_KEYS = ["algo", "lr", "beta1", "beta2", "eps", "alpha", "momentum", "weight_decay", "decay", "clip"]


def optimizer_case(name, cfg):
    """Five steps over two parameters (w [3, 4], b [4]) with a FIXED sequence of gradients
    grad.<t>.<p> (not a real loss), so the test isolates the update rule.

    Keys: cfg.<k> (every key of CFG_KEYS; clip 0 = none, decay 0 = none), init.<p>, and for
    t = 1…5: grad.<t>.<p>, param.<t>.<p>, exp_avg.<t>.<p>, exp_avg_sq.<t>.<p> after step t.
    Buffer meanings follow tapegan's `Optimizer::state()`: exp_avg is Adam's first moment or the
    momentum buffer of SGD/RMSprop (zeros without momentum); exp_avg_sq is Adam's second moment
    or RMSprop's square average (zeros for SGD).

    Keras time decay: step t uses lr / (1 + decay·(t − 1)) (Keras' `decay` with iterations
    counted from 0); for PyTorch optimizers it is applied by setting the group's lr before step t.
    Keras Adam, by hand: m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², lr_t = lr·√(1−β2ᵗ)/(1−β1ᵗ),
    p ← p − lr_t·m/(√v + ε) (ε outside the bias correction, unlike PyTorch).
    Clipping: every parameter clamped to [−clip, clip] after each step (WGAN).
    """
    g = gen(name)
    full = {k: 0.0 for k in CFG_KEYS}
    full.update(cfg)
    c = {k: f32s(v) for k, v in full.items()}
    algo = int(c["algo"])
    # w takes the kernel's vec4 path (12 elements), b its scalar one (3).
    shapes = {"w": (3, 4), "b": (3,)}
    if c["clip"] > 0:
        init = {k: uniform(g, -0.02, 0.02, *s) for k, s in shapes.items()}
    else:
        init = {k: randn(g, *s, scale=0.5) for k, s in shapes.items()}
    grads = []
    for _ in range(5):
        step = {}
        for k, s in shapes.items():
            # Magnitudes spread over three decades, plus a few tiny ones (|g| ~ 1e-7) where √v is
            # comparable to ε, so ε's placement matters.
            gr = randn(g, *s) * torch.pow(10.0, uniform(g, -2.0, 1.0, *s))
            gr.view(-1)[:2] *= 1e-6
            step[k] = f32r(gr)
        grads.append(step)
    t = {f"cfg.{k}": torch.tensor(v) for k, v in c.items()}
    t.update({f"init.{k}": v for k, v in init.items()})
    params = {k: v.clone() for k, v in init.items()}

    def lr_at(step):
        return c["lr"] / (1.0 + c["decay"] * (step - 1))

    if algo == 1:
        m = {k: torch.zeros_like(v) for k, v in params.items()}
        v2 = {k: torch.zeros_like(v) for k, v in params.items()}
        for i, gs in enumerate(grads, start=1):
            b1, b2 = c["beta1"], c["beta2"]
            lr_t = lr_at(i) * (1 - b2**i) ** 0.5 / (1 - b1**i)
            for k in params:
                gr = gs[k] + c["weight_decay"] * params[k]
                m[k] = b1 * m[k] + (1 - b1) * gr
                v2[k] = b2 * v2[k] + (1 - b2) * gr * gr
                params[k] = params[k] - lr_t * m[k] / (v2[k].sqrt() + c["eps"])
                if c["clip"] > 0:
                    params[k] = params[k].clamp(-c["clip"], c["clip"])
                t.update({f"grad.{i}.{k}": gs[k], f"param.{i}.{k}": params[k]})
                t.update({f"exp_avg.{i}.{k}": m[k], f"exp_avg_sq.{i}.{k}": v2[k]})
        save(name, t)
        return

    ps = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    plist = [ps["w"], ps["b"]]
    if algo == 0:
        opt = torch.optim.Adam(
            plist, lr=c["lr"], betas=(c["beta1"], c["beta2"]), eps=c["eps"], weight_decay=c["weight_decay"]
        )
    elif algo == 2:
        opt = torch.optim.RMSprop(
            plist, lr=c["lr"], alpha=c["alpha"], eps=c["eps"], momentum=c["momentum"],
            weight_decay=c["weight_decay"],
        )
    else:
        opt = torch.optim.SGD(plist, lr=c["lr"], momentum=c["momentum"], weight_decay=c["weight_decay"])
    for i, gs in enumerate(grads, start=1):
        for grp in opt.param_groups:
            grp["lr"] = lr_at(i)
        for k, p in ps.items():
            p.grad = gs[k].clone()
        opt.step()
        if c["clip"] > 0:
            with torch.no_grad():
                for p in plist:
                    p.clamp_(-c["clip"], c["clip"])
        for k, p in ps.items():
            st = opt.state[p]
            zeros = torch.zeros_like(p)
            if algo == 0:
                m, v2 = st["exp_avg"], st["exp_avg_sq"]
            elif algo == 2:
                m, v2 = st.get("momentum_buffer", zeros), st["square_avg"]
            else:
                m, v2 = st.get("momentum_buffer", zeros), zeros
                if m is None:
                    m = zeros
            t.update({f"grad.{i}.{k}": gs[k], f"param.{i}.{k}": p.detach().clone()})
            t.update({f"exp_avg.{i}.{k}": m.clone(), f"exp_avg_sq.{i}.{k}": v2.clone()})
    if c["clip"] > 0:
        # The case must exercise the clamp: some but not all elements end on the bound.
        at = sum(int((t[f"param.5.{k}"].abs() == c["clip"]).sum()) for k in shapes)
        assert 0 < at < 15, (name, at)
    save(name, t)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    for f in os.listdir(OUT_DIR):
        if f.startswith(PREFIXES) and f.endswith(".safetensors"):
            os.remove(os.path.join(OUT_DIR, f))
    linear_cases()
    embedding_case()
    batch_norm_case("layer_bn1d", (8, 3))
    batch_norm_case("layer_bn2d", (4, 3, 3, 3))
    batch_norm_case("layer_bn2d_keras", (3, 2, 4, 4), keras=True)
    instance_norm_case()
    norm_leaky_case("layer_bn_leaky", "batch", (4, 3, 4, 4), 0.2)
    norm_leaky_case("layer_bn_relu", "batch", (4, 3, 3, 3), 0.0)
    norm_leaky_case("layer_in_leaky", "instance", (2, 3, 4, 4), 0.2)
    norm_third_order_case("layer_in_third", None)
    norm_third_order_case("layer_in_leaky_third", 0.2)
    activation_cases()
    spectral_norm_cases()
    attention_case()
    state_dict_cases()
    for name, cfg in OPTIM_CASES.items():
        optimizer_case(name, cfg)
    total = sum(s for _, s in WRITTEN)
    print(f"wrote {len(WRITTEN)} files, {total / 1e3:.1f} kB, to {os.path.normpath(OUT_DIR)}")
    assert total < 1_500_000, "layer/optimizer goldens must stay well under 1.5 MB"


if __name__ == "__main__":
    main()
