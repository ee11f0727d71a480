"""Importers of history from CSV files as agencies and vendors export them.

Two shapes:

- **wide**: one row per time, one column per quantity (``timestamp,NOx,CO``), as
  data loggers and spreadsheets write them. A column named ``sensor/quantity`` belongs
  to that sensor; other columns belong to the file's sensor (default: the file name).
  Units come from options or from the header (``NOx [mg/m3]``).
- **long**: one row per reading. The full form has the columns ``time, mba_id,
  sensor, quantity, value, unit`` (see :func:`vth.sensing.io.read_long_csv`); any of
  them but the time and the value may be missing when given as an option, so a
  ``timestamp,value`` file of one sensor imports too.

Times without an offset are taken in ``timezone`` (UTC by default) and stored as UTC;
local times that do not exist or are ambiguous at a daylight-saving change are dropped
and counted in the import notes, never guessed. Values equal to a ``missing`` marker
(e.g. ``-200``) become NaN.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr

from vth.sensing.errors import StreamFormatError
from vth.sensing.io import CSV_COLUMNS, long_frame_to_dataset

CsvLayout = Literal["wide", "long"]
TIME_NAMES = ("time", "timestamp", "datetime", "date_time", "Time", "Timestamp", "DateTime")
#: How pandas renames a repeated column: ``NOx``, ``NOx.1``.
_MANGLED = re.compile(r"(?P<name>.+)\.(?P<n>\d+)")
_UNIT_IN_HEADER = re.compile(r"^(?P<name>.+?)\s*[\[(](?P<unit>[^\])]+)[\])]\s*$")


@dataclass
class CsvOptions:
    """How to read a CSV file of history.

    Attributes
    ----------
    layout
        ``"wide"`` or ``"long"``.
    mba_id
        MBA (or network) of the sensors when the file has no ``mba_id`` column.
    sensor
        Sensor of the values when the file has no ``sensor`` column (long) or the
        columns do not say (wide); default: the file name without suffix.
    quantity, unit
        For long files without these columns (``timestamp,value`` files).
    time_columns
        Column(s) holding the time; several are joined with a space (``Date``,
        ``Time``). Default: the first of :data:`TIME_NAMES` present.
    time_format
        ``strptime`` format of the joined time; ISO-8601 or inferred when None.
    dayfirst
        Read ``10/03/2004`` as 10 March when no format is given.
    timezone
        Time zone of times without an offset, e.g. ``Europe/Amsterdam``.
    columns
        Wide files: only these columns (before renaming).
    rename
        Column -> ``quantity`` or ``sensor/quantity``.
    units
        Quantity (after renaming) -> unit.
    missing
        Values that mean "no reading" (e.g. -200).
    sep, decimal
        Field separator (sniffed when None) and decimal mark.
    """

    layout: CsvLayout = "wide"
    mba_id: str | None = None
    sensor: str | None = None
    quantity: str | None = None
    unit: str | None = None
    time_columns: Sequence[str] | None = None
    time_format: str | None = None
    dayfirst: bool = False
    timezone: str = "UTC"
    columns: Sequence[str] | None = None
    rename: Mapping[str, str] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=dict)
    missing: Sequence[float] = ()
    sep: str | None = None
    decimal: str = "."


@dataclass
class ImportResult:
    """A dataset read from a file, with notes on what was left out and why."""

    dataset: xr.Dataset
    notes: list[str] = field(default_factory=list)


def import_csv(path: Path | str, options: CsvOptions) -> ImportResult:
    """Read a wide or long CSV file of history into a stream dataset.

    Raises
    ------
    StreamFormatError
        Naming the file, line or column and what is wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise StreamFormatError(f"{path}: no such file")
    try:
        df = pd.read_csv(
            path,
            sep=options.sep,
            engine="python" if options.sep is None else "c",
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
        )
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError, csv.Error) as exc:
        raise StreamFormatError(f"{path}: not a readable CSV file ({exc})") from None
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty:
        raise StreamFormatError(f"{path}: no rows below the header")
    repeated = [
        m["name"] for c in df.columns if (m := _MANGLED.fullmatch(c)) and m["name"] in df.columns
    ]
    if repeated:
        raise StreamFormatError(f"{path}: column {repeated[0]!r} appears more than once")
    df = df.loc[:, [c for c in df.columns if c and not c.startswith("Unnamed:")]]
    notes: list[str] = []
    times, time_cols = _times(df, options, path, notes)
    if options.layout == "long":
        long = _long_frame(df, times, time_cols, options, path)
    else:
        long = _wide_to_long(df, times, time_cols, options, path)
    long = long[long["time"].notna()]
    if options.missing:
        is_missing = long["value"].isin(list(options.missing))
        if is_missing.any():
            notes.append(f"{int(is_missing.sum())} value(s) marked missing became NaN")
        long = long.assign(value=long["value"].mask(is_missing))
    if long.empty:
        raise StreamFormatError(f"{path}: no readings with a valid time")
    return ImportResult(long_frame_to_dataset(long.reset_index(drop=True), str(path)), notes)


