"""Save and load fitted models as weights and plain values, without pickle."""

import math
import numbers
import os
import warnings
import zipfile

import numpy as np
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_is_fitted

from . import __version__, _schema
from ._base import SiameseBase, draw_seed, embed, seeded
from ._net import resolve_device
from .encoders import input_spec

__all__ = ["FORMAT_VERSION", "load_model", "save_model"]

FORMAT = "sksiamese.weights"
# Parameters that do not change the trained model, only how it trains.
_TRAINING_ONLY = ("accelerator", "callbacks")
# Bumped when a file of the new format cannot be read by older code.
FORMAT_VERSION = 1
# What the network built at load may hold beyond the bytes of the stored
# tensors: room for small buffers that are not saved, never a second model.
_BUILD_MARGIN_BYTES = 2**20
# What an array of the file may decode to beyond 16 bytes per stored value: a
# fixed-width string dtype multiplies its widest string by every entry.
_ARRAY_MARGIN_BYTES = 2**26


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
    """``value`` with its encoded arrays rebuilt; ValueError if one is damaged."""
    if isinstance(value, dict) and "__ndarray__" in value:
        return _decode_array(value)
    if isinstance(value, tuple):
        return tuple(_decode(v) for v in value)
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _decode_array(value):
    items = value["__ndarray__"]
    try:
        dtype = np.dtype(value.get("dtype"))
    except TypeError:
        raise ValueError(f"its array has the dtype {value.get('dtype')!r}, which "
                         "numpy does not know") from None
    if dtype.kind not in "biufUSO":
        raise ValueError(f"its array has the dtype {dtype}; saved arrays hold "
                         "booleans, numbers or strings")
    if not isinstance(items, list) or not all(
            isinstance(v, (bool, numbers.Real, str, bytes)) for v in items):
        raise ValueError("its array's values should be a list of numbers or "
                         "strings")
    # A fixed-width string dtype gives every entry the width of the widest:
    # bound what a small file can make that cost.
    stored = sum(len(v) if isinstance(v, (str, bytes)) else 1 for v in items)
    if dtype.itemsize * len(items) > _ARRAY_MARGIN_BYTES + 16 * stored:
        raise ValueError(f"its array of {len(items)} values has the dtype {dtype}, "
                         f"which would take {dtype.itemsize * len(items)} bytes")
    try:
        return np.array(items, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"its values do not fit the dtype {dtype} ({exc})") from None


def _decoded(value, what, path):
    try:
        return _decode(value)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{_where(path)} is damaged: {what} cannot be read: "
                         f"{exc}.") from None


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _short(value, width=200):
    if isinstance(value, np.ndarray) and value.size > 10:
        # A gallery's values say nothing in an error message; its shape does.
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= width else text[:width] + "..."


# -- save --------------------------------------------------------------------
def save_model(estimator, path):
    """Save a fitted estimator's weights and metadata, for :func:`load_model`.

    The file holds the network's state dict (tensors, moved to the CPU), the
    estimator's parameters that are plain values (numbers, strings, None,
    tuples, lists and dicts of those), the names of the others, and the
    fitted attributes needed for ``transform`` and ``predict``
    (``classes_``, ``n_features_in_``, ``sample_shape_``, ``n_components_``
    and, for ``SiamesePairClassifier``, its threshold and shapes;
    ``best_epoch_`` where the estimator has it). The training history and
    the optimizer's state are not saved.

    A ``OneShotClassifier`` is saved with its gallery (the support
    embeddings, their labels, the classes and prototypes), its threshold
    (with the criterion and rates of :meth:`~OneShotClassifier.calibrate_threshold`)
    and its fitted ``transformer_``, in the same file: a ``SiameseTransformer``
    (or one in a ``FrozenEstimator``), or None for raw features. Other
    transformers (a ``Pipeline``, a ``PCA``) are refused. Each estimator
    declares what it saves (see ``sksiamese._schema``).

    Parameters
    ----------
    estimator : SiameseTransformer, SiamesePairClassifier, SiamesePairRegressor \
            or OneShotClassifier
        A fitted estimator.
    path : str, path-like or binary file object
        Where to write, as for ``torch.save``.

    Returns
    -------
    None

    Raises
    ------
    TypeError
        If the estimator (or a ``OneShotClassifier``'s transformer) is not one
        that ``save_model`` saves.
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    OSError
        If the file cannot be written.

    Warns
    -----
    UserWarning
        If parameters that are not plain values (a custom encoder or loss
        module or class, an optimizer class) were not saved: ``load_model``
        will need a template estimator that sets them. ``callbacks`` and
        ``accelerator``, which only training uses, are not saved either, and
        are None after loading without a template; they are not warned about.

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
    >>> loaded = load_model(path)
    >>> bool(np.array_equal(loaded.transform(X[:5]), emb.transform(X[:5])))
    True
    """
    payload = _payload(estimator)
    try:
        torch.save(payload, path)
    except (OSError, RuntimeError) as exc:
        # torch reports an unwritable path from inside its C++ writer.
        raise OSError(
            f"save_model could not write {path!r}: {exc}. Check that its "
            "folder exists and is writable."
        ) from exc
    needed = _needs_template(payload)
    if needed:
        warnings.warn(
            f"save_model did not save the parameters {', '.join(needed)} of the "
            f"{payload['estimator']}: they are not plain values (a module, class "
            "or callback). load_model will need a template estimator built with "
            f"them: load_model(path, estimator={payload['estimator']}(...)).",
            UserWarning, stacklevel=2,
        )


