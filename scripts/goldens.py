#!/usr/bin/env python3
"""Golden gradients for tapegan's tests, computed with PyTorch.

DEVELOPMENT TOOL ONLY. The tests (tests/gradients.rs, tests/second_order.rs) and CI read the
committed files in tests/goldens/ and never need Python. Rerun this script only when a case is
added or changed, and commit its outputs:

    pip install torch safetensors       # PyTorch CPU is enough
    python3 scripts/goldens.py          # rewrites tests/goldens/*.safetensors

What it writes: one file tests/goldens/<name>.safetensors per case, every tensor float32.
Each reference is computed in float64 from inputs that were first rounded to float32 (so the
engine and the reference see exactly the same inputs), then stored as float32. Every case has
its own seed (derived from its name), so adding a case does not change the others.

Key layout of a first-order case (checked by tests/gradients.rs):
    in.<k>      differentiable input k (the test uploads it as a variable)
    const.<k>   non-differentiable f32 input (select condition, dropout mask)
    int.<k>     integer input (indices, labels) stored as exact f32 values
    out         forward output
    gout        upstream gradient (grad_outputs) used for the backward pass
    grad.<k>    gradient of sum(out * gout) with respect to in.<k>

A double-backward case (tests/second_order.rs) has in./const./out/gout as above, plus
    v.<k>       one tensor per input the FIRST gradient is taken with respect to
    g1.<k>      first gradient: autograd.grad(out, in.k, gout, create_graph=True)
    s           sum over k of sum(g1.<k> * v.<k>)
    grad2.<k>   gradient of s with respect to every in.<k> (zeros where s does not depend on it)

The WGAN-GP critic case (wgan_gp_critic) is described at `wgan_gp_critic()` below.
"""

import os
import zlib

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "goldens")
torch.set_default_dtype(torch.float64)

WRITTEN = []


def gen(name):
    """A generator seeded from the case name: cases are independent of each other."""
    return torch.Generator().manual_seed(zlib.crc32(name.encode()))


def f32r(t):
    """Rounds to float32 and back: the exact values the engine will see."""
    return t.to(torch.float32).to(torch.float64)


def randn(g, *shape, scale=1.0):
    return f32r(torch.randn(tuple(shape), generator=g, dtype=torch.float64) * scale)


def uniform(g, lo, hi, *shape):
    return f32r(lo + (hi - lo) * torch.rand(tuple(shape), generator=g, dtype=torch.float64))


def away(x, points, margin=0.05):
    """Moves values closer than `margin` to any of `points` (kinks) away from them."""
    x = x.clone()
    for p in points:
        d = x - p
        near = d.abs() < margin
        x[near] = p + torch.where(d[near] >= 0, 1.0, -1.0) * (margin + d[near].abs())
    return f32r(x)


def save(name, tensors):
    out = {k: v.detach().to(torch.float32).contiguous() for k, v in tensors.items()}
    path = os.path.join(OUT_DIR, f"{name}.safetensors")
    save_file(out, path)
    WRITTEN.append((name, os.path.getsize(path)))


def zeros_if_none(gs, like):
    return [torch.zeros_like(t) if g is None else g for g, t in zip(gs, like)]


# ----------------------------------------------------------------------------------------------
# First order
# ----------------------------------------------------------------------------------------------


def first(name, f, inputs, consts=None, ints=None, g=None):
    """f(**inputs, **consts, **ints) → out; stores out, gout and every input gradient."""
    consts = consts or {}
    ints = ints or {}
    g = g or gen(name + "/gout")
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    int_args = {k: v.long() for k, v in ints.items()}
    out = f(**leaves, **consts, **int_args)
    gout = randn(g, *out.shape)
    names = list(leaves)
    grads = torch.autograd.grad(out, [leaves[k] for k in names], gout, allow_unused=True)
    grads = zeros_if_none(grads, [leaves[k] for k in names])
    t = {"out": out, "gout": gout}
    t.update({f"in.{k}": v for k, v in inputs.items()})
    t.update({f"const.{k}": v for k, v in consts.items()})
    t.update({f"int.{k}": v.to(torch.float64) for k, v in ints.items()})
    t.update({f"grad.{k}": gr for k, gr in zip(names, grads)})
    save(name, t)


