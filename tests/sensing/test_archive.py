"""Stream archives: Zarr and netCDF stores open lazily and load checked slices."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import xarray as xr

from vth.sensing import StreamFormatError, make_stream_dataset
from vth.sensing.archive import Archive, merge_streams, open_archive, write_archive

T0 = np.datetime64("2026-01-05T10:00", "ns")
MINUTE = np.timedelta64(1, "m")
HOUR = np.timedelta64(1, "h")


def times(*stamps: str) -> np.ndarray:
    return np.array(stamps, dtype="datetime64[ns]")


def stream(
    sensors: list[str],
    mba_id: str | list[str],
    start: str,
    n: int,
    values: dict[str, tuple[float | np.ndarray, str]],
    step: np.timedelta64 = HOUR,
) -> xr.Dataset:
    """A stream dataset of ``n`` samples from ``start``; a float fills the whole grid."""
    axis = np.datetime64(start, "ns") + np.arange(n) * step
    variables = {
        name: (
            np.broadcast_to(np.asarray(v, dtype=np.float64), (len(sensors), n)).copy(),
            unit,
        )
        for name, (v, unit) in values.items()
    }
    return make_stream_dataset(mba_id, sensors, axis, variables)


def network() -> xr.Dataset:
    """Three sensors of two MBAs, five minutes; NOx stored in g/m3 (canonical: mg/m3)."""
    nox = np.arange(15, dtype=np.float64).reshape(3, 5) / 1000.0  # g/m3
    o2 = np.full((3, 5), 11.0)
    o2[1, 2] = np.nan
    return stream(
        ["cems-l1", "cems-l2", "cems-f101"],
        ["avi-rozenburg", "avi-rozenburg", "chemie-botlek"],
        "2026-01-05T10:00",
        5,
        {"NOx": (nox, "g/m3"), "O2": (o2, "%")},
        step=MINUTE,
    )


@pytest.fixture(params=["zarr", "nc"])
def archive(request: pytest.FixtureRequest, tmp_path: Path) -> Archive:
    path = write_archive(network(), tmp_path / f"network.{request.param}")
    return open_archive(path)


# --- write and open ------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["zarr", "nc"])
def test_write_archive_returns_the_path_and_creates_the_store(tmp_path: Path, suffix: str):
    target = tmp_path / "sub" / f"network.{suffix}"
    target.parent.mkdir()

    written = write_archive(network(), target)

    assert written == target
    assert written.exists()
    if suffix == "zarr":
        assert written.is_dir()


def test_opening_reads_coordinates_but_keeps_values_lazy(archive: Archive):
    assert isinstance(archive.dataset["NOx"].data, da.Array)
    assert isinstance(archive.dataset["O2"].data, da.Array)
    # units are not converted until load: the store keeps what was written
    assert archive.dataset["NOx"].attrs["units"] == "g/m3"


def test_load_reads_into_memory_in_canonical_units(archive: Archive):
    loaded = archive.load()

    assert isinstance(loaded["NOx"].data, np.ndarray)
    assert loaded["NOx"].attrs["units"] == "mg/m3"
    np.testing.assert_allclose(loaded["NOx"].values, np.arange(15.0).reshape(3, 5))
    assert loaded["O2"].attrs["units"] == "%"
    assert np.isnan(loaded["O2"].values[1, 2])
    np.testing.assert_array_equal(loaded["time"].values, T0 + np.arange(5) * MINUTE)
    # the archive's own attributes are not touched by the conversion
    assert archive.dataset["NOx"].attrs["units"] == "g/m3"


def test_loading_a_slice_leaves_the_archive_lazy(archive: Archive):
    archive.load(mba_ids=["chemie-botlek"], start="2026-01-05T10:01")

    assert isinstance(archive.dataset["NOx"].data, da.Array)
    assert isinstance(archive.dataset["O2"].data, da.Array)


@pytest.mark.parametrize("variables", [None, ["NOx"]], ids=["all", "variables"])
def test_loading_everything_leaves_the_archive_lazy(archive: Archive, variables: list[str] | None):
    archive.load(variables=variables)

    assert isinstance(archive.dataset["NOx"].data, da.Array)


def test_the_archive_lists_its_mbas_sensors_and_span(archive: Archive):
    assert archive.mba_ids == ["avi-rozenburg", "chemie-botlek"]
    assert archive.sensors == ["cems-l1", "cems-l2", "cems-f101"]
    assert archive.span == (T0, T0 + 4 * MINUTE)
    assert str(archive.origin).endswith(("network.zarr", "network.nc"))


def test_load_by_mba_keeps_only_that_mbas_sensors(archive: Archive):
    loaded = archive.load(mba_ids=["avi-rozenburg"])

    assert loaded["sensor"].values.tolist() == ["cems-l1", "cems-l2"]
    assert loaded["mba_id"].values.tolist() == ["avi-rozenburg", "avi-rozenburg"]
    np.testing.assert_allclose(loaded["NOx"].values, np.arange(10.0).reshape(2, 5))


def test_load_by_an_unknown_mba_gives_no_sensors(archive: Archive):
    loaded = archive.load(mba_ids=["nowhere"])

    assert loaded.sizes["sensor"] == 0
    assert loaded.sizes["time"] == 5


def test_load_by_time_includes_start_and_excludes_end(archive: Archive):
    loaded = archive.load(start="2026-01-05T10:01", end=np.datetime64("2026-01-05T10:03"))

    np.testing.assert_array_equal(
        loaded["time"].values, times("2026-01-05T10:01", "2026-01-05T10:02")
    )
    np.testing.assert_allclose(loaded["NOx"].values[0], [1.0, 2.0])


def test_load_with_an_open_end_or_an_open_start(archive: Archive):
    tail = archive.load(start="2026-01-05T10:03")
    head = archive.load(end="2026-01-05T10:01")

    np.testing.assert_array_equal(tail["time"].values, T0 + np.array([3, 4]) * MINUTE)
    np.testing.assert_array_equal(head["time"].values, [T0])


def test_load_takes_times_with_an_offset_as_utc(archive: Archive):
    loaded = archive.load(start="2026-01-05T11:03+01:00")

    assert loaded["time"].values[0] == T0 + 3 * MINUTE
    assert loaded.sizes["time"] == 2


def test_load_of_selected_variables_skips_the_missing_ones(archive: Archive):
    loaded = archive.load(variables=["O2", "SO2"])

    assert list(loaded.data_vars) == ["O2"]


def test_load_combines_mba_time_and_variable_selection(archive: Archive):
    loaded = archive.load(
        mba_ids=["chemie-botlek"],
        start="2026-01-05T10:02",
        end="2026-01-05T10:04",
        variables=["NOx"],
    )

    assert dict(loaded.sizes) == {"sensor": 1, "time": 2}
    np.testing.assert_allclose(loaded["NOx"].values, [[12.0, 13.0]])
    assert loaded["NOx"].attrs["units"] == "mg/m3"


def test_a_unit_that_does_not_fit_is_found_on_load_naming_the_archive(tmp_path: Path):
    ds = stream(["s1"], "m", "2026-01-05", 3, {"NOx": (1.0, "Ohm")})
    path = write_archive(ds, tmp_path / "ohm.zarr")
    archive = open_archive(path)  # opening does not read values

    with pytest.raises(StreamFormatError, match=r"ohm\.zarr: variable 'NOx': NOx given in 'Ohm'"):
        archive.load()


def test_writing_again_replaces_the_store(tmp_path: Path):
    path = tmp_path / "network.zarr"
    write_archive(network(), path)
    write_archive(stream(["other"], "m", "2026-02-01", 2, {"NOx": (1.0, "mg/m3")}), path)

    archive = open_archive(path)

    assert archive.sensors == ["other"]
    assert archive.dataset.sizes["time"] == 2


def test_an_empty_archive_has_no_span(tmp_path: Path):
    path = write_archive(
        stream(["s1"], "m", "2026-01-05", 0, {"NOx": (1.0, "mg/m3")}), tmp_path / "e.zarr"
    )

    with pytest.raises(StreamFormatError, match=r"e\.zarr: the archive holds no times"):
        _ = open_archive(path).span


def test_a_long_csv_opens_as_an_archive_too(tmp_path: Path):
    path = tmp_path / "readings.csv"
    path.write_text(
        "time,mba_id,sensor,quantity,value,unit\n"
        "2026-01-05T10:00:00Z,m,s1,NOx,0.5,g/m3\n"
        "2026-01-05T10:01:00Z,m,s1,NOx,0.6,g/m3\n"
    )

    archive = open_archive(path)

    assert isinstance(archive.dataset["NOx"].data, da.Array)
    np.testing.assert_allclose(archive.load()["NOx"].values, [[500.0, 600.0]])


# --- chunks --------------------------------------------------------------------------------


def test_a_zarr_store_is_chunked_per_sensor_along_the_whole_time_by_default(tmp_path: Path):
    archive = open_archive(write_archive(network(), tmp_path / "n.zarr"))

    assert archive.dataset["NOx"].chunks == ((1, 1, 1), (5,))


@pytest.mark.parametrize("suffix", ["nc", "zarr"])
@pytest.mark.filterwarnings("ignore:The specified chunks separate the stored chunks")
def test_chunks_sets_the_samples_per_dask_chunk_along_time(tmp_path: Path, suffix: str):
    path = write_archive(network(), tmp_path / f"n.{suffix}")

    archive = open_archive(path, chunks=2)

    assert archive.dataset["NOx"].chunks is not None
    assert archive.dataset["NOx"].chunks[1] == (2, 2, 1)
    np.testing.assert_allclose(archive.load()["NOx"].values, np.arange(15.0).reshape(3, 5))


# --- several netCDF files ------------------------------------------------------------------


def write_months(folder: Path) -> Path:
    """January and February of two sensors (NOx in g/m3), plus February of another MBA's sensor."""
    folder.mkdir(parents=True, exist_ok=True)
    write_archive(
        stream(
            ["cems-l1", "cems-l2"], "avi-rozenburg", "2026-01-31T22:00", 2, {"NOx": (0.001, "g/m3")}
        ),
        folder / "avi-2026-01.nc",
    )
    write_archive(
        stream(
            ["cems-l1", "cems-l2"], "avi-rozenburg", "2026-02-01T00:00", 3, {"NOx": (0.002, "g/m3")}
        ),
        folder / "avi-2026-02.nc",
    )
    write_archive(
        stream(["meteo-1"], "chemie-botlek", "2026-02-01T00:00", 3, {"wind_speed": (3.6, "km/h")}),
        folder / "botlek-2026-02.nc",
    )
    (folder / "README.txt").write_text("not an archive")
    return folder