def _needs_template(payload, prefix=""):
    """The saved parameters that a template must supply at load, nested ones too."""
    needed = [prefix + p for p in payload["params_not_saved"]
              if p not in _TRAINING_ONLY]
    for key, entry in payload.get("models", {}).items():
        if entry is not None:
            needed += _needs_template(entry["payload"], f"{prefix}{key}.")
    return needed


def _is_network(cls):
    return issubclass(cls, SiameseBase)


def _payload(estimator):
    """The file's content for ``estimator``: plain values and tensors only."""
    name = type(estimator).__name__
    classes = _schema.registered()
    if name not in classes or type(estimator) is not classes[name]:
        raise TypeError(
            f"save_model saves {', '.join(list(classes)[:-1])} and "
            f"{list(classes)[-1]}; got {type(estimator).__name__}. Save other "
            "objects with pickle or joblib (and load those only from trusted "
            "sources)."
        )
    network = _is_network(type(estimator))
    check_is_fitted(estimator, "net_" if network else None)
    links = _links(type(estimator))
    params = estimator.get_params(deep=False)
    plain = {k: _encode(v) for k, v in params.items()
             if k not in links and _is_plain(v)}
    not_saved = sorted(set(params) - set(plain) - set(links))
    attributes, arrays, models = {}, {}, {}
    for key, spec in _schema.schema(type(estimator)).items():
        if spec.optional and not hasattr(estimator, key):
            continue
        value = getattr(estimator, key)
        if spec.stored == "array":
            arrays[key] = _tensor(value, key, name)
        elif spec.stored == "model":
            models[key] = _model_entry(value, key, name)
        else:
            attributes[key] = _encode(value)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sksiamese_version": __version__,
        "estimator": name,
        "params": plain,
        "params_not_saved": not_saved,
        "attributes": attributes,
        "state_dict": {},
    }
    # Entries that files of estimators without them (all of format 1's) lack.
    for key, entry in (("arrays", arrays), ("models", models)):
        if entry:
            payload[key] = entry
    if links:
        payload["links"] = {
            param: "same" if params[param] is getattr(estimator, attr) else "clone"
            for param, attr in links.items()}
    if network:
        payload["state_dict"] = {
            k: v.detach().cpu().clone()
            for k, v in estimator.net_.module_.state_dict().items()}
        criterion = _criterion_state(estimator.net_)
        if criterion:
            # A loss with parameters of its own (ArcFace's class centres): not
            # needed to embed, but to continue training where it stopped.
            # Files without it (older ones, losses without parameters) load
            # as before.
            payload["criterion_state_dict"] = criterion
    return payload


def _tensor(value, key, name):
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"save_model cannot save the {name}'s {key}: it holds "
                         f"{array.dtype} values, not numbers.")
    return torch.from_numpy(np.array(array, copy=True))


def _model_entry(value, key, name):
    """``value`` (None, an estimator save_model saves, or one frozen) as a payload."""
    if value is None:
        return None
    frozen = isinstance(value, FrozenEstimator)
    try:
        return {"frozen": frozen,
                "payload": _payload(value.estimator if frozen else value)}
    except TypeError as exc:
        raise TypeError(
            f"save_model cannot save this {name}: its {key} is a "
            f"{type(value).__name__}, and {exc}"
        ) from None