def unary_cases():
    W = (7, 33)

    def case(name, f, x):
        first(name, lambda x: f(x), {"x": x})

    g = gen("unary")
    case("neg", torch.neg, randn(g, *W))
    case("exp", torch.exp, uniform(g, -3, 3, *W))
    case("log", torch.log, uniform(g, 0.05, 5, *W))
    case("sqrt", torch.sqrt, uniform(g, 0.05, 5, *W))
    case("rsqrt", torch.rsqrt, uniform(g, 0.05, 5, *W))
    case("square", torch.square, randn(g, *W, scale=2))
    case("abs", torch.abs, away(randn(g, *W), [0.0]))
    case("recip", torch.reciprocal, away(randn(g, *W), [0.0], 0.2))
    # tanh / sigmoid / softplus include saturated values (the kernels have special branches).
    sat = torch.tensor([-25.0, -15.0, -12.0, -9.0, 9.0, 12.0, 15.0, 25.0])
    x = randn(g, *W, scale=2.5)
    x[0, :8] = sat
    case("tanh", torch.tanh, x)
    x = randn(g, *W, scale=3)
    x[0, :8] = sat
    case("sigmoid", torch.sigmoid, x)
    x = randn(g, *W, scale=3)
    x[0, :8] = sat
    # torch's softplus switches to x above threshold 20; the difference is below f32 resolution.
    case("softplus", F.softplus, x)
    case("relu", torch.relu, away(randn(g, *W), [0.0]))
    case("leaky_relu_0.3", lambda x: F.leaky_relu(x, 0.3), away(randn(g, *W), [0.0]))
    case("leaky_relu_0.2", lambda x: F.leaky_relu(x, 0.2), away(randn(g, *W), [0.0]))
    case("elu_1", lambda x: F.elu(x, 1.0), away(randn(g, *W, scale=2), [0.0]))
    case("elu_0.5", lambda x: F.elu(x, 0.5), away(randn(g, *W, scale=2), [0.0]))
    case("clamp", lambda x: torch.clamp(x, -0.5, 0.8), away(randn(g, *W), [-0.5, 0.8]))
    case("affine", lambda x: 1.7 * x - 0.4, randn(g, *W))
    case("add_scalar", lambda x: x + 2.5, randn(g, *W))
    case("mul_scalar", lambda x: -3.0 * x, randn(g, *W))
    case("powf_2", lambda x: x.pow(2.0), randn(g, *W))
    case("powf_3", lambda x: x.pow(3.0), randn(g, *W))
    case("powf_0.5", lambda x: x.pow(0.5), uniform(g, 0.05, 4, *W))
    case("powf_-1", lambda x: x.pow(-1.0), away(randn(g, *W), [0.0], 0.25))
    # Shapes of one element and of one row.
    case("exp_1", torch.exp, uniform(g, -2, 2, 1))
    case("tanh_1x7", torch.tanh, randn(g, 1, 7))


