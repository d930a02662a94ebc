"""Pictures of embeddings, pair distances and training curves, as sklearn Displays."""

from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.utils.validation import check_is_fitted

from ._distances import rowwise
from ._embedding import check_labels_defined, embed, resolve_distance
from .metrics import (
    best_threshold_accuracy,
    equal_error_rate,
    pair_distances,
    verification_roc_auc,
)

__all__ = [
    "EmbeddingDisplay",
    "PairDistanceDisplay",
    "TrainingCurveDisplay",
    "det_curve_display",
    "roc_curve_display",
]


def _pyplot(caller):
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            f"{caller} needs matplotlib to draw. Install it with "
            "`pip install matplotlib` (or `pip install 'sksiamese[plot]'`)."
        ) from None
    return plt


def _axes(ax, caller):
    """The axes to draw on, in a figure with a layout engine.

    A new figure is made with ``layout="constrained"``; a given figure without
    a layout engine gets that one, so that the legends placed beside the axes
    and the axis labels stay inside the figure.
    """
    plt = _pyplot(caller)
    if ax is None:
        _, ax = plt.subplots(layout="constrained")
    figure = ax.figure
    root = getattr(figure, "figure", None) or figure
    if root.get_layout_engine() is None:
        root.set_layout_engine("constrained")
    return ax


def _legend_beside(ax, handles=None, labels=None, *, below=False, step_over=(),
                   **kwargs):
    """A legend outside the axes, where it covers none of their data.

    Right of the axes, or ``below`` them, under the x-axis' tick labels and
    label. ``step_over`` holds axes (a twin made by ``ax.twinx()``) whose
    labels on the right the legend is placed beyond. The offsets are in points,
    measured on the labels, so they hold however the layout engine later
    resizes the axes.
    """
    from matplotlib.transforms import offset_copy

    figure = ax.figure
    renderer = getattr(figure.canvas, "get_renderer", lambda: None)()
    # Where the canvas cannot measure: 5 font sizes.
    guess = 5 * _pyplot("plot").rcParams["font.size"]
    offset = 0.0
    if below:
        if renderer is None:
            offset = guess
        else:
            bottom = ax.xaxis.get_tightbbox(renderer)
            if bottom is not None:
                offset = (ax.bbox.y0 - bottom.y0) * 72 / figure.dpi
        transform = offset_copy(ax.transAxes, fig=figure, y=-offset - 4,
                                units="points")
        anchor, loc = (0.5, 0), "upper center"
    else:
        for other in step_over:
            right = (guess if renderer is None else
                     (other.get_tightbbox(renderer).x1 - other.bbox.x1)
                     * 72 / figure.dpi)
            offset = max(offset, right)
        transform = offset_copy(ax.transAxes, fig=figure, x=offset + 6,
                                units="points")
        anchor, loc = (1, 1), "upper left"
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
        for other in step_over:
            more = other.get_legend_handles_labels()
            handles, labels = handles + more[0], labels + more[1]
    kwargs = {"loc": loc, "borderaxespad": 0.0, **kwargs}
    return ax.legend(handles, labels, bbox_to_anchor=anchor,
                     bbox_transform=transform, **kwargs)


# -- the embedding ------------------------------------------------------------
def _project(embedding, projection, random_state):
    """2-D coordinates of ``embedding`` and the names of their axes."""
    embedding = np.asarray(embedding, dtype=np.float64)
    if embedding.ndim != 2 or len(embedding) == 0:
        raise ValueError(
            "The embedding should be a non-empty 2-D array of shape (n_samples, "
            f"n_components); got shape {embedding.shape}."
        )
    bad = np.flatnonzero(~np.isfinite(embedding).all(axis=1))
    if len(bad):
        # matplotlib would drop or clip them without a word.
        raise ValueError(
            f"The embedding holds NaN or infinite values in {len(bad)} rows "
            f"({bad[:5].tolist()}); a diverged model or overflowing input gives "
            "such embeddings. Drop those rows, or fix the model."
        )
    n, d = embedding.shape
    if d == 1:
        return np.column_stack([embedding, np.zeros(n)]), ("Component 1", "")
    if d == 2:
        return embedding, ("Component 1", "Component 2")
    if isinstance(projection, str) and projection == "pca":
        projector, name = PCA(n_components=2, random_state=random_state), "PCA"
    elif isinstance(projection, str) and projection == "tsne":
        if n < 2:
            raise ValueError("projection='tsne' needs at least 2 samples.")
        # t-SNE requires perplexity < n_samples; 30 is its usual value.
        projector = TSNE(
            n_components=2,
            perplexity=min(30.0, max(1.0, (n - 1) / 3)),
            init="pca",
            random_state=random_state,
        )
        name = "t-SNE"
    elif hasattr(projection, "fit_transform"):
        projector, name = projection, type(projection).__name__
    else:
        raise ValueError(
            "projection must be 'pca', 'tsne' or an object with fit_transform "
            f"(such as umap.UMAP(n_components=2)); got {projection!r}."
        )
    coords = np.asarray(projector.fit_transform(embedding))
    if coords.ndim != 2 or coords.shape[1] < 2:
        raise ValueError(
            f"The projection {name} returned an array of shape {coords.shape}; "
            "it should return 2 columns (set its n_components=2)."
        )
    return coords[:, :2], (f"{name} 1", f"{name} 2")


# Points of the classes (or groups) not highlighted: light, and behind.
_GREY = (0.78, 0.78, 0.78, 1.0)