def _criterion_state(net):
    criterion = getattr(net, "criterion_", None)
    if isinstance(criterion, torch.nn.parallel.DistributedDataParallel):
        criterion = criterion.module
    if not isinstance(criterion, torch.nn.Module):
        return {}
    return {k: v.detach().cpu().clone() for k, v in criterion.state_dict().items()}


# -- load --------------------------------------------------------------------
def _where(path):
    """``path`` as the subject of an error message."""
    if isinstance(path, (str, os.PathLike)):
        return f"The file {os.fspath(path)!r}"
    name = getattr(path, "name", None)
    return f"The file {name!r}" if isinstance(name, str) else "The file object"


def _read(path):
    if isinstance(path, (str, os.PathLike)):
        # Opened here, so that a missing or unreadable file raises its own
        # OSError, and any error from torch.load is about the content.
        with open(path, "rb") as file:
            return _read_from(file, path)
    return _read_from(path, path)


_ZIP_MAGIC = b"PK\x03\x04"


class _Refused(ValueError):
    """A file refused before torch.load reads it."""


def _check_records(file, path):
    """Refuse compressed records: their unpacked size is not bounded by the file's.

    torch.save stores its records uncompressed, but torch.load also unpacks
    compressed ones: a few kilobytes of zeros can unpack into gigabytes.
    """
    with zipfile.ZipFile(file) as archive:
        packed = [info.filename for info in archive.infolist()
                  if info.compress_type != zipfile.ZIP_STORED
                  or info.file_size != info.compress_size]
    if packed:
        raise _Refused(
            f"{_where(path)} is not a model file that save_model wrote: it holds "
            f"compressed records ({', '.join(packed[:3])}"
            + (" and more" if len(packed) > 3 else "") + "), which torch.save "
            "does not write, and whose unpacked size the file does not bound. "
            "Save the model again with save_model."
        )


def _read_from(file, path):
    head = None  # unknown: torch.load says what it needs of a file object
    if callable(getattr(file, "seekable", None)) and file.seekable():
        start = file.tell()
        head = file.read(4)
        file.seek(start)
    try:
        if head == _ZIP_MAGIC:
            _check_records(file, path)
            file.seek(start)
        payload = torch.load(file, map_location="cpu", weights_only=True)
    except _Refused:
        raise
    except Exception as exc:
        detail = _first_line(exc)
        detail = f" ({type(exc).__name__}: {detail})" if detail else ""
        unsafe = "weights_only" in str(exc) or "Unsupported global" in str(exc)
        if head == b"":
            raise ValueError(f"{_where(path)} is empty: it is not a model file, or "
                             "its writing was cut short.") from exc
        # torch.save writes a zip archive, whose directory is at its end: a
        # file that starts like one but cannot be read was cut short or damaged.
        if head == _ZIP_MAGIC and not unsafe:
            raise ValueError(
                f"{_where(path)} is truncated or damaged: it starts as a model "
                f"file does, but torch.load cannot read it{detail}. Save the "
                "model again, or copy the file again in full."
            ) from exc
        raise ValueError(
            f"{_where(path)} is not an sksiamese model file that can be loaded "
            f"safely: torch.load(weights_only=True) refused it{detail}."
            + (" It holds Python objects other than weights and plain values, "
               "as a pickle does; unpickling runs code, so load it with pickle "
               "or joblib only if you trust its source." if unsafe else "")
        ) from exc
    return _check_payload(payload, path)


def _check_payload(payload, path):
    """``payload``, if it has the entries of a model file (nested ones too)."""
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(
            f"{_where(path)} is not an sksiamese model file (it has no "
            f"'format': {FORMAT!r} entry); save models with "
            "sksiamese.persistence.save_model."
        )
    version = payload.get("format_version")
    if not _schema.is_count(version) or version > FORMAT_VERSION:
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
    for key in ("arrays", "models", "links"):
        if not isinstance(payload.get(key, {}), dict):
            raise ValueError(
                f"{_where(path)} is damaged: its {key!r} entry should be a "
                f"dict, not {type(payload[key]).__name__}."
            )
    return payload


