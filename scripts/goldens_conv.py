#!/usr/bin/env python3
"""Golden values for tapegan's convolution tests (tests/conv.rs), computed with PyTorch.

DEVELOPMENT TOOL ONLY. The tests read the committed files tests/goldens/conv_*.safetensors
and never need Python. Rerun only when a case is added or changed, and commit the outputs:

    pip install torch safetensors       # PyTorch CPU is enough
    python3 scripts/goldens_conv.py     # rewrites tests/goldens/conv_*.safetensors

Every tensor is stored as float32; references are computed in float64 from inputs first
rounded to float32 (the engine sees exactly those inputs). Each case has its own seed.

Every file holds `geom` = [transposed, stride_h, stride_w, pad_h, pad_w, out_pad_h, out_pad_w,
same] (same = 1: TensorFlow/Keras "same" padding; pad_* are then unused) and
    in.x, in.w [, in.b]   inputs (weight in PyTorch layout: conv [Co, Ci, KH, KW],
                          transposed conv [Ci, Co, KH, KW])
First-order cases ("conv_fo_*"):
    out                   forward output
    gout                  upstream gradient
    grad.x, grad.w[, grad.b]   gradients of sum(out * gout)
Double-backward cases ("conv_so_*"): with y = op(x, w, b) and r, v.x, v.w given,
    L = sum(y * y * r);  g1.x, g1.w = dL/dx, dL/dw (create_graph);
    s = sum(g1.x * v.x) + sum(g1.w * v.w);  grad2.x, grad2.w, grad2.b = ds/d(x, w, b)
Gradient-penalty cases ("conv_gp_*"): a two-layer critic with a LeakyReLU(0.2) between,
    D(x) = op2(leaky_relu(op1(x, w1, b1)), w2, b2)   (geom: op1, geom2: op2),
    gx = dD.sum()/dx (create_graph);  pen = mean_n (||gx_n||_2 - 1)^2;
    stored: in.x, in.w1, in.b1, in.w2, in.b2, d (= D(x)), gx, pen, grad2.{w1,w2}.
Asymmetric "same" padding is computed with an explicit F.pad (conv) or a crop of the
unpadded result (transposed conv), independently of any formula in the engine.
"""

import os
import zlib

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "goldens")
torch.set_default_dtype(torch.float64)


def gen(name):
    return torch.Generator().manual_seed(zlib.crc32(name.encode()))


def randn(g, *shape, scale=1.0):
    return (torch.randn(shape, generator=g) * scale).to(torch.float32).to(torch.float64)


