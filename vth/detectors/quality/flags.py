"""Quality-control flags per sample and variable, vectorised over ``(sensor, time)``.

Each variable gets a ``uint8`` flag array beside it (:class:`QcFlag` bits, CF
``flag_masks``/``flag_meanings`` attributes), so the flag history travels with the
data into netCDF/Zarr archives. Detectors drop flagged samples; the quality detector
turns lasting faults into ``sensor_fault`` alerts.

The tests, per variable (on a regular time grid, one column per sample):

- ``gap``: no valid sample (only after the sensor's first sample of that variable);
- ``out_of_range``: outside the physical range of the unit (an open or shorted
  metal-oxide element reads ~0 or ~1e10 Ohm);
- ``flatline``: the same value for at least ``flatline_minutes`` (a stuck sensor or a
  frozen logger);
- ``spike``: a single sample far from both neighbours, which agree with each other,
  measured in the sensor's changes around it (an electrical glitch; gas arrives and
  leaves over minutes, and while it does the sensor is busy and a jump is no glitch);
- ``drift``: the sensor's level (median of its last hours) has left its own long
  reference level by more than ``drift_limit`` (in log units for resistances): the
  element is ageing or poisoned and needs recalibration. The whole excursion is
  flagged, back to where the level started to leave the reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag

import bottleneck as bn
import numpy as np
import xarray as xr

from vth.sensing.baseline import block_means, trailing_baseline
from vth.sensing.masks import long_runs, mark_runs, run_bounds, run_counts
from vth.sensing.streams import DIMS


class QcFlag(IntFlag):
    """Quality flags of one sample; several can be set at once."""

    GAP = 1
    OUT_OF_RANGE = 2
    FLATLINE = 4
    SPIKE = 8
    DRIFT = 16


#: Flags that make a sample unusable (a gap is simply missing).
BAD = QcFlag.OUT_OF_RANGE | QcFlag.FLATLINE | QcFlag.SPIKE | QcFlag.DRIFT
FLAG_SUFFIX = "_qc"
#: Samples (minutes) of the centred window whose median change is a sensor's local scale.
SPIKE_WINDOW = 31
#: Samples of the trailing median a spike's neighbours are compared with.
SETTLED_WINDOW = 15


@dataclass(frozen=True)
class QcRule:
    """The quality tests of the variables in one unit.

    Parameters
    ----------
    low, high
        Physical range; samples outside are ``out_of_range``.
    log
        Test spikes and drift on ``log(value)`` (resistances change by factors).
    spike
        Run the spike test.
    flatline_minutes
        Samples unchanged for this long are ``flatline``; None: no test.
    drift
        Run the drift test.
    """

    low: float
    high: float
    log: bool = False
    spike: bool = False
    flatline_minutes: int | None = None
    drift: bool = False


#: Tests per canonical unit; variables in other units get none.
DEFAULT_RULES: dict[str, QcRule] = {
    "Ohm": QcRule(1.0, 1e9, log=True, spike=True, flatline_minutes=30, drift=True),
    "deg": QcRule(0.0, 360.0, flatline_minutes=180),
    "m/s": QcRule(0.0, 75.0, flatline_minutes=360),
    "Cel": QcRule(-40.0, 60.0, flatline_minutes=360),
}


@dataclass(frozen=True)
class QcSettings:
    """Thresholds of the tests that do not depend on the unit."""

    spike_threshold: float = 10.0
    drift_limit: float = 0.4
    drift_hours: int = 6


def flag_variable(
    values: np.ndarray,
    rule: QcRule,
    settings: QcSettings = QcSettings(),
    reference: np.ndarray | None = None,
    reach: np.ndarray | None = None,
) -> np.ndarray:
    """Flags (``uint8``, :class:`QcFlag` bits) of a ``(sensor, time)`` array.

    Parameters
    ----------
    values
        Samples on a regular 1-minute grid; NaN where missing.
    rule
        The tests of the variable's unit.
    settings
        Spike and drift thresholds.
    reference
        Per sensor, the long reference level for the drift test (in log units when
        ``rule.log``), e.g. learned from history; NaN or None: the median of the
        sensor's first ``settings.drift_hours`` in ``values``.
    reach
        Per sensor, the column up to which (exclusive) missing samples count as gaps;
        by default the sensor's last valid sample. Before a sensor's first sample
        nothing is a gap.
    """
    values = np.asarray(values, dtype=np.float64)
    flags = np.zeros(values.shape, dtype=np.uint8)
    valid = ~np.isnan(values)
    flags[~valid & within_reach(valid, reach)] |= np.uint8(QcFlag.GAP)
    in_range = (values >= rule.low) & (values <= rule.high)
    flags[valid & ~in_range] |= np.uint8(QcFlag.OUT_OF_RANGE)
    good = valid & in_range
    if rule.flatline_minutes is not None:
        flags[_flatline(values, good, rule.flatline_minutes)] |= np.uint8(QcFlag.FLATLINE)
    level = np.where(good, values, np.nan).astype(np.float32)
    if rule.log:
        level = np.log(level)
    if rule.spike:
        flags[_spikes(level, settings.spike_threshold)] |= np.uint8(QcFlag.SPIKE)
    if rule.drift:
        flags[_drift(level, settings, reference)] |= np.uint8(QcFlag.DRIFT)
    return flags


def within_reach(valid: np.ndarray, reach: np.ndarray | None = None) -> np.ndarray:
    """True from each row's first valid sample up to ``reach`` (default: its last valid one)."""
    n = valid.shape[1]
    any_valid = valid.any(axis=1)
    first = np.where(any_valid, np.argmax(valid, axis=1), n)
    if reach is None:
        reach = np.where(any_valid, n - np.argmax(valid[:, ::-1], axis=1), 0)
    columns = np.arange(n)[None, :]
    result: np.ndarray = (columns >= first[:, None]) & (columns < np.asarray(reach)[:, None])
    return result


