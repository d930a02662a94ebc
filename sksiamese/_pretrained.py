"""PretrainedTextEncoder: a pretrained transformer text model on raw strings."""

import json
import os
from numbers import Integral

import numpy as np
import torch
from torch import nn

POOLINGS = ("mean", "cls", "max")

# Rows per forward call at inference: attention costs memory in the square
# of the text length, so large inference batches are run in slices.
_INFERENCE_CHUNK = 256

EXTRA_MESSAGE = (
    "PretrainedTextEncoder needs the optional dependencies of sksiamese[text] "
    "(transformers, tokenizers, safetensors). Install them with "
    "'pip install sksiamese[text]', or, to keep an installed torch build, "
    "'pip install --no-deps transformers tokenizers safetensors huggingface-hub "
    "regex pyyaml' (see the Makefile's test set-up)."
)


def _transformers():
    try:
        import transformers
    except ImportError as exc:
        raise ImportError(EXTRA_MESSAGE) from exc
    return transformers


def _transformer_folder(model):
    """The folder (or name) holding the transformer of ``model``.

    A sentence-transformers folder lists its modules in ``modules.json``; the
    transformer is the module of type ``...models.Transformer`` (at the root
    of recent folders, in ``0_Transformer`` of older ones).
    """
    modules = os.path.join(model, "modules.json")
    if not os.path.isfile(modules):
        return model
    try:
        with open(modules, encoding="utf-8") as file:
            entries = json.load(file)
        path = next(
            e.get("path", "")
            for e in entries
            if str(e.get("type", "")).endswith("models.Transformer")
        )
    except (OSError, ValueError, StopIteration, AttributeError, TypeError):
        return model
    return os.path.join(model, path) if path else model


def _check_model_folder(model):
    """A clear ``ValueError`` for a folder that cannot hold a model."""
    looks_local = (
        os.path.isabs(model)
        or model.startswith(".")
        or os.path.exists(model)
        or model.count("/") > 1
    )
    if looks_local and not os.path.isdir(model):
        raise ValueError(
            f"PretrainedTextEncoder: the model folder {model!r} does not exist. "
            "Pass the folder of a Hugging Face transformers model (config.json, "
            "model.safetensors and the tokenizer's files) or of a "
            "sentence-transformers model."
        )
    if not os.path.isdir(model):
        return
    folder = _transformer_folder(model)
    if not os.path.isfile(os.path.join(folder, "config.json")):
        raise ValueError(
            f"PretrainedTextEncoder: {folder!r} holds no config.json, so it is not "
            "the folder of a transformers model."
        )
    tokenizer_files = (
        "tokenizer.json",
        "vocab.txt",
        "spiece.model",
        "sentencepiece.bpe.model",
        "vocab.json",
    )
    if not any(os.path.isfile(os.path.join(folder, f)) for f in tokenizer_files):
        raise ValueError(
            f"PretrainedTextEncoder: the model folder {folder!r} lacks a tokenizer "
            f"(none of {', '.join(tokenizer_files)}); save the tokenizer beside "
            "the model (tokenizer.save_pretrained(folder))."
        )
    weights = [f for f in os.listdir(folder) if f.endswith(".safetensors")]
    if not weights:
        raise ValueError(
            f"PretrainedTextEncoder: the model folder {folder!r} holds no "
            "*.safetensors weights. Weights are only read from safetensors files, "
            "never from pickled ones (pytorch_model.bin), which could run code; "
            "convert them with model.save_pretrained(folder, "
            "safe_serialization=True)."
        )


def _load(model):
    """The tokenizer and the transformer of ``model``, without running pickles."""
    transformers = _transformers()
    folder = _transformer_folder(model)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
        network = transformers.AutoModel.from_pretrained(
            folder, use_safetensors=True, use_kernels=False
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            f"PretrainedTextEncoder could not load the model {model!r}: "
            f"{type(exc).__name__}: {str(exc)[:300]}"
        ) from None
    # from_pretrained leaves the model in eval mode; the estimators set the
    # mode they need.
    network.train()
    return tokenizer, network


def check_texts(X):
    """Raise ``ValueError`` unless ``X`` holds non-empty strings only.

    Parameters
    ----------
    X : ndarray of shape (n_samples,)
        The texts.
    """
    for index, text in enumerate(X.ravel()):
        if not isinstance(text, str):
            kind = (
                "missing (None or NaN)"
                if text is None or (isinstance(text, float) and text != text)
                else type(text).__name__
            )
            raise ValueError(
                f"PretrainedTextEncoder takes texts (str), but entry {index} is "
                f"{kind}: {text!r}. Drop or fill in missing texts, and convert "
                "other values to strings first."
            )
        if not text.strip():
            raise ValueError(
                f"PretrainedTextEncoder takes non-empty texts, but entry {index} is "
                f"{text!r}. Drop empty texts or fill them in."
            )