def kink_cases():
    """Values exactly on kinks: the documented conventions (all equal to PyTorch's)."""
    x = torch.tensor([[-1.5, -0.5, 0.0, 0.5, 0.8, 1.5, 0.0]])
    # relu'(0) = 0; leaky_relu'(0) = slope; |x|'(0) = 0; elu'(0) = α.
    first("kink_relu", torch.relu, {"x": x})
    first("kink_leaky_relu", lambda x: F.leaky_relu(x, 0.2), {"x": x})
    first("kink_abs", torch.abs, {"x": x})
    first("kink_elu", lambda x: F.elu(x, 0.7), {"x": x})
    # clamp passes the gradient at both bounds (lo ≤ x ≤ hi): the subgradient 1 that PyTorch's
    # derivatives.yaml documented for years ("we return the subgradient 1 for these cases").
    # Recent PyTorch (2.15 here) returns 0 at the bounds of a scalar clamp instead, so this
    # reference spells the documented convention out with where() rather than trust the
    # installed version.
    def clamp_at_bounds(x, lo=-0.5, hi=0.8):
        return torch.where((x >= lo) & (x <= hi), x, torch.clamp(x, lo, hi).detach())

    first("kink_clamp", clamp_at_bounds, {"x": x})
    # hinge at its kink (1 − s·x = 0): relu'(0) = 0.
    first("kink_hinge", lambda x: torch.relu(1.0 - x).mean(), {"x": torch.tensor([[1.0], [0.5], [2.0]])})
    # amax splits the gradient evenly among ties.
    xt = torch.tensor([[1.0, 3.0, 3.0, -2.0], [2.0, 2.0, 2.0, 0.5], [-1.0, -4.0, -3.0, -1.0]])
    first("kink_max_ties", lambda x: torch.amax(x, dim=1), {"x": xt})
    first("kink_max_ties_all", lambda x: torch.amax(x), {"x": xt})


def binary_cases():
    ops = {
        "add": lambda a, b: a + b,
        "sub": lambda a, b: a - b,
        "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b,
    }
    shapes = {
        "7x33_7x33": ((7, 33), (7, 33)),
        "3x4_4": ((3, 4), (4,)),
        "3x1_1x4": ((3, 1), (1, 4)),
        "3x4_s": ((3, 4), ()),
        "s_3x4": ((), (3, 4)),
        "2x3x4_3x1": ((2, 3, 4), (3, 1)),
    }
    for op, f in ops.items():
        for sn, (sa, sb) in shapes.items():
            name = f"{op}_{sn}"
            g = gen(name)
            a = randn(g, *sa)
            b = randn(g, *sb)
            if op == "div":
                b = away(b, [0.0], 0.3)
            first(name, f, {"a": a, "b": b})
    name = "lerp"
    g = gen(name)
    first(
        name,
        lambda a, b, t: a + t * (b - a),
        {"a": randn(g, 8, 33), "b": randn(g, 8, 33), "t": uniform(g, 0, 1, 8, 1)},
    )


def select_cases():
    def sel(a, b, cond):
        return torch.where(cond != 0, a, b)

    g = gen("select")
    cond = (torch.rand(3, 4, generator=g) > 0.5).to(torch.float64)
    first("select_3x4_4", sel, {"a": randn(g, 3, 4), "b": randn(g, 4)}, {"cond": cond})
    cond = torch.tensor([[1.0], [0.0], [2.0]])  # any non-zero selects a
    first("select_3x1_s_3x4", sel, {"a": randn(g), "b": randn(g, 3, 4)}, {"cond": cond})


def reduce_cases():
    X = (2, 5, 33)
    axes_sets = {
        "all": (),
        "0": (0,),
        "1": (1,),
        "2": (2,),
        "02": (0, 2),
        "12": (1, 2),
        "01": (0, 1),
    }
    for op in ["sum", "mean", "max"]:
        for an, axes in axes_sets.items():
            for keep in [False, True]:
                name = f"{op}_ax{an}_{'keep' if keep else 'drop'}"
                g = gen(name)
                x = randn(g, *X)
                dims = axes if axes else tuple(range(len(X)))
                if op == "sum":
                    f = lambda x, d=dims, k=keep: x.sum(dim=d, keepdim=k)
                elif op == "mean":
                    f = lambda x, d=dims, k=keep: x.mean(dim=d, keepdim=k)
                else:
                    f = lambda x, d=dims, k=keep: torch.amax(x, dim=d, keepdim=k)
                first(name, f, {"x": x})
    # A size-1 axis, and a long reduction with few outputs (split into chunks by the kernel).
    g = gen("reduce_misc")
    first("sum_4x1x33_ax1", lambda x: x.sum(dim=1), {"x": randn(g, 4, 1, 33)})
    first("max_4x1x33_ax1", lambda x: torch.amax(x, dim=1), {"x": randn(g, 4, 1, 33)})
    first("mean_300x2_ax0", lambda x: x.mean(dim=0), {"x": randn(g, 300, 2)})
    first("max_300x2_ax0", lambda x: torch.amax(x, dim=0), {"x": randn(g, 300, 2)})
    first("sum_1_all", lambda x: x.sum(), {"x": randn(g, 1)})
    first("sum_to_2x3x4_3x1", lambda x: x.sum_to_size(3, 1), {"x": randn(g, 2, 3, 4)})