def _template(payload, estimator, path):
    name = payload["estimator"]
    classes = _schema.registered()
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
        # A parameter restored from a fitted attribute is set after it.
        return classes[name](**dict.fromkeys(_links(classes[name])))
    if type(estimator) is not classes[name]:
        raise TypeError(
            f"{_where(path)} holds a {name}, but the template estimator is a "
            f"{type(estimator).__name__}; pass a {name}."
        )
    return clone(estimator)


def _links(cls):
    """``{parameter: fitted attribute}``: parameters saved as a fitted attribute."""
    return getattr(cls, "_PERSISTED_LINKS", {})


def _entries(payload, spec):
    """The file's entries of the kind that holds attributes like ``spec``'s."""
    if spec.stored == "value":
        return payload["attributes"]
    return payload.get(f"{spec.stored}s", {})


def _array(value, key, path):
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{_where(path)} is damaged: the fitted attribute {key} "
                         f"should be stored as a tensor, not {type(value).__name__}.")
    try:
        return value.numpy(force=True)
    except (TypeError, RuntimeError) as exc:
        raise ValueError(f"{_where(path)} is damaged: the fitted attribute {key} "
                         f"is a tensor numpy cannot hold ({exc}).") from None


def _model(entry, key, template, device, path):
    """The estimator a ``"model"`` entry holds (in a FrozenEstimator if it was)."""
    if entry is None:
        return None
    if not (isinstance(entry, dict) and isinstance(entry.get("frozen"), bool)
            and "payload" in entry):
        raise ValueError(f"{_where(path)} is damaged: its saved {key} should be a "
                         "dict with 'frozen' and 'payload' entries.")
    template = template.estimator if isinstance(template, FrozenEstimator) else template
    if isinstance(entry["payload"], dict) and entry["payload"].get("models"):
        # One level: a gallery's transformer holds no estimator of its own (a
        # file nesting them without end would exhaust the stack).
        raise ValueError(f"{_where(path)} is damaged: its saved {key} holds "
                         "estimators of its own, which save_model never writes.")
    try:
        model = _load(_check_payload(entry["payload"], path), template, device, path)
    except ValueError as exc:
        raise ValueError(f"{_where(path)} holds a {key} that cannot be loaded: "
                         f"{exc}") from exc
    return FrozenEstimator(model) if entry["frozen"] else model


def _set_attributes(est, payload, path, templates, device):
    """Check the fitted attributes of the file, then set them (all or none)."""
    fitted = {}
    for key, spec in _schema.schema(type(est)).items():
        entries = _entries(payload, spec)
        if key not in entries:
            if spec.optional:
                continue
            raise ValueError(f"{_where(path)} is damaged: the fitted attribute {key} "
                             "is missing.")
        value = entries[key]
        if spec.stored == "array":
            value = _array(value, key, path)
        elif spec.stored == "model":
            value = _model(value, key, templates.get(key), device, path)
        else:
            value = _decoded(value, f"the fitted attribute {key}", path)
        try:
            valid = spec.check(value, fitted, est)
        except Exception:  # a check that cannot even run on the value
            valid = False
        if not valid:
            raise ValueError(
                f"{_where(path)} is damaged: the fitted attribute {key} = "
                f"{_short(value)} is not of the kind a fitted model has: it should "
                f"be {spec.kind}."
            )
        fitted[key] = value
    for key, value in fitted.items():
        setattr(est, key, value)


def _set_links(est, payload, path):
    """Set the parameters saved as fitted attributes, as they were at save."""
    saved = payload.get("links", {})
    for param, attr in _links(type(est)).items():
        how = saved.get(param)
        if how not in ("same", "clone"):
            raise ValueError(f"{_where(path)} is damaged: it does not say how the "
                             f"parameter {param} relates to {attr} ('same' or "
                             f"'clone'); it says {_short(how)}.")
        value = getattr(est, attr)
        est.set_params(**{param: value if how == "same" or value is None
                          else clone(value)})


def _build_net(est, name, device=None):
    """The net ``est``'s parameters and fitted shapes describe (not trained).

    The module is made on ``device`` (None: torch's default), for example on
    ``"meta"``, which allocates nothing; the net is not initialised. The
    estimator builds its own module and criterion, as in ``fit``.
    """
    return est._assemble_net(draw_seed(est.random_state), module_device=device)


