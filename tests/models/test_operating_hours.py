"""Operating hours are written in Dutch local time; sensor data arrives in UTC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vth.models import MbaProfile, OperatingHours


def utc(*stamps: str) -> np.ndarray:
    return np.array(stamps, dtype="datetime64[ns]")


def quarter_hours(start: str, end: str) -> np.ndarray:
    return pd.date_range(start, end, freq="15min").to_numpy().astype("datetime64[ns]")


WEEKDAYS_0600_2200 = OperatingHours(
    timezone="Europe/Amsterdam",
    weekly={d: ["06:00-22:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
)


def test_winter_opening_at_six_local_is_five_utc():
    # Monday 2026-03-23, still CET (UTC+1)
    mask = WEEKDAYS_0600_2200.mask(
        utc("2026-03-23T04:59", "2026-03-23T05:00", "2026-03-23T20:59", "2026-03-23T21:00")
    )

    assert mask.tolist() == [False, True, True, False]


def test_summer_opening_at_six_local_is_four_utc_after_the_march_change():
    # Monday 2026-03-30, the day after clocks went forward: CEST (UTC+2)
    mask = WEEKDAYS_0600_2200.mask(
        utc("2026-03-30T03:59", "2026-03-30T04:00", "2026-03-30T19:59", "2026-03-30T20:00")
    )

    assert mask.tolist() == [False, True, True, False]


def test_the_skipped_local_hour_on_29_march_2026_is_never_operating_time():
    # 02:00-03:00 local does not exist on Sunday 2026-03-29: 01:00 UTC jumps to 03:00 CEST
    hours = OperatingHours(weekly={"sun": ["02:00-03:00"]})
    times = quarter_hours("2026-03-28T22:00", "2026-03-29T04:00")

    assert not hours.mask(times).any()


def test_the_repeated_local_hour_on_25_october_2026_is_operating_time_twice():
    # 02:00-03:00 local happens twice on Sunday 2026-10-25: 00:00-01:00 UTC (CEST) and
    # 01:00-02:00 UTC (CET)
    hours = OperatingHours(weekly={"sun": ["02:00-03:00"]})
    times = quarter_hours("2026-10-24T22:00", "2026-10-25T04:00")

    operating = times[hours.mask(times)]

    assert operating.min() == np.datetime64("2026-10-25T00:00")
    assert operating.max() == np.datetime64("2026-10-25T01:45")
    assert len(operating) == 8  # two hours of quarter hours


def test_a_day_around_the_october_change_has_twenty_five_local_hours_of_operating_time():
    hours = OperatingHours(weekly={"sun": ["00:00-24:00"]})
    minutes = pd.date_range("2026-10-24T12:00", "2026-10-26T12:00", freq="1min", inclusive="left")

    operating = minutes.to_numpy()[hours.mask(minutes.to_numpy())]

    # Sunday local midnight is 22:00 UTC Saturday (CEST); Monday local midnight 23:00 UTC (CET)
    assert operating.min() == np.datetime64("2026-10-24T22:00")
    assert operating.max() == np.datetime64("2026-10-25T22:59")
    assert len(operating) == 25 * 60


def test_a_day_around_the_march_change_has_twenty_three_local_hours_of_operating_time():
    hours = OperatingHours(weekly={"sun": ["00:00-24:00"]})
    minutes = pd.date_range("2026-03-28T12:00", "2026-03-30T12:00", freq="1min", inclusive="left")

    operating = minutes.to_numpy()[hours.mask(minutes.to_numpy())]

    assert operating.min() == np.datetime64("2026-03-28T23:00")
    assert operating.max() == np.datetime64("2026-03-29T21:59")
    assert len(operating) == 23 * 60


def test_several_spans_per_day_and_days_off():
    hours = OperatingHours(weekly={"sat": ["07:00-09:00", "13:00-15:00"], "sun": []})
    # Saturday 2026-01-10 (CET, UTC+1)
    mask = hours.mask(
        utc(
            "2026-01-10T06:30",  # 07:30 local
            "2026-01-10T08:30",  # 09:30 local: the break
            "2026-01-10T12:00",  # 13:00 local
            "2026-01-11T12:00",  # Sunday: off
        )
    )

    assert mask.tolist() == [True, False, True, False]


def test_an_unknown_timezone_is_rejected():
    with pytest.raises(ValueError, match="unknown time zone 'Europe/Rozenburg'"):
        OperatingHours(timezone="Europe/Rozenburg", weekly={})


def test_a_profile_without_operating_hours_operates_around_the_clock():
    profile = MbaProfile(
        id="x", name="x", operator="x", activity="x", location={"lat": 52, "lon": 4}
    )

    assert profile.operating_mask(utc("2026-01-11T03:00", "2026-01-11T23:59")).tolist() == [
        True,
        True,
    ]