def movement_cases():
    g = gen("movement")
    first("reshape_3x4x5_6x10", lambda x: x.reshape(6, 10), {"x": randn(g, 3, 4, 5)})
    first("reshape_7x33_231", lambda x: x.reshape(231), {"x": randn(g, 7, 33)})
    first("permute_201", lambda x: x.permute(2, 0, 1), {"x": randn(g, 2, 3, 4)})
    first("permute_3102", lambda x: x.permute(3, 1, 0, 2), {"x": randn(g, 2, 3, 4, 5)})
    first("transpose_02", lambda x: x.transpose(0, 2), {"x": randn(g, 3, 2, 33)})
    first("transpose_m1m2", lambda x: x.transpose(-1, -2), {"x": randn(g, 2, 7, 33)})
    first("broadcast_3x1_2x3x4", lambda x: x.expand(2, 3, 4), {"x": randn(g, 3, 1)})
    first("broadcast_4_3x4", lambda x: x.expand(3, 4), {"x": randn(g, 4)})
    first("broadcast_s_2x3", lambda x: x.expand(2, 3), {"x": randn(g)})
    first("broadcast_1x7_33x7", lambda x: x.expand(33, 7), {"x": randn(g, 1, 7)})
    first("narrow_ax1", lambda x: x.narrow(1, 2, 3), {"x": randn(g, 4, 7, 5)})
    first("narrow_axm1_len1", lambda x: x.narrow(-1, 0, 1), {"x": randn(g, 4, 7, 5)})
    first("narrow_ax0_last", lambda x: x.narrow(0, 3, 1), {"x": randn(g, 4, 7, 5)})

    def pad(x, axis, start, full):
        shape = list(x.shape)
        before = shape.copy()
        before[axis] = start
        after = shape.copy()
        after[axis] = full - start - shape[axis]
        return torch.cat([torch.zeros(before), x, torch.zeros(after)], dim=axis)

    first("pad_into_ax1", lambda x: pad(x, 1, 2, 7), {"x": randn(g, 4, 3, 5)})
    first("pad_into_ax0", lambda x: pad(x, 0, 0, 3), {"x": randn(g, 1, 33)})
    first("pad_into_axm1_end", lambda x: pad(x, 1, 32, 33), {"x": randn(g, 7, 1)})
    first(
        "concat_ax1",
        lambda a, b, c: torch.cat([a, b, c], dim=1),
        {"a": randn(g, 2, 1, 4), "b": randn(g, 2, 3, 4), "c": randn(g, 2, 7, 4)},
    )
    first("concat_ax0", lambda a, b: torch.cat([a, b], dim=0), {"a": randn(g, 1, 33), "b": randn(g, 7, 33)})
    first("concat_axm1", lambda a, b: torch.cat([a, b], dim=-1), {"a": randn(g, 3, 1), "b": randn(g, 3, 33)})


def matmul_cases():
    def mm(ta, tb):
        def f(a, b):
            aa = a.transpose(-1, -2) if ta else a
            bb = b.transpose(-1, -2) if tb else b
            return torch.matmul(aa, bb)

        return f

    def stored(shape, t):
        # Shape of an operand stored transposed.
        s = list(shape)
        if t:
            s[-1], s[-2] = s[-2], s[-1]
        return s

    cases = [
        # name, op(A) shape, op(B) shape
        ("2d", (7, 33), (33, 5)),
        ("2d_edges", (33, 9), (9, 35)),
        ("2d_k1", (7, 1), (1, 33)),
        ("2d_vec", (1, 33), (33, 1)),
        ("3d", (3, 7, 9), (3, 9, 5)),
        ("b1_3d", (1, 7, 9), (3, 9, 5)),
        ("2d_3d", (7, 9), (3, 9, 5)),
        ("3d_2d", (3, 7, 9), (9, 5)),
        ("3d_b1", (3, 7, 9), (1, 9, 5)),
    ]
    for cname, sa, sb in cases:
        for ta in [False, True]:
            for tb in [False, True]:
                if cname not in ("2d", "b1_3d", "3d", "2d_3d") and (ta or tb):
                    if not (cname == "2d_edges" and ta and tb):
                        continue
                name = f"matmul_{cname}_{'t' if ta else 'n'}{'t' if tb else 'n'}"
                g = gen(name)
                a = randn(g, *stored(sa, ta))
                b = randn(g, *stored(sb, tb))
                first(name, mm(ta, tb), {"a": a, "b": b})


