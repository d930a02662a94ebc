"""Training speed: SiameseTransformer.fit against a hand-written PyTorch loop.

Both train the same module with the same loss, optimizer, batch size and number
of samples per epoch; the ratio printed is library time / plain time (target:
at most 1.05).

    python benchmarks/bench_training.py            # MLP, 50,000 x 256
    python benchmarks/bench_training.py --cnn      # also the CNN on 28x28 images
"""

import argparse

import numpy as np
import torch
from _common import device_note, median_ratio

from sksiamese import SiameseTransformer
from sksiamese.encoders import ENCODERS, MLPEncoder
from sksiamese.losses import ContrastiveLoss


def plain_loop(make_module, X, y, *, epochs, batch_size, lr, device):
    torch.manual_seed(0)
    module = make_module().to(device)
    criterion = ContrastiveLoss()
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    generator = torch.Generator().manual_seed(0)
    module.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(X), generator=generator).split(batch_size):
            xb = X[idx].to(device, non_blocking=True)
            yb = y[idx].to(device, non_blocking=True)
            optimizer.zero_grad()
            loss = criterion(module(xb), yb)
            loss.backward()
            optimizer.step()
    return module


def run(name, make_module, est, X, y, args):
    def library():
        est.fit(X, y)

    def plain():
        plain_loop(make_module, X, y, epochs=args.epochs, batch_size=args.batch_size,
                   lr=1e-3, device=args.device)

    return median_ratio(library, plain, args.repeats, name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available()
                        else "cpu")
    parser.add_argument("--cnn", action="store_true", help="also time the CNN")
    parser.add_argument("--cnn-rows", type=int, default=10_000)
    args = parser.parse_args()
    print(f"device: {device_note()}; epochs {args.epochs}, batch {args.batch_size}")

    rng = np.random.default_rng(0)
    # The plain loop trains with ContrastiveLoss() over every pair: the library
    # is given the same loss, whatever its defaults.
    common = {"n_components": 32, "batch_size": args.batch_size,
              "max_epochs": args.epochs, "lr": 1e-3, "device": args.device,
              "random_state": 0, "loss": "contrastive", "miner": "all",
              "margin": 1.0}

    X = rng.normal(size=(args.rows, 256)).astype(np.float32)
    y = rng.integers(0, 500, size=args.rows)
    hidden = (512, 512)
    est = SiameseTransformer(encoder_params={"hidden_layer_sizes": hidden}, **common)
    run(f"MLP {args.rows} x 256, 512-512", lambda: MLPEncoder(256, 32, hidden),
        est, X, y, args)

    if args.cnn:
        cnn = ENCODERS["cnn"]
        X = rng.random(size=(args.cnn_rows, 28, 28)).astype(np.float32)
        y = rng.integers(0, 500, size=args.cnn_rows)
        est = SiameseTransformer(encoder="cnn", **common)
        shape = (28, 28)
        run(f"CNN {args.cnn_rows} x 28 x 28",
            lambda: cnn(input_shape=shape, n_components=32),
            est, X, y, args)


if __name__ == "__main__":
    main()
