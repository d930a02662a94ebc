"""SiamesePairRegressor: learn a graded similarity of pairs (relatedness scores)."""


import numpy as np
import torch
from sklearn.base import RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import column_or_1d
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import SiameseBase
from ._criteria import SimilarityMSE
from ._distances import SIMILARITIES, similarity
from ._finetune import check_lr_prefixes
from ._pair_base import PAIR_CONSTRAINTS, PairBase, PairNetwork
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
    n_components : int or "auto", default="auto"
        Width of the embedding. ``"auto"`` is the width an encoder instance
        declares (``embedding_width``: a
        :class:`~sksiamese.encoders.PretrainedTextEncoder`'s hidden size or
        projection) or measures when it is run, and 16 for the built-in
        encoders. The width used is ``n_components_``.
    similarity : {"auto", "exp-l1", "cosine"}, default="auto"
        ``"exp-l1"``: ``exp(-|a - b|_1)``, in (0, 1]. ``"cosine"``: the
        cosine of the two embeddings, trained towards the scaled target (as
        sentence-BERT's cosine loss is) and clipped to [0, 1] by ``predict``.
        ``"auto"``: the encoder's recipe where it declares one
        (``"cosine"`` for :class:`~sksiamese.encoders.PretrainedTextEncoder`,
        whose embeddings were pretrained to be compared by their cosine),
        else ``"exp-l1"``.
    optimizer : {"auto", "adam", "adamw", "sgd", "rmsprop"} or \
            torch.optim.Optimizer class, default="auto"
        ``"sgd"`` uses momentum 0.9. ``"auto"``, here and for ``lr``,
        ``batch_size`` and ``max_epochs``, is the recipe the encoder
        declares for its weights where it has one (``training_defaults``;
        :class:`~sksiamese.encoders.PretrainedTextEncoder`: the
        sentence-transformers fine-tuning recipe, ``"adamw"`` at 2e-5,
        batches of 16 pairs, 1 epoch), else the values below (from
        ``encoder``; a different ``right_encoder``'s recipe is not used).
        ``"adam"`` otherwise.
    lr : float or "auto", default="auto"
        Learning rate; ``"auto"``: the encoder's recipe, else 1e-3.
    batch_size : int or "auto", default="auto"
        Pairs per training batch, drawn in a shuffled order; ``"auto"``: the
        encoder's recipe, else 128.
    max_epochs : int or "auto", default="auto"
        Passes over the training pairs (``"auto"``: the encoder's recipe,
        else 20). 0 trains nothing and uses the
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
    validation_fraction : float, default=None
        Fraction of the pairs held out from training, drawn with
        ``random_state``, whose loss is recorded after every epoch
        (``valid_loss`` in ``history_``), so that ``early_stopping`` and
        skorch's ``EarlyStopping`` or ``Checkpoint`` work. None (or 0)
        trains on every pair.
    normalize : bool, default=False
        Project each tower's embeddings onto the unit sphere
        (:class:`~sksiamese.encoders.NormalizedEncoder`), as
        ``SiameseTransformer(normalize=True)`` does; distances then lie in
        [0, 2], so a contrastive ``margin`` is on that scale. False by
        default, unlike the transformer's "auto": the pair estimators'
        defaults (margin 1.0, the ``exp-l1`` similarity) were chosen on
        unnormalised embeddings.
    augment : {"affine"}, callable or None, default=None
        Random distortions of the training images of both sides, each side
        distorted on its own, during ``fit`` only: ``"affine"`` is
        :class:`~sksiamese.augment.RandomAffine` with its defaults (seeded by
        ``random_state``), or any callable, as for
        :class:`~sksiamese.SiameseTransformer`. None by default: the
        transformer's "auto" rule was measured on classes of images, not
        on pairs.
    warm_start : bool, default=False
        If True, ``fit`` on a fitted estimator continues training its network
        from the current weights for ``max_epochs`` more epochs (the pairs
        must be shaped as before) instead of starting anew.
    accelerator : accelerate.Accelerator, default=None
        Train through Hugging Face accelerate (skorch's ``AccelerateMixin``),
        as :class:`~sksiamese.SiameseTransformer` does; the accelerator places
        the network, so ``device`` is not used.
    lr_schedule : {"cosine"} or None, default=None
        ``"cosine"`` anneals the learning rate from ``lr`` to 0 over
        ``max_epochs`` (a continued fit goes on where it stopped); None keeps
        ``lr`` throughout. None by default, unlike the transformer's "auto":
        the pair estimators' defaults were chosen at a constant rate.
    early_stopping : bool, default=False
        Stop when the held-out pairs' loss (``valid_loss``) has not improved
        for ``n_iter_no_change`` epochs, and keep the weights of its best
        epoch (``best_epoch_``). Needs ``validation_fraction``.
    n_iter_no_change : int, default=10
        Epochs without improvement before ``early_stopping`` stops.
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
    best_epoch_ : int or None
        The epoch with the lowest held-out loss (``valid_loss``), where pairs
        were held out (``validation_fraction``); None otherwise.
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

    _AUTO_SETTINGS = {**PairBase._AUTO_SETTINGS, "similarity": "exp-l1"}

    _parameter_constraints = {
        **SiameseBase._parameter_constraints,
        **PAIR_CONSTRAINTS,
        "similarity": [StrOptions({*SIMILARITIES, "auto"})],
    }

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
        n_components="auto",
        similarity="auto",
        optimizer="auto",
        lr="auto",
        batch_size="auto",
        max_epochs="auto",
        device="cpu",
        callbacks=None,
        random_state=None,
        verbose=0,
        validation_fraction=None,
        normalize=False,
        augment=None,
        warm_start=False,
        accelerator=None,
        lr_schedule=None,
        early_stopping=False,
        n_iter_no_change=10,
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
        self.validation_fraction = validation_fraction
        self.normalize = normalize
        self.augment = augment
        self.warm_start = warm_start
        self.accelerator = accelerator
        self.lr_schedule = lr_schedule
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
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
        return SimilarityMSE(self._setting("similarity"))

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
        return super().fit(pairs, y)

    def _training_data(self, pairs, y, reset):
        left, right, y = self._validate_pairs(pairs, _check_targets(y), reset=reset)
        y = np.asarray(y, dtype=np.float64)
        if reset:
            # A continued fit keeps the scale its network was trained on.
            self.y_min_, self.y_max_ = float(y.min()), float(y.max())
        scaled = ((y - self.y_min_) / (self.y_max_ - self.y_min_)).astype(np.float32)
        return self._pair_training(left, right, scaled, np.zeros(len(y)), labels=(0,))

    def _after_training(self, data):
        self._warn_if_constant(*data.inputs)

    def _warn_if_constant(self, left, right):
        """Warn when every training pair gets (nearly) the same prediction."""
        n = _COLLAPSE_PAIRS
        s = self._similarity(left[:n], right[:n])
        if len(s) > 1 and float(np.ptp(s)) < 1e-6:
            warn(
                f"SiamesePairRegressor: the network collapsed: its similarity is "
                f"{float(s[0]):.3g} for each of {len(s)} training pairs, so every "
                f"pair gets the same prediction. Likely causes: too high a "
                f"learning rate (lr={self._setting('lr')}); unscaled inputs (try "
                "StandardScaler).",
                ConvergenceWarning,
            )

    # -- predictions ---------------------------------------------------------
    def _similarity(self, left, right):
        za = torch.from_numpy(self._embed(left, "left")).double()
        zb = torch.from_numpy(self._embed(right, "right")).double()
        return similarity(za, zb, self._setting("similarity")).clamp(0, 1).numpy()

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
