"""One input path: samples and the encoder's contract become a checked tensor."""

import contextlib
import math
from numbers import Real

import numpy as np
import torch

from .encoders import input_spec


def numpy_dtypes(spec):
    """What ``validate_data`` may convert samples to, for an encoder's contract."""
    if spec.dtype == "text":
        return None
    return [np.float32, np.float64] if spec.dtype == "float32" else "numeric"


def validate_kwargs(spec):
    """``validate_data``'s arguments for samples of an encoder's contract."""
    kwargs = {"dtype": numpy_dtypes(spec), "allow_nd": True}
    if spec.dtype == "text":
        # Texts are checked by the encoder (None, NaN, numbers, empty ones).
        kwargs["ensure_all_finite"] = False
    return kwargs


def text_columns(X):
    """Raw texts as a 2-D object array: a column of texts, or pairs of them.

    A list (or a 1-D array, a pandas Series) of texts becomes one column of
    shape ``(n_samples, 1)``, so that scikit-learn counts one feature; numbers
    among strings stay numbers (numpy would make strings of them), for the
    encoder's check to refuse. DataFrames are left to ``validate_data``,
    which keeps their column names.
    """
    if hasattr(X, "columns") or isinstance(X, str):
        return X
    try:
        X = np.asarray(X, dtype=object)
    except ValueError:
        return X
    return X.reshape(-1, 1) if X.ndim == 1 else X


def tensor_dtype(spec):
    return torch.int64 if spec.dtype == "int64" else torch.float32


def encoder_label(encoder):
    return repr(encoder) if isinstance(encoder, str) else "this encoder"


def side_widths(width, split):
    """Widths of the left and right sides of 2-D pair rows of ``width`` values.

    The one rule for rows of left then right values: the left side is
    ``split`` values wide, or half the row (rounded down) when ``split`` is None.
    """
    left = width // 2 if split is None else split
    return left, width - left


def reshape_samples(X, shape, name):
    """``X`` with each sample reshaped to ``shape`` (one entry may be -1)."""
    if shape is None:
        return X
    shape = tuple(int(s) for s in shape)
    try:
        return X.reshape((len(X), *shape))
    except ValueError:
        raise ValueError(
            f"{name}={shape} does not fit samples of shape {X.shape[1:]} "
            f"({math.prod(X.shape[1:])} values each)."
        ) from None


def check_samples(X, encoder, *, input_shape=None, shape_name="input_shape",
                  who, side=None, spec=None):
    """Reshape ``X`` (a validated array) for ``encoder``, check it, make a tensor.

    This is the single place where an encoder's contract (``input_spec``) is
    applied: samples are reshaped to ``input_shape``, must be flat rows where
    the encoder takes those, pass the encoder's own ``check_input``, fit the
    tensor dtype (float32's range; whole numbers within int64 for token ids),
    and become the tensor the module receives. ``side`` names the side of a
    pair in messages. Returns ``(X, tensor)``, ``X`` as reshaped.
    """
    spec = input_spec(encoder) if spec is None else spec
    if spec.dtype == "text":
        return _check_texts(X, encoder, spec, side)
    X = reshape_samples(X, input_shape, shape_name)
    samples = "X" if side is None else f"the {side} samples"
    if spec.flat_input and X.ndim != 2:
        if side is None:
            raise ValueError(
                f"encoder={encoder_label(encoder)} expects 2-D X of shape "
                f"(n_samples, n_features); got shape {X.shape}. Flatten each "
                "sample (X.reshape(len(X), -1), or input_shape=(-1,)) or use an "
                "encoder for images or sequences."
            )
        raise ValueError(
            f"The {side} encoder ({encoder_label(encoder)}) expects flat samples; "
            f"got {side} samples of shape {X.shape[1:]}. Set {shape_name}=(-1,) "
            "to flatten them, or use an encoder for images or sequences."
        )
    if spec.check_input is not None:
        spec.check_input(X)
    dtype = tensor_dtype(spec)
    check_castable(X, dtype, who)
    if (dtype == torch.int64 and X.dtype.kind == "f"
            and not np.array_equal(X, np.round(X))):
        who_takes = (f"encoder={encoder_label(encoder)}" if side is None
                     else f"The {side} encoder")
        raise ValueError(
            f"{who_takes} takes token ids, but {samples} hold values that are "
            "not whole numbers. Round them, or use an encoder for real-valued "
            "features."
        )
    return X, to_tensor(X, dtype)


def _check_texts(X, encoder, spec, side):
    """One column of texts, checked by the encoder and tokenised by it."""
    samples = "X" if side is None else f"the {side} samples"
    if X.ndim == 2 and X.shape[1] == 1:
        X = X[:, 0]
    if X.ndim != 1:
        raise ValueError(
            f"{type(encoder).__name__} takes one text per sample: {samples} "
            f"must have shape (n_samples,) or (n_samples, 1) (pairs: (n_pairs, 2));"
            f" got shape {X.shape}."
        )
    if spec.check_input is not None:
        spec.check_input(X)
    if spec.encode is None:
        raise ValueError(
            f"encoder={encoder_label(encoder)} takes raw text through an instance, "
            "which holds the tokenizer: pass the encoder as an instance, for "
            "example PretrainedTextEncoder('path/to/model'), not as a class."
        )
    # One feature per sample, as scikit-learn counts a column of texts.
    return X.reshape(-1, 1), spec.encode(X)