def index_cases():
    g = gen("index")
    idx = torch.tensor([0, 3, 3, 4, 1, 0, 2, 3])
    first("gather_rows_5x7", lambda t, idx: t[idx], {"t": randn(g, 5, 7)}, ints={"idx": idx})
    first("gather_rows_6", lambda t, idx: t[idx], {"t": randn(g, 6)}, ints={"idx": torch.tensor([5, 0, 5])})
    first(
        "gather_rows_4x2x3",
        lambda t, idx: t[idx],
        {"t": randn(g, 4, 2, 3)},
        ints={"idx": torch.tensor([3, 1, 1, 0, 3])},
    )

    def scatter(vocab):
        return lambda s, idx: torch.zeros(vocab, *s.shape[1:]).index_add(0, idx, s)

    # Row 2 of the 5 is never indexed (stays zero).
    first(
        "scatter_add_rows_8x7_v5",
        scatter(5),
        {"s": randn(g, 8, 7)},
        ints={"idx": torch.tensor([0, 3, 3, 4, 1, 0, 4, 3])},
    )
    first("scatter_add_rows_3_v4", scatter(4), {"s": randn(g, 3)}, ints={"idx": torch.tensor([1, 1, 3])})


def softmax_cases():
    for fn, f in [("softmax", torch.softmax), ("log_softmax", torch.log_softmax)]:
        for shape, axis in [((5, 7), -1), ((3, 33), 1), ((4, 1), -1), ((7, 5), 0), ((2, 3, 4), 1),
                            ((6, 12), -1), ((2, 3, 1024), -1)]:
            name = f"{fn}_{'x'.join(map(str, shape))}_ax{axis}"
            g = gen(name)
            first(name, lambda x, a=axis: f(x, a), {"x": randn(g, *shape, scale=3)})


def loss_cases():
    g = gen("losses")
    x = randn(g, 8, 1, scale=3)
    y = torch.tensor([[1.0], [0.0], [0.9], [0.1], [1.0], [0.0], [0.5], [1.0]])
    first("bce_with_logits", lambda x, y: F.binary_cross_entropy_with_logits(x, y), {"x": x, "y": y})
    x = randn(g, 6, 7, scale=2)
    first(
        "bce_with_logits_bcast",
        lambda x, y: F.binary_cross_entropy_with_logits(x, y.expand_as(x)),
        {"x": x, "y": torch.tensor(0.9)},
    )
    p = f32r(torch.sigmoid(randn(g, 8, 1, scale=2)))
    first("bce", lambda p, y: F.binary_cross_entropy(p, y), {"p": p, "y": y})
    p = f32r(torch.sigmoid(randn(g, 5, 7, scale=2)))
    first("bce_5x7", lambda p, y: F.binary_cross_entropy(p, y), {"p": p, "y": uniform(g, 0, 1, 5, 7)})
    for n, c in [(6, 5), (3, 33), (4, 1)]:
        labels = torch.randint(0, c, (n,), generator=g)
        first(
            f"softmax_cross_entropy_{n}x{c}",
            lambda x, labels: F.cross_entropy(x, labels),
            {"x": randn(g, n, c, scale=2)},
            ints={"labels": labels},
        )
    for sign, sn in [(1.0, "pos"), (-1.0, "neg")]:
        x = away(randn(g, 8, 1, scale=1.5), [1.0 / sign])
        first(f"hinge_{sn}", lambda x, s=sign: torch.relu(1.0 - s * x).mean(), {"x": x})


