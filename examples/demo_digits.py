"""The main job on bundled data: a Siamese embedding of scikit-learn's digits.

Trains a SiameseTransformer (per-epoch progress shown), then prints each result
beside its raw-pixel baseline:

- 1-NN accuracy on a held-out test split, in the learned embedding;
- pair verification accuracy (same digit or not) on test pairs, with the
  distance threshold chosen on training pairs;
- 5-way 1-shot accuracy on digits 5-9, with an embedding trained only on 0-4;
- 5-way 1-shot accuracy on 100 generated classes never seen in training, with
  an embedding trained on 100 others from the same generator (where transfer
  can work: many training classes), beside raw features and scikit-learn's
  NeighborhoodComponentsAnalysis trained on the same classes;
- where the Omniglot background sets are found (``$SKSIAMESE_DATA``, or
  ``../shared/data`` beside the checkout), the small-data case: 20-way
  1-shot accuracy on alphabets never seen, with a CNN trained on 20
  characters of 10 drawings each, beside raw pixels and NCA;

and writes a picture of the test digits in the 16-D embedding of the table's
first rows, projected to 2-D with PCA and coloured by digit. Run with ``make
demo`` or ``python examples/demo_digits.py``. Where the output is no terminal
(a file, a pipe), the per-epoch tables are printed without skorch's colours.
"""

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier, NeighborhoodComponentsAnalysis

from sksiamese import SiameseTransformer
from sksiamese.datasets import fetch_omniglot, make_generator_classes
from sksiamese.metrics import (
    best_threshold_accuracy,
    n_way_k_shot_accuracy,
    pair_distances,
)


def random_pairs(X, y, n_pairs, rng):
    """Half same-class pairs, half different-class pairs, drawn at random."""
    left, right, same = [], [], []
    for i in range(n_pairs):
        a = rng.integers(len(y))
        want_same = i % 2 == 0
        candidates = np.flatnonzero((y == y[a]) != (not want_same))
        candidates = candidates[candidates != a]
        left.append(X[a])
        right.append(X[rng.choice(candidates)])
        same.append(int(want_same))
    return np.stack([np.stack(left), np.stack(right)], axis=1), np.array(same)


def verification_accuracy(transformer, train_pairs, y_train, test_pairs, y_test):
    """Accuracy on test pairs at the threshold that is best on training pairs."""
    _, threshold = best_threshold_accuracy(
        y_train, pair_distances(transformer, train_pairs)
    )
    d_test = pair_distances(transformer, test_pairs)
    return float(np.mean((d_test <= threshold) == (y_test == 1)))


def omniglot_sets():
    """Omniglot's two small background sets, or None where they are not here.

    Looked for in ``$SKSIAMESE_DATA`` (or ``~/sksiamese_data``), then in the
    project's ``../shared/data`` beside the checkout; never downloaded.
    """
    beside = Path(__file__).resolve().parents[2] / "shared" / "data"
    for folder in (None, beside):
        try:
            return [fetch_omniglot(name, data_home=folder, download_if_missing=False,
                                   image_size=28)
                    for name in ("background_small1", "background_small2")]
        except FileNotFoundError:
            continue
    return None


