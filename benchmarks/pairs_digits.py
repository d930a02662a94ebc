"""Pair verification on scikit-learn's digits with SiamesePairClassifier.

Pairs are built from the first 1,200 images for training and from the other
597 for testing (no image is in both): for each image, 5 partners of the same
digit ("same") and 5 of other digits ("different"). Accuracy is measured on
the test pairs with the threshold calibrated on 10% of the training pairs held
out from training.

Configurations: one network for both sides; the right side of every pair seen
through a fixed random linear map (64 -> 64) with two towers of distinct
weights (``share_weights=False``); and the right side mapped to 32 columns, a
different width, passed as 2-D rows with ``split`` and given its own smaller
encoder. The baseline thresholds the raw pixel distance, calibrated on the
training pairs (it has no meaning across the random map).

    python benchmarks/pairs_digits.py               # random_state 0, 1, 2
    python benchmarks/pairs_digits.py --seeds 1     # random_state 0 only
"""

import argparse
import time

import numpy as np
from _common import device_note
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score

from sksiamese import SiamesePairClassifier

PER_IMAGE = 5
MAX_EPOCHS = 10


def digit_pairs(y, per_image, rng):
    """For each image, ``per_image`` same-digit and as many other-digit partners."""
    left, right, same = [], [], []
    everyone = np.arange(len(y))
    for i, label in enumerate(y):
        mates = np.flatnonzero((y == label) & (everyone != i))
        others = np.flatnonzero(y != label)
        left += [i] * (2 * per_image)
        right += [*rng.choice(mates, per_image, replace=False),
                  *rng.choice(others, per_image, replace=False)]
        same += [1] * per_image + [0] * per_image
    return np.array(left), np.array(right), np.array(same)


def raw_pixel_baseline(X, train, test):
    """Accuracy of thresholding the raw euclidean distance (best on train)."""
    def distances(idx):
        return np.linalg.norm(X[idx[0]] - X[idx[1]], axis=1)

    d_train, d_test = distances(train), distances(test)
    cuts = np.quantile(d_train, np.linspace(0, 1, 501))
    best = max(cuts, key=lambda c: accuracy_score(train[2], d_train < c))
    return accuracy_score(test[2], d_test < best)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3,
                        help="number of random_state values (0, 1, ...)")
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    train = digit_pairs(y[:1200], PER_IMAGE, rng)
    test = digit_pairs(y[1200:], PER_IMAGE, rng)
    test = (test[0] + 1200, test[1] + 1200, test[2])
    mixing = np.random.default_rng(42).normal(size=(64, 64)) / 8
    narrow = np.random.default_rng(42).normal(size=(64, 32)) / 8

    def stacked(right_view, idx):
        return np.stack([X[idx[0]], right_view[idx[1]]], axis=1)

    def flat(right_view, idx):
        return np.hstack([X[idx[0]], right_view[idx[1]]])

    configs = [
        ("shared weights, contrastive", {}, X, stacked, 0.9),
        ("shared weights, bce (Koch)", {"loss": "bce"}, X, stacked, None),
        ("right side x random 64x64 map, share_weights=False, contrastive",
         {"share_weights": False}, X @ mixing, stacked, 0.85),
        ("right side x random 64x64 map, share_weights=False, bce",
         {"share_weights": False, "loss": "bce"}, X @ mixing, stacked, None),
        ("right side x random 64x32 map, own encoder (64,) via split=64",
         {"share_weights": False, "split": 64, "right_encoder": "mlp",
          "right_encoder_params": {"hidden_layer_sizes": (64,)}},
         X @ narrow, flat, None),
    ]
    print(f"digits: {len(train[2])} training pairs from images 0-1199, "
          f"{len(test[2])} test pairs from images 1200-1796 (half 'same')")
    print(f"settings: encoder='mlp' (128, 128), n_components=16, "
          f"max_epochs={MAX_EPOCHS}, batch_size=128, lr=1e-3, "
          f"validation_fraction=0.1, threshold_strategy='accuracy'; "
          f"{device_note()}")
    print(f"baseline, raw pixel distance threshold: "
          f"{raw_pixel_baseline(X, train, test):.4f}")
    for name, params, right_view, layout, floor in configs:
        accuracies, seconds = [], []
        for seed in range(args.seeds):
            clf = SiamesePairClassifier(max_epochs=MAX_EPOCHS, random_state=seed,
                                        **params)
            start = time.perf_counter()
            clf.fit(layout(right_view, train), train[2])
            seconds.append(time.perf_counter() - start)
            accuracies.append(clf.score(layout(right_view, test), test[2]))
        target = f"   (target >= {floor})" if floor else ""
        print(f"{name:<66} accuracy {np.mean(accuracies):.4f} "
              f"(per seed {', '.join(f'{a:.4f}' for a in accuracies)}), "
              f"fit {np.mean(seconds):.1f} s{target}", flush=True)


if __name__ == "__main__":
    main()
