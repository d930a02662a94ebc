"""What an estimator saves of its fitted state, and the estimators that save.

Low level: it imports nothing of the package. Each estimator declares its
schema, ``{attribute: Attribute}``, built from the checks here (a class with
``_FITTED_ATTRIBUTES`` only gets the catalogue's entries for those names), and
registers its class by name; :mod:`sksiamese.persistence` asks this module
for both, and so keeps no list of estimators.
"""

import math
import numbers
from collections.abc import Callable
from typing import NamedTuple

import numpy as np


class Attribute(NamedTuple):
    """One fitted attribute of a saved estimator.

    ``check(value, fitted, est)`` says whether ``value`` is what a fitted
    estimator has; it sees the attributes checked before it (``fitted``) and
    the estimator with its loaded parameters (``est``). ``kind`` says what the
    value must be, for error messages.
    """

    kind: str
    check: Callable
    optional: bool = False  # saved where the estimator has it; not needed to load
    builds: bool = False  # the network's shapes depend on it
    # How the file holds it: "value" (plain values and small arrays),
    # "array" (a numeric array, as a tensor) or "model" (an estimator that
    # persistence saves, possibly in a FrozenEstimator, or None).
    stored: str = "value"


# -- reusable checks ---------------------------------------------------------
def is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def is_shape(value):
    return isinstance(value, tuple) and len(value) >= 1 and all(map(is_count, value))


def is_real(value):
    return isinstance(value, float) and math.isfinite(value)


def is_label_array(value):
    """A 1-D, non-empty array of numbers or strings (repeats allowed)."""
    if not (isinstance(value, np.ndarray) and value.ndim == 1 and len(value) >= 1):
        return False
    if value.dtype.kind == "O" and not all(isinstance(v, (str, bytes, numbers.Real))
                                           for v in value):
        return False
    return not (value.dtype.kind == "f" and not np.isfinite(value).all())


def is_labels(value):
    """A 1-D array of distinct labels, numbers or strings."""
    return is_label_array(value) and len(np.unique(value)) == len(value)


def is_names(value, n_features):
    return (isinstance(value, np.ndarray) and value.ndim == 1
            and len(value) == n_features and all(isinstance(v, str) for v in value))


def is_matrix(value, rows=None, columns=None):
    """A finite 2-D float array, of ``rows`` rows and ``columns`` columns if given."""
    return (isinstance(value, np.ndarray) and value.ndim == 2
            and value.dtype.kind == "f" and np.isfinite(value).all()
            and rows in (None, value.shape[0]) and columns in (None, value.shape[1]))


def fits_input(shape, n_features, input_shape):
    """Whether a fitted sample shape can come from ``n_features`` columns reshaped."""
    if input_shape is None:
        return shape[0] == n_features
    spec = tuple(int(s) for s in input_shape)
    return (len(spec) == len(shape)
            and all(s in (-1, t) for s, t in zip(spec, shape, strict=True))
            and math.prod(shape) % n_features == 0)


def fits_pair(shapes, fitted, est):
    """Whether the two towers' sample shapes hold the values of a pair row's sides."""
    row = fitted["pair_shape_"]
    if len(row) > 1:
        sizes = (math.prod(row[1:]),) * 2
    else:
        # The one rule for flat pair rows (_validation.side_widths): the left
        # side is ``split`` values wide, or half the row.
        left = row[0] // 2 if est.split is None else est.split
        sizes = (left, row[0] - left)
    return (tuple(map(math.prod, shapes)) == sizes
            and not (est.share_weights and shapes[0] != shapes[1]))


