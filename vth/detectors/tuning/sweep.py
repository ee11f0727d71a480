"""Parameter sweeps: many detector settings over one archive, in parallel with dask.

Parameter sets come from scikit-learn's :class:`~sklearn.model_selection.ParameterGrid`
(every combination) or :class:`~sklearn.model_selection.ParameterSampler` (random
draws, lists or scipy distributions). They are cut into batches; each batch is a
dask.distributed task that loads the history once (each worker keeps it for its
next batches) and backtests its parameter sets on it. Without a cluster the batches
run one after another in this process; the table is the same either way.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sklearn.model_selection import ParameterGrid, ParameterSampler

from vth.detectors.base import BaseDetector, Scope
from vth.detectors.registry import create, get
from vth.detectors.settings_file import check_detector_params
from vth.detectors.tuning.backtest import (
    BacktestResult,
    DataSpec,
    PreparedData,
    evaluate,
    prepare,
)
from vth.detectors.tuning.labels import Label
from vth.detectors.tuning.metrics import METRIC_COLUMNS, MatchOptions

#: Column prefix of the parameters in the results table.
PARAM_PREFIX = "param_"
_CACHE: dict[tuple[DataSpec, Scope, bool], PreparedData] = {}


@dataclass(frozen=True)
class SweepJob:
    """What every batch of a sweep needs; picklable, sent to the dask workers.

    Attributes
    ----------
    detector
        Registered detector name.
    base_params
        Parameters every run shares (the swept ones override them).
    data
        The archive, profiles and span.
    labels
        Labelled events.
    match
        Early and late tolerances.
    """

    detector: str
    base_params: Mapping[str, Any]
    data: DataSpec
    labels: tuple[Label, ...] = ()
    match: MatchOptions = field(default_factory=MatchOptions)

    def configured(self, params: Mapping[str, Any]) -> BaseDetector:
        """A new detector with the base parameters and ``params``."""
        return create(self.detector, **{**self.base_params, **params})


def parameter_sets(
    space: Mapping[str, Sequence[Any] | Any],
    n_iter: int | None = None,
    random_state: int = 0,
) -> list[dict[str, Any]]:
    """The parameter sets of a sweep: the full grid, or ``n_iter`` random draws.

    Values are lists (grid or random choice) or, for random search, scipy.stats
    distributions (``uniform``, ``loguniform``, ``randint``...).
    """
    if n_iter is None:
        return list(ParameterGrid(dict(space)))
    return list(ParameterSampler(dict(space), n_iter=n_iter, random_state=random_state))


def check_parameters(
    detector: str,
    param_sets: Sequence[Mapping[str, Any]],
    base_params: Mapping[str, Any] | None = None,
) -> None:
    """Refuse unknown parameters and invalid values before any work is sent out.

    Each set (over ``base_params``) is checked as a detector settings file is.

    Raises
    ------
    DetectorConfigError
        A ``ValueError`` naming the parameter, the value, or the detector's parameters.
    """
    for params in param_sets:
        check_detector_params({detector: {**(base_params or {}), **params}}, "sweep")


def run_sweep(
    job: SweepJob,
    param_sets: Sequence[Mapping[str, Any]],
    client: Any | None = None,
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Backtest every parameter set and return the tidy results table.

    Parameters
    ----------
    job
        Detector, base parameters, data and labels.
    param_sets
        One mapping per run (see :func:`parameter_sets`).
    client
        A ``dask.distributed.Client`` (see :func:`dask_client`); None runs the batches
        in this process.
    batch_size
        Parameter sets per task; by default about four tasks per worker.
    progress
        Called with (runs done, runs in all) as batches finish.

    Returns
    -------
    pandas.DataFrame
        One row per run, ordered by ``run``: ``run``, ``detector``, ``param_<name>``
        columns, the metric columns of
        :class:`~vth.detectors.tuning.metrics.EventMetrics` and ``errors``.
    """
    check_parameters(job.detector, param_sets, job.base_params)
    runs = list(enumerate(dict(p) for p in param_sets))
    if not runs:
        raise ValueError("a sweep needs at least one parameter set")
    workers = _worker_count(client)
    size = batch_size or max(1, math.ceil(len(runs) / (4 * workers)))
    batches = [runs[i : i + size] for i in range(0, len(runs), size)]
    rows: list[dict[str, Any]] = []
    done = 0
    if progress is not None:
        progress(0, len(runs))
    if client is None:
        for batch in batches:
            rows.extend(run_batch(job, batch))
            done += len(batch)
            if progress is not None:
                progress(done, len(runs))
    else:
        from distributed import as_completed

        futures = [client.submit(run_batch, job, batch, pure=False) for batch in batches]
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            result = future.result()
            rows.extend(result)
            done += len(result)
            if progress is not None:
                progress(done, len(runs))
    return results_table(rows, [name for _, params in runs for name in params])


