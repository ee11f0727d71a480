"""Stream files (CSV, netCDF, Zarr) open as validated (sensor, time) datasets per MBA."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from vth.models import load_profiles
from vth.sensing import (
    StreamFormatError,
    annotate,
    make_stream_dataset,
    open_streams,
    read_long_csv,
    validate_stream_dataset,
    write_netcdf,
)
from vth.sensing.streams import split_by_mba

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PROFILES = ROOT / "examples" / "profiles"
GASTURBINE_NC = ROOT / "examples" / "data" / "gasturbine-2011.nc"
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

HEADER = "time,mba_id,sensor,quantity,value,unit\n"


def write_csv(tmp_path: Path, rows: str, name: str = "streams.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + rows, encoding="utf-8")
    return path


def times(*stamps: str) -> np.ndarray:
    return np.array(stamps, dtype="datetime64[ns]")


# --- long CSV ------------------------------------------------------------------------------


def test_a_long_csv_becomes_one_dataset_with_values_in_canonical_units(tmp_path: Path):
    path = write_csv(
        tmp_path,
        "2026-01-05T10:00:00Z,avi-rozenburg,cems-l1,NOx,120000.0,ug/m3\n"
        "2026-01-05T11:01:00+01:00,avi-rozenburg,cems-l1,NOx,130.0,mg/m3\n"
        "2026-01-05T10:00:00,avi-rozenburg,cems-l1,O2,110000.0,ppm\n"
        "2026-01-05T10:00:00,chemie-botlek,meteo-botlek,temperature,20.5,Cel\n",
    )

    ds = read_long_csv(path)

    assert ds["sensor"].values.tolist() == ["cems-l1", "meteo-botlek"]
    assert ds["mba_id"].values.tolist() == ["avi-rozenburg", "chemie-botlek"]
    # an offset is honoured; a time without one is UTC
    np.testing.assert_array_equal(ds["time"].values, times("2026-01-05T10:00", "2026-01-05T10:01"))
    np.testing.assert_allclose(ds["NOx"].values, [[120.0, 130.0], [np.nan, np.nan]])
    np.testing.assert_allclose(ds["O2"].values, [[11.0, np.nan], [np.nan, np.nan]])
    np.testing.assert_allclose(ds["temperature"].values, [[np.nan, np.nan], [293.65, np.nan]])
    assert ds["NOx"].attrs["units"] == "mg/m3"
    assert ds["O2"].attrs["units"] == "%"
    assert ds["temperature"].attrs["units"] == "K"


def test_a_dataset_written_as_long_csv_reads_back_the_same(tmp_path: Path):
    original = make_stream_dataset(
        mba_id=["avi-rozenburg", "avi-rozenburg", "chemie-botlek"],
        sensors=["cems-l1", "cems-l2", "cems-f101"],
        times=times("2026-01-05T10:00", "2026-01-05T10:01", "2026-01-05T10:02"),
        variables={
            "NOx": (np.array([[1.5, 2.5, 3.5], [4.0, np.nan, 6.0], [7.0, 8.0, 9.25]]), "mg/m3"),
            "O2": (np.array([[10.0, 10.5, 11.0], [9.0, 9.5, np.nan], [3.0, 3.5, 4.0]]), "%"),
        },
    )
    long = original.drop_vars(["kind", "lat", "lon"]).to_dataframe().reset_index()
    long = long.melt(id_vars=["sensor", "time", "mba_id"], var_name="quantity").dropna()
    long["unit"] = long["quantity"].map({"NOx": "mg/m3", "O2": "%"})
    long["time"] = pd.to_datetime(long["time"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    path = tmp_path / "long.csv"
    long[["time", "mba_id", "sensor", "quantity", "value", "unit"]].to_csv(path, index=False)

    back = read_long_csv(path)

    expected = original.sortby("sensor")
    xr.testing.assert_identical(
        back[["NOx", "O2"]].reset_coords(drop=True), expected[["NOx", "O2"]].reset_coords(drop=True)
    )
    assert back["mba_id"].values.tolist() == expected["mba_id"].values.tolist()


def test_exact_duplicate_rows_are_dropped(tmp_path: Path):
    row = "2026-01-05T10:00:00Z,avi-rozenburg,cems-l1,NOx,120.0,mg/m3\n"
    path = write_csv(tmp_path, row + row + row)

    ds = read_long_csv(path)

    assert ds["NOx"].values.tolist() == [[120.0]]


def test_the_same_reading_in_two_units_is_a_duplicate_not_a_conflict(tmp_path: Path):
    path = write_csv(
        tmp_path,
        "2026-01-05T10:00:00Z,avi-rozenburg,cems-l1,NOx,120.0,mg/m3\n"
        "2026-01-05T10:00:00Z,avi-rozenburg,cems-l1,NOx,120000.0,ug/m3\n",
    )

    assert read_long_csv(path)["NOx"].values.tolist() == [[120.0]]


def test_two_different_values_for_one_reading_are_refused_naming_the_reading(tmp_path: Path):
    path = write_csv(
        tmp_path,
        "2026-01-05T10:00:00Z,avi-rozenburg,cems-l1,NOx,120.0,mg/m3\n"
        "2026-01-05T10:00:00Z,avi-rozenburg,cems-l1,NOx,121.0,mg/m3\n",
    )

    with pytest.raises(StreamFormatError) as exc:
        read_long_csv(path)

    message = str(exc.value)
    assert str(path) in message
    assert "conflicting values for avi-rozenburg/cems-l1/NOx at 2026-01-05 10:00:00" in message


def test_a_missing_column_is_named_with_the_expected_header(tmp_path: Path):
    path = tmp_path / "short.csv"
    path.write_text("time,sensor,quantity,value\n2026-01-05T10:00:00Z,s1,NOx,1.0\n")

    with pytest.raises(StreamFormatError) as exc:
        read_long_csv(path)

    assert "missing column(s) mba_id, unit" in str(exc.value)
    assert "expected time, mba_id, sensor, quantity, value, unit" in str(exc.value)


def test_a_bad_time_is_reported_with_its_line_number(tmp_path: Path):
    path = write_csv(
        tmp_path,
        "2026-01-05T10:00:00Z,m,s1,NOx,1.0,mg/m3\n"
        "2026-01-05T10:01:00Z,m,s1,NOx,1.0,mg/m3\n"
        "yesterday at ten,m,s1,NOx,1.0,mg/m3\n",
    )

    with pytest.raises(StreamFormatError, match=r"line 4: time 'yesterday at ten' is not ISO-8601"):
        read_long_csv(path)


def test_a_unit_that_does_not_fit_the_quantity_is_refused(tmp_path: Path):
    path = write_csv(tmp_path, "2026-01-05T10:00:00Z,m,s1,NOx,1.0,Ohm\n")

    with pytest.raises(StreamFormatError, match=r"NOx given in 'Ohm'"):
        read_long_csv(path)


def test_one_sensor_id_under_two_mbas_is_refused(tmp_path: Path):
    path = write_csv(
        tmp_path,
        "2026-01-05T10:00:00Z,mba-a,s1,NOx,1.0,mg/m3\n2026-01-05T10:00:00Z,mba-b,s1,NOx,1.0,mg/m3\n",
    )

    with pytest.raises(StreamFormatError, match=r"sensor id 's1' appears under several MBAs"):
        read_long_csv(path)


def test_whole_number_celsius_values_are_converted_to_kelvin(tmp_path: Path):
    path = write_csv(
        tmp_path,
        "2026-01-05T10:00:00Z,chemie-botlek,meteo-botlek,temperature,20,Cel\n"
        "2026-01-05T10:01:00Z,chemie-botlek,meteo-botlek,temperature,21,Cel\n",
    )

    ds = read_long_csv(path)

    np.testing.assert_allclose(ds["temperature"].values, [[293.15, 294.15]])


def test_a_value_that_is_not_a_number_is_reported_with_its_line_number(tmp_path: Path):
    path = write_csv(
        tmp_path,
        "2026-01-05T10:00:00Z,m,s1,NOx,1.0,mg/m3\n2026-01-05T10:01:00Z,m,s1,NOx,high,mg/m3\n",
    )

    with pytest.raises(StreamFormatError, match=r"line 3: value 'high' is not a number"):
        read_long_csv(path)


def test_an_empty_value_cell_is_a_missing_sample(tmp_path: Path):
    path = write_csv(
        tmp_path,
        "2026-01-05T10:00:00Z,m,s1,NOx,,mg/m3\n2026-01-05T10:01:00Z,m,s1,NOx,5.0,mg/m3\n",
    )

    np.testing.assert_array_equal(read_long_csv(path)["NOx"].values, [[np.nan, 5.0]])


def test_open_streams_splits_a_csv_per_mba(tmp_path: Path):
    path = write_csv(
        tmp_path,
        "2026-01-05T10:00:00Z,avi-rozenburg,cems-l1,NOx,120.0,mg/m3\n"
        "2026-01-05T10:00:00Z,chemie-botlek,cems-f101,NOx,60.0,mg/m3\n"
        "2026-01-05T10:01:00Z,chemie-botlek,cems-f101,NOx,61.0,mg/m3\n",
    )

    streams = open_streams(path)

    assert sorted(streams) == ["avi-rozenburg", "chemie-botlek"]
    assert streams["avi-rozenburg"]["sensor"].values.tolist() == ["cems-l1"]
    assert streams["chemie-botlek"]["NOx"].values.tolist() == [[60.0, 61.0]]


# --- netCDF and Zarr -----------------------------------------------------------------------


def small_stream() -> xr.Dataset:
    ds = make_stream_dataset(
        mba_id="gasturbine-maasvlakte",
        sensors=["cems-gt1"],
        times=times("2026-01-05T10:00", "2026-01-05T11:00", "2026-01-05T12:00"),
        variables={
            "NOx": (np.array([[60.0, np.nan, 110.0]]), "mg/m3"),
            "TIT": (np.array([[1000.0, 1010.0, 1020.0]]), "Cel"),
        },
    )
    ds["NOx"].attrs["reference_o2"] = 15.0
    return ds


def test_a_dataset_round_trips_through_netcdf(tmp_path: Path):
    path = tmp_path / "streams.nc"
    write_netcdf(small_stream(), path)

    [(mba, back)] = open_streams(path).items()

    assert mba == "gasturbine-maasvlakte"
    np.testing.assert_array_equal(back["NOx"].values, [[60.0, np.nan, 110.0]])
    assert back["NOx"].attrs == {"units": "mg/m3", "reference_o2": 15.0}
    # validation converts Celsius to the canonical kelvin
    np.testing.assert_allclose(back["TIT"].values, [[1273.15, 1283.15, 1293.15]])
    assert back["TIT"].attrs["units"] == "K"
    np.testing.assert_array_equal(back["time"].values, small_stream()["time"].values)
    assert back["sensor"].values.tolist() == ["cems-gt1"]
    assert back["kind"].values.tolist() == ["unknown"]


def test_a_dataset_round_trips_through_zarr(tmp_path: Path):
    ds = small_stream()
    for name in ("sensor", "mba_id", "kind"):
        ds = ds.assign_coords({name: ds[name].astype(str)})
    path = tmp_path / "streams.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.to_zarr(path)
        back = open_streams(path)["gasturbine-maasvlakte"]

    np.testing.assert_array_equal(back["NOx"].values, [[60.0, np.nan, 110.0]])


def test_the_example_gas_turbine_file_opens_as_one_mba_of_hourly_data():
    [(mba, ds)] = open_streams(GASTURBINE_NC).items()

    assert mba == "gasturbine-maasvlakte"
    assert dict(ds.sizes) == {"sensor": 1, "time": 7411}
    assert ds["time"].values[0] == np.datetime64("2011-01-01T00:00")
    assert (np.diff(ds["time"].values) == np.timedelta64(1, "h")).all()
    assert float(ds["NOx"].attrs["reference_o2"]) == 15.0


def test_the_example_gas_turbine_file_holds_the_published_uci_values():
    csv = SHARED_DATA / "gas-turbine-co-nox" / "gt_2011.csv"
    if not csv.exists():
        pytest.skip(f"shared UCI gas turbine data not found at {csv}")
    published = pd.read_csv(csv)

    ds = open_streams(GASTURBINE_NC)["gasturbine-maasvlakte"]

    np.testing.assert_allclose(ds["NOx"].values[0], published["NOX"].to_numpy())
    np.testing.assert_allclose(ds["CO"].values[0], published["CO"].to_numpy())


def test_an_unknown_file_suffix_is_refused_listing_the_known_ones(tmp_path: Path):
    path = tmp_path / "streams.parquet"
    path.write_bytes(b"PAR1")

    with pytest.raises(StreamFormatError) as exc:
        open_streams(path)

    assert "unknown stream file type '.parquet'" in str(exc.value)
    assert ".nc, .nc4, .netcdf, .zarr, .csv" in str(exc.value)


def test_a_missing_file_is_a_stream_format_error(tmp_path: Path):
    with pytest.raises(StreamFormatError, match="no such file"):
        open_streams(tmp_path / "absent.nc")


@pytest.mark.parametrize(
    "content",
    [b"this is not netCDF at all\n" * 10, b"\x89HDF\r\n\x1a\n" + b"\x00garbage" * 50],
    ids=["text", "truncated-hdf5"],
)
def test_a_corrupt_netcdf_file_is_a_stream_format_error(tmp_path: Path, content: bytes):
    path = tmp_path / "corrupt.nc"
    path.write_bytes(content)

    with pytest.raises(StreamFormatError, match="not a readable netCDF file"):
        open_streams(path)


# --- the (sensor, time) contract -------------------------------------------------------------


def test_validation_names_a_missing_dimension():
    ds = xr.Dataset({"NOx": ("time", [1.0])}, coords={"time": times("2026-01-05T10:00")})

    with pytest.raises(StreamFormatError, match=r"upload.nc: missing dimension 'sensor'"):
        validate_stream_dataset(ds, "upload.nc")


def test_validation_names_a_missing_mba_id():
    ds = small_stream().drop_vars("mba_id")

    with pytest.raises(StreamFormatError, match=r"missing coordinate 'mba_id'"):
        validate_stream_dataset(ds)


def test_validation_refuses_a_time_axis_that_is_not_datetime():
    ds = small_stream().assign_coords(time=[0, 1, 2])

    with pytest.raises(StreamFormatError, match=r"coordinate 'time' is int64, not datetime"):
        validate_stream_dataset(ds)


def test_validation_sorts_times_and_refuses_duplicates():
    ds = small_stream().isel(time=[2, 0, 1])
    assert (np.diff(validate_stream_dataset(ds)["time"].values) > np.timedelta64(0)).all()

    with pytest.raises(StreamFormatError, match="duplicate times"):
        validate_stream_dataset(small_stream().isel(time=[0, 1, 1]))


def test_validation_refuses_a_variable_in_a_wrong_unit():
    ds = small_stream()
    ds["NOx"].attrs["units"] = "Ohm"

    with pytest.raises(StreamFormatError, match=r"variable 'NOx': NOx given in 'Ohm'"):
        validate_stream_dataset(ds, "upload.nc")


def test_validation_fills_missing_kind_and_position():
    ds = small_stream().drop_vars(["kind", "lat", "lon"])

    out = validate_stream_dataset(ds)

    assert out["kind"].values.tolist() == ["unknown"]
    assert np.isnan(out["lat"].values).all()


def test_annotate_fills_kind_and_position_from_the_profile():
    profiles = load_profiles(EXAMPLE_PROFILES)
    ds = make_stream_dataset(
        mba_id="chemie-botlek",
        sensors=["cems-f101", "enose-101", "furnace-1", "stranger"],
        times=times("2026-01-05T10:00"),
        variables={"NOx": (np.ones((4, 1)), "mg/m3")},
    )

    out = annotate(ds, profiles["chemie-botlek"])

    assert out["kind"].values.tolist() == ["cems", "enose", "cems", "unknown"]
    np.testing.assert_allclose(out["lat"].values, [51.8708, 51.8750, 51.8708, np.nan])
    np.testing.assert_allclose(out["lon"].values, [4.2968, 4.2975, 4.2968, np.nan])


def test_split_by_mba_keeps_each_mbas_sensors():
    ds = make_stream_dataset(
        mba_id=["a", "b", "a"],
        sensors=["s1", "s2", "s3"],
        times=times("2026-01-05T10:00"),
        variables={"NOx": (np.array([[1.0], [2.0], [3.0]]), "mg/m3")},
    )

    parts = split_by_mba(ds)

    assert parts["a"]["sensor"].values.tolist() == ["s1", "s3"]
    assert parts["b"]["NOx"].values.tolist() == [[2.0]]
