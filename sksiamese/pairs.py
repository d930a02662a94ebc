"""SiamesePairClassifier: train on explicit pairs and verify "same or different"."""

import copy
from numbers import Real

import numpy as np
from scipy.special import expit
from sklearn.base import ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import EpochScoring
from torch import nn

from . import _distances, _schema
from ._base import COLLAPSE_CHECK_ROWS, SiameseBase
from ._criteria import EmbeddingPairLoss
from ._finetune import check_lr_prefixes
from ._net import evaluating
from ._pair_base import (
    PAIR_ARCHITECTURE,
    PAIR_CONSTRAINTS,
    SIDES,
    PairBase,
    PairNetwork,
)
from ._validation import (
    check_label_types,
)
from .losses import PairContrastiveLoss
from .metrics import best_threshold, best_threshold_accuracy
from .transformer import SiameseTransformer

__all__ = ["SiamesePairClassifier"]


class _HeldOutAccuracy:
    """Accuracy on the held-out pairs after an epoch, for skorch's EpochScoring.

    For the contrastive loss, at the best threshold on those pairs (the one
    ``fit`` would calibrate by accuracy); for ``loss="bce"``, at logit 0.
    """

    def __init__(self, distance, bce):
        self.distance = distance
        self.bce = bce

    def __call__(self, net, X, y=None):
        # skorch hands over the held-out TensorData's X (both sides) and y
        # (the labels, as numpy).
        X, y = (X.X, X.y) if y is None else (X, y)
        with evaluating(net.module_):
            left, right = (x.to(net.batch_device) for x in X)
            out = net.module_(left, right)
        same = np.asarray(y.numpy() if hasattr(y, "numpy") else y).astype(bool)
        if self.bce:
            return float(np.mean((out.cpu().numpy() > 0) == same))
        za, zb = (z.double().cpu().numpy() for z in out)
        if same.all() or not same.any():
            return float("nan")
        return best_threshold_accuracy(
            same.astype(int), _distances.rowwise(za, zb, self.distance))[0]


