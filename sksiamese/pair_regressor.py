"""SiamesePairRegressor: learn a graded similarity of pairs (relatedness scores)."""

from numbers import Integral

import numpy as np
import torch
from sklearn.base import RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import column_or_1d
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import SiameseBase, draw_seed, seeded
from ._criteria import SimilarityMSE
from ._distances import SIMILARITIES, similarity
from ._finetune import (
    ENCODER_INITS,
    check_encoder_init,
    check_freeze,
    check_lr_groups,
    check_lr_prefixes,
    check_zero_epochs,
    warn_width,
)
from ._pair_base import PairBase, PairNetwork
from ._warnings import warn

__all__ = ["SiamesePairRegressor"]

# Training pairs whose predictions are compared by the collapse check.
_COLLAPSE_PAIRS = 1000


class SiamesePairRegressor(RegressorMixin, PairBase):
    """Predict a graded similarity of pairs, such as a relatedness score.

    ``fit`` trains a Siamese network on pairs with real-valued targets (for
    example SICK's relatedness, from 1 to 5): both sides go through the
    encoder, a similarity in [0, 1] compares the two embeddings, and the mean
    squared error between it and the target scaled to [0, 1] is minimised.
    The targets are scaled by the smallest and largest seen in ``fit``
    (``y_min_``, ``y_max_``), and ``predict`` maps the similarity back to
    that range. With ``similarity="exp-l1"`` this is the Manhattan LSTM
    ("MaLSTM") of Mueller and Thyagarajan (2016) when the encoder is
    ``"rnn"``.

    Pairs are passed, validated and split into sides exactly as for
    :class:`SiamesePairClassifier` (see its Notes), with the same options for
    two towers (``share_weights``, ``right_encoder``).

    Parameters
    ----------
    encoder : {"mlp", "cnn", "rnn"} or torch.nn.Module instance or class, \
            default="mlp"
        The embedding network of the left side (and of the right side unless
        ``right_encoder`` is given), as in :class:`SiameseTransformer`.
    encoder_params : dict, default=None
        Keyword arguments for ``encoder``.
    input_shape : tuple of int, default=None
        Shape of one left sample, as in :class:`SiamesePairClassifier`.
    right_encoder : {"mlp", "cnn", "rnn"} or torch.nn.Module instance or class, \
            default=None
        The right side's network; needs ``share_weights=False``.
    right_encoder_params : dict, default=None
        Keyword arguments for the right encoder.
    right_input_shape : tuple of int, default=None
        Shape of one right sample; None uses ``input_shape``.
    share_weights : bool, default=True
        One network for both sides.
    split : int, default=None
        For 2-D ``pairs`` only: the number of leading columns that hold the
        left sample.
    n_components : int, default=16
        Width of the embedding.
    similarity : {"exp-l1", "cosine"}, default="exp-l1"
        ``"exp-l1"``: ``exp(-|a - b|_1)``, in (0, 1]. ``"cosine"``: the
        cosine of the two embeddings, trained towards the scaled target (as
        sentence-BERT's cosine loss is) and clipped to [0, 1] by ``predict``.
    optimizer : {"adam", "adamw", "sgd", "rmsprop"} or torch.optim.Optimizer class, \
            default="adam"
        ``"sgd"`` uses momentum 0.9.
    lr : float, default=1e-3
        Learning rate.
    batch_size : int, default=128
        Pairs per training batch, drawn in a shuffled order.
    max_epochs : int, default=20
        Passes over the training pairs. 0 trains nothing and uses the
        encoder as given, zero-shot: only for a pretrained encoder (such as
        :class:`~sksiamese.encoders.PretrainedTextEncoder`) or a module
        instance with ``encoder_init="keep"``.
    device : str or torch.device, default="cpu"
        ``"cpu"``, ``"cuda"``, ... or ``"auto"``.
    callbacks : list of skorch callbacks, default=None
        Extra skorch callbacks, copied at each ``fit``.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights and the batches. The global torch and numpy
        generators are left as they were.
    verbose : int, default=0
        0 is silent; 1 prints skorch's per-epoch table; 2 adds a progress bar.
    encoder_init : {"reset", "keep"}, default="reset"
        For encoder module instances: re-initialise, or keep their weights.
    freeze : tuple of str, default=None
        Parameter-name prefixes of the encoders not to train.
    lr_groups : dict of str to float, default=None
        Learning rates by parameter-name prefix of the encoders.

    Attributes
    ----------
    net_ : SiameseNet
        The trained skorch net; its module has the towers ``left`` and
        ``right`` (None where weights are shared).
    history_ : skorch.History
        Per-epoch and per-batch training records.
    y_min_, y_max_ : float
        The smallest and largest targets seen in ``fit``: similarity 0 and 1.
    n_components_ : int
        Width of the embeddings.
    pair_shape_ : tuple of int
        Shape of one row of ``pairs`` seen in ``fit``.
    sample_shapes_ : tuple of two tuples of int
        Shapes of one left and one right sample as the encoders see them.
    n_features_in_ : int
        ``pairs.shape[1]`` seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen in ``fit``, where ``pairs`` had string column names.

    See Also
    --------
    SiamesePairClassifier : pairs labelled only "same" or "different".

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese import SiamesePairRegressor
    >>> rng = np.random.default_rng(0)
    >>> left = rng.normal(size=(300, 4))
    >>> closeness = rng.uniform(size=300)
    >>> right = left + (1 - closeness)[:, None] * rng.normal(size=(300, 4))
    >>> pairs = np.stack([left, right], axis=1)
    >>> reg = SiamesePairRegressor(max_epochs=5, random_state=0)
    >>> reg.fit(pairs[:200], 1 + 4 * closeness[:200]).predict(pairs[200:]).shape
    (100,)
    """

    _parameter_constraints = {
        **{k: v for k, v in SiameseBase._parameter_constraints.items()
           if k not in ("margin", "distance")},
        "input_shape": [tuple, None],
        "right_encoder": SiameseBase._parameter_constraints["encoder"] + [None],
        "right_encoder_params": [dict, None],
        "right_input_shape": [tuple, None],
        "share_weights": ["boolean"],
        "split": [Interval(Integral, 1, None, closed="left"), None],
        "similarity": [StrOptions(set(SIMILARITIES))],
        "encoder_init": [StrOptions(set(ENCODER_INITS))],
        "freeze": [tuple, None],
        "lr_groups": [dict, None],
    }

    _balanced = False
    _FITTED_ATTRIBUTES = ("n_features_in_", "pair_shape_", "sample_shapes_",
                          "n_components_", "y_min_", "y_max_")

    def __init__(
        self,
        encoder="mlp",
        *,
        encoder_params=None,
        input_shape=None,
        right_encoder=None,
        right_encoder_params=None,
        right_input_shape=None,
        share_weights=True,
        split=None,
        n_components=16,
        similarity="exp-l1",
        optimizer="adam",
        lr=1e-3,
        batch_size=128,
        max_epochs=20,
        device="cpu",
        callbacks=None,
        random_state=None,
        verbose=0,
        encoder_init="reset",
        freeze=None,
        lr_groups=None,
    ):
        self.encoder = encoder
        self.encoder_params = encoder_params
        self.input_shape = input_shape
        self.right_encoder = right_encoder
        self.right_encoder_params = right_encoder_params
        self.right_input_shape = right_input_shape
        self.share_weights = share_weights
        self.split = split
        self.n_components = n_components
        self.similarity = similarity
        self.optimizer = optimizer
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.device = device
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose
        self.encoder_init = encoder_init
        self.freeze = freeze
        self.lr_groups = lr_groups

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.target_tags.required = True
        # scikit-learn's checks feed samples with targets, not pairs: the
        # halves of a row are not two things whose similarity is the target.
        tags.regressor_tags.poor_score = True
        return tags

    def _check_pair_rank(self, pairs):
        # 1-D input gets scikit-learn's own "Reshape your data" message.
        if getattr(pairs, "ndim", 2) >= 2:
            super()._check_pair_rank(pairs)

    def _build_module(self):
        module = PairNetwork(*self._build_towers())
        check_lr_prefixes(module, self.lr_groups, self._towers())
        return module

    def _build_criterion(self):
        return SimilarityMSE(self.similarity)

    # -- fit -----------------------------------------------------------------
    def fit(self, pairs, y):
        """Train the network on pairs and their similarity targets.

        Parameters
        ----------
        pairs : array-like of shape (n_pairs, 2, ...) or (n_pairs, n_features)
            The pairs, as for :meth:`SiamesePairClassifier.fit`.
        y : array-like of shape (n_pairs,)
            The targets: real numbers, higher for more similar pairs (at
            least two distinct values; no NaN).

        Returns
        -------
        self : SiamesePairRegressor
            The fitted regressor.
        """
        self._validate_params()
        self._check_structure()
        check_encoder_init(self)
        check_zero_epochs(self)
        check_freeze(self.freeze)
        check_lr_groups(self.lr_groups)
        with self._unchanged_on_error():
            return self._fit_checked(pairs, _check_targets(y))

    def _fit_checked(self, pairs, y):
        left, right, y = self._validate_pairs(pairs, y, reset=True)
        y = np.asarray(y, dtype=np.float64)
        self.y_min_, self.y_max_ = float(y.min()), float(y.max())
        seed = draw_seed(self.random_state)
        with seeded(seed, "cpu"):
            module = self._build_module()
        self.n_components_ = self._tower_width(module, left, right)
        for name in ("encoder", "right_encoder"):
            warn_width(self, name, self.n_components_)
        scaled = (y - self.y_min_) / (self.y_max_ - self.y_min_)
        self._fit_net((left, right), torch.from_numpy(scaled.astype(np.float32)),
                      module=module, seed=seed)
        self._warn_if_constant(left, right)
        return self

    def _warn_if_constant(self, left, right):
        """Warn when every training pair gets (nearly) the same prediction."""
        n = _COLLAPSE_PAIRS
        s = self._similarity(left[:n], right[:n])
        if len(s) > 1 and float(np.ptp(s)) < 1e-6:
            warn(
                f"SiamesePairRegressor: the network collapsed: its similarity is "
                f"{float(s[0]):.3g} for each of {len(s)} training pairs, so every "
                f"pair gets the same prediction. Likely causes: too high a "
                f"learning rate (lr={self.lr}); unscaled inputs (try "
                "StandardScaler).",
                ConvergenceWarning,
            )

    # -- predictions ---------------------------------------------------------
    def _similarity(self, left, right):
        za = torch.from_numpy(self._embed(left, "left")).double()
        zb = torch.from_numpy(self._embed(right, "right")).double()
        return similarity(za, zb, self.similarity).clamp(0, 1).numpy()

    def predict(self, pairs):
        """Predict the target of each pair from the similarity of its sides.

        Parameters
        ----------
        pairs : array-like of shape (n_pairs, 2, ...) or (n_pairs, n_features)
            Pairs shaped like those given to ``fit``.

        Returns
        -------
        y_pred : ndarray of shape (n_pairs,)
            Between ``y_min_`` (similarity 0) and ``y_max_`` (similarity 1).
        """
        check_is_fitted(self, "net_")
        left, right = self._validate_pairs(pairs, reset=False)
        s = self._similarity(left, right)
        return self.y_min_ + (self.y_max_ - self.y_min_) * s