def _group_of_class(classes, y, groups):
    """``{class: group}`` from a mapping or from the group of each point."""
    if isinstance(groups, Mapping):
        missing = [c for c in classes if c not in groups]
        if missing:
            raise ValueError(
                f"groups has no group for the classes "
                f"{np.array(missing[:5]).tolist()}; map every "
                "class of y to its group."
            )
        return {c: groups[c] for c in classes}
    groups = np.asarray(groups)
    if groups.shape != y.shape:
        raise ValueError(
            "groups should be a mapping from class to group or hold the group "
            f"of each point, of shape {y.shape}; got shape {groups.shape}."
        )
    mapping = {}
    for cls in classes:
        found = np.unique(groups[y == cls])
        if len(found) > 1:
            raise ValueError(
                f"The points of class {np.asarray(cls).tolist()!r} are in several "
                f"groups ({found[:3].tolist()}); each class should be in one group."
            )
        mapping[cls] = found[0]
    return mapping


def _highlighted(units, sizes, highlight):
    """The classes (or groups) to colour, in the order of ``units``."""
    order = np.argsort(-np.asarray(sizes), kind="stable")
    if highlight is None:
        return units.tolist()
    if isinstance(highlight, str):
        if highlight != "auto":
            raise ValueError(
                f"highlight must be 'auto', an int, a list of classes or None; got "
                f"{highlight!r}."
            )
        highlight = len(units) if len(units) <= 20 else 10
    if isinstance(highlight, Integral) and not isinstance(highlight, bool):
        if highlight < 1:
            raise ValueError(f"highlight must be at least 1; got {highlight}.")
        return units[np.sort(order[:highlight])].tolist()
    wanted = list(np.atleast_1d(np.asarray(highlight, dtype=object)))
    unknown = [u for u in wanted if u not in set(units.tolist())]
    if unknown:
        more = "..." if len(units) > 10 else ""
        raise ValueError(
            f"highlight names {np.array(unknown[:5]).tolist()}, which are not "
            f"among the classes (or groups) drawn: {units[:10].tolist()}{more}."
        )
    return [u for u in units.tolist() if u in wanted]