def test_a_folder_of_monthly_netcdf_files_opens_as_one_archive(tmp_path: Path):
    folder = write_months(tmp_path / "months")

    archive = open_archive(folder)

    assert isinstance(archive.dataset["NOx"].data, da.Array)
    assert archive.mba_ids == ["avi-rozenburg", "chemie-botlek"]
    assert archive.sensors == ["cems-l1", "cems-l2", "meteo-1"]
    assert archive.span == (
        np.datetime64("2026-01-31T22:00", "ns"),
        np.datetime64("2026-02-01T02:00", "ns"),
    )
    loaded = archive.load()
    nan = np.nan
    np.testing.assert_allclose(
        loaded["NOx"].values,
        [
            [1.0, 1.0, 2.0, 2.0, 2.0],
            [1.0, 1.0, 2.0, 2.0, 2.0],
            [nan, nan, nan, nan, nan],
        ],
    )
    np.testing.assert_allclose(loaded["wind_speed"].values[2], [nan, nan, 1.0, 1.0, 1.0])
    assert loaded["wind_speed"].attrs["units"] == "m/s"
    assert loaded["mba_id"].values.tolist() == ["avi-rozenburg", "avi-rozenburg", "chemie-botlek"]


def test_loading_one_mba_and_month_from_a_folder(tmp_path: Path):
    archive = open_archive(write_months(tmp_path / "months"))

    loaded = archive.load(
        mba_ids=["avi-rozenburg"], start="2026-02-01", variables=["NOx", "wind_speed"]
    )

    assert loaded["sensor"].values.tolist() == ["cems-l1", "cems-l2"]
    np.testing.assert_allclose(loaded["NOx"].values, np.full((2, 3), 2.0))
    # wind_speed is in the archive, so it stays, all NaN for these sensors
    assert np.isnan(loaded["wind_speed"].values).all()


