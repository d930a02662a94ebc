"""Nearest-neighbour search in large galleries: exact, plain loop, faiss, trees.

For galleries of 10^4, 10^5 and 10^6 rows of 64 dimensions (classes of five
samples around random centres, as enrolled identities are), each method
answers the same queries in a fresh process, which reports its query
throughput, recall@1 against exact search and peak memory above the data:

- ``exact``: ``OneShotClassifier(None).kneighbors`` (the library's blockwise
  exact search);
- ``plain``: a plain numpy loop over tiles of the same size (matrix-form
  squared distances, a running minimum), the reference the exact search
  must stay within 2x of;
- ``faiss``: ``OneShotClassifier(None, algorithm="faiss")`` (inverted-file
  index; its build time is printed apart);
- ``ball_tree``: ``OneShotClassifier(None,
  algorithm=NearestNeighbors(algorithm="ball_tree"))``, scikit-learn's exact
  tree, through the neighbours-API path (a fitted clone, candidates ranked
  by exact distance);
- ``pynndescent``: ``algorithm=pynndescent.PyNNDescentTransformer(
  n_neighbors=10, random_state=0)``, an approximate graph search packaged for
  scikit-learn (numba compiles it on a small gallery first, outside the
  timings).

A method whose library is not installed (faiss, pynndescent) is skipped.

Measured on 2 shared CPU cores, ``OMP_NUM_THREADS=1``, faiss not installed,
pynndescent 0.7.0 (``--sizes 10000 100000``, then ``--sizes 100000 --dims 8``
and ``--dims 3``)::

      gallery      method  queries/s  recall@1  build s  peak MB  data MB
        10000       exact       4407     1.000     0.32       98        5
        10000       plain       8126     1.000     0.00       28        5
        10000   ball_tree       1712     1.000     0.10       26        5
        10000 pynndescent      20751     0.963    20.92      470        5
       100000       exact       1344     1.000     0.27      158       49
       100000       plain       1539     1.000     0.00       53       49
       100000   ball_tree         44     1.000     1.58       82       49
       100000 pynndescent      21236     0.764     2.91      479       49
     8 dims:
       100000       exact       1220     1.000     0.17      122        6
       100000   ball_tree        914     1.000     0.30       18        6
       100000 pynndescent      20811     0.956     8.31      399        6
     3 dims:
       100000       exact       1617     1.000     0.18      100        2
       100000   ball_tree      19287     1.000     0.22       13        2

The first pynndescent build includes numba's compilation (about 20 s).

    python benchmarks/large_gallery.py [--sizes 10000 100000 1000000]
        [--dims 64] [--methods exact plain faiss ball_tree pynndescent]
"""

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import numpy as np
method = sys.argv[1]
n, d, n_queries = map(int, sys.argv[2:5])
rng = np.random.default_rng(0)
centres = rng.standard_normal((n // 5, d))
labels = rng.integers(0, len(centres), n)
R = centres[labels] + 0.3 * rng.standard_normal((n, d))
Q = (centres[rng.integers(0, len(centres), n_queries)]
     + 0.3 * rng.standard_normal((n_queries, d)))
truth = np.load(sys.argv[5]) if sys.argv[5] != "-" else None
from sksiamese import OneShotClassifier
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
build = 0.0
if method == "plain":
    def search():
        sq_r = (R * R).sum(1)
        best = np.empty(len(Q), dtype=np.intp)
        q_step, r_step = 256, 2**20 // 256
        for s in range(0, len(Q), q_step):
            q = Q[s:s + q_step]
            sq_q = (q * q).sum(1)[:, None]
            low = np.full(len(q), np.inf)
            for t in range(0, len(R), r_step):
                d2 = sq_q + sq_r[None, t:t + r_step] - 2 * q @ R[t:t + r_step].T
                j = d2.argmin(1)
                v = d2[np.arange(len(q)), j]
                better = v < low
                low[better], best[s:s + q_step][better] = v[better], j[better] + t
        return best
else:
    if method == "ball_tree":
        from sklearn.neighbors import NearestNeighbors
        algorithm = NearestNeighbors(algorithm="ball_tree")
    elif method == "pynndescent":
        from pynndescent import PyNNDescentTransformer
        algorithm = PyNNDescentTransformer(n_neighbors=10, random_state=0)
        OneShotClassifier(None, algorithm=algorithm).fit(
            R[:500], labels[:500]).kneighbors(Q[:10], 1)  # numba compiles
    else:
        algorithm = "brute" if method == "exact" else "faiss"
    start = time.perf_counter()
    clf = OneShotClassifier(None, algorithm=algorithm)
    clf.fit(R, labels)
    build = time.perf_counter() - start
    def search():
        return clf.kneighbors(Q, n_neighbors=1, return_distance=False)[:, 0]
search()  # warm-up
times = []
for _ in range(3):
    start = time.perf_counter()
    found = search()
    times.append(time.perf_counter() - start)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if method == "exact" and len(sys.argv) > 6:
    np.save(sys.argv[6], found)
recall = float(np.mean(found == truth)) if truth is not None else 1.0
print(json.dumps({"seconds": sorted(times)[1], "build": build, "recall": recall,
                  "peak_mb": (peak - base) / 1024, "data_mb": R.nbytes / 2**20}))
"""


# Each method, and the module it needs (None: none beyond sksiamese).
METHODS = {"exact": None, "plain": None, "faiss": "faiss", "ball_tree": None,
           "pynndescent": "pynndescent"}


def run(method, n, d, n_queries, *extra):
    out = subprocess.run([sys.executable, "-c", CHILD, method, str(n), str(d),
                          str(n_queries), *extra],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+",
                        default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--dims", type=int, default=64)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--methods", nargs="+", default=list(METHODS),
                        choices=list(METHODS))
    args = parser.parse_args()
    methods = [m for m in args.methods
               if METHODS[m] is None or importlib.util.find_spec(METHODS[m])]
    for m in sorted(set(args.methods) - set(methods)):
        print(f"{m}: skipped, {METHODS[m]} is not installed")
    print(f"{'gallery':>9} {'method':>11} {'queries/s':>10} {'recall@1':>9} "
          f"{'build s':>8} {'peak MB':>8} {'data MB':>8}  exact/plain")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            truth = str(Path(tmp) / f"truth{n}.npy")
            exact = run("exact", n, args.dims, args.queries, "-", truth)
            results = {"exact": exact}
            for method in methods:
                if method != "exact":
                    results[method] = run(method, n, args.dims, args.queries, truth)
            ratio = (exact["seconds"] / results["plain"]["seconds"]
                     if "plain" in results else float("nan"))
            for method, r in results.items():
                print(f"{n:>9} {method:>11} {args.queries / r['seconds']:>10.0f} "
                      f"{r['recall']:>9.3f} {r['build']:>8.2f} {r['peak_mb']:>8.0f} "
                      f"{r['data_mb']:>8.0f}"
                      + (f"  {ratio:.2f}" if method == "exact" else ""), flush=True)


if __name__ == "__main__":
    main()