class EmbeddingDisplay:
    """The samples in the embedding space, in 2-D, coloured by class.

    Build it with :meth:`from_estimator` (a fitted transformer and samples)
    or :meth:`from_embedding` (embeddings already computed); both project
    embeddings of more than two dimensions to two, with PCA or t-SNE.
    Creating the display directly takes 2-D coordinates as they are.

    Parameters
    ----------
    embedding : ndarray of shape (n_samples, 2)
        Coordinates of the points.
    y : array-like of shape (n_samples,), default=None
        Class of each point; each class gets its own colour and legend entry
        (see ``highlight`` and ``groups`` of :meth:`plot` for many classes).
    target_names : array-like, default=None
        Names shown in the legend: ``target_names[c]`` for the integer class
        ``c``. By default the classes themselves.
    axis_labels : tuple of str, default=("Component 1", "Component 2")
        Labels of the horizontal and vertical axes.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the scatter plot.
    figure_ : matplotlib Figure
        Figure containing the plot.
    scatters_ : list of matplotlib PathCollection
        One scatter plot per class, in the order of ``np.unique(y)`` (one in
        all where ``y`` is None), grey for the classes not highlighted.
    highlighted_ : list
        The classes (or, with ``groups``, the groups) drawn in colour, each
        with its legend entry; empty where ``y`` is None.

    See Also
    --------
    PairDistanceDisplay : distances of same and different pairs.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_digits
    >>> from sksiamese import SiameseTransformer
    >>> from sksiamese.plotting import EmbeddingDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> emb = SiameseTransformer(n_components=8, max_epochs=1, random_state=0)
    >>> emb.fit(X[:500], y[:500])
    SiameseTransformer(...)
    >>> disp = EmbeddingDisplay.from_estimator(emb, X[500:], y[500:])
    >>> len(disp.scatters_), disp.ax_.get_xlabel()
    (10, 'PCA 1')
    >>> plt.close("all")
    """

    def __init__(
        self,
        embedding,
        y=None,
        *,
        target_names=None,
        axis_labels=("Component 1", "Component 2"),
    ):
        self.embedding = embedding
        self.y = y
        self.target_names = target_names
        self.axis_labels = axis_labels

    def plot(self, ax=None, *, legend="auto", highlight="auto", groups=None,
             **kwargs):
        """Draw the points.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure by default. A figure without a layout
            engine is given ``layout="constrained"``, so that the legend,
            placed right of the axes where it hides no point, stays inside it.
        legend : bool or "auto", default="auto"
            Whether to show a legend of the coloured classes (or groups);
            "auto" shows it where at most 20 are coloured.
        highlight : "auto", int, array-like or None, default="auto"
            Which classes (or, with ``groups``, which groups) get a colour and
            a legend entry; the others are drawn in grey, behind them, and
            share one legend entry. ``"auto"`` colours all of them where there
            are at most 20 and the 10 with the most points otherwise (a palette
            of more than 20 colours repeats itself, and a legend of hundreds of
            entries is not read); an int colours that many of the most
            populous; a list colours those it names; None colours all.
        groups : mapping or array-like of shape (n_samples,), default=None
            A coarser grouping to colour by, such as the alphabet of each
            Omniglot character: a mapping from each class to its group, or the
            group of each point (every point of a class in the same group).
            Each group gets one colour and one legend entry.
        **kwargs : dict
            Passed to ``matplotlib.axes.Axes.scatter`` (``s``, ``alpha``,
            ``marker``, ...).

        Returns
        -------
        display : EmbeddingDisplay
            This display, with ``ax_``, ``figure_``, ``scatters_`` and
            ``highlighted_`` set.
        """
        ax = _axes(ax, "EmbeddingDisplay")
        coords = np.asarray(self.embedding, dtype=np.float64)
        if coords.ndim != 2 or coords.shape[1] != 2:
            raise ValueError(
                "EmbeddingDisplay draws 2-D coordinates of shape (n_samples, 2); "
                f"got shape {coords.shape}. Use EmbeddingDisplay.from_embedding "
                "to project wider embeddings."
            )
        kwargs = {"s": 12, "alpha": 0.8, **kwargs}
        self.scatters_ = []
        self.highlighted_ = []
        if self.y is None:
            self.scatters_.append(ax.scatter(coords[:, 0], coords[:, 1], **kwargs))
        else:
            y = np.asarray(self.y)
            if y.shape != (len(coords),):
                raise ValueError(
                    f"y should have shape ({len(coords)},), one class per point; "
                    f"got shape {y.shape}."
                )
            classes, counts = np.unique(y, return_counts=True)
            self._check_target_names(classes)
            unit_of = (dict(zip(classes, classes, strict=True)) if groups is None
                       else _group_of_class(classes, y, groups))
            units = np.unique(np.array(list(unit_of.values())))
            sizes = [sum(n for c, n in zip(classes, counts, strict=True)
                         if unit_of[c] == u) for u in units]
            self.highlighted_ = _highlighted(units, sizes, highlight)
            n_coloured = len(self.highlighted_)
            palette = "tab10" if n_coloured <= 10 else "tab20"
            colors = _pyplot("EmbeddingDisplay").get_cmap(palette).colors
            colour_of = {u: colors[i % len(colors)]
                         for i, u in enumerate(self.highlighted_)}
            handles, grey = {}, []
            for cls in classes:
                mask = y == cls
                unit = unit_of[cls]
                coloured = unit in colour_of
                scatter = ax.scatter(
                    coords[mask, 0],
                    coords[mask, 1],
                    label=self._name(cls) if groups is None else str(unit),
                    color=colour_of[unit] if coloured else _GREY,
                    zorder=2 if coloured else 1,
                    **kwargs,
                )
                self.scatters_.append(scatter)
                if coloured:
                    handles.setdefault(unit, scatter)
                else:
                    grey.append(unit)
            show = legend is True or (legend == "auto" and n_coloured <= 20)
            if show and n_coloured:
                what = "class" if groups is None else "group"
                entries = [handles[u] for u in self.highlighted_]
                labels = [h.get_label() for h in entries]
                if grey:
                    n_grey = len(set(grey))
                    plural = {"class": "classes", "group": "groups"}[what]
                    entries.append(self.scatters_[
                        next(i for i, c in enumerate(classes)
                             if unit_of[c] not in colour_of)])
                    labels.append(f"{n_grey} other {plural if n_grey > 1 else what}")
                _legend_beside(ax, entries, labels, title=what, fontsize="small",
                               markerscale=1.5, ncols=1 if len(entries) <= 12 else 2)
        ax.set_xlabel(self.axis_labels[0])
        ax.set_ylabel(self.axis_labels[1])
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    def _check_target_names(self, classes):
        if self.target_names is None or classes.dtype.kind not in "iu":
            return
        n_names = len(self.target_names)
        missing = classes[(classes < 0) | (classes >= n_names)]
        if len(missing):
            raise ValueError(
                f"target_names has {n_names} name(s), so it names the integer "
                f"classes 0 to {n_names - 1}; y also holds "
                f"{missing[:5].tolist()}. Pass a name for every class, or "
                "target_names=None to show the labels themselves."
            )

    def _name(self, cls):
        if self.target_names is not None and isinstance(cls, (int, np.integer)):
            return str(self.target_names[cls])
        return str(cls)

    @classmethod
    def from_embedding(
        cls,
        embedding,
        y=None,
        *,
        projection="pca",
        random_state=None,
        target_names=None,
        ax=None,
        legend="auto",
        highlight="auto",
        groups=None,
        **kwargs,
    ):
        """Plot embeddings already computed, projected to 2-D where wider.

        Parameters
        ----------
        embedding : array-like of shape (n_samples, n_components)
            The embeddings, for example ``transformer.transform(X)``.
        y : array-like of shape (n_samples,), default=None
            Class of each sample, for the colours.
        projection : {"pca", "tsne"} or estimator, default="pca"
            How embeddings of more than 2 dimensions are brought to 2:
            ``"pca"`` (the linear view: distances along the two main
            directions), ``"tsne"`` (neighbourhoods kept, distances between
            clusters not), or any object with ``fit_transform`` returning two
            columns. Not used for embeddings of 1 or 2 dimensions; 1-D ones
            are drawn along the horizontal axis.
        random_state : int, RandomState instance or None, default=None
            Seed of the projection.
        target_names : array-like, default=None
            Legend names of integer classes.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure by default.
        legend : bool or "auto", default="auto"
            Whether to show a legend; "auto" shows it where at most 20
            classes (or groups) are coloured.
        highlight : "auto", int, array-like or None, default="auto"
            Which classes (or groups) are coloured, the others grey and behind;
            "auto" colours all up to 20 and the 10 most populous beyond (see
            :meth:`plot`).
        groups : mapping or array-like of shape (n_samples,), default=None
            Colour by a coarser grouping: a mapping from class to group, or
            the group of each sample (see :meth:`plot`).
        **kwargs : dict
            Passed to ``matplotlib.axes.Axes.scatter``.

        Returns
        -------
        display : EmbeddingDisplay
            The display, drawn.
        """
        coords, labels = _project(embedding, projection, random_state)
        disp = cls(coords, y, target_names=target_names, axis_labels=labels)
        return disp.plot(ax=ax, legend=legend, highlight=highlight,
                         groups=groups, **kwargs)

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y=None,
        *,
        projection="pca",
        random_state=None,
        target_names=None,
        ax=None,
        legend="auto",
        highlight="auto",
        groups=None,
        **kwargs,
    ):
        """Plot the embedding of ``X`` by a fitted transformer.

        Parameters
        ----------
        estimator : fitted transformer
            A fitted :class:`~sksiamese.SiameseTransformer`, a ``Pipeline``
            ending in one, or anything with ``transform``.
        X : array-like of shape (n_samples, ...)
            Samples to embed.
        y : array-like of shape (n_samples,), default=None
            Class of each sample, for the colours.
        projection : {"pca", "tsne"} or estimator, default="pca"
            How embeddings of more than 2 dimensions are brought to 2 (see
            :meth:`from_embedding`).
        random_state : int, RandomState instance or None, default=None
            Seed of the projection.
        target_names : array-like, default=None
            Legend names of integer classes.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure by default.
        legend : bool or "auto", default="auto"
            Whether to show a legend; "auto" shows it where at most 20
            classes (or groups) are coloured.
        highlight : "auto", int, array-like or None, default="auto"
            Which classes (or groups) are coloured, the others grey and behind;
            "auto" colours all up to 20 and the 10 most populous beyond (see
            :meth:`plot`).
        groups : mapping or array-like of shape (n_samples,), default=None
            Colour by a coarser grouping: a mapping from class to group, or
            the group of each sample (see :meth:`plot`).
        **kwargs : dict
            Passed to ``matplotlib.axes.Axes.scatter``.

        Returns
        -------
        display : EmbeddingDisplay
            The display, drawn.
        """
        _pyplot("EmbeddingDisplay")
        return cls.from_embedding(
            estimator.transform(X),
            y,
            projection=projection,
            random_state=random_state,
            target_names=target_names,
            ax=ax,
            legend=legend,
            highlight=highlight,
            groups=groups,
            **kwargs,
        )


