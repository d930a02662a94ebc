"""Embedding networks (torch modules) and how an ``encoder`` parameter becomes one."""

import copy
import inspect
from collections import namedtuple
from numbers import Integral, Real

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ._pretrained import PretrainedTextEncoder

__all__ = ["CNNEncoder", "MLPEncoder", "NormalizedEncoder", "PretrainedTextEncoder",
           "RNNEncoder", "build_encoder", "input_spec"]


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
    hidden_layer_sizes : tuple of int, default=(512,)
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

    def __init__(self, n_features, n_components, hidden_layer_sizes=(512,),
                 dropout=0.0):
        super().__init__()
        _check_int("n_features", n_features, 1)
        _check_int("n_components", n_components, 1)
        try:
            sizes = tuple(hidden_layer_sizes)
        except TypeError:
            sizes = None
        if sizes is None or any(isinstance(s, bool) or not isinstance(s, Integral)
                                or s < 1 for s in sizes):
            raise ValueError(
                "hidden_layer_sizes must be a tuple of positive ints, one width "
                f"per hidden layer (() for none); got {hidden_layer_sizes!r}."
            )
        _check_dropout(dropout)
        hidden_layer_sizes = sizes
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


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low}; got {value!r}.")


def _check_dropout(dropout):
    # 1.0 would zero every activation: the network could learn nothing.
    if (isinstance(dropout, bool) or not isinstance(dropout, Real)
            or not 0 <= dropout < 1):
        raise ValueError(f"dropout must be in [0, 1); got {dropout!r}.")


class CNNEncoder(nn.Module):
    """A convolutional network for small images.

    Each block is ``Conv2d -> BatchNorm2d -> ReLU -> MaxPool2d`` (run as
    ``MaxPool2d -> ReLU``, which gives the same values for a quarter of the
    ReLU's work); pooling halves
    the height and the width while they are at least 2, so that tiny images
    (down to 1x1) pass through the same blocks. An adaptive average pooling to
    a ``pooled_size`` x ``pooled_size`` grid then fixes the number of features
    whatever the image size, and a ``Linear`` layer maps them to
    ``n_components``.

    By default the depth fits the image: 64-channel blocks, as many as can
    halve the smaller side of the image and leave it at least 2 pixels wide
    (2 blocks for 8x8 images, 3 for 16x16 to 31x31, 4 for 32x32 to 63x63,
    5 for 64x64 to 127x127 such as Omniglot's 105x105). A block more would
    pool the features of a small image down to a single pixel before the
    head; in a plain PyTorch loop on held-out Omniglot characters at 28x28
    (20-way 1-shot), three blocks beat four: 0.469 against 0.412 with 20
    training classes of 10 drawings (mean of 3 seeds), 0.685 against 0.658
    with 136 classes of 20.

    The convolutions run in ``torch.channels_last`` memory format (the
    weights are stored so and each batch is converted on entry), which
    trains about 1.5 times as fast as the default layout on CPUs with AVX2
    (``benchmarks/bench_training.py --cnn``) and suits GPUs' tensor cores;
    the results are those of the same network in any layout.

    With :class:`~sksiamese.SiameseTransformer`, pass images as ``X`` of shape
    ``(n_samples, height, width)`` or ``(n_samples, channels, height, width)``,
    or flat rows with ``input_shape=(channels, height, width)``.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one image: ``(height, width)`` for single-channel images, or
        ``(channels, height, width)``.
    n_components : int
        Width of the embedding.
    channels : tuple of int, default=None
        Output channels of the convolution blocks, one block per entry. None
        is 64 channels in each of as many blocks as the image size allows
        (see above).
    kernel_size : int, default=3
        Side of the square convolution kernels (odd sizes keep the image size
        until the pooling).
    pooled_size : int, default=1
        Side of the grid that the last feature maps are averaged onto. 1 is
        global average pooling; larger grids keep a coarse layout of the
        features for large images.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.encoders import CNNEncoder
    >>> encoder = CNNEncoder(input_shape=(1, 28, 28), n_components=8).eval()
    >>> encoder(torch.zeros(5, 1, 28, 28)).shape
    torch.Size([5, 8])
    """

    input_dtype = "float32"
    flat_input = False

    def __init__(self, input_shape, n_components, channels=None,
                 kernel_size=3, pooled_size=1):
        super().__init__()
        shape = tuple(input_shape) if input_shape is not None else ()
        if len(shape) not in (2, 3) or any(
            not isinstance(s, Integral) or s < 1 for s in shape
        ):
            raise ValueError(
                "CNNEncoder needs input_shape=(height, width) or (channels, "
                f"height, width) with positive sizes; got {input_shape!r}."
            )
        _check_int("n_components", n_components, 1)
        if channels is None:
            channels = (64,) * auto_depth(shape[-2:])
        try:
            channels = tuple(channels)
        except TypeError:
            raise ValueError(
                "channels must be a tuple of positive ints, one per block, or "
                f"None; got {channels!r}."
            ) from None
        if not channels:
            raise ValueError("channels must name at least one block; got ().")
        for c in channels:
            _check_int("each entry of channels", c, 1)
        _check_int("kernel_size", kernel_size, 1)
        _check_int("pooled_size", pooled_size, 1)

        self.input_shape = shape
        in_channels, height, width = (1, *shape) if len(shape) == 2 else shape
        blocks = []
        for out_channels in channels:
            pool = (2 if height >= 2 else 1, 2 if width >= 2 else 1)
            blocks += [
                # The batch norm right after makes a convolution bias redundant.
                nn.Conv2d(in_channels, out_channels, kernel_size,
                          padding=kernel_size // 2, bias=False),
                nn.BatchNorm2d(out_channels),
                # Pooling before the ReLU gives the same values (the two
                # commute) with a quarter of the ReLU's work.
                nn.MaxPool2d(pool),
                nn.ReLU(inplace=True),
            ]
            in_channels = out_channels
            height, width = height // pool[0], width // pool[1]
        blocks += [nn.AdaptiveAvgPool2d(pooled_size), nn.Flatten()]
        self.features = nn.Sequential(*blocks)
        self.head = nn.Linear(in_channels * pooled_size**2, n_components)
        self.features.to(memory_format=torch.channels_last)

    @staticmethod
    def check_input(X):
        """Raise ``ValueError`` unless ``X`` is a batch of images.

        Parameters
        ----------
        X : ndarray
            The samples, after any reshaping to ``input_shape``.
        """
        if X.ndim not in (3, 4):
            raise ValueError(
                "encoder='cnn' expects images: X of shape (n_samples, height, "
                "width) or (n_samples, channels, height, width), or flat rows "
                "with input_shape=(channels, height, width); got X of shape "
                f"{X.shape}."
            )

    def forward(self, x):
        if x.ndim == 3:
            x = x.unsqueeze(1)
        x = x.contiguous(memory_format=torch.channels_last)
        return self.head(self.features(x))


def auto_depth(image_size):
    """Blocks of ``CNNEncoder(channels=None)`` for images of ``(height, width)``.

    As many as can halve the smaller side and leave it at least 2 (one at
    least): 28x28 images get 3 (28 -> 14 -> 7 -> 3), 105x105 get 5.
    """
    side, depth = min(image_size), 0
    while side // 2 >= 2:
        side //= 2
        depth += 1
    return max(1, depth)


_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}
_POOLINGS = ("last", "mean", "max")


