"""Approximate nearest neighbours for large galleries, on faiss (optional).

An inverted-file index (faiss ``IndexIVFFlat``): the gallery is split into
``n_lists`` k-means cells and a query is compared with the rows of the
``n_probe`` nearest cells only. The candidates it returns are then ranked by
their exact float64 distances, so that every distance reported is exact and
only the choice of candidates is approximate.
"""

import math

import numpy as np

from ._distances import _float64, normalize_rows, rowwise

# Cells are probed in this proportion (at least one): about 6% of the gallery
# is scanned per query, which measured recall@1 above 0.9 on 64-dimensional
# data (benchmarks/large_gallery.py).
_PROBE_FRACTION = 1 / 16

# k-means of the cells trains on at most this many rows per cell.
_TRAIN_PER_LIST = 64


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


class FaissIndex:
    """An inverted-file index of the rows of ``R`` (after ``distance``'s scaling)."""

    def __init__(self, R, distance, *, random_state=0):
        faiss = _faiss()
        self.distance = distance
        self.R = _float64(R)
        n, d = self.R.shape
        self.n_lists = max(1, min(int(math.sqrt(n)), n // _TRAIN_PER_LIST))
        self.n_probe = max(1, math.ceil(self.n_lists * _PROBE_FRACTION))
        quantizer = faiss.IndexFlatL2(d)
        self.index = faiss.IndexIVFFlat(quantizer, d, self.n_lists)
        self.index.cp.seed = int(random_state)
        # faiss works in float32, whose squares overflow beyond ~1e19: the
        # gallery's largest entry becomes 1 (queries take the same factor).
        top = float(np.abs(self.R).max()) if self.R.size else 0.0
        self.scale = top if top > 0 else 1.0
        rows = self._rows(self.R)
        rng = np.random.default_rng(random_state)
        train = rows[rng.permutation(n)[: self.n_lists * _TRAIN_PER_LIST]]
        self.index.train(train)
        self.index.add(rows)
        self.index.nprobe = self.n_probe

    def _rows(self, X):
        """float32 rows for faiss; unit vectors for cosine, whose order L2 keeps."""
        X = normalize_rows(X) if self.distance == "cosine" else _float64(X) / self.scale
        return np.ascontiguousarray(X, dtype=np.float32)

    def kneighbors(self, Q, k):
        """``(distances, indices)`` of ``k`` approximate nearest rows, nearest first."""
        Q = _float64(Q)
        # A few more candidates than k: their exact distances may reorder them.
        want = min(len(self.R), k + 4)
        _, cand = self.index.search(self._rows(Q), want)
        found = cand >= 0
        cand = np.where(found, cand, 0)
        dist = rowwise(np.repeat(Q, want, axis=0), self.R[cand.ravel()],
                       self.distance).reshape(cand.shape)
        dist[~found] = np.inf
        cand[~found] = len(self.R)
        order = np.lexsort((cand, dist), axis=1)[:, :k]
        return (np.take_along_axis(dist, order, axis=1),
                np.take_along_axis(cand, order, axis=1))