# -- distances of pairs -------------------------------------------------------
def _same_mask(y, n):
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(
            f"y should have shape ({n},), one label per pair; got shape {y.shape}."
        )
    if not np.isin(y, [-1, 0, 1]).all():
        raise ValueError(
            "y should hold 1 (or True) for pairs of the same class and 0, -1 "
            f"or False for different ones; got values {np.unique(y)[:5].tolist()}."
        )
    return y == 1


class PairDistanceDisplay:
    """Distances of same and different pairs, as two histograms.

    A good embedding for verification puts the "same" histogram left of the
    "different" one; the overlap is the error that any threshold leaves, and
    the threshold line shows where the decision falls.

    Build it with :meth:`from_estimator` (a fitted transformer or
    :class:`~sksiamese.SiamesePairClassifier` and pairs) or
    :meth:`from_distances`.

    Parameters
    ----------
    distances : ndarray of shape (n_pairs,)
        Distance (or score) of each pair.
    y : array-like of shape (n_pairs,)
        1 (or True) for pairs of the same class, 0, -1 or False otherwise.
    threshold : float, default=None
        Where to draw the decision threshold; none if None.
    xlabel : str, default="distance"
        Label of the horizontal axis.
    higher_is_same : bool, default=False
        Whether the values are similarity scores (higher is more alike)
        rather than distances; it orients ``roc_auc_`` and ``eer_``.

    Attributes
    ----------
    roc_auc_ : float or None
        Area under the ROC curve of "same" against "different" by these
        values (:func:`sksiamese.metrics.verification_roc_auc`), shown in the
        legend's title; None unless both kinds of pairs are present.
    eer_ : float or None
        Their equal error rate (:func:`sksiamese.metrics.equal_error_rate`),
        shown beside it.
    ax_ : matplotlib Axes
        Axes with the histograms.
    figure_ : matplotlib Figure
        Figure containing the plot.
    same_patches_ : list of matplotlib Rectangle
        Bars of the "same" histogram, one per bin.
    different_patches_ : list of matplotlib Rectangle
        Bars of the "different" histogram, one per bin.
    threshold_line_ : matplotlib Line2D or None
        The vertical line at ``threshold``.

    See Also
    --------
    EmbeddingDisplay : the embedding itself in 2-D.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from sksiamese.plotting import PairDistanceDisplay
    >>> rng = np.random.default_rng(0)
    >>> distances = np.r_[rng.gamma(2, 0.2, 100), rng.gamma(8, 0.2, 100)]
    >>> y = np.r_[np.ones(100), np.zeros(100)]
    >>> disp = PairDistanceDisplay.from_distances(distances, y, threshold="best")
    >>> round(disp.threshold, 2), len(disp.same_patches_)
    (0.85, 30)
    >>> plt.close("all")
    """

    def __init__(self, distances, y, *, threshold=None, xlabel="distance",
                 higher_is_same=False):
        self.distances = distances
        self.y = y
        self.threshold = threshold
        self.xlabel = xlabel
        self.higher_is_same = higher_is_same

    def plot(
        self,
        ax=None,
        *,
        bins=30,
        density=False,
        labels=("same", "different"),
        alpha=0.6,
    ):
        """Draw the histograms and the threshold.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure by default.
        bins : int or sequence of float, default=30
            Number of bins or their edges, shared by both histograms.
        density : bool, default=False
            Plot densities (each histogram's area is 1) instead of counts:
            clearer where there are many more different pairs than same.
        labels : tuple of str, default=("same", "different")
            Legend names of the two kinds of pairs.
        alpha : float, default=0.6
            Opacity of the bars, so that the overlap shows.

        Returns
        -------
        display : PairDistanceDisplay
            This display, with ``ax_``, ``figure_``, ``same_patches_``,
            ``different_patches_`` and ``threshold_line_`` set.
        """
        ax = _axes(ax, "PairDistanceDisplay")
        distances = np.asarray(self.distances, dtype=np.float64).ravel()
        same = _same_mask(self.y, len(distances))
        edges = np.histogram_bin_edges(distances, bins=bins)
        self.same_patches_ = list(
            ax.hist(
                distances[same],
                bins=edges,
                density=density,
                alpha=alpha,
                color="C0",
                label=f"{labels[0]} ({same.sum()} pairs)",
            )[2]
        )
        self.different_patches_ = list(
            ax.hist(
                distances[~same],
                bins=edges,
                density=density,
                alpha=alpha,
                color="C1",
                label=f"{labels[1]} ({(~same).sum()} pairs)",
            )[2]
        )
        self.threshold_line_ = None
        if self.threshold is not None:
            self.threshold_line_ = ax.axvline(
                self.threshold,
                color="black",
                linestyle="--",
                label=f"threshold {self.threshold:.3g}",
            )
        self.roc_auc_ = self.eer_ = None
        title = None
        if same.any() and (~same).any() and np.isfinite(distances).all():
            oriented = -distances if self.higher_is_same else distances
            self.roc_auc_ = verification_roc_auc(same.astype(int), oriented)
            self.eer_ = equal_error_rate(same.astype(int), oriented)[0]
            title = f"AUC = {self.roc_auc_:.3f}, EER = {self.eer_:.3f}"
        ax.set_xlabel(self.xlabel)
        ax.set_ylabel("density" if density else "pairs")
        _legend_beside(ax, title=title)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_distances(
        cls,
        distances,
        y,
        *,
        threshold=None,
        xlabel="distance",
        ax=None,
        bins=30,
        density=False,
        higher_is_same=False,
    ):
        """Plot distances already computed.

        Parameters
        ----------
        distances : array-like of shape (n_pairs,)
            Distance of each pair.
        y : array-like of shape (n_pairs,)
            1 (or True) for pairs of the same class, 0, -1 or False otherwise.
        threshold : float or "best", default=None
            Threshold to draw: a distance, ``"best"`` for the one with the
            highest accuracy on these pairs (pairs at or below it called
            "same"), or None for none.
        xlabel : str, default="distance"
            Label of the horizontal axis.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure by default.
        bins : int or sequence of float, default=30
            Number of bins or their edges.
        density : bool, default=False
            Plot densities instead of counts.
        higher_is_same : bool, default=False
            Whether the values are similarity scores rather than distances.

        Returns
        -------
        display : PairDistanceDisplay
            The display, drawn.
        """
        distances = np.asarray(distances, dtype=np.float64).ravel()
        bad = np.flatnonzero(~np.isfinite(distances))
        if len(bad):
            raise ValueError(
                f"distances holds {len(bad)} NaN or infinite values (at "
                f"{bad[:5].tolist()}); a histogram cannot place them. Drop "
                "those pairs, or fix what computed them."
            )
        same = _same_mask(y, len(distances))
        if isinstance(threshold, str):
            if threshold != "best":
                raise ValueError(
                    f"threshold must be a number, 'best' or None; got {threshold!r}."
                )
            threshold = best_threshold_accuracy(same.astype(int), distances)[1]
        elif threshold is not None and not isinstance(threshold, Real):
            raise ValueError(
                f"threshold must be a number, 'best' or None; got {threshold!r}."
            )
        disp = cls(distances, y, threshold=threshold, xlabel=xlabel,
                   higher_is_same=higher_is_same)
        return disp.plot(ax=ax, bins=bins, density=density)

    @classmethod
    def from_estimator(
        cls,
        estimator,
        pairs,
        y,
        *,
        threshold=None,
        distance=None,
        ax=None,
        bins=30,
        density=False,
    ):
        """Plot the distances of ``pairs`` in a fitted estimator's embedding.

        Parameters
        ----------
        estimator : fitted transformer, SiamesePairClassifier or None
            With a transformer (a :class:`~sksiamese.SiameseTransformer`, a
            ``Pipeline`` ending in one, anything with ``transform``), the
            distance between the embeddings of the two sides, as
            :func:`sksiamese.metrics.pair_distances` computes it; ``None``
            compares the raw features. With a
            :class:`~sksiamese.SiamesePairClassifier` (anything with
            ``decision_function`` and ``threshold_``), the classifier's own
            measure: for ``loss="contrastive"`` the distance between the
            embeddings, with its ``threshold_`` marked; for ``loss="bce"`` the
            similarity score (the logit of "same", higher is more similar), as
            the axis label says.
        pairs : array-like of shape (n_pairs, 2, ...)
            ``pairs[:, 0]`` and ``pairs[:, 1]`` are the two sides. A pair
            classifier also takes the pairs in any form its ``fit`` took.
        y : array-like of shape (n_pairs,)
            1 (or True) for pairs of the same class, 0, -1 or False otherwise.
        threshold : float or "best", default=None
            Threshold to draw, in the units of the axis, or ``"best"`` (see
            :meth:`from_distances`). None draws a pair classifier's own
            threshold, and none for a transformer.
        distance : {"euclidean", "cosine"}, default=None
            Distance for a transformer. None takes the transformer's
            ``distance`` parameter, or euclidean for transformers without one.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure by default.
        bins : int or sequence of float, default=30
            Number of bins or their edges.
        density : bool, default=False
            Plot densities instead of counts.

        Returns
        -------
        display : PairDistanceDisplay
            The display, drawn.
        """
        _pyplot("PairDistanceDisplay")
        if hasattr(estimator, "decision_function") and hasattr(estimator, "threshold_"):
            scores = np.asarray(estimator.decision_function(pairs))
            # decision_function is positive for classes_[1]; where "same" is
            # classes_[0] (pos_label="match" on "match", "mismatch") it is minus
            # the similarity's excess over threshold_.
            classes = getattr(estimator, "classes_", None)
            positive = getattr(estimator, "pos_label_", None)
            if classes is not None and len(classes) == 2 and positive is not None \
                    and classes[0] == positive:
                scores = -scores
            similarity = scores + estimator.threshold_
            if getattr(estimator, "loss", "contrastive") == "contrastive":
                # The classifier's similarity is minus the distance.
                name = getattr(estimator, "distance", "euclidean")
                values, own, xlabel = (
                    -similarity,
                    -estimator.threshold_,
                    f"{name} distance",
                )
            else:
                values, own, xlabel = (
                    similarity,
                    estimator.threshold_,
                    "similarity score (higher is more similar)",
                )
            higher_is_same = xlabel.startswith("similarity")
            return cls.from_distances(
                values,
                y,
                threshold=own if threshold is None else threshold,
                xlabel=xlabel,
                ax=ax,
                bins=bins,
                density=density,
                higher_is_same=higher_is_same,
            )
        if estimator is not None and not hasattr(estimator, "transform"):
            raise TypeError(
                "estimator must be a fitted transformer (with transform), a "
                "fitted SiamesePairClassifier (with decision_function and "
                f"threshold_) or None; got {type(estimator).__name__}."
            )
        distance = resolve_distance(estimator, distance)
        distances = pair_distances(estimator, pairs, distance=distance)
        return cls.from_distances(
            distances,
            y,
            threshold=threshold,
            xlabel=f"{distance} distance",
            ax=ax,
            bins=bins,
            density=density,
        )


