"""Labelled events: what really happened, to score detectors against.

A label says that something of a ``kind`` went on at an MBA (or at one sensor)
between ``start`` and ``end``. Labels come from a simple file an analyst writes
(CSV or JSON) or from alerts that inspectors closed with a verdict: a true alarm is a
true event, a false alarm a confirmed non-event (``truth = false``).

CSV columns: ``mba_id`` (or ``mba``), ``sensor`` (or ``sensor_id``), ``start``,
``end``, and optionally ``kind``, ``truth`` and ``note``. JSON: a list of objects with
the same keys, or ``{"labels": [...]}``. Times are ISO-8601; without an offset UTC.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    ValidationError,
    field_validator,
    model_validator,
)

from vth.detectors.errors import DetectorError
from vth.models.alert import Alert
from vth.sensing.masks import close_gaps, run_bounds

LABEL_COLUMNS = ("mba_id", "sensor", "start", "end", "kind", "truth", "note")
_ALIASES = {"mba": "mba_id", "sensor_id": "sensor", "label": "kind"}
_TRUE = {"true", "1", "yes", "y", "true_alarm", "t"}
_FALSE = {"false", "0", "no", "n", "false_alarm", "f"}


class LabelError(DetectorError):
    """A labels file that cannot be read; the message names the file and line."""


class Label(BaseModel):
    """One labelled event (or, with ``truth = False``, a confirmed non-event)."""

    model_config = ConfigDict(frozen=True)

    mba_id: str | None = None
    sensor: str | None = None
    start: AwareDatetime
    end: AwareDatetime
    kind: str | None = None
    truth: bool = True
    note: str | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = pd.Timestamp(value)
            if value.tzinfo is None:
                value = value.tz_localize("UTC")
            return value.to_pydatetime()
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @field_validator("mba_id", "sensor", "kind", "note", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if value is None or (isinstance(value, float) and value != value):
            return None
        text = str(value).strip()
        return text or None

    @model_validator(mode="after")
    def _check(self) -> Label:
        if self.mba_id is None and self.sensor is None:
            raise ValueError("a label needs an mba_id or a sensor")
        if self.end < self.start:
            raise ValueError(f"end {self.end.isoformat()} is before start {self.start.isoformat()}")
        return self


def read_labels(path: Path | str) -> list[Label]:
    """Read a labels file (``.csv`` or ``.json``).

    Raises
    ------
    LabelError
        Naming the file, the line (CSV) or entry (JSON), and what is wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise LabelError(f"{path}: no such labels file")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _from_json(path)
    if suffix == ".csv":
        return _from_csv(path)
    raise LabelError(f"{path}: labels are a .csv or .json file")


def read_all_labels(paths: Iterable[Path | str]) -> list[Label]:
    """The labels of several files, in order."""
    return [label for path in paths for label in read_labels(path)]