class RNNEncoder(nn.Module):
    """A recurrent network for sequences of token ids, with padding masked.

    Tokens are embedded, read by an LSTM or a GRU, and the states are pooled
    into one vector that a ``Linear`` layer maps to ``n_components``. Id 0 is
    padding wherever it stands: sequences are packed so that the network never
    reads it, and adding or removing padding leaves the embedding unchanged. A
    row of padding only (an empty text) gets all-zero pooled features, so all
    empty texts share one embedding.

    With :class:`~sksiamese.SiameseTransformer`, pass ``X`` of shape
    ``(n_samples, sequence_length)`` holding ids in ``0 .. vocab_size - 1``.
    :class:`~sksiamese.TokenSequencer` makes such arrays from raw text; its
    ``vocab_size`` bounds the ids it emits, so give both the same number:
    ``TokenSequencer(vocab_size=n)`` with
    ``encoder_params={"vocab_size": n}``. Both default to 10,000.

    Parameters
    ----------
    n_components : int
        Width of the embedding.
    vocab_size : int, default=10_000
        Number of token ids, padding (0) included; ids must be below it. A
        larger table than the data needs costs only memory and optimizer time.
    embedding_dim : int, default=64
        Width of the token embeddings.
    hidden_size : int, default=64
        Width of the recurrent state (per direction).
    cell : {"lstm", "gru"}, default="lstm"
        The recurrent cell.
    bidirectional : bool, default=True
        Also read each sequence backwards, and concatenate both directions.
    num_layers : int, default=1
        Stacked recurrent layers.
    pooling : {"last", "mean", "max"}, default="max"
        How states become one vector: the final state of each direction,
        or the mean or the maximum over the positions of the last layer's
        outputs. ``"max"`` finds a telling phrase wherever it stands.
    dropout : float, default=0.0
        Dropout on the token embeddings, between stacked layers and before
        the last ``Linear`` layer.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.encoders import RNNEncoder
    >>> encoder = RNNEncoder(n_components=8, vocab_size=50).eval()
    >>> tokens = torch.tensor([[5, 7, 9, 0, 0], [3, 0, 0, 0, 0]])
    >>> encoder(tokens).shape
    torch.Size([2, 8])
    >>> padded = torch.nn.functional.pad(tokens, (0, 3))
    >>> torch.allclose(encoder(tokens), encoder(padded))
    True
    """

    input_dtype = "int64"
    flat_input = False

    def __init__(self, n_components, vocab_size=10_000, embedding_dim=64,
                 hidden_size=64, cell="lstm", bidirectional=True, num_layers=1,
                 pooling="max", dropout=0.0):
        super().__init__()
        _check_int("n_components", n_components, 1)
        _check_int("vocab_size", vocab_size, 2)
        _check_int("embedding_dim", embedding_dim, 1)
        _check_int("hidden_size", hidden_size, 1)
        _check_int("num_layers", num_layers, 1)
        if cell not in _CELLS:
            raise ValueError(
                f"cell must be one of {', '.join(map(repr, _CELLS))}; got {cell!r}."
            )
        if pooling not in _POOLINGS:
            raise ValueError(
                f"pooling must be one of {', '.join(map(repr, _POOLINGS))}; "
                f"got {pooling!r}."
            )
        _check_dropout(dropout)

        self.vocab_size = int(vocab_size)
        self.pooling = pooling
        self.directions = 2 if bidirectional else 1
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.rnn = _CELLS[cell](
            embedding_dim, hidden_size, num_layers=num_layers, batch_first=True,
            bidirectional=bool(bidirectional),
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.directions * hidden_size, n_components)

    @staticmethod
    def check_input(X):
        """Raise ``ValueError`` unless ``X`` holds non-negative integer ids.

        Parameters
        ----------
        X : ndarray
            The samples, after any reshaping to ``input_shape``.
        """
        if X.ndim != 2:
            raise ValueError(
                "encoder='rnn' expects token ids: X of shape (n_samples, "
                f"sequence_length); got X of shape {X.shape}. TokenSequencer "
                "turns a list of texts into such an array."
            )
        if X.dtype.kind not in "biu" and not np.array_equal(X, np.round(X)):
            raise ValueError(
                "encoder='rnn' expects integer token ids; X holds non-integer "
                "values. TokenSequencer turns a list of texts into token ids."
            )
        if X.size and X.min() < 0:
            raise ValueError(
                "encoder='rnn' expects token ids >= 0 (0 is padding); X holds "
                f"{X.min()}."
            )

    def _check_ids(self, x):
        # nn.Embedding fails on a bad id with an IndexError on the CPU and an
        # unrecoverable device-side assert on CUDA: say what is wrong first.
        low, high = torch.aminmax(x)
        if low < 0 or high >= self.vocab_size:
            bad = int(low) if low < 0 else int(high)
            raise ValueError(
                f"Token id {bad} is out of range for vocab_size={self.vocab_size}"
                f" (ids must lie in 0 .. {self.vocab_size - 1}, 0 being padding). "
                "Pass encoder_params={'vocab_size': n} with n above the largest "
                "id; TokenSequencer(vocab_size=n) emits ids below n."
            )

    def forward(self, x):
        if x.numel():
            self._check_ids(x)
        present = x != 0
        lengths = present.sum(1)
        # Move the tokens of each row to its front, in order, so that padding
        # anywhere (leading, trailing, inside) is what packing leaves out.
        order = torch.argsort((~present).to(torch.uint8), dim=1, stable=True)
        x = x.gather(1, order)
        embedded = self.dropout(self.embedding(x))
        # A row of padding only is read as one padding token, then zeroed.
        packed = pack_padded_sequence(
            embedded, lengths.clamp_min(1).cpu(), batch_first=True,
            enforce_sorted=False,
        )
        outputs, state = self.rnn(packed)
        if self.pooling == "last":
            h_n = state[0] if isinstance(state, tuple) else state
            features = torch.cat(list(h_n[-self.directions:]), dim=1)
        else:
            outputs, _ = pad_packed_sequence(outputs, batch_first=True)
            steps = torch.arange(outputs.shape[1], device=outputs.device)
            read = lengths.clamp_min(1).unsqueeze(1)
            valid = (steps < read).unsqueeze(2)
            if self.pooling == "mean":
                features = (outputs * valid).sum(1) / read
            else:
                features = outputs.masked_fill(~valid, -torch.inf).amax(1)
        features = torch.where((lengths > 0).unsqueeze(1), features, 0.0)
        return self.head(self.dropout(features))


