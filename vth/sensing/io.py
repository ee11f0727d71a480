"""Reading and writing stream files: netCDF, Zarr and long-format CSV.

CSV files are "long": one row per reading with the columns
``time, mba_id, sensor, quantity, value, unit`` (``time`` ISO-8601; without an offset
it is taken as UTC).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from vth.sensing.errors import StreamFormatError, UnitError
from vth.sensing.streams import make_stream_dataset, split_by_mba, validate_stream_dataset
from vth.sensing.units import canonical_unit, to_canonical

CSV_COLUMNS = ("time", "mba_id", "sensor", "quantity", "value", "unit")
STREAM_SUFFIXES = (".nc", ".nc4", ".netcdf", ".zarr", ".csv")


def open_streams(path: Path | str) -> dict[str, xr.Dataset]:
    """Open a stream file and return one validated ``(sensor, time)`` dataset per MBA.

    Raises
    ------
    StreamFormatError
        When the file is missing, unreadable, or does not follow the stream contract.
    """
    path = Path(path)
    if not path.exists():
        raise StreamFormatError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        ds = read_long_csv(path)
    elif suffix in (".nc", ".nc4", ".netcdf"):
        try:
            with xr.open_dataset(path) as opened:
                ds = opened.load()
        except (OSError, ValueError) as exc:
            raise StreamFormatError(
                f"{path}: not a readable netCDF file ({_first_sentence(exc)})"
            ) from None
    elif suffix == ".zarr":
        try:
            ds = xr.open_zarr(path).load()
        except (OSError, ValueError, KeyError) as exc:
            raise StreamFormatError(
                f"{path}: not a readable Zarr store ({_first_sentence(exc)})"
            ) from None
    else:
        raise StreamFormatError(
            f"{path}: unknown stream file type {suffix!r}; use one of {', '.join(STREAM_SUFFIXES)}"
        )
    return split_by_mba(validate_stream_dataset(ds, str(path)))


def read_long_csv(path: Path | str) -> xr.Dataset:
    """Read a long-format CSV of readings into one stream dataset (all MBAs).

    Exact duplicate rows are dropped; two different values for the same
    (MBA, sensor, quantity, time) are an error naming them.
    """
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype={"mba_id": str, "sensor": str, "quantity": str, "unit": str})
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise StreamFormatError(f"{path}: not a readable CSV file ({exc})") from None
    missing = [c for c in CSV_COLUMNS if c not in df.columns]
    if missing:
        raise StreamFormatError(
            f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(CSV_COLUMNS)}"
        )
    times = pd.to_datetime(df["time"], utc=True, errors="coerce", format="ISO8601")
    bad_time = times.isna()
    if bad_time.any():
        row = int(np.flatnonzero(bad_time.to_numpy())[0]) + 2
        raise StreamFormatError(
            f"{path}: line {row}: time {df['time'].iloc[row - 2]!r} is not ISO-8601"
        )
    return long_frame_to_dataset(df.assign(time=times.dt.tz_convert(None)), str(path))


def long_frame_to_dataset(df: pd.DataFrame, origin: str) -> xr.Dataset:
    """Turn a long table of readings into one stream dataset (all MBAs).

    ``df`` has the columns of :data:`CSV_COLUMNS` with ``time`` as naive UTC
    datetimes. Values are converted to canonical units; exact duplicate rows are
    dropped; two different values for the same (MBA, sensor, quantity, time) are an
    error naming them. ``origin`` names the input in messages.
    """
    path = origin
    df = df.assign(unit=df["unit"].fillna(""))
    numeric = pd.to_numeric(df["value"], errors="coerce").astype(np.float64)
    not_numeric = numeric.isna() & df["value"].notna()
    if not_numeric.any():
        row = int(np.flatnonzero(not_numeric.to_numpy())[0])
        raise StreamFormatError(
            f"{path}: line {row + 2}: value {df['value'].iloc[row]!r} is not a number"
        )
    df["value"] = numeric
    pair_codes, pairs = pd.MultiIndex.from_frame(df[["quantity", "unit"]]).factorize()
    converted = df["value"].to_numpy(dtype=np.float64, copy=True)
    canonical = np.empty(len(df), dtype=object)
    for code, (quantity, unit) in enumerate(pairs):
        rows = pair_codes == code
        try:
            canonical[rows] = canonical_unit(str(quantity), str(unit) or None)
        except UnitError as exc:
            raise StreamFormatError(f"{path}: {exc}") from None
        converted[rows] = to_canonical(converted[rows], str(unit) or None)
    df = df.assign(value=converted, unit=canonical)
    df = df.drop_duplicates(subset=["mba_id", "sensor", "quantity", "time", "value"])
    clash = df.duplicated(subset=["mba_id", "sensor", "quantity", "time"], keep=False)
    if clash.any():
        first = df[clash].iloc[0]
        raise StreamFormatError(
            f"{path}: conflicting values for {first['mba_id']}/{first['sensor']}/"
            f"{first['quantity']} at {first['time']}"
        )
    sensors = df[["sensor", "mba_id"]].drop_duplicates()
    if sensors["sensor"].duplicated().any():
        dup = sensors[sensors["sensor"].duplicated()].iloc[0]["sensor"]
        raise StreamFormatError(f"{path}: sensor id {dup!r} appears under several MBAs")
    sensor_ids = sorted(sensors["sensor"])
    mba_of = dict(zip(sensors["sensor"], sensors["mba_id"], strict=True))
    times_ns = df["time"].to_numpy(dtype="datetime64[ns]")
    time_axis, t_pos = np.unique(times_ns, return_inverse=True)
    s_pos = pd.Index(sensor_ids).get_indexer(df["sensor"])
    q_codes, quantities = pd.factorize(df["quantity"])
    values = df["value"].to_numpy(dtype=np.float64)
    units = df["unit"].to_numpy()
    variables = {}
    for code, quantity in enumerate(quantities):
        rows = np.flatnonzero(q_codes == code)
        grid = np.full((len(sensor_ids), len(time_axis)), np.nan)
        grid[s_pos[rows], t_pos[rows]] = values[rows]
        variables[str(quantity)] = (grid, str(units[rows[0]]))
    return make_stream_dataset(
        mba_id=[mba_of[s] for s in sensor_ids],
        sensors=sensor_ids,
        times=time_axis,
        variables=variables,
    )


def write_netcdf(ds: xr.Dataset, path: Path | str) -> None:
    """Write a stream dataset to netCDF-4 (string coordinates as variable-length strings)."""
    out = ds.copy()
    for name in ("sensor", "mba_id", "kind"):
        if name in out.coords:
            out = out.assign_coords({name: out[name].astype(str)})
    out.to_netcdf(path, engine="h5netcdf")


def _first_sentence(exc: BaseException) -> str:
    """The first sentence of a library's error (xarray appends long installation hints)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.split(". ")[0].rstrip(".")