def run_batch(
    job: SweepJob, batch: Sequence[tuple[int, Mapping[str, Any]]]
) -> list[dict[str, Any]]:
    """Backtest one batch of ``(run, params)``; what each dask task runs."""
    data = prepared(job)
    rows = []
    for run, params in batch:
        result = evaluate(job.configured(params), data, job.labels, job.match)
        rows.append(result_row(run, job.detector, params, result))
    return rows


def run_one(job: SweepJob, params: Mapping[str, Any]) -> tuple[BacktestResult, PreparedData]:
    """One parameter set on the job's history (loaded once per process), and that history."""
    data = prepared(job)
    return evaluate(job.configured(params), data, job.labels, job.match), data


def prepared(job: SweepJob) -> PreparedData:
    """The history of ``job``, loaded once per process and kept for the next batches."""
    cls = get(job.detector)
    key = (job.data, cls.scope, cls.requires_fit)
    if key not in _CACHE:
        if len(_CACHE) >= 2:
            _CACHE.clear()
        _CACHE[key] = prepare(job.data, cls.scope, cls.requires_fit)
    return _CACHE[key]


def lower_is_better(metric: str) -> bool:
    """Whether smaller values of ``metric`` are better (false alarms, time to detect)."""
    return metric.startswith(("false_alarms", "time_to_detect"))


def ranked(table: pd.DataFrame, metric: str = "f1") -> pd.DataFrame:
    """Runs best first by ``metric``; ties go to fewer false alarms, then the earlier run.

    Runs without a value for the metric come last.
    """
    if metric not in table.columns:
        raise ValueError(f"no metric {metric!r}; choose from {', '.join(METRIC_COLUMNS)}")
    return table.sort_values(
        [metric, "false_alarms", "run"],
        ascending=[lower_is_better(metric), True, True],
        kind="stable",
        na_position="last",
    )


def best_run(table: pd.DataFrame, metric: str = "f1") -> pd.Series:
    """The first row of :func:`ranked`: the best run by ``metric``.

    Raises
    ------
    ValueError
        For an unknown metric, or when no run has a value for it.
    """
    ordered = ranked(table, metric)
    if ordered.empty or pd.isna(ordered[metric].iloc[0]):
        raise ValueError(f"no run has a value for {metric!r} (no labels or no detections?)")
    return ordered.iloc[0]


def params_of(row: pd.Series) -> dict[str, Any]:
    """The detector parameters of a results row (``param_`` columns, decoded)."""
    params = {}
    for column, value in row.items():
        name = str(column)
        if name.startswith(PARAM_PREFIX):
            params[name[len(PARAM_PREFIX) :]] = _decode(value)
    return params


def result_row(
    run: int, detector: str, params: Mapping[str, Any], result: BacktestResult
) -> dict[str, Any]:
    """One row of the results table."""
    return {
        "run": run,
        "detector": detector,
        **{PARAM_PREFIX + k: table_value(v) for k, v in params.items()},
        **result.metrics.as_row(),
        "errors": "; ".join(result.errors),
    }


def results_table(rows: Sequence[Mapping[str, Any]], param_names: Sequence[str]) -> pd.DataFrame:
    """Rows in run order with a stable column order."""
    names = list(dict.fromkeys(param_names))
    columns = [
        "run",
        "detector",
        *(PARAM_PREFIX + n for n in names),
        *METRIC_COLUMNS,
        "errors",
    ]
    table = pd.DataFrame(list(rows), columns=columns)
    return table.sort_values("run", kind="stable").reset_index(drop=True)


@contextmanager
def dask_client(scheduler: str | None = None, workers: int = 2) -> Iterator[Any | None]:
    """A dask.distributed client: of ``scheduler`` when given, else of a LocalCluster.

    ``workers=0`` without a scheduler yields None (run in this process). The local
    cluster has one single-threaded process per worker (the detectors hold the GIL
    in places) and no dashboard; it is closed on exit.
    """
    if scheduler is None and workers <= 0:
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler, timeout="30s") as client:  # type: ignore[no-untyped-call]
            yield client
        return
    with (
        LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
            host="127.0.0.1",
        ) as cluster,
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        yield client


def _worker_count(client: Any | None) -> int:
    if client is None:
        return 1
    try:
        return max(1, len(client.scheduler_info().get("workers", {})))
    except Exception:
        return 1


def table_value(value: Any) -> Any:
    """Scalars as they are; lists, dicts and objects as JSON text (tables need scalars)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _decode(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalars from the table
        value = value.item()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