# -- ROC and DET curves of verification ---------------------------------------
def _verification_scores(estimator, X, y, on, distance, max_pairs, random_state):
    """Labels (1 same, 0 different) and distances of the pairs to draw."""
    if on not in ("samples", "pairs"):
        raise ValueError(f"on must be 'samples' or 'pairs'; got {on!r}.")
    if (not isinstance(max_pairs, (int, np.integer)) or isinstance(max_pairs, bool)
            or max_pairs < 2):
        raise ValueError(f"max_pairs must be an integer >= 2; got {max_pairs!r}.")
    distance = resolve_distance(estimator, distance)
    if on == "pairs":
        same = _same_mask(y, len(X))
        return same.astype(int), pair_distances(estimator, X, distance=distance)
    y = check_labels_defined(np.asarray(y))
    if y.shape != (len(X),):
        raise ValueError(
            f"y should have shape ({len(X)},), one class per sample; got shape "
            f"{y.shape}."
        )
    E = embed(estimator, X)
    n = len(E)
    if n * (n - 1) // 2 <= max_pairs:
        i, j = np.triu_indices(n, k=1)
    else:
        # Every pair would be too many: a uniform sample of distinct pairs.
        rng = np.random.default_rng(random_state)
        i = rng.integers(0, n, max_pairs)
        j = (i + rng.integers(1, n, max_pairs)) % n
    same = (y[i] == y[j]).astype(int)
    if same.all() or not same.any():
        raise ValueError(
            "The pairs of these samples are all of one kind (all same class or "
            "all different); ROC and DET curves need both. Pass samples of two "
            "or more classes, some with two or more samples."
        )
    return same, rowwise(E[i], E[j], distance)


