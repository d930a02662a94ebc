"""Omniglot one-shot: train on background_small1, test on alphabets it never saw.

Trains a SiameseTransformer with the CNN encoder on ``images_background_small1``
(5 alphabets, 136 characters, 20 drawings each), then measures 5-way and 20-way
1-shot classification *within* an alphabet (Lake et al. 2015) on the three
alphabets that only ``images_background_small2`` has: Japanese_(katakana),
Sanskrit and Tagalog. Raw pixels (nearest neighbour in pixel space) are the
baseline. Tagalog has 17 characters, so 20-way episodes come from the other two.

    python benchmarks/omniglot_one_shot.py                  # 3 to 8 min on 2 CPU cores
    python benchmarks/omniglot_one_shot.py --epochs 60 --image-size 32
    python benchmarks/omniglot_one_shot.py --defaults --rotations --threads 2

For reference (Lake et al. 2015, 20-way within-alphabet error on the
evaluation alphabets): humans 4.5%, a ConvNet trained on one small background
set 22-24%, Koch et al.'s Siamese ConvNet 8.0% (full background set, affine
distortions), raw pixels about 80%.
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from sksiamese import SiameseTransformer
from sksiamese.datasets import fetch_omniglot
from sksiamese.metrics import n_way_k_shot_accuracy

REPO = Path(__file__).resolve().parents[1]
TEST_ALPHABETS = ("Japanese_(katakana)", "Sanskrit", "Tagalog")


def rotated(X, y):
    """Each character turned by 0, 90, 180 and 270 degrees, each a new class."""
    n = y.max() + 1
    X = np.concatenate([np.rot90(X, k, axes=(1, 2)) for k in range(4)])
    return np.ascontiguousarray(X), np.concatenate([y + k * n for k in range(4)])


def load(data, image_size):
    train = fetch_omniglot("background_small1", data_home=data,
                           download_if_missing=False, image_size=image_size)
    test = fetch_omniglot("background_small2", data_home=data,
                          download_if_missing=False, image_size=image_size)
    wanted = [list(test.alphabet_names).index(a) for a in TEST_ALPHABETS]
    keep = np.isin(test.groups, wanted)
    alphabet = test.alphabet_names[test.groups[keep]]
    return train.images, train.target, test.images[keep], test.target[keep], alphabet


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path,
                        default=REPO.parent / "shared" / "data" / "omniglot",
                        help="folder holding images_background_small{1,2}.zip "
                             "(default: ../shared/data/omniglot from the repo root)")
    parser.add_argument("--image-size", type=int, default=28,
                        help="images are averaged down to this side (default 28)")
    parser.add_argument("--defaults", action="store_true",
                        help="the library's defaults: SiameseTransformer("
                        "encoder='cnn', random_state=seed); the settings below "
                        "other than --seed and --device are ignored")
    parser.add_argument("--rotations", action="store_true",
                        help="add 90/180/270-degree rotations as training classes")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--loss", default="triplet", choices=["triplet", "contrastive"])
    parser.add_argument("--miner", default="hard",
                        choices=["all", "hard", "semi-hard"])
    parser.add_argument("--margin", type=float, default=0.5)
    parser.add_argument("--n-components", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--samples-per-class", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--episodes", type=int, default=1000,
                        help="episodes per task (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help='"cpu", "cuda" or "auto"')
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    X_train, y_train, X_test, y_test, alphabet = load(args.data, args.image_size)
    if args.rotations:
        X_train, y_train = rotated(X_train, y_train)
    print(f"train: background_small1{' with rotations' if args.rotations else ''}, "
          f"{len(X_train)} images of "
          f"{len(np.unique(y_train))} characters, {args.image_size}x{args.image_size}")
    counts = {a: len(np.unique(y_test[alphabet == a])) for a in TEST_ALPHABETS}
    print(f"test:  {len(X_test)} images of {sum(counts.values())} characters "
          f"({', '.join(f'{a} {n}' for a, n in counts.items())})")

    if args.defaults:
        emb = SiameseTransformer(encoder="cnn", device=args.device,
                                 random_state=args.seed)
    else:
        emb = SiameseTransformer(
            encoder="cnn", n_components=args.n_components, loss=args.loss,
            miner=args.miner, margin=args.margin, lr=args.lr,
            batch_size=args.batch_size, samples_per_class=args.samples_per_class,
            max_epochs=args.epochs, device=args.device, random_state=args.seed,
        )
    start = time.perf_counter()
    emb.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    losses = emb.history_[:, "train_loss"]
    print(f"settings: {emb!r}")
    print(f"training: {seconds:.0f} s for {len(emb.history_)} epochs on {args.device} "
          f"({torch.get_num_threads()} torch threads); train loss "
          f"{losses[0]:.4f} -> {losses[-1]:.4f}")

    rows = []
    for name, transformer in (("raw pixels", None), ("SiameseTransformer", emb)):
        cells = []
        for n_way in (5, 20):
            acc, ci = n_way_k_shot_accuracy(
                transformer, X_test, y_test, n_way=n_way, k_shot=1,
                n_episodes=args.episodes, groups=alphabet, return_ci=True,
                random_state=args.seed)
            cells.append(f"{100 * acc:5.1f} +/- {100 * ci:3.1f}")
        rows.append((name, *cells))

    print(f"\nwithin-alphabet 1-shot accuracy (%), {args.episodes} episodes of one "
          "query per class each, 95% CI")
    header = ("embedding", "5-way", "20-way")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths,
                                                       strict=True)) + " |"
    print(line)
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths,
                                                          strict=True)) + " |")


if __name__ == "__main__":
    main()
