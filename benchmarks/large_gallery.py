"""Nearest-neighbour search in large galleries: exact, plain loop and faiss.

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
  index; its build time is printed apart).

    python benchmarks/large_gallery.py [--sizes 10000 100000 1000000]
"""

import argparse
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
    start = time.perf_counter()
    clf = OneShotClassifier(None, algorithm="brute" if method == "exact" else "faiss")
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
    args = parser.parse_args()
    print(f"{'gallery':>9} {'method':>6} {'queries/s':>10} {'recall@1':>9} "
          f"{'build s':>8} {'peak MB':>8} {'data MB':>8}  exact/plain")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            truth = str(Path(tmp) / f"truth{n}.npy")
            exact = run("exact", n, args.dims, args.queries, "-", truth)
            results = {"exact": exact}
            results["plain"] = run("plain", n, args.dims, args.queries, truth)
            results["faiss"] = run("faiss", n, args.dims, args.queries, truth)
            ratio = exact["seconds"] / results["plain"]["seconds"]
            for method, r in results.items():
                print(f"{n:>9} {method:>6} {args.queries / r['seconds']:>10.0f} "
                      f"{r['recall']:>9.3f} {r['build']:>8.2f} {r['peak_mb']:>8.0f} "
                      f"{r['data_mb']:>8.0f}"
                      + (f"  {ratio:.2f}" if method == "exact" else ""), flush=True)


if __name__ == "__main__":
    main()