def test_a_glob_pattern_selects_files(tmp_path: Path):
    folder = write_months(tmp_path / "months")

    archive = open_archive(str(folder / "avi-*.nc"))

    assert archive.sensors == ["cems-l1", "cems-l2"]
    assert archive.dataset.sizes["time"] == 5
    assert archive.origin == str(folder / "avi-*.nc")


def test_a_list_of_a_file_and_a_glob_is_combined(tmp_path: Path):
    folder = write_months(tmp_path / "months")

    archive = open_archive([folder / "avi-2026-01.nc", str(folder / "botlek-*.nc")])

    assert archive.sensors == ["cems-l1", "cems-l2", "meteo-1"]
    loaded = archive.load()
    assert loaded.sizes["time"] == 5
    assert "avi-2026-01.nc" in archive.origin
    assert "botlek-2026-02.nc" in archive.origin


def test_files_of_different_sensors_and_months_combine(tmp_path: Path):
    # a sensor added in February: January has only cems-l1
    write_archive(
        stream(["cems-l1"], "m", "2026-01-31T23:00", 1, {"NOx": (1.0, "mg/m3")}), tmp_path / "01.nc"
    )
    write_archive(
        stream(["cems-l1", "cems-l2"], "m", "2026-02-01T00:00", 2, {"NOx": (2.0, "mg/m3")}),
        tmp_path / "02.nc",
    )

    loaded = open_archive(tmp_path).load()

    np.testing.assert_allclose(loaded["NOx"].values, [[1.0, 2.0, 2.0], [np.nan, 2.0, 2.0]])


