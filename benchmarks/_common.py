"""Shared pieces of the benchmark scripts: timing, alternation, reporting."""

import statistics
import time

import torch


def median_ratio(run_library, run_plain, repeats, label):
    """Time both callables alternately ``repeats`` times; print and return medians.

    Alternating (library, plain, library, ...) spreads the noise of a shared
    machine over both sides. One untimed warm-up run of each comes first.
    """
    run_library()
    run_plain()
    lib_times, plain_times = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        run_library()
        lib_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        run_plain()
        plain_times.append(time.perf_counter() - start)
    ratios = [a / b for a, b in zip(lib_times, plain_times, strict=True)]
    lib, plain = statistics.median(lib_times), statistics.median(plain_times)
    ratio = statistics.median(ratios)
    print(
        f"{label:<34} sksiamese {lib:8.3f} s   plain torch {plain:8.3f} s   "
        f"ratio {ratio:.3f} (median of {repeats}; per-run "
        f"{', '.join(f'{r:.3f}' for r in ratios)})",
        flush=True,
    )
    return ratio


def device_note():
    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name()}"
    return f"cpu, {torch.get_num_threads()} torch threads"
