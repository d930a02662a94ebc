"""Save and load fitted models as weights and plain values, without pickle."""

import math
import numbers
import os

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from ._base import embed
from .encoders import input_spec

__all__ = ["FORMAT_VERSION", "load_model", "save_model"]

FORMAT = "sksiamese.weights"
# Parameters that do not change the trained model, only how it trains.
_TRAINING_ONLY = ("accelerator", "callbacks")
# Bumped when a file of the new format cannot be read by older code.
FORMAT_VERSION = 1


def _estimators():
    from .pairs import SiamesePairClassifier
    from .transformer import SiameseTransformer

    return {cls.__name__: cls for cls in (SiameseTransformer, SiamesePairClassifier)}


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _is_shape(value):
    return isinstance(value, tuple) and len(value) >= 1 and all(map(_is_count, value))


def _is_real(value):
    return isinstance(value, float) and math.isfinite(value)


def _is_labels(value):
    return isinstance(value, np.ndarray) and value.ndim == 1 and len(value) >= 1


def _is_names(value):
    return (isinstance(value, np.ndarray) and value.ndim == 1
            and all(isinstance(v, str) for v in value))


# Fitted attributes saved for each estimator, with what each must look like.
_ATTRIBUTES = {
    "SiameseTransformer": {
        "classes_": _is_labels,
        "n_features_in_": _is_count,
        "sample_shape_": _is_shape,
        "n_components_": _is_count,
    },
    "SiamesePairClassifier": {
        "classes_": lambda v: _is_labels(v) and len(v) == 2,
        "n_features_in_": _is_count,
        "pair_shape_": _is_shape,
        "sample_shapes_": lambda v: (isinstance(v, tuple) and len(v) == 2
                                     and all(map(_is_shape, v))),
        "n_components_": _is_count,
        "threshold_": _is_real,
        "proba_slope_": _is_real,
        "pos_label_": lambda v: isinstance(v, (bool, int, float, str)),
    },
}
_OPTIONAL = {"feature_names_in_": _is_names}


# -- plain values ------------------------------------------------------------
def _is_plain(value):
    if value is None or isinstance(value, (bool, str)):
        return True
    if isinstance(value, numbers.Real) and not isinstance(value, np.generic):
        return True
    if isinstance(value, (tuple, list)):
        return all(map(_is_plain, value))
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def _encode(value):
    """A value as types that ``torch.load(weights_only=True)`` rebuilds."""
    if isinstance(value, np.ndarray):
        return {"__ndarray__": [_encode(v) for v in value.tolist()],
                "dtype": value.dtype.str}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return tuple(_encode(v) for v in value)
    if isinstance(value, list):
        return [_encode(v) for v in value]
    return value


def _decode(value):
    if isinstance(value, dict) and "__ndarray__" in value:
        return np.array(value["__ndarray__"], dtype=np.dtype(value["dtype"]))
    if isinstance(value, tuple):
        return tuple(_decode(v) for v in value)
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


# -- save --------------------------------------------------------------------
def save_model(estimator, path):
    """Save a fitted estimator's weights and metadata, for :func:`load_model`.

    The file holds the network's state dict (tensors, moved to the CPU), the
    estimator's parameters that are plain values (numbers, strings, None,
    tuples, lists and dicts of those), the names of the others, and the
    fitted attributes needed for ``transform`` and ``predict``
    (``classes_``, ``n_features_in_``, ``sample_shape_``, ``n_components_``
    and, for ``SiamesePairClassifier``, its threshold and shapes). The
    training history and the optimizer's state are not saved.

    Parameters
    ----------
    estimator : SiameseTransformer or SiamesePairClassifier
        A fitted estimator.
    path : str, path-like or binary file object
        Where to write, as for ``torch.save``.

    Returns
    -------
    not_saved : list of str
        Names of the parameters that are not plain values, and so not saved:
        ``load_model`` needs a template estimator that sets them, except for
        ``callbacks`` and ``accelerator``, which are None without one.

    See Also
    --------
    load_model : read the file back, with checks.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sksiamese import SiameseTransformer
    >>> from sksiamese.persistence import load_model, save_model
    >>> X, y = load_digits(return_X_y=True)
    >>> emb = SiameseTransformer(n_components=4, max_epochs=1, random_state=0)
    >>> emb = emb.fit(X[:300], y[:300])
    >>> path = os.path.join(tempfile.mkdtemp(), "digits.pt")
    >>> save_model(emb, path)
    []
    >>> loaded = load_model(path)
    >>> bool(np.array_equal(loaded.transform(X[:5]), emb.transform(X[:5])))
    True
    """
    name = type(estimator).__name__
    if name not in _ATTRIBUTES or type(estimator) is not _estimators()[name]:
        raise TypeError(
            f"save_model saves {' and '.join(_ATTRIBUTES)}; got "
            f"{type(estimator).__name__}. Save other objects with pickle or joblib "
            "(and load those only from trusted sources)."
        )
    check_is_fitted(estimator, "net_")
    params = estimator.get_params(deep=False)
    plain = {k: _encode(v) for k, v in params.items() if _is_plain(v)}
    not_saved = sorted(set(params) - set(plain))
    attributes = {k: _encode(getattr(estimator, k)) for k in _ATTRIBUTES[name]}
    for key in _OPTIONAL:
        if hasattr(estimator, key):
            attributes[key] = _encode(getattr(estimator, key))
    from . import __version__

    state = {k: v.detach().cpu().clone()
             for k, v in estimator.net_.module_.state_dict().items()}
    torch.save({
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sksiamese_version": __version__,
        "estimator": name,
        "params": plain,
        "params_not_saved": not_saved,
        "attributes": attributes,
        "state_dict": state,
    }, path)
    return not_saved