class NormalizedEncoder(nn.Module):
    """An encoder whose embeddings are projected onto the unit sphere.

    ``SiameseTransformer(normalize=True)`` wraps its encoder in it. On the
    sphere euclidean distances lie in [0, 2] and equal ``sqrt(2 * (1 - cos))``,
    so margins are on that scale (0.2 to 0.5 suit the triplet loss) and no
    embedding can grow to escape the margin.

    Parameters
    ----------
    encoder : torch.nn.Module
        The encoder whose output is normalised.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.encoders import MLPEncoder, NormalizedEncoder
    >>> encoder = NormalizedEncoder(MLPEncoder(n_features=4, n_components=3)).eval()
    >>> with torch.no_grad():
    ...     norms = torch.linalg.vector_norm(encoder(torch.randn(2, 4)), dim=1)
    >>> torch.allclose(norms, torch.ones(2))
    True
    """

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, *args, **kwargs):
        out = self.encoder(*args, **kwargs)
        if not isinstance(out, torch.Tensor):
            return out
        return nn.functional.normalize(out, dim=-1, eps=1e-12)


# name -> module class; each class takes the keyword arguments named in
# ``_CONTEXT_ARGS`` that its signature accepts, plus ``encoder_params``.
ENCODERS = {"mlp": MLPEncoder, "cnn": CNNEncoder, "rnn": RNNEncoder}