def _usable(device):
    """Why ``device`` cannot hold tensors here, or None if it can."""
    try:
        if torch.device(device).type == "meta":
            return "it holds no data"
        torch.empty(0, device=device)
    except (AssertionError, RuntimeError, ValueError) as exc:
        return _first_line(exc) or type(exc).__name__
    return None


def _check_device(est, device, path):
    """Refuse a ``device`` asked for that is not here; map a saved one to the CPU."""
    if getattr(est, "accelerator", None) is not None:
        return  # the accelerator places the network, not ``device``
    try:
        problem = _usable(resolve_device(est.device))
    except ValueError as exc:  # a GPU asked for where there is none
        problem = _first_line(exc)
    if problem is None:
        return
    if device is not None:
        raise ValueError(
            f"load_model cannot place the model on device={device!r}: it is not "
            f"available on this machine ({problem}). load_model(path, "
            "device=\"cpu\") loads it on the CPU."
        )
    warnings.warn(
        f"{_where(path)} holds a model saved with device={est.device!r}, which is "
        f"not available on this machine ({problem}); it is loaded on the CPU "
        "instead. Pass device= to load_model to choose the device.",
        UserWarning, stacklevel=3,
    )
    est.set_params(device="cpu")


def _check_state(state, path):
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor)
               for k, v in state.items()):
        raise ValueError(f"{_where(path)} is damaged: its state_dict holds values "
                         "that are not tensors.")


def _stored_bytes(state):
    """Bytes the stored tensors occupy (tensors can share one storage)."""
    storages = {}
    for tensor in state.values():
        storage = tensor.untyped_storage()
        storages[storage.data_ptr(), storage.nbytes()] = storage.nbytes()
    return sum(storages.values())


def _runs_custom_code(est):
    """Whether ``est``'s network comes from a template's encoder, not a named one."""
    return any(not isinstance(getattr(est, key, None), (str, type(None)))
               for key in ("encoder", "right_encoder"))


def _check_architecture(est, name, state, path):
    """Check, before any memory is spent on it, the network the file describes.

    Returns the network, built on the meta device (for the encoders that
    sksiamese names, or any other that supports it).
    """
    specs = _schema.schema(type(est))
    shapes = ", ".join(f"{k}={getattr(est, k)!r}" for k, spec in specs.items()
                       if spec.builds)
    try:
        try:
            module = _build_net(est, name, device="meta").module
        except Exception:
            if not _runs_custom_code(est):
                raise
            # The template's own encoder may not support the meta device; it
            # was built for real before the meta check existed.
            module = _build_net(est, name).module
    except Exception as exc:
        raise ValueError(
            f"{_where(path)} describes a network that cannot be built: its "
            f"parameters with the fitted attributes {shapes} give "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in state.items()}
    problems = [f"size mismatch for {k}: {found[k]} in the file, {shape} in the "
                "network" for k, shape in expected.items()
                if found.get(k, shape) != shape]
    for label, keys in (("missing from the file", expected.keys() - found.keys()),
                        ("not in the network", found.keys() - expected.keys())):
        if keys:
            problems.append(f"{label}: {', '.join(sorted(keys)[:5])}"
                            + (" and more" if len(keys) > 5 else ""))
    if problems:
        raise ValueError(
            f"{_where(path)} holds weights that do not fit the {name} that its "
            f"parameters describe, with the fitted attributes {shapes} (the file "
            "is damaged, or the template estimator builds another network): "
            + "; ".join(problems[:5]) + "."
        )
    tensors = {id(t): t for t in (*module.parameters(), *module.buffers())}
    needed = sum(t.numel() * t.element_size() for t in tensors.values())
    stored = _stored_bytes(state)
    if needed > stored + _BUILD_MARGIN_BYTES:
        raise ValueError(
            f"{_where(path)} is damaged: its network needs {needed} bytes of "
            f"parameters and buffers, but its stored weights hold only {stored}; "
            "loading will not allocate more than a file holds."
        )
    return module


