#!/usr/bin/env python3
"""PyTorch twins of tapegan's generators and discriminators, for every preset.

DEVELOPMENT / INTEROPERABILITY TOOL. tapegan itself never needs Python; this file exists so
that a checkpoint written by tapegan can be used from PyTorch, and it documents the checkpoint
format by example:

    import tomllib, torch, safetensors.torch
    from torch_models import build

    with open("runs/x/config.toml", "rb") as f:
        cfg = tomllib.load(f)
    G, D = build(cfg["preset"], cfg)
    G.load_state_dict(safetensors.torch.load_file("runs/x/checkpoint/generator.safetensors"))
    G.eval()
    images = G(torch.randn(16, cfg["z_dim"]))  # noise as the preset draws it, see below

Checkpoint format (what these classes are built to match, with strict=True):

* `checkpoint/generator.safetensors` and `checkpoint/discriminator.safetensors` each hold one
  `Net`: the body is a `torch.nn.Sequential` stored under `net.<i>.` (i counts every layer,
  activations, dropouts and reshapes included, so the indices below are those of tapegan's
  layer list); conditional presets also store their label table under `embed.weight`.
* Layouts are PyTorch's: Linear weight `[out, in]`; Conv2d `[out, in, kh, kw]`;
  ConvTranspose2d `[in, out, kh, kw]`; BatchNorm `weight`, `bias`, `running_mean`,
  `running_var` (f32) and `num_batches_tracked` (int64 scalar); spectral norm (the classic
  `torch.nn.utils.spectral_norm`) `weight_orig`, `weight_u`, `weight_v`; self-attention
  `query_conv.*`, `key_conv.*`, `value_conv.*` (1×1 convs) and `gamma` `[1]`.
* Everything is float32 except `num_batches_tracked`.

Noise: `z_dim` values per sample, uniform in [-1, 1] when the run's config has
`noise = "uniform"`, standard normal when `noise = "normal"`. Conditional presets take labels
(int64, 0..9) as a second argument. Generators return `[B, C, H, W]` images in [-1, 1] (toy
presets `[B, 2]` points); discriminators return `[B, 1]` (mlp-gan: `[B, 2]` logits) with no
output activation (sigmoid / softmax live in the loss), except `wgan-gp-28` with
`critic_sigmoid = true`.

Things that matter for equal outputs:

* Keras-style presets (mlp-gan, mlp-wgan-gp, mlp-cwgan-gp, dcgan-celeba) use BatchNorm with
  eps 1e-3 and momentum 0.01 (Keras' 0.99); the PyTorch ones eps 1e-5, momentum 0.1. (In
  training, tapegan's Keras-style layers update `running_var` with the biased batch variance as
  Keras does; PyTorch uses the unbiased one. Evaluation is identical.)
* dcgan-celeba's TensorFlow "same" padding with kernel 4, stride 2 on even sizes is the
  symmetric padding 1, for Conv2d and ConvTranspose2d alike.
* Dropout is the identity in eval mode; InstanceNorm (wgan-gp-28) has no parameters.
"""

import torch
import torch.nn as nn

KERAS_BN = dict(eps=1e-3, momentum=0.01)
TORCH_BN = dict(eps=1e-5, momentum=0.1)
PRESETS = (
    "mlp-gan", "mlp-gan-small", "mlp-wgan-gp", "mlp-cwgan-gp", "dcgan-64", "dcgan-celeba",
    "dcgan-28", "wgan-gp-28", "sagan-64", "toy-wgan-clip", "toy-wgan-gp",
)


class Net(nn.Module):
    """A generator or discriminator: `net` (an nn.Sequential) applied to the input reshaped
    to `[B, *in_shape]`, result reshaped to `[B, *out_shape]`. A conditional net concatenates
    `embed(labels)` to the features (dim 1) after layer `after` (i.e. between `net[after-1]`
    and `net[after]`)."""

    def __init__(self, layers, in_shape, out_shape, embed=None, after=None):
        super().__init__()
        self.net = nn.Sequential(*layers)
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        self.after = after
        self.embed = embed  # an nn.Embedding (state-dict key `embed.weight`) or None

    def forward(self, x, labels=None):
        b = x.shape[0]
        h = x.reshape(b, *self.in_shape)
        if self.embed is None:
            h = self.net(h)
        else:
            if labels is None:
                raise ValueError("this model is conditional: it needs class labels")
            h = self.net[: self.after](h)
            h = torch.cat([h, self.embed(labels.long())], dim=1)
            h = self.net[self.after:](h)
        return h.reshape(b, *self.out_shape)


