"""Training speed: SiameseTransformer.fit against a hand-written PyTorch loop.

Both train the same module with the same loss, optimizer, batch size and number
of samples per epoch; the ratio printed is library time / plain time (target
for the MLP: at most 1.05).

The CNN case times the library's default CNN for 28x28 images against a plain
loop that runs the same module (same weights, same batches) in PyTorch's
default NCHW layout, as a hand-written loop does, for ``fit`` and for
``transform``. Its targets are speed-ups: the library's images/s at least
1.3x the plain loop's in training and 1.5x in ``transform``.

    python benchmarks/bench_training.py            # MLP, 50,000 x 256
    python benchmarks/bench_training.py --cnn      # also the CNN on 28x28 images
"""

import argparse

import numpy as np
import torch
from _common import device_note, median_ratio
from torch import nn

from sksiamese import SiameseTransformer
from sksiamese.encoders import CNNEncoder, MLPEncoder
from sksiamese.losses import ContrastiveLoss


class NCHW(nn.Module):
    """A CNNEncoder run as a plain loop runs it: NCHW, no change of layout."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder.to(memory_format=torch.contiguous_format)

    def forward(self, x):
        return self.encoder.head(self.encoder.features(x.unsqueeze(1)))


def plain_transform(module, X, batch_size):
    module.eval()
    with torch.no_grad():
        return torch.cat([module(xb) for xb in torch.from_numpy(X).split(batch_size)])


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
    parser.add_argument("--cnn-rows", type=int, default=2_000)
    args = parser.parse_args()
    print(f"device: {device_note()}; epochs {args.epochs}, batch {args.batch_size}")

    rng = np.random.default_rng(0)
    # The plain loop trains with ContrastiveLoss() over every pair, unnormalised
    # embeddings at a constant rate: the library is given the same, whatever
    # its defaults.
    common = {"n_components": 32, "batch_size": args.batch_size,
              "max_epochs": args.epochs, "lr": 1e-3, "device": args.device,
              "random_state": 0, "loss": "contrastive", "miner": "all",
              "margin": 1.0, "normalize": False, "lr_schedule": None}

    X = rng.normal(size=(args.rows, 256)).astype(np.float32)
    y = rng.integers(0, 500, size=args.rows)
    hidden = (512, 512)
    est = SiameseTransformer(encoder_params={"hidden_layer_sizes": hidden}, **common)
    run(f"MLP {args.rows} x 256, 512-512", lambda: MLPEncoder(256, 32, hidden),
        est, X, y, args)

    if args.cnn:
        X = rng.random(size=(args.cnn_rows, 28, 28)).astype(np.float32)
        y = rng.integers(0, 100, size=args.cnn_rows)
        # The default CNN (depth and width fitted to 28x28), no augmentation.
        est = SiameseTransformer(encoder="cnn", augment=None, **common)
        make = lambda: NCHW(CNNEncoder((28, 28), 32))  # noqa: E731
        label = f"CNN {args.cnn_rows} x 28 x 28 fit"
        fit_ratio = run(label, make, est, X, y, args)
        print(f"{'':<34} training images/s: library / plain NCHW "
              f"{1 / fit_ratio:.2f} (target >= 1.3)")
        plain = make()
        plain.encoder.load_state_dict(est.net_.module_.state_dict())
        transform_ratio = median_ratio(
            lambda: est.transform(X), lambda: plain_transform(plain, X, 256),
            args.repeats, f"CNN {args.cnn_rows} x 28 x 28 transform")
        print(f"{'':<34} transform images/s: library / plain NCHW "
              f"{1 / transform_ratio:.2f} (target >= 1.5)")

if __name__ == "__main__":
    main()
