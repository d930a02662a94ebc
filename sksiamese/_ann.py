"""Nearest-neighbour indexes for large galleries: faiss, or a scikit-learn object.

``FaissIndex``: an inverted-file index (faiss ``IndexIVFFlat``, optional): the
gallery is split into ``n_lists`` k-means cells and a query is compared with
the rows of the ``n_probe`` nearest cells only.

``EstimatorIndex``: any object that follows scikit-learn's neighbours API, a
``NearestNeighbors`` (exact, with a tree) or an approximate search packaged
for scikit-learn such as ``pynndescent.PyNNDescentTransformer`` (``fit``, then
``kneighbors``, or ``transform`` to a sparse distance graph).

Both search rows in which euclidean order is the distance's order (unit
vectors for cosine), and the candidates they return are then ranked by their
exact float64 distances, so that every distance reported is exact and only
the choice of candidates can be approximate.
"""

import math
import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone

from ._distances import _float64, kneighbors, normalize_rows, rowwise

# Cells are probed in this proportion (at least one): about 6% of the gallery
# is scanned per query, which measured recall@1 above 0.9 on 64-dimensional
# data (benchmarks/large_gallery.py).
_PROBE_FRACTION = 1 / 16

# k-means of the cells trains on at most this many rows per cell.
_TRAIN_PER_LIST = 64


def _rerank(Q, R, cand, found, distance, k):
    """The ``k`` nearest of the candidate rows ``cand`` of ``R``, by exact distance.

    Entries where ``found`` is false are no candidate: they come last, at an
    infinite distance and the index ``len(R)``.
    """
    cand = np.where(found, cand, 0)
    dist = rowwise(np.repeat(Q, cand.shape[1], axis=0), R[cand.ravel()],
                   distance).reshape(cand.shape)
    dist[~found] = np.inf
    cand[~found] = len(R)
    order = np.lexsort((cand, dist), axis=1)[:, :k]
    return (np.take_along_axis(dist, order, axis=1),
            np.take_along_axis(cand, order, axis=1))


def _faiss():
    try:
        import faiss
    except ImportError:
        raise ImportError(
            "algorithm='faiss' needs the faiss library. Install it with "
            "`pip install 'sksiamese[ann]'` (or `pip install faiss-cpu`), or use "
            "algorithm='brute', the exact search."
        ) from None
    return faiss


class _ScaledRows:
    """The gallery ``R`` of an index, and the rows it searches.

    Unit vectors for cosine, whose euclidean order is the cosine order;
    otherwise the rows divided by the gallery's largest entry, which changes
    no order and keeps float32 searches finite (their squares overflow
    beyond ~1e19). Queries take the same scaling.
    """

    def __init__(self, R, distance):
        self.distance = distance
        self.R = _float64(R)
        top = float(np.abs(self.R).max()) if self.R.size else 0.0
        self.scale = top if top > 0 else 1.0

    def _scaled(self, X):
        if self.distance == "cosine":
            return normalize_rows(X)
        return _float64(X) / self.scale

    def _wanted(self, k):
        # A few more candidates than k: their exact distances may reorder them.
        return min(len(self.R), k + 4)


