"""Sweeps: the same table in this process and on a LocalCluster of 2 workers.

The archive is real and multi-month: a year of hourly metal-oxide sensor readings
beside a reference analyser (UCI Air Quality, examples/data/airquality-uci.csv), with
labels from the reference; and a year of real gas-turbine stack data
(examples/data/gasturbine-2011.nc) for the compliance detector.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from vth.demo.airquality import airquality_history, airquality_labels
from vth.detectors.tuning import (
    DataSpec,
    MatchOptions,
    SweepJob,
    best_run,
    dask_client,
    parameter_sets,
    params_of,
    run_sweep,
)
from vth.detectors.tuning.sweep import check_parameters
from vth.sensing.archive import open_archive, write_archive

ROOT = Path(__file__).resolve().parents[3]
GASTURBINE = ROOT / "examples" / "data" / "gasturbine-2011.nc"
TUNING_PROFILES = ROOT / "examples" / "tuning" / "profiles"
PROFILES = ROOT / "examples" / "profiles"


@pytest.fixture(scope="module")
def airquality(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    """The real year as a Zarr archive, and labels from its reference analyser."""
    ds = airquality_history()
    path = write_archive(ds, tmp_path_factory.mktemp("aq") / "history.zarr")
    return path, airquality_labels(ds)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with dask_client(workers=2) as client:
        yield client


def test_the_archive_is_real_and_multi_month(airquality: tuple[Path, list[Any]]) -> None:
    path, labels = airquality
    first, last = open_archive(path).span
    assert (last - first) / np.timedelta64(1, "D") > 380
    assert len(labels) > 50


def test_grid_sweep_on_two_workers_equals_single_process(
    airquality: tuple[Path, list[Any]], cluster: Any
) -> None:
    path, labels = airquality
    assert len(cluster.scheduler_info()["workers"]) == 2
    job = SweepJob(
        "deviation",
        {"quantities": ["PT08_S1_CO"]},
        DataSpec.of(path, TUNING_PROFILES, start="2004-03-20", warmup="7D", sensors=["mox-1"]),
        tuple(labels),
        MatchOptions(early=pd.Timedelta("1h"), late=pd.Timedelta("1h")),
    )
    sets = parameter_sets(
        {"threshold": [1.5, 2.0, 3.0], "window": ["24h", "168h"], "min_duration": ["1h", "2h"]}
    )
    single = run_sweep(job, sets)
    progress: list[tuple[int, int]] = []
    parallel = run_sweep(job, sets, cluster, progress=lambda d, t: progress.append((d, t)))
    pd.testing.assert_frame_equal(single, parallel)
    assert progress[0] == (0, 12) and progress[-1] == (12, 12)
    assert list(single["run"]) == list(range(12))
    # the sweep measures something: settings differ in what they catch
    assert single["f1"].nunique() > 3
    assert single["recall"].max() > 0.5
    assert (single["errors"] == "").all()
    best = best_run(single, "f1")
    assert best["f1"] == single["f1"].max()
    assert set(params_of(best)) == {"threshold", "window", "min_duration"}


def test_random_sweep_is_reproducible_and_equal_on_workers(
    airquality: tuple[Path, list[Any]], cluster: Any
) -> None:
    path, labels = airquality
    job = SweepJob(
        "deviation",
        {},
        DataSpec.of(path, TUNING_PROFILES, start="2004-06-01", end="2004-12-01", sensors=["mox-1"]),
        tuple(labels),
    )
    space = {"threshold": stats.uniform(1.5, 2.0), "window": ["24h", "72h"]}
    sets = parameter_sets(space, n_iter=6, random_state=3)
    assert sets == parameter_sets(space, n_iter=6, random_state=3)
    pd.testing.assert_frame_equal(run_sweep(job, sets), run_sweep(job, sets, cluster, batch_size=1))


def test_compliance_sweep_on_a_year_of_stack_data_equals_single_process(cluster: Any) -> None:
    job = SweepJob("compliance", {}, DataSpec.of(GASTURBINE, PROFILES))
    sets = parameter_sets({"min_coverage": [0.5, 0.75, 0.9], "substances": [["NOx"], ["CO"]]})
    single = run_sweep(job, sets)
    pd.testing.assert_frame_equal(single, run_sweep(job, sets, cluster))
    nox = single[single["param_substances"] == '["NOx"]']
    assert (nox["detections"] > 0).all()  # the real NOx data breaks the hypothetical permit
    hours = open_archive(GASTURBINE).dataset.sizes["time"]  # 7411 hourly rows, ~10 months
    assert single["months"].iloc[0] == pytest.approx(hours / 24 / 30.436875, abs=0.01)


def test_a_scheduler_address_is_used_as_given(
    airquality: tuple[Path, list[Any]], cluster: Any
) -> None:
    path, labels = airquality
    job = SweepJob(
        "deviation",
        {},
        DataSpec.of(path, TUNING_PROFILES, start="2004-09-01", end="2004-10-01", sensors=["mox-1"]),
        tuple(labels),
    )
    sets = parameter_sets({"threshold": [2.0, 4.0]})
    with dask_client(scheduler=cluster.scheduler.address) as remote:
        assert remote is not None
        assert remote.scheduler.address == cluster.scheduler.address
        pd.testing.assert_frame_equal(run_sweep(job, sets, remote), run_sweep(job, sets))


def test_unknown_parameters_are_refused_before_any_work() -> None:
    with pytest.raises(ValueError, match="no parameter"):
        check_parameters("deviation", [{"treshold": 3}])
    with pytest.raises(ValueError, match="at least one"):
        run_sweep(SweepJob("deviation", {}, DataSpec.of(GASTURBINE, PROFILES)), [])


def test_best_run_breaks_ties_and_knows_lower_is_better() -> None:
    table = pd.DataFrame(
        {
            "run": [0, 1, 2],
            "detector": "deviation",
            "param_threshold": [1.0, 2.0, 3.0],
            "f1": [0.5, 0.5, np.nan],
            "false_alarms": [9, 3, 0],
            "false_alarms_per_sensor_month": [3.0, 1.0, 0.0],
        }
    )
    assert best_run(table, "f1")["run"] == 1
    assert best_run(table, "false_alarms_per_sensor_month")["run"] == 2
    with pytest.raises(ValueError, match="no metric"):
        best_run(table, "accuracy")
    assert params_of(best_run(table))["threshold"] == 2.0
