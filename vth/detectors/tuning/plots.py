"""Plots of sweeps and backtests (matplotlib, written as PNG files, no screen needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr

from vth.detectors.tuning.labels import Label
from vth.detectors.tuning.sweep import PARAM_PREFIX
from vth.models.detection import Detection

METRICS = ("precision", "recall", "f1", "early_score")


def plot_metric_vs_parameters(
    table: pd.DataFrame, out_dir: Path | str, metrics: Sequence[str] = METRICS
) -> list[Path]:
    """One PNG per swept parameter: each metric's best value per parameter value.

    The best is taken over the other parameters (what you can reach with this value);
    every run is also drawn as a faint dot. Returns the files written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    params = [c for c in table.columns if c.startswith(PARAM_PREFIX)]
    for column in params:
        values = table[column]
        if values.nunique(dropna=False) < 2:
            continue
        name = column[len(PARAM_PREFIX) :]
        numeric = pd.api.types.is_numeric_dtype(values)
        order = sorted(values.dropna().unique(), key=_sort_key)
        positions = {v: (float(v) if numeric else i) for i, v in enumerate(order)}
        fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
        for metric in metrics:
            if metric not in table.columns:
                continue
            best = table.groupby(column, dropna=True)[metric].max()
            xs = [positions[v] for v in order]
            line = ax.plot(xs, [best.get(v, np.nan) for v in order], marker="o", label=metric)
            ax.scatter(
                [positions[v] for v in values if v in positions],
                table.loc[values.isin(order), metric],
                color=line[0].get_color(),
                alpha=0.2,
                s=12,
            )
        if not numeric:
            ax.set_xticks(range(len(order)), [str(v) for v in order])
        ax.set_xlabel(name)
        ax.set_ylabel("score (best over the other parameters)")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize="small")
        ax.set_title(f"{table['detector'].iloc[0]}: metrics vs {name}")
        fig.tight_layout()
        path = out_dir / f"metrics_vs_{_safe(name)}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written


def plot_timeseries(
    dataset: xr.Dataset,
    variable: str,
    sensor: str,
    detections: Sequence[Detection],
    labels: Sequence[Label],
    path: Path | str,
    title: str | None = None,
) -> Path:
    """A sensor's values with its detections (red) and labelled events (green) shaded."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    series = dataset[variable].sel(sensor=sensor)
    times = pd.to_datetime(series["time"].values)
    fig, ax = plt.subplots(figsize=(12, 4), dpi=100)
    ax.plot(times, series.values, lw=0.6, color="0.25", label=f"{sensor} {variable}")
    for i, label in enumerate(lb for lb in labels if lb.truth):
        ax.axvspan(
            _num(label.start),
            _num(label.end),
            color="tab:green",
            alpha=0.25,
            lw=0,
            label="labelled event" if i == 0 else None,
        )
    for i, d in enumerate(detections):
        ax.axvspan(
            _num(d.start),
            _num(d.end),
            ymin=0.9,
            ymax=1.0,
            color="tab:red",
            alpha=0.8,
            lw=0,
            label="detection" if i == 0 else None,
        )
    unit = str(series.attrs.get("units", ""))
    ax.set_ylabel(f"{variable} [{unit}]" if unit else variable)
    ax.set_title(title or f"{sensor}: {variable}")
    ax.legend(loc="upper right", fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _num(value: object) -> float:
    """A time as matplotlib's date number (naive UTC)."""
    ts = pd.Timestamp(value)  # type: ignore[arg-type]
    naive = ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts
    return float(mdates.date2num(naive.to_pydatetime()))  # type: ignore[no-untyped-call]


def _sort_key(value: object) -> tuple[int, float, str]:
    """Numbers by value, durations ("24h", "7D") by length, other text alphabetically."""
    try:
        return (0, float(value), "")  # type: ignore[arg-type]
    except (TypeError, ValueError):
        pass
    try:
        return (0, pd.Timedelta(str(value)).total_seconds(), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