# Axis labels of the verification curves: what a rate counts, in words.
_CURVE_LABELS = {
    "RocCurveDisplay": ("False positive rate\n(different classes called same)",
                        "True positive rate\n(same class called same)"),
    "DetCurveDisplay": ("False positive rate\n(different classes called same)",
                        "False negative rate\n(same class called different)"),
}


def _curve_display(display, kind, estimator, X, y, on, distance, max_pairs,
                   random_state, name, ax, kwargs):
    same, distances = _verification_scores(estimator, X, y, on, distance,
                                           max_pairs, random_state)
    auc = verification_roc_auc(same, distances)
    eer = equal_error_rate(same, distances)[0]
    if name is None:
        name = "raw features" if estimator is None else type(estimator).__name__
    ax = _axes(ax, kind)
    # One label for both curves; scikit-learn's own would add the ROC's AUC to
    # two digits.
    label = f"{name} (AUC = {auc:.3f}, EER = {eer:.3f})"
    # Scores for scikit-learn: higher is "same", so minus the distance.
    disp = display.from_predictions(same, -distances, pos_label=1, name=name,
                                    ax=ax, **kwargs)
    disp.line_.set_label(label)
    xlabel, ylabel = _CURVE_LABELS[display.__name__]
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    # Below the axes, where it hides no curve (scikit-learn's sits inside);
    # there it leaves the square axes their width.
    _legend_beside(ax, below=True, fontsize="small")
    disp.roc_auc_, disp.eer_ = auc, eer
    return disp


def roc_curve_display(estimator, X, y, *, on="samples", distance=None,
                      max_pairs=100_000, random_state=None, name=None, ax=None,
                      **kwargs):
    """The ROC curve of verification by distance in an embedding.

    Drawn by scikit-learn's ``RocCurveDisplay`` from minus the distances (a
    pair is "same" when close), with the AUC and the equal error rate in the
    legend, as ``"name (AUC = 0.935, EER = 0.143)"`` (the same as on the DET
    curve), below the axes; the axis labels say that the positive pairs are
    those of the same class.

    Parameters
    ----------
    estimator : fitted transformer or None
        A fitted :class:`~sksiamese.SiameseTransformer`, a ``Pipeline``
        ending in one, any fitted transformer; ``None`` compares raw features.
    X : array-like
        With ``on="samples"``, samples of shape ``(n_samples, ...)``, and
        every pair of them is drawn (or ``max_pairs`` pairs drawn at
        random); with ``on="pairs"``, pairs of shape ``(n_pairs, 2, ...)``.
    y : array-like
        Class labels of the samples, or, for pairs, 1 (or True) for the
        same class and 0, -1 or False otherwise.
    on : {"samples", "pairs"}, default="samples"
        What ``X`` holds.
    distance : {"euclidean", "cosine"}, default=None
        ``None`` takes the estimator's ``distance`` parameter, or euclidean.
    max_pairs : int, default=100_000
        At most this many pairs of samples: beyond, a uniform random sample
        of pairs of distinct samples.
    random_state : int or None, default=None
        Draws the sample of pairs.
    name : str, default=None
        Name in the legend; the estimator's class name by default.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure by default. A figure without a layout
        engine is given ``layout="constrained"``, so that the legend and the
        axis labels stay inside it.
    **kwargs : dict
        Passed to ``RocCurveDisplay.from_predictions``.

    Returns
    -------
    display : sklearn.metrics.RocCurveDisplay
        scikit-learn's display, with ``roc_auc_`` and ``eer_`` added.

    See Also
    --------
    det_curve_display : the same pairs as a DET curve.
    PairDistanceDisplay : the distances themselves, as histograms.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_digits
    >>> from sksiamese.plotting import roc_curve_display
    >>> X, y = load_digits(return_X_y=True)
    >>> disp = roc_curve_display(None, X[:200], y[:200], name="pixels")
    >>> disp.line_.get_label()
    'pixels (AUC = 0.942, EER = 0.121)'
    >>> plt.close("all")
    """
    from sklearn.metrics import RocCurveDisplay

    return _curve_display(RocCurveDisplay, "roc_curve_display", estimator, X, y,
                          on, distance, max_pairs, random_state, name, ax, kwargs)