def test_files_with_the_same_variable_in_different_units_load_in_canonical_units(
    tmp_path: Path,
):
    write_archive(
        stream(["s1"], "m", "2026-01-31T23:00", 1, {"NOx": (1.0, "mg/m3")}), tmp_path / "01.nc"
    )
    write_archive(
        stream(["s1"], "m", "2026-02-01T00:00", 1, {"NOx": (0.002, "g/m3")}), tmp_path / "02.nc"
    )

    loaded = open_archive(tmp_path).load()

    np.testing.assert_allclose(loaded["NOx"].values, [[1.0, 2.0]])


def test_a_folder_combines_the_same_with_xarrays_coming_combine_defaults(tmp_path: Path):
    folder = write_months(tmp_path / "months")

    with xr.set_options(use_new_combine_kwarg_defaults=True):  # type: ignore[no-untyped-call]
        loaded = open_archive(folder).load()

    assert loaded["mba_id"].values.tolist() == ["avi-rozenburg", "avi-rozenburg", "chemie-botlek"]
    np.testing.assert_allclose(loaded["NOx"].values[0], [1.0, 1.0, 2.0, 2.0, 2.0])


# --- errors --------------------------------------------------------------------------------


def test_a_missing_path_is_named(tmp_path: Path):
    path = tmp_path / "absent.zarr"

    with pytest.raises(StreamFormatError, match="no such file or folder") as exc:
        open_archive(path)

    assert str(path) in str(exc.value)


def test_a_folder_without_netcdf_files_is_named(tmp_path: Path):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.txt").write_text("nothing")

    with pytest.raises(StreamFormatError, match="a folder without netCDF files") as exc:
        open_archive(folder)

    assert str(folder) in str(exc.value)


def test_an_unknown_suffix_is_named(tmp_path: Path):
    path = tmp_path / "streams.parquet"
    path.write_bytes(b"PAR1")

    with pytest.raises(StreamFormatError, match=r"not an archive \(\.parquet\)") as exc:
        open_archive(path)

    assert str(path) in str(exc.value)


def test_write_archive_refuses_an_unknown_suffix(tmp_path: Path):
    path = tmp_path / "streams.parquet"

    with pytest.raises(StreamFormatError, match=r"archives are \.zarr stores or \.nc files") as exc:
        write_archive(network(), path)

    assert str(path) in str(exc.value)
    assert not path.exists()


def test_a_zarr_store_without_the_sensor_dimension_is_refused(tmp_path: Path):
    path = tmp_path / "other.zarr"
    xr.Dataset({"v": ("x", [1.0, 2.0])}).to_zarr(path, zarr_format=2, consolidated=True)

    with pytest.raises(StreamFormatError, match=r"missing dimension 'sensor'") as exc:
        open_archive(path)

    assert str(path) in str(exc.value)


def test_a_zarr_store_without_mba_id_is_refused(tmp_path: Path):
    ds = network().drop_vars("mba_id")
    ds = ds.assign_coords(sensor=ds["sensor"].astype(str), kind=ds["kind"].astype(str))
    path = tmp_path / "anonymous.zarr"
    ds.to_zarr(path, zarr_format=2, consolidated=True)

    with pytest.raises(StreamFormatError, match=r"missing coordinate 'mba_id'") as exc:
        open_archive(path)

    assert str(path) in str(exc.value)