def write_labels(labels: Sequence[Label], path: Path | str) -> Path:
    """Write labels as CSV (or JSON for a ``.json`` path)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".json":
        payload = {"labels": [label.model_dump(mode="json") for label in labels]}
        path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        return path
    rows = [
        {
            "mba_id": label.mba_id or "",
            "sensor": label.sensor or "",
            "start": label.start.isoformat().replace("+00:00", "Z"),
            "end": label.end.isoformat().replace("+00:00", "Z"),
            "kind": label.kind or "",
            "truth": "true" if label.truth else "false",
            "note": label.note or "",
        }
        for label in labels
    ]
    pd.DataFrame(rows, columns=list(LABEL_COLUMNS)).to_csv(path, index=False)
    return path


def labels_from_alerts(alerts: Iterable[Alert]) -> list[Label]:
    """Labels from the alerts inspectors closed: true alarms are events, false alarms not.

    Alerts without a review are left out (nobody has judged them yet).
    """
    labels = []
    for alert in alerts:
        review = alert.review
        if review is None:
            continue
        who = f" by {review.inspector}" if review.inspector else ""
        note = f"alert {alert.id} closed as {review.verdict}{who}"
        if review.note:
            note += f": {review.note}"
        labels.append(
            Label(
                mba_id=alert.mba_id,
                sensor=alert.sensor_id,
                start=alert.start,
                end=alert.end,
                kind=alert.kind,
                truth=review.verdict == "true_alarm",
                note=note,
            )
        )
    return sorted(labels, key=lambda label: (label.start, label.mba_id or "", label.sensor or ""))


def labels_from_threshold(
    dataset: xr.Dataset,
    sensor: str,
    variable: str,
    above: float,
    *,
    min_duration: str = "0s",
    merge_gap: str = "0s",
    label_sensor: str | None = None,
    kind: str | None = None,
) -> list[Label]:
    """Labels where a reference instrument read above a value: its own events as truth.

    Agencies place sensors beside certified reference analysers; spans in which the
    reference exceeded ``above`` are the events a detector on the sensor should find.

    Parameters
    ----------
    dataset
        Streams holding the reference ``sensor``.
    sensor, variable
        The reference instrument and the quantity it measures.
    above
        Values strictly above this mark an event.
    min_duration
        Shorter spans are left out (e.g. ``"2h"``).
    merge_gap
        Spans this close together become one event.
    label_sensor
        Sensor the labels are for (the one a detector watches); ``sensor`` when None.
    kind
        Kind of the labels (e.g. ``peak``); any kind when None.

    Raises
    ------
    LabelError
        When the sensor or variable is not in the dataset.
    """
    sensors = dataset["sensor"].values.astype(str)
    if sensor not in sensors:
        raise LabelError(f"no sensor {sensor!r} in the data; sensors: {', '.join(sensors)}")
    if variable not in dataset.data_vars:
        present = ", ".join(map(str, dataset.data_vars))
        raise LabelError(f"no variable {variable!r} in the data; variables: {present}")
    series = dataset[variable].isel(sensor=int(np.flatnonzero(sensors == sensor)[0]))
    times = series["time"].values.astype("datetime64[ns]")
    if len(times) == 0:
        return []
    step = np.median(np.diff(times)) if len(times) > 1 else np.timedelta64(0, "ns")
    with np.errstate(invalid="ignore"):
        mask = (series.values > above)[None, :]
    gap_samples = int(pd.Timedelta(merge_gap).value // max(1, int(step.astype(np.int64))))
    if gap_samples > 0:
        mask = close_gaps(mask, gap_samples)
    _, starts, stops = run_bounds(mask)
    ends = times[stops - 1] + step
    keep = (ends - times[starts]) >= np.timedelta64(pd.Timedelta(min_duration).value, "ns")
    mba = str(dataset["mba_id"].values[int(np.flatnonzero(sensors == sensor)[0])])
    note = f"{sensor} {variable} > {above:g}"
    return [
        Label(
            mba_id=mba,
            sensor=label_sensor or sensor,
            start=pd.Timestamp(a).tz_localize("UTC").to_pydatetime(),
            end=pd.Timestamp(b).tz_localize("UTC").to_pydatetime(),
            kind=kind,
            note=note,
        )
        for a, b in zip(times[starts][keep], ends[keep], strict=True)
    ]


def _from_csv(path: Path) -> list[Label]:
    try:
        # blank lines kept (then dropped below) so that row + 2 is the file's line
        df = pd.read_csv(
            path, dtype=str, keep_default_na=False, skipinitialspace=True, skip_blank_lines=False
        )
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise LabelError(f"{path}: not a readable CSV file ({exc})") from None
    df.columns = [_ALIASES.get(str(c).strip(), str(c).strip()) for c in df.columns]
    missing = [c for c in ("start", "end") if c not in df.columns]
    if missing or not ({"mba_id", "sensor"} & set(df.columns)):
        raise LabelError(
            f"{path}: labels need the columns start, end and mba_id or sensor; "
            f"found {', '.join(df.columns)}"
        )
    labels = []
    for i, row in enumerate(df.to_dict("records")):
        if all(str(v).strip() == "" for v in row.values()):
            continue  # a blank line
        labels.append(_label({k: v for k, v in row.items() if k in LABEL_COLUMNS}, path, i + 2))
    return labels


def _from_json(path: Path) -> list[Label]:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise LabelError(f"{path}: not readable JSON ({exc})") from None
    items = payload.get("labels") if isinstance(payload, dict) else payload
    if not isinstance(items, list):
        raise LabelError(f'{path}: expected a list of labels or {{"labels": [...]}}')
    labels = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise LabelError(f"{path}: label {i + 1} is not an object")
        row = {_ALIASES.get(str(k), str(k)): v for k, v in item.items()}
        labels.append(_label(row, path, None, i + 1))
    return labels


def _label(row: dict[str, Any], path: Path, line: int | None, entry: int | None = None) -> Label:
    where = f"line {line}" if line is not None else f"label {entry}"
    truth = row.get("truth", True)
    if isinstance(truth, str):
        text = truth.strip().lower()
        if text == "" or text in _TRUE:
            truth = True
        elif text in _FALSE:
            truth = False
        else:
            raise LabelError(f"{path}: {where}: truth {truth!r} is not true or false")
    row = {**row, "truth": truth}
    try:
        return Label.model_validate(row)
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(p) for p in problem["loc"]) or "label"
        raise LabelError(f"{path}: {where}: {field}: {problem['msg']}") from None
    except ValueError as exc:  # unreadable time strings
        raise LabelError(f"{path}: {where}: {exc}") from None
