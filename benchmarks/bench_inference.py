"""Inference speed: SiameseTransformer.transform against a torch.inference_mode loop.

The plain loop runs the trained module over the same rows in large batches; the
ratio printed is library time / plain time (target: at most 1.05).

    python benchmarks/bench_inference.py --rows 200000
"""

import argparse

import numpy as np
import torch
from _common import device_note, median_ratio

from sksiamese import SiameseTransformer


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=256)
    parser.add_argument("--batch-rows", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available()
                        else "cpu")
    args = parser.parse_args()
    print(f"device: {device_note()}")

    rng = np.random.default_rng(0)
    X_fit = rng.normal(size=(2_000, args.features)).astype(np.float32)
    est = SiameseTransformer(
        encoder_params={"hidden_layer_sizes": (512, 512)}, n_components=32,
        max_epochs=1, device=args.device, random_state=0,
    ).fit(X_fit, rng.integers(0, 50, size=len(X_fit)))
    module = est.net_.module_
    X = rng.normal(size=(args.rows, args.features)).astype(np.float32)
    X_t = torch.from_numpy(X)

    def library():
        return est.transform(X)

    def plain():
        module.eval()
        with torch.inference_mode():
            out = [module(b.to(args.device, non_blocking=True)).cpu()
                   for b in X_t.split(args.batch_rows)]
        return torch.cat(out).numpy()

    np.testing.assert_allclose(library(), plain(), rtol=1e-5, atol=1e-5)
    median_ratio(library, plain, args.repeats,
                 f"transform {args.rows} x {args.features}")


if __name__ == "__main__":
    main()