_CONTEXT_ARGS = ("n_features", "n_components", "input_shape")


def _encoder_class(encoder):
    if isinstance(encoder, str):
        return ENCODERS.get(encoder, nn.Module)
    if isinstance(encoder, nn.Module):
        return type(encoder)
    return encoder


# encode: for encoders of raw text ("text"), the instance's method that
# turns the checked texts into the tensor its forward takes.
InputSpec = namedtuple("InputSpec", "dtype flat_input check_input encode",
                       defaults=(None,))


def input_spec(encoder):
    """How ``X`` must look for ``encoder``.

    An encoder class may declare, as class attributes: ``input_dtype``
    (``"float32"``, the default, ``"int64"`` for token ids, or ``"text"`` for
    raw strings, which the instance's ``encode_texts`` tokenises), ``flat_input``
    (``True`` if samples must be flat rows; default ``False``), and a static
    ``check_input(X)`` that raises ``ValueError`` for samples it cannot take.

    Returns
    -------
    spec : InputSpec
        The named tuple ``(dtype, flat_input, check_input, encode)``: ``dtype``
        is ``"float32"``, ``"int64"`` or ``"text"``, ``flat_input`` a bool,
        ``check_input`` a callable or None, ``encode`` the instance's
        ``encode_texts`` or None.
    """
    cls = _encoder_class(encoder)
    return InputSpec(
        getattr(cls, "input_dtype", "float32"),
        getattr(cls, "flat_input", False),
        getattr(cls, "check_input", None),
        getattr(encoder, "encode_texts", None)
        if isinstance(encoder, nn.Module) else None,
    )


def _accepted(cls, kwargs):
    params = inspect.signature(cls).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return dict(kwargs)
    return {k: v for k, v in kwargs.items() if k in params}


def _reset_parameters(module, seen=None):
    # In modules() order (pre-order, each module once), except that a
    # pretrained encoder re-draws only what it adds to its pretrained weights.
    seen = set() if seen is None else seen
    if id(module) in seen:
        return
    seen.add(id(module))
    if hasattr(module, "reset_new_parameters"):
        module.reset_new_parameters()
        return
    if hasattr(module, "reset_parameters"):
        module.reset_parameters()
    for child in module.children():
        _reset_parameters(child, seen)


def build_encoder(encoder, *, n_features, n_components, input_shape=None,
                  encoder_params=None, reset=True):
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
    reset : bool, default=True
        Re-initialise a module instance's copy. With False the copy keeps the
        instance's weights (and ``requires_grad`` flags), to fine-tune them.

    Returns
    -------
    module : torch.nn.Module
        A new module: freshly initialised, or a copy of the instance.
    """
    params = dict(encoder_params or {})
    if isinstance(encoder, nn.Module):
        if params:
            raise ValueError(
                "encoder_params cannot be used with an encoder instance; pass "
                "the module class and its arguments in encoder_params instead."
            )
        module = copy.deepcopy(encoder)
        if reset:
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