def _flatline(values: np.ndarray, good: np.ndarray, minutes: int) -> np.ndarray:
    same = np.zeros(values.shape, dtype=bool)
    same[:, 1:] = (values[:, 1:] == values[:, :-1]) & good[:, 1:] & good[:, :-1]
    stuck = long_runs(same, max(1, minutes - 1))
    stuck[:, :-1] |= stuck[:, 1:]  # the first sample of a stuck run is stuck too
    return stuck


def _spikes(level: np.ndarray, threshold: float) -> np.ndarray:
    out = np.zeros(level.shape, dtype=bool)
    n = level.shape[1]
    if n < 3:
        return out
    diffs = np.diff(level, axis=1)
    step = max(1, diffs.shape[1] // 4096)  # a robust scale needs a few thousand diffs
    quiet = 1.4826 * bn.nanmedian(np.abs(diffs[:, ::step]), axis=1)
    quiet = np.where(np.isfinite(quiet) & (quiet > 0), quiet, np.inf)
    rise = diffs[:, :-1]  # x[t] - x[t-1]
    fall = -diffs[:, 1:]  # x[t] - x[t+1]
    across = np.abs(level[:, 2:] - level[:, :-2])
    smaller = np.minimum(np.abs(rise), np.abs(fall))
    with np.errstate(invalid="ignore"):
        candidate = (
            (rise * fall > 0) & (smaller > threshold * quiet[:, None]) & (across < smaller / 2)
        )
    rows, cols = np.nonzero(candidate)
    if len(rows) == 0:
        return out
    t = cols + 1  # sample index of each candidate
    # the local scale: while gas comes and goes a sensor is busy, and a jump is no glitch
    half = SPIKE_WINDOW // 2
    offsets = np.arange(-half, half + 1)
    at = np.clip(t[:, None] + offsets[None, :], 0, n - 2)
    local = 1.4826 * bn.nanmedian(np.abs(diffs[rows[:, None], at]), axis=1)
    scale = np.fmax(local, quiet[rows])
    # the neighbours must sit where the sensor had settled before: gas arriving makes a
    # reading flicker away from its settled level, a glitch leaves the level alone
    behind = np.clip(t[:, None] - 1 - np.arange(1, SETTLED_WINDOW + 1)[None, :], 0, n - 1)
    settled = bn.nanmedian(level[rows[:, None], behind], axis=1)
    neighbours = (level[rows, t - 1] + level[rows, t + 1]) / 2
    jump = np.abs(level[rows, t] - neighbours)
    with np.errstate(invalid="ignore"):
        keep = (smaller[rows, cols] > threshold * scale) & (np.abs(neighbours - settled) < jump / 2)
    out[rows[keep], t[keep]] = True
    return out


def _drift(level: np.ndarray, settings: QcSettings, reference: np.ndarray | None) -> np.ndarray:
    hours = settings.drift_hours
    n_sensors, n = level.shape
    hourly = block_means(level, 60)
    if reference is None:
        reference = np.full(n_sensors, np.nan)
    own = bn.nanmedian(hourly[:, :hours], axis=1) if hourly.shape[1] else np.nan
    ref = np.where(np.isfinite(reference), reference, own)[:, None]
    # the level the sensor settled at: median of the hours before, and including, each hour
    settled = trailing_baseline(hourly, 1, hours, min_blocks=max(1, hours // 2))
    settled[:, :-1] = settled[:, 1:]
    settled[:, -1] = bn.nanmedian(hourly[:, -hours:], axis=1)
    drifted = np.abs(settled - ref) > settings.drift_limit
    # flag each whole excursion (hours away from the reference by an eighth of the limit,
    # about ten times the noise of an hourly mean) that reaches the limit somewhere: the
    # start of a ramp already moves the sensor away from its neighbours
    with np.errstate(invalid="ignore"):
        away = np.abs(hourly - ref) > settings.drift_limit / 8
    away |= drifted
    rows, starts, stops = run_bounds(away)
    if len(rows) == 0:
        return np.zeros(level.shape, dtype=bool)
    keep = run_counts(drifted, rows, starts, stops) > 0
    hours_flagged = mark_runs(hourly.shape, rows[keep], starts[keep], stops[keep])
    result: np.ndarray = np.repeat(hours_flagged, 60, axis=1)[:, :n]
    return result


def quality_flags(
    ds: xr.Dataset,
    rules: dict[str, QcRule] | None = None,
    settings: QcSettings = QcSettings(),
    references: dict[str, np.ndarray] | None = None,
) -> xr.Dataset:
    """Flags of every variable of a stream dataset that has a :class:`QcRule`.

    Parameters
    ----------
    ds
        Stream dataset on a regular 1-minute grid (see
        :func:`vth.sensing.grid.regular_grid`), canonical units.
    rules
        Tests per unit; :data:`DEFAULT_RULES` when None.
    settings
        Spike and drift thresholds.
    references
        Per variable, per sensor of ``ds``, the reference level of the drift test.

    Returns
    -------
    xarray.Dataset
        One ``uint8`` variable per tested variable, same name, with CF flag attributes.
    """
    rules = DEFAULT_RULES if rules is None else rules
    reach = group_reach(ds)
    out = {}
    for name, var in ds.data_vars.items():
        rule = rules.get(str(var.attrs.get("units", "")))
        if rule is None or set(var.dims) != set(DIMS):
            continue
        ref = None if references is None else references.get(str(name))
        flags = flag_variable(var.transpose(*DIMS).values, rule, settings, ref, reach)
        out[str(name)] = xr.Variable(DIMS, flags, attrs=flag_attributes())
    return xr.Dataset(out, coords=ds.coords)


def group_reach(ds: xr.Dataset) -> np.ndarray:
    """Per sensor, the column after the last sample of any sensor of its MBA or network.

    A sensor silent while the others of its group still report is offline; a whole
    group whose data has not arrived yet (a gateway catching up) is not.
    """
    valid = np.zeros((ds.sizes["sensor"], ds.sizes["time"]), dtype=bool)
    for var in ds.data_vars.values():
        if set(var.dims) == set(DIMS):
            valid |= ~np.isnan(var.transpose(*DIMS).values)
    last = np.where(valid.any(axis=1), valid.shape[1] - np.argmax(valid[:, ::-1], axis=1), 0)
    if "mba_id" not in ds.coords:
        return np.full(ds.sizes["sensor"], last.max(initial=0))
    groups = ds["mba_id"].values.astype(str)
    reach = np.zeros_like(last)
    for group in np.unique(groups):  # a loop over MBAs and networks
        members = groups == group
        reach[members] = last[members].max()
    return reach


def flag_attributes() -> dict[str, object]:
    """CF attributes describing the flag bits."""
    return {
        "flag_masks": np.array([int(f) for f in QcFlag], dtype=np.uint8),
        "flag_meanings": " ".join(str(f.name).lower() for f in QcFlag),
        "long_name": "quality control flags",
    }


def with_flags(ds: xr.Dataset, flags: xr.Dataset) -> xr.Dataset:
    """``ds`` with each flag array beside its variable as ``<name>_qc``."""
    return ds.assign({f"{name}{FLAG_SUFFIX}": flags[name] for name in flags.data_vars})


def mask_flagged(ds: xr.Dataset, flags: xr.Dataset, mask: int = BAD) -> xr.Dataset:
    """``ds`` with samples whose flags intersect ``mask`` set to NaN."""
    masked = {
        name: ds[name].where((flags[name] & mask) == 0)
        for name in flags.data_vars
        if name in ds.data_vars
    }
    return ds.assign(masked)