class SelfAttention(nn.Module):
    """SAGAN's block. N = H·W; S = qᵀk `[B, N, N]` (query position i × key position j);
    A = softmax over the last axis (the keys); o = v·Aᵀ; out = x + γ·o."""

    def __init__(self, c):
        super().__init__()
        self.query_conv = nn.Conv2d(c, c // 8, 1)
        self.key_conv = nn.Conv2d(c, c // 8, 1)
        self.value_conv = nn.Conv2d(c, c, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        b, c, h, w = x.shape
        q = self.query_conv(x).reshape(b, -1, h * w)
        k = self.key_conv(x).reshape(b, -1, h * w)
        v = self.value_conv(x).reshape(b, c, h * w)
        attention = torch.softmax(torch.bmm(q.transpose(1, 2), k), dim=-1)
        o = torch.bmm(v, attention.transpose(1, 2)).reshape(b, c, h, w)
        return x + self.gamma * o


def sn(layer, on=True):
    """Spectral norm with the classic hook API (keys weight_orig / weight_u / weight_v); it
    picks dim 1 for ConvTranspose2d and dim 0 otherwise, as tapegan does. In eval mode it uses
    σ = uᵀ W v with the stored u and v."""
    return nn.utils.spectral_norm(layer) if on else layer


# ---------------------------------------------------------------------------------------------
# Fully connected presets on flattened 28×28 digits (SPEC §1–4)

IMAGE28 = (1, 28, 28)


def mlp_gan(z):
    """mlp-gan (Keras): 2-way logits from D (softmax in the loss)."""
    g = [
        nn.Linear(z, 256), nn.LeakyReLU(0.3), nn.BatchNorm1d(256, **KERAS_BN),
        nn.Linear(256, 256), nn.LeakyReLU(0.3), nn.BatchNorm1d(256, **KERAS_BN),
        nn.Linear(256, 784), nn.Tanh(),
    ]
    d = []
    for i, o in [(784, 128), (128, 128), (128, 128)]:
        d += [nn.Linear(i, o), nn.LeakyReLU(0.3), nn.Dropout(0.5)]
    d += [nn.Linear(128, 2)]
    return Net(g, [z], IMAGE28), Net(d, [784], [2])


def mlp_gan_small(z):
    """mlp-gan-small (PyTorch book): D's first Linear has no bias; sigmoid in the loss."""
    g = [nn.Linear(z, 100), nn.LeakyReLU(0.01), nn.Linear(100, 784), nn.Tanh()]
    d = [nn.Linear(784, 100, bias=False), nn.LeakyReLU(0.01), nn.Dropout(0.5), nn.Linear(100, 1)]
    return Net(g, [z], IMAGE28), Net(d, [784], [1])


def mlp_wgan_gp(z, conditional):
    """mlp-wgan-gp and mlp-cwgan-gp (Keras). Conditional: Embedding(10, 64) concatenated after
    the first Linear (layer 0, so `after` = 1), giving 192 features."""
    e = 64 if conditional else 0
    g, width = [], z
    for i in range(3):
        feat = 128 + e if i == 0 else 128
        g += [nn.Linear(width, 128), nn.LeakyReLU(0.3), nn.BatchNorm1d(feat, **KERAS_BN)]
        width = feat
    g += [nn.Linear(width, 784), nn.Tanh()]
    d, width = [], 784
    for i in range(3):
        feat = 128 + e if i == 0 else 128
        d += [nn.Linear(width, 128), nn.LeakyReLU(0.3), nn.Dropout(0.5)]
        width = feat
    d += [nn.Linear(width, 1)]
    if not conditional:
        return Net(g, [z], IMAGE28), Net(d, [784], [1])
    return (
        Net(g, [z], IMAGE28, embed=nn.Embedding(10, 64), after=1),
        Net(d, [784], [1], embed=nn.Embedding(10, 64), after=1),
    )


# ---------------------------------------------------------------------------------------------
# Convolutional presets (SPEC §5–9)


def dcgan64(z, channels, sagan):
    """dcgan-64 / sagan-64: z (z,1,1) → 4 → 8 → 16 → 32 → 64. SAGAN adds spectral norm on every
    conv but the last and self-attention after G's 3rd/4th and D's 3rd/4th blocks."""
    g = []
    widths = [z, 512, 256, 128, 64]
    for i in range(4):
        cin, cout = widths[i], widths[i + 1]
        conv = nn.ConvTranspose2d(cin, cout, 4, 1, 0) if i == 0 else nn.ConvTranspose2d(cin, cout, 4, 2, 1)
        g += [sn(conv, sagan), nn.BatchNorm2d(cout, **TORCH_BN), nn.ReLU()]
        if sagan and i >= 2:
            g += [SelfAttention(cout)]
    g += [nn.ConvTranspose2d(64, channels, 4, 2, 1), nn.Tanh()]
    d = []
    widths = [channels, 64, 128, 256, 512]
    for i in range(4):
        cin, cout = widths[i], widths[i + 1]
        d += [sn(nn.Conv2d(cin, cout, 4, 2, 1), sagan), nn.LeakyReLU(0.1)]
        if sagan and i >= 2:
            d += [SelfAttention(cout)]
    d += [nn.Conv2d(512, 1, 4, 1, 0)]
    image = (channels, 64, 64)
    return Net(g, [z, 1, 1], image), Net(d, image, [1])


def dcgan_celeba(z, channels):
    """dcgan-celeba (TensorFlow): Dense → (1024, 4, 4) (channels first) → ConvT "same" ×4;
    D Conv "same" ×4 → Flatten → Dense(16 → 1). "same", k4, s2 = padding 1 here."""
    g = [nn.Linear(z, 4 * 4 * 1024), nn.Unflatten(1, (1024, 4, 4))]
    for cin, cout in [(1024, 512), (512, 256), (256, 128)]:
        g += [nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout, **KERAS_BN), nn.LeakyReLU(0.2)]
    g += [nn.ConvTranspose2d(128, channels, 4, 2, 1), nn.Tanh()]
    d = [nn.Conv2d(channels, 64, 4, 2, 1), nn.LeakyReLU(0.2)]
    for cin, cout in [(64, 128), (128, 256)]:
        d += [nn.Conv2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout, **KERAS_BN), nn.LeakyReLU(0.2)]
    d += [nn.Conv2d(256, 1, 4, 2, 1), nn.Flatten(), nn.Linear(16, 1)]
    image = (channels, 64, 64)
    return Net(g, [z], image), Net(d, image, [1])


def dcgan28(z, instance_norm, critic_sigmoid):
    """dcgan-28 (BatchNorm) / wgan-gp-28 (InstanceNorm2d, no affine, no running stats):
    1 → 4 → 7 → 14 → 28, no biases anywhere."""

    def norm(c):
        return nn.InstanceNorm2d(c) if instance_norm else nn.BatchNorm2d(c, **TORCH_BN)

    g = []
    for cin, cout, k, s, p in [(z, 128, 4, 1, 0), (128, 64, 3, 2, 1), (64, 32, 4, 2, 1)]:
        g += [nn.ConvTranspose2d(cin, cout, k, s, p, bias=False), norm(cout), nn.LeakyReLU(0.2)]
    g += [nn.ConvTranspose2d(32, 1, 4, 2, 1, bias=False), nn.Tanh()]
    d = [nn.Conv2d(1, 32, 4, 2, 1, bias=False), nn.LeakyReLU(0.2)]
    for cin, cout, k in [(32, 64, 4), (64, 128, 3)]:
        d += [nn.Conv2d(cin, cout, k, 2, 1, bias=False), norm(cout), nn.LeakyReLU(0.2)]
    d += [nn.Conv2d(128, 1, 4, 1, 0, bias=False)]
    if critic_sigmoid:
        d += [nn.Sigmoid()]
    return Net(g, [z, 1, 1], IMAGE28), Net(d, IMAGE28, [1])


# ---------------------------------------------------------------------------------------------
# 2-D toys (SPEC §10–11)


def toy(z, hidden, act):
    """in → (Linear(hidden) → act) ×3 → Linear(out); G makes [B, 2] points, D scores them."""

    def mlp(i, o):
        layers, w = [], i
        for _ in range(3):
            layers += [nn.Linear(w, hidden), act()]
            w = hidden
        return layers + [nn.Linear(w, o)]

    return Net(mlp(z, 2), [z], [2]), Net(mlp(2, 1), [2], [1])


def build(preset, cfg):
    """Generator and discriminator of `preset`, shaped by the run's config.toml (a dict, e.g.
    from tomllib): uses z_dim, channels, hidden and critic_sigmoid. Both are in train mode as
    constructed; call .eval() to compute what `tapegan sample` computes."""
    z = int(cfg.get("z_dim", 100))
    channels = int(cfg.get("channels", 1))
    hidden = int(cfg.get("hidden", 128))
    if preset == "mlp-gan":
        return mlp_gan(z)
    if preset == "mlp-gan-small":
        return mlp_gan_small(z)
    if preset == "mlp-wgan-gp":
        return mlp_wgan_gp(z, conditional=False)
    if preset == "mlp-cwgan-gp":
        return mlp_wgan_gp(z, conditional=True)
    if preset == "dcgan-64":
        return dcgan64(z, channels, sagan=False)
    if preset == "sagan-64":
        return dcgan64(z, channels, sagan=True)
    if preset == "dcgan-celeba":
        return dcgan_celeba(z, channels)
    if preset == "dcgan-28":
        return dcgan28(z, instance_norm=False, critic_sigmoid=False)
    if preset == "wgan-gp-28":
        return dcgan28(z, instance_norm=True, critic_sigmoid=bool(cfg.get("critic_sigmoid", False)))
    if preset == "toy-wgan-clip":
        return toy(z, hidden, lambda: nn.ELU(1.0))
    if preset == "toy-wgan-gp":
        return toy(z, hidden, nn.ReLU)
    raise ValueError(f"unknown preset '{preset}'; valid presets: {', '.join(PRESETS)}")