# ----------------------------------------------------------------------------------------------
# Double backward
# ----------------------------------------------------------------------------------------------


def second(name, f, inputs, wrt1, consts=None, ints=None):
    """First gradient of f w.r.t. `wrt1` (with create_graph), s = Σ g1·v, then ∂s/∂(all inputs).
    `ints` are integer inputs (class labels), stored under `int.<k>`."""
    consts = consts or {}
    ints = ints or {}
    g = gen(name + "/gout")
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    out = f(**leaves, **consts, **ints)
    gout = randn(g, *out.shape)
    g1 = torch.autograd.grad(out, [leaves[k] for k in wrt1], gout, create_graph=True)
    vs = {k: randn(g, *leaves[k].shape) for k in wrt1}
    s = sum((gi * vs[k]).sum() for gi, k in zip(g1, wrt1))
    names = list(leaves)
    g2 = torch.autograd.grad(s, [leaves[k] for k in names], allow_unused=True)
    g2 = zeros_if_none(g2, [leaves[k] for k in names])
    t = {"out": out, "gout": gout, "s": s}
    t.update({f"in.{k}": v for k, v in inputs.items()})
    t.update({f"const.{k}": v for k, v in consts.items()})
    t.update({f"int.{k}": v.double() for k, v in ints.items()})
    t.update({f"v.{k}": v for k, v in vs.items()})
    t.update({f"g1.{k}": gi for k, gi in zip(wrt1, g1)})
    t.update({f"grad2.{k}": gi for k, gi in zip(names, g2)})
    save(name, t)