class PretrainedTextEncoder(nn.Module):
    """A pretrained transformer text model as the encoder, on raw strings.

    Loads a Hugging Face ``transformers`` model and its tokenizer from a
    folder (``config.json``, ``*.safetensors`` weights and the tokenizer's
    files), a sentence-transformers model folder, or a model name that
    ``transformers`` can fetch. Texts are tokenised by the estimators that
    use it (padded to the longest text of the input, truncated to
    ``max_length`` tokens), each batch is cut to its own longest text, and
    the token states are pooled into one vector per text, honouring the
    attention mask.

    Give it as the ``encoder`` of :class:`~sksiamese.SiameseTransformer`
    (``X`` of shape ``(n_samples,)`` of texts, or a DataFrame column),
    :class:`~sksiamese.SiamesePairClassifier` or
    :class:`~sksiamese.SiamesePairRegressor` (``pairs`` of shape
    ``(n_pairs, 2)`` of texts). The pretrained weights are kept whatever the
    estimator's ``encoder_init``: ``"reset"`` (the default) re-draws only the
    projection head, if there is one, from ``random_state``; ``"keep"``
    keeps the instance's weights as they are, head included (to go on
    training an encoder fine-tuned before). ``freeze`` and ``lr_groups``
    name its parameters as ``transformer.embeddings.``,
    ``transformer.encoder.layer.0.``, ... and ``projection.``. With
    ``max_epochs=0`` an estimator uses the pretrained embedding as it is
    (zero-shot).

    Weights are only read from safetensors files: no pickle from a model
    folder is ever run. Needs the ``text`` extra: ``pip install
    sksiamese[text]``.

    Parameters
    ----------
    model : str
        A model folder or name, as for ``transformers.AutoModel``.
    pooling : {"mean", "cls", "max"}, default="mean"
        How the token states become one vector: their mean or maximum over
        the text's tokens (padding excluded), or the first token's state.
        Sentence-transformers models such as all-MiniLM-L6-v2 were trained
        with the mean.
    max_length : int, default=128
        Texts longer than this many tokens (special tokens included) are
        truncated to it; at most the model's ``max_position_embeddings``.
    n_components : int, default=None
        None embeds into the model's hidden size (384 for all-MiniLM-L6-v2).
        Another width adds a ``Linear`` projection head from the hidden
        size, initialised from the estimator's ``random_state``.

    Attributes
    ----------
    transformer : transformers.PreTrainedModel
        The pretrained network.
    tokenizer : transformers.PreTrainedTokenizerBase
        Its tokenizer.
    projection : torch.nn.Linear or None
        The projection head, where ``n_components`` asks for one.
    hidden_size : int
        Width of the token states.
    embedding_width : int
        Width of the embedding: ``n_components``, or the hidden size. An
        estimator's ``n_components="auto"`` takes it.
    training_defaults : dict
        The settings an estimator's parameters left to ``"auto"`` take
        (class attribute): ``optimizer="adamw"``, ``lr=2e-5``,
        ``batch_size=16``, ``max_epochs=1`` and, for
        :class:`~sksiamese.SiamesePairRegressor`, ``similarity="cosine"``:
        the sentence-transformers fine-tuning recipe. Set any of them on the
        estimator to override it.

    Examples
    --------
    >>> from sksiamese import SiamesePairRegressor
    >>> from sksiamese.encoders import PretrainedTextEncoder
    >>> encoder = PretrainedTextEncoder("path/to/all-MiniLM-L6-v2")  # doctest: +SKIP
    >>> reg = SiamesePairRegressor(encoder)  # doctest: +SKIP
    >>> reg.fit(text_pairs, scores)  # doctest: +SKIP
    """

    input_dtype = "text"
    flat_input = False
    check_input = staticmethod(check_texts)
    # The estimators' settings left to "auto" take these: the
    # sentence-transformers fine-tuning recipe (AdamW at 2e-5, batches of
    # 16, one epoch; the cosine for graded scores). Measured on SICK
    # (benchmarks/sick_relatedness.py): with these defaults Pearson 0.885 on
    # trial after one epoch over SICK_train, from 0.845 zero-shot; lr 2e-5
    # did better than 5e-5 on a split of SICK_train.
    training_defaults = {"optimizer": "adamw", "lr": 2e-5, "batch_size": 16,
                         "max_epochs": 1, "similarity": "cosine"}

    def __init__(self, model, *, pooling="mean", max_length=128, n_components=None):
        super().__init__()
        if not isinstance(model, (str, os.PathLike)):
            raise ValueError(
                "model must be the folder or name of a pretrained transformers "
                f"model (str or path); got {model!r}."
            )
        if pooling not in POOLINGS:
            raise ValueError(
                f"pooling must be one of {', '.join(map(repr, POOLINGS))}"
                f"; got {pooling!r}."
            )
        if (
            isinstance(max_length, bool)
            or not isinstance(max_length, Integral)
            or max_length < 2
        ):
            raise ValueError(f"max_length must be an int >= 2; got {max_length!r}.")
        if n_components is not None and (
            isinstance(n_components, bool)
            or not isinstance(n_components, Integral)
            or n_components < 1
        ):
            raise ValueError(
                f"n_components must be None or an int >= 1; got {n_components!r}."
            )
        model = os.fspath(model)
        _transformers()
        _check_model_folder(model)
        self.model = model
        self.pooling = pooling
        self.max_length = int(max_length)
        self.tokenizer, self.transformer = _load(model)
        self.hidden_size = int(self.transformer.config.hidden_size)
        limit = getattr(self.transformer.config, "max_position_embeddings", None)
        if limit is not None and self.max_length > limit:
            raise ValueError(
                f"max_length={max_length} is longer than the {limit} positions "
                f"model {model!r} was trained for; use max_length <= {limit}."
            )
        self.n_components = n_components
        self.projection = (
            None
            if n_components in (None, self.hidden_size)
            else nn.Linear(self.hidden_size, int(n_components))
        )

    @property
    def embedding_width(self):
        """Width of the embedding: the projection's, or the hidden size."""
        return self.hidden_size if self.projection is None else int(self.n_components)

    def extra_repr(self):
        return (
            f"model={self.model!r}, pooling={self.pooling!r}, "
            f"max_length={self.max_length}, n_components={self.n_components}"
        )

    def reset_new_parameters(self):
        """Re-initialise what is not pretrained: the projection head, if any."""
        if self.projection is not None:
            self.projection.reset_parameters()

    def encode_texts(self, texts):
        """Tokenise ``texts`` into the tensor that ``forward`` takes.

        Parameters
        ----------
        texts : ndarray of shape (n_samples,)
            Non-empty strings.

        Returns
        -------
        tokens : torch.Tensor of shape (n_samples, 2, length), dtype int64
            The token ids (``tokens[:, 0]``) and the attention mask
            (``tokens[:, 1]``), padded to the longest text, at most
            ``max_length`` tokens.
        """
        batch = self.tokenizer(
            [str(t) for t in np.asarray(texts, dtype=object).ravel()],
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
            return_token_type_ids=False,
        )
        return torch.stack([batch["input_ids"], batch["attention_mask"]], dim=1).to(
            torch.int64
        )

    def forward(self, tokens):
        if tokens.ndim != 3 or tokens.shape[1] != 2:
            raise ValueError(
                "PretrainedTextEncoder takes the tokens of encode_texts, of shape "
                f"(batch, 2, length); got shape {tuple(tokens.shape)}."
            )
        if self.training or len(tokens) <= _INFERENCE_CHUNK:
            return self._embed(tokens)
        return torch.cat(
            [self._embed(chunk) for chunk in tokens.split(_INFERENCE_CHUNK)]
        )

    def _embed(self, tokens):
        ids, mask = tokens[:, 0], tokens[:, 1]
        # Only the positions some text of the batch uses: batches of short
        # texts cost what their own length does.
        used = mask.any(0)
        used[0] = True
        ids, mask = ids[:, used], mask[:, used]
        states = self.transformer(input_ids=ids, attention_mask=mask).last_hidden_state
        weights = mask.unsqueeze(-1).to(states.dtype)
        if self.pooling == "mean":
            pooled = (states * weights).sum(1) / weights.sum(1).clamp_min(1e-9)
        elif self.pooling == "max":
            pooled = states.masked_fill(weights == 0, -torch.inf).amax(1)
            # A row of padding only (the zero rows an inference batch is
            # filled up with) pools to zeros.
            pooled = torch.where(torch.isfinite(pooled), pooled, 0.0)
        else:
            pooled = states[:, 0]
        if self.projection is not None:
            pooled = self.projection(pooled)
        return pooled
