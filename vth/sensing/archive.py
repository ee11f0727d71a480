"""Archives of stream history: Zarr or netCDF stores opened lazily with dask.

Months of history do not fit in memory comfortably, and a backtest needs one MBA (or
one network) at a time. :func:`open_archive` reads only the coordinates; the values
stay dask arrays until :meth:`Archive.load` asks for a slice (MBAs, time span,
variables), which is then checked against the stream contract and converted to
canonical units. :func:`write_archive` writes the Zarr stores the importers make.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from vth.sensing.errors import StreamFormatError
from vth.sensing.io import read_long_csv
from vth.sensing.streams import DIMS, validate_stream_dataset

NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf")
#: Samples per chunk along ``time`` when an archive is written (about a month of 1-min data).
TIME_CHUNK = 43_200
_STRING_COORDS = ("sensor", "mba_id", "kind")


@dataclass(frozen=True)
class Archive:
    """A lazily opened stream archive.

    Attributes
    ----------
    dataset
        The whole archive as a dask-backed ``(sensor, time)`` dataset.
    origin
        Where it was opened from, for messages.
    """

    dataset: xr.Dataset
    origin: str

    @property
    def mba_ids(self) -> list[str]:
        """MBAs (and networks) whose sensors the archive holds, sorted."""
        return sorted({str(m) for m in self.dataset["mba_id"].values})

    @property
    def sensors(self) -> list[str]:
        """Sensor ids in the archive."""
        return [str(s) for s in self.dataset["sensor"].values]

    @property
    def span(self) -> tuple[np.datetime64, np.datetime64]:
        """First and last time in the archive."""
        times = self.dataset["time"].values
        if len(times) == 0:
            raise StreamFormatError(f"{self.origin}: the archive holds no times")
        return times[0], times[-1]

    def load(
        self,
        mba_ids: Iterable[str] | None = None,
        start: np.datetime64 | str | None = None,
        end: np.datetime64 | str | None = None,
        variables: Sequence[str] | None = None,
    ) -> xr.Dataset:
        """Read a slice into memory, checked and in canonical units.

        Parameters
        ----------
        mba_ids
            Only the sensors of these MBAs (or networks); all when None.
        start, end
            Time span, ``start`` included and ``end`` excluded; open when None.
        variables
            Only these variables (the ones missing from the archive are skipped).
        """
        ds = self.dataset
        if mba_ids is not None:
            wanted = list(mba_ids)
            keep = np.isin(ds["mba_id"].values.astype(str), wanted)
            ds = ds.isel(sensor=np.flatnonzero(keep))
        if start is not None or end is not None:
            t = ds["time"].values
            lo = 0 if start is None else int(np.searchsorted(t, _time(start)))
            hi = len(t) if end is None else int(np.searchsorted(t, _time(end)))
            ds = ds.isel(time=slice(lo, hi))
        if variables is not None:
            ds = ds[[v for v in variables if v in ds.data_vars]]
        return validate_stream_dataset(ds.load(), self.origin)


def open_archive(path: Path | str | Sequence[Path | str], chunks: int | None = None) -> Archive:
    """Open a stream archive lazily.

    Parameters
    ----------
    path
        A Zarr store (``.zarr`` folder), a netCDF file, a folder or glob of netCDF
        files (combined along time and sensors, e.g. one file per month), a list of
        such files, or a long-format CSV (read into memory; CSV has no lazy form).
    chunks
        Samples per dask chunk along ``time``; the store's own chunks when None.

    Raises
    ------
    StreamFormatError
        When nothing is there, or it is not a stream archive.
    """
    paths = _expand(path)
    origin = str(path) if isinstance(path, (str, Path)) else ", ".join(str(p) for p in paths)
    time_chunks: dict[str, int] | dict[str, str] = {"time": chunks} if chunks is not None else {}
    try:
        if len(paths) == 1 and paths[0].suffix.lower() == ".zarr":
            ds = xr.open_zarr(paths[0], chunks=time_chunks or {})
        elif len(paths) == 1 and paths[0].suffix.lower() == ".csv":
            ds = read_long_csv(paths[0]).chunk(time_chunks or {"time": TIME_CHUNK})
        elif all(p.suffix.lower() in NETCDF_SUFFIXES for p in paths):
            if len(paths) == 1:
                ds = xr.open_dataset(paths[0], engine="h5netcdf", chunks=time_chunks or {})
            else:
                ds = xr.open_mfdataset(
                    paths,
                    engine="h5netcdf",
                    combine="by_coords",
                    join="outer",
                    chunks=time_chunks or {},
                )
        else:
            kinds = sorted({p.suffix or p.name for p in paths})
            raise StreamFormatError(
                f"{origin}: not an archive ({', '.join(kinds)}); give a .zarr store, "
                "netCDF file(s) or a folder of them, or a long-format .csv"
            )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StreamFormatError(f"{origin}: not a readable archive ({_short(exc)})") from None
    return Archive(_check_structure(ds, origin), origin)


def write_archive(ds: xr.Dataset, path: Path | str) -> Path:
    """Write a stream dataset as an archive: a Zarr store, or netCDF for ``.nc`` paths.

    An existing store at ``path`` is replaced. Returns the path written.
    """
    path = Path(path)
    out = ds.copy()
    for name in _STRING_COORDS:
        if name in out.coords:
            out = out.assign_coords({name: out[name].astype(str)})
    if path.suffix.lower() in NETCDF_SUFFIXES:
        out.to_netcdf(path, engine="h5netcdf")
        return path
    if path.suffix.lower() != ".zarr":
        raise StreamFormatError(f"{path}: archives are .zarr stores or .nc files")
    path.parent.mkdir(parents=True, exist_ok=True)
    encoding = {
        name: {"chunks": (1, min(TIME_CHUNK, max(1, out.sizes["time"])))}
        for name, var in out.data_vars.items()
        if var.dims == DIMS
    }
    for var in out.variables.values():
        var.encoding.pop("chunks", None)
        var.encoding.pop("preferred_chunks", None)
    out.to_zarr(path, mode="w", zarr_format=2, consolidated=True, encoding=encoding)
    return path


def merge_streams(datasets: Sequence[xr.Dataset], origin: str = "import") -> xr.Dataset:
    """Combine stream datasets of different sensors or times into one.

    Two datasets with different values for the same sensor, variable and time are
    an error naming them; equal values and NaN gaps merge.
    """
    if not datasets:
        raise StreamFormatError(f"{origin}: nothing to combine")
    if len(datasets) == 1:
        return datasets[0]
    try:
        merged = xr.merge(
            [d.drop_vars(["kind", "lat", "lon"], errors="ignore") for d in datasets],
            compat="no_conflicts",
            join="outer",
            combine_attrs="drop_conflicts",
        )
    except xr.MergeError as exc:
        raise StreamFormatError(f"{origin}: the inputs disagree ({_short(exc)})") from None
    return validate_stream_dataset(merged, origin)


def _expand(path: Path | str | Sequence[Path | str]) -> list[Path]:
    items = [path] if isinstance(path, (str, Path)) else list(path)
    paths: list[Path] = []
    for item in items:
        text = str(item)
        if any(ch in text for ch in "*?["):
            found = sorted(Path(p) for p in glob.glob(text))  # noqa: PTH207 - absolute patterns too
            if not found:
                raise StreamFormatError(f"{text}: no files match")
            paths.extend(found)
            continue
        p = Path(item)
        if not p.exists():
            raise StreamFormatError(f"{p}: no such file or folder")
        if p.is_dir() and p.suffix.lower() != ".zarr":
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in NETCDF_SUFFIXES)
            if not found:
                raise StreamFormatError(f"{p}: a folder without netCDF files and not a .zarr store")
            paths.extend(found)
        else:
            paths.append(p)
    if len(paths) > 1 and any(p.suffix.lower() in (".zarr", ".csv") for p in paths):
        raise StreamFormatError(
            "give one Zarr store or one CSV file, or any number of netCDF files; "
            "combine others with 'vth archive import' first"
        )
    return paths


def _check_structure(ds: xr.Dataset, origin: str) -> xr.Dataset:
    """The stream contract checks that need no values (those wait for :meth:`Archive.load`)."""
    for dim in DIMS:
        if dim not in ds.dims:
            raise StreamFormatError(
                f"{origin}: missing dimension {dim!r}; stream archives have dims "
                f"(sensor, time), found {tuple(ds.dims)}"
            )
    if "mba_id" not in ds.coords:
        raise StreamFormatError(f"{origin}: missing coordinate 'mba_id' (the MBA of each sensor)")
    if not np.issubdtype(ds["time"].dtype, np.datetime64):
        raise StreamFormatError(f"{origin}: coordinate 'time' is {ds['time'].dtype}, not datetime")
    times = ds["time"].values
    if len(times) > 1 and not bool((np.diff(times) > np.timedelta64(0)).all()):
        ds = ds.sortby("time")
        if bool((np.diff(ds["time"].values) == np.timedelta64(0)).any()):
            raise StreamFormatError(f"{origin}: duplicate times on the 'time' axis")
    return ds.assign_coords(mba_id=("sensor", ds["mba_id"].values.astype(str)))


def _time(value: np.datetime64 | str) -> np.datetime64:
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    result: np.datetime64 = ts.to_datetime64().astype("datetime64[ns]")
    return result


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.split(". ")[0].rstrip(".")