# -- the catalogue: attributes several estimators have -------------------------
CATALOGUE = {
    "classes_": Attribute("a 1-D array of distinct labels, numbers or strings",
                          lambda v, fitted, est: is_labels(v)),
    "n_features_in_": Attribute("a positive int", lambda v, fitted, est: is_count(v)),
    "sample_shape_": Attribute(
        "a tuple of positive ints that n_features_in_ columns reshaped by "
        "input_shape give",
        lambda v, fitted, est: is_shape(v) and fits_input(
            v, fitted["n_features_in_"], est.input_shape),
        builds=True),
    "pair_shape_": Attribute(
        "a tuple of positive ints that starts with n_features_in_ (which "
        "is 2 where pairs have more than two axes)",
        lambda v, fitted, est: (is_shape(v)
                                and v[0] == fitted["n_features_in_"]
                                and (len(v) == 1 or v[0] == 2))),
    "sample_shapes_": Attribute(
        "two tuples of positive ints, one per side, each holding as many "
        "values as its side of a pair_shape_ row (and equal where "
        "share_weights=True)",
        lambda v, fitted, est: (isinstance(v, tuple) and len(v) == 2
                                and all(map(is_shape, v))
                                and fits_pair(v, fitted, est)),
        builds=True),
    "n_components_": Attribute("a positive int", lambda v, fitted, est: is_count(v)),
    "threshold_": Attribute("a finite float", lambda v, fitted, est: is_real(v)),
    "proba_slope_": Attribute("a positive finite float",
                              lambda v, fitted, est: is_real(v) and v > 0),
    "y_min_": Attribute("a finite float", lambda v, fitted, est: is_real(v)),
    "y_max_": Attribute(
        "a finite float above y_min_, less than the largest float away from it",
        lambda v, fitted, est: (is_real(v) and v > fitted["y_min_"]
                                and math.isfinite(v - fitted["y_min_"]))),
    # Files written before pos_label existed have none: they mean classes_[1].
    "pos_label_": Attribute(
        "one of classes_",
        lambda v, fitted, est: (isinstance(v, (bool, int, float, str))
                                and v in fitted["classes_"].tolist()),
        optional=True),
}

# A classifier of pairs tells two labels apart.
TWO_LABELS = Attribute("a 1-D array of two distinct labels, numbers or strings",
                       lambda v, fitted, est: is_labels(v) and len(v) == 2)

# Saved where the estimator has them, and not needed to load: older files
# have no threshold rates.
OPTIONAL = {
    "threshold_rates_": Attribute(
        "a dict of rates between 0 and 1",
        lambda v, fitted, est: isinstance(v, dict) and all(
            isinstance(k, str) and is_real(r) and 0 <= r <= 1 for k, r in v.items()),
        optional=True),
    "feature_names_in_": Attribute(
        "a 1-D array of n_features_in_ strings",
        lambda v, fitted, est: is_names(v, fitted["n_features_in_"]),
        optional=True),
    # The epoch whose held-out score was best (None: no validation).
    "best_epoch_": Attribute("None or a positive int",
                             lambda v, fitted, est: v is None or is_count(v),
                             optional=True),
}


def attributes(names, **replaced):
    """The schema of the attributes ``names`` (checked in that order).

    Each comes from the catalogue, unless ``replaced`` gives its own
    ``Attribute``; the optional attributes follow.
    """
    return {**{key: replaced.get(key, CATALOGUE.get(key)) for key in names},
            **OPTIONAL}


def schema(cls):
    """``{attribute: Attribute}``: what ``cls`` saves, in the order it is checked.

    A class's ``_PERSISTED_ATTRIBUTES`` if it declares one, else the catalogue's
    entries for its ``_FITTED_ATTRIBUTES``.
    """
    declared = getattr(cls, "_PERSISTED_ATTRIBUTES", None)
    specs = declared if declared is not None else attributes(cls._FITTED_ATTRIBUTES)
    unknown = [key for key, spec in specs.items() if not isinstance(spec, Attribute)]
    if unknown:
        raise TypeError(f"{cls.__name__} saves {unknown}, which have no check: "
                        "declare them in its _PERSISTED_ATTRIBUTES.")
    return specs


# -- the estimators that save ----------------------------------------------------
_REGISTRY = {}


def register(cls):
    """Record ``cls`` as an estimator that persistence saves under its name.

    Only the package's own public classes are recorded (a user's subclass or
    a class of the same name elsewhere never takes a saved name's place);
    abstract ones are left out when the registry is read. Returns ``cls``, so
    that it serves as a class decorator.
    """
    if cls.__module__.split(".")[0] == __name__.split(".")[0] and not (
            cls.__name__.startswith("_") or cls.__name__ in _REGISTRY):
        _REGISTRY[cls.__name__] = cls
    return cls


def registered():
    """``{name: class}`` of the estimators that persistence saves, by name."""
    return {name: cls for name, cls in sorted(_REGISTRY.items())
            if not getattr(cls, "__abstractmethods__", None)}