def second_cases():
    B, I, O = 5, 7, 33

    def lin(g):
        return {
            "x": randn(g, B, I),
            "w": randn(g, O, I, scale=I**-0.5),
            "b": randn(g, O, scale=0.3),
        }

    def linear(x, w, b):
        return x @ w.T + b

    g = gen("dd_linear")
    second("dd_linear", linear, lin(g), ["x", "w"])
    acts = {
        "leaky_relu": lambda z: F.leaky_relu(z, 0.3),
        "relu": torch.relu,
        "elu": lambda z: F.elu(z, 1.0),
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "softplus": F.softplus,
    }
    for an, act in acts.items():
        name = f"dd_linear_{an}"
        g = gen(name)
        inp = lin(g)
        if an in ("leaky_relu", "relu", "elu"):
            # Keep pre-activations off the kink.
            z = linear(**inp)
            inp["b"] = inp["b"].clone()
            for _ in range(20):
                z = linear(**inp)
                if (z.abs() > 1e-3).all():
                    break
                inp["b"] = f32r(inp["b"] + 0.01)
            assert (linear(**inp).abs() > 1e-3).all(), name
        second(name, lambda x, w, b, a=act: a(linear(x, w, b)), inp, ["x"])

    name = "dd_dropout"
    g = gen(name)
    mask = (torch.rand(B, O, generator=g) > 0.5).to(torch.float64)
    inp = lin(g)
    inp["w2"] = randn(g, 1, O, scale=O**-0.5)
    second(
        name,
        lambda x, w, b, w2, mask: (torch.tanh(linear(x, w, b)) * mask / (1 - 0.5)) @ w2.T,
        inp,
        ["x"],
        {"mask": mask},
    )

    name = "dd_sum_mean"
    g = gen(name)
    second(
        name,
        lambda x: x.sum(dim=1, keepdim=True).square() * x.mean(dim=0) + x.mean() * x.sum(),
        {"x": randn(g, B, I)},
        ["x"],
    )
    name = "dd_square"
    g = gen(name)
    second(name, lambda x, w: x.square() * w, {"x": randn(g, B, I), "w": randn(g, I)}, ["x"])
    name = "dd_sqrt"
    g = gen(name)
    second(name, lambda x, w: torch.sqrt(x) * w, {"x": uniform(g, 0.2, 3, B, I), "w": randn(g, I)}, ["x"])
    for shape in [(5, 7), (4, 12), (2, 3, 256)]:
        name = f"dd_softmax_{'x'.join(map(str, shape))}"
        g = gen(name)
        inp = {"x": randn(g, *shape, scale=3), "w": randn(g, shape[-1])}
        second(name, lambda x, w: torch.softmax(x, -1) * w, inp, ["x"])
    for n, c in [(6, 5), (300, 2)]:
        name = f"dd_softmax_cross_entropy_{n}x{c}"
        g = gen(name)
        labels = torch.randint(0, c, (n,), generator=g)
        inp = {"x": randn(g, n, c, scale=2)}
        second(name, lambda x, labels: F.cross_entropy(x, labels), inp, ["x"], ints={"labels": labels})
    for shape in [(5, 7), (4, 12), (2, 2, 128)]:
        name = f"dd_log_softmax_{'x'.join(map(str, shape))}"
        g = gen(name)
        inp = {"x": randn(g, *shape, scale=3), "w": randn(g, shape[-1])}
        second(name, lambda x, w: torch.log_softmax(x, -1) * w, inp, ["x"])
    name = "dd_norm"
    g = gen(name)
    second(name, lambda x: x.square().sum(dim=1).sqrt(), {"x": randn(g, B, O)}, ["x"])
    name = "dd_add_sub_div"
    g = gen(name)
    second(
        name,
        lambda a, b, c: (a + b) / c - (a - b).square(),
        {"a": randn(g, B, I), "b": randn(g, I), "c": uniform(g, 0.5, 2, B, 1)},
        ["a", "b", "c"],
    )
    # The three kernels of a small critic chained: linear → lrelu → dropout → linear → elu →
    # linear; first gradient w.r.t. the input only (as in the gradient penalty).
    name = "dd_mini_critic"
    g = gen(name)
    inp = {
        "x": uniform(g, -1, 1, B, O),
        "w1": randn(g, 16, O, scale=O**-0.5),
        "b1": randn(g, 16, scale=0.1),
        "w2": randn(g, 16, 16, scale=0.25),
        "b2": randn(g, 16, scale=0.1),
        "w3": randn(g, 1, 16, scale=0.25),
        "b3": randn(g, 1, scale=0.1),
    }
    mask = (torch.rand(B, 16, generator=g) > 0.5).to(torch.float64)

    def mini(x, w1, b1, w2, b2, w3, b3, mask):
        h = F.leaky_relu(x @ w1.T + b1, 0.3) * mask / 0.5
        h = F.elu(h @ w2.T + b2)
        return h @ w3.T + b3

    second(name, mini, inp, ["x"], {"mask": mask})


# ----------------------------------------------------------------------------------------------
# The WGAN-GP critic (SPEC §3), the second-order test
# ----------------------------------------------------------------------------------------------


def digits(g, n):
    """Real-looking 28×28 images in [-1, 1]: a background of −1 with a few thick strokes."""
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    imgs = []
    for _ in range(n):
        ink = torch.zeros(28, 28)
        for _ in range(3):
            p0 = 6 + 16 * torch.rand(2, generator=g)
            p1 = 6 + 16 * torch.rand(2, generator=g)
            for t in torch.linspace(0, 1, 12):
                c = p0 + t * (p1 - p0)
                ink += torch.exp(-((yy - c[0]) ** 2 + (xx - c[1]) ** 2) / 2.5)
        imgs.append(torch.clamp(2 * torch.tanh(1.5 * ink) - 1, -1, 1))
    return f32r(torch.stack(imgs).reshape(n, 784))


