"""CSV history as agencies and vendors export it: wide and long files, local times, units."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vth.demo.airquality import AIRQUALITY_CSV, AIRQUALITY_MBA, AIRQUALITY_OPTIONS
from vth.sensing import StreamFormatError
from vth.sensing.importers import CsvOptions, ImportResult, import_csv

AIR_QUALITY_CSV = AIRQUALITY_CSV  # the copy in examples/data


def write(tmp_path: Path, text: str, name: str = "logger.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def times(*stamps: str) -> np.ndarray:
    return np.array(stamps, dtype="datetime64[ns]")


def wide(path: Path, **options: object) -> ImportResult:
    return import_csv(path, CsvOptions(mba_id="avi-rozenburg", **options))  # type: ignore[arg-type]


# --- wide files ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["time", "timestamp", "datetime", "date_time", "Timestamp"])
def test_the_time_column_is_found_by_its_name(tmp_path: Path, name: str):
    path = write(tmp_path, f"{name},NOx\n2026-01-05T10:00:00,120\n2026-01-05T10:01:00,130\n")

    result = wide(path)

    np.testing.assert_array_equal(
        result.dataset["time"].values, times("2026-01-05T10:00", "2026-01-05T10:01")
    )
    np.testing.assert_allclose(result.dataset["NOx"].values, [[120.0, 130.0]])
    assert result.notes == []


def test_a_wide_file_becomes_one_sensor_named_after_the_file(tmp_path: Path):
    path = write(tmp_path, "timestamp,NOx,O2\n2026-01-05T10:00:00,120,11\n", name="cems-l1.csv")

    ds = wide(path).dataset

    assert ds["sensor"].values.tolist() == ["cems-l1"]
    assert ds["mba_id"].values.tolist() == ["avi-rozenburg"]
    assert ds["NOx"].attrs["units"] == "mg/m3"  # the canonical unit of its quantity
    assert ds["O2"].attrs["units"] == "%"
    assert ds["kind"].values.tolist() == ["unknown"]


def test_the_sensor_option_names_the_files_sensor(tmp_path: Path):
    path = write(tmp_path, "time,NOx\n2026-01-05T10:00:00,1\n")

    assert wide(path, sensor="cems-l2").dataset["sensor"].values.tolist() == ["cems-l2"]


def test_sensor_slash_quantity_columns_belong_to_that_sensor(tmp_path: Path):
    path = write(
        tmp_path,
        "time,NOx,meteo-1/wind_speed,meteo-1/temperature\n"
        "2026-01-05T10:00:00,120,3.5,280\n"
        "2026-01-05T10:01:00,,4.0,281\n",
        name="cems.csv",
    )

    ds = wide(path).dataset

    assert ds["sensor"].values.tolist() == ["cems", "meteo-1"]
    np.testing.assert_allclose(ds["NOx"].values, [[120.0, np.nan], [np.nan, np.nan]])
    np.testing.assert_allclose(ds["wind_speed"].values, [[np.nan, np.nan], [3.5, 4.0]])
    np.testing.assert_allclose(ds["temperature"].values[1], [280.0, 281.0])


def test_date_and_time_columns_are_joined_and_read_day_first(tmp_path: Path):
    path = write(tmp_path, "Date,Time,NOx\n10/03/2004,18:00:00,1\n11/03/2004,9:00:00,2\n")

    ds = wide(path, time_columns=["Date", "Time"], dayfirst=True).dataset

    np.testing.assert_array_equal(ds["time"].values, times("2004-03-10T18:00", "2004-03-11T09:00"))


def test_without_dayfirst_a_slashed_date_is_month_first(tmp_path: Path):
    path = write(tmp_path, "Date,Time,NOx\n10/03/2004,18:00:00,1\n")

    ds = wide(path, time_columns=["Date", "Time"]).dataset

    assert ds["time"].values[0] == np.datetime64("2004-10-03T18:00", "ns")


def test_a_time_format_reads_unusual_times(tmp_path: Path):
    path = write(tmp_path, "Date,Time,NOx\n10/03/2004,18.00.00,1\n10/03/2004,19.00.00,2\n")

    ds = wide(path, time_columns=["Date", "Time"], time_format="%d/%m/%Y %H.%M.%S").dataset

    np.testing.assert_array_equal(ds["time"].values, times("2004-03-10T18:00", "2004-03-10T19:00"))


def test_columns_selects_and_rename_names_quantity_and_sensor(tmp_path: Path):
    path = write(
        tmp_path,
        "time,PT08_S1_CO,CO_GT,T\n2026-01-05T10:00:00,1360,2.6,13.6\n",
        name="uci.csv",
    )

    ds = wide(
        path,
        columns=["PT08_S1_CO", "CO_GT"],
        rename={"PT08_S1_CO": "mox-s1", "CO_GT": "reference/CO"},
        units={"CO": "mg/m3"},
    ).dataset

    assert sorted(str(v) for v in ds.data_vars) == ["CO", "mox-s1"]
    assert ds["sensor"].values.tolist() == ["reference", "uci"]
    np.testing.assert_allclose(ds["mox-s1"].values, [[np.nan], [1360.0]])
    np.testing.assert_allclose(ds["CO"].values, [[2.6], [np.nan]])
    assert ds["CO"].attrs["units"] == "mg/m3"
    assert ds["mox-s1"].attrs["units"] == ""  # a quantity without a known dimension


def test_units_from_the_header_are_converted_to_canonical_units(tmp_path: Path):
    path = write(
        tmp_path,
        "time,NOx [g/m3],O2 (ppm),wind_speed [km/h],temperature [Cel]\n"
        "2026-01-05T10:00:00,0.12,110000,36,20\n",
    )

    ds = wide(path).dataset

    assert sorted(str(v) for v in ds.data_vars) == ["NOx", "O2", "temperature", "wind_speed"]
    np.testing.assert_allclose(ds["NOx"].values, [[120.0]])
    assert ds["NOx"].attrs["units"] == "mg/m3"
    np.testing.assert_allclose(ds["O2"].values, [[11.0]])
    np.testing.assert_allclose(ds["wind_speed"].values, [[10.0]])
    np.testing.assert_allclose(ds["temperature"].values, [[293.15]])
    assert ds["temperature"].attrs["units"] == "K"


def test_units_from_the_options_are_converted(tmp_path: Path):
    path = write(tmp_path, "time,NOx,CO\n2026-01-05T10:00:00,120000,3\n")

    ds = wide(path, units={"NOx": "ug/m3", "CO": "g/m3"}).dataset

    np.testing.assert_allclose(ds["NOx"].values, [[120.0]])
    np.testing.assert_allclose(ds["CO"].values, [[3000.0]])


def test_a_header_unit_that_does_not_fit_the_quantity_is_refused(tmp_path: Path):
    path = write(tmp_path, "time,NOx [Ohm]\n2026-01-05T10:00:00,1\n")

    with pytest.raises(StreamFormatError, match=r"NOx given in 'Ohm'") as exc:
        wide(path)

    assert str(path) in str(exc.value)


def test_missing_markers_become_nan_with_a_note(tmp_path: Path):
    path = write(
        tmp_path,
        "time,CO,NOx\n2026-01-05T10:00:00,-200,120\n2026-01-05T10:01:00,2.5,-200\n"
        "2026-01-05T10:02:00,2.6,-200.0\n",
    )

    result = wide(path, missing=[-200])

    np.testing.assert_allclose(result.dataset["CO"].values, [[np.nan, 2.5, 2.6]])
    np.testing.assert_allclose(result.dataset["NOx"].values, [[120.0, np.nan, np.nan]])
    assert "3 value(s) marked missing became NaN" in result.notes


def test_missing_markers_are_compared_before_unit_conversion(tmp_path: Path):
    path = write(tmp_path, "time,NOx [g/m3]\n2026-01-05T10:00:00,-200\n2026-01-05T10:01:00,1\n")

    ds = wide(path, missing=[-200]).dataset

    np.testing.assert_allclose(ds["NOx"].values, [[np.nan, 1000.0]])


def test_empty_cells_are_missing_samples_without_a_note(tmp_path: Path):
    path = write(tmp_path, "time,NOx,CO\n2026-01-05T10:00:00,,1\n2026-01-05T10:01:00,NaN,2\n")

    result = wide(path)

    assert np.isnan(result.dataset["NOx"].values).all()
    assert result.notes == []


def test_semicolons_and_decimal_commas(tmp_path: Path):
    path = write(
        tmp_path,
        "Date;Time;CO;NOx\n10/03/2004;18:00:00;2,6;166\n10/03/2004;19:00:00;2;103,5\n",
    )

    ds = wide(path, time_columns=["Date", "Time"], dayfirst=True, sep=";", decimal=",").dataset

    np.testing.assert_allclose(ds["CO"].values, [[2.6, 2.0]])
    np.testing.assert_allclose(ds["NOx"].values, [[166.0, 103.5]])


def test_the_separator_is_sniffed_when_not_given(tmp_path: Path):
    path = write(tmp_path, "time;NOx\n2026-01-05T10:00:00;1,5\n2026-01-05T10:01:00;2\n")

    ds = wide(path, decimal=",").dataset

    np.testing.assert_allclose(ds["NOx"].values, [[1.5, 2.0]])


def test_a_row_without_a_time_is_left_out_with_a_note(tmp_path: Path):
    path = write(tmp_path, "time,NOx\n2026-01-05T10:00:00,1\n,2\n2026-01-05T10:02:00,3\n")

    result = wide(path)

    np.testing.assert_allclose(result.dataset["NOx"].values, [[1.0, 3.0]])
    assert "1 row(s) without a time were left out" in result.notes


# --- time zones ----------------------------------------------------------------------------


def test_local_times_are_converted_to_utc(tmp_path: Path):
    path = write(tmp_path, "time,NOx\n2026-01-05 11:00,1\n2026-07-05 12:00,2\n")

    result = wide(path, timezone="Europe/Amsterdam")

    # CET is UTC+1 in winter, CEST UTC+2 in summer
    np.testing.assert_array_equal(
        result.dataset["time"].values, times("2026-01-05T10:00", "2026-07-05T10:00")
    )
    assert result.notes == []


def test_non_existent_and_ambiguous_local_hours_are_dropped_with_a_note(tmp_path: Path):
    path = write(
        tmp_path,
        "time,NOx\n"
        "2026-03-29 01:30,1\n"  # CET
        "2026-03-29 02:30,2\n"  # does not exist: clocks go from 02:00 to 03:00
        "2026-03-29 03:30,3\n"  # CEST
        "2026-10-25 01:30,4\n"  # CEST
        "2026-10-25 02:30,5\n"  # ambiguous: happens twice
        "2026-10-25 03:30,6\n",  # CET
    )

    result = wide(path, timezone="Europe/Amsterdam")

    np.testing.assert_array_equal(
        result.dataset["time"].values,
        times("2026-03-29T00:30", "2026-03-29T01:30", "2026-10-24T23:30", "2026-10-25T02:30"),
    )
    np.testing.assert_allclose(result.dataset["NOx"].values, [[1.0, 3.0, 4.0, 6.0]])
    assert len(result.notes) == 1
    assert "2 row(s) with local times that are ambiguous or do not exist" in result.notes[0]
    assert "Europe/Amsterdam" in result.notes[0]


def test_times_with_an_offset_ignore_the_timezone_option(tmp_path: Path):
    path = write(tmp_path, "time,NOx\n2026-01-05T11:00:00+01:00,1\n2026-01-05T12:00:00+01:00,2\n")

    ds = wide(path, timezone="America/New_York").dataset

    np.testing.assert_array_equal(ds["time"].values, times("2026-01-05T10:00", "2026-01-05T11:00"))


def test_utc_times_marked_z_stay_as_they_are(tmp_path: Path):
    path = write(tmp_path, "time,NOx\n2026-03-29T01:30:00Z,1\n2026-03-29T02:30:00Z,2\n")

    result = wide(path, timezone="Europe/Amsterdam")

    np.testing.assert_array_equal(
        result.dataset["time"].values, times("2026-03-29T01:30", "2026-03-29T02:30")
    )
    assert result.notes == []


def test_iso_times_with_different_offsets_are_converted_to_utc(tmp_path: Path):
    path = write(
        tmp_path,
        "time,NOx\n2026-03-29T01:30:00+01:00,1\n2026-03-29T03:30:00+02:00,2\n",
    )

    ds = wide(path).dataset

    np.testing.assert_array_equal(ds["time"].values, times("2026-03-29T00:30", "2026-03-29T01:30"))


def test_an_unknown_time_zone_is_refused(tmp_path: Path):
    path = write(tmp_path, "time,NOx\n2026-01-05 10:00,1\n")

    with pytest.raises(StreamFormatError, match=r"time zone 'Mars/Olympus'") as exc:
        wide(path, timezone="Mars/Olympus")

    assert str(path) in str(exc.value)


# --- long files ----------------------------------------------------------------------------


def test_a_long_file_with_all_columns(tmp_path: Path):
    path = write(
        tmp_path,
        "time,mba_id,sensor,quantity,value,unit\n"
        "2026-01-05T10:00:00Z,avi-rozenburg,cems-l1,NOx,0.12,g/m3\n"
        "2026-01-05T10:01:00Z,avi-rozenburg,cems-l1,NOx,130,mg/m3\n"
        "2026-01-05T10:00:00Z,chemie-botlek,meteo-1,temperature,20,Cel\n",
    )

    ds = import_csv(path, CsvOptions(layout="long")).dataset

    assert ds["sensor"].values.tolist() == ["cems-l1", "meteo-1"]
    assert ds["mba_id"].values.tolist() == ["avi-rozenburg", "chemie-botlek"]
    np.testing.assert_allclose(ds["NOx"].values, [[120.0, 130.0], [np.nan, np.nan]])
    np.testing.assert_allclose(ds["temperature"].values, [[np.nan, np.nan], [293.15, np.nan]])


def test_a_timestamp_value_file_takes_the_rest_from_options(tmp_path: Path):
    path = write(
        tmp_path,
        "timestamp,value\n2026-01-05 11:00,120000\n2026-01-05 11:01,-200\n",
        name="export.csv",
    )

    result = import_csv(
        path,
        CsvOptions(
            layout="long",
            mba_id="avi-rozenburg",
            sensor="cems-l1",
            quantity="NOx",
            unit="ug/m3",
            timezone="Europe/Amsterdam",
            missing=[-200],
        ),
    )

    ds = result.dataset
    assert ds["sensor"].values.tolist() == ["cems-l1"]
    assert ds["mba_id"].values.tolist() == ["avi-rozenburg"]
    np.testing.assert_array_equal(ds["time"].values, times("2026-01-05T10:00", "2026-01-05T10:01"))
    np.testing.assert_allclose(ds["NOx"].values, [[120.0, np.nan]])
    assert ds["NOx"].attrs["units"] == "mg/m3"
    assert result.notes == ["1 value(s) marked missing became NaN"]


def test_a_long_file_without_a_sensor_column_is_the_files_sensor(tmp_path: Path):
    path = write(tmp_path, "time,quantity,value\n2026-01-05T10:00Z,NOx,1\n", name="cems-l9.csv")

    ds = import_csv(path, CsvOptions(layout="long", mba_id="m")).dataset

    assert ds["sensor"].values.tolist() == ["cems-l9"]


def test_a_long_file_with_a_quantity_column_takes_units_per_quantity(tmp_path: Path):
    path = write(
        tmp_path,
        "time,quantity,value\n2026-01-05T10:00Z,NOx,0.5\n2026-01-05T10:00Z,O2,50000\n",
    )

    ds = import_csv(
        path, CsvOptions(layout="long", mba_id="m", units={"NOx": "g/m3", "O2": "ppm"})
    ).dataset

    np.testing.assert_allclose(ds["NOx"].values, [[500.0]])
    np.testing.assert_allclose(ds["O2"].values, [[5.0]])


@pytest.mark.parametrize(
    ("options", "missing"),
    [
        ({"mba_id": "m", "sensor": "s"}, "quantity"),
        ({"sensor": "s", "quantity": "NOx"}, "mba_id"),
    ],
)
def test_a_long_file_without_a_required_column_or_option_is_refused(
    tmp_path: Path, options: dict[str, str], missing: str
):
    path = write(tmp_path, "timestamp,value\n2026-01-05T10:00Z,1\n")

    with pytest.raises(StreamFormatError) as exc:
        import_csv(path, CsvOptions(layout="long", **options))  # type: ignore[arg-type]

    assert f"{path}: no {missing!r} column; give the {missing} of all rows as an option" in str(
        exc.value
    )


def test_a_long_file_without_a_value_column_is_refused(tmp_path: Path):
    path = write(tmp_path, "timestamp,reading\n2026-01-05T10:00Z,1\n")

    with pytest.raises(StreamFormatError, match=r"no 'value' column") as exc:
        import_csv(path, CsvOptions(layout="long", mba_id="m", quantity="NOx"))

    assert str(path) in str(exc.value)


def test_exact_duplicate_rows_are_one_reading(tmp_path: Path):
    row = "2026-01-05T10:00:00Z,m,s1,NOx,1.5,mg/m3\n"
    path = write(tmp_path, "time,mba_id,sensor,quantity,value,unit\n" + row + row)

    ds = import_csv(path, CsvOptions(layout="long")).dataset

    np.testing.assert_allclose(ds["NOx"].values, [[1.5]])


# --- errors --------------------------------------------------------------------------------


def test_a_value_that_is_not_a_number_is_named_with_line_and_column(tmp_path: Path):
    path = write(tmp_path, "time,NOx,CO\n2026-01-05T10:00,1,2\n2026-01-05T10:01,1,high\n")

    with pytest.raises(StreamFormatError) as exc:
        wide(path)

    assert str(exc.value) == f"{path}: line 3, column 'CO': 'high' is not a number"


def test_a_long_value_that_is_not_a_number_is_named(tmp_path: Path):
    path = write(tmp_path, "time,value\n2026-01-05T10:00Z,n/a\n")

    with pytest.raises(StreamFormatError, match=r"line 2, column 'value': 'n/a' is not a number"):
        import_csv(path, CsvOptions(layout="long", mba_id="m", quantity="NOx"))


def test_an_unreadable_time_is_named_with_its_line(tmp_path: Path):
    path = write(tmp_path, "time,NOx\n2026-01-05 10:00,1\n2026-01-05 10:01,1\nyesterday at ten,1\n")

    with pytest.raises(StreamFormatError) as exc:
        wide(path)

    assert str(exc.value) == (
        f"{path}: line 4: time 'yesterday at ten' cannot be read; give its format"
    )


def test_a_time_not_in_the_given_format_is_named_with_its_line(tmp_path: Path):
    path = write(tmp_path, "time,NOx\n2026-01-05 10:00,1\n05/01/2026 10:01,1\n")

    with pytest.raises(StreamFormatError) as exc:
        wide(path, time_format="%Y-%m-%d %H:%M")

    assert str(exc.value) == f"{path}: line 3: time '05/01/2026 10:01' cannot be read"


def test_an_unreadable_time_among_times_with_offsets_is_named(tmp_path: Path):
    path = write(tmp_path, "time,NOx\n2026-01-05T10:00Z,1\nnever,2\n2026-01-05T10:02Z,3\n")

    with pytest.raises(StreamFormatError, match=r"line 3: time 'never' cannot be read"):
        wide(path)


def test_an_unknown_time_column_is_named_with_the_columns(tmp_path: Path):
    path = write(tmp_path, "time,NOx\n2026-01-05T10:00,1\n")

    with pytest.raises(StreamFormatError) as exc:
        wide(path, time_columns=["Date", "time"])

    assert str(exc.value) == f"{path}: time column(s) Date not found; columns are time, NOx"


def test_a_file_without_a_time_column_is_refused(tmp_path: Path):
    path = write(tmp_path, "when,NOx\n2026-01-05T10:00,1\n")

    with pytest.raises(StreamFormatError, match="no time column") as exc:
        wide(path)

    assert str(path) in str(exc.value)
    assert "time columns option" in str(exc.value)


def test_a_wide_file_needs_the_mba_id(tmp_path: Path):
    path = write(tmp_path, "time,NOx\n2026-01-05T10:00,1\n")

    with pytest.raises(StreamFormatError) as exc:
        import_csv(path, CsvOptions())

    assert str(exc.value) == f"{path}: wide files need the MBA id (option mba_id)"


def test_an_unknown_column_in_columns_is_named(tmp_path: Path):
    path = write(tmp_path, "time,NOx,CO\n2026-01-05T10:00,1,2\n")

    with pytest.raises(StreamFormatError) as exc:
        wide(path, columns=["NOx", "SO2"])

    assert str(exc.value) == f"{path}: column(s) SO2 not found; columns are NOx, CO"


def test_a_wide_file_with_only_a_time_column_is_refused(tmp_path: Path):
    path = write(tmp_path, "time\n2026-01-05T10:00\n")

    with pytest.raises(StreamFormatError, match="no value columns besides the time"):
        wide(path, sep=",")


def test_a_missing_file_is_named(tmp_path: Path):
    path = tmp_path / "absent.csv"

    with pytest.raises(StreamFormatError) as exc:
        wide(path)

    assert str(exc.value) == f"{path}: no such file"


def test_an_empty_file_is_refused_when_the_separator_is_given(tmp_path: Path):
    path = write(tmp_path, "")

    with pytest.raises(StreamFormatError, match="not a readable CSV file") as exc:
        wide(path, sep=",")

    assert str(path) in str(exc.value)


@pytest.mark.parametrize("text", ["", "\n\n"], ids=["empty", "blank-lines"])
def test_an_empty_file_is_refused_with_the_default_options(tmp_path: Path, text: str):
    path = write(tmp_path, text)

    with pytest.raises(StreamFormatError) as exc:
        wide(path)

    assert str(path) in str(exc.value)


def test_a_file_with_times_but_no_readings_is_refused(tmp_path: Path):
    path = write(tmp_path, "time,NOx\n,\n")

    with pytest.raises(StreamFormatError) as exc:
        wide(path, sep=",")

    assert str(exc.value) == f"{path}: no readings with a valid time"


def test_a_header_only_file_is_not_said_to_lack_a_time_column(tmp_path: Path):
    path = write(tmp_path, "time,NOx\n")

    with pytest.raises(StreamFormatError) as exc:
        wide(path, sep=",")

    assert "no time column" not in str(exc.value)


def test_conflicting_duplicate_rows_are_named(tmp_path: Path):
    path = write(
        tmp_path,
        "time,mba_id,sensor,quantity,value,unit\n"
        "2026-01-05T10:00:00Z,m,s1,NOx,1,mg/m3\n"
        "2026-01-05T10:00:00Z,m,s1,NOx,2,mg/m3\n",
    )

    with pytest.raises(StreamFormatError) as exc:
        import_csv(path, CsvOptions(layout="long"))

    assert str(exc.value) == f"{path}: conflicting values for m/s1/NOx at 2026-01-05 10:00:00"


def test_a_wide_file_with_the_same_time_twice_and_different_values_is_refused(tmp_path: Path):
    path = write(tmp_path, "time,NOx\n2026-01-05T10:00,1\n2026-01-05T10:00,2\n", name="s.csv")

    with pytest.raises(StreamFormatError, match=r"conflicting values for m/s/NOx") as exc:
        import_csv(path, CsvOptions(mba_id="m"))

    assert str(path) in str(exc.value)


# --- the UCI air quality file --------------------------------------------------------------


def test_the_uci_air_quality_file_imports_with_local_times_and_missing_markers():
    result = import_csv(AIR_QUALITY_CSV, AIRQUALITY_OPTIONS)

    ds = result.dataset
    assert ds["sensor"].values.tolist() == ["mox-1", "reference"]
    assert ds["mba_id"].values.tolist() == [AIRQUALITY_MBA, AIRQUALITY_MBA]
    assert sorted(str(v) for v in ds.data_vars) == ["CO", "PT08_S1_CO"]
    # 10/03/2004 18:00 in Rome (CET) ... 04/04/2005 14:00 (CEST)
    assert ds["time"].values[0] == np.datetime64("2004-03-10T17:00", "ns")
    assert ds["time"].values[-1] == np.datetime64("2005-04-04T12:00", "ns")
    assert (np.diff(ds["time"].values) > np.timedelta64(0)).all()
    # the first row: PT08_S1_CO 1360, CO_GT 2.6 mg/m3
    assert ds["PT08_S1_CO"].sel(sensor="mox-1").values[0] == 1360.0
    assert ds["CO"].sel(sensor="reference").values[0] == pytest.approx(2.6)
    assert ds["CO"].attrs["units"] == "mg/m3"
    # -200 means no reading: none is left as a value
    raw = pd.read_csv(AIR_QUALITY_CSV, usecols=["CO_GT", "PT08_S1_CO"])
    co = ds["CO"].sel(sensor="reference").values
    mox = ds["PT08_S1_CO"].sel(sensor="mox-1").values
    assert not (co == -200).any()
    assert not (mox == -200).any()
    assert int(np.isnan(co).sum()) == int((raw["CO_GT"] == -200).sum())
    assert int(np.isnan(mox).sum()) == int((raw["PT08_S1_CO"] == -200).sum())
    assert f"{int((raw == -200).sum().sum())} value(s) marked missing became NaN" in result.notes
    # the hours that do not exist or happen twice in Rome are left out, with a note
    assert ds.sizes["time"] == len(raw) - 3
    assert any("3 row(s) with local times" in note for note in result.notes)


# --- property: what is written reads back --------------------------------------------------

finite = st.floats(
    min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False, allow_subnormal=False
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(st.tuples(finite, finite), min_size=1, max_size=30),
    decimal_comma=st.booleans(),
)
def test_finite_values_written_as_a_wide_csv_read_back_equal(
    values: list[tuple[float, float]], decimal_comma: bool
):
    stamps = pd.date_range("2026-01-05T10:00", periods=len(values), freq="min")
    sep, decimal = (";", ",") if decimal_comma else (",", ".")
    lines = ["time" + sep + "ch1" + sep + "ch2"]
    for stamp, (a, b) in zip(stamps, values, strict=True):
        cells = [repr(a).replace(".", decimal), repr(b).replace(".", decimal)]
        lines.append(stamp.isoformat() + sep + sep.join(cells))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "enose-1.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

        ds = import_csv(path, CsvOptions(mba_id="m", sep=sep, decimal=decimal)).dataset

    expected = np.array(values, dtype=np.float64).T
    np.testing.assert_array_equal(ds["time"].values, stamps.to_numpy(dtype="datetime64[ns]"))
    np.testing.assert_allclose(ds["ch1"].values[0], expected[0], rtol=1e-15, atol=0)
    np.testing.assert_allclose(ds["ch2"].values[0], expected[1], rtol=1e-15, atol=0)
    assert all(math.isfinite(v) for v in ds["ch1"].values[0])