@pytest.mark.parametrize("suffix", ["zarr", "nc"])
def test_duplicate_times_are_refused(tmp_path: Path, suffix: str):
    path = write_archive(network().isel(time=[0, 1, 1, 2]), tmp_path / f"dup.{suffix}")

    with pytest.raises(StreamFormatError, match="duplicate times on the 'time' axis") as exc:
        open_archive(path)

    assert str(path) in str(exc.value)


def test_unsorted_times_are_sorted(tmp_path: Path):
    path = write_archive(network().isel(time=[3, 0, 4, 1, 2]), tmp_path / "shuffled.nc")

    archive = open_archive(path)

    np.testing.assert_array_equal(archive.dataset["time"].values, T0 + np.arange(5) * MINUTE)
    np.testing.assert_allclose(archive.load()["NOx"].values[0], [0.0, 1.0, 2.0, 3.0, 4.0])


def test_a_time_axis_that_is_not_datetime_is_refused(tmp_path: Path):
    path = write_archive(network().assign_coords(time=np.arange(5)), tmp_path / "int.nc")

    with pytest.raises(
        StreamFormatError, match=r"int\.nc: coordinate 'time' is int64, not datetime"
    ):
        open_archive(path)


def test_a_corrupt_netcdf_file_is_refused_naming_it(tmp_path: Path):
    path = tmp_path / "corrupt.nc"
    path.write_bytes(b"this is not netCDF\n" * 20)

    with pytest.raises(StreamFormatError, match="not a readable archive") as exc:
        open_archive(path)

    assert str(path) in str(exc.value)


def test_a_glob_without_matches_is_named(tmp_path: Path):
    pattern = str(tmp_path / "*.nc")

    with pytest.raises(StreamFormatError, match="no files match") as exc:
        open_archive(pattern)

    assert pattern in str(exc.value)


def test_a_zarr_store_and_a_netcdf_file_together_are_refused(tmp_path: Path):
    store = write_archive(network(), tmp_path / "n.zarr")
    nc = write_archive(network(), tmp_path / "n.nc")

    with pytest.raises(StreamFormatError, match="give one Zarr store or one CSV file"):
        open_archive([store, nc])


def test_a_zarr_store_and_a_netcdf_file_together_are_named(tmp_path: Path):
    store = write_archive(network(), tmp_path / "n.zarr")
    nc = write_archive(network(), tmp_path / "n.nc")

    with pytest.raises(StreamFormatError) as exc:
        open_archive([store, nc])

    assert str(store) in str(exc.value)


# --- merge_streams -------------------------------------------------------------------------


def test_merge_streams_of_disjoint_sensors_keeps_each_sensors_mba():
    a = stream(["cems-l1"], "avi-rozenburg", "2026-01-05T10:00", 3, {"NOx": (1.0, "mg/m3")})
    b = stream(["meteo-1"], "chemie-botlek", "2026-01-05T10:00", 3, {"O2": (20.9, "%")})

    merged = merge_streams([a, b])

    assert merged["sensor"].values.tolist() == ["cems-l1", "meteo-1"]
    assert merged["mba_id"].values.tolist() == ["avi-rozenburg", "chemie-botlek"]
    np.testing.assert_allclose(merged["NOx"].values, [[1.0] * 3, [np.nan] * 3])
    np.testing.assert_allclose(merged["O2"].values, [[np.nan] * 3, [20.9] * 3])
    assert merged["kind"].values.tolist() == ["unknown", "unknown"]


def test_merge_streams_of_disjoint_times_joins_the_time_axis():
    jan = stream(["s1"], "m", "2026-01-05T10:00", 2, {"NOx": (1.0, "mg/m3")})
    later = stream(["s1"], "m", "2026-01-05T13:00", 2, {"NOx": (2.0, "mg/m3")})

    merged = merge_streams([later, jan])

    np.testing.assert_array_equal(
        merged["time"].values,
        times("2026-01-05T10:00", "2026-01-05T11:00", "2026-01-05T13:00", "2026-01-05T14:00"),
    )
    np.testing.assert_allclose(merged["NOx"].values, [[1.0, 1.0, 2.0, 2.0]])