def wgan_gp_critic():
    """WGAN-GP critic loss and its parameter gradients.

    Critic: Linear(784,128) → LeakyReLU(0.3) → Dropout(0.5) → Linear(128,128) → LeakyReLU(0.3)
    → Dropout(0.5) → Linear(128,128) → LeakyReLU(0.3) → Dropout(0.5) → Linear(128,1), with FIXED
    dropout masks (const.mask_<pass><layer>, one per pass and layer, applied as h·mask/(1−0.5)).
    Batch 8: const.real, const.fake, const.eps ([8,1], one ε per sample).

    x̂ = fake + ε(real − fake); gp_grad = ∇x̂ Σ D(x̂) (create_graph); norms = ‖gp_grad‖₂ per
    sample; penalty = λ(norms − 1)², λ = 10; loss = mean D(fake) − mean D(real) + mean penalty.
    Stored: in.w1..w4, in.b1..b4 (PyTorch layout: weight [out, in], bias [out], default init),
    xhat, d_real, d_fake, d_xhat, gp_grad, norms, penalty, loss, grad.<param> = ∂loss/∂param.
    """
    name = "wgan_gp_critic"
    g = gen(name)
    torch.manual_seed(zlib.crc32(name.encode()))
    dims = [784, 128, 128, 128, 1]
    params = {}
    for i in range(4):
        lin = torch.nn.Linear(dims[i], dims[i + 1], dtype=torch.float64)  # PyTorch default init
        params[f"w{i + 1}"] = f32r(lin.weight.detach())
        params[f"b{i + 1}"] = f32r(lin.bias.detach())
    B = 8
    real = digits(g, B)
    fake = f32r(torch.tanh(torch.randn(B, 784, generator=g) * 0.8))  # an untrained G's output
    eps = uniform(g, 0, 1, B, 1)
    masks = {
        f"mask_{p}{l}": (torch.rand(B, 128, generator=g) > 0.5).to(torch.float64)
        for p in ["r", "f", "h"]
        for l in [1, 2, 3]
    }
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}

    def critic(x, p):
        h = x
        for l in [1, 2, 3]:
            h = h @ leaves[f"w{l}"].T + leaves[f"b{l}"]
            h = F.leaky_relu(h, 0.3)
            h = h * masks[f"mask_{p}{l}"] / (1 - 0.5)
        return h @ leaves["w4"].T + leaves["b4"]

    lam = 10.0
    xhat = (fake + eps * (real - fake)).requires_grad_(True)
    d_xhat = critic(xhat, "h")
    (gp_grad,) = torch.autograd.grad(d_xhat, xhat, torch.ones_like(d_xhat), create_graph=True)
    norms = gp_grad.reshape(B, -1).norm(2, dim=1)
    penalty = lam * (norms - 1) ** 2
    d_real = critic(real, "r")
    d_fake = critic(fake, "f")
    loss = d_fake.mean() - d_real.mean() + penalty.mean()
    names = list(leaves)
    grads = torch.autograd.grad(loss, [leaves[k] for k in names])
    t = {f"in.{k}": v for k, v in params.items()}
    t.update({f"const.{k}": v for k, v in masks.items()})
    t.update({"const.real": real, "const.fake": fake, "const.eps": eps})
    t.update(
        {
            "xhat": xhat,
            "d_real": d_real,
            "d_fake": d_fake,
            "d_xhat": d_xhat,
            "gp_grad": gp_grad,
            "norms": norms,
            "penalty": penalty,
            "loss": loss,
        }
    )
    t.update({f"grad.{k}": gr for k, gr in zip(names, grads)})
    save(name, t)
    print(f"wgan_gp_critic: norms {norms.tolist()}\n  loss {loss.item():.6f}")


def main():
    # Overwrites its own files only (other scripts write goldens into the same folder); a case
    # removed from this script leaves its file behind, to be deleted by hand.
    os.makedirs(OUT_DIR, exist_ok=True)
    unary_cases()
    kink_cases()
    binary_cases()
    select_cases()
    reduce_cases()
    movement_cases()
    matmul_cases()
    index_cases()
    softmax_cases()
    loss_cases()
    second_cases()
    wgan_gp_critic()
    total = sum(s for _, s in WRITTEN)
    print(f"wrote {len(WRITTEN)} files, {total / 1e6:.2f} MB, to {os.path.normpath(OUT_DIR)}")
    assert total < 2_000_000, "goldens must stay under 2 MB"


if __name__ == "__main__":
    main()
