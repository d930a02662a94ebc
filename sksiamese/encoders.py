"""Embedding networks (torch modules) and how an ``encoder`` parameter becomes one."""

import copy
import inspect

from torch import nn

__all__ = ["MLPEncoder", "build_encoder", "input_spec"]


class MLPEncoder(nn.Module):
    """A multi-layer perceptron for flat feature vectors.

    Each hidden layer is ``Linear -> BatchNorm1d -> ReLU`` (batch normalisation
    makes the encoder insensitive to the scale of the input features), followed
    by a final ``Linear`` to ``n_components``.

    Parameters
    ----------
    n_features : int
        Width of the input rows.
    n_components : int
        Width of the embedding.
    hidden_layer_sizes : tuple of int, default=(128, 128)
        Widths of the hidden layers.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.encoders import MLPEncoder
    >>> MLPEncoder(n_features=64, n_components=2).eval()(torch.zeros(5, 64)).shape
    torch.Size([5, 2])
    """

    # What the estimators check X against before it reaches this module.
    input_dtype = "float32"
    flat_input = True

    def __init__(self, n_features, n_components, hidden_layer_sizes=(128, 128),
                 dropout=0.0):
        super().__init__()
        layers = []
        width = n_features
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, size), nn.BatchNorm1d(size), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, n_components))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


# name -> module class; each class takes the keyword arguments named in
# ``_CONTEXT_ARGS`` that its signature accepts, plus ``encoder_params``.
ENCODERS = {"mlp": MLPEncoder}

_CONTEXT_ARGS = ("n_features", "n_components", "input_shape")


def _encoder_class(encoder):
    if isinstance(encoder, str):
        return ENCODERS.get(encoder, nn.Module)
    if isinstance(encoder, nn.Module):
        return type(encoder)
    return encoder


def input_spec(encoder):
    """How ``X`` must look for ``encoder``.

    An encoder class may declare, as class attributes: ``input_dtype``
    (``"float32"``, the default, or ``"int64"`` for token ids), ``flat_input``
    (``True`` if samples must be flat rows; default ``False``), and a static
    ``check_input(X)`` that raises ``ValueError`` for samples it cannot take.

    Returns
    -------
    dtype : {"float32", "int64"}
    flat_input : bool
    check_input : callable or None
    """
    cls = _encoder_class(encoder)
    return (
        getattr(cls, "input_dtype", "float32"),
        getattr(cls, "flat_input", False),
        getattr(cls, "check_input", None),
    )


def _accepted(cls, kwargs):
    params = inspect.signature(cls).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return dict(kwargs)
    return {k: v for k, v in kwargs.items() if k in params}


def _reset_parameters(module):
    for sub in module.modules():
        if hasattr(sub, "reset_parameters"):
            sub.reset_parameters()


def build_encoder(encoder, *, n_features, n_components, input_shape=None,
                  encoder_params=None):
    """Make the torch module that an ``encoder`` parameter describes.

    Parameters
    ----------
    encoder : str, torch.nn.Module instance or class
        A name from ``ENCODERS`` (``"mlp"``, ...); a module instance, which is
        copied and whose parameters are re-initialised (so that
        ``random_state`` decides them); or a module class, called with
        ``encoder_params`` and with those of ``n_features``, ``n_components``
        and ``input_shape`` that its signature names.
    n_features : int
        Number of input features per sample (the product of ``input_shape``).
    n_components : int
        Width of the embedding.
    input_shape : tuple of int, default=None
        Shape of one sample, without the batch axis.
    encoder_params : dict, default=None
        Extra keyword arguments for the encoder's constructor.

    Returns
    -------
    module : torch.nn.Module
        A new, freshly initialised module.
    """
    params = dict(encoder_params or {})
    if isinstance(encoder, nn.Module):
        if params:
            raise ValueError(
                "encoder_params cannot be used with an encoder instance; pass "
                "the module class and its arguments in encoder_params instead."
            )
        module = copy.deepcopy(encoder)
        _reset_parameters(module)
        return module
    if isinstance(encoder, str):
        if encoder not in ENCODERS:
            raise ValueError(
                f"Unknown encoder {encoder!r}; use one of "
                f"{', '.join(map(repr, ENCODERS))}, or a torch.nn.Module."
            )
        cls = ENCODERS[encoder]
    elif isinstance(encoder, type) and issubclass(encoder, nn.Module):
        cls = encoder
    else:
        raise ValueError(
            "encoder must be a name, a torch.nn.Module instance or a "
            f"torch.nn.Module class; got {encoder!r}."
        )
    context = {
        "n_features": n_features,
        "n_components": n_components,
        "input_shape": input_shape,
    }
    clash = set(params) & set(_CONTEXT_ARGS)
    if clash:
        raise ValueError(
            f"encoder_params may not set {sorted(clash)}: they come from the "
            "data and the estimator's own parameters."
        )
    try:
        return cls(**_accepted(cls, context), **params)
    except TypeError as exc:
        raise ValueError(
            f"Could not build encoder {cls.__name__} with encoder_params="
            f"{params!r}: {exc}"
        ) from exc
