"""Peak memory of SiameseTransformer.fit on 50k, 100k and 200k rows.

Each size runs in a fresh process; the script prints the peak resident memory,
the size of the data itself, and the growth per 1,000 extra rows. Memory that
grew with the square of n (all pairs, an n x n distance matrix) would show as
a per-row cost that rises with n; here it should stay flat.

    python benchmarks/bench_memory.py
"""

import argparse
import subprocess
import sys

CHILD = """
import resource, sys
import numpy as np
from sksiamese import SiameseTransformer
n, d = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
X = rng.standard_normal(size=(n, d), dtype=np.float32)
y = rng.integers(0, n // 20, size=n)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
SiameseTransformer(max_epochs=1, batch_size=256, random_state=0).fit(X, y)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(base, peak)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+",
                        default=[50_000, 100_000, 200_000])
    parser.add_argument("--features", type=int, default=256)
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        out = subprocess.run([sys.executable, "-c", CHILD, str(n), str(args.features)],
                             check=True, capture_output=True, text=True).stdout
        base_kb, peak_kb = map(int, out.split())
        rows.append((n, peak_kb / 1024, base_kb / 1024))
    print(f"{'rows':>8} {'data MiB':>9} {'peak RSS MiB':>13} {'fit adds MiB':>13}")
    for n, peak, base in rows:
        data = n * args.features * 4 / 2**20
        print(f"{n:>8} {data:>9.1f} {peak:>13.1f} {peak - base:>13.1f}")
    for (n0, p0, _), (n1, p1, _) in zip(rows, rows[1:], strict=False):
        per_k = (p1 - p0) / ((n1 - n0) / 1000)
        print(f"growth {n0}->{n1}: {per_k:.3f} MiB per 1,000 rows "
              f"(the data alone: {args.features * 4 * 1000 / 2**20:.3f})")


if __name__ == "__main__":
    main()