def to_tensor(X, dtype=torch.float32):
    """A torch tensor over ``X``'s memory where possible (read-only arrays copied)."""
    X = np.asarray(X)
    if not X.flags.writeable or not X.flags.c_contiguous:
        X = np.ascontiguousarray(X).copy()
    return torch.from_numpy(X).to(dtype)


def check_castable(X, dtype, name):
    """Raise ``ValueError`` where ``X`` holds values that ``dtype`` cannot hold.

    Float64 values beyond float32's range would become infinite, and floats
    or unsigned ints beyond int64's would wrap around, when ``X`` becomes the
    network's tensor.
    """
    if not X.size or X.dtype.kind not in "fu":
        return
    if dtype == torch.float32:
        if X.dtype.itemsize > 4:
            top = max(X.max(), -X.min())
            if top > np.finfo(np.float32).max:
                raise ValueError(
                    f"X holds values as large as {top:.3g}, beyond the range of "
                    f"float32 (about 3.4e38) in which {name} computes. Scale "
                    "the features, for example with StandardScaler."
                )
    elif dtype == torch.int64 and float(X.max()) >= 2.0**63:
        raise ValueError(
            f"X holds {X.max():.3g}, too large for a token id (ids must lie in "
            "0 .. vocab_size - 1, within int64)."
        )


@contextlib.contextmanager
def explained_input_errors(name):
    """Add what to do to numpy's errors for non-numeric or ragged ``X``."""
    try:
        yield
    except ValueError as exc:
        text = str(exc)
        if text.startswith("could not convert"):
            raise ValueError(
                f"{name} needs numeric X, but {text[0].lower()}{text[1:]}. Encode "
                "text and categorical features first: OneHotEncoder or "
                "OrdinalEncoder for categories, TokenSequencer with "
                "encoder='rnn' for texts."
            ) from exc
        if "inhomogeneous" in text:
            raise ValueError(
                f"{name} needs X with the same number of values in every sample "
                f"(a rectangular array); got rows of different lengths: {text}"
            ) from exc
        raise


# -- labels --------------------------------------------------------------------
def _label_kind(cls):
    if issubclass(cls, (str, np.str_)):
        return "string"
    if issubclass(cls, (bool, np.bool_)):
        return "boolean"
    if issubclass(cls, (Real, np.number)):
        return "number"
    # None, and pandas' NA in its nullable arrays.
    return "missing" if cls.__name__ in ("NoneType", "NAType") else cls.__name__


def _is_missing(value):
    return _label_kind(type(value)) == "missing" or (
        isinstance(value, (float, np.floating)) and value != value)


def check_label_types(y):
    """Class labels of one kind, checked before numpy or scikit-learn convert them.

    numpy turns a list that mixes numbers and strings into strings (``[1, "a"]``
    would silently become the classes ``"1"`` and ``"a"``), and scikit-learn
    has no label type for an object array of numbers. Labels given as a list
    or an object array are therefore checked here: numbers (or booleans) come
    back as a numeric (or boolean) array, strings unchanged, and a mix of
    kinds, or a missing label among strings, is a ``ValueError`` that says
    which labels are at fault. Other ``y`` (numeric arrays, pandas
    categoricals, ``None``, 2-D labels) is returned as it is, for the usual
    checks.
    """
    if y is None or isinstance(y, (str, bytes)):
        return y
    if getattr(getattr(y, "dtype", None), "kind", "O") != "O":
        return y
    try:
        labels = np.asarray(y, dtype=object)
    except (ValueError, TypeError):
        return y
    if labels.ndim != 1 or not len(labels):
        return y
    kinds = {_label_kind(cls) for cls in set(map(type, labels))}
    if kinds == {"number"}:
        values = np.asarray(labels.tolist())
        return values if values.dtype != object else y
    if kinds == {"boolean"}:
        return labels.astype(bool)
    if len(kinds) == 1 and "missing" not in kinds:
        return y
    missing = np.flatnonzero([_is_missing(v) for v in labels])
    if len(missing):
        raise ValueError(
            f"y holds {len(missing)} missing label(s) (None, NA or NaN), the "
            f"first at index {missing[0]}; drop those samples or give them a "
            "label."
        )
    first = {}
    for index, value in enumerate(labels):
        first.setdefault(_label_kind(type(value)), (index, value))
    examples = ", ".join(f"{value!r} (index {index})"
                         for index, value in sorted(first.values())[:3])
    raise ValueError(
        f"y mixes labels of different types ({', '.join(sorted(kinds))}): "
        f"{examples}. Class labels must be all strings or all numbers; convert "
        "them to one type, for example np.asarray(y).astype(str)."
    )
