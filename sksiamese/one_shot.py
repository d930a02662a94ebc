"""OneShotClassifier: recognise new classes from a few examples in an embedding."""

import functools
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _num_samples,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from . import _schema
from ._ann import EstimatorIndex, FaissIndex
from ._distances import (
    DISTANCES,
    block_rows,
    check_criterion,
    kneighbors,
    nearest_sorted,
    normalize_rows,
    pairwise,
    rowwise,
    threshold_sweep,
)
from ._embedding import (
    class_distances,
    embed,
    final_step,
    flat_features,
    per_class_min,
    prototypes,
    resolve_distance,
)
from ._validation import check_label_types, explained_input_errors
from .metrics import equal_error_rate

__all__ = ["OneShotClassifier"]


def _label_kind(labels):
    return "strings" if np.asarray(labels).dtype.kind in "USO" else "numbers"


def _unchanged_on_error(method):
    """Make ``method`` leave the classifier exactly as it was if it raises.

    ``fit`` sets the embedding, the distance and ``n_features_in_`` before
    the steps that can still fail (a missing faiss, an overflowing support
    set); a half-updated classifier would answer with a new embedding over
    an old gallery, or refuse its own data.
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        before = dict(vars(self))
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            vars(self).clear()
            vars(self).update(before)
            raise

    return wrapper


def _fits_gallery(E, fitted, est):
    """Whether ``E`` is a gallery that the saved embedding (or raw features) makes."""
    transformer = fitted["transformer_"]
    if transformer is None:
        # Raw features, flattened: whole samples of n_features_in_ columns.
        width = fitted.get("n_features_in_")
        fits = width is None or E.shape[1] % width == 0
    else:
        fits = E.shape[1] == getattr(final_step(transformer), "n_components_",
                                     E.shape[1])
    with np.errstate(over="ignore", invalid="ignore"):
        squares = np.einsum("ij,ij->i", E.astype(np.float64), E.astype(np.float64))
    return (_schema.is_matrix(E) and len(E) >= 1 and fits
            and np.isfinite(squares).all()
            and (est.rule != "knn" or est.n_neighbors <= len(E)))


def _fits_codes(codes, fitted, est):
    return (isinstance(codes, np.ndarray) and codes.dtype.kind == "i"
            and codes.shape == fitted["support_labels_"].shape
            and codes.min() >= 0 and codes.max() < len(fitted["classes_"])
            and np.array_equal(fitted["classes_"][codes], fitted["support_labels_"]))


# What save_model keeps of a fitted OneShotClassifier, in the order it is
# checked (each check sees the attributes before it): the embedding, the
# gallery and what is derived from it (checked against it), the threshold.
_PERSISTED = {
    "n_features_in_": _schema.CATALOGUE["n_features_in_"]._replace(optional=True),
    "feature_names_in_": _schema.OPTIONAL["feature_names_in_"],
    "transformer_": _schema.Attribute(
        "None, or a fitted SiameseTransformer (possibly in a FrozenEstimator)",
        lambda v, fitted, est: v is None or hasattr(v, "transform"),
        stored="model"),
    "distance_": _schema.Attribute(f"one of {DISTANCES}",
                                   lambda v, fitted, est: v in DISTANCES),
    "support_embeddings_": _schema.Attribute(
        "a 2-D array of finite floats, a row per support sample and a column "
        "per dimension of the embedding (at least n_neighbors rows for "
        "rule='knn')", _fits_gallery, stored="array"),
    "support_labels_": _schema.Attribute(
        "a 1-D array of labels, numbers or strings, one per support sample",
        lambda v, fitted, est: (_schema.is_label_array(v)
                                and len(v) == len(fitted["support_embeddings_"]))),
    "classes_": _schema.Attribute(
        "the distinct support_labels_, sorted",
        lambda v, fitted, est: (v.dtype == fitted["support_labels_"].dtype
                                and np.array_equal(
                                    v, np.unique(fitted["support_labels_"])))),
    "_support_codes": _schema.Attribute(
        "the index in classes_ of each of support_labels_", _fits_codes,
        stored="array"),
    "prototypes_": _schema.Attribute(
        "the mean support embedding of each class",
        lambda v, fitted, est: np.array_equal(v, prototypes(
            fitted["support_embeddings_"], fitted["_support_codes"],
            len(fitted["classes_"]), fitted["distance_"])),
        stored="array"),
    "threshold_": _schema.Attribute(
        "None or a float >= 0",
        lambda v, fitted, est: v is None or (isinstance(v, float) and v >= 0)),
    "threshold_criterion_": _schema.Attribute(
        "'accuracy', 'f1', 'eer' or a float between 0 and 1",
        lambda v, fitted, est: v in ("accuracy", "f1", "eer") or (
            _schema.is_real(v) and 0 < v < 1),
        optional=True),
    "threshold_rates_": _schema.OPTIONAL["threshold_rates_"],
    # The shape of one image of the gallery (None for rows), which queries
    # and additions must have.
    "_sample_shape": _schema.Attribute(
        "None, or the shape of one image: a tuple of positive ints",
        lambda v, fitted, est: v is None or _schema.is_shape(v), optional=True),
}


def _sample_shape(X):
    """The shape of one sample of ``X`` if its samples are images, else None."""
    shape = getattr(X, "shape", None)
    if shape is None or len(shape) < 3:
        return None
    return tuple(int(n) for n in shape[1:])


def _is_fitted(estimator):
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    return True


@_schema.register
class OneShotClassifier(ClassifierMixin, BaseEstimator):
    """Classify by distance to a few labelled examples in a learned embedding.

    ``fit(X_support, y_support)`` embeds the support set (as little as one
    example of each class) with ``transformer``; ``predict`` assigns each
    query the class of its nearest support example, of its nearest class
    prototype, or the vote of its nearest neighbours. The classes need not be
    those the transformer was trained on: that is one-shot learning, where an
    embedding trained on background classes recognises new ones without
    retraining.

    Parameters
    ----------
    transformer : transformer or None
        The embedding, typically a :class:`~sksiamese.SiameseTransformer`:

        - **fitted** (or a fitted ``Pipeline`` ending in one): used as it is,
          never retrained; ``transformer_`` is this very object.
        - ``sklearn.frozen.FrozenEstimator(fitted_transformer)``: the same,
          and it stays fitted through ``clone``, hence through
          ``cross_val_score``, ``GridSearchCV`` and this estimator's own
          cloning (see Notes).
        - **unfitted**: a clone is fitted on the support set in ``fit``, so
          the estimator also works on its own. That needs at least two
          samples of some class.
        - ``None``: the raw features, flattened; a baseline.
    rule : {"nearest", "prototype", "knn"}, default="nearest"
        ``"nearest"``: the class of the nearest support example.
        ``"prototype"``: the class whose prototype, the mean of its support
        embeddings (of their unit vectors for cosine distance), is nearest, as
        in prototypical networks; with one example per class it is the same
        as ``"nearest"``. ``"knn"``: a vote of the ``n_neighbors`` nearest
        support examples, each weighted by ``exp(-distance / temperature)``.
    n_neighbors : int, default=5
        Support examples that vote with ``rule="knn"``; also the default
        number that :meth:`kneighbors` returns.
    distance : {"euclidean", "cosine"}, default=None
        Distance in the embedding. ``None`` takes the transformer's
        ``distance`` parameter (through a ``FrozenEstimator`` or ``Pipeline``),
        so that it matches the distance the embedding was trained for; or
        euclidean for transformers without one.
    temperature : float, default=1.0
        Scale of the softmax in :meth:`predict_proba` (and of the ``"knn"``
        weights): the probability of a class is proportional to
        ``exp(-distance / temperature)``. Smaller is more confident; it does
        not change ``"nearest"`` and ``"prototype"`` predictions.
    threshold : float or "auto", default=None
        Open-set rejection. A query farther than ``threshold`` from the class
        it would be assigned (its nearest support example of that class, or
        that class's prototype for ``rule="prototype"``) matches no class and
        gets ``unknown_label``. ``None`` never rejects. ``"auto"`` calibrates
        it on the support set: see ``threshold_``.
    unknown_label : int, float or str, default=-1
        Prediction for rejected queries; it must not be one of the classes,
        and must be a string if the classes are.
    algorithm : {"brute", "faiss"} or neighbours object, default="brute"
        How ``predict``, :meth:`match` and :meth:`kneighbors` search the
        gallery (the support samples, or the prototypes for
        ``rule="prototype"``).

        - ``"brute"``: exact, a block of queries at a time (memory grows with
          the block times the gallery, never with queries times gallery).
          The best choice up to galleries of about a hundred thousand rows,
          and the only one that needs no index: nothing is built at ``fit``
          or ``partial_fit``.
        - ``"faiss"``: approximate, for galleries of millions, with an
          inverted-file index of the faiss library (``pip install
          faiss-cpu``): each query is compared with about a sixteenth of the
          gallery; a true nearest neighbour can be missed.
        - an object of scikit-learn's neighbours API, unfitted: a
          :class:`~sklearn.neighbors.NearestNeighbors` (for example
          ``NearestNeighbors(algorithm="ball_tree")``: exact, and faster than
          ``"brute"`` only in very few dimensions: 12 times on 10^5 rows of 3
          dimensions, slower from 8 dimensions on), a
          :class:`~sklearn.neighbors.KNeighborsTransformer`, or an
          approximate search packaged for scikit-learn such as
          ``pynndescent.PyNNDescentTransformer`` (about 16 times faster than
          ``"brute"`` on 10^5 rows, after an index build of seconds and a
          numba compilation of about 20 s on first use, but it missed the
          true nearest neighbour of a quarter of the queries on 64
          dimensions with ``n_neighbors=10``). A
          clone of it (``sklearn.base.clone``) is fitted on the gallery at
          each ``fit``, ``partial_fit`` and ``remove_classes``; the object
          given stays unfitted. It is queried with ``kneighbors(X,
          n_neighbors, return_distance=True)``, or, without it, with
          ``transform(X)``, the sparse distance graph of a
          ``KNeighborsTransformer``, which holds as many neighbours as its
          own ``n_neighbors`` (ask :meth:`kneighbors` for more and it says
          so). It searches rows whose euclidean order is the classifier's
          distance order (for cosine distance, unit vectors), so its
          ``metric`` must be euclidean (``"euclidean"``, ``"l2"``,
          ``"sqeuclidean"``, or ``"minkowski"`` with ``p=2``, scikit-learn's
          default), or ``"cosine"`` with ``distance="cosine"``; any other
          metric is a ValueError at ``fit``. An object without a ``metric``
          parameter is taken to be euclidean.

        With ``"faiss"`` or an object, the distances returned are exact for
        the neighbours found: the candidates are ranked by their float64
        distances. ``predict_proba``, :meth:`nearest_classes`,
        ``threshold="auto"`` and :meth:`calibrate_threshold` stay exact.
        ``benchmarks/large_gallery.py`` measures them side by side.

    Attributes
    ----------
    transformer_ : transformer or None
        The embedding used: ``transformer`` itself if it was fitted, else a
        fitted clone of it.
    classes_ : ndarray of shape (n_classes,)
        Class labels of the support set.
    support_embeddings_ : ndarray of shape (n_support, n_components)
        The embedded support set.
    support_labels_ : ndarray of shape (n_support,)
        Labels of the support set, in the order given to ``fit``.
    prototypes_ : ndarray of shape (n_classes, n_components)
        Mean support embedding of each class (of unit vectors for cosine).
    distance_ : str
        The distance used.
    threshold_ : float or None
        The rejection distance. With ``threshold="auto"``, each support
        example is set aside in turn: its distance to its own class (computed
        without it; for classes with two or more examples) is what a known
        query would see, its distance to the nearest other class is what a
        query of a new class would see, and ``threshold_`` is where as many of
        the first are rejected as of the second accepted (the equal error
        rate point). When every class has a single example, nothing says how
        far a class's queries fall from it, and ``threshold_`` is half the
        median distance from a support example to the nearest other class.
        :meth:`calibrate_threshold` sets it from held-out queries instead.
    threshold_criterion_ : str or float
        The criterion :meth:`calibrate_threshold` chose ``threshold_`` by;
        only after it (``fit``, ``partial_fit`` and ``remove_classes`` reset
        the threshold from the ``threshold`` parameter and drop it).
    threshold_rates_ : dict
        The rates ``threshold_`` achieved on the calibration queries:
        ``"accuracy"`` (with rejection), ``"f1"``, ``"far"`` (the fraction of
        unknown queries accepted), ``"tar"`` (the fraction of known queries
        accepted with their own class) and ``"frr"`` (``1 - tar``); only
        after :meth:`calibrate_threshold`.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen in ``fit``, where ``X`` had string column names.

    See Also
    --------
    SiameseTransformer : learn the embedding.
    sksiamese.metrics.n_way_k_shot_accuracy : episodic evaluation of an embedding.

    Notes
    -----
    scikit-learn's ``clone`` (used by ``cross_val_score``, ``GridSearchCV``,
    ...) clones parameters, and a clone of a fitted transformer is unfitted:
    ``clone(OneShotClassifier(emb))`` would train a new embedding on the
    support set. Wrap a pre-trained transformer in
    ``sklearn.frozen.FrozenEstimator``, whose clone is itself, to keep it::

        from sklearn.frozen import FrozenEstimator
        clf = OneShotClassifier(FrozenEstimator(emb))

    Examples
    --------
    An embedding trained on digits 0-4 classifies digits 5-9 from one example
    of each, without retraining:

    >>> from sklearn.datasets import load_digits
    >>> from sklearn.frozen import FrozenEstimator
    >>> from sksiamese import OneShotClassifier, SiameseTransformer
    >>> X, y = load_digits(return_X_y=True)
    >>> emb = SiameseTransformer(max_epochs=2, random_state=0).fit(X[y < 5], y[y < 5])
    >>> X_new, y_new = X[y >= 5], y[y >= 5]
    >>> support = [list(y_new).index(c) for c in range(5, 10)]
    >>> clf = OneShotClassifier(FrozenEstimator(emb))
    >>> clf.fit(X_new[support], y_new[support]).predict(X_new[support])
    array([5, 6, 7, 8, 9])
    >>> clf.predict_proba(X_new[:3]).shape
    (3, 5)

    With a threshold of zero distance, every query but the support samples
    themselves matches no class:

    >>> clf.set_params(threshold=0.0).fit(X_new[support], y_new[support])
    OneShotClassifier(threshold=0.0,
                      transformer=FrozenEstimator(estimator=SiameseTransformer(...)))
    >>> clf.predict(X_new[10:13])
    array([-1, -1, -1])
    """

    _parameter_constraints = {
        "transformer": [HasMethods(["fit", "transform"]), None],
        "rule": [StrOptions({"nearest", "prototype", "knn"})],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "distance": [StrOptions(set(DISTANCES)), None],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "threshold": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"}),
                      None],
        "unknown_label": [Real, str],
        "algorithm": [StrOptions({"brute", "faiss"}),
                      HasMethods(["fit", "kneighbors"]),
                      HasMethods(["fit", "transform"])],
    }

    _PERSISTED_ATTRIBUTES = _PERSISTED
    # The transformer parameter is saved as transformer_: the same object
    # where it was (fitted, or frozen), else an unfitted clone of it.
    _PERSISTED_LINKS = {"transformer": "transformer_"}

    def __init__(self, transformer, *, rule="nearest", n_neighbors=5, distance=None,
                 temperature=1.0, threshold=None, unknown_label=-1,
                 algorithm="brute"):
        self.transformer = transformer
        self.rule = rule
        self.n_neighbors = n_neighbors
        self.distance = distance
        self.temperature = temperature
        self.threshold = threshold
        self.unknown_label = unknown_label
        self.algorithm = algorithm

    # -- input -------------------------------------------------------------
    def _validate_support(self, X, y):
        """Check ``X`` and ``y`` for ``fit``; the transformer checks ``X`` in full."""
        if self.transformer is None:
            with explained_input_errors(type(self).__name__):
                return validate_data(self, X, y, allow_nd=True,
                                     dtype=[np.float64, np.float32])
        try:
            n_samples = _num_samples(X)
        except TypeError:
            n_samples = None  # not array-like: the transformer says what it needs
        if n_samples == 0:
            raise ValueError(
                f"{type(self).__name__}.fit got 0 samples in X; the support set "
                "needs at least one sample of each class."
            )
        X, y = validate_data(self, X, y, skip_check_array=True)
        y = column_or_1d(y, warn=True)
        check_consistent_length(X, y)
        return X, y

    def _check_sample_shape(self, X, method):
        """Refuse samples shaped unlike the gallery's images, saying both shapes.

        scikit-learn's own check counts the first axis of an image, its rows,
        as features; images of other widths would even pass it.
        """
        expected = self.__dict__.get("_sample_shape")
        if expected is None:
            return
        shape = getattr(X, "shape", None)
        if shape is None:
            try:
                shape = np.shape(X)
            except ValueError:
                return  # ragged: the array checks say so
        got = tuple(int(n) for n in shape[1:])
        if got == expected or (self.transformer_ is not None and len(got) < 2):
            # A transformer may take its images flattened.
            return
        what = "images" if len(got) >= 2 else "samples"
        raise ValueError(
            f"{type(self).__name__}.{method} got {what} of shape {got}, but the "
            f"gallery holds images of shape {expected} (the support samples "
            f"given to fit). Pass samples of shape (n_samples, "
            f"{', '.join(map(str, expected))}), resized as the gallery's, or "
            "fit a new gallery."
        )

    def _embed_queries(self, X, method="predict"):
        check_is_fitted(self)
        self._check_sample_shape(X, method)
        if self.transformer_ is None:
            with explained_input_errors(type(self).__name__):
                X = validate_data(self, X, reset=False, allow_nd=True,
                                  dtype=[np.float64, np.float32])
            return self._check_embeddings(flat_features(X), "queries")
        # The transformer's own checks come first: their messages are the
        # ones users know (and scikit-learn's checks expect).
        E = embed(self.transformer_, X)
        validate_data(self, X, reset=False, skip_check_array=True)
        return self._check_embeddings(E, "queries")

    def _space(self):
        return "raw features" if self.transformer_ is None else "embeddings"

    def _check_embeddings(self, E, what):
        """``E``, if the distances between its rows can be computed in float64.

        Squares beyond float64's range would make euclidean distances infinite
        and cosine ones meaningless (a row divided by an infinite norm is
        zero), and every class would silently look equally far.
        """
        E = np.asarray(E)
        with np.errstate(over="ignore", invalid="ignore"):
            F = E.astype(np.float64)
            squares = np.einsum("ij,ij->i", F, F)
        if np.isfinite(squares).all():
            return E
        if np.isfinite(F).all():
            problem = (f"hold values as large as {np.abs(F).max():.3g}, whose "
                       "squares overflow float64")
        else:
            problem = "hold NaN or infinite values"
        raise ValueError(
            f"{type(self).__name__} cannot compute distances: the "
            f"{self._space()} of the {what} {problem}. Scale the input, for "
            "example with StandardScaler."
        )

    def _distances(self, function, *args):
        """``function(*args)``, distances that must come out finite."""
        with np.errstate(over="ignore", invalid="ignore"):
            D = function(*args)
        if not np.isfinite(D).all():
            raise ValueError(
                f"{type(self).__name__} cannot compute distances: those between "
                f"the {self._space()} overflow float64. Scale the input, for "
                "example with StandardScaler."
            )
        return D

    def _fitted_transformer(self, X, y):
        transformer = self.transformer
        if transformer is None or _is_fitted(transformer):
            return transformer
        if isinstance(transformer, FrozenEstimator):
            raise NotFittedError(
                f"transformer is a FrozenEstimator around an unfitted "
                f"{type(transformer.estimator).__name__}. Fit it before freezing "
                "it, or pass it unfrozen to have OneShotClassifier fit a clone "
                "of it on the support set."
            )
        return clone(transformer).fit(X, y)

    def _check_unknown_label(self, classes):
        label = self.unknown_label
        if isinstance(label, str) != (classes.dtype.kind in "USO"):
            kind = "strings" if classes.dtype.kind in "USO" else "numbers"
            raise ValueError(
                f"unknown_label={label!r} does not fit class labels that are "
                f"{kind}; pass an unknown_label of the same kind, for example "
                f"{'unknown' if kind == 'strings' else -1!r}."
            )
        if np.isin(label, classes).any():
            raise ValueError(
                f"unknown_label={label!r} is one of the classes in y; choose a "
                "label that no class uses."
            )

    def _check_algorithm(self):
        """What the parameter constraints cannot say about a search object."""
        algorithm = self.algorithm
        if isinstance(algorithm, str):
            return
        if isinstance(algorithm, type):
            raise ValueError(
                f"algorithm={algorithm.__name__} is a class; pass an instance, "
                f"for example algorithm={algorithm.__name__}()."
            )
        if not hasattr(algorithm, "get_params"):
            raise ValueError(
                f"algorithm={type(algorithm).__name__} has no get_params, so it "
                "cannot be cloned (a clone is fitted on the gallery, leaving "
                "yours untouched). Pass a scikit-learn estimator, such as "
                "sklearn.neighbors.NearestNeighbors(), or wrap it in one."
            )

    # -- fit ---------------------------------------------------------------
    @_unchanged_on_error
    def fit(self, X, y):
        """Embed the support set ``X`` with labels ``y``.

        A fitted ``transformer`` is not retrained; an unfitted one is fitted
        on ``X, y`` first (a clone of it; see the class description).

        Parameters
        ----------
        X : array-like of shape (n_support, n_features)
            Support samples, in the form the transformer takes (images as
            ``(n_support, *input_shape)`` for image encoders).
        y : array-like of shape (n_support,)
            Their class labels: one or more samples of each class.

        Returns
        -------
        self : OneShotClassifier
            The fitted classifier.
        """
        self._validate_params()
        self._check_algorithm()
        X, y = self._validate_support(X, check_label_types(y))
        with warnings.catch_warnings():
            # scikit-learn warns when classes outnumber half the samples, which
            # is what a one-shot support set is.
            warnings.filterwarnings("ignore", message="The number of unique classes")
            check_classification_targets(y)
        if self.threshold is not None:
            self._check_unknown_label(np.unique(y))
        n_support = len(y)
        if self.rule == "knn" and self.n_neighbors > n_support:
            raise ValueError(
                f"rule='knn' with n_neighbors={self.n_neighbors} needs at least "
                f"that many support samples; got {n_support}. Lower n_neighbors."
            )
        self.transformer_ = self._fitted_transformer(X, y)
        self._sample_shape = _sample_shape(X)
        self.distance_ = resolve_distance(self.transformer_, self.distance)
        E = self._check_embeddings(embed(self.transformer_, X), "support samples")
        self._enrol(E, np.asarray(y), fresh=True)
        return self

    def _enrol(self, E, labels, fresh=False):
        """Make ``E, labels`` the gallery, and everything derived from it.

        ``fit``, ``partial_fit`` and ``remove_classes`` all end here, so that a
        gallery that grew or shrank is the one a fresh ``fit`` would make,
        except that a threshold from :meth:`calibrate_threshold` is kept by a
        gallery change (``fresh=False``): dropping it would silently turn
        rejection off.
        """
        before = dict(self.__dict__)
        calibrated = not fresh and "threshold_criterion_" in self.__dict__
        try:
            self.support_embeddings_ = E
            self.support_labels_ = labels
            self.classes_, self._support_codes = np.unique(labels,
                                                           return_inverse=True)
            self.prototypes_ = prototypes(E, self._support_codes,
                                          len(self.classes_), self.distance_)
            stale = ("_index", "_index_algorithm") if calibrated else (
                "threshold_criterion_", "threshold_rates_", "_index",
                "_index_algorithm")
            for name in stale:
                self.__dict__.pop(name, None)
            if self.algorithm != "brute":
                self._gallery_index()
            if calibrated:
                pass  # threshold_ is the calibrated operating point.
            elif self.threshold == "auto":
                self.threshold_ = self._calibrate_threshold()
            elif self.threshold is None:
                self.threshold_ = None
            else:
                self.threshold_ = float(self.threshold)
        except BaseException:
            # A gallery change that fails leaves the classifier as it was.
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    def _calibrate_threshold(self):
        codes = self._support_codes
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(
                "threshold='auto' compares distances within and between classes "
                "of the support set, which has one class only; pass a distance "
                "as threshold, or support samples of two or more classes."
            )
        S = self.support_embeddings_.astype(np.float64)
        rows = np.arange(len(S))
        counts = np.bincount(codes, minlength=n_classes)
        own = np.full(len(S), np.nan)
        if self.rule == "prototype":
            D = self._distances(pairwise, S, self.prototypes_, self.distance_)
            unit = normalize_rows(S) if self.distance_ == "cosine" else S
            several = counts[codes] > 1
            # The prototype of an example's class, computed without it.
            sums = self.prototypes_[codes] * counts[codes][:, None]
            loo = (sums[several] - unit[several]) / (counts[codes][several, None] - 1)
            own[several] = self._distances(rowwise, S[several], loo,
                                           self.distance_)
        else:
            D = self._distances(pairwise, S, S, self.distance_)
            D[rows, rows] = np.inf
            D = per_class_min(D, codes, n_classes)
            own = np.where(counts[codes] > 1, D[rows, codes], np.nan)
        D[rows, codes] = np.inf
        other = D.min(axis=1)
        known = own[~np.isnan(own)]
        if not len(known):
            return float(np.median(other) / 2)
        labels = np.r_[np.ones(len(known)), np.zeros(len(other))]
        return equal_error_rate(labels, np.r_[known, other])[1]

    # -- a gallery that grows ----------------------------------------------
    @_unchanged_on_error
    def partial_fit(self, X, y, classes=None):
        """Enrol more support samples: new classes, or more of known ones.

        The embedding is not retrained (nor fitted, if ``fit`` had to fit
        it): the samples are embedded and added to the support set, and the
        classifier is then what ``fit`` on the union of the support sets
        would make with the same embedding (``threshold="auto"`` is
        calibrated again), except that a threshold chosen by
        :meth:`calibrate_threshold` is kept, with ``threshold_criterion_``
        and ``threshold_rates_`` (the rates measured at calibration, on the
        gallery of then): the operating point stays, and rejection is never
        turned off. Call :meth:`calibrate_threshold` again to recalibrate on
        the new gallery. Before the first ``fit``, this is ``fit``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples shaped like the support samples given to ``fit``.
        y : array-like of shape (n_samples,)
            Their class labels, of the same kind (numbers or strings) as
            ``classes_``.
        classes : array-like, default=None
            Not used, present for API consistency by convention: the classes
            are those of the support samples, and may grow with each call.

        Returns
        -------
        self : OneShotClassifier
            The classifier with the samples enrolled.

        Examples
        --------
        >>> from sksiamese import OneShotClassifier
        >>> clf = OneShotClassifier(None).fit([[0.0], [1.0]], ["a", "b"])
        >>> clf.partial_fit([[5.0]], ["c"]).predict([[4.0]])
        array(['c'], dtype='<U1')
        """
        if not hasattr(self, "classes_"):
            return self.fit(X, y)
        self._validate_params()
        self._check_algorithm()
        y = column_or_1d(check_label_types(y), warn=True)
        self._check_sample_shape(X, "partial_fit")
        if self.transformer_ is None:
            with explained_input_errors(type(self).__name__):
                X = validate_data(self, X, reset=False, allow_nd=True,
                                  dtype=[np.float64, np.float32])
            E = flat_features(X)
        else:
            E = embed(self.transformer_, X)
            validate_data(self, X, reset=False, skip_check_array=True)
        check_consistent_length(E, y)
        if not len(y):
            raise ValueError(f"{type(self).__name__}.partial_fit got 0 samples.")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The number of unique classes")
            check_classification_targets(y)
        new_kind, old_kind = (_label_kind(y), _label_kind(self.classes_))
        if new_kind != old_kind:
            raise ValueError(
                f"y holds {new_kind} but the enrolled classes are {old_kind} "
                f"({self.classes_[:3].tolist()}, ...); enrol labels of one kind."
            )
        labels = np.concatenate([self.support_labels_, y])
        if self.threshold is not None:
            self._check_unknown_label(np.unique(labels))
        E = self._check_embeddings(E, "support samples")
        self._enrol(np.concatenate([self.support_embeddings_, E]), labels)
        return self

    @_unchanged_on_error
    def remove_classes(self, classes):
        """Remove every support sample of the given classes.

        The classifier is then what ``fit`` on the remaining support set would
        make with the same embedding, keeping a threshold chosen by
        :meth:`calibrate_threshold` (see :meth:`partial_fit`).

        Parameters
        ----------
        classes : array-like of shape (n_removed,)
            Labels among ``classes_``.

        Returns
        -------
        self : OneShotClassifier
            The classifier without those classes.

        Examples
        --------
        >>> from sksiamese import OneShotClassifier
        >>> clf = OneShotClassifier(None).fit([[0.0], [1.0], [5.0]], ["a", "b", "c"])
        >>> clf.remove_classes(["c"]).classes_
        array(['a', 'b'], dtype='<U1')
        """
        check_is_fitted(self)
        classes = np.atleast_1d(np.asarray(classes))
        absent = classes[~np.isin(classes, self.classes_)].tolist()
        if absent:
            raise ValueError(
                f"Cannot remove classes {absent}: they are not enrolled. The "
                f"enrolled classes are {self.classes_.tolist()}."
            )
        keep = ~np.isin(self.support_labels_, classes)
        if not keep.any():
            raise ValueError(
                "Removing these classes would leave no class enrolled; fit a new "
                "support set instead."
            )
        if self.rule == "knn" and self.n_neighbors > keep.sum():
            raise ValueError(
                f"rule='knn' with n_neighbors={self.n_neighbors} needs at least "
                f"that many support samples; {int(keep.sum())} would remain."
            )
        self._enrol(self.support_embeddings_[keep], self.support_labels_[keep])
        return self

    def nearest_classes(self, X, n_classes=None):
        """The nearest classes of each query, with their distances.

        A class's distance is that of its nearest support sample (of its
        prototype for ``rule="prototype"``).

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Query samples.
        n_classes : int, default=None
            How many classes per query; ``None`` gives them all.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_classes)
            Ascending.
        classes : ndarray of shape (n_queries, n_classes)
            The classes at those distances, nearest first; ties by their
            order in ``classes_``.

        Examples
        --------
        >>> from sksiamese import OneShotClassifier
        >>> clf = OneShotClassifier(None).fit([[0.0], [1.0], [5.0]], ["a", "b", "c"])
        >>> clf.nearest_classes([[0.8]], n_classes=2)
        (array([[0.2, 0.8]]), array([['b', 'a']], dtype='<U1'))
        """
        check_is_fitted(self)
        n_all = len(self.classes_)
        n_classes = n_all if n_classes is None else n_classes
        if (not isinstance(n_classes, Integral) or isinstance(n_classes, bool)
                or not 1 <= n_classes <= n_all):
            raise ValueError(
                f"n_classes must be an integer from 1 to the {n_all} enrolled "
                f"classes; got {n_classes!r}."
            )
        E = self._embed_queries(X, "nearest_classes")
        dist = np.empty((len(E), n_classes))
        codes = np.empty((len(E), n_classes), dtype=np.intp)
        step = block_rows(len(self.support_embeddings_))
        for start in range(0, len(E), step):
            block = slice(start, start + step)
            D = self._class_distances(E[block])
            codes[block] = nearest_sorted(D, n_classes)
            dist[block] = np.take_along_axis(D, codes[block], axis=1)
        return dist, self.classes_[codes]

    def match(self, X):
        """The class each query is assigned before rejection, and how far it is.

        ``predict`` returns these classes, except where the distance is above
        ``threshold_``. The distance is the one compared with ``threshold_``:
        to the class's nearest support sample (its prototype for
        ``rule="prototype"``).

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Query samples.

        Returns
        -------
        classes : ndarray of shape (n_queries,)
            The assigned classes, among ``classes_``.
        distances : ndarray of shape (n_queries,)
            Distance of each query to its class.
        """
        codes, assigned = self._assign(self._embed_queries(X, "match"))
        return self.classes_[codes], assigned

    @_unchanged_on_error
    def calibrate_threshold(self, X, y, *, criterion="accuracy"):
        """Choose ``threshold_`` on held-out queries, known and unknown.

        ``X`` holds queries of enrolled classes (not the support samples
        themselves) and queries of classes that are not enrolled; ``y`` their
        true labels: any label not in ``classes_`` (``unknown_label``, or the
        query's own class) marks an unknown query. A known query is right
        when it is accepted and assigned its class; an unknown one, when it
        is rejected. The threshold is chosen among the distances of
        :meth:`match` by :func:`sksiamese.metrics.best_threshold`'s rules
        (the same candidates and tie rule), for one criterion:

        - ``"accuracy"``: accuracy with rejection;
        - ``"f1"``: the F1 score of giving a class (precision among accepted
          queries, recall among known ones);
        - ``"eer"``: where the false-accept rate (unknown queries accepted)
          and the false-reject rate (known queries not accepted with their
          class) are closest;
        - a float in (0, 1), a target false-accept rate: the most accepting
          threshold whose false-accept rate is at most the target.

        The embedding and the support set do not change.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Held-out queries.
        y : array-like of shape (n_queries,)
            Their labels; those not in ``classes_`` are unknown.
        criterion : {"accuracy", "f1", "eer"} or float, default="accuracy"
            What the threshold optimises.

        Returns
        -------
        self : OneShotClassifier
            The classifier with ``threshold_``, ``threshold_criterion_`` and
            ``threshold_rates_`` set.

        Examples
        --------
        >>> from sksiamese import OneShotClassifier
        >>> clf = OneShotClassifier(None).fit([[0.0], [10.0]], [0, 1])
        >>> clf.calibrate_threshold([[0.5], [9.0], [5.0], [4.0]], [0, 1, 7, 8])
        OneShotClassifier(transformer=None)
        >>> clf.threshold_, clf.threshold_rates_["accuracy"]
        (2.5, 1.0)
        >>> clf.predict([[0.2], [6.0]])
        array([ 0, -1])
        """
        check_is_fitted(self)
        criterion = check_criterion(criterion)
        y = column_or_1d(check_label_types(y), warn=True)
        classes, distances = self.match(X)
        check_consistent_length(distances, y)
        if not len(y):
            raise ValueError("calibrate_threshold needs queries; X holds none.")
        self._check_unknown_label(self.classes_)
        if _label_kind(y) != _label_kind(self.classes_):
            # Every label would count as unknown: a threshold that rejects
            # every query, chosen without a word.
            raise ValueError(
                f"y holds {_label_kind(y)} but the enrolled classes are "
                f"{_label_kind(self.classes_)} ({self.classes_[:3].tolist()}, "
                "...); pass labels of the same kind as classes_."
            )
        if y.dtype.kind == "f" and np.isnan(y).any():
            raise ValueError(
                f"y holds {int(np.isnan(y).sum())} NaN labels; give each query "
                "its true label (for unknown queries, unknown_label or their "
                "own class)."
            )
        known = np.isin(y, self.classes_)
        if known.all() or not known.any():
            missing = "unknown" if known.all() else "known (enrolled)"
            warnings.warn(
                f"calibrate_threshold: the calibration queries hold no {missing} "
                f"queries, so the threshold ({criterion!r}) is chosen from one "
                f"side only and tells nothing about the other. Add queries of "
                + ("classes that are not enrolled" if known.all()
                   else f"the enrolled classes {self.classes_[:3].tolist()}, ...")
                + ".",
                UserWarning,
                stacklevel=3,
            )
        right = known & (np.asarray(classes, dtype=object)
                         == np.asarray(y, dtype=object))
        threshold, rates = threshold_sweep(distances, right, ~known, criterion)
        self.threshold_ = threshold
        self.threshold_criterion_ = criterion
        self.threshold_rates_ = rates
        return self

    # -- prediction --------------------------------------------------------
    def _class_distances(self, Q):
        """Distance of each query to each class, by the rule's measure."""
        if self.rule == "prototype":
            return self._distances(pairwise, Q, self.prototypes_, self.distance_)
        return self._distances(class_distances, Q, self.support_embeddings_,
                               self._support_codes, len(self.classes_), "nearest",
                               self.distance_)

    def _decide(self, E):
        """Class probabilities, assigned class codes and distances to them.

        The assignment never goes through the probabilities: a softmax at a
        large temperature rounds to ties, which would make ``predict`` depend
        on ``temperature``.
        """
        n_classes = len(self.classes_)
        proba = np.empty((len(E), n_classes))
        codes = np.empty(len(E), dtype=np.intp)
        assigned = np.empty(len(E))
        step = block_rows(len(self.support_embeddings_))
        for start in range(0, len(E), step):
            block = slice(start, start + step)
            Q = E[block]
            D = self._class_distances(Q)
            if self.rule == "knn":
                P, c = self._knn_votes(*self._neighbors(Q, self.n_neighbors,
                                                        exact=True))
            else:
                c = D.argmin(axis=1)
                P = np.exp(-(D - D[np.arange(len(Q)), c][:, None]) / self.temperature)
                P /= P.sum(axis=1, keepdims=True)
            proba[block], codes[block] = P, c
            assigned[block] = D[np.arange(len(Q)), c]
        return proba, codes, assigned

    def _knn_votes(self, d, idx):
        """Weighted votes of the nearest support samples, and the winning codes.

        The weights are relative to the nearest neighbour, so the nearest has
        weight 1 and nothing underflows to an all-zero vote. Where a large
        temperature rounds every weight to 1, classes can tie on votes; the
        tie goes to the class whose voters are nearer in sum (the next term
        of the weights' expansion), then to the first class.
        """
        weights = np.exp(-(d - d[:, :1]) / self.temperature)
        rows = np.arange(len(d))[:, None]
        voter_codes = self._support_codes[idx]
        votes = np.zeros((len(d), len(self.classes_)))
        np.add.at(votes, (rows, voter_codes), weights)
        spread = np.zeros_like(votes)
        np.add.at(spread, (rows, voter_codes), d - d[:, :1])
        top = votes == votes.max(axis=1, keepdims=True)
        codes = np.where(top, spread, np.inf).argmin(axis=1)
        return votes / votes.sum(axis=1, keepdims=True), codes

    # -- searching the gallery ------------------------------------------------
    def _gallery_index(self):
        """The approximate index of the rows searched: support or prototypes."""
        built_for = self.__dict__.get("_index_algorithm")
        if "_index" not in self.__dict__ or not (
                built_for is self.algorithm or (isinstance(built_for, str)
                                                and built_for == self.algorithm)):
            # None yet, or built for another algorithm (set_params after fit).
            rows = (self.prototypes_ if self.rule == "prototype"
                    else self.support_embeddings_)
            self._index = (FaissIndex(rows, self.distance_)
                           if isinstance(self.algorithm, str) else
                           EstimatorIndex(self.algorithm, rows, self.distance_))
            self._index_algorithm = self.algorithm
        return self._index

    def _neighbors(self, Q, k, rows="support", exact=False):
        """The ``k`` nearest support samples (or prototypes) of each query."""
        if not exact and self.algorithm != "brute" and (rows == "prototypes") == (
                self.rule == "prototype"):
            d, idx = self._gallery_index().kneighbors(Q, k)
        else:
            R = self.prototypes_ if rows == "prototypes" else self.support_embeddings_
            d, idx = kneighbors(Q, R, k, self.distance_)
        self._distances(lambda: d)
        return d, idx

    def _assign(self, E):
        """Class codes assigned to queries before rejection, and their distances."""
        if self.algorithm == "brute":
            return self._decide(E)[1:]
        if self.rule == "knn":
            step = block_rows(self.n_neighbors * E.shape[1])
            codes = np.empty(len(E), dtype=np.intp)
            assigned = np.empty(len(E))
            for start in range(0, len(E), step):
                block = slice(start, start + step)
                d, idx = self._neighbors(E[block], self.n_neighbors)
                _, codes[block] = self._knn_votes(d, idx)
                # A class's nearest voter is its nearest support sample.
                mine = self._support_codes[idx] == codes[block][:, None]
                assigned[block] = np.where(mine, d, np.inf).min(axis=1)
            return codes, assigned
        rows = "prototypes" if self.rule == "prototype" else "support"
        d, idx = self._neighbors(E, 1, rows)
        nearest = idx[:, 0]
        codes = nearest if self.rule == "prototype" else self._support_codes[nearest]
        return codes, d[:, 0]

    def __getstate__(self):
        # An index of the faiss library does not pickle; it is rebuilt on use.
        # A fitted scikit-learn search object pickles, and is kept.
        state = super().__getstate__()
        if isinstance(state.get("_index"), FaissIndex):
            state.pop("_index")
        return state

    def predict_proba(self, X):
        """Probability of each class for each query.

        A softmax over negative distances to the classes,
        ``exp(-d / temperature)`` normalised (for ``rule="knn"``, the weighted
        vote). The open-set threshold does not enter: these are
        probabilities among the known classes.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Query samples.

        Returns
        -------
        proba : ndarray of shape (n_queries, n_classes)
            Rows sum to 1; columns follow ``classes_``.
        """
        return self._decide(self._embed_queries(X, "predict_proba"))[0]

    def predict(self, X):
        """The class of each query, or ``unknown_label`` beyond ``threshold_``.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Query samples.

        Returns
        -------
        y_pred : ndarray of shape (n_queries,)
            Predicted labels.
        """
        codes, assigned = self._assign(self._embed_queries(X))
        y_pred = self.classes_[codes]
        if self.threshold_ is None:
            return y_pred
        dtype = np.result_type(self.classes_.dtype,
                               np.asarray(self.unknown_label).dtype)
        y_pred = y_pred.astype(dtype)
        y_pred[assigned > self.threshold_] = self.unknown_label
        return y_pred

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """The nearest support samples of each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Query samples. ``None`` queries the support samples themselves,
            each leaving itself out.
        n_neighbors : int, default=None
            How many; ``None`` is the ``n_neighbors`` parameter.
        return_distance : bool, default=True
            Also return the distances.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_neighbors)
            Distances in the embedding, ascending; only if ``return_distance``.
        indices : ndarray of shape (n_queries, n_neighbors)
            Rows of ``support_embeddings_`` (and ``support_labels_``), nearest
            first; ties by position.

        Examples
        --------
        >>> from sksiamese import OneShotClassifier
        >>> clf = OneShotClassifier(None).fit([[0.0], [1.0], [3.0]], ["a", "b", "c"])
        >>> clf.kneighbors([[0.9]], n_neighbors=2)
        (array([[0.1, 0.9]]), array([[1, 0]]))
        >>> clf.support_labels_[clf.kneighbors([[2.5]], 1, return_distance=False)]
        array([['c']], dtype='<U1')
        """
        check_is_fitted(self)
        n_neighbors = self.n_neighbors if n_neighbors is None else n_neighbors
        S = self.support_embeddings_
        if X is None:
            E, available = S, len(S) - 1
        else:
            E, available = self._embed_queries(X, "kneighbors"), len(S)
        if (not isinstance(n_neighbors, Integral) or isinstance(n_neighbors, bool)
                or not 1 <= n_neighbors <= available):
            raise ValueError(
                f"n_neighbors must be an integer from 1 to the {available} support "
                f"samples available{' (leaving each out)' if X is None else ''}; "
                f"got {n_neighbors!r}."
            )
        if X is None:
            dist, ind = kneighbors(E, S, n_neighbors, self.distance_,
                                   exclude_self=True)
            self._distances(lambda: dist)
        else:
            dist, ind = self._neighbors(E, n_neighbors)
        return (dist, ind) if return_distance else ind
