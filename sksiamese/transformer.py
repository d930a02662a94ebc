"""SiameseTransformer: an embedding learned from class labels, as a transformer."""

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import (
    COLLAPSE_CHECK_ROWS,
    SiameseBase,
    Training,
    check_images,
    embed,
    encoder_recipe,
)
from ._callbacks import CosineSchedule, MiningDiagnostics, TransferScoring
from ._criteria import build_criterion, unused_loss_message, unused_loss_params
from ._finetune import (
    ENCODER_INITS,
    check_lr_prefixes,
    freeze,
    param_groups,
)
from ._net import TensorData
from ._validation import (
    check_label_types,
    check_samples,
    explained_input_errors,
    text_columns,
    validate_kwargs,
)
from ._warnings import warn
from .augment import RandomAffine, mirror_agreement
from .encoders import (
    CNNEncoder,
    MLPEncoder,
    NormalizedEncoder,
    _encoder_class,
    build_encoder,
    input_spec,
)
from .losses import ContrastiveLoss, TripletLoss

__all__ = ["SiameseTransformer"]

LOSSES = {"contrastive": ContrastiveLoss, "triplet": TripletLoss}

# The "auto" rules, written out in the class docstring. A budget counted in
# epochs starves small augmented image sets (20 epochs of 200 images are
# about 40 optimizer steps, while every epoch shows new distortions), so with
# augmentation max_epochs="auto" counts optimizer steps, with a floor in
# epochs for large sets. Without augmentation every epoch repeats the same
# rows, and longer training learns the training classes by heart: held-out
# classes were recognised worse after 1,000 steps than after 20 epochs.
AUTO_MIN_STEPS = 1000
AUTO_MIN_EPOCHS = 20
# batch_size="auto": this many rows, or a quarter of the training rows where
# that is fewer, so that every epoch has at least four different batches.
AUTO_BATCH_SIZE = 128
AUTO_MIN_BATCHES = 4
# The built-in MLP's recipe on flat rows: batches of 64 rows, embeddings on
# the unit sphere and a cosine schedule. Together they recognised held-out
# generated classes better at every size measured (200 to 10,000 training
# rows: +3 to +7 points of 20-way 1-shot accuracy), which none of the three
# did alone; on images (the CNN) batches of 128 unnormalised embeddings at a
# constant rate did as well on 200 images and better on 2,720.
AUTO_BATCH_SIZE_MLP = 64
# augment="auto" mirrors images left to right where mirror images are
# recognised (nearest neighbour in raw pixels) at least this well, as a
# fraction of the images themselves above chance: aligned faces keep their
# identity in a mirror, characters (about 0.3 on Omniglot) and digits (about
# 0.5) do not.
AUTO_MIRROR_AGREEMENT = 0.8
# normalize="auto" needs this many dimensions: on the unit circle a 2-D
# embedding (for a plot) keeps only one.
AUTO_NORMALIZE_MIN_WIDTH = 3
# margin="auto": on the unit sphere (distances in [0, 2]) and otherwise.
AUTO_MARGIN_NORMALIZED = 0.2
AUTO_MARGIN = 0.5
# augment="auto": random affine distortions of the built-in CNN's images
# below this many training images, where memorising the few images is the
# risk; larger sets bring their own variety.
AUTO_AUGMENT_MAX_IMAGES = 10_000


class SiameseTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                         SiameseBase):
    """Learn an embedding in which samples of one class are close, others far.

    ``fit`` trains a Siamese network from class labels: batches hold a few
    samples of each of several classes, and the loss forms pairs (contrastive)
    or triplets inside each batch, so nothing grows with the square of the data
    set. ``transform`` returns the embedding, for a nearest-neighbour
    classifier, one-shot classification of new classes, or verification.

    Training runs in a skorch ``NeuralNet`` (``net_``), so skorch callbacks,
    history and devices work as in skorch.

    Parameters
    ----------
    encoder : {"mlp", "cnn", "rnn"} or torch.nn.Module instance or class, \
            default="mlp"
        The embedding network. ``"mlp"`` is an :class:`~sksiamese.encoders.MLPEncoder`
        for flat rows. ``"cnn"`` is a :class:`~sksiamese.encoders.CNNEncoder`
        for images: ``X`` of shape ``(n_samples, height, width)`` or
        ``(n_samples, channels, height, width)``, or flat rows with
        ``input_shape=(channels, height, width)``. ``"rnn"`` is an
        :class:`~sksiamese.encoders.RNNEncoder` for sequences of token ids:
        ``X`` of shape ``(n_samples, sequence_length)`` holding ints from 0 (the
        padding, which does not change the embedding) up to, not including,
        ``encoder_params["vocab_size"]`` (10,000 by default);
        :class:`~sksiamese.TokenSequencer` makes such arrays from texts, with
        the same default bound. A module instance is copied, never changed,
        and re-initialised from ``random_state`` (or, with
        ``encoder_init="keep"``, keeps its weights to be fine-tuned); its
        output width is the embedding's, whatever ``n_components`` says (a
        warning says so where they differ). A module class is built with
        ``encoder_params`` and those of ``n_features``, ``n_components`` and
        ``input_shape`` that its constructor names, so that
        ``set_params(encoder_params=...)`` and grid searches reach its
        settings.
    encoder_params : dict, default=None
        Keyword arguments for the encoder, for example
        ``{"hidden_layer_sizes": (256, 128)}`` for ``"mlp"``.
    input_shape : tuple of int, default=None
        Shape of one sample. Flat rows of ``X`` are reshaped to it before they
        reach the encoder, so that image encoders work after other
        transformers in a ``Pipeline``. One entry may be -1, as in
        ``numpy.reshape``.
    n_components : int or "auto", default="auto"
        Width of the embedding. ``"auto"`` is the width an encoder instance
        declares (``embedding_width``: a
        :class:`~sksiamese.encoders.PretrainedTextEncoder`'s hidden size or
        projection) or measures when it is run, and 64 for the built-in
        encoders. The width used is ``n_components_``.
    loss : {"contrastive", "triplet"} or callable, default="triplet"
        ``"contrastive"`` is :class:`~sksiamese.losses.ContrastiveLoss`,
        ``"triplet"`` :class:`~sksiamese.losses.TripletLoss`, both built with
        ``margin``, ``distance`` and ``miner``. A ``torch.nn.Module`` instance
        or a function (a ``functools.partial``, a lambda) is called as
        ``loss(embeddings, labels)`` and must return a scalar tensor:
        pytorch-metric-learning losses fit, including those with parameters
        of their own (``ArcFaceLoss``, ``ProxyAnchorLoss``), which are trained
        with the encoder and saved by :func:`~sksiamese.persistence.save_model`.
        The loss is copied at each ``fit``, so the instance given is never
        changed. Such a loss brings its own margin and distance: a
        ``margin``, ``distance`` or miner name other than the default then
        warns that the loss does not use it.
    margin : float or "auto", default="auto"
        Margin of the built-in losses, on the scale of the distances: with
        ``normalize=True`` euclidean distances lie in [0, 2]. ``"auto"`` is
        0.2 for normalised embeddings (the usual margin on the unit sphere;
        on flat rows it recognised held-out classes as well as 0.3 and 0.5
        with many training classes and better with few: scikit-learn's
        digits trained on five, 54% against 49% 5-way, mean of three seeds)
        and 0.5 otherwise, where the distances have no fixed scale.
    miner : {"all", "hard", "semi-hard"} or callable, default="hard"
        Which in-batch pairs or triplets the built-in losses use. A miner
        object, such as pytorch-metric-learning's ``BatchHardMiner()``, is
        called as ``miner(embeddings, labels)`` and must return index tuples
        (``(anchors, positives, negatives)`` or ``(anchors, positives,
        anchors, negatives)``), which go to a brought loss as
        ``loss(embeddings, labels, indices_tuple)``; the built-in losses do
        not take indices, so a miner object needs a brought loss. It is
        copied at each ``fit``. The defaults (batch-hard triplets, euclidean
        distance, 64 dimensions; a 64-channel CNN with margin 0.5 and a
        512-unit MLP, normalised, annealed, margin 0.2) were chosen by their one-shot
        accuracy on classes held out of training, on three tasks (Omniglot,
        digits, generated classes): see ``benchmarks/TRANSFER_RESULTS.md``.
    distance : {"euclidean", "cosine"}, default="euclidean"
        Distance in the embedding space, for the loss and for users of the
        embedding (see ``OneShotClassifier``).
    optimizer : {"auto", "adam", "adamw", "sgd", "rmsprop"} or \
            torch.optim.Optimizer class, default="auto"
        ``"sgd"`` uses momentum 0.9. ``"auto"`` is the encoder's own recipe
        where it declares one (``training_defaults``: ``"adamw"`` for
        :class:`~sksiamese.encoders.PretrainedTextEncoder`), else
        ``"adam"``.
    lr : float or "auto", default="auto"
        Learning rate. ``"auto"`` is the encoder's own recipe where it
        declares one (2e-5 for ``PretrainedTextEncoder``: a pretrained
        network's weights are nudged, not relearned), else 1e-3.
    batch_size : int or "auto", default="auto"
        Rows per training batch (a batch may differ from it by less than
        ``samples_per_class``, as batches take whole same-class groups).
        ``"auto"`` is 64 rows for the built-in MLP and 128 for other
        encoders, or a quarter of the training rows where that is fewer
        (rounded up to whole groups of ``samples_per_class``, at least two
        groups): 52 rows for 200 training rows. An epoch then has at least
        four different batches; with the whole of a small set in every
        batch, every step would see the same hardest pairs. On flat rows the
        MLP recognised held-out classes better with 64 (with ``normalize``
        and ``lr_schedule``'s "auto", below); the CNN did better with 128 on
        2,720 images. An encoder with a recipe of its own gives its rows
        instead (16 for ``PretrainedTextEncoder``), in the same whole
        groups. The value used is ``batch_size_``.
    samples_per_class : int, default=4
        Rows of one class kept together in a batch, so each batch holds
        positive pairs.
    max_epochs : int or "auto", default="auto"
        Passes over the training data. ``"auto"``: with augmentation (see
        ``augment``), at least 1,000 optimizer steps and at least 20 epochs:
        20 epochs from about 6,400 rows up (in batches of 128), and more on
        smaller sets, for example 250 epochs of 200 images in batches of 52
        (four batches an epoch); 20 epochs of 200 images would be about 80
        steps, while every epoch shows new distortions. Without
        augmentation, 20 epochs: every epoch repeats the same rows, and on
        flat data sets of 200 to 2,000 rows, 1,000 steps recognised new
        classes no better, or worse, than 20 epochs. An encoder with a recipe
        of its own gives its epochs instead (1 for ``PretrainedTextEncoder``).
        The value used is ``n_epochs_``. ``0`` trains nothing and embeds with
        the encoder as given (zero-shot), which only a pretrained encoder allows
        (:class:`~sksiamese.encoders.PretrainedTextEncoder`, or a module
        instance with ``encoder_init="keep"``).
    device : str or torch.device, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... or ``"auto"`` (CUDA if
        available). ``transform`` always returns numpy on the host.
    callbacks : list of skorch callbacks, default=None
        Extra skorch callbacks (instances or ``(name, callback)`` tuples), for
        example ``skorch.callbacks.ProgressBar()`` or ``Checkpoint``. They are
        copied at each ``fit``; the ones used are in ``net_.callbacks_``.
    random_state : int, RandomState instance or None, default=None
        Seeds weights and batches. The same seed gives the same embedding.
        The global torch and numpy generators are left as they were.
    verbose : int, default=0
        0 is silent; 1 prints skorch's per-epoch table; 2 adds a progress bar.
    warm_start : bool, default=False
        If True, ``fit`` on a fitted transformer continues training from its
        weights (the samples must have the same shape) instead of starting
        anew. ``partial_fit`` always continues, one epoch at a time.
    accelerator : accelerate.Accelerator, default=None
        Train through Hugging Face accelerate (skorch's ``AccelerateMixin``),
        for mixed precision and for several GPUs or machines (see Notes). The
        accelerator places the network, so ``device`` is not used.
        ``transform`` runs the trained network where the accelerator put it.

    normalize : bool or "auto", default="auto"
        Project the embeddings onto the unit sphere
        (:class:`~sksiamese.encoders.NormalizedEncoder`). Euclidean distances
        then lie in [0, 2], so ``margin`` is on that scale (0.2 to 0.5 suit
        ``loss="triplet"``). ``"auto"`` is True for the built-in MLP
        (``encoder="mlp"``, its class or an instance) and False for every
        other encoder: with batches of 64 and the cosine schedule, normalised
        MLP embeddings recognised held-out generated classes 3 to 7 points
        better (20-way 1-shot) from 200 to 10,000 training rows, while on
        Omniglot images the CNN did as well or better unnormalised. What
        "auto" chose is in ``auto_choices_``.
    augment : {"auto", "affine"}, callable or None, default="auto"
        Random distortions of the training images, a new one for every
        sample of every batch, during ``fit`` only (never in ``transform``).
        ``"affine"`` is :class:`~sksiamese.augment.RandomAffine` with its
        defaults, drawn from a generator seeded by ``random_state``, for
        images of shape ``(height, width)`` or ``(channels, height, width)``;
        pass a ``RandomAffine(...)`` to change its ranges (``hflip=True`` for
        faces). Any other callable is called on each training batch (a tensor
        on the training device) and must return a tensor of the same shape,
        for example a ``torchvision.transforms.v2`` pipeline. ``"auto"`` is
        ``RandomAffine(hflip=..., padding_mode="border")`` for
        ``encoder="cnn"`` (or a :class:`~sksiamese.encoders.CNNEncoder`) on
        fewer than 10,000 training images, where the few images would
        otherwise be learned by heart, and None otherwise (flat rows,
        sequences, other encoders, larger sets). Its images are also
        mirrored left to right (``hflip=True``) where the data show that a
        mirror image keeps its class: where mirrored training images are
        recognised by their nearest other training image in raw pixels at
        least 0.8 as often as the images themselves, both counted above
        chance (:func:`~sksiamese.augment.mirror_agreement`, on up to 2,000
        images drawn with ``random_state``): aligned faces, but not
        characters (about 0.3 on Omniglot) or digits (about 0.5). Pixels
        that come in from outside the image repeat its edge
        (``padding_mode="border"``), which is the blank background of
        drawings and no black wedge in photographs. None trains on the
        images as they are. What was used is ``augment_``, and
        ``auto_choices_`` says why.
    lr_schedule : {"cosine", "auto"} or None, default="auto"
        ``"cosine"`` anneals the learning rate from ``lr`` to 0 over
        ``max_epochs``, as ``torch.optim.lr_scheduler.CosineAnnealingLR``
        stepped once per epoch; a continued fit (``warm_start``,
        ``partial_fit``) goes on where the schedule stopped, at 0 once it
        is over. None keeps ``lr`` throughout. ``"auto"`` is the cosine
        schedule over each ``fit`` (a warm start anneals anew from ``lr``
        over its own epochs) for the built-in MLP, and None for other
        encoders and in ``partial_fit``, which has no budget to anneal over.
        The value used is ``lr_schedule_``.
    validation_fraction : float, default=None
        Hold out this fraction of the **classes** (not of the rows: unseen
        classes are what a Siamese network is for), drawn with
        ``random_state``, and score them after every epoch: ``history_``
        records ``valid_loss`` (the loss on class-balanced batches of the
        held-out rows, the same batches every epoch),
        ``valid_precision_at_1`` and ``valid_one_shot_accuracy`` (N-way
        1-shot accuracy on 200 fixed episodes, N the smaller of 5 and the
        number of held-out classes). skorch callbacks that need a
        ``valid_loss`` (``EarlyStopping``, ``Checkpoint``,
        ``LRScheduler("ReduceLROnPlateau")``) then work, except with a loss
        that has parameters of its own learned for the training classes
        (pytorch-metric-learning's ``ArcFaceLoss``, ``ProxyAnchorLoss``: any
        loss parameter of more than one value): the held-out classes have no
        such parameters, so their loss would mean nothing, and ``valid_loss``
        is not recorded (a warning says so); monitor
        ``valid_precision_at_1`` instead, as ``early_stopping`` does. Needs
        at least 4 classes, 3 of them with two or more samples: 2 or more
        are held out, and 2 or more left to train on.
    early_stopping : bool, default=False
        Stop when ``valid_precision_at_1`` has not improved for
        ``n_iter_no_change`` epochs, and keep the weights of its best epoch
        (``best_epoch_``). Needs ``validation_fraction``.
    n_iter_no_change : int, default=10
        Epochs without improvement before ``early_stopping`` stops.
    encoder_init : {"reset", "keep"}, default="reset"
        For an ``encoder`` module instance: ``"reset"`` re-initialises the
        copy's weights from ``random_state``; ``"keep"`` keeps the instance's
        weights (a pretrained network, to fine-tune). ``"keep"`` needs an
        instance.
    freeze : tuple of str, default=None
        Parameter-name prefixes of the encoder (as its ``named_parameters()``
        names them) whose parameters are not trained, for example
        ``("backbone.",)``; ``("",)`` freezes them all (then a loss with
        parameters of its own must be left to train). Parameters of the
        instance given with ``requires_grad=False`` stay frozen too. Each
        prefix must start at least one name. Normalisation layers (BatchNorm)
        under a prefix, or whose parameters are all frozen, stay in eval mode
        while training: their running statistics do not move, so the frozen
        part's function is unchanged.
    lr_groups : dict of str to float, default=None
        Learning rates by parameter-name prefix of the encoder, for example
        ``{"backbone.": 1e-5}`` to fine-tune a pretrained backbone slowly
        while its head (and a loss's own parameters) train at ``lr``; the
        longest matching prefix wins. Passed to the optimizer as skorch's
        ``optimizer__param_groups``.

    Attributes
    ----------
    net_ : SiameseNet
        The trained skorch net; its module is ``net_.module_``.
    history_ : skorch.History
        Per-epoch and per-batch training records (``history_[:, "train_loss"]``).
        Besides the losses (and the held-out scores of
        ``validation_fraction``), each epoch records whether mining still
        finds work: ``train_pos_distance`` and ``train_neg_distance``, the
        mean in-batch distance of same-class and different-class pairs, and,
        for the built-in losses, ``train_active_fraction``: the fraction of
        in-batch triplets that violate the margin (``loss="triplet"``) or of
        different-class pairs inside it (``loss="contrastive"``). Plot them
        with ``TrainingCurveDisplay.from_estimator(est, keys=[...])``.
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in ``fit``.
    n_components_ : int
        Width of the embedding that ``transform`` returns.
    sample_shape_ : tuple of int
        Shape of one sample as the encoder sees it (after ``input_shape``).
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen in ``fit``, where ``X`` had string column names.
    n_epochs_ : int
        Epochs that ``fit`` trains for: ``max_epochs``, or what ``"auto"``
        chose for the training data.
    batch_size_ : int
        Rows per training batch: ``batch_size``, or what ``"auto"`` chose.
    augment_ : callable or None
        The augmentation used in training: ``augment``'s, or what
        ``"auto"`` chose.
    lr_schedule_ : {"cosine"} or None
        The learning-rate schedule of the last training: ``lr_schedule``,
        or what ``"auto"`` chose.
    auto_choices_ : dict of str to str
        For each parameter set to ``"auto"``, the value it took and why (for
        example ``{"max_epochs": "250: at least 1000 optimizer steps ..."}``).
    best_epoch_ : int or None
        With ``validation_fraction``, the epoch (from 1) whose held-out
        ``valid_precision_at_1`` was best; with ``early_stopping`` the
        weights are that epoch's. None without validation.

    See Also
    --------
    OneShotClassifier : classify new classes from a few examples in this embedding.
    SiamesePairClassifier : train and verify on explicit pairs.

    Notes
    -----
    Training that diverges (a NaN or infinite loss) stops with a
    ``ConvergenceWarning`` that says what to try, and keeps the weights of the
    last finished epoch, so ``transform`` never returns NaN. An interrupted
    ``fit`` (Ctrl-C) also leaves the weights of the last finished epoch. After
    ``fit``, a ``ConvergenceWarning`` reports embeddings that collapsed to one
    point.

    Pickling works (the module is saved through ``torch.save``); unpickling
    runs code, so load pickles only from trusted sources.
    :func:`sksiamese.persistence.save_model` and ``load_model`` save and load
    the weights and fitted metadata without pickle.

    With ``accelerator``, one fit runs over several GPUs; how the batches
    and the in-batch mining are shared between devices is in the scaling
    guide (:ref:`scaling`). How to train for classes never seen in training
    (held-out validation classes, early stopping, augmentation, normalised
    embeddings) is in the :ref:`user_guide`.

    Read more in the :ref:`User Guide <user_guide>`.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sksiamese import SiameseTransformer
    >>> X, y = load_digits(return_X_y=True)
    >>> emb = SiameseTransformer(n_components=2, max_epochs=2, random_state=0)
    >>> emb.fit_transform(X, y).shape
    (1797, 2)
    """

    # Until fit plans (a model loaded from a file trains again only through
    # fit), batch_size and max_epochs "auto" stand for these floors.
    _AUTO_SETTINGS = {**SiameseBase._AUTO_SETTINGS, "n_components": 64,
                      "batch_size": AUTO_BATCH_SIZE, "max_epochs": AUTO_MIN_EPOCHS}
    _HELD_OUT = "classes"

    _parameter_constraints = {
        **SiameseBase._parameter_constraints,
        "input_shape": [tuple, None],
        "loss": [StrOptions(set(LOSSES)), callable],
        "margin": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "miner": [StrOptions({"all", "hard", "semi-hard"}), callable],
        "batch_size": [Interval(Integral, 2, None, closed="left"),
                       StrOptions({"auto"})],
        "max_epochs": [Interval(Integral, 0, None, closed="left"),
                       StrOptions({"auto"})],
        "samples_per_class": [Interval(Integral, 2, None, closed="left")],
        "warm_start": ["boolean"],
        "accelerator": [HasMethods(["prepare", "backward", "autocast"]), None],
        "normalize": ["boolean", StrOptions({"auto"})],
        "augment": [StrOptions({"affine", "auto"}), callable, None],
        "lr_schedule": [StrOptions({"cosine", "auto"}), None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "early_stopping": ["boolean"],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "encoder_init": [StrOptions(set(ENCODER_INITS))],
        "freeze": [tuple, None],
        "lr_groups": [dict, None],
    }

    def __init__(
        self,
        encoder="mlp",
        *,
        encoder_params=None,
        input_shape=None,
        n_components="auto",
        loss="triplet",
        margin="auto",
        miner="hard",
        distance="euclidean",
        optimizer="auto",
        lr="auto",
        batch_size="auto",
        samples_per_class=4,
        max_epochs="auto",
        device="cpu",
        callbacks=None,
        random_state=None,
        verbose=0,
        warm_start=False,
        accelerator=None,
        normalize="auto",
        augment="auto",
        lr_schedule="auto",
        validation_fraction=None,
        early_stopping=False,
        n_iter_no_change=10,
        encoder_init="reset",
        freeze=None,
        lr_groups=None,
    ):
        self.encoder = encoder
        self.encoder_params = encoder_params
        self.input_shape = input_shape
        self.n_components = n_components
        self.loss = loss
        self.margin = margin
        self.miner = miner
        self.distance = distance
        self.optimizer = optimizer
        self.lr = lr
        self.batch_size = batch_size
        self.samples_per_class = samples_per_class
        self.max_epochs = max_epochs
        self.device = device
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.accelerator = accelerator
        self.normalize = normalize
        self.augment = augment
        self.lr_schedule = lr_schedule
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.encoder_init = encoder_init
        self.freeze = freeze
        self.lr_groups = lr_groups

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    _ARCHITECTURE = ("encoder", "encoder_params", "input_shape", "n_components",
                     "normalize", "freeze")
    _FITTED_ATTRIBUTES = ("classes_", "n_features_in_", "sample_shape_",
                          "n_components_")

    # -- input -------------------------------------------------------------
    def _validate_X(self, X, y="no_validation", reset=True):
        """Validated samples (and labels) and the tensor the encoder receives."""
        spec = input_spec(self.encoder)
        no_y = isinstance(y, str) and y == "no_validation"
        kwargs = {"reset": reset, **validate_kwargs(spec)}
        if spec.dtype == "text":
            X = text_columns(X)
        with explained_input_errors(type(self).__name__):
            if no_y:
                X = validate_data(self, X, **kwargs)
            else:
                X, y = validate_data(self, X, y, **kwargs)
        X, X_t = check_samples(X, self.encoder, input_shape=self.input_shape,
                               who=type(self).__name__, spec=spec)
        if not reset and X.shape[1:] != self.sample_shape_:
            raise ValueError(
                f"{type(self).__name__} was fitted on samples of shape "
                f"{self.sample_shape_}; got samples of shape {X.shape[1:]}."
            )
        return (X, X_t) if no_y else (X, X_t, y)

    def _build_module(self):
        shape = tuple(self.sample_shape_)
        module = build_encoder(
            self.encoder,
            n_features=math.prod(shape),
            n_components=self._setting("n_components"),
            input_shape=shape,
            encoder_params=self.encoder_params,
            reset=self.encoder_init == "reset",
        )
        freeze([module], self.freeze)
        module = NormalizedEncoder(module) if self._normalizes() else module
        check_lr_prefixes(module, self.lr_groups, self._towers())
        return module

    def _towers(self):
        """Where the module holds the encoder, as parameter-name prefixes."""
        return ("encoder.",) if self._normalizes() else ("",)

    def _normalizes(self):
        """Whether the embeddings are projected onto the unit sphere."""
        if self.normalize == "auto":
            # On the unit circle a 2-D embedding keeps one dimension.
            return (_is_mlp(self.encoder)
                    and self._setting("n_components") >= AUTO_NORMALIZE_MIN_WIDTH)
        return self.normalize

    def _lr_schedule(self):
        # A model loaded from a file has no plan until it trains again.
        schedule = vars(self).get("lr_schedule_", self.lr_schedule)
        if schedule == "cosine":
            # "auto" anneals over each fit; "cosine" over the first, a
            # continued fit going on where it stopped.
            return CosineSchedule(self._setting("lr"), self._epochs(),
                                  restart=self.lr_schedule == "auto")
        return None

    def _param_groups(self):
        return param_groups(self.lr_groups, self._towers())

    def _augment(self):
        # A model loaded from a file has no plan until it trains again.
        return vars(self).get("augment_", self._fixed_augment())

    def _fixed_augment(self):
        """``augment`` as a callable, with "auto" unresolved (None)."""
        if self.augment == "affine":
            return RandomAffine()
        return None if self.augment == "auto" else self.augment

    def _epochs(self):
        # What fit planned; before (a model loaded from a file), the
        # parameter as _setting resolves it.
        if "n_epochs_" in vars(self):
            return self.n_epochs_
        return super()._epochs()

    def _rows_per_batch(self):
        if "batch_size_" in vars(self):
            return self.batch_size_
        return super()._rows_per_batch()

    def _plan(self, X_t, y_t, partial=False, kept=None):
        """Resolve the ``"auto"`` settings for the training data; record them.

        ``X_t``, ``y_t``: the training tensors (after held-out classes);
        ``partial``: for ``partial_fit``; ``kept``: the earlier plan's
        choices that ``partial_fit`` keeps (``_auto_plan``), not planned
        anew. Sets ``batch_size_``, ``n_epochs_``, ``augment_``,
        ``lr_schedule_`` and ``auto_choices_`` (why each ``"auto"`` came out
        as it did).
        """
        kept = kept or {}
        n_rows = len(X_t)
        choices = {}
        k = self.samples_per_class
        batch = self.batch_size
        mlp = _is_mlp(self.encoder)
        recipe = encoder_recipe(self.encoder)
        owner = (self.encoder if isinstance(self.encoder, type)
                 else type(self.encoder)).__name__
        recipe_note = f" ({owner}'s training_defaults)"
        if batch == "auto":
            rows = AUTO_BATCH_SIZE_MLP if mlp else AUTO_BATCH_SIZE
            source = " (the built-in MLP)" if mlp else ""
            if "batch_size" in recipe:
                rows, source = recipe["batch_size"], recipe_note
            # Whole groups of samples_per_class rows, at least two of them.
            groups = max(2, min(rows // k,
                                math.ceil(n_rows / (AUTO_MIN_BATCHES * k))))
            batch = groups * k
            choices["batch_size"] = (
                f"{batch}: {groups} groups of samples_per_class={k} rows, "
                f"{rows} rows{source} or a "
                f"quarter of the {n_rows} training rows where that is fewer")
        augment = self._fixed_augment()
        images = len(self.sample_shape_) in (2, 3)
        if self.augment == "auto" and "augment" in kept:
            augment = kept["augment"][1]  # the mirror test need not run again
        elif self.augment == "auto":
            augment, why = None, None
            if not _is_cnn(self.encoder):
                why = ("not taken: only the built-in encoder='cnn' is known to "
                       "take images")
            elif not images:
                why = f"not taken: samples of shape {self.sample_shape_} are not images"
            elif n_rows >= AUTO_AUGMENT_MAX_IMAGES:
                why = (f"not taken: {n_rows} training images (at least "
                       f"{AUTO_AUGMENT_MAX_IMAGES})")
            else:
                agreement, plain, mirrored = mirror_agreement(
                    X_t.numpy(), y_t.numpy(), random_state=self.random_state)
                hflip = bool(agreement >= AUTO_MIRROR_AGREEMENT)
                augment = RandomAffine(hflip=hflip, padding_mode="border")
                why = (f"{augment!r}: {n_rows} training images (fewer than "
                       f"{AUTO_AUGMENT_MAX_IMAGES}); mirror images "
                       f"{'kept' if hflip else 'did not keep'} their class "
                       f"(nearest-neighbour accuracy {mirrored:.2f} mirrored, "
                       f"{plain:.2f} as they are: "
                       + ("chance level, so no flips" if math.isnan(agreement)
                          else f"{agreement:.2f} of it above chance") + ", "
                       f"flips {'from' if hflip else 'below'} "
                       f"{AUTO_MIRROR_AGREEMENT})")
            choices["augment"] = why
        else:
            check_images(self.augment, augment, [self.sample_shape_])
        epochs = self.max_epochs
        if epochs == "auto":
            steps = math.ceil(n_rows / batch)
            if "max_epochs" in recipe:
                epochs = recipe["max_epochs"]
                choices["max_epochs"] = f"{epochs}{recipe_note}"
            elif augment is None:
                epochs = AUTO_MIN_EPOCHS
                choices["max_epochs"] = (
                    f"{epochs}: {AUTO_MIN_EPOCHS} epochs, as training without "
                    "augmentation sees the same rows each epoch (about "
                    f"{steps} steps an epoch of {n_rows} rows in batches of "
                    f"{batch})")
            else:
                epochs = max(AUTO_MIN_EPOCHS, math.ceil(AUTO_MIN_STEPS / steps))
                choices["max_epochs"] = (
                    f"{epochs}: with augmentation, at least {AUTO_MIN_STEPS} "
                    f"optimizer steps (about {steps} per epoch of {n_rows} rows "
                    f"in batches of {batch}) and at least {AUTO_MIN_EPOCHS} "
                    "epochs")
        schedule = self.lr_schedule
        if schedule == "auto":
            schedule = None
            if partial:
                why = ("None: partial_fit trains one epoch at a time, with no "
                       "budget to anneal over, at lr")
            elif not mlp:
                why = "None: the cosine schedule is the built-in MLP's (lr throughout)"
            else:
                schedule = "cosine"
                why = (f"cosine: lr annealed to 0 over the {int(epochs)} epochs "
                       "of this fit (the built-in MLP)")
            choices["lr_schedule"] = why
        if self.margin == "auto":
            choices["margin"] = (
                f"{self._margin()}: " + ("the embeddings are normalised "
                "(distances in [0, 2])" if self._normalizes() else
                "the embeddings are not normalised"))
        if self.normalize == "auto":
            choices["normalize"] = (
                "True: the built-in MLP's embeddings lie on the unit sphere"
                if self._normalizes() else "False: only the built-in MLP's "
                f"embeddings of {AUTO_NORMALIZE_MIN_WIDTH} or more dimensions "
                "are normalised by default")
        self.batch_size_ = int(batch)
        self.n_epochs_ = int(epochs)
        self.augment_ = augment
        self.lr_schedule_ = schedule
        self.auto_choices_ = choices
        for name, (attribute, value, why) in kept.items():
            setattr(self, attribute, value)
            choices[name] = why

    def _auto_plan(self):
        """``{param: (attribute, value, why)}`` of the "auto" settings planned."""
        plan = {}
        for name, attribute in (("batch_size", "batch_size_"),
                                ("max_epochs", "n_epochs_"), ("augment", "augment_")):
            if getattr(self, name) == "auto" and name in self.auto_choices_:
                plan[name] = (attribute, getattr(self, attribute),
                              self.auto_choices_[name])
        return plan

    def _holdout_classes(self, codes, n_classes):
        """Class codes held out for validation (None: no validation)."""
        if self.validation_fraction is None:
            return None
        fraction = self.validation_fraction
        n_valid = max(1, round(fraction * n_classes))
        counts = np.bincount(codes, minlength=n_classes)
        eligible = np.flatnonzero(counts >= 2)
        needs = (f"validation_fraction={fraction} holds out classes of y to "
                 "score after each epoch, which needs at least 2 held-out classes "
                 "with 2 or more samples each and 2 classes left to train on")
        if n_classes < 4 or len(eligible) < 3:
            raise ValueError(
                f"{needs}, so at least 4 classes, 3 of them with 2 or more "
                f"samples; y has {n_classes} classes, {len(eligible)} of them "
                "with 2 or more samples. Set validation_fraction=None, or score "
                "held-out classes yourself after fit."
            )
        if n_valid < 2 or n_classes - n_valid < 2:
            low, high = 2 / n_classes, 1 - 2 / n_classes
            use = (f"validation_fraction={low:.2g}" if low >= high else
                   f"a validation_fraction between {low:.2g} and {high:.2g}")
            raise ValueError(
                f"{needs}; it holds out {n_valid} of the {n_classes} classes in "
                f"y. With {n_classes} classes, use {use}."
            )
        rng = check_random_state(self.random_state)
        # Held-out classes need a pair to score: drawn among those with two
        # or more samples, leaving one of those to train on (pairs of one
        # class are what training learns from).
        n_held = min(n_valid, len(eligible) - 1)
        return rng.choice(eligible, n_held, replace=False)

    def _build_criterion(self):
        return build_criterion(self.loss, self.miner, builtins=LOSSES,
                               margin=self._margin(), distance=self.distance)

    def _collapse_scale(self):
        return self._margin() if isinstance(self.loss, str) else 1.0

    def _margin(self):
        """The built-in losses' margin: ``margin``, or what "auto" means."""
        if self.margin == "auto":
            return AUTO_MARGIN_NORMALIZED if self._normalizes() else AUTO_MARGIN
        return self.margin

    # -- fit / transform ---------------------------------------------------
    def fit(self, X, y):
        """Train the embedding network on samples ``X`` with class labels ``y``.

        With ``warm_start=True`` and a fitted network, training continues from
        the current weights for ``max_epochs`` more epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples (or ``(n_samples, *input_shape)`` for encoders
            that take images or sequences).
        y : array-like of shape (n_samples,)
            Class labels (ints or strings). At least two classes, and at least
            one class with two samples; classes with one sample serve as
            negatives only.

        Returns
        -------
        self : SiameseTransformer
            The fitted transformer.
        """
        return super().fit(X, y)

    def partial_fit(self, X, y):
        """Train one more epoch on ``X``, ``y``, from the current weights.

        The first call on an unfitted transformer initialises the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : SiameseTransformer
            The transformer, trained one epoch more.
        """
        return self._fit(X, y, partial=True)

    # -- the base's hooks ----------------------------------------------------
    def _check_settings(self):
        k = self.samples_per_class
        if self.batch_size != "auto" and self.batch_size < k:
            raise ValueError(
                f"batch_size={self.batch_size} is below samples_per_class={k}: "
                f"batches take whole groups of samples_per_class rows of one "
                f"class, so every batch would hold {k} rows of a single class "
                f"and no pair of different classes. Pass batch_size >= {2 * k} "
                "(two groups or more), or lower samples_per_class."
            )
        unused = unused_loss_params(self)
        if unused:
            warn(unused_loss_message(self, unused), UserWarning)

    def _training_data(self, X, y, reset):
        X, X_t, y = self._validate_X(X, check_label_types(y), reset=reset)
        check_classification_targets(y)
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y to learn "
                f"what tells them apart; got 1 class ({classes[0]!r})."
            )
        if np.bincount(codes).max() < 2:
            raise ValueError(
                "Every class in y has a single sample, so there is no pair of "
                "the same class to learn from; give at least one class two or "
                "more samples."
            )
        if reset:
            self.sample_shape_ = tuple(X.shape[1:])
        held = self._holdout_classes(codes, len(classes))
        valid = None
        if held is not None:
            in_valid = np.isin(codes, held)
            _, valid_codes = np.unique(codes[in_valid], return_inverse=True)
            valid = TensorData(X_t[torch.from_numpy(in_valid)],
                               torch.from_numpy(valid_codes.astype(np.int64)),
                               balanced_eval_seed=0)
            X_t = X_t[torch.from_numpy(~in_valid)]
            _, codes = np.unique(codes[~in_valid], return_inverse=True)
        y_t = torch.from_numpy(codes.astype(np.int64))
        return Training(X_t, y_t, valid, info={"classes": classes})

    def _before_training(self, data, keep, partial):
        # fit plans for its data (a warm start with the current parameters);
        # partial_fit keeps what "auto" chose for the training it continues
        # (batch size, schedule), and takes values set by hand as they are.
        kept = (self._auto_plan() if partial and keep
                and "n_epochs_" in vars(self) else {})
        self._plan(data.inputs, data.targets, partial=partial, kept=kept)

    def _after_training(self, data):
        self.classes_ = data.info["classes"]
        sample = embed(self.net_.module_, data.inputs[:COLLAPSE_CHECK_ROWS],
                       self.net_.device)
        self._warn_if_collapsed(sample)

    def _samples_per_class(self):
        return self.samples_per_class

    def _embedding_distance(self):
        return self.distance

    def _monitor(self):
        return "valid_precision_at_1", False

    def _diagnostics(self):
        loss = self.loss if isinstance(self.loss, str) else None
        return MiningDiagnostics(loss, self._margin(), self.distance)

    def _valid_scoring(self, valid, seed):
        return "transfer_scoring", TransferScoring(valid, distance=self.distance,
                                                   seed=seed)

    @property
    def _n_features_out(self):
        return self.n_components_

    def transform(self, X):
        """Embed ``X`` with the trained network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples shaped like those given to ``fit``.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components_), dtype float32
            The embeddings.
        """
        check_is_fitted(self, "net_")
        _, X_t = self._validate_X(X, reset=False)
        return embed(self.net_.module_, X_t, self.net_.device)


def _is_mlp(encoder):
    """Whether ``encoder`` is the package's MLP (name, class or instance)."""
    return _is_a(encoder, MLPEncoder)


def _is_cnn(encoder):
    """Whether ``encoder`` is the package's image encoder (name, class or instance)."""
    return _is_a(encoder, CNNEncoder)


def _is_a(encoder, kind):
    cls = _encoder_class(encoder)
    return isinstance(cls, type) and issubclass(cls, kind)