def _probes(est, name, module):
    """``(tower, sample shape, dtype)`` of each tower of ``module`` to embed with."""
    if not hasattr(module, "tower"):  # one network, not two towers
        towers = [(module, est.encoder, est.sample_shape_)]
    else:
        towers = [(module.tower(side), est._side_spec(side)[0], shape)
                  for side, shape in zip(("left", "right"), est.sample_shapes_,
                                         strict=True)]
    for tower, encoder, shape in towers:
        kind = input_spec(encoder)[0]
        if kind == "text":
            # A text encoder takes the tokens of its texts: ids and attention
            # mask, here of one (padding) position.
            yield tower, (2, 1), torch.int64
            continue
        dtype = torch.int64 if kind == "int64" else torch.float32
        yield tower, shape, dtype


def _embedding_width(tower, shape, dtype, meta, device):
    """Width of the embedding of two zero samples of ``shape``, or None if unknown.

    The meta tower gives it without computing anything. Where that fails
    (encoders that look at values, as the RNN checks its token ids), the loaded
    tower embeds the samples, if they take no more room than a small buffer:
    the sample shape comes from the file, and the weights do not bound it.
    """
    try:
        meta.eval()
        with torch.inference_mode():
            return meta(torch.zeros((2, *shape), dtype=dtype, device="meta")).shape[1]
    except Exception:
        if 2 * math.prod(shape) * dtype.itemsize > _BUILD_MARGIN_BYTES:
            return None
    return embed(tower, torch.zeros((2, *shape), dtype=dtype), device).shape[1]


def _check_width(est, name, meta, path):
    """Check that each tower embeds a sample of its fitted shape into n_components_."""
    for (tower, shape, dtype), (meta_tower, _, _) in zip(
            _probes(est, name, est.net_.module_), _probes(est, name, meta),
            strict=True):
        try:
            width = _embedding_width(tower, shape, dtype, meta_tower, est.net_.device)
        except Exception as exc:
            raise ValueError(
                f"{_where(path)} is inconsistent: its network cannot embed a "
                f"sample of the fitted shape {shape} ({type(exc).__name__}: {exc})."
            ) from exc
        if width is not None and width != est.n_components_:
            raise ValueError(
                f"{_where(path)} is inconsistent: the network embeds into {width} "
                f"dimensions, but n_components_ is {est.n_components_}."
            )


def _load_criterion(est, payload, path):
    """Load the saved parameters of the loss, where the file has them."""
    state = payload.get("criterion_state_dict")
    if state is None:
        return
    if not isinstance(state, dict):
        raise ValueError(f"{_where(path)} is damaged: its 'criterion_state_dict' "
                         f"entry should be a dict, not {type(state).__name__}.")
    _check_state(state, path)
    if not all(torch.isfinite(v).all() for v in state.values()
               if v.is_floating_point()):
        raise ValueError(f"{_where(path)} is damaged: the loss's parameters hold "
                         "NaN or infinite values.")
    criterion = est.net_.criterion_
    expected = criterion.state_dict() if isinstance(criterion, torch.nn.Module) else {}
    if expected.keys() != state.keys() or any(
            tuple(expected[k].shape) != tuple(v.shape) for k, v in state.items()):
        raise ValueError(
            f"{_where(path)} holds parameters of the loss ("
            + ", ".join(f"{k} {tuple(v.shape)}" for k, v in list(state.items())[:5])
            + ") that do not fit the loss of the template estimator ("
            + (", ".join(f"{k} {tuple(v.shape)}" for k, v in list(expected.items())[:5])
               or "none")
            + "). Pass the estimator with the loss it was trained with, for "
            f"example load_model(path, estimator={type(est).__name__}(loss=...))."
        )
    criterion.load_state_dict(state, strict=True)