class SiamesePairClassifier(ClassifierMixin, PairBase):
    """Verify pairs: are the two inputs of a pair of the same kind?

    ``fit`` trains a Siamese network on explicit pairs labelled "same" or
    "different": with the contrastive loss on the distance between the two
    embeddings (Hadsell, Chopra and LeCun 2006), or with the learned weighted
    L1 distance, a sigmoid and binary cross-entropy of Koch, Zemel and
    Salakhutdinov (2015). A decision threshold ``threshold_`` is then
    calibrated on pairs held out from training.

    The two sides of a pair go through one network (shared weights) or through
    two: of the same architecture with distinct weights
    (``share_weights=False``), or of different architectures
    (``right_encoder``), for two kinds of input such as photographs against
    maps. Training runs in a skorch ``NeuralNet`` (``net_``).

    Parameters
    ----------
    encoder : {"mlp"} or torch.nn.Module instance or class, default="mlp"
        The embedding network of the left side (and of the right side unless
        ``right_encoder`` is given), as in :class:`SiameseTransformer`.
    encoder_params : dict, default=None
        Keyword arguments for ``encoder``.
    input_shape : tuple of int, default=None
        Shape of one left sample: each left sample is reshaped to it before
        it reaches the encoder (one entry may be -1, as in ``numpy.reshape``).
        Use it for image encoders on flat 2-D pairs, or ``(-1,)`` to flatten
        images for ``"mlp"``.
    right_encoder : {"mlp"} or torch.nn.Module instance or class, default=None
        The right side's network, for a right side of another kind than the
        left. Needs ``share_weights=False``. None uses ``encoder``.
    right_encoder_params : dict, default=None
        Keyword arguments for the right encoder. None uses ``encoder_params``
        where ``right_encoder`` is None, and none otherwise.
    right_input_shape : tuple of int, default=None
        Shape of one right sample; None uses ``input_shape``.
    share_weights : bool, default=True
        One network for both sides. With False, the right side has a tower of
        its own (same architecture unless ``right_encoder`` is given), and the
        two sides may differ in shape.
    split : int, default=None
        For 2-D ``pairs`` only: the number of leading columns that hold the
        left sample; the other columns hold the right sample. None splits the
        columns in half (the left side gets the smaller half when their number
        is odd).
    n_components : int or "auto", default="auto"
        Width of the embedding. ``"auto"`` is the width an encoder instance
        declares (``embedding_width``: a
        :class:`~sksiamese.encoders.PretrainedTextEncoder`'s hidden size or
        projection) or measures when it is run, and 16 for the built-in
        encoders. The width used is ``n_components_``.
    loss : {"contrastive", "bce"}, default="contrastive"
        ``"contrastive"``: :class:`~sksiamese.losses.PairContrastiveLoss` with
        ``margin`` and ``distance``; the similarity score is minus the
        distance. ``"bce"``: Koch et al.'s learned weighted L1 distance
        ``w . |a - b| + c`` turned into a probability of "same" by a sigmoid
        and trained with binary cross-entropy; the similarity score is the
        logit, and ``margin`` and ``distance`` are not used. Losses called
        with class labels (pytorch-metric-learning's) are refused: pairs
        carry "same" or "different", not classes; train
        :class:`SiameseTransformer` with them instead.
    margin : float, default=1.0
        Margin of the contrastive loss.
    distance : {"euclidean", "cosine"}, default="euclidean"
        Distance between embeddings, for the contrastive loss.
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
    validation_fraction : float, default=0.1
        Fraction of the pairs held out from training (stratified by label) to
        calibrate ``threshold_`` on. With 0, or where a label has fewer than
        two pairs, the threshold is calibrated on the training pairs.
    threshold_strategy : {"accuracy", "f1", "eer"} or float, default="accuracy"
        How ``threshold_`` is chosen on the calibration pairs, by
        :func:`sksiamese.metrics.best_threshold` (whose tie rule applies): the
        best accuracy, the best F1 score of "same", the equal error rate
        (false accepts as frequent as false rejects), or, given a float in
        (0, 1), the most accepting threshold whose false-accept rate (the
        fraction of "different" pairs predicted "same") is at most that
        target.
    pos_label : int, bool or str, default=None
        The label of ``y`` that means "same". None takes 1 (or True) where
        the labels are 0/1, -1/1 or booleans; any other labels need it.
    device : str or torch.device, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... or ``"auto"`` (CUDA if
        available). Results always come back as numpy on the host.
    callbacks : list of skorch callbacks, default=None
        Extra skorch callbacks, copied at each ``fit``.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the batches and the held-out pairs. The global
        torch and numpy generators are left as they were.
    verbose : int, default=0
        0 is silent; 1 prints skorch's per-epoch table; 2 adds a progress bar.
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
        For encoder module instances: re-initialise their copies from
        ``random_state``, or keep their weights to fine-tune them, as in
        :class:`SiameseTransformer`.
    freeze : tuple of str, default=None
        Parameter-name prefixes of the encoders (as their
        ``named_parameters()`` name them) whose parameters are not trained,
        in every tower; parameters given with ``requires_grad=False`` stay
        frozen too. Each prefix must start a name in at least one tower.
        Normalisation layers (BatchNorm) under a prefix, or whose parameters
        are all frozen, stay in eval mode while training: their running
        statistics do not move, so the frozen part's function is unchanged.
    lr_groups : dict of str to float, default=None
        Learning rates by parameter-name prefix of the encoders, in every
        tower (skorch's ``optimizer__param_groups``); the other parameters,
        ``loss="bce"``'s head among them, train at ``lr``.

    Attributes
    ----------
    net_ : SiameseNet
        The trained skorch net; its module ``net_.module_`` has the towers
        ``left`` and ``right`` (None where weights are shared) and, for
        ``loss="bce"``, the ``head``.
    history_ : skorch.History
        Per-epoch and per-batch training records.
    best_epoch_ : int or None
        The epoch with the lowest held-out loss (``valid_loss``), where pairs
        were held out (``validation_fraction``); None otherwise.
    classes_ : ndarray of shape (2,)
        The two labels of ``y``, sorted.
    pos_label_ : int, bool or str
        The label that means "same": ``pos_label``, or 1 (True) by default.
    threshold_ : float
        Pairs whose similarity score exceeds it are predicted "same".
    threshold_rates_ : dict
        What ``threshold_`` achieves on the calibration pairs: ``"accuracy"``,
        ``"f1"``, ``"far"`` (false-accept rate), ``"tar"`` and ``"frr"``.
    proba_slope_ : float
        Slope of the logistic map from ``decision_function`` to the
        probability of "same" (Platt scaling through the threshold),
        calibrated with ``threshold_``.
    n_components_ : int
        Width of the embeddings.
    pair_shape_ : tuple of int
        Shape of one row of ``pairs`` seen in ``fit``.
    sample_shapes_ : tuple of two tuples of int
        Shapes of one left and one right sample as the encoders see them.
    n_features_in_ : int
        ``pairs.shape[1]`` seen in ``fit``: the number of columns of 2-D
        pairs, 2 for ``(n_pairs, 2, ...)`` arrays.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen in ``fit``, where ``pairs`` had string column names.

    See Also
    --------
    SiameseTransformer : learn an embedding from class labels instead of pairs.

    Notes
    -----
    **How pairs are passed.** Where both sides have the same shape, ``pairs``
    is an array of shape ``(n_pairs, 2, *sample_shape)``: ``pairs[:, 0]`` are
    the left samples, ``pairs[:, 1]`` the right ones. Where the sides differ
    in shape (two kinds of input), or to pass pairs through other
    scikit-learn tools, ``pairs`` is a 2-D array of the left sample's values
    followed by the right sample's, ``np.hstack([left.reshape(n, -1),
    right.reshape(n, -1)])``, with ``split`` the left sample's number of
    values and ``input_shape`` and ``right_input_shape`` giving each side its
    shape back. Either way one row is one pair, so cross-validation splits
    pairs like samples. Both sides share one array and so one dtype; a side
    whose encoder takes token ids must hold whole numbers.

    **Labels.** ``y`` is 1 for "same" and 0 for "different"; -1 for
    "different" and booleans (True for "same") work too, and ``predict``
    returns labels of the kind given. Any other two labels (strings such as
    ``"match"`` and ``"mismatch"``, or 1 and 2) need ``pos_label``, the label
    that means "same", as in scikit-learn's metrics; without it they are an
    error rather than a guess. Any other number of labels than two is an
    error.

    **Scores.** ``decision_function`` returns the similarity score minus
    ``threshold_``: higher is more similar, and positive is predicted
    "same" (as in scikit-learn's binary classifiers, the score is that of
    ``classes_[1]``, so its sign flips where ``pos_label`` is
    ``classes_[0]``). ``predict_proba`` is the logistic of ``proba_slope_``
    times the similarity margin, in the columns of ``classes_``.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese import SiamesePairClassifier
    >>> rng = np.random.default_rng(0)
    >>> left = rng.normal(size=(400, 4))
    >>> same = rng.integers(0, 2, size=400)
    >>> right = np.where(same[:, None] == 1, left, rng.normal(size=(400, 4)))
    >>> pairs = np.stack([left, right + 0.1 * rng.normal(size=(400, 4))], axis=1)
    >>> pairs.shape
    (400, 2, 4)
    >>> clf = SiamesePairClassifier(max_epochs=5, random_state=0)
    >>> clf.fit(pairs[:300], same[:300]).score(pairs[300:], same[300:]) > 0.9
    True
    >>> clf.predict_proba(pairs[:2]).shape
    (2, 2)
    """

    _parameter_constraints = {
        **SiameseBase._parameter_constraints,
        **PAIR_CONSTRAINTS,
        "margin": [Interval(Real, 0, None, closed="neither")],
        "distance": [StrOptions({"euclidean", "cosine"})],
        "loss": [StrOptions({"contrastive", "bce"}), callable],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "threshold_strategy": [
            StrOptions({"accuracy", "f1", "eer"}),
            Interval(Real, 0, 1, closed="neither"),
        ],
        "pos_label": [Real, str, "boolean", None],
    }

    _ARCHITECTURE = (*PAIR_ARCHITECTURE, "loss")
    _FITTED_ATTRIBUTES = ("classes_", "n_features_in_", "pair_shape_",
                          "sample_shapes_", "n_components_", "threshold_",
                          "proba_slope_", "pos_label_")
    _PERSISTED_ATTRIBUTES = _schema.attributes(_FITTED_ATTRIBUTES,
                                               classes_=_schema.TWO_LABELS)

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
        loss="contrastive",
        margin=1.0,
        distance="euclidean",
        optimizer="auto",
        lr="auto",
        batch_size="auto",
        max_epochs="auto",
        validation_fraction=0.1,
        threshold_strategy="accuracy",
        pos_label=None,
        device="cpu",
        callbacks=None,
        random_state=None,
        verbose=0,
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
        self.loss = loss
        self.margin = margin
        self.distance = distance
        self.optimizer = optimizer
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.validation_fraction = validation_fraction
        self.threshold_strategy = threshold_strategy
        self.pos_label = pos_label
        self.device = device
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose
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
        tags.classifier_tags.multi_class = False
        # scikit-learn's checks feed samples with class labels, not pairs: the
        # halves of a row are not two things that may be "the same".
        tags.classifier_tags.poor_score = True
        return tags

    # -- labels and structure ------------------------------------------------
    def _encode_labels(self, y):
        """``classes_`` and 1.0 for "same", 0.0 for "different", per pair.

        As in scikit-learn's ``pos_label`` convention, 0/1, -1/1 and booleans
        need nothing (1 and True are "same"); any other two labels need
        ``pos_label``, the label that means "same".
        """
        y_type = type_of_target(y, input_name="y")
        if y_type in ("continuous", "continuous-multioutput"):
            raise ValueError(
                "Unknown label type: continuous. y holds continuous values "
                f"(such as {y.ravel()[0]!r}), but "
                f"{type(self).__name__} takes labels, 1 for 'same' and 0 for "
                "'different'. For graded similarity scores (relatedness from 1 "
                "to 5, say) use SiamesePairRegressor, or cut the scores into "
                "two labels."
            )
        check_classification_targets(y)
        classes = np.unique(y)
        if y_type != "binary" or len(classes) != 2:
            raise ValueError(
                "Only binary classification is supported: y must hold two "
                "labels, 1 for 'same' pairs and 0 (or -1) for 'different' ones; "
                f"got {len(classes)} class(es): {classes[:10].tolist()}."
            )
        if self.pos_label is not None:
            if not np.isin(self.pos_label, classes).all():
                raise ValueError(
                    f"pos_label={self.pos_label!r} is not one of the labels in "
                    f"y, {classes.tolist()}; pass the label that means 'same'."
                )
            positive = self.pos_label
        elif classes.dtype.kind in "biuf" and set(classes.tolist()) in (
                {0, 1}, {-1, 1}):
            positive = classes[1]
        else:
            raise ValueError(
                f"y holds the labels {classes.tolist()}, which do not say which "
                "one means 'same'; pass pos_label (for example "
                f"pos_label={classes[1].item()!r}), or use 1 for 'same' and 0 "
                "(or -1) for 'different', or booleans."
            )
        self.pos_label_ = positive
        return classes, (y == positive).astype(np.float32)

    # -- fit -----------------------------------------------------------------
    def _check_loss(self):
        if not isinstance(self.loss, str):
            raise ValueError(
                f"{type(self).__name__} takes loss='contrastive' or 'bce'; got "
                f"loss={type(self.loss).__name__}. Losses such as "
                "pytorch-metric-learning's are called as loss(embeddings, "
                "labels) with class labels, and form their own pairs inside a "
                "batch; explicit pairs carry only 'same' or 'different', not the "
                "classes such a loss needs. Train SiameseTransformer on class "
                "labels with this loss (its embedding verifies pairs too), or "
                "use one of the pair losses here."
            )

    def _collapse_scale(self):
        return self.margin

    def _embedding_distance(self):
        return self.distance

    def _valid_scoring(self, valid, seed):
        return "valid_accuracy", EpochScoring(
            _HeldOutAccuracy(self.distance, self.loss == "bce"),
            lower_is_better=False, name="valid_accuracy", use_caching=False)

    def _build_module(self):
        head = (nn.Linear(self._setting("n_components"), 1) if self.loss == "bce"
                else None)
        module = PairNetwork(*self._build_towers(), head)
        check_lr_prefixes(module, self.lr_groups, self._towers())
        return module


    def _build_criterion(self):
        if self.loss == "bce":
            return nn.BCEWithLogitsLoss()
        return EmbeddingPairLoss(
            PairContrastiveLoss(margin=self.margin, distance=self.distance))

    def fit(self, pairs, y):
        """Train the network on labelled pairs, then calibrate the threshold.

        Parameters
        ----------
        pairs : array-like of shape (n_pairs, 2, ...) or (n_pairs, n_features)
            The pairs: left and right samples on the second axis, or 2-D rows
            of left values followed by right values (see ``split`` and the
            Notes).
        y : array-like of shape (n_pairs,)
            1 (or True) for "same", 0 (or -1, or False) for "different".

        Returns
        -------
        self : SiamesePairClassifier
            The fitted classifier.
        """
        return super().fit(pairs, y)

    def _check_settings(self):
        self._check_loss()
        super()._check_settings()

    def _training_data(self, pairs, y, reset):
        left, right, y = self._validate_pairs(pairs, check_label_types(y),
                                              reset=reset)
        classes, same = self._encode_labels(y)
        if not reset and not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"warm_start continues a classifier fitted on the labels "
                f"{self.classes_.tolist()}; y holds {classes.tolist()}. Set "
                "warm_start=False to train a new one."
            )
        self.classes_ = classes
        return self._pair_training(
            left, right, same, same, labels=(0, 1),
            info={"left": left, "right": right, "same": same})

    def _learn_width(self, module, data):
        super()._learn_width(module, data)
        if self.loss == "bce" and self.n_components_ != self._setting("n_components"):
            raise ValueError(
                f"loss='bce' weighs n_components={self._setting('n_components')} "
                f"embedding dimensions, but the encoders embed into "
                f"{self.n_components_}."
            )

    def _after_training(self, data):
        left, right, same, held = (data.info[k] for k in ("left", "right", "same",
                                                          "held"))
        if self.loss == "contrastive":
            self._warn_if_collapsed(
                self._embed(data.inputs[0][:COLLAPSE_CHECK_ROWS], "left"))
        cal = slice(None) if held is None else held
        self._calibrate(self._similarity(left[cal], right[cal]), same[cal])

    def _calibrate(self, scores, same):
        if len(np.unique(same)) < 2:
            raise ValueError(
                "Calibrating the threshold needs both 'same' and 'different' "
                "pairs; the calibration pairs hold only one kind."
            )
        # The one threshold sweep, on distances (minus the similarity): it
        # accepts distance <= t, that is score >= -t, while predictions accept
        # score > threshold_; a threshold on a score moves just below it.
        t, self.threshold_rates_ = best_threshold(
            same.astype(int), -scores, criterion=self.threshold_strategy)
        threshold = -t
        if np.any(scores == threshold):
            threshold = float(np.nextafter(threshold, -np.inf))
        self.threshold_ = float(threshold)
        margin = (scores - self.threshold_).reshape(-1, 1)
        platt = LogisticRegression(fit_intercept=False).fit(margin, same)
        # A model worse than chance on these pairs gets flat probabilities
        # rather than ones that contradict its own predictions.
        self.proba_slope_ = float(max(platt.coef_[0, 0], 1e-6))


    def calibrate_threshold(self, pairs, y):
        """Calibrate ``threshold_`` and ``proba_slope_`` again on other pairs.

        The network is not retrained. Use it to move the operating point to
        another data set or another ``threshold_strategy`` (set it first with
        ``set_params``).

        Parameters
        ----------
        pairs : array-like of shape (n_pairs, 2, ...) or (n_pairs, n_features)
            Pairs shaped like those given to ``fit``.
        y : array-like of shape (n_pairs,)
            Their labels, of the kind given to ``fit``; both kinds needed.

        Returns
        -------
        self : SiamesePairClassifier
            The classifier with its threshold recalibrated.
        """
        check_is_fitted(self, "net_")
        self._validate_params()
        left, right, y = self._validate_pairs(pairs, check_label_types(y),
                                              reset=False)
        check_classification_targets(y)
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if len(unknown):
            raise ValueError(
                f"y holds labels {unknown.tolist()} not seen in fit; the labels "
                f"are {self.classes_.tolist()}."
            )
        self._calibrate(self._similarity(left, right),
                        (y == self.pos_label_).astype(np.float32))
        return self
    # -- scores --------------------------------------------------------------

    def _similarity(self, left, right):
        za = self._embed(left, "left").astype(np.float64)
        zb = self._embed(right, "right").astype(np.float64)
        head = self.net_.module_.head
        if head is not None:
            w = head.weight.detach().cpu().double().numpy()[0]
            b = float(head.bias.detach().cpu()[0])
            return np.abs(za - zb) @ w + b
        return -_distances.rowwise(za, zb, self.distance)

    def decision_function(self, pairs):
        """Similarity of each pair, minus ``threshold_``.

        Parameters
        ----------
        pairs : array-like of shape (n_pairs, 2, ...) or (n_pairs, n_features)
            Pairs shaped like those given to ``fit``.

        Returns
        -------
        scores : ndarray of shape (n_pairs,)
            Higher is more similar; positive scores are predicted "same". For
            ``loss="contrastive"`` the similarity is minus the distance
            between the embeddings, for ``loss="bce"`` the logit of "same".
        """
        check_is_fitted(self, "net_")
        left, right = self._validate_pairs(pairs, reset=False)
        return self._sign() * (self._similarity(left, right) - self.threshold_)

    def predict(self, pairs):
        """Predict whether the two sides of each pair are the same.

        Parameters
        ----------
        pairs : array-like of shape (n_pairs, 2, ...) or (n_pairs, n_features)
            Pairs shaped like those given to ``fit``.

        Returns
        -------
        y_pred : ndarray of shape (n_pairs,)
            ``pos_label_`` (1, or True) for "same", the other label for
            "different".
        """
        check_is_fitted(self, "net_")
        return self.classes_[(self.decision_function(pairs) > 0).astype(int)]

    def _sign(self):
        """+1 where ``classes_[1]`` means "same", -1 where ``classes_[0]`` does."""
        # Models loaded from files older than pos_label mean classes_[1].
        same = getattr(self, "pos_label_", self.classes_[1])
        return 1.0 if self.classes_[1] == same else -1.0

    def predict_proba(self, pairs):
        """Probabilities of "different" and "same" for each pair.

        Parameters
        ----------
        pairs : array-like of shape (n_pairs, 2, ...) or (n_pairs, n_features)
            Pairs shaped like those given to ``fit``.

        Returns
        -------
        proba : ndarray of shape (n_pairs, 2)
            Columns in the order of ``classes_``; each row sums to 1, and the
            larger one is the prediction of ``predict``.
        """
        check_is_fitted(self, "net_")
        second = expit(self.proba_slope_ * self.decision_function(pairs))
        return np.column_stack([1 - second, second])

    # -- embeddings ----------------------------------------------------------
    def get_transformer(self, side="left"):
        """The trained embedding of one side as a fitted ``SiameseTransformer``.

        The transformer holds a copy of the side's network, so it can go into
        a ``Pipeline`` or a ``OneShotClassifier`` without this classifier.
        Its ``transform`` takes samples shaped like that side of the pairs and
        equals ``transform_left`` (or ``transform_right``). Fitting it again
        trains from scratch on class labels.

        Parameters
        ----------
        side : {"left", "right"}, default="left"
            Which side's network.

        Returns
        -------
        transformer : SiameseTransformer
            Fitted: ``net_``, ``history_`` (this classifier's training),
            ``n_components_``, ``n_features_in_``, ``sample_shape_`` and
            ``classes_`` (the pair labels) are set.

        Examples
        --------
        >>> import numpy as np
        >>> from sksiamese import SiamesePairClassifier
        >>> rng = np.random.default_rng(0)
        >>> pairs, y = rng.normal(size=(40, 2, 3)), np.tile([0, 1], 20)
        >>> clf = SiamesePairClassifier(n_components=2, max_epochs=1,
        ...                             random_state=0).fit(pairs, y)
        >>> emb = clf.get_transformer()
        >>> emb.transform(pairs[:5, 0]).shape
        (5, 2)
        >>> left = pairs[:, 0]
        >>> bool(np.allclose(emb.transform(left), clf.transform_left(left)))
        True
        """
        check_is_fitted(self, "net_")
        if side not in SIDES:
            raise ValueError(f"side must be 'left' or 'right'; got {side!r}.")
        encoder, params, shape = self._side_spec(side)
        transformer = SiameseTransformer(
            encoder,
            encoder_params=params,
            input_shape=shape,
            n_components=self.n_components_,
            margin=self.margin,
            distance=self.distance,
            optimizer=self.optimizer,
            lr=self.lr,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            device=self.device,
            callbacks=self.callbacks,
            random_state=self.random_state,
            verbose=self.verbose,
            # The tower as trained.
            normalize=self.normalize,
            lr_schedule=None,
        )
        raw = self._raw_side_shape(side)
        transformer.n_features_in_ = raw[0]
        names = getattr(self, "feature_names_in_", None)
        if names is not None and len(self.pair_shape_) == 1:
            split = len(names) - raw[0] if side == "right" else raw[0]
            transformer.feature_names_in_ = (names[:split] if side == "left"
                                             else names[split:])
        transformer.sample_shape_ = self.sample_shapes_[SIDES.index(side)]
        transformer.classes_ = self.classes_
        transformer.n_components_ = self.n_components_
        net = transformer._initialize_net()
        net.module_.load_state_dict(self.net_.module_.tower(side).state_dict())
        net.history = copy.deepcopy(self.history_)
        transformer.net_ = net
        transformer.history_ = net.history
        return transformer