class FaissIndex(_ScaledRows):
    """An inverted-file index of the rows of ``R`` (after ``distance``'s scaling)."""

    def __init__(self, R, distance, *, random_state=0):
        faiss = _faiss()
        super().__init__(R, distance)
        n, d = self.R.shape
        self.n_lists = max(1, min(int(math.sqrt(n)), n // _TRAIN_PER_LIST))
        self.n_probe = max(1, math.ceil(self.n_lists * _PROBE_FRACTION))
        quantizer = faiss.IndexFlatL2(d)
        self.index = faiss.IndexIVFFlat(quantizer, d, self.n_lists)
        self.index.cp.seed = int(random_state)
        rows = self._rows(self.R)
        rng = np.random.default_rng(random_state)
        train = rows[rng.permutation(n)[: self.n_lists * _TRAIN_PER_LIST]]
        self.index.train(train)
        self.index.add(rows)
        self.index.nprobe = self.n_probe

    def _rows(self, X):
        """float32 rows for faiss."""
        return np.ascontiguousarray(self._scaled(X), dtype=np.float32)

    def kneighbors(self, Q, k):
        """``(distances, indices)`` of ``k`` approximate nearest rows, nearest first."""
        Q = _float64(Q)
        _, cand = self.index.search(self._rows(Q), self._wanted(k))
        return _rerank(Q, self.R, cand, cand >= 0, self.distance, k)


# Metrics whose order, on the rows searched, is that of the classifier's
# distance: euclidean ones always (the rows are unit vectors for cosine).
_EUCLIDEAN = ("euclidean", "l2", "sqeuclidean")


def _metric(estimator):
    """The metric ``estimator`` searches by, normalised, or None if it has none.

    ``minkowski`` with ``p=2`` (scikit-learn's default) is ``"euclidean"``.
    """
    params = estimator.get_params(deep=False)
    if "metric" not in params:
        return None
    metric = params["metric"]
    extra = params.get("metric_params") or params.get("metric_kwds") or {}
    if isinstance(metric, str) and metric.lower() == "minkowski":
        p = extra.get("p", params.get("p", 2))
        p = 2 if p is None else p
        extra = {key: value for key, value in extra.items() if key != "p"}
        metric = "euclidean" if isinstance(p, numbers.Real) and p == 2 else (
            f"minkowski with p={p!r}")
    elif isinstance(metric, str):
        metric = metric.lower()
    if extra:
        # Weights or other metric parameters change the order of neighbours.
        return f"{metric} with metric parameters {extra!r}"
    return metric if isinstance(metric, str) else repr(metric)


def describe(estimator):
    """A short name of a search object for messages: its class and metric."""
    metric = getattr(estimator, "metric", None)
    return (f"{type(estimator).__name__}(metric={metric!r})" if metric is not None
            else type(estimator).__name__)


def check_search(estimator, distance):
    """Raise a ValueError unless ``estimator`` can search by ``distance``."""
    metric = _metric(estimator)
    if metric is None or metric in _EUCLIDEAN or metric == distance:
        return
    fix = (", or set distance='cosine' on the classifier" if metric == "cosine"
           else " (with distance='cosine' too: the rows it searches are then "
                "unit vectors, whose euclidean order is the cosine order)")
    raise ValueError(
        f"algorithm={describe(estimator)} searches by the {metric} metric, but "
        f"the classifier measures {distance} distances: it would return other "
        f"neighbours than the exact search. Give it metric='euclidean'{fix}."
    )


class EstimatorIndex(_ScaledRows):
    """A fitted clone of a scikit-learn neighbours object over the rows of ``R``.

    The clone is fitted on the rows, scaled as ``FaissIndex`` scales them
    (unit vectors for cosine; else divided by the largest entry, which keeps
    float32 searches finite and changes no order). A query takes the
    object's ``kneighbors(X, n_neighbors, return_distance=True)`` if it has
    one, else the sparse distance graph of its ``transform(X)`` (a
    ``KNeighborsTransformer``-like object, which gives as many neighbours as
    its own ``n_neighbors``). Queries for which it finds fewer than ``k``
    rows are searched exactly.
    """

    def __init__(self, estimator, R, distance):
        check_search(estimator, distance)
        super().__init__(R, distance)
        self.estimator = clone(estimator).fit(self._rows(self.R))
        if not hasattr(self.estimator, "kneighbors") and len(self.R):
            # A transformer of another kind says so now, not at the first query.
            self._candidates(self.R[:1], 1)

    def _rows(self, X):
        return np.ascontiguousarray(self._scaled(X), dtype=np.float64)

    def _candidates(self, Q, want):
        """Candidate row indices of each query and where they are real."""
        rows = self._rows(Q)
        if hasattr(self.estimator, "kneighbors"):
            _, cand = self.estimator.kneighbors(rows, n_neighbors=want,
                                                return_distance=True)
            cand = np.asarray(cand, dtype=np.intp)
            return cand, (cand >= 0) & (cand < len(self.R))
        graph = self.estimator.transform(rows)
        if not sp.issparse(graph) or graph.shape != (len(Q), len(self.R)):
            raise ValueError(
                f"algorithm={describe(self.estimator)} has no kneighbors, and "
                "its transform returned "
                + (f"a {type(graph).__name__}" if not sp.issparse(graph) else
                   f"a sparse matrix of shape {graph.shape}")
                + f", not the sparse distance graph of shape ({len(Q)}, "
                f"{len(self.R)}) of a KNeighborsTransformer. Pass an object "
                "with kneighbors(X, n_neighbors, return_distance=True), or "
                "one whose transform gives that graph."
            )
        graph = sp.csr_array(graph)
        counts = np.diff(graph.indptr)
        width = int(counts.max()) if len(counts) else 0
        cand = np.zeros((len(Q), max(width, 1)), dtype=np.intp)
        found = np.arange(cand.shape[1])[None, :] < counts[:, None]
        cand[found] = graph.indices
        return cand, found

    def kneighbors(self, Q, k):
        """``(distances, indices)`` of ``k`` nearest rows found, nearest first."""
        Q = _float64(Q)
        cand, found = self._candidates(Q, self._wanted(k))
        if not hasattr(self.estimator, "kneighbors") and cand.shape[1] < k <= len(
                self.R):
            n_graph = cand.shape[1] if found.any() else 0
            raise ValueError(
                f"algorithm={describe(self.estimator)} returns {n_graph} "
                f"neighbours per query (its transform's graph), fewer than the "
                f"{k} asked for. Raise its n_neighbors to at least {k}, or ask "
                "for fewer."
            )
        dist, ind = _rerank(Q, self.R, cand, found, self.distance, k)
        short = ~np.isfinite(dist).all(axis=1)
        if short.any():
            dist[short], ind[short] = kneighbors(Q[short], self.R, k, self.distance)
        return dist, ind
