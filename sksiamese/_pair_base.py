"""What both pair estimators share: pair layout and validation, towers, sides.

``SiamesePairClassifier`` and ``SiamesePairRegressor`` take pairs alike (shape
``(n_pairs, 2, ...)``, or 2-D rows of left then right values cut at
``split``), build one tower or two alike (``share_weights``,
``right_encoder``), and embed each side alike; they differ in their target,
loss and output.
"""

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from ._base import SiameseBase, Training, check_images, draw_seed, embed
from ._finetune import freeze, param_groups, warn_width
from ._net import TensorData, check_embedding_output
from ._validation import (
    check_samples,
    explained_input_errors,
    numpy_dtypes,
    side_widths,
    text_columns,
    validate_kwargs,
)
from .augment import RandomAffine
from .encoders import NormalizedEncoder, build_encoder, input_spec

SIDES = ("left", "right")

# The parameters both pair estimators add to the base's.
PAIR_CONSTRAINTS = {
    "input_shape": [tuple, None],
    "right_encoder": SiameseBase._parameter_constraints["encoder"] + [None],
    "right_encoder_params": [dict, None],
    "right_input_shape": [tuple, None],
    "share_weights": ["boolean"],
    "split": [Interval(Integral, 1, None, closed="left"), None],
    "validation_fraction": [Interval(Real, 0, 1, closed="left"), None],
    "normalize": ["boolean"],
    "augment": [StrOptions({"affine"}), callable, None],
}

# The parameters that define a pair network, which a continued fit
# (warm_start) cannot change.
PAIR_ARCHITECTURE = ("encoder", "encoder_params", "input_shape", "right_encoder",
                     "right_encoder_params", "right_input_shape",
                     "share_weights", "split", "n_components", "normalize",
                     "freeze")


class PairNetwork(nn.Module):
    """Two towers (or one shared) and, for Koch et al.'s loss, a weighted L1 head.

    ``forward(left, right)`` returns the pair's two embeddings, or the head's
    logit of "same" where there is a head.
    """

    def __init__(self, left, right=None, head=None):
        super().__init__()
        self.left = left
        # None: the right side goes through the left tower (shared weights).
        self.right = right
        self.head = head

    def tower(self, side):
        return self.left if side == "left" or self.right is None else self.right

    def forward(self, left, right):
        za = check_embedding_output(self.tower("left")(left))
        zb = check_embedding_output(self.tower("right")(right))
        if self.head is None:
            return za, zb
        return self.head(torch.abs(za - zb)).squeeze(1)


