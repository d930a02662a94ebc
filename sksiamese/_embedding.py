"""Embedding samples for the metrics and the one-shot classifier.

Between the public metrics and ``OneShotClassifier``: finding the estimator
that makes an embedding (through ``FrozenEstimator`` and ``Pipeline``), its
distance, embedding samples, checking labels, and distances from queries to
the classes of a support set.
"""

from numbers import Integral

import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_array
from skorch.dataset import Dataset

from ._distances import DISTANCES, normalize_rows, pairwise


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}."
        )


def check_int(name, value, low):
    if not isinstance(value, Integral) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}; got {value!r}.")


def check_labels_defined(y, name="y"):
    """``y`` itself, unless it holds NaN or None: missing labels are not a class."""
    y = np.asarray(y)
    if y.dtype.kind == "f":
        missing = np.isnan(y)
    elif y.dtype.kind == "O":
        missing = np.array([v is None or (isinstance(v, float) and v != v)
                            for v in y.ravel()]).reshape(y.shape)
    else:
        return y
    if missing.any():
        raise ValueError(
            f"{name} holds {int(missing.sum())} missing label(s) (NaN or None), "
            f"first at position {int(np.flatnonzero(missing.ravel())[0])}; a "
            "missing label is not a class. Drop those samples or label them."
        )
    return y


def final_step(estimator):
    """The estimator making the embedding, through FrozenEstimator and Pipeline."""
    while True:
        if isinstance(estimator, FrozenEstimator):
            estimator = estimator.estimator
        elif isinstance(estimator, Pipeline):
            steps = [s for _, s in estimator.steps if s not in (None, "passthrough")]
            if not steps:
                return None
            estimator = steps[-1]
        else:
            return estimator


def resolve_distance(transformer, distance):
    """``distance`` if given, else the transformer's ``distance``, else euclidean."""
    if distance is not None:
        check_choice("distance", distance, DISTANCES)
        return distance
    found = getattr(final_step(transformer), "distance", None)
    return found if isinstance(found, str) and found in DISTANCES else "euclidean"


def check_transformer(transformer):
    if transformer is not None and not hasattr(transformer, "transform"):
        raise TypeError(
            "transformer must be a fitted transformer with a transform method "
            "(a SiameseTransformer, a Pipeline ending in one, a FrozenEstimator "
            f"around one) or None for the raw features; got {transformer!r}."
        )


def scoring_data(X, y):
    """``(X, y)`` of a scorer's call; from a skorch dataset where one is given.

    skorch's ``EpochScoring`` passes its ``TensorData`` whole, and (with its
    cache) targets in the order the batches came, which for held-out
    classes is not the rows' order: the dataset's own ``y`` is.
    """
    if isinstance(X, Dataset):
        labels = X.y
        return X.X, (labels.numpy() if hasattr(labels, "numpy") else labels)
    return X, y


def flat_features(X):
    """Raw features as float64 rows: images and sequences are flattened."""
    X = check_array(X, allow_nd=True, dtype=[np.float64, np.float32])
    return X.reshape(len(X), -1)


def embed(transformer, X):
    """Rows of the embedding of ``X`` (the raw features if ``transformer`` is None)."""
    check_transformer(transformer)
    if transformer is None:
        return flat_features(X)
    E = np.asarray(transformer.transform(X))
    return E.reshape(len(E), -1)


def prototypes(S, codes, n_classes, distance):
    """Mean of each class's rows of ``S`` (of their unit vectors for cosine)."""
    S = normalize_rows(S) if distance == "cosine" else np.asarray(S, np.float64)
    protos = np.zeros((n_classes, S.shape[1]))
    np.add.at(protos, codes, S)
    return protos / np.bincount(codes, minlength=n_classes)[:, None]


def per_class_min(D, codes, n_classes):
    """Per-class minimum over the columns of ``D``; every class must appear."""
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(n_classes))
    return np.minimum.reduceat(D[:, order], starts, axis=1)


def class_distances(Q, S, s_codes, n_classes, rule, distance):
    """Distance of each query to each class of a support set.

    ``rule="nearest"``: to the class's nearest support item; ``"prototype"``:
    to the class mean (of unit vectors for cosine). Every class must appear in
    ``s_codes``.
    """
    if rule == "prototype":
        return pairwise(Q, prototypes(S, s_codes, n_classes, distance), distance)
    return per_class_min(pairwise(Q, S, distance), s_codes, n_classes)
