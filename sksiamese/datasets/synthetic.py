"""Generated classes for held-out-class tasks: many classes from one generator."""

import math
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state


def _check(name, value, low, kind=Integral):
    if isinstance(value, bool) or not isinstance(value, kind) or value < low:
        raise ValueError(f"{name} must be a number >= {low}; got {value!r}.")


def make_generator_classes(n_classes=200, samples_per_class=20, *, n_identity=8,
                           n_style=4, n_features=64, n_noise=32, noise_scale=2.0,
                           jitter=0.5, random_state=None):
    """Samples of many classes drawn from one shared random generator.

    A task for embeddings that must work on classes never seen in training:
    each class is a point in an ``n_identity``-dimensional space; each sample
    adds a small within-class ``jitter`` and a large random style vector, and
    both go through one fixed random two-layer tanh network to ``n_features``
    features, to which ``n_noise`` columns of pure noise are appended. The
    class is fully present in the features (nearest neighbours classify well
    above chance), but style and noise move samples as much as the class
    does. Both are properties of the generator, shared by every class, so an
    embedding that learns to ignore them on some classes ignores them on new
    classes too: train on some classes, test on the others.

    Parameters
    ----------
    n_classes : int, default=200
        Number of classes.
    samples_per_class : int, default=20
        Samples of each class.
    n_identity : int, default=8
        Dimensions of the space the classes are points of.
    n_style : int, default=4
        Dimensions of the per-sample style that the generator mixes in.
    n_features : int, default=64
        Features made by the generator (each scaled to unit variance).
    n_noise : int, default=32
        Columns of pure noise appended.
    noise_scale : float, default=2.0
        Standard deviation of the noise columns.
    jitter : float, default=0.5
        Standard deviation of each sample around its class's point.
    random_state : int, RandomState instance or None, default=None
        Draws the classes, the generator and the samples.

    Returns
    -------
    X : ndarray of shape (n_classes * samples_per_class, n_features + n_noise)
        float32 samples, grouped by class.
    y : ndarray of shape (n_classes * samples_per_class,)
        Class labels, 0 to ``n_classes - 1``. The classes are exchangeable, so
        ``y < n_classes // 2`` splits them into two disjoint halves.

    Examples
    --------
    >>> from sksiamese.datasets import make_generator_classes
    >>> X, y = make_generator_classes(n_classes=10, samples_per_class=5,
    ...                               random_state=0)
    >>> X.shape, y[:7].tolist()
    ((50, 96), [0, 0, 0, 0, 0, 1, 1])
    """
    for name, value, low in (("n_classes", n_classes, 2),
                             ("samples_per_class", samples_per_class, 1),
                             ("n_identity", n_identity, 1), ("n_style", n_style, 0),
                             ("n_features", n_features, 1), ("n_noise", n_noise, 0)):
        _check(name, value, low)
    _check("noise_scale", noise_scale, 0, Real)
    _check("jitter", jitter, 0, Real)
    rng = check_random_state(random_state)
    protos = rng.randn(n_classes, n_identity)
    width = n_identity + n_style
    W1 = rng.randn(width, 128) * (1.5 / math.sqrt(width))
    b1 = 0.5 * rng.randn(128)
    W2 = rng.randn(128, n_features) / math.sqrt(128)
    y = np.repeat(np.arange(n_classes), samples_per_class)
    z = protos[y] + jitter * rng.randn(len(y), n_identity)
    style = rng.randn(len(y), n_style)
    signal = np.tanh(np.hstack([z, style]) @ W1 + b1) @ W2
    signal /= signal.std(axis=0)
    noise = noise_scale * rng.randn(len(y), n_noise)
    return np.hstack([signal, noise]).astype(np.float32), y
