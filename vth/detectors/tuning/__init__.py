"""Tuning and backtesting detectors on historical streams.

- :mod:`~vth.detectors.tuning.labels`: labelled events (files, closed alerts, a
  reference instrument);
- :mod:`~vth.detectors.tuning.metrics`: event-level precision, recall, F1, time to
  detect, early-detection score and false alarms per sensor per month;
- :mod:`~vth.detectors.tuning.backtest`: a detector over an archive;
- :mod:`~vth.detectors.tuning.sweep`: grid and random sweeps on dask.distributed;
- :mod:`~vth.detectors.tuning.plots`: metric-vs-parameter and time-series plots.
"""

from vth.detectors.tuning.backtest import (
    BacktestResult,
    DataSpec,
    PreparedData,
    backtest,
    evaluate,
    prepare,
)
from vth.detectors.tuning.labels import (
    Label,
    LabelError,
    labels_from_alerts,
    labels_from_threshold,
    read_all_labels,
    read_labels,
    write_labels,
)
from vth.detectors.tuning.metrics import METRIC_COLUMNS, EventMetrics, MatchOptions, event_metrics
from vth.detectors.tuning.sweep import (
    SweepJob,
    best_run,
    dask_client,
    parameter_sets,
    params_of,
    run_sweep,
)

__all__ = [
    "METRIC_COLUMNS",
    "BacktestResult",
    "DataSpec",
    "EventMetrics",
    "Label",
    "LabelError",
    "MatchOptions",
    "PreparedData",
    "SweepJob",
    "backtest",
    "best_run",
    "dask_client",
    "evaluate",
    "event_metrics",
    "labels_from_alerts",
    "labels_from_threshold",
    "parameter_sets",
    "params_of",
    "prepare",
    "read_all_labels",
    "read_labels",
    "run_sweep",
    "write_labels",
]