def _times(
    df: pd.DataFrame, options: CsvOptions, path: Path, notes: list[str]
) -> tuple[pd.Series, list[str]]:
    """Naive-UTC times of each row, and the columns they came from."""
    if options.time_columns:
        cols = list(options.time_columns)
        absent = [c for c in cols if c not in df.columns]
        if absent:
            raise StreamFormatError(
                f"{path}: time column(s) {', '.join(absent)} not found; columns are "
                f"{', '.join(df.columns)}"
            )
    else:
        found = [c for c in TIME_NAMES if c in df.columns]
        if not found:
            raise StreamFormatError(
                f"{path}: no time column (looked for {', '.join(TIME_NAMES[:4])}); name it "
                "with the time columns option"
            )
        cols = [found[0]]
    text = df[cols[0]].str.strip()
    for c in cols[1:]:
        text = text + " " + df[c].str.strip()
    empty = text.str.strip() == ""
    kwargs: dict[str, object] = {"errors": "coerce"}
    if options.time_format:
        kwargs["format"] = options.time_format
    else:
        kwargs["dayfirst"] = options.dayfirst
        kwargs["format"] = "mixed"
    with_offset = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True, na=False)
    try:
        # times with offsets (several, across a daylight-saving change) straight to UTC
        parsed = pd.to_datetime(text.where(~empty), utc=bool(with_offset.any()), **kwargs)  # type: ignore[call-overload]
    except (ValueError, TypeError) as exc:
        raise StreamFormatError(f"{path}: times cannot be read ({exc})") from None
    unparsed = parsed.isna() & ~empty
    if unparsed.any():
        row = int(np.flatnonzero(unparsed.to_numpy())[0])
        raise StreamFormatError(
            f"{path}: line {row + 2}: time {text.iloc[row]!r} cannot be read"
            + ("" if options.time_format else "; give its format")
        )
    if with_offset.any() and not with_offset[~empty].all():
        raise StreamFormatError(
            f"{path}: some times carry a UTC offset and some do not; give all times one way"
        )
    if parsed.dt.tz is not None:
        utc = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    else:
        try:
            local = parsed.dt.tz_localize(options.timezone, ambiguous="NaT", nonexistent="NaT")
        except (ValueError, KeyError) as exc:
            raise StreamFormatError(f"{path}: time zone {options.timezone!r}: {exc}") from None
        dropped = int((local.isna() & parsed.notna()).sum())
        if dropped:
            notes.append(
                f"{dropped} row(s) with local times that are ambiguous or do not exist in "
                f"{options.timezone} (daylight-saving changes) were left out"
            )
        utc = local.dt.tz_convert("UTC").dt.tz_localize(None)
    if empty.any():
        notes.append(f"{int(empty.sum())} row(s) without a time were left out")
    return utc, cols


def _wide_to_long(
    df: pd.DataFrame, times: pd.Series, time_cols: list[str], options: CsvOptions, path: Path
) -> pd.DataFrame:
    value_cols = [c for c in df.columns if c not in time_cols]
    if options.columns:
        absent = [c for c in options.columns if c not in df.columns]
        if absent:
            raise StreamFormatError(
                f"{path}: column(s) {', '.join(absent)} not found; columns are "
                f"{', '.join(value_cols)}"
            )
        value_cols = list(options.columns)
    if not value_cols:
        raise StreamFormatError(f"{path}: no value columns besides the time")
    if options.mba_id is None:
        raise StreamFormatError(f"{path}: wide files need the MBA id (option mba_id)")
    default_sensor = options.sensor or path.stem
    parts = []
    for col in value_cols:
        name = options.rename.get(col, col)
        match = _UNIT_IN_HEADER.match(name)
        header_unit = None
        if match and col not in options.rename:
            name, header_unit = match["name"].strip(), match["unit"].strip()
        sensor, _, quantity = name.rpartition("/")
        quantity = quantity.strip()
        values = _numbers(df[col], path, col, options.decimal)
        parts.append(
            pd.DataFrame(
                {
                    "time": times,
                    "mba_id": options.mba_id,
                    "sensor": sensor.strip() or default_sensor,
                    "quantity": quantity,
                    "value": values,
                    "unit": options.units.get(quantity, header_unit or ""),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _long_frame(
    df: pd.DataFrame, times: pd.Series, time_cols: list[str], options: CsvOptions, path: Path
) -> pd.DataFrame:
    given = {
        "mba_id": options.mba_id,
        "sensor": options.sensor or (None if "sensor" in df.columns else path.stem),
        "quantity": options.quantity,
        "unit": options.unit,
    }
    out = pd.DataFrame({"time": times})
    for column, constant in given.items():
        if column in df.columns:
            out[column] = df[column].str.strip()
        elif constant is not None:
            out[column] = constant
        elif column == "unit":
            out[column] = ""
        else:
            raise StreamFormatError(
                f"{path}: no {column!r} column; give the {column} of all rows as an option"
            )
    if "value" not in df.columns:
        raise StreamFormatError(
            f"{path}: no 'value' column; long files have {', '.join(CSV_COLUMNS)}"
        )
    out["value"] = _numbers(df["value"], path, "value", options.decimal)
    if options.units and "unit" not in df.columns:
        out["unit"] = out["quantity"].map(lambda q: options.units.get(q, options.unit or ""))
    return out


def _numbers(column: pd.Series, path: Path, name: str, decimal: str) -> pd.Series:
    text = column.str.strip()
    if decimal != ".":
        text = text.str.replace(decimal, ".", regex=False)
    blank = text.isin(["", "NA", "NaN", "nan", "null"])
    values = pd.to_numeric(text.where(~blank), errors="coerce")
    bad = values.isna() & ~blank
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise StreamFormatError(
            f"{path}: line {row + 2}, column {name!r}: {column.iloc[row]!r} is not a number"
        )
    return values.astype(np.float64)