def few_class(train, test, params, episodes):
    """20 characters x 10 drawings for training; 20-way 1-shot on new alphabets."""
    rng = np.random.default_rng(0)
    chars = rng.choice(np.unique(train.target), 20, replace=False)
    rows = np.concatenate([
        rng.choice(np.flatnonzero(train.target == c), 10, replace=False)
        for c in chars
    ])
    X_few, y_few = train.images[rows], train.target[rows]
    # Alphabets that background_small1 does not have, 20-way within each.
    new = ~np.isin(test.alphabet_names[test.groups], train.alphabet_names)
    X_new, y_new = test.images[new], test.target[new]
    alphabet = test.groups[new]
    shots = {**episodes, "n_way": 20, "groups": alphabet}
    emb = SiameseTransformer(encoder="cnn", **params).fit(X_few, y_few)
    nca = NeighborhoodComponentsAnalysis(n_components=64, random_state=0)
    nca.fit(X_few.reshape(len(X_few), -1), y_few)
    flat = X_new.reshape(len(X_new), -1)
    return {
        "embedding": n_way_k_shot_accuracy(emb, X_new, y_new, **shots),
        "raw": n_way_k_shot_accuracy(None, X_new, y_new, **shots),
        "nca": n_way_k_shot_accuracy(nca, flat, y_new, **shots),
        "choices": emb.auto_choices_,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of every fit (default: the library's own "
                        "budget, max_epochs='auto')")
    parser.add_argument("--output", default="demo_output")
    args = parser.parse_args()
    start = time.perf_counter()

    digits = load_digits()
    X, y = digits.data / 16.0, digits.target
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    params = {"random_state": 0}
    if args.epochs is not None:
        params["max_epochs"] = args.epochs

    print(f"Training a 16-D embedding on {len(X_train)} digits (10 classes):")
    emb = SiameseTransformer(n_components=16, verbose=1, **params)
    emb.fit(X_train, y_train)

    def one_nn(Z_train, Z_test):
        knn = KNeighborsClassifier(n_neighbors=1).fit(Z_train, y_train)
        return knn.score(Z_test, y_test)

    knn_emb = one_nn(emb.transform(X_train), emb.transform(X_test))
    knn_raw = one_nn(X_train, X_test)

    rng = np.random.default_rng(0)
    train_pairs, same_train = random_pairs(X_train, y_train, 2000, rng)
    test_pairs, same_test = random_pairs(X_test, y_test, 2000, rng)
    ver_emb = verification_accuracy(emb, train_pairs, same_train, test_pairs,
                                    same_test)
    ver_raw = verification_accuracy(None, train_pairs, same_train, test_pairs,
                                    same_test)

    seen = y_train < 5
    print("\nTraining on digits 0-4 only, for one-shot classification of 5-9:")
    emb_04 = SiameseTransformer(n_components=16, **params)
    emb_04.fit(X_train[seen], y_train[seen])
    unseen = y >= 5
    episodes = {"n_way": 5, "k_shot": 1, "n_episodes": 2000, "return_ci": True,
                "random_state": 0}
    shot_emb, ci_emb = n_way_k_shot_accuracy(emb_04, X[unseen], y[unseen],
                                             **episodes)
    shot_raw, ci_raw = n_way_k_shot_accuracy(None, X[unseen], y[unseen], **episodes)

    print("\nTraining on 100 generated classes, for one-shot classification of "
          "100 others:")
    X_gen, y_gen = make_generator_classes(random_state=0)
    train_gen = y_gen < 100
    emb_gen = SiameseTransformer(**params).fit(X_gen[train_gen], y_gen[train_gen])
    nca = NeighborhoodComponentsAnalysis(random_state=0).fit(X_gen[train_gen],
                                                              y_gen[train_gen])
    new_gen = (X_gen[~train_gen], y_gen[~train_gen])
    gen_emb, gen_ci = n_way_k_shot_accuracy(emb_gen, *new_gen, **episodes)
    gen_raw, gen_raw_ci = n_way_k_shot_accuracy(None, *new_gen, **episodes)
    gen_nca, gen_nca_ci = n_way_k_shot_accuracy(nca, *new_gen, **episodes)

    sets = omniglot_sets()
    few = None
    if sets is not None:
        print("\nTraining a CNN on 20 Omniglot characters x 10 drawings, for "
              "20-way one-shot\nclassification of alphabets it never saw:")
        few = few_class(*sets, params, episodes)

    print("\n| measure (held-out data)                     | embedding     "
          "| raw pixels    |")
    print("| ------------------------------------------ | ------------- "
          "| ------------- |")
    rows = [
        ("1-NN accuracy, test split", f"{knn_emb:.3f}", f"{knn_raw:.3f}"),
        ("pair verification accuracy, test pairs", f"{ver_emb:.3f}",
         f"{ver_raw:.3f}"),
        ("5-way 1-shot accuracy, digits 5-9 unseen", f"{shot_emb:.3f} ± {ci_emb:.3f}",
         f"{shot_raw:.3f} ± {ci_raw:.3f}"),
        ("5-way 1-shot, 100 generated classes unseen", f"{gen_emb:.3f} ± {gen_ci:.3f}",
         f"{gen_raw:.3f} ± {gen_raw_ci:.3f}"),
    ]
    if few is not None:
        (acc, ci), (raw, raw_ci) = few["embedding"], few["raw"]
        rows.append(("20-way 1-shot, Omniglot, 20 chars x 10", f"{acc:.3f} ± {ci:.3f}",
                     f"{raw:.3f} ± {raw_ci:.3f}"))
    for name, a, b in rows:
        print(f"| {name:<42} | {a:<13} | {b:<13} |")
    print(f"(NCA, trained on the same 100 generated classes: {gen_nca:.3f} ± "
          f"{gen_nca_ci:.3f}.)")
    if few is None:
        print("(The Omniglot row needs images_background_small{1,2}.zip in "
              "$SKSIAMESE_DATA.)")
    else:
        nca, nca_ci = few["nca"]
        print(f"(NCA, trained on the same 20 Omniglot characters: {nca:.3f} ± "
              f"{nca_ci:.3f}.)")
        print("What the Omniglot CNN's 'auto' settings chose, and why:")
        for name, why in few["choices"].items():
            print(f"  {name}: {why}")
    print("(± is the half-width of a 95% confidence interval over 2,000 episodes."
          " The digits\n one-shot embedding saw only 5 classes, 0-4, and "
          "transfers worse than raw pixels;\n with 100 training classes from "
          "one generator, transfer to new classes works.)")

    picture = write_figure(emb, X_test, y_test, args.output)
    if picture:
        print(f"\nThe test digits in the 16-D embedding of the table's first rows, "
              f"projected to 2-D with PCA, written to {picture}")
    print(f"Total time: {time.perf_counter() - start:.1f} s")


def write_figure(emb, X_test, y_test, output):
    """The test digits in ``emb``'s embedding, the one the table measures.

    The embedding has 16 dimensions: PCA brings it to two, the two directions
    along which the embedded digits spread most, and the title says so.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        from sksiamese.plotting import EmbeddingDisplay
    except ImportError:
        print("\nmatplotlib is not installed: no figure (pip install "
              "'sksiamese[plot]').")
        return None
    # The legend goes beside the axes, where it hides no point.
    display = EmbeddingDisplay.from_estimator(emb, X_test, y_test,
                                              projection="pca", random_state=0)
    display.ax_.set_title(
        f"Held-out digits in the {emb.n_components}-D Siamese embedding of the "
        f"table\n({emb.loss} loss), projected to 2-D with PCA")
    display.figure_.set_size_inches(7, 5.5)
    path = Path(output) / "digits_embedding_2d.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    display.figure_.savefig(path, dpi=120)
    return path


if __name__ == "__main__":
    main()