def load_model(path, estimator=None, *, device=None):
    """Load a model saved by :func:`save_model`, checking that it is one.

    The file is read with ``torch.load(weights_only=True)``, so it cannot run
    code; a file that holds other Python objects (a pickled estimator, for
    one) is refused. The loaded model is then checked: the file must be an
    sksiamese model file of a format this version reads, for the estimator
    ``estimator`` is (if given), with fitted attributes of the right kinds
    that agree with each other and with its parameters, and weights whose
    names and shapes match the network that its parameters describe; and
    that network must embed a sample of the fitted shape into
    ``n_components_`` values.

    The network is checked on PyTorch's ``meta`` device, which allocates no
    memory, before it is built: a file cannot make the loader allocate a
    network that its stored weights do not hold (to within 1 MiB of buffers
    that are not saved), whatever its parameters say.

    Parameters
    ----------
    path : str, path-like or binary file object
        The file, as for ``torch.load``.
    estimator : SiameseTransformer, SiamesePairClassifier, SiamesePairRegressor \
            or OneShotClassifier, default=None
        A template, needed where the saved estimator had parameters that are
        not plain values (a custom encoder or loss module or class, an
        optimizer class): it supplies those, and must be of the saved class.
        A clone of it is loaded; the saved plain parameters override its
        own. Without it, ``callbacks`` and ``accelerator`` that were not plain
        values are None. For a ``OneShotClassifier`` whose transformer needs
        one, the template's ``transformer`` is the transformer's template:
        ``estimator=OneShotClassifier(SiameseTransformer(MyEncoder))``.
    device : str or torch.device, default=None
        Where the network goes (a ``OneShotClassifier``'s transformer's);
        None keeps the saved ``device`` parameter, or, where that device is
        not available here (a model trained on a GPU, loaded on a machine
        without one), the CPU, with a warning.

    Returns
    -------
    estimator : SiameseTransformer, SiamesePairClassifier, SiamesePairRegressor \
            or OneShotClassifier
        The fitted estimator. Its ``history_`` is empty: the training history
        is not saved. A ``OneShotClassifier`` has its ``transformer`` parameter
        as it was: the loaded ``transformer_`` itself where it was fitted or
        frozen, else an unfitted clone of it.

    Raises
    ------
    ValueError
        If the file is not a safe sksiamese model file, is empty, truncated
        or damaged, was written by a newer format, needs a template that was
        not given, or if ``device`` is not available on this machine.
    OSError
        If the file cannot be opened (it does not exist, for one).
    TypeError
        If ``estimator`` is not of the saved class.

    Warns
    -----
    UserWarning
        If the saved ``device`` is not available here and ``device`` is None:
        the model is loaded on the CPU.

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
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     save_model(emb, buffer)
    >>> print(caught[0].message)  # doctest: +ELLIPSIS
    save_model did not save the parameters encoder of the SiameseTransformer: ...
    >>> _ = buffer.seek(0)
    >>> loaded = load_model(buffer, estimator=SiameseTransformer(Linear))
    >>> bool(np.array_equal(loaded.transform(X), emb.transform(X)))
    True
    """
    return _load(_read(path), estimator, device, path)


def _load(payload, estimator, device, path):
    """The estimator ``payload`` describes, checked; ``estimator`` is its template."""
    est = _template(payload, estimator, path)
    name = payload["estimator"]
    network = _is_network(type(est))
    params = {k: _decoded(v, f"its parameter {k!r}", path)
              for k, v in payload["params"].items()}
    unknown = set(params) - set(est.get_params(deep=False))
    if unknown:
        raise ValueError(
            f"{_where(path)} sets parameters {sorted(unknown)} that {name} does not "
            "have: it was written by another version of sksiamese, or damaged."
        )
    # The templates of the estimators saved inside (a transformer's, say).
    templates = {attr: getattr(est, param)
                 for param, attr in _links(type(est)).items()}
    est.set_params(**params)
    if device is not None and network:
        est.set_params(device=device)
    est._validate_params()
    if network:
        _check_device(est, device, path)
    _set_attributes(est, payload, path, templates, device)
    _set_links(est, payload, path)
    if network:
        _load_network(est, name, payload, path)
    elif payload["state_dict"]:
        raise ValueError(f"{_where(path)} is damaged: it holds weights, but a "
                         f"{name} has no network of its own.")
    return est


def _load_network(est, name, payload, path):
    """Build ``est``'s network and load the file's weights into it, with checks."""
    state = payload["state_dict"]
    _check_state(state, path)
    meta = _check_architecture(est, name, state, path)
    if not all(torch.isfinite(v).all() for v in state.values()
               if v.is_floating_point()):
        raise ValueError(f"{_where(path)} is damaged: its weights hold NaN or "
                         "infinite values.")

    est.net_ = _build_net(est, name)
    with seeded(draw_seed(est.random_state), "cpu"):
        est.net_.initialize()
    try:
        est.net_.module_.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(
            f"{_where(path)} holds weights that do not fit the {name} that "
            "its parameters describe (the file is damaged, or the template "
            f"estimator builds another network): {exc}"
        ) from exc
    _load_criterion(est, payload, path)
    est.history_ = est.net_.history
    _check_width(est, name, meta, path)
    return est