def same_pads(n, k, s):
    """TensorFlow "same" for a conv on n: (before, after)."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def conv(x, w, b, stride, pad, same):
    if same:
        (t, bo), (l, r) = [same_pads(x.shape[2 + a], w.shape[2 + a], stride[a]) for a in (0, 1)]
        return F.conv2d(F.pad(x, (l, r, t, bo)), w, b, stride=stride)
    return F.conv2d(x, w, b, stride=stride, padding=pad)


def conv_t(x, w, b, stride, pad, out_pad, same):
    if same:
        # The adjoint of a "same" conv on n·s: full transposed conv, then crop [before, before + n·s).
        full = F.conv_transpose2d(x, w, None, stride=stride)
        sl = []
        for a in (0, 1):
            n, k, s = x.shape[2 + a], w.shape[2 + a], stride[a]
            before = max(k - s, 0) // 2
            size = n * s
            if full.shape[2 + a] < before + size:  # k < s: extra outputs receive only the bias
                extra = before + size - full.shape[2 + a]
                full = F.pad(full, (0, extra) if a == 1 else (0, 0, 0, extra))
            sl.append(slice(before, before + size))
        y = full[:, :, sl[0], sl[1]]
        return y if b is None else y + b.view(1, -1, 1, 1)
    return F.conv_transpose2d(x, w, b, stride=stride, padding=pad, output_padding=out_pad)


class Geom:
    def __init__(self, transposed, stride, pad=(0, 0), out_pad=(0, 0), same=False):
        self.t, self.s, self.p, self.op, self.same = transposed, stride, pad, out_pad, same

    def tensor(self):
        v = [float(self.t), *self.s, *self.p, *self.op, float(self.same)]
        return torch.tensor(v)

    def apply(self, x, w, b):
        if self.t:
            return conv_t(x, w, b, self.s, self.p, self.op, self.same)
        return conv(x, w, b, self.s, self.p, self.same)

    def weight_shape(self, ci, co, k):
        return (ci, co, *k) if self.t else (co, ci, *k)


def save(name, tensors):
    path = os.path.join(OUT_DIR, f"conv_{name}.safetensors")
    save_file({k: v.detach().to(torch.float32).contiguous() for k, v in tensors.items()}, path)
    return os.path.getsize(path)


def first_order(name, geom, xs, co, k, bias=True):
    g = gen(name)
    x = randn(g, *xs).requires_grad_()
    w = randn(g, *geom.weight_shape(xs[1], co, k), scale=0.5).requires_grad_()
    b = randn(g, co).requires_grad_() if bias else None
    y = geom.apply(x, w, b)
    gout = randn(g, *y.shape)
    ins = [x, w] + ([b] if bias else [])
    grads = torch.autograd.grad((y * gout).sum(), ins)
    t = {"geom": geom.tensor(), "in.x": x, "in.w": w, "out": y, "gout": gout}
    t.update({"grad.x": grads[0], "grad.w": grads[1]})
    if bias:
        t.update({"in.b": b, "grad.b": grads[2]})
    return save("fo_" + name, t)


def second_order(name, geom, xs, co, k):
    g = gen(name)
    x = randn(g, *xs).requires_grad_()
    w = randn(g, *geom.weight_shape(xs[1], co, k), scale=0.5).requires_grad_()
    b = randn(g, co).requires_grad_()
    y = geom.apply(x, w, b)
    r = randn(g, *y.shape)
    vx, vw = randn(g, *x.shape), randn(g, *w.shape)
    g1x, g1w = torch.autograd.grad((y * y * r).sum(), [x, w], create_graph=True)
    s = (g1x * vx).sum() + (g1w * vw).sum()
    g2 = torch.autograd.grad(s, [x, w, b])
    t = {"geom": geom.tensor(), "in.x": x, "in.w": w, "in.b": b, "r": r, "v.x": vx, "v.w": vw}
    t.update({"g1.x": g1x, "g1.w": g1w, "s": s.reshape(1)})
    t.update({"grad2.x": g2[0], "grad2.w": g2[1], "grad2.b": g2[2]})
    return save("so_" + name, t)


def penalty(name, geom1, geom2, xs, c1, k1, c2, k2):
    g = gen(name)
    x = randn(g, *xs).requires_grad_()
    w1 = randn(g, *geom1.weight_shape(xs[1], c1, k1), scale=0.5).requires_grad_()
    b1 = randn(g, c1, scale=0.1).requires_grad_()
    w2 = randn(g, *geom2.weight_shape(c1, c2, k2), scale=0.5).requires_grad_()
    b2 = randn(g, c2, scale=0.1).requires_grad_()
    h = F.leaky_relu(geom1.apply(x, w1, b1), 0.2)
    d = geom2.apply(h, w2, b2)
    (gx,) = torch.autograd.grad(d.sum(), [x], create_graph=True)
    pen = ((gx.flatten(1).norm(dim=1) - 1.0) ** 2).mean()
    # pen depends on x, b1 and b2 only through LeakyReLU's piecewise-constant slope (zero
    # gradient; the engine's graph does not even connect them), so only w1, w2 are compared.
    g2 = torch.autograd.grad(pen, [w1, w2])
    t = {"geom": geom1.tensor(), "geom2": geom2.tensor(), "in.x": x, "in.w1": w1, "in.b1": b1}
    t.update({"in.w2": w2, "in.b2": b2, "d": d, "gx": gx, "pen": pen.reshape(1)})
    for key, v in zip(["w1", "w2"], g2):
        t["grad2." + key] = v
    return save("gp_" + name, t)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    C, T = False, True
    total = 0
    # conv2d, first order.
    total += first_order("k3s1p1", Geom(C, (1, 1), (1, 1)), (2, 3, 5, 5), 4, (3, 3))
    total += first_order("k4s2p1", Geom(C, (2, 2), (1, 1)), (2, 2, 8, 8), 3, (4, 4))
    total += first_order("k3s2p1_7to4", Geom(C, (2, 2), (1, 1)), (1, 3, 7, 7), 2, (3, 3), bias=False)
    total += first_order("k4s1p0_4to1", Geom(C, (1, 1)), (2, 3, 4, 4), 2, (4, 4))
    total += first_order("s3x2_nonsquare", Geom(C, (3, 2), (1, 0)), (2, 2, 7, 9), 3, (3, 2))
    total += first_order("same_k4s2", Geom(C, (2, 2), same=True), (2, 2, 8, 8), 3, (4, 4))
    total += first_order("same_k3s2_asym", Geom(C, (2, 2), same=True), (2, 2, 8, 7), 3, (3, 3))
    total += first_order("same_k4s1_asym", Geom(C, (1, 1), same=True), (1, 2, 5, 6), 2, (4, 4))
    # conv_transpose2d, first order.
    total += first_order("t_k4s1p0_1to4", Geom(T, (1, 1)), (2, 5, 1, 1), 3, (4, 4))
    total += first_order("t_k3s2p1_4to7", Geom(T, (2, 2), (1, 1)), (2, 3, 4, 4), 2, (3, 3))
    total += first_order("t_k4s2p1_4to8", Geom(T, (2, 2), (1, 1)), (1, 3, 4, 4), 2, (4, 4), bias=False)
    total += first_order("t_outpad", Geom(T, (2, 2), (1, 1), (1, 1)), (2, 2, 3, 4), 3, (3, 3))
    total += first_order("t_same_k4s2", Geom(T, (2, 2), same=True), (1, 3, 4, 4), 2, (4, 4))
    total += first_order("t_same_k3s2_asym", Geom(T, (2, 2), same=True), (2, 2, 4, 3), 3, (3, 3))
    total += first_order("t_same_k2s3", Geom(T, (3, 3), same=True), (1, 2, 3, 3), 2, (2, 2))
    # Double backward through each op.
    total += second_order("conv_k4s2p1", Geom(C, (2, 2), (1, 1)), (2, 2, 6, 6), 3, (4, 4))
    total += second_order("conv_same_k3s2", Geom(C, (2, 2), same=True), (1, 2, 6, 5), 2, (3, 3))
    total += second_order("convt_k3s2p1_op1", Geom(T, (2, 2), (1, 1), (1, 1)), (2, 3, 3, 3), 2, (3, 3))
    total += second_order("convt_k4s1_1x1", Geom(T, (1, 1)), (2, 4, 1, 1), 3, (4, 4))
    # Gradient penalty through conv → LeakyReLU → conv, and convT → LeakyReLU → conv.
    total += penalty("conv_lrelu_conv", Geom(C, (2, 2), (1, 1)), Geom(C, (1, 1)), (3, 2, 8, 8), 4, (4, 4), 1, (4, 4))
    total += penalty("convt_lrelu_conv", Geom(T, (2, 2), (1, 1)), Geom(C, (2, 2), (1, 1)), (2, 3, 3, 3), 4, (4, 4), 2, (3, 3))
    print(f"wrote {total} bytes of conv goldens to {os.path.normpath(OUT_DIR)}")


if __name__ == "__main__":
    main()
