"""Archives of stream history: Zarr or netCDF stores opened lazily with dask.

Months of history do not fit in memory comfortably, and a backtest needs one MBA (or
one network) at a time. :func:`open_archive` reads only the coordinates; the values
stay dask arrays until :meth:`Archive.load` asks for a slice (MBAs, time span,
variables), which is then checked against the stream contract and converted to
canonical units. :func:`write_archive` writes the Zarr stores the importers make.
"""

from __future__ import annotations

import glob
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from vth.sensing.errors import StreamFormatError, UnitError
from vth.sensing.io import read_long_csv, write_netcdf
from vth.sensing.streams import DIMS, check_stream_structure, validate_stream_dataset
from vth.sensing.units import canonical_unit, to_canonical

NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf")
#: Suffixes of archives and stream files read lazily.
ARCHIVE_SUFFIXES = (*NETCDF_SUFFIXES, ".zarr")
#: Samples per chunk along ``time`` when an archive is written (about a month of 1-min data).
TIME_CHUNK = 43_200
_STRING_COORDS = ("sensor", "mba_id", "kind")
_PER_SENSOR = ("mba_id", "kind", "lat", "lon")


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
            lo = 0 if start is None else int(np.searchsorted(t, utc_time(start)))
            hi = len(t) if end is None else int(np.searchsorted(t, utc_time(end)))
            ds = ds.isel(time=slice(lo, hi))
        if variables is not None:
            ds = ds[[v for v in variables if v in ds.data_vars]]
        # compute(), not load(): load() would fill the lazy archive itself in place
        return validate_stream_dataset(ds.compute(), self.origin)


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
    time_chunks: dict[str, int] = {"time": chunks} if chunks is not None else {}
    try:
        if len(paths) == 1 and paths[0].suffix.lower() == ".zarr":
            ds = xr.open_zarr(paths[0], chunks=time_chunks or {})
        elif len(paths) == 1 and paths[0].suffix.lower() == ".csv":
            ds = read_long_csv(paths[0]).chunk(time_chunks or {"time": TIME_CHUNK})
        elif all(p.suffix.lower() in NETCDF_SUFFIXES for p in paths):
            if len(paths) == 1:
                ds = xr.open_dataset(paths[0], engine="h5netcdf", chunks=time_chunks or {})
            else:
                ds = _open_netcdf_files(paths, time_chunks or {})
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

    The archive is written beside ``path`` first and then takes its place, so an
    existing archive is replaced only by a complete one: a write that fails (disk
    full, interrupted) leaves it as it was. Returns the path written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ARCHIVE_SUFFIXES:
        raise StreamFormatError(f"{path}: archives are .zarr stores or .nc files")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.writing")
    _remove(staging)
    try:
        if suffix in NETCDF_SUFFIXES:
            write_netcdf(ds, staging)
        else:
            _write_zarr(ds, staging)
    except BaseException:
        _remove(staging)
        raise
    if path.is_dir():  # a Zarr store: a folder cannot be swapped in one step
        retired = path.with_name(f".{path.name}.old")
        _remove(retired)
        path.rename(retired)
        staging.rename(path)
        _remove(retired)
    else:
        staging.replace(path)
    return path


def _write_zarr(ds: xr.Dataset, path: Path) -> None:
    out = ds.copy()
    for name in _STRING_COORDS:
        if name in out.coords:
            out = out.assign_coords({name: out[name].astype(str)})
    encoding = {
        name: {"chunks": (1, min(TIME_CHUNK, max(1, out.sizes["time"])))}
        for name, var in out.data_vars.items()
        if var.dims == DIMS
    }
    for var in out.variables.values():
        var.encoding.pop("chunks", None)
        var.encoding.pop("preferred_chunks", None)
    out.to_zarr(path, mode="w", zarr_format=2, consolidated=True, encoding=encoding)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def merge_streams(datasets: Sequence[xr.Dataset], origin: str = "import") -> xr.Dataset:
    """Combine stream datasets of different sensors or times into one.

    Each is converted to canonical units first. Two datasets with different values for
    the same sensor, variable and time are an error naming them, and so is a sensor id
    under two MBAs; equal values and NaN gaps merge.
    """
    if not datasets:
        raise StreamFormatError(f"{origin}: nothing to combine")
    datasets = [validate_stream_dataset(d, origin) for d in datasets]
    if len(datasets) == 1:
        return datasets[0]
    _owners(datasets, [origin] * len(datasets))
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


def _owners(datasets: Sequence[xr.Dataset], origins: Sequence[str]) -> dict[str, str]:
    """The MBA of each sensor over several datasets; a sensor under two MBAs is an error."""
    owner: dict[str, str] = {}
    for ds, origin in zip(datasets, origins, strict=True):
        sensors = ds["sensor"].values.astype(str)
        for sensor, mba_id in zip(sensors, ds["mba_id"].values.astype(str), strict=True):
            if owner.setdefault(sensor, mba_id) != mba_id:
                raise StreamFormatError(
                    f"{origin}: sensor id {sensor!r} appears under several MBAs "
                    f"({owner[sensor]}, {mba_id})"
                )
    return owner


def _open_netcdf_files(paths: Sequence[Path], chunks: Mapping[str, int]) -> xr.Dataset:
    """Several netCDF stream files as one lazy dataset, each in canonical units first."""
    parts = []
    for path in paths:
        opened = check_stream_structure(
            xr.open_dataset(path, engine="h5netcdf", chunks=dict(chunks)), str(path)
        )
        parts.append(_canonical_lazy(opened, str(path)))
    owner = _owners(parts, [str(p) for p in paths])
    combined = xr.combine_by_coords(
        [p.drop_vars(list(_PER_SENSOR), errors="ignore") for p in parts],
        join="outer",
        compat="no_conflicts",
        data_vars="all",
        coords="different",
        combine_attrs="drop_conflicts",
    )
    assert isinstance(combined, xr.Dataset)
    sensors = combined["sensor"].values.astype(str)
    return combined.assign_coords(mba_id=("sensor", [owner[s] for s in sensors]))


def _canonical_lazy(ds: xr.Dataset, origin: str) -> xr.Dataset:
    """Convert each variable to its canonical unit without reading it (dask arithmetic)."""
    converted = {}
    for name, var in ds.data_vars.items():
        if set(var.dims) != set(DIMS) or "flag_masks" in var.attrs:
            continue
        unit = var.attrs.get("units")
        try:
            target = canonical_unit(str(name), unit)
            data = to_canonical(var.data.astype(np.float64), unit)  # dask arrays stay lazy
        except UnitError as exc:
            raise StreamFormatError(f"{origin}: variable {name!r}: {exc}") from None
        converted[name] = var.copy(data=data).assign_attrs({**var.attrs, "units": target})
    return ds.assign(converted)


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
            f"{', '.join(str(p) for p in paths)}: give one Zarr store or one CSV file, or any "
            "number of netCDF files; combine others with 'vth archive import' first"
        )
    return paths


def _check_structure(ds: xr.Dataset, origin: str) -> xr.Dataset:
    """The stream contract checks that need no values (those wait for :meth:`Archive.load`)."""
    ds = check_stream_structure(ds, origin)
    return ds.assign_coords(mba_id=("sensor", ds["mba_id"].values.astype(str)))


def utc_time(value: np.datetime64 | str) -> np.datetime64:
    """A time as naive UTC ``datetime64[ns]`` (the ``time`` axis); offsets are converted."""
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    result: np.datetime64 = ts.to_datetime64().astype("datetime64[ns]")
    return result


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.split(". ")[0].rstrip(".")