def test_merge_streams_accepts_equal_overlaps_and_fills_nan_gaps():
    a = stream(["s1"], "m", "2026-01-05T10:00", 3, {"NOx": (np.array([1.0, 2.0, np.nan]), "mg/m3")})
    b = stream(["s1"], "m", "2026-01-05T11:00", 3, {"NOx": (np.array([2.0, 3.0, 4.0]), "mg/m3")})

    merged = merge_streams([a, b])

    np.testing.assert_allclose(merged["NOx"].values, [[1.0, 2.0, 3.0, 4.0]])


def test_merge_streams_converts_to_canonical_units():
    a = stream(["s1"], "m", "2026-01-05T10:00", 1, {"NOx": (0.5, "g/m3")})
    b = stream(["s2"], "m", "2026-01-05T10:00", 1, {"NOx": (0.5, "g/m3")})

    merged = merge_streams([a, b])

    assert merged["NOx"].attrs["units"] == "mg/m3"
    np.testing.assert_allclose(merged["NOx"].values, [[500.0], [500.0]])


def test_merge_streams_of_inputs_in_different_units():
    a = stream(["s1"], "m", "2026-01-05T10:00", 1, {"NOx": (1.0, "mg/m3")})
    b = stream(["s2"], "m", "2026-01-05T10:00", 1, {"NOx": (0.002, "g/m3")})

    merged = merge_streams([a, b])

    np.testing.assert_allclose(merged["NOx"].values, [[1.0], [2.0]])


def test_merge_streams_refuses_conflicting_values_naming_the_origin():
    a = stream(["s1"], "m", "2026-01-05T10:00", 3, {"NOx": (1.0, "mg/m3")})
    b = stream(["s1"], "m", "2026-01-05T12:00", 2, {"NOx": (9.0, "mg/m3")})

    with pytest.raises(StreamFormatError, match=r"^jan\.nc \+ feb\.nc: the inputs disagree") as exc:
        merge_streams([a, b], "jan.nc + feb.nc")

    assert "NOx" in str(exc.value)


def test_merge_streams_of_one_dataset_returns_it_and_of_none_is_an_error():
    a = stream(["s1"], "m", "2026-01-05T10:00", 1, {"NOx": (1.0, "mg/m3")})

    xr.testing.assert_identical(merge_streams([a]), a)
    with pytest.raises(StreamFormatError, match="upload: nothing to combine"):
        merge_streams([], "upload")


def test_merged_streams_round_trip_through_an_archive(tmp_path: Path):
    a = stream(["s1"], "m", "2026-01-05T10:00", 2, {"NOx": (1.0, "mg/m3")})
    b = stream(["s2"], "n", "2026-01-05T11:00", 2, {"NOx": (2.0, "mg/m3")})
    merged = merge_streams([a, b])

    loaded = open_archive(write_archive(merged, tmp_path / "merged.zarr")).load()

    xr.testing.assert_allclose(
        loaded["NOx"].reset_coords(drop=True), merged["NOx"].reset_coords(drop=True)
    )
    assert loaded["mba_id"].values.tolist() == ["m", "n"]


@pytest.mark.parametrize("name", ["history.zarr", "history.nc"])
def test_a_failed_rewrite_leaves_the_existing_archive_as_it_was(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
):
    path = write_archive(
        stream(["s1"], "m", "2026-01-05T10:00", 3, {"NOx": (1.0, "mg/m3")}), tmp_path / name
    )
    bigger = stream(["s1", "s2"], "m", "2026-01-05T10:00", 6, {"NOx": (2.0, "mg/m3")})
    writer = "to_zarr" if name.endswith(".zarr") else "to_netcdf"
    real = getattr(xr.Dataset, writer)

    def half_then_fail(self: xr.Dataset, target: object, *args: object, **kwargs: object) -> None:
        real(self.isel(time=slice(0, 1)), target, *args, **kwargs)  # a partial write...
        raise OSError("No space left on device")  # ...then the disk is full

    monkeypatch.setattr(xr.Dataset, writer, half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        write_archive(bigger, path)
    monkeypatch.undo()

    kept = open_archive(path).load()
    assert kept["sensor"].values.tolist() == ["s1"]
    assert kept.sizes["time"] == 3 and float(kept["NOx"].max()) == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no staging left behind

    write_archive(bigger, path)  # and a write that succeeds replaces it
    assert open_archive(path).load().sizes["time"] == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