class PairBase(SiameseBase):
    """Base class of the pair estimators: pairs, sides and towers.

    Subclasses set the parameters these methods read (``encoder``,
    ``encoder_params``, ``input_shape``, ``right_encoder``,
    ``right_encoder_params``, ``right_input_shape``, ``share_weights``,
    ``split``, ``n_components``, ``encoder_init``, ``freeze``, ``lr_groups``).
    """

    _AUTO_SETTINGS = {**SiameseBase._AUTO_SETTINGS, "n_components": 16,
                      "batch_size": 128, "max_epochs": 20}
    _balanced = False
    _ARCHITECTURE = PAIR_ARCHITECTURE
    _HELD_OUT = "pairs"

    # -- the base's hooks ----------------------------------------------------
    def _check_settings(self):
        self._check_structure()

    def _augment(self):
        return RandomAffine() if self.augment == "affine" else self.augment

    def _before_training(self, data, keep, partial):
        check_images(self.augment, self._augment(), self.sample_shapes_)

    def _learn_width(self, module, data):
        self.n_components_ = self._tower_width(module, *data.inputs)
        for name in ("encoder", "right_encoder"):
            warn_width(self, name, self.n_components_)

    def _pair_training(self, left, right, targets, strata, labels, info=None):
        """The :class:`Training` of pairs, some held out (``_holdout``).

        ``targets``: numpy, one per pair; ``strata`` and ``labels``: the
        groups held out alike; ``info`` (given ``held``, the mask or None)
        goes to the after-training steps.
        """
        seed = draw_seed(self.random_state)
        held = self._holdout(strata, seed, labels)
        targets = torch.from_numpy(targets)
        info = {**(info or {}), "held": held}
        if held is None:
            return Training((left, right), targets, seed=seed, info=info)
        valid = TensorData((left[held], right[held]), targets[held])
        return Training((left[~held], right[~held]), targets[~held], valid,
                        seed=seed, info=info)

    def _holdout(self, strata, seed, labels):
        """Boolean mask of the pairs held out of training (None: none).

        ``validation_fraction`` of the pairs of each of ``labels`` in
        ``strata``, drawn with ``seed``; None where it is 0 or None, or a
        label has fewer than two pairs (one must stay to train on).
        """
        if not self.validation_fraction:
            return None
        rng = np.random.RandomState(seed)
        held = np.zeros(len(strata), dtype=bool)
        for label in labels:
            rows = np.flatnonzero(strata == label)
            if len(rows) < 2:
                return None
            n_held = min(len(rows) - 1,
                         max(1, round(self.validation_fraction * len(rows))))
            held[rng.choice(rows, n_held, replace=False)] = True
        return held

    def _side_spec(self, side):
        """``(encoder, encoder_params, input_shape)`` of one side."""
        if side == "left":
            return self.encoder, self.encoder_params, self.input_shape
        shape = (self.input_shape if self.right_input_shape is None
                 else self.right_input_shape)
        if self.right_encoder is None:
            params = (self.encoder_params if self.right_encoder_params is None
                      else self.right_encoder_params)
            return self.encoder, params, shape
        return self.right_encoder, self.right_encoder_params, shape

    def _raw_side_shape(self, side):
        """Shape of one sample of ``side`` as it lies in a row of ``pairs``."""
        if len(self.pair_shape_) > 1:
            return tuple(self.pair_shape_[1:])
        widths = side_widths(self.pair_shape_[0], self.split)
        return (widths[0],) if side == "left" else (widths[1],)

    def _check_side(self, X, side):
        """Reshape and check one side's samples; return them and their tensor."""
        encoder, _, shape = self._side_spec(side)
        return check_samples(
            X, encoder, input_shape=shape,
            shape_name="input_shape" if side == "left" else "right_input_shape",
            who=type(self).__name__, side=side,
        )

    def _validate_pairs(self, pairs, y="no_validation", reset=True):
        """Validate ``pairs`` (and ``y``); return the two sides' tensors."""
        kinds = {input_spec(self._side_spec(side)[0]).dtype for side in SIDES}
        kwargs = {
            "dtype": numpy_dtypes(input_spec("mlp" if kinds == {"float32"} else "rnn")),
            "allow_nd": True,
        }
        if "text" in kinds:
            # Pairs of texts: the encoders check their entries.
            kwargs = validate_kwargs(input_spec(self.encoder))
            pairs = text_columns(pairs)
        if not reset:
            self._check_pair_rank(pairs)
        # "no_validation" is validate_data's marker for "no y given".
        with_y = not (isinstance(y, str) and y == "no_validation")
        with explained_input_errors(type(self).__name__):
            pairs = validate_data(self, pairs, y, reset=reset, **kwargs)
        if with_y:
            pairs, y = pairs
        if pairs.ndim > 2 and 0 in pairs.shape[2:]:
            raise ValueError(
                f"{type(self).__name__} needs samples with at least one feature; "
                f"got pairs of shape {pairs.shape}, whose samples of shape "
                f"{pairs.shape[2:]} hold no values."
            )
        if pairs.ndim == 2:
            width = pairs.shape[1]
            split = side_widths(width, self.split)[0]
            if not 0 < split < width:
                raise ValueError(
                    f"2-D pairs hold the left sample's values, then the right "
                    f"sample's; with {width} feature(s) per row there is no room "
                    f"for both sides (split={self.split}). Pass rows of left and "
                    "right values side by side, with split the left width."
                )
            left, right = pairs[:, :split], pairs[:, split:]
        else:
            if pairs.shape[1] != 2:
                raise ValueError(
                    "pairs must have shape (n_pairs, 2, ...): one left and one "
                    f"right sample per row; got shape {pairs.shape}, whose second "
                    f"axis has length {pairs.shape[1]}."
                )
            if self.split is not None:
                raise ValueError(
                    f"split={self.split} applies to 2-D pairs only; pairs of "
                    f"shape {pairs.shape} already hold the two sides on their "
                    "second axis. Leave split=None."
                )
            left, right = pairs[:, 0], pairs[:, 1]
        if reset:
            self.pair_shape_ = tuple(pairs.shape[1:])
        elif tuple(pairs.shape[1:]) != self.pair_shape_:
            raise ValueError(
                f"{type(self).__name__} was fitted on pairs whose rows have "
                f"shape {self.pair_shape_}; got rows of shape {pairs.shape[1:]}."
            )
        (left, left_t), (right, right_t) = (
            self._check_side(left, "left"), self._check_side(right, "right"))
        if reset:
            if self.share_weights and left.shape[1:] != right.shape[1:]:
                raise ValueError(
                    "With share_weights=True both sides go through one network "
                    f"and must have the same shape; got left samples of shape "
                    f"{left.shape[1:]} and right samples of shape "
                    f"{right.shape[1:]}. Set share_weights=False for sides of "
                    "different shapes (and split for 2-D pairs)."
                )
            self.sample_shapes_ = (tuple(left.shape[1:]), tuple(right.shape[1:]))
        return (left_t, right_t, y) if with_y else (left_t, right_t)

    def _check_pair_rank(self, pairs):
        """A clear message where pairs of another layout than in fit are given."""
        ndim = getattr(pairs, "ndim", None)
        if ndim is None:
            return
        fitted = 1 + len(self.pair_shape_)
        if ndim != fitted:
            shape = ", ".join(map(str, self.pair_shape_))
            layout = ("(n_pairs, n_features) rows of left then right values"
                      if fitted == 2 else f"(n_pairs, {shape})")
            raise ValueError(
                f"{type(self).__name__} was fitted on pairs of shape {layout}; "
                f"got a {ndim}-D array of shape {tuple(pairs.shape)}. Pass pairs "
                "in the layout used in fit."
            )

    def _validate_side(self, X, side):
        """Validate samples of one side given alone; return a tensor."""
        check_is_fitted(self, "net_")
        if side not in SIDES:
            raise ValueError(f"side must be 'left' or 'right'; got {side!r}.")
        spec = input_spec(self._side_spec(side)[0])
        if spec.dtype == "text":
            X = text_columns(X)
        with explained_input_errors(type(self).__name__):
            X = check_array(X, **validate_kwargs(spec))
        expected = self._raw_side_shape(side)
        if X.shape[1:] != expected:
            raise ValueError(
                f"{side.capitalize()} samples must have shape (n_samples, "
                f"{', '.join(map(str, expected))}), like the {side} side of the "
                f"pairs given to fit; got shape {X.shape}."
            )
        return self._check_side(X, side)[1]

    def _check_structure(self):
        if self.share_weights and self.right_encoder is not None:
            raise ValueError(
                "right_encoder gives the right side a network of its own, which "
                "needs share_weights=False."
            )
        if self.share_weights and self.right_encoder_params is not None:
            raise ValueError(
                "right_encoder_params applies to a right tower of its own, "
                "which needs share_weights=False."
            )

    def _build_towers(self):
        """The left and right encoders (right None where weights are shared)."""
        towers = []
        for side, shape in zip(SIDES, self.sample_shapes_, strict=True):
            if side == "right" and self.share_weights:
                towers.append(None)
                continue
            encoder, params, _ = self._side_spec(side)
            towers.append(build_encoder(
                encoder,
                n_features=math.prod(shape),
                n_components=self._setting("n_components"),
                input_shape=shape,
                encoder_params=params,
                reset=self.encoder_init == "reset",
            ))
        freeze([t for t in towers if t is not None], self.freeze)
        if self.normalize:
            towers = [None if t is None else NormalizedEncoder(t) for t in towers]
        return towers

    def _towers(self):
        """Where the module holds the encoders, as parameter-name prefixes."""
        towers = ("left.",) if self.share_weights else ("left.", "right.")
        if self.normalize:  # each encoder inside its NormalizedEncoder
            towers = tuple(f"{t}encoder." for t in towers)
        return towers

    def _param_groups(self):
        return param_groups(self.lr_groups, self._towers())

    @staticmethod
    def _tower_width(module, left, right):
        """The embedding width both towers give; they must give the same."""
        widths = [embed(module.tower(side), X[:1], "cpu").shape[1]
                  for side, X in zip(SIDES, (left, right), strict=True)]
        if widths[0] != widths[1]:
            raise ValueError(
                f"The left encoder embeds into {widths[0]} dimensions and the "
                f"right one into {widths[1]}; both must give n_components."
            )
        return int(widths[0])

    def _embed(self, X, side):
        module = self.net_.module_
        return embed(module.tower(side), X, self.net_.device)

    def transform_left(self, X):
        """Embed samples of the left side's kind.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Left samples, shaped like ``pairs[:, 0]`` (or the left columns of
            2-D pairs) given to ``fit``.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components_), dtype float32
            Embeddings comparable with those of ``transform_right``.
        """
        return self._embed(self._validate_side(X, "left"), "left")

    def transform_right(self, X):
        """Embed samples of the right side's kind.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Right samples, shaped like ``pairs[:, 1]`` (or the right columns
            of 2-D pairs) given to ``fit``.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components_), dtype float32
            Embeddings comparable with those of ``transform_left``: with
            ``distance`` for ``loss="contrastive"``, with the weighted L1
            distance of ``net_.module_.head`` for ``loss="bce"``.
        """
        return self._embed(self._validate_side(X, "right"), "right")
