"""Backtests: run a registered detector over an archive and score it against labels.

A backtest has two steps, so a sweep loads the history once and scores many
parameter sets on it:

1. :func:`prepare` reads what the detector's scope needs from a lazily opened
   archive (:class:`DataSpec` says which archive, profiles and span): per MBA its
   streams with its profile (MBA detectors such as compliance or deviation), or the
   e-noses and weather stations of all MBAs and networks together (network detectors
   such as gas incidents). Detectors that learn from history are fitted on the span
   before ``fit_until`` and evaluated after it.
2. :func:`evaluate` runs one configured detector over the prepared data and scores
   its detections with :func:`~vth.detectors.tuning.metrics.event_metrics`.

Only what would become an alert counts: detections within the permit (records) are
left out. Image detectors are not backtested on stream archives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from sklearn.base import clone

from vth.detectors.base import BaseDetector, Detector, NetworkDetector, Scope
from vth.detectors.errors import DetectorError
from vth.detectors.tuning.labels import Label
from vth.detectors.tuning.metrics import EventMetrics, MatchOptions, event_metrics
from vth.errors import VthError
from vth.models.detection import Detection
from vth.models.loading import load_networks, load_profiles
from vth.models.network import SensorNetwork, network_of
from vth.models.profile import MbaProfile
from vth.sensing.archive import Archive, open_archive, utc_time
from vth.sensing.combine import network_dataset
from vth.sensing.network import Network
from vth.sensing.streams import annotate, split_by_mba


@dataclass(frozen=True)
class DataSpec:
    """Which history a backtest runs on; picklable, so dask workers can load it themselves.

    Attributes
    ----------
    archive
        Archive path(s): a Zarr store, netCDF file(s) or folder (see
        :func:`~vth.sensing.archive.open_archive`).
    profiles
        Folder of MBA profiles; its ``networks`` subfolder holds sensor networks.
    start, end
        Evaluated span (``end`` excluded); the archive's (after ``fit_until``) when None.
    fit_until
        Detectors that learn from history are fitted on the archive before this time
        and evaluated from it.
    warmup
        History read before ``start`` so trailing baselines are full at ``start``;
        detections starting before ``start`` are dropped.
    mba_ids
        Only these MBAs (and networks); all in the archive with a profile when None.
    sensors
        Only these sensors; all of the MBAs when None.
    """

    archive: tuple[str, ...]
    profiles: str
    start: str | None = None
    end: str | None = None
    fit_until: str | None = None
    warmup: str = "0s"
    mba_ids: tuple[str, ...] | None = None
    sensors: tuple[str, ...] | None = None

    @classmethod
    def of(
        cls, archive: str | Path | Sequence[str | Path], profiles: str | Path, **kw: Any
    ) -> DataSpec:
        """Build a spec from paths as the CLI and notebooks have them."""
        paths = (archive,) if isinstance(archive, (str, Path)) else tuple(archive)
        ids = kw.pop("mba_ids", None)
        sensors = kw.pop("sensors", None)
        return cls(
            tuple(str(p) for p in paths),
            str(profiles),
            mba_ids=tuple(ids) if ids is not None else None,
            sensors=tuple(sensors) if sensors is not None else None,
            **kw,
        )


@dataclass
class PreparedData:
    """History loaded for one detector scope: what :func:`evaluate` runs on."""

    scope: Scope
    profiles: dict[str, MbaProfile]
    #: Evaluated data: per MBA for MBA detectors, ``{"network": ...}`` for network ones.
    evaluate: dict[str, xr.Dataset]
    #: Data to fit on, same keys (empty without ``fit_until``).
    fit: dict[str, xr.Dataset]
    network: Network | None
    span: tuple[datetime, datetime]
    #: Sensors watched (all but weather stations), for false alarms per sensor.
    sensors: list[str]


@dataclass
class BacktestResult:
    """One detector configuration over one archive: its detections and scores."""

    detector: str
    params: dict[str, Any]
    detections: list[Detection]
    labels: list[Label]
    metrics: EventMetrics
    errors: list[str]
    span: tuple[datetime, datetime]


def prepare(spec: DataSpec, scope: Scope, fit: bool = True) -> PreparedData:
    """Load the history a detector of ``scope`` needs (see the module docs).

    ``fit=False`` skips the history before ``fit_until`` (detectors that do not learn).

    Raises
    ------
    DetectorError
        For image detectors, or when no MBA of the archive has a profile.
    StreamFormatError, ProfileError
        When the archive or the profiles cannot be read.
    """
    if scope == "raster":
        raise DetectorError(
            "image detectors are not backtested on stream archives; run 'vth detect' on "
            "the images instead"
        )
    archive = open_archive(spec.archive if len(spec.archive) > 1 else spec.archive[0])
    profiles_dir = Path(spec.profiles)
    profiles = load_profiles(profiles_dir)
    networks = (
        load_networks(profiles_dir / "networks") if (profiles_dir / "networks").is_dir() else {}
    )
    registers: dict[str, MbaProfile | SensorNetwork] = {**profiles, **networks}
    groups = [m for m in archive.mba_ids if m in registers]
    if spec.mba_ids is not None:
        groups = [m for m in groups if m in spec.mba_ids]
    if spec.sensors is not None:
        unknown = sorted(set(spec.sensors) - set(archive.sensors))
        if unknown:
            raise DetectorError(
                f"{archive.origin}: no sensor(s) {', '.join(unknown)} in the archive"
            )
    if not groups:
        raise DetectorError(
            f"{archive.origin}: none of its MBAs ({', '.join(archive.mba_ids) or 'none'}) has a "
            f"profile or network file in {profiles_dir}"
        )
    first, last = archive.span
    start = (
        utc_time(spec.start)
        if spec.start
        else (utc_time(spec.fit_until) if spec.fit_until else first)
    )
    end = utc_time(spec.end) if spec.end else last + np.timedelta64(1, "us")
    if end <= start:
        raise DetectorError(f"the evaluated span is empty ({_iso(start)} to {_iso(end)})")
    read_from = start - np.timedelta64(pd.Timedelta(spec.warmup).value, "ns")
    if scope == "mba":
        mba_groups = [m for m in groups if m in profiles]
        evaluate_data = _per_mba(archive, mba_groups, profiles, read_from, end, spec.sensors)
        fit_data = (
            _per_mba(archive, mba_groups, profiles, None, utc_time(spec.fit_until), spec.sensors)
            if spec.fit_until and fit
            else {}
        )
        network = None
    else:
        evaluate_data = {
            "network": _network(archive, groups, registers, read_from, end, spec.sensors)
        }
        fit_data = (
            {
                "network": _network(
                    archive, groups, registers, None, utc_time(spec.fit_until), spec.sensors
                )
            }
            if spec.fit_until and fit
            else {}
        )
        network = network_of(profiles, networks)
    sensors = sorted(
        {
            str(s)
            for ds in evaluate_data.values()
            for s, kind in zip(ds["sensor"].values, ds["kind"].values, strict=True)
            if str(kind) != "weather"
        }
    )
    return PreparedData(
        scope=scope,
        profiles=profiles,
        evaluate=evaluate_data,
        fit=fit_data,
        network=network,
        span=(_datetime(start), _datetime(end)),
        sensors=sensors,
    )


def evaluate(
    detector: BaseDetector,
    data: PreparedData,
    labels: Sequence[Label] = (),
    options: MatchOptions | None = None,
) -> BacktestResult:
    """Run ``detector`` (a fresh clone per MBA, so fitted state never leaks) and score it.

    Labels outside the evaluated span, or of MBAs and sensors that are not in the
    data, are left out of the scores.
    """
    if detector.scope != data.scope:
        raise DetectorError(
            f"detector {detector.name!r} runs on {detector.scope} data; this history was "
            f"prepared for {data.scope} detectors"
        )
    if detector.requires_fit and not data.fit:
        raise _needs_fit(detector)
    errors: list[str] = []
    detections: list[Detection] = []
    for group, dataset in data.evaluate.items():
        instance = clone(detector)
        try:
            if isinstance(instance, Detector):
                profile = data.profiles[group]
                if instance.requires_fit:
                    instance.fit(_fit_data(data, group, instance), profile)
                found = instance.detect(dataset, profile)
            elif isinstance(instance, NetworkDetector):
                assert data.network is not None
                if instance.requires_fit:
                    instance.fit(_fit_data(data, group, instance), data.network)
                found = instance.detect(dataset, data.network)
            else:  # pragma: no cover - prepare() refuses image detectors
                raise DetectorError(f"detector {detector.name!r} cannot run on streams")
        except VthError as exc:
            errors.append(f"{detector.name} on {group}: {exc}")
            continue
        start = data.span[0]
        detections.extend(d for d in found if not d.within_permit and d.start >= start)
    detections.sort(key=lambda d: (d.start, d.mba_id, d.sensor_id or "", d.substance or ""))
    in_scope = _labels_in_scope(labels, data)
    metrics = event_metrics(
        detections, in_scope, sensors=len(data.sensors), span=data.span, options=options
    )
    return BacktestResult(
        detector=detector.name,
        params=detector.get_params(deep=False),
        detections=detections,
        labels=in_scope,
        metrics=metrics,
        errors=errors,
        span=data.span,
    )


def backtest(
    detector: BaseDetector,
    spec: DataSpec,
    labels: Sequence[Label] = (),
    options: MatchOptions | None = None,
) -> BacktestResult:
    """:func:`prepare` the history for ``detector`` and :func:`evaluate` it once."""
    return evaluate(detector, prepare(spec, detector.scope, detector.requires_fit), labels, options)


def _fit_data(data: PreparedData, group: str, detector: BaseDetector) -> xr.Dataset:
    fit = data.fit.get(group)
    if fit is None or fit.sizes["time"] == 0:
        raise _needs_fit(detector)
    return fit


def _needs_fit(detector: BaseDetector) -> DetectorError:
    return DetectorError(
        f"{detector.name} must be fitted on history: give a fit_until time after the "
        "archive's start (the span before it is the training history)"
    )


def _per_mba(
    archive: Archive,
    groups: list[str],
    profiles: dict[str, MbaProfile],
    start: np.datetime64 | None,
    end: np.datetime64,
    sensors: tuple[str, ...] | None,
) -> dict[str, xr.Dataset]:
    out = {}
    for mba_id in groups:
        ds = _only(archive.load([mba_id], start, end), sensors)
        if ds.sizes["time"] and ds.sizes["sensor"]:
            out[mba_id] = annotate(ds, profiles[mba_id])
    return out


def _network(
    archive: Archive,
    groups: list[str],
    registers: dict[str, MbaProfile | SensorNetwork],
    start: np.datetime64 | None,
    end: np.datetime64,
    sensors: tuple[str, ...] | None,
) -> xr.Dataset:
    return network_dataset(
        split_by_mba(_only(archive.load(groups, start, end), sensors)), registers
    )


def _only(ds: xr.Dataset, sensors: tuple[str, ...] | None) -> xr.Dataset:
    if sensors is None:
        return ds
    return ds.isel(sensor=np.flatnonzero(np.isin(ds["sensor"].values.astype(str), sensors)))


def _labels_in_scope(labels: Sequence[Label], data: PreparedData) -> list[Label]:
    start, end = data.span
    groups = set(data.profiles) if data.scope == "network" else set(data.evaluate)
    sensors = {str(s) for ds in data.evaluate.values() for s in ds["sensor"].values}
    return [
        label
        for label in labels
        if label.end >= start
        and label.start < end
        and (
            (label.sensor is not None and label.sensor in sensors)
            or (label.sensor is None and label.mba_id in groups)
        )
    ]


def _datetime(value: np.datetime64) -> datetime:
    return pd.Timestamp(value).tz_localize("UTC").to_pydatetime()


def _iso(value: np.datetime64) -> str:
    return pd.Timestamp(value).isoformat()
