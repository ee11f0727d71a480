"""Benchmarks of the tuning path: the rolling z-score and parameter sweeps on dask."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from vth.demo.airquality import airquality_history, airquality_labels
from vth.detectors.deviation import trailing_zscore
from vth.detectors.tuning import (
    DataSpec,
    MatchOptions,
    SweepJob,
    dask_client,
    parameter_sets,
    run_sweep,
)
from vth.sensing.archive import write_archive

ROOT = Path(__file__).resolve().parents[1]


def _best(func: object, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def tuning_rows() -> list[tuple[str, str, str, str]]:
    """Rows of the results table for the deviation detector and sweeps."""
    rng = np.random.default_rng(1)
    rows = []

    # 1. Trailing z-score (the deviation detector's core): 60 sensors x 1 y of 1-min data.
    values = rng.normal(100, 10, (60, 365 * 24 * 60))
    values[rng.random(values.shape) < 0.02] = np.nan
    window = 24 * 60
    ours = _best(lambda: trailing_zscore(values, window, 0.5))
    frame = pd.DataFrame(values.T)

    def pandas_z() -> None:
        rolling = frame.rolling(window, min_periods=window // 2)
        mean, std = rolling.mean().shift(1), rolling.std().shift(1)
        (frame - mean) / std

    theirs = _best(pandas_z, repeats=1)
    n = values.size
    rows.append(
        (
            "trailing z-score (deviation detector), 60 sensors x 1 y of 1-min data, 24 h window",
            f"{n / ours / 1e6:.0f} M samples/s ({ours:.1f} s)",
            f"pandas rolling mean + std + shift: {n / theirs / 1e6:.0f} M/s (x{theirs / ours:.1f})",
            ">= 80 M samples/s full z-score per core",
        )
    )

    # 2. A 24-run sweep of deviation over the real Air Quality year, in process vs 2 workers.
    ds = airquality_history()
    labels = airquality_labels(ds)
    with tempfile.TemporaryDirectory() as tmp:
        archive = write_archive(ds, Path(tmp) / "history.zarr")
        job = SweepJob(
            "deviation",
            {},
            DataSpec.of(
                archive,
                ROOT / "examples" / "tuning" / "profiles",
                start="2004-03-20",
                warmup="7D",
                sensors=["mox-1"],
            ),
            tuple(labels),
            MatchOptions(early=pd.Timedelta("1h"), late=pd.Timedelta("1h")),
        )
        sets = parameter_sets(
            {
                "threshold": [1.5, 2.0, 2.5, 3.0],
                "window": ["24h", "72h", "168h"],
                "min_duration": ["1h", "2h"],
            }
        )
        start = time.perf_counter()
        single = run_sweep(job, sets)
        in_process = time.perf_counter() - start
        with dask_client(workers=2) as client:
            start = time.perf_counter()
            parallel = run_sweep(job, sets, client)
            on_cluster = time.perf_counter() - start
    same = single.equals(parallel)
    rows.append(
        (
            "sweep: deviation, 24 settings over a real year (UCI Air Quality, hourly, 75 labels)",
            f"LocalCluster 2 workers: {len(sets) / on_cluster:.1f} runs/s ({on_cluster:.1f} s, "
            f"cluster already up); same table as in process: {'yes' if same else 'NO'}",
            f"in process: {len(sets) / in_process:.1f} runs/s ({in_process:.1f} s)",
            "-",
        )
    )
    return rows