def det_curve_display(estimator, X, y, *, on="samples", distance=None,
                      max_pairs=100_000, random_state=None, name=None, ax=None,
                      **kwargs):
    """The DET curve of verification by distance in an embedding.

    Drawn by scikit-learn's ``DetCurveDisplay`` (false reject against false
    accept rate, on normal deviate scales), with the AUC and the equal error
    rate in the legend. The parameters are those of
    :func:`roc_curve_display`.

    Returns
    -------
    display : sklearn.metrics.DetCurveDisplay
        scikit-learn's display, with ``roc_auc_`` and ``eer_`` added.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_digits
    >>> from sksiamese.plotting import det_curve_display
    >>> X, y = load_digits(return_X_y=True)
    >>> disp = det_curve_display(None, X[:200], y[:200], name="pixels")
    >>> disp.line_.get_label()
    'pixels (AUC = 0.942, EER = 0.121)'
    >>> plt.close("all")
    """
    from sklearn.metrics import DetCurveDisplay

    return _curve_display(DetCurveDisplay, "det_curve_display", estimator, X, y,
                          on, distance, max_pairs, random_state, name, ax, kwargs)


# -- training curves ----------------------------------------------------------
def _numeric(value):
    return isinstance(value, Real) and not isinstance(value, (bool, np.bool_))