# -- load --------------------------------------------------------------------
def _where(path):
    """``path`` as the subject of an error message."""
    if isinstance(path, (str, os.PathLike)):
        return f"The file {os.fspath(path)!r}"
    name = getattr(path, "name", None)
    return f"The file {name!r}" if isinstance(name, str) else "The file object"


def _read(path):
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        unsafe = "weights_only" in str(exc) or "Unsupported global" in str(exc)
        raise ValueError(
            f"{_where(path)} is not an sksiamese model file that can be loaded "
            "safely: torch.load(weights_only=True) refused it"
            + (f" ({type(exc).__name__}: {detail})" if detail else "") + "."
            + (" It holds Python objects other than weights and plain values, "
               "as a pickle does; unpickling runs code, so load it with pickle "
               "or joblib only if you trust its source." if unsafe else "")
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(
            f"{_where(path)} is not an sksiamese model file (it has no "
            f"'format': {FORMAT!r} entry); save models with "
            "sksiamese.persistence.save_model."
        )
    version = payload.get("format_version")
    if not _is_count(version) or version > FORMAT_VERSION:
        raise ValueError(
            f"{_where(path)} has format version {version!r}, which this sksiamese "
            f"(reading versions up to {FORMAT_VERSION}) cannot read: it was "
            f"written by sksiamese {payload.get('sksiamese_version')!r}. Upgrade "
            "sksiamese."
        )
    for key, kind in (("estimator", str), ("params", dict), ("attributes", dict),
                      ("state_dict", dict), ("params_not_saved", list)):
        if not isinstance(payload.get(key), kind):
            raise ValueError(
                f"{_where(path)} is damaged: its {key!r} entry should be a "
                f"{kind.__name__}, not {type(payload.get(key)).__name__}."
            )
    return payload


def _template(payload, estimator, path):
    name = payload["estimator"]
    classes = _estimators()
    if name not in classes:
        raise ValueError(
            f"{_where(path)} holds a {name!r}, which is not an estimator that "
            f"sksiamese saves ({', '.join(classes)})."
        )
    if estimator is None:
        missing = [p for p in payload["params_not_saved"] if p not in _TRAINING_ONLY]
        if missing:
            raise ValueError(
                f"{_where(path)} was saved from a {name} whose parameters "
                f"{', '.join(map(str, missing))} are not plain values (a module, "
                "class or callback), so they are not in the file. Pass "
                f"estimator={name}(...) built with them, for example "
                f"load_model(path, estimator={name}({missing[0]}=...))."
            )
        return classes[name]()
    if type(estimator) is not classes[name]:
        raise TypeError(
            f"{_where(path)} holds a {name}, but the template estimator is a "
            f"{type(estimator).__name__}; pass a {name}."
        )
    return clone(estimator)


def _set_attributes(est, name, attributes, path):
    checks = {**_ATTRIBUTES[name], **_OPTIONAL}
    for key, check in checks.items():
        if key not in attributes:
            if key in _OPTIONAL:
                continue
            raise ValueError(f"{_where(path)} is damaged: the fitted attribute {key} "
                             "is missing.")
        value = _decode(attributes[key])
        if not check(value):
            raise ValueError(
                f"{_where(path)} is damaged: the fitted attribute {key} = {value!r} is "
                "not of the kind a fitted model has."
            )
        setattr(est, key, value)


def _build_net(est, name):
    """The net ``est``'s parameters and fitted shapes describe (not trained)."""
    return est._initialize_net()


def _probes(est, name):
    """``(tower, zero sample)`` pairs that the loaded network must embed."""
    module = est.net_.module_
    if name == "SiameseTransformer":
        towers = [(module, est.encoder, est.sample_shape_)]
    else:
        towers = [(module.tower(side), est._side_spec(side)[0], shape)
                  for side, shape in zip(("left", "right"), est.sample_shapes_,
                                         strict=True)]
    for tower, encoder, shape in towers:
        dtype = torch.int64 if input_spec(encoder)[0] == "int64" else torch.float32
        yield tower, torch.zeros((2, *shape), dtype=dtype)


def load_model(path, estimator=None, *, device=None):
    """Load a model saved by :func:`save_model`, checking that it is one.

    The file is read with ``torch.load(weights_only=True)``, so it cannot run
    code; a file that holds other Python objects (a pickled estimator, for
    one) is refused. The loaded model is then checked: the file must be an
    sksiamese model file of a format this version reads, for the estimator
    ``estimator`` is (if given), with fitted attributes of the right kinds and
    weights whose names and shapes match the network that its parameters
    describe; and that network must embed a sample of the fitted shape into
    ``n_components_`` finite values.

    Parameters
    ----------
    path : str, path-like or binary file object
        The file, as for ``torch.load``.
    estimator : SiameseTransformer or SiamesePairClassifier, default=None
        A template, needed where the saved estimator had parameters that are
        not plain values (a custom encoder or loss module or class, an
        optimizer class): it supplies those, and must be of the saved class.
        A clone of it is loaded; the saved plain parameters override its
        own. Without it, ``callbacks`` and ``accelerator`` that were not plain
        values are None.
    device : str or torch.device, default=None
        Where the network goes; None keeps the saved ``device`` parameter.
        For example ``device="cpu"`` for a model trained on a GPU.

    Returns
    -------
    estimator : SiameseTransformer or SiamesePairClassifier
        The fitted estimator. Its ``history_`` is empty: the training history
        is not saved.

    Raises
    ------
    ValueError
        If the file is not a safe sksiamese model file, is damaged, was
        written by a newer format, or needs a template that was not given.
    TypeError
        If ``estimator`` is not of the saved class.

    See Also
    --------
    save_model : write such a file.

    Notes
    -----
    ``pickle`` and ``joblib`` save a whole estimator, but loading a pickle
    runs whatever code the file names: load pickles only from sources you
    trust. :func:`save_model` and this function exchange only the network's
    weights, the parameters that are plain values and the fitted attributes,
    which ``torch.load(weights_only=True)`` rebuilds without running code.
    Parameters that are not plain values (an encoder or loss given as a module
    or class, an optimizer class, a ``RandomState``) are not in the file, so
    a template estimator must supply them; ``callbacks`` and ``accelerator``,
    which matter only for training, are None without one.

    Examples
    --------
    A custom encoder class is not a plain value, so loading needs a template
    that names it:

    >>> import io
    >>> import numpy as np
    >>> import torch
    >>> from sksiamese import SiameseTransformer
    >>> from sksiamese.persistence import load_model, save_model
    >>> class Linear(torch.nn.Linear):
    ...     def __init__(self, n_features, n_components):
    ...         super().__init__(n_features, n_components)
    >>> X = np.random.default_rng(0).normal(size=(40, 5))
    >>> y = np.arange(40) % 4
    >>> emb = SiameseTransformer(Linear, n_components=2, max_epochs=1,
    ...                          random_state=0).fit(X, y)
    >>> buffer = io.BytesIO()
    >>> save_model(emb, buffer)
    ['encoder']
    >>> _ = buffer.seek(0)
    >>> loaded = load_model(buffer, estimator=SiameseTransformer(Linear))
    >>> bool(np.array_equal(loaded.transform(X), emb.transform(X)))
    True
    """
    payload = _read(path)
    est = _template(payload, estimator, path)
    name = payload["estimator"]
    params = {k: _decode(v) for k, v in payload["params"].items()}
    unknown = set(params) - set(est.get_params(deep=False))
    if unknown:
        raise ValueError(
            f"{_where(path)} sets parameters {sorted(unknown)} that {name} does not "
            "have: it was written by another version of sksiamese, or damaged."
        )
    est.set_params(**params)
    if device is not None:
        est.set_params(device=device)
    est._validate_params()
    _set_attributes(est, name, payload["attributes"], path)

    est.net_ = _build_net(est, name)
    state = payload["state_dict"]
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{_where(path)} is damaged: its state_dict holds values "
                         "that are not tensors.")
    if not all(torch.isfinite(v).all() for v in state.values()
               if v.is_floating_point()):
        raise ValueError(f"{_where(path)} is damaged: its weights hold NaN or "
                         "infinite values.")
    try:
        est.net_.module_.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(
            f"{_where(path)} holds weights that do not fit the {name} that "
            "its parameters describe (the file is damaged, or the template "
            f"estimator builds another network): {exc}"
        ) from exc
    est.history_ = est.net_.history
    for tower, sample in _probes(est, name):
        width = embed(tower, sample, est.net_.device).shape[1]
        if width != est.n_components_:
            raise ValueError(
                f"{_where(path)} is inconsistent: the network embeds into {width} "
                f"dimensions, but n_components_ is {est.n_components_}."
            )
    return est