def _check_targets(y):
    """``y`` as 1-D floats, with clear errors for NaN, text or a single value."""
    try:
        values = column_or_1d(np.asarray(y), warn=True)
        values = values.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"y must hold one real number per pair, higher for more similar "
            f"pairs ({exc}); for 'same'/'different' labels use "
            "SiamesePairClassifier."
        ) from None
    missing = np.flatnonzero(~np.isfinite(values))
    if len(missing):
        raise ValueError(
            f"y holds {len(missing)} NaN or infinite value(s) (at pair(s) "
            f"{missing[:5].tolist()}); a pair without a finite target cannot "
            "be learned: drop those pairs, or fill in their targets."
        )
    if len(values) < 2:
        raise ValueError(
            f"SiamesePairRegressor needs at least 2 pairs with different targets "
            f"to learn from; got {len(values)} sample(s)."
        )
    if not np.isfinite(float(values.max()) - float(values.min())):
        # The targets are scaled by their range; predictions would be inf.
        raise ValueError(
            f"y spans {values.min():.3g} to {values.max():.3g}, a range that "
            "overflows float64. Rescale the targets (for example divide them "
            "by their largest magnitude)."
        )
    if values.min() == values.max():
        raise ValueError(
            f"y holds a single value ({values[0]!r}) for every pair, so there "
            "is no similarity to learn: the targets need at least two distinct "
            "values."
        )
    return values