class TrainingCurveDisplay:
    """Per-epoch training curves (losses and held-out scores) from a skorch history.

    Build it with :meth:`from_estimator` (a fitted estimator with a
    ``history_``, such as :class:`~sksiamese.SiameseTransformer`) or
    :meth:`from_history`. Losses are drawn on the left axis; other values
    (the held-out scores ``valid_precision_at_1``, ``valid_one_shot_accuracy``
    recorded with ``validation_fraction``), where drawn beside losses, on a
    second axis on the right. Epochs are marked with integer ticks.

    Parameters
    ----------
    epochs : ndarray of shape (n_epochs,)
        Epoch numbers, the horizontal axis.
    curves : dict of str to ndarray of shape (n_epochs,)
        One curve per name; NaN where an epoch has no value.
    best_epoch : int, default=None
        An epoch to mark on every curve, such as the ``best_epoch_`` whose
        weights early stopping kept; none if None.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the curves (the losses, where there are other curves too).
    score_ax_ : matplotlib Axes or None
        The second axis, on the right, of the curves that are not losses,
        where losses are drawn too; None otherwise.
    figure_ : matplotlib Figure
        Figure containing the plot.
    lines_ : dict of str to matplotlib Line2D
        The line of each curve.
    best_epoch_line_ : matplotlib Line2D or None
        The vertical line at ``best_epoch``; each curve also has a star marker
        there.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_digits
    >>> from sksiamese import SiameseTransformer
    >>> from sksiamese.plotting import TrainingCurveDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> emb = SiameseTransformer(max_epochs=3, random_state=0).fit(X, y)
    >>> disp = TrainingCurveDisplay.from_estimator(emb)
    >>> list(disp.lines_), len(disp.lines_["train_loss"].get_xdata())
    (['train_loss'], 3)
    >>> plt.close("all")
    """

    def __init__(self, epochs, curves, *, best_epoch=None):
        self.epochs = epochs
        self.curves = curves
        self.best_epoch = best_epoch

    def plot(self, ax=None, *, log_scale=False, name=None, **kwargs):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure by default. A figure without a layout
            engine is given ``layout="constrained"``, so that the legend,
            placed right of the axes where it hides no curve, stays inside it.
        log_scale : bool, default=False
            Use a logarithmic vertical axis (for the losses).
        name : str, default=None
            Added to each curve's legend entry, as ``"train_loss (adam)"``, to
            tell apart the curves of several models drawn on one axes.
        **kwargs : dict
            Passed to ``matplotlib.axes.Axes.plot`` (``marker``, ...). By
            default each curve has small round markers, so that a curve of a
            single epoch shows, and held-out curves are dashed.

        Returns
        -------
        display : TrainingCurveDisplay
            This display, with ``ax_``, ``score_ax_``, ``figure_``, ``lines_``
            and ``best_epoch_line_`` set.
        """
        from matplotlib.ticker import MaxNLocator

        ax = _axes(ax, "TrainingCurveDisplay")
        epochs = np.asarray(self.epochs)
        losses = [k for k in self.curves if k.endswith("loss")]
        others = [k for k in self.curves if not k.endswith("loss")]
        self.score_ax_ = ax.twinx() if losses and others else None
        self.lines_ = {}
        for key, values in self.curves.items():
            on = self.score_ax_ if self.score_ax_ is not None and key in others \
                else ax
            style = {"marker": "o", "markersize": 3,
                     "linestyle": "--" if key.startswith("valid_") else "-"}
            if self.score_ax_ is not None:
                # The twin's colours would start again at C0.
                style["color"] = f"C{len(ax.lines) + len(self.score_ax_.lines)}"
            label = key if name is None else f"{key} ({name})"
            (self.lines_[key],) = on.plot(
                epochs, np.asarray(values, dtype=float), label=label,
                **{**style, **kwargs}
            )
        if log_scale:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        main = losses if self.score_ax_ is not None else list(self.curves)
        ax.set_ylabel("loss" if all(k.endswith("loss") for k in main) else "value")
        if self.score_ax_ is not None:
            self.score_ax_.set_ylabel(
                "held-out score" if all(k.startswith("valid_") for k in others)
                else "value")
        self.best_epoch_line_ = None
        if self.best_epoch is not None:
            self._mark_best(ax, epochs)
        _legend_beside(ax, step_over=() if self.score_ax_ is None
                       else (self.score_ax_,))
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    def _mark_best(self, ax, epochs):
        """A vertical line at ``best_epoch`` and a star on each curve there."""
        at = np.flatnonzero(epochs == self.best_epoch)
        self.best_epoch_line_ = ax.axvline(
            self.best_epoch, color="black", linestyle=":", linewidth=1,
            label=f"best epoch ({self.best_epoch})")
        if not len(at):
            return
        for line in self.lines_.values():
            value = line.get_ydata()[at[0]]
            if np.isfinite(value):
                line.axes.plot([self.best_epoch], [value], marker="*",
                               markersize=12, color=line.get_color(),
                               linestyle="none", label="_best epoch")

    @classmethod
    def from_history(cls, history, *, keys=None, best_epoch=None, ax=None,
                     log_scale=False, name=None, **kwargs):
        """Plot curves from a skorch ``History`` (or a list of per-epoch dicts).

        Parameters
        ----------
        history : skorch.History or list of dict
            One dict per epoch, as skorch records them.
        keys : list of str, default=None
            Which entries to plot, for example ``["train_loss", "valid_loss"]``
            or ``["valid_acc"]``. None plots every numeric entry whose name
            ends in ``"loss"`` and the held-out scores, whose names start with
            ``"valid_"``, where they were recorded.
        best_epoch : int, default=None
            An epoch to mark, such as an estimator's ``best_epoch_``.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure by default.
        log_scale : bool, default=False
            Use a logarithmic vertical axis.
        name : str, default=None
            Added to each legend entry, to tell models apart (see :meth:`plot`).
        **kwargs : dict
            Passed to ``matplotlib.axes.Axes.plot``.

        Returns
        -------
        display : TrainingCurveDisplay
            The display, drawn.
        """
        rows = [dict(row) for row in history]
        if not rows:
            raise ValueError("The history is empty: there is no epoch to plot.")
        numeric = sorted(
            {
                k
                for row in rows
                for k, v in row.items()
                if k not in ("epoch", "dur", "batches") and _numeric(v)
            }
        )
        if keys is None:
            keys = [k for k in numeric if k.endswith("loss")]
            if not keys:
                raise ValueError(
                    "The history has no numeric entry ending in 'loss'; pass keys "
                    f"to choose among {numeric}."
                )
            # Held-out scores, not skorch's counts of batches.
            keys += [k for k in numeric if k.startswith("valid_")
                     and not k.endswith(("loss", "_count"))]
        else:
            keys = [keys] if isinstance(keys, str) else list(keys)
            missing = [k for k in keys if k not in numeric]
            if missing:
                raise ValueError(
                    f"The history has no numeric entries {missing}; its numeric "
                    f"per-epoch entries are {numeric}."
                )
        epochs = np.array([row.get("epoch", i + 1) for i, row in enumerate(rows)])
        curves = {
            k: np.array(
                [row[k] if _numeric(row.get(k)) else np.nan for row in rows],
                dtype=float,
            )
            for k in keys
        }
        return cls(epochs, curves, best_epoch=best_epoch).plot(
            ax=ax, log_scale=log_scale, name=name, **kwargs)

    @classmethod
    def from_estimator(
        cls, estimator, *, keys=None, ax=None, log_scale=False, name=None, **kwargs
    ):
        """Plot the training curves of a fitted estimator's ``history_``.

        Parameters
        ----------
        estimator : fitted estimator
            An estimator with a skorch ``history_``: a fitted
            :class:`~sksiamese.SiameseTransformer` or
            :class:`~sksiamese.SiamesePairClassifier`. Its ``best_epoch_``,
            where it has one (early stopping), is marked on the curves.
        keys : list of str, default=None
            Which entries to plot; None plots those ending in ``"loss"`` and
            the held-out scores (``"valid_..."``) where they were recorded.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure by default.
        log_scale : bool, default=False
            Use a logarithmic vertical axis.
        name : str, default=None
            Added to each legend entry, to tell models apart (see :meth:`plot`).
        **kwargs : dict
            Passed to ``matplotlib.axes.Axes.plot``.

        Returns
        -------
        display : TrainingCurveDisplay
            The display, drawn.
        """
        _pyplot("TrainingCurveDisplay")
        check_is_fitted(estimator)
        if not hasattr(estimator, "history_"):
            raise TypeError(
                f"{type(estimator).__name__} has no history_ to plot; pass an "
                "estimator trained with skorch, such as SiameseTransformer, or "
                "use TrainingCurveDisplay.from_history."
            )
        return cls.from_history(
            estimator.history_, keys=keys,
            best_epoch=getattr(estimator, "best_epoch_", None), ax=ax,
            log_scale=log_scale, name=name, **kwargs
        )
